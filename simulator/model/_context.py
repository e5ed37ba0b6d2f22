"""What every part of a tenant shares: its clock, its randomness, its ids, and the queue its
events go to (with the captures that collect what one action emitted).

The parts (:mod:`~simulator.model._directory`, :mod:`~simulator.model._devices`,
:mod:`~simulator.model._vault`) each own their state and emit their own events through one
:class:`Context`; :class:`~simulator.model.Tenant` is the facade over them.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from simulator._types import Event, JSONObject
from simulator.model._clock import VirtualClock
from simulator.model._ids import Ids

__all__ = ["Context"]


class Context:
    """A tenant's clock, randomness, ids and event queue, shared by its parts.

    ``history`` is the generator that lays out the tenant as it stood before ``start``;
    it runs lazily, as :meth:`drain` asks for events, or all at once before an action.

    >>> from simulator.model._clock import parse_instant
    >>> ctx = Context(seed=1, start_ms=parse_instant("2026-11-30T08:00Z"), rate=None)
    >>> ctx.emit("user.created", {}, ctx.iso(ctx.clock.now))["timestamp"]
    '2026-11-30T08:00:00.000Z'
    """

    __slots__ = ("_captures", "_event_id", "_queue", "clock", "emitted", "history", "ids", "iso", "last_events", "random",
                 "rng", "tenant_id")

    def __init__(self, *, seed: int, start_ms: int, rate: float | None) -> None:
        self.clock = VirtualClock(start_ms, rate=rate, seed=seed)
        self.rng = random.Random(f"model:{seed}")
        #: ``rng.random``, bound once: the hot paths call it per event.
        self.random = self.rng.random
        self.ids = Ids(seed=seed)
        self._event_id = self.ids.event_id
        self.iso = self.clock.formatter
        self.tenant_id = ""
        self.emitted = 0
        self.last_events: list[Event] = []
        self.history: Iterator[None] | None = None
        self._queue: deque[Event] = deque()
        self._captures: list[list[Event]] = []

    def emit(self, type_: str, data: JSONObject, iso: str) -> Event:
        """Queue one event (and hand it to every open capture)."""
        event = {"id": self._event_id(), "type": type_, "timestamp": iso, "tenant_id": self.tenant_id,
                 "data": data}
        self._queue.append(event)
        self.emitted += 1
        if self._captures:
            for box in self._captures:
                box.append(event)
        return event

    def tick(self, low_ms: float, high_ms: float) -> int:
        """Advance the clock by a natural latency (or the rate's gap) and return the new time."""
        clock = self.clock
        return clock.tick(clock.latency(low_ms, high_ms) if not clock.rate else 0)

    def drain(self) -> Iterator[Event]:
        """Yield and forget queued events: the tenant's history first, then actions' events."""
        queue = self._queue
        while True:
            while queue:
                yield queue.popleft()
            if self.history is None:
                return
            if next(self.history, StopIteration) is StopIteration:
                self.history = None

    def finish_history(self) -> None:
        """Lay out what remains of the tenant's history (its events stay queued)."""
        if self.history is not None:
            for _ in self.history:
                pass
            self.history = None

    @contextmanager
    def capture(self) -> Iterator[list[Event]]:
        """Collect every event emitted inside the block (after the history is laid out)."""
        self.finish_history()
        box: list[Event] = []
        self._captures.append(box)
        try:
            yield box
        finally:
            self._captures.pop()

    @contextmanager
    def action(self) -> Iterator[list[Event]]:
        """One action: capture its events and keep them as :attr:`last_events`."""
        with self.capture() as box:
            try:
                yield box
            finally:
                self.last_events = box
