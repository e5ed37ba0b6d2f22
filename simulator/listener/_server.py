"""The mock listener: an aiohttp server that verifies, validates and records every webhook.

The server does the I/O: it refuses bodies over ``max_body`` (413) unread,
hands everything else to the pipeline (``_pipeline.py``: signature, token,
content type, JSON, contract, duplicates, faults) through a recorder that
commits in batches, and answers with the outcome once the record is
committed. Invalid-but-parsable payloads are acknowledged unless
``reject_invalid`` (then 422); every request is recorded.

>>> async def demo():                                   # doctest: +SKIP
...     async with run_listener(Listener(secrets=parse_secrets([secret]))) as running:
...         print(running.url)           # http://127.0.0.1:43127/webhooks
...         ...                          # send webhooks to running.url
...         return running.records()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from simulator._catalog import lookup
from simulator._exceptions import UnknownEventType, UsageError
from simulator.listener._config import Listener
from simulator.listener._faults import DROP, HANG
from simulator.listener._lane import UNRECORDED, Lane, answer_parts
from simulator.listener._limits import BODY, HANDLING, IDLE, ConnectionGuard, Limits
from simulator.listener._pipeline import Outcome, Preset, Raw
from simulator.listener._recorder import RecorderFailed, make_recorder
from simulator.listener._records import Record, RecordStore
from simulator.listener._stats import Stats

__all__ = ["VERDICTS", "ListenerThread", "RunningListener", "free_port", "run_listener"]

#: What the listener concludes about a request.
VERDICTS = ("valid", "warning", "invalid", "leak", "unverified", "malformed", "rejected", "incomplete", "error")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class RunningListener:
    """A listener that is serving: its ``url``, its live ``stats`` and its records."""

    def __init__(self, config: Listener, *, db: Path, stats: Stats, server: _Server) -> None:
        self.config = config
        self.db = db
        self.stats = stats
        self.port = 0
        self._server = server

    @property
    def base_url(self) -> str:
        """``http://host:port`` (the control endpoints live under ``/_chestsim/``)."""
        return f"http://{_url_host(self.config.host)}:{self.port}"

    @property
    def url(self) -> str:
        """The webhook URL to give to a sender."""
        return self.base_url + self.config.path

    def __repr__(self) -> str:
        return f"RunningListener(url={self.url!r}, db={str(self.db)!r})"

    @property
    def failure(self) -> str | None:
        """Why requests stopped being recorded and acknowledged (the record file was removed, the
        writer failed), or None; after a stop, also a file removed after the last request."""
        return self._server.recorder.failure

    @property
    def unrecorded(self) -> int:
        """Requests answered 500 because they could not be recorded."""
        return self._server.unrecorded

    def records(self, *, type: str | None = None, verdict: str | None = None,
                limit: int | None = None) -> list[Record]:
        """Every committed record, oldest first (all acknowledged requests are committed)."""
        with RecordStore(self.db) as store:
            return store.records(type=type, verdict=verdict, limit=limit)

    def acknowledged_ids(self) -> set[str]:
        """Every ``webhook-id`` this record file answered 2xx."""
        with RecordStore(self.db) as store:
            return store.acknowledged_ids()

    def snapshot(self) -> dict[str, Any]:
        """The counters of ``GET /_chestsim/stats``; safe to call from another thread."""
        loop = self._server.loop
        if loop is None or _running_loop() is loop:
            return self._server.snapshot()

        async def take() -> dict[str, Any]:
            return self._server.snapshot()

        return asyncio.run_coroutine_threadsafe(take(), loop).result(timeout=10)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _ProtocolErrors(logging.Handler):
    """Records the requests aiohttp refuses before a handler runs (absurd headers, bad framing)."""

    def __init__(self, server: _Server) -> None:
        super().__init__(logging.DEBUG)
        self._server = server

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else None
        self._server.record_refusal(exc, remote=str(remote) if remote else None)
        if not isinstance(exc, HttpProcessingError):  # a bug in chestsim: show it
            sys.stderr.write(logging.Formatter().format(record) + "\n")


