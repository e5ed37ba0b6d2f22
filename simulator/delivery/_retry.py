"""Retry schedules as data: presets, custom lists, jitter and ``Retry-After``.

A schedule is the list of waits before each retry; ``len(delays) + 1`` attempts
in all. Presets:

- ``standard-webhooks`` / ``svix``: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h,
  10 h, 10 h (the schedule the Standard Webhooks ecosystem documents; 8 attempts).
- ``hook0``: a fast phase of 30 retries doubling from 5 s up to 5 min, then a
  slow phase of 30 retries an hour apart (Hook0's documented defaults).
- ``exponential``: 1 s doubling to 2 min, 10 retries.
- ``none``: a single attempt.
- a custom list: ``"1s,5s,30s"``.

>>> RetryPolicy.parse("svix").delays[:3]
(5.0, 300.0, 1800.0)
>>> RetryPolicy.parse("1s,250ms").attempts
3
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from simulator._exceptions import UsageError
from simulator._units import parse_duration

__all__ = ["PRESETS", "RetryPolicy", "parse_retry_after"]

_SVIX = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
_HOOK0 = tuple(min(5.0 * 2**i, 300.0) for i in range(30)) + (3600.0,) * 30
_EXPONENTIAL = tuple(min(2.0**i, 120.0) for i in range(10))

#: Named schedules (waits before each retry, in seconds).
PRESETS: dict[str, tuple[float, ...]] = {
    "standard-webhooks": _SVIX,
    "svix": _SVIX,
    "hook0": _HOOK0,
    "exponential": _EXPONENTIAL,
    "none": (),
}

#: Longest ``Retry-After`` honoured, before ``time_scale`` (a server asking for a day is capped).
MAX_RETRY_AFTER = 3600.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to retry a failed delivery.

    ``jitter`` spreads each wait by up to ±that fraction; ``time_scale`` multiplies
    every wait (``0.001`` turns hours into seconds for tests); a ``Retry-After``
    on 429/503 replaces the scheduled wait.

    >>> RetryPolicy.parse("none").attempts
    1
    """

    name: str
    delays: tuple[float, ...]
    jitter: float = 0.1
    time_scale: float = 1.0

    @classmethod
    def parse(cls, spec: str | RetryPolicy, *, jitter: float = 0.1, time_scale: float = 1.0,
              option: str = "--retry") -> RetryPolicy:
        """A preset name or a comma-separated list of durations."""
        if isinstance(spec, RetryPolicy):
            return spec
        if not time_scale > 0:
            raise UsageError(f"--time-scale={time_scale!r} must be a positive factor, like 0.01")
        if not 0 <= jitter <= 1:
            raise UsageError(f"--jitter={jitter!r} must be a fraction between 0 and 1")
        text = spec.strip().lower()
        if text in PRESETS:
            return cls(text, PRESETS[text], jitter, time_scale)
        try:
            delays = tuple(parse_duration(part, option=option) for part in text.split(",") if part.strip())
        except UsageError:
            raise UsageError(
                f"{option}={spec!r} is neither a preset ({', '.join(sorted(PRESETS))}) nor a list "
                "of durations like 1s,5s,30s") from None
        if not delays:
            raise UsageError(f"{option}={spec!r} is empty; use a preset like svix or a list like 1s,5s")
        return cls("custom", delays, jitter, time_scale)

    @property
    def spec(self) -> str:
        """The ``--retry`` text that parses back to these waits: a preset name, else exact seconds.

        >>> RetryPolicy.parse("1s,250ms").spec
        '1.0,0.25'
        """
        return self.name if self.name != "custom" else ",".join(repr(d) for d in self.delays)

    @property
    def attempts(self) -> int:
        """Attempts in all, the first included."""
        return len(self.delays) + 1

    def delay(self, attempt: int, rng: random.Random, *, retry_after: float | None = None) -> float | None:
        """Seconds to wait after failed ``attempt`` (1-based), or ``None`` when retries are spent."""
        if attempt > len(self.delays):
            return None
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER) * self.time_scale
        base = self.delays[attempt - 1]
        spread = base * self.jitter
        return max(0.0, base + rng.uniform(-spread, spread)) * self.time_scale

    def __repr__(self) -> str:
        shown = self.name if self.name != "custom" else ",".join(f"{d:g}s" for d in self.delays)
        return f"RetryPolicy.parse({shown!r}, jitter={self.jitter!r}, time_scale={self.time_scale!r})"


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())
