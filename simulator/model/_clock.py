"""The virtual clock: realistic timestamps without waiting.

Time is an integer count of milliseconds since the Unix epoch, in UTC. The
clock only moves forward, so a stream's envelope timestamps never go back.

Two pacings:

* **natural** (no rate): actions advance the clock by human and system
  latencies, think time between actions follows business hours (busy on
  weekdays 08:00-18:00 UTC, sparse at night and at weekends) with occasional
  bursts;
* **rate** (``--rate 500/s``): consecutive events are spaced by exponential
  gaps of mean ``1/rate`` seconds (Poisson arrivals), replacing the natural
  latencies and think time; explicit pauses written in a scenario still apply.

>>> clock = VirtualClock(parse_instant("2026-11-28T08:00Z"))
>>> clock.iso()
'2026-11-28T08:00:00.000Z'
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from math import log as _log
from zoneinfo import ZoneInfo

from simulator._exceptions import UsageError

__all__ = ["DEFAULT_START", "OfficeHours", "VirtualClock", "format_ms", "parse_instant"]

#: The default ``--start``: a fixed instant (a Monday morning), never "now".
DEFAULT_START = "2026-11-30T08:00:00Z"

_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_BUSINESS_START_H = 8
_BUSINESS_END_H = 18


def parse_instant(text: str, *, option: str = "--start") -> int:
    """Milliseconds since the epoch from an RFC 3339 / ISO 8601 instant (UTC if no offset)."""
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise UsageError(
            f"{option}={text!r} is not a date and time; use ISO 8601 like 2026-11-28T08:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not _EARLIEST <= moment < _LATEST:
        # Before 1970-01-08 the replayed week of history would start before the epoch, and years
        # past 9000 leave a run no room before timestamps stop being four-digit RFC 3339 years.
        raise UsageError(f"{option}={text!r} is out of range; use an instant between "
                         f"{_EARLIEST:%Y-%m-%d} and {_LATEST:%Y-%m-%d}, like 2026-11-28T08:00Z")
    return round(moment.timestamp() * 1000)


_EARLIEST = datetime(1970, 1, 8, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


_MILLIS = tuple(f".{m:03d}Z" for m in range(1000))


class _Formatter:
    """Formats milliseconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ``, caching the text up to the second."""

    __slots__ = ("_last", "_last_ms", "_minute", "_prefix", "_second", "_second_prefix")

    def __init__(self) -> None:
        self._minute = -1
        self._prefix = ""
        self._second = -1
        self._second_prefix = ""
        self._last_ms = -1
        self._last = ""

    def __call__(self, ms: int) -> str:
        if ms == self._last_ms:
            return self._last
        second = ms // 1000
        if second != self._second:
            minute, in_minute = divmod(second, 60)
            if minute != self._minute:
                self._minute = minute
                self._prefix = time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60))
            self._second = second
            self._second_prefix = f"{self._prefix}{in_minute:02d}"
        self._last_ms = ms
        self._last = text = self._second_prefix + _MILLIS[ms - second * 1000]
        return text


def format_ms(ms: int) -> str:
    """``2026-11-28T08:00:00.000Z`` for a millisecond timestamp.

    >>> format_ms(0)
    '1970-01-01T00:00:00.000Z'
    """
    return _Formatter()(ms)


class VirtualClock:
    """A clock that advances only when told to, seeded for reproducible pacing.

    ``rate`` (events per second) switches to Poisson spacing of events; without
    it, :meth:`latency` and :meth:`think` follow natural pacing.
    """

    __slots__ = ("_burst", "_fmt", "_gap_mean_ms", "_rng", "now", "rate", "start")

    def __init__(self, start_ms: int, *, rate: float | None = None, seed: int = 0) -> None:
        self.start = start_ms
        self.now = start_ms
        self.rate = rate
        self._gap_mean_ms = 1000.0 / rate if rate else 0.0
        self._rng = random.Random(f"clock:{seed}")
        self._fmt = _Formatter()
        self._burst = 0

    def __repr__(self) -> str:
        return f"VirtualClock(start={format_ms(self.start)!r}, rate={self.rate!r})"

    @property
    def gap_ms(self) -> float:
        """The mean gap between events under a rate (0 under natural pacing)."""
        return self._gap_mean_ms

    @gap_ms.setter
    def gap_ms(self, value: float) -> None:
        # A tenant's replayed history spaces its events evenly over the week before start.
        self._gap_mean_ms = value

    @property
    def formatter(self) -> _Formatter:
        """The formatter behind :meth:`iso`, for hot paths that always pass ``ms``."""
        return self._fmt

    def iso(self, ms: int | None = None) -> str:
        """The current time (or ``ms``) as an RFC 3339 UTC string."""
        return self._fmt(self.now if ms is None else ms)

    def set(self, ms: int) -> None:
        """Move to ``ms`` if it is later than now (the clock never goes back)."""
        if ms > self.now:
            self.now = ms

    def sleep(self, seconds: float) -> None:
        """An explicit pause (a scenario's ``t.wait("5m")``); applies under any pacing."""
        self.now += int(seconds * 1000)

    def tick(self, natural_ms: float) -> int:
        """Advance for the next event: a natural latency, or a Poisson gap under a rate."""
        if self._gap_mean_ms:
            self.now += int(-_log(1.0 - self._rng.random()) * self._gap_mean_ms)
        else:
            self.now += int(natural_ms)
        return self.now

    def latency(self, low_ms: float, high_ms: float) -> float:
        """A natural system latency between ``low_ms`` and ``high_ms`` (log-uniform-ish)."""
        return low_ms + (high_ms - low_ms) * self._rng.random() ** 2

    def think(self, mean_s: float = 90.0) -> None:
        """Idle time between two user actions, following business hours and bursts.

        Under a rate, events are already spaced by the rate: think time is zero.
        """
        if self._gap_mean_ms:
            return
        rng = self._rng
        if self._burst:
            self._burst -= 1
            self.now += int(rng.expovariate(1.0) * 1500)
            return
        if rng.random() < 0.02:
            self._burst = rng.randint(10, 40)
        self.now += int(rng.expovariate(1.0) * mean_s * 1000)
        self._skip_off_hours()

    def _skip_off_hours(self) -> None:
        day, in_day = divmod(self.now, _DAY_MS)
        hour = in_day // _HOUR_MS
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        if weekday < 5 and _BUSINESS_START_H <= hour < _BUSINESS_END_H:
            return
        # A little activity happens at night (on-call, other time zones); most waits for morning.
        if self._rng.random() < 0.15:
            return
        next_day = day + (1 if hour >= _BUSINESS_START_H else 0)
        while (next_day + 3) % 7 >= 5:
            next_day += 1
        morning = next_day * _DAY_MS + _BUSINESS_START_H * _HOUR_MS
        self.now = max(self.now, morning + int(self._rng.expovariate(1.0) * 20 * 60_000))


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class OfficeHours:
    """Weekday office hours in a time zone: when people there act (08:00-17:00 local by default).

    >>> hours = OfficeHours()
    >>> saturday = parse_instant("2026-11-28T12:00Z")
    >>> format_ms(hours.next_open(saturday, "Europe/Berlin"))
    '2026-11-30T07:00:00.000Z'
    """

    __slots__ = ("close", "open")

    def __init__(self, *, open_h: int = 8, close_h: int = 17) -> None:
        self.open = open_h
        self.close = close_h

    def is_open(self, ms: int, tz: str) -> bool:
        """Whether ``ms`` falls on a weekday within office hours in ``tz``."""
        local = datetime.fromtimestamp(ms / 1000, _zone(tz))
        return local.weekday() < 5 and self.open <= local.hour < self.close

    def next_open(self, ms: int, tz: str) -> int:
        """``ms`` if the office in ``tz`` is open then, else the next weekday's opening time."""
        zone = _zone(tz)
        local = datetime.fromtimestamp(ms / 1000, zone)
        if local.weekday() < 5 and self.open <= local.hour < self.close:
            return ms
        day = local.date() + timedelta(days=1 if local.hour >= self.open else 0)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        opening = datetime(day.year, day.month, day.day, self.open, tzinfo=zone)
        return int(opening.timestamp() * 1000)