class _GuardedSite(web.BaseSite):
    """A TCP site whose connections go through the connection guard (timeouts, cap)."""

    __slots__ = ("_guard", "_host", "_port")

    def __init__(self, runner: web.AppRunner, guard: ConnectionGuard, host: str, port: int) -> None:
        super().__init__(runner)
        self._guard, self._host, self._port = guard, host, port

    @property
    def name(self) -> str:
        return f"http://{_url_host(self._host)}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.protocol_factory(server), self._host, self._port, reuse_address=True)


class _Server:
    """The aiohttp application and its per-request pipeline."""

    def __init__(self, config: Listener) -> None:
        self.config = config
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tmpdir: str | None = None
        if config.db is None:
            self._tmpdir = tempfile.mkdtemp(prefix="chestsim-listener-")
            self.db = Path(self._tmpdir) / "received.db"
        else:
            self.db = Path(config.db)
        self.stats = Stats(clock=config.clock)
        self.recorder = make_recorder(config, self.db)
        self.running = RunningListener(config, db=self.db, stats=self.stats, server=self)
        self.shutting_down = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.guard: ConnectionGuard | None = None
        self.lane: Lane | None = None
        self.unrecorded = 0
        self._http_log = logging.Logger("chestsim.listener.http", logging.DEBUG)
        self._http_log.propagate = False
        self._http_log.addHandler(_ProtocolErrors(self))

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        if not self.db.parent.is_dir():
            raise UsageError(f"--db={str(self.db)!r}: folder {str(self.db.parent)!r} does not exist; "
                             "create it or give another path")
        await self.recorder.open()
        app = web.Application(client_max_size=self.config.max_body)
        app.router.add_post(self.config.path, self.receive)
        # The page, its API and the live feed; records and counters are read only by names of
        # this machine (no DNS rebinding), as the page is.
        from simulator.listener._web import Inspector, same_host_only

        app.router.add_get("/_chestsim/stats", same_host_only(self.stats_endpoint))
        app.router.add_get("/_chestsim/events", same_host_only(self.events_endpoint))
        app.router.add_get("/_chestsim/health", self.health_endpoint)

        Inspector(self.db, self.stats, self.shutting_down).register(app)
        # handler_cancellation stays off (the default): a sender hanging up must not cancel
        # a request whose record is being committed.
        self._runner = web.AppRunner(app, access_log=None, logger=self._http_log,
                                     shutdown_timeout=self.config.shutdown_timeout,
                                     keepalive_timeout=self.config.idle_timeout)
        await self._runner.setup()
        config = self.config
        # Fault injection (latency, drops, hangs) needs a task per request: aiohttp's road only.
        self.lane = None if config.faults else Lane(
            path=config.path, max_body=config.max_body, loop=self.loop, clock=config.clock,
            submit=self.recorder.submit, answered=self._lane_answered)
        self.guard = ConnectionGuard(Limits(config.header_timeout, config.body_timeout, config.idle_timeout,
                                            config.max_connections), on_expired=self._expired, lane=self.lane)
        site = _GuardedSite(self._runner, self.guard, config.host, config.port)
        try:
            await site.start()
        except OSError as exc:
            raise UsageError(f"--host={self.config.host!r} --port={self.config.port!r}: cannot listen "
                             f"({exc.strerror or exc}); pick another port, or --port 0 for a free one") from None
        self.guard.start()
        self.running.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish (their records commit), then close the file."""
        self.shutting_down.set()
        try:
            if self.lane is not None:
                self.lane.closing = True
            if self.guard is not None:
                await self.guard.stop()
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None
            if self.guard is not None:
                await self._close_lane_connections(self.guard)
        finally:
            await self.recorder.close()
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)

    async def _close_lane_connections(self, guard: ConnectionGuard) -> None:
        """Let the lane's answers in flight be written (their batches commit meanwhile), then close."""
        deadline = time.monotonic() + self.config.shutdown_timeout
        # Bounded by the shutdown timeout; a batch commits within milliseconds.
        while any(c.pending for c in guard.lane_connections()) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for connection in guard.lane_connections():
            if connection.transport is not None:
                connection.transport.close()

    def _lane_answered(self, outcome: Outcome | None, received_at: float, started: float) -> None:
        """Count a request the lane answered (``None``: not recorded, answered 500)."""
        seconds = time.perf_counter() - started
        if outcome is None:
            self.unrecorded += 1
            self.stats.count(500, "error", None, None, None, False, False, None, seconds, received_at)
            return
        status, verdict, _, event_type, webhook_id, signature, duplicate, out_of_order, fault, _, _ = outcome
        self.stats.count(status, verdict, event_type, webhook_id, signature, duplicate, out_of_order, fault,
                         seconds, received_at)

    # -- the webhook pipeline -------------------------------------------------------------------

    async def receive(self, request: web.Request) -> web.StreamResponse:
        """Read, hand to the pipeline, await the commit, answer. The judging happens elsewhere."""
        started = time.perf_counter()
        config = self.config
        received_at = config.clock()
        body: bytes | None = None
        body_size = request.content_length or 0
        preset = None
        guard = self.guard
        connection = guard.phase(request.transport, BODY) if guard is not None else None
        if body_size > config.max_body:
            preset = Preset(413, "rejected", f"body of {body_size} bytes exceeds the {config.max_body}-byte limit")
        else:
            try:
                body = await request.read()
                body_size = len(body)
            except web.HTTPRequestEntityTooLarge:
                preset = Preset(413, "rejected", f"body exceeds the {config.max_body}-byte limit")
            except (ConnectionError, asyncio.CancelledError):
                # The client left, or the body timeout closed the connection: nobody to answer.
                timed_out = connection is not None and connection.expired == BODY
                why = (f"body not complete within {config.body_timeout:g}s (--body-timeout); connection closed"
                       if timed_out else "the client closed the connection before its body was complete")
                self._abandoned(request, received_at, body_size, why)
                raise asyncio.CancelledError from None
        if connection is not None:
            connection.phase = HANDLING
        # A plain tuple in Raw's order: it is pickled to the writer as is (a NamedTuple costs more).
        raw = (received_at, request.method, request.raw_path, request.remote, request.raw_headers,
               body, body_size, preset)
        try:
            done, index = self.recorder.submit(raw)
            outcome = (await done)[index]
        except RecorderFailed:
            # Not committed: never acknowledge.
            self.unrecorded += 1
            self.stats.observe(status=500, verdict="error", event_type=None, webhook_id=None,
                               duplicate=False, out_of_order=False, fault=None,
                               seconds=time.perf_counter() - started, received_at=received_at)
            return _error(500, "error", UNRECORDED)

        status, verdict, reason, event_type, webhook_id, signature, duplicate, out_of_order, fault, \
            latency, retry_after = outcome
        if latency:
            await asyncio.sleep(latency)
        self.stats.count(status, verdict, event_type, webhook_id, signature, duplicate, out_of_order, fault,
                         time.perf_counter() - started, received_at)
        if fault == DROP:
            _drop(request)
        if fault == HANG:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.shutting_down.wait(), config.hang_max)
            _drop(request)
        if connection is not None:
            guard.phase(request.transport, IDLE)  # type: ignore[union-attr]
        headers, body = answer_parts(status, verdict, reason, duplicate, retry_after)
        return web.Response(status=status, headers=headers, body=body or None)

    def _abandoned(self, request: web.Request, received_at: float, body_size: int, reason: str) -> None:
        """Record a request whose body never arrived whole (no answer was given: status 0)."""
        self._record_unanswered(Raw(received_at, request.method, request.path_qs, request.remote,
                                    request.raw_headers, None, body_size, Preset(0, "incomplete", reason)))

    def _expired(self, connection: object, phase: str, remote: str | None) -> None:
        reason = f"request head not complete within {self.config.header_timeout:g}s (--header-timeout); " \
                 "connection closed"
        self._record_unanswered(Raw(self.config.clock(), "", "", remote, (), None, 0,
                                    Preset(0, "incomplete", reason)))

    def _record_unanswered(self, raw: Raw) -> None:
        with contextlib.suppress(RecorderFailed):
            self.recorder.submit(raw)
        assert raw.preset is not None
        self.stats.observe(status=raw.preset.status, verdict=raw.preset.verdict, event_type=None,
                           webhook_id=None, duplicate=False, out_of_order=False, fault=None, seconds=0.0,
                           received_at=raw.received_at)

    def record_refusal(self, exc: BaseException, *, remote: str | None) -> None:
        """Record a request that aiohttp answered itself (400 for bad framing, 500 for a bug here)."""
        if isinstance(exc, HttpProcessingError):
            status, verdict, reason = 400, "rejected", refusal_reason(exc)
            if self.config.token and self.config.token in reason:  # belt and braces
                reason = "bad HTTP request"
        else:
            status, verdict = 500, "error"
            reason = f"internal error: {type(exc).__name__}"
        self._record_unanswered(Raw(self.config.clock(), "", "", remote, (), None, 0,
                                    Preset(status, verdict, reason)))

    # -- control endpoints ----------------------------------------------------------------------

    async def health_endpoint(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"ok": True, "url": self.running.url}, dumps=_dumps)

    def snapshot(self) -> dict[str, Any]:
        """The counters, the connections open and closed by the guard (by cause), and the requests
        the webhook lane answered (the others took aiohttp's road)."""
        snapshot = self.stats.snapshot()
        guard = self.guard
        snapshot["connections"] = {"open": len(guard) if guard is not None else 0,
                                   "closed": dict(guard.closed) if guard is not None else {},
                                   "lane_answers": self.lane.answers if self.lane is not None else 0}
        return snapshot

    async def stats_endpoint(self, request: web.Request) -> web.StreamResponse:
        snapshot = self.snapshot()
        snapshot["url"] = self.running.url
        snapshot["db"] = str(self.db) if self._tmpdir is None else None
        snapshot["committed"] = self.recorder.committed
        return web.json_response(snapshot, dumps=_dumps)

    async def events_endpoint(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        unknown = sorted(set(query) - {"type", "verdict", "limit"})
        if unknown:
            return _error(400, "rejected", f"unknown query parameter {_shown(unknown[0])}; "
                                           "use type=, verdict= and limit=")
        raw_type = query.get("type", "")
        if len(raw_type) > 100:
            return _error(400, "rejected", "type= is longer than any event type (100 characters at most)")
        try:
            event_type = lookup(raw_type).key if raw_type else None
        except UnknownEventType:
            return _error(400, "rejected", f"type={_shown(raw_type)} is not an event type; "
                                           "see `chestsim events list`")
        verdict = query.get("verdict") or None
        if verdict is not None and verdict not in VERDICTS:
            return _error(400, "rejected", f"verdict={_shown(verdict)} must be one of {', '.join(VERDICTS)}")
        raw_limit = query.get("limit", "50")
        if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 4
                and 1 <= int(raw_limit) <= 1000):
            return _error(400, "rejected", f"limit={_shown(raw_limit)} must be a whole number from 1 to 1000")
        events = await asyncio.to_thread(_read_events, self.db, event_type, verdict, int(raw_limit))
        return web.json_response({"count": len(events), "events": events}, dumps=_dumps)


