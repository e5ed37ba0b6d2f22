"""The web inspector: ``/_chestsim/`` on the listener's port, and ``chestsim inspect --html``.

One page (``_inspector/page.html`` with its script and styles inlined, no
CDN) serves both: live, it asks the listener's JSON endpoints below; as a
report, it reads the records embedded in the file itself.

```
GET /_chestsim/                     the page
GET /_chestsim/api/summary          counters, event types, the last two minutes per second
GET /_chestsim/api/records          ?type=&verdict=&q=&before=&limit=  a page, newest first
GET /_chestsim/api/records/{seq}    one record: headers (credentials redacted), problems, body
GET /_chestsim/api/feed             ?type=&verdict=&q=&after=  server-sent events: new rows, counts
```

Filtering happens on the server (``_inspection.py``), never in the page. The feed
wakes a few times a second while requests arrive, reads what was committed
after the last row it sent, and ends after ``feed_seconds`` (the browser's
``EventSource`` reconnects and resumes from ``Last-Event-ID``), so no stream
outlives its bound or the listener's shutdown.

>>> html = render_page(data=None)      # the live page, which fetches from /_chestsim/api/
>>> html.startswith("<!doctype html>")
True
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import os
import re
import secrets
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import orjson
from aiohttp import web

from simulator._catalog import CATALOG
from simulator._exceptions import InputError, UsageError
from simulator._version import __version__
from simulator.listener._inspection import MAX_PAGE, Filters, Inspection, SeqIndex, int_param
from simulator.listener._server import VERDICTS
from simulator.listener._stats import Stats

__all__ = ["Inspector", "render_page", "same_host_only", "write_report"]

_T = TypeVar("_T")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
#: Largest ``seq`` accepted in a query (SQLite's rowid is 64-bit; this is plenty).
_MAX_SEQ = 10**15
_TYPES = [event_type.key for event_type in CATALOG]


@cache
def _asset(name: str) -> str:
    return resources.files("simulator.listener").joinpath("_inspector", name).read_text("utf-8")


def render_page(*, data: dict[str, Any] | None, nonce: str | None = None) -> str:
    """The inspector as one HTML document; ``data`` embeds records (a report), ``None`` goes live.

    Embedded JSON has ``<``, ``>`` and ``&`` escaped, so no value can close its script element;
    the page itself only ever sets text, never markup, from what it shows.
    """
    nonce = nonce or secrets.token_urlsafe(18)
    payload = orjson.dumps(data or {"mode": "live"}).decode()
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    policy = ("default-src 'none'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
              f"style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'")
    values = {"policy": policy, "nonce": nonce, "version": __version__, "style": _asset("inspector.css"),
              "data": payload, "script": _asset("inspector.js")}
    # One pass: a value (a webhook body in ``data``) is never searched for placeholders itself.
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], _asset("page.html"))


class Inspector:
    """The page, its JSON endpoints and the live feed, for one running listener.

    ``feed_seconds`` bounds each server-sent-events stream; ``tick`` is how often a
    stream looks for new records while requests arrive; ``max_feeds`` streams at most at once.
    """

    def __init__(self, db: Path, stats: Stats, stopping: asyncio.Event, *, feed_seconds: float = 300.0,
                 tick: float = 0.25, max_feeds: int = 16) -> None:
        self.db = db
        self.stats = stats
        self.stopping = stopping
        self.feed_seconds = feed_seconds
        self.tick = tick
        self.max_feeds = max_feeds
        self._feeds = 0
        self._index = SeqIndex()

    def __repr__(self) -> str:
        return f"Inspector({str(self.db)!r})"

    def register(self, app: web.Application) -> None:
        """Add the inspector's routes under ``/_chestsim/``."""
        for path, handler in (("/_chestsim", self._redirect), ("/_chestsim/", self.page),
                              ("/_chestsim/api/summary", self.summary), ("/_chestsim/api/records", self.records),
                              ("/_chestsim/api/records/{seq}", self.record), ("/_chestsim/api/feed", self.feed)):
            app.router.add_get(path, same_host_only(handler))

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/_chestsim/")

    async def page(self, request: web.Request) -> web.StreamResponse:
        nonce = secrets.token_urlsafe(18)
        return web.Response(text=render_page(data=None, nonce=nonce), content_type="text/html",
                            headers=_page_headers())

    async def _read(self, work: Callable[[Inspection], _T]) -> _T:
        def run() -> _T:
            with Inspection(self.db, index=self._index) as look, look.snapshot():
                return work(look)

        return await asyncio.to_thread(run)

    async def summary(self, request: web.Request) -> web.StreamResponse:
        now = time.time()

        def work(look: Inspection) -> dict[str, Any]:
            return {"last": look.last_seq(), "counts": look.counts(),
                    "timeline": look.timeline(since=now - 120), "now": now}

        doc = await self._read(work)
        doc["source"] = {"db": str(self.db), "version": __version__}
        doc["types"] = _TYPES
        doc["verdicts"] = VERDICTS
        return _json(doc)

    async def records(self, request: web.Request) -> web.StreamResponse:
        try:
            filters = Filters.parse(request.query)
            before = int_param(request.query, "before", default=None, low=1, high=_MAX_SEQ)
            limit = int_param(request.query, "limit", default=100, low=1, high=MAX_PAGE) or 100
        except UsageError as exc:
            return _json({"error": str(exc)}, status=400)
        page = await self._read(lambda look: look.page(filters, before=before, limit=limit))
        return _json(page.to_dict())

    async def record(self, request: web.Request) -> web.StreamResponse:
        raw = request.match_info["seq"]
        if not raw.isascii() or not raw.isdigit() or len(raw) > 15:
            return _json({"error": f"seq={raw[:20]!r} must be a record number"}, status=400)
        found = await self._read(lambda look: look.record(int(raw)))
        if found is None:
            return _json({"error": f"no record {int(raw)}"}, status=404)
        return _json(found)

    async def feed(self, request: web.Request) -> web.StreamResponse:
        """New rows matching the filters, and counts of every new row, as server-sent events."""
        try:
            filters = Filters.parse(request.query)
            after = int_param(request.query, "after", default=None, low=0, high=_MAX_SEQ)
            resumed = request.headers.get("Last-Event-ID", "")
            if resumed.isascii() and resumed.isdigit() and len(resumed) <= 15:
                after = int(resumed)  # a reconnect: go on from the last event the browser got
        except UsageError as exc:
            return _json({"error": str(exc)}, status=400)
        if self._feeds >= self.max_feeds:
            # Each stream reads the file a few times a second while requests arrive: bounded.
            return _json({"error": f"{self.max_feeds} live views are open already; close one and reload"},
                         status=503)
        self._feeds += 1
        try:
            return await self._feed(request, filters, after)
        finally:
            self._feeds -= 1

    async def _feed(self, request: web.Request, filters: Filters, after: int | None) -> web.StreamResponse:
        if after is None:
            after = await self._read(lambda look: look.last_seq())
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        await response.prepare(request)
        # The browser left, or the file became unreadable: the stream ends (a reconnect says why).
        with contextlib.suppress(ConnectionError, *_UNREADABLE):
            await self._stream(response, filters, after)
        return response

    async def _stream(self, response: web.StreamResponse, filters: Filters, after: int) -> None:
        await response.write(b"retry: 1000\n\n")
        deadline = time.monotonic() + self.feed_seconds
        seen = -1
        quiet_since = looked_at = time.monotonic()
        # One turn per tick, until the stream's time is up, the listener stops or the browser leaves.
        while time.monotonic() < deadline and not self.stopping.is_set():
            requests = self.stats.requests
            # New requests wake it; a look every few seconds also finds rows counted before their
            # commit (requests the HTTP parser refused).
            if requests != seen or time.monotonic() - looked_at > 3:
                seen, looked_at = requests, time.monotonic()
                update = await self._read(functools.partial(_update, filters=filters, after=after))
                if update is not None:
                    after = update["last"]
                    await response.write(_event("update", update, event_id=after))
                    quiet_since = time.monotonic()
            if time.monotonic() - quiet_since > 15:
                await response.write(b": keep-alive\n\n")  # proxies and the browser see it alive
                quiet_since = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.tick)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_UNREADABLE = (sqlite3.Error, InputError, OSError)


