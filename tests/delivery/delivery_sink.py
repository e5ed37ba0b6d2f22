"""A small scripted aiohttp sink on loopback, run in its own thread, for delivery tests.

Per ``webhook-id`` a script lists what each attempt gets: a status (``500``), a
status with ``Retry-After`` (``(429, "1")``), ``"reset"`` (close the connection
without answering) or ``"hang"`` (answer after the client gave up). Anything
unscripted gets ``sink.default`` (204). ``sink.restart()`` stops the server and
starts it again on the same port.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TOKEN = "tok-7d1f3b0a9c8e4f2a"


@dataclass(frozen=True, slots=True)
class Received:
    id: str
    headers: dict[str, str]
    body: bytes
    path: str
    at: float
    answered: int | str


class Sink:
    """A loopback HTTP server that records every request and answers as scripted."""

    def __init__(self, *, ssl_context: Any = None) -> None:
        #: With an ``ssl.SSLContext``: an https sink (its certificate made by the test).
        self.ssl_context = ssl_context
        self.received: list[Received] = []
        self.script: dict[str, list[Any]] = {}
        self.default: Any = 204
        self.delay = 0.0
        #: Seeded random faults for unscripted requests: (fail 500, reset, hang) probabilities.
        self.faults: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.rng = random.Random(20261128)
        self.hang_for = 5.0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True,
                           ssl_context=self.ssl_context)
        await site.start()
        if not self.port:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        # Let closed transports run their connection_lost callbacks before the loop stops.
        await asyncio.sleep(0.05)

    async def _finish(self) -> None:
        await self._stop()
        current = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await asyncio.sleep(0.05)

    def restart(self, down_for: float = 0.2) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        time.sleep(down_for)
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._finish(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        msg_id = request.headers.get("webhook-id", "")
        with self._lock:
            steps = self.script.get(msg_id)
            action = steps.pop(0) if steps else self._fault() or self.default
            self.received.append(Received(msg_id, {k.lower(): v for k, v in request.headers.items()},
                                          body, request.path, time.monotonic(), action if isinstance(action, int | str) else action[0]))
        if self.delay:
            await asyncio.sleep(self.delay)
        if action == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)
        if action == "hang":
            await asyncio.sleep(self.hang_for)
            return web.Response(status=204)
        if isinstance(action, tuple):
            status, retry_after = action
            return web.Response(status=status, headers={"Retry-After": retry_after})
        if 300 <= action < 400:
            return web.Response(status=action, headers={"Location": "/elsewhere"})
        return web.Response(status=action)

    def _fault(self) -> Any:
        fail, reset, hang = self.faults
        roll = self.rng.random()
        if roll < fail:
            return 500
        if roll < fail + reset:
            return "reset"
        if roll < fail + reset + hang:
            return "hang"
        return None

    def ids(self, *, ok_only: bool = False) -> list[str]:
        with self._lock:
            return [r.id for r in self.received if not ok_only or (isinstance(r.answered, int) and 200 <= r.answered < 300)]


#: What `chestsim send` says on stderr, once its run has started, when it sends unsigned.
UNSIGNED_NOTICE = ("chestsim send: no signing secret: sending unsigned (no webhook-signature header); sign "
                   "with --secret whsec_… or CHESTSIM_SECRET (`chestsim secret new` makes one)")

TENANTS = ("t-alpha", "t-beta", "t-gamma")
TYPES = ("secret.used", "user.created", "secret.deleted", "group.created")


def make_events(n: int, *, types: tuple[str, ...] = TYPES, start: float = 1_795_000_000.0,
                step: float = 0.01, prefix: str = "evt") -> list[dict[str, Any]]:
    """``n`` envelopes across three tenants; ``data.seq`` counts per tenant (for ordering checks)."""
    per_tenant: dict[str, int] = {}
    out = []
    for i in range(n):
        tenant = TENANTS[i % len(TENANTS)]
        per_tenant[tenant] = per_tenant.get(tenant, 0) + 1
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + i * step)) + f".{int((start + i * step) % 1 * 1000):03d}Z"
        out.append({"id": f"{prefix}_{i:06d}", "type": types[i % len(types)], "timestamp": ts,
                    "tenant_id": tenant, "data": {"seq": per_tenant[tenant], "secret_id": f"s{i % 5}"}})
    return out


def write_jsonl(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events))
    return path


APP_RECEIVED: list[str] = []


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A tiny ASGI listener for ``--app delivery_sink:asgi_app``: records webhook-ids, answers 204."""
    while True:
        message = await receive()
        if not message.get("more_body"):
            break
    APP_RECEIVED.append(dict(scope["headers"]).get(b"webhook-id", b"").decode())
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
