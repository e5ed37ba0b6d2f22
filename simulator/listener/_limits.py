"""Connection limits: header, body and idle timeouts and a cap on open connections.

aiohttp closes idle keep-alive connections but has no deadline for a request
that trickles in, so one slow client per connection could hold the listener
forever. Each accepted connection gets a thin protocol in front of the webhook
lane and aiohttp's (``_Guarded``, see ``_lane.py``) that notes which phase it is
in and since when; a sweep a few times a second closes those past their phase's
deadline:

- idle: no byte of a request yet (a fresh or a kept-alive connection), ``idle_timeout``;
- headers: some bytes, the request's head not complete yet, ``header_timeout``;
- body: the webhook's body being read, ``body_timeout`` (the server marks this phase);
- handling: a handler is running (the listener's own work, a live page's stream), or the lane
  owes an answer: no deadline.

Over ``max_connections`` a new connection takes the place of the connection
that has waited longest without a request under way (idle, or slow headers);
when every connection is busy with a request, the newcomer is closed.

The per-request cost is one extra method call and a clock read; the sweep's is
one pass over the open connections.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from simulator.listener._lane import Lane

__all__ = ["BODY", "HANDLING", "HEADERS", "IDLE", "ConnectionGuard", "Limits"]

IDLE, HEADERS, BODY, HANDLING = "idle", "headers", "body", "handling"


@dataclass(frozen=True, slots=True)
class Limits:
    """Deadlines (seconds) and the connection cap, as ``chestsim listen`` flags give them."""

    header_timeout: float
    body_timeout: float
    idle_timeout: float
    max_connections: int

    @property
    def tick(self) -> float:
        """How often the sweep runs: often enough to hold each deadline within about a quarter."""
        return max(0.02, min(1.0, self.header_timeout / 4, self.body_timeout / 4, self.idle_timeout / 4))


class _Guarded(asyncio.Protocol):
    """One connection: a phase and a clock reading in front of the webhook lane or aiohttp.

    aiohttp's protocol (``inner``) is made on the first read the lane does not take; from then
    on it has the connection for good (see ``_lane.py``).
    """

    __slots__ = ("expired", "factory", "full", "guard", "heads", "held", "inner", "pending", "phase",
                 "remote", "since", "transport")

    def __init__(self, guard: ConnectionGuard, factory: Callable[[], asyncio.Protocol]) -> None:
        self.guard = guard
        self.factory = factory
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.Transport | None = None
        self.phase = IDLE
        self.since = guard.loop.time()
        #: Request heads aiohttp had parsed when this request's first byte arrived.
        self.heads = 0
        #: The phase whose deadline closed this connection, if one did.
        self.expired: str | None = None
        #: Lane answers not written yet, and what arrived meanwhile for aiohttp (kept in order).
        self.pending = 0
        self.held: list[bytes] | None = None
        self.remote: str | None = None
        #: The transport's write buffer is full (a sender that does not read its answers).
        self.full = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's is not a subclass
        if not self.guard.admit(self):
            self.transport.abort()
            return
        if self.guard.lane is None:
            self._hand_over(())

    def data_received(self, data: bytes) -> None:
        if self.phase is IDLE:
            self.phase = HEADERS
            self.since = self.guard.loop.time()
            self.heads = _heads_parsed(self.inner)
        if self.inner is not None:
            self.inner.data_received(data)
            return
        if self.held is not None:
            self.held.append(data)
            return
        lane = self.guard.lane
        if lane is not None and lane.take(self, data):
            return
        if self.pending:
            # Answers the lane owes come first: aiohttp gets the rest once they are written.
            self.held = [data]
            assert self.transport is not None
            self.transport.pause_reading()
            return
        self._hand_over((data,))

    def answered(self) -> None:
        """A lane answer was written: back to idle, or on to aiohttp with what was held."""
        self.pending -= 1
        if self.pending:
            return
        self.phase, self.since = IDLE, self.guard.loop.time()
        held, self.held = self.held, None
        if held is not None and self.transport is not None and not self.transport.is_closing():
            self.phase = HEADERS
            self._hand_over(held)
            self.transport.resume_reading()  # aiohttp has the connection, and its flow control

    def _hand_over(self, data: tuple[bytes, ...] | list[bytes]) -> None:
        assert self.transport is not None
        self.inner = inner = self.factory()
        inner.connection_made(self.transport)
        if self.full:
            inner.pause_writing()
        for chunk in data:
            inner.data_received(chunk)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.forget(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.full = True
        if self.inner is not None:
            self.inner.pause_writing()
        elif self.transport is not None:
            # Answers pile up unread: read no more requests until the sender reads them.
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.full = False
        if self.inner is not None:
            self.inner.resume_writing()
        elif self.transport is not None and self.held is None:
            self.transport.resume_reading()

    def close(self, phase: str) -> None:
        self.expired = phase
        if self.transport is not None:
            self.transport.close()


def _handler_running(connection: _Guarded) -> bool:
    # aiohttp marks a request whose handler runs; read only by the sweep, never per request.
    return connection.pending > 0 or bool(getattr(connection.inner, "_request_in_progress", False))


def _heads_parsed(inner: asyncio.Protocol | None) -> int:
    # aiohttp counts the request heads it parsed on a connection: once this grows, the head
    # that started the HEADERS phase is complete (a handler may have come and gone between sweeps).
    return int(getattr(inner, "_request_count", 0))


class ConnectionGuard:
    """Admits connections under the cap and closes those past a deadline.

    ``on_expired(connection, phase, remote)`` is told of each header timeout (the
    handler reading a body records its own timeout; idle closes, evictions and
    refusals are only counted in ``closed``).
    """

    def __init__(self, limits: Limits, *, on_expired: Callable[[_Guarded, str, str | None], None],
                 lane: Lane | None = None) -> None:
        self.limits = limits
        #: Takes plain webhook requests before aiohttp sees them (None: aiohttp has every connection).
        self.lane = lane
        self.loop = asyncio.get_running_loop()
        self.on_expired = on_expired
        self._open: dict[asyncio.BaseTransport, _Guarded] = {}
        #: Connections closed by the guard, by cause: idle, headers, body, evicted, refused.
        self.closed: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._open)

    def protocol_factory(self, inner: Callable[[], Any]) -> Callable[[], asyncio.Protocol]:
        """Wrap aiohttp's protocol factory."""
        return lambda: _Guarded(self, inner)

    def lane_connections(self) -> list[_Guarded]:
        """The open connections aiohttp never took (only the lane answered them)."""
        return [c for c in self._open.values() if c.inner is None]

    def start(self) -> None:
        self._task = asyncio.create_task(self._sweep(), name="chestsim-connection-guard")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def admit(self, connection: _Guarded) -> bool:
        if len(self._open) >= self.limits.max_connections:
            waiting = [c for c in self._open.values() if c.phase in (IDLE, HEADERS)
                       and not _handler_running(c)]
            if not waiting:
                self._count("refused")
                return False
            oldest = min(waiting, key=lambda c: c.since)
            self._count("evicted")
            self.forget(oldest)
            oldest.close("evicted")
        assert connection.transport is not None
        self._open[connection.transport] = connection
        return True

    def forget(self, connection: _Guarded) -> None:
        if connection.transport is not None:
            self._open.pop(connection.transport, None)

    def phase(self, transport: asyncio.BaseTransport | None, phase: str) -> _Guarded | None:
        """Mark the connection of a request as reading its body, handling, or idle again."""
        connection = self._open.get(transport) if transport is not None else None
        if connection is not None:
            connection.phase = phase
            connection.since = self.loop.time()
        return connection

    def _count(self, cause: str) -> None:
        self.closed[cause] = self.closed.get(cause, 0) + 1

    async def _sweep(self) -> None:
        limits = self.limits
        deadline = {IDLE: limits.idle_timeout, HEADERS: limits.header_timeout, BODY: limits.body_timeout}
        # Until stopped; each pass is bounded by the cap.
        while True:
            await asyncio.sleep(limits.tick)
            now = self.loop.time()
            for connection in list(self._open.values()):
                phase = connection.phase
                running = _handler_running(connection)
                if phase is HEADERS and not running and _heads_parsed(connection.inner) > connection.heads:
                    connection.phase, connection.since = IDLE, now  # answered between two sweeps
                    continue
                if phase is HANDLING or (running and phase is not BODY):
                    if running:
                        connection.phase, connection.since = HANDLING, now
                        continue
                    # A handler the server does not mark (a page, the API) has finished.
                    connection.phase, connection.since = IDLE, now
                    continue
                if now - connection.since <= deadline[phase]:
                    continue
                self._count(phase)
                self.forget(connection)
                connection.close(phase)
                if phase is HEADERS:  # a body timeout is recorded by the handler reading it
                    transport = connection.transport
                    peer = transport.get_extra_info("peername") if transport is not None else None
                    self.on_expired(connection, phase, str(peer[0]) if peer else None)