def same_host_only(handler: Handler) -> Handler:
    """Refuse a page or API request whose ``Host`` is a name other than this machine's.

    A web page elsewhere can point its own domain name at 127.0.0.1 (DNS rebinding) and read
    what the listener recorded from the visitor's browser; its requests carry that name. An IP
    address, ``localhost`` and this machine's own name are what people type.
    """

    @functools.wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
        host = host.strip("[]").lower()
        if not _is_own_name(host):
            return _json({"error": f"Host {host[:80]!r} is not a name of this machine: open the inspector "
                                   "at http://127.0.0.1:PORT/_chestsim/ (or localhost)"}, status=403)
        try:
            return await handler(request)
        except _UNREADABLE as exc:
            # Answered here: an exception escaping to aiohttp would be recorded as a delivery.
            return _json({"error": f"cannot read the record file ({' '.join(str(exc).split())[:200]})"},
                         status=503)

    return checked


def _is_own_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return host in ("localhost", socket.gethostname().lower(), socket.getfqdn().lower()) or \
        host.endswith(".localhost")


def _update(look: Inspection, filters: Filters, after: int) -> dict[str, Any] | None:
    """What arrived after ``after``: the matching rows (newest first), counts and per-second buckets."""
    last = look.last_seq()
    if last <= after:
        return None
    rows = look.newer(filters, after, limit=100)
    matched = len(rows) if len(rows) < 100 else look.count_newer(filters, after)
    return {"last": last, "records": rows, "matched": matched, "counts": look.counts(after=after),
            "timeline": look.timeline(since=time.time() - 120, after=after)}


def _event(name: str, data: Any, *, event_id: int) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event_id, name.encode(), orjson.dumps(data))


def _json(doc: Any, *, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(doc), content_type="application/json",
                        headers={"Cache-Control": "no-store"})


def _page_headers() -> dict[str, str]:
    return {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer"}


def write_report(db: Path, out: Path, *, filters: Filters, limit: int) -> dict[str, int]:
    """Write the inspector for ``db`` as one self-contained file: the newest ``limit`` matching
    records in full, counters and the chart over the whole file. Returns what it embedded."""
    with Inspection(db) as look, look.snapshot():
        page = look.page(filters, limit=limit)
        records = [look.record(row["seq"]) for row in page.rows]
        data: dict[str, Any] = {
            "mode": "report",
            "source": {"db": str(db), "version": __version__, "written_at": time.time()},
            "filters": {"type": filters.type, "verdict": filters.verdict, "q": filters.text},
            "types": _TYPES,
            "verdicts": VERDICTS,
            "counts": look.counts(),
            "timeline": look.timeline(),
            "matching": page.matching,
            "records": [r for r in records if r is not None],
        }
    html = render_page(data=data)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(html, encoding="utf-8")
        temporary.replace(out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise UsageError(f"--html={str(out)!r}: cannot write it ({exc.strerror or exc}); "
                         "give a path in a writable folder") from None
    return {"embedded": len(data["records"]), "matching": page.matching,
            "total": int(data["counts"]["total"])}
