"""Pacing: when the next event may go out.

``asap`` sends as fast as the workers go (capped by ``rate`` when given), ``rate``
spaces events ``1/rate`` apart, ``recorded`` keeps the gaps between the events'
own timestamps, ``speed`` times faster. Per-endpoint ``rate`` uses the same limiter.

>>> Pacer("rate", rate=200.0)
Pacer(pace='rate', rate=200.0, speed=1.0)
>>> Pacer("asap").holds, Pacer("asap", rate=50.0).holds, Pacer("recorded").holds
(False, True, True)
"""

from __future__ import annotations

import asyncio
from typing import Literal

from simulator.delivery._input import epoch_of

__all__ = ["Pace", "Pacer", "RateLimiter"]

Pace = Literal["asap", "rate", "recorded"]


class RateLimiter:
    """Spaces calls ``1/rate`` apart on the loop clock (a leaky bucket without burst)."""

    __slots__ = ("_interval", "_next")

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0

    async def wait(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        slot = max(self._next, now)
        self._next = slot + self._interval
        if slot - now > 0.0005:
            await asyncio.sleep(slot - now)


class Pacer:
    """Holds each event back until its turn (see the module docstring)."""

    __slots__ = ("_limiter", "_t0", "holds", "pace", "rate", "speed")

    def __init__(self, pace: Pace, *, rate: float | None = None, speed: float = 1.0) -> None:
        self.pace: Pace = pace
        self.rate = rate
        self.speed = speed
        self._limiter = RateLimiter(rate) if rate else None
        self._t0: tuple[float, float] | None = None
        #: Whether ``wait`` ever holds an event back (``asap`` without a rate never does).
        self.holds = self._limiter is not None or pace == "recorded"

    def __repr__(self) -> str:
        return f"Pacer(pace={self.pace!r}, rate={self.rate!r}, speed={self.speed!r})"

    async def wait(self, timestamp: str, loop: asyncio.AbstractEventLoop) -> None:
        """Return when the event stamped ``timestamp`` may be sent."""
        if self.pace != "recorded":
            if self._limiter is not None:
                await self._limiter.wait(loop)
            return
        when = epoch_of(timestamp)
        if when is None:
            return
        if self._t0 is None:
            self._t0 = (loop.time(), when)
        due = self._t0[0] + (when - self._t0[1]) / self.speed
        delay = due - loop.time()
        if delay > 0.0005:
            await asyncio.sleep(delay)