def _shown(value: str) -> str:
    """A query value quoted for a message: printable, at most 40 characters."""
    text = "".join(c if c.isprintable() else "?" for c in value[:40])
    return repr(text + ("…" if len(value) > 40 else ""))


#: Header names a refusal reason may name: fixed, so that no sender's bytes reach a record.
_NAMED_HEADERS = ("authorization", "content-length", "content-type", "host", "transfer-encoding",
                  "user-agent", "webhook-id", "webhook-signature", "webhook-timestamp")
_PARSER_TEXTS = re.compile(r"[A-Za-z][A-Za-z0-9 ,-]{0,99}")


def refusal_reason(exc: HttpProcessingError) -> str:
    """Why aiohttp refused a request, from fixed texts only.

    aiohttp's messages quote the offending bytes (a header line with a bearer
    token, a signature with a stray CR): only the parser's own description
    before the quote is kept, and the header it names when it is a known one.

    >>> from aiohttp.http_exceptions import BadHttpMessage
    >>> refusal_reason(BadHttpMessage("Missing expected CR after header value:\\n\\n  b'Authorization: Bearer t'"))
    'bad HTTP request: Missing expected CR after header value (authorization header)'
    """
    description, colon, quoted = str(exc.message).partition(":")
    description = description.strip()
    if not colon or not _PARSER_TEXTS.fullmatch(description):
        description = _CLASS_TEXTS.get(type(exc).__name__, "malformed request")
    named = quoted.strip().removeprefix("b'").removeprefix('b"').partition(":")[0].strip().lower()
    where = f" ({named} header)" if named in _NAMED_HEADERS else ""
    return f"bad HTTP request: {description}{where}"


_CLASS_TEXTS = {
    "LineTooLong": "a line of the request head is too long",
    "InvalidHeader": "an invalid header",
    "BadStatusLine": "an invalid request line",
    "BadHttpMethod": "an invalid method",
    "InvalidURLError": "an invalid URL",
    "ContentLengthError": "an invalid Content-Length",
    "TransferEncodingError": "an invalid Transfer-Encoding",
    "ContentEncodingError": "an invalid Content-Encoding",
}


def _read_events(db: Path, event_type: str | None, verdict: str | None, limit: int) -> list[dict[str, Any]]:
    with RecordStore(db) as store:
        return [r.to_dict() for r in store.records(type=event_type, verdict=verdict, limit=limit,
                                                   newest_first=True)]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _drop(request: web.Request) -> None:
    """Close the connection without an answer (aiohttp treats CancelledError from a handler so)."""
    transport = request.transport
    if transport is not None:
        transport.close()
    raise asyncio.CancelledError


def _error(status: int, verdict: str, reason: str) -> web.Response:
    return web.Response(status=status, body=orjson.dumps({"error": reason, "verdict": verdict}),
                        content_type="application/json", headers={"x-chestsim-verdict": verdict})

@asynccontextmanager
async def run_listener(config: Listener | None = None, **options: Any) -> AsyncIterator[RunningListener]:
    """Serve a mock listener for the ``async with`` block; on exit, flush records and stop.

    ``options`` override fields of ``config`` (``run_listener(port=0, reject_invalid=True)``).

    >>> async with run_listener(Listener(secrets=(secret,))) as running:  # doctest: +SKIP
    ...     await deliver(running.url)
    ...     assert running.records()[0].verdict == "valid"
    """
    config = replace(config or Listener(), **options) if options else (config or Listener())
    server = _Server(config)
    try:
        await server.start()
    except BaseException:
        await server.stop()
        raise
    try:
        yield server.running
    finally:
        await server.stop()


class ListenerThread:
    """A mock listener on its own event loop in a background thread, for synchronous code.

    >>> with ListenerThread(Listener(secrets=(secret,))) as listener:   # doctest: +SKIP
    ...     requests.post(listener.url, data=body, headers=sign_headers(...))
    ...     listener.records()
    """

    def __init__(self, config: Listener | None = None, *, start_timeout: float = 30.0,
                 **options: Any) -> None:
        self.config = replace(config or Listener(), **options) if options else (config or Listener())
        self.start_timeout = start_timeout
        self.running: RunningListener | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"ListenerThread({self.config!r})"

    def start(self) -> RunningListener:
        """Start serving; return once the port is bound."""
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),),
                                        name="chestsim-listener", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.start_timeout):
            raise TimeoutError(f"the listener did not start within {self.start_timeout:g}s")
        if self._error is not None:
            raise self._error
        assert self.running is not None
        return self.running

    def stop(self, timeout: float = 30.0) -> None:
        """Stop serving, flush the records, and join the thread."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"the listener thread did not stop within {timeout:g}s")
            self._thread = None

    def __enter__(self) -> RunningListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with run_listener(self.config) as running:
                self.running = running
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            if not isinstance(exc, Exception):
                raise


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (for subprocess listeners in tests)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
