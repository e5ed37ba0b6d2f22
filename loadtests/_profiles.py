"""Load profiles: how many users a shape wants at second ``t`` of a run.

Pure functions of time, peak users and duration, so the pytest process can
test them; ``shapes.py`` wraps each in a Locust ``LoadTestShape``.

>>> steady(5.0, peak=10, duration=60.0)
Step(users=10, spawn_rate=10.0)
>>> steady(61.0, peak=10, duration=60.0) is None
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BUSINESS_DAY", "PROFILES", "Step", "burst", "business_day", "ramp", "steady"]


@dataclass(frozen=True, slots=True)
class Step:
    """What a shape asks Locust for at one tick: a user count and how fast to get there."""

    users: int
    spawn_rate: float


Profile = Callable[..., "Step | None"]

#: Share of peak activity in each hour of a tenant's day (UTC-ish office hours, a lunch dip,
#: a nightly SCIM sync at 02:00, quiet nights).
BUSINESS_DAY: tuple[float, ...] = (
    0.05, 0.04, 0.30, 0.04, 0.03, 0.05, 0.10, 0.25, 0.60, 0.90, 1.00, 0.95,
    0.70, 0.80, 0.95, 0.90, 0.75, 0.50, 0.30, 0.20, 0.15, 0.10, 0.08, 0.06,
)


def steady(t: float, *, peak: int, duration: float) -> Step | None:
    """``peak`` users from the start to the end."""
    if t >= duration:
        return None
    return Step(peak, float(peak))


def ramp(t: float, *, peak: int, duration: float) -> Step | None:
    """From one user up to ``peak`` over the first 70 % of the run, then hold."""
    if t >= duration:
        return None
    climb = 0.7 * duration
    users = max(1, math.ceil(peak * min(1.0, t / climb))) if climb > 0 else peak
    return Step(users, max(1.0, peak / climb) if climb > 0 else float(peak))


def burst(t: float, *, peak: int, duration: float) -> Step | None:
    """A tenth of ``peak`` with two storms at ``peak`` (a SCIM sync, a mass offboarding).

    The storms take 25–40 % and 65–75 % of the run; users arrive within a second.
    """
    if t >= duration:
        return None
    base = max(1, peak // 10)
    share = t / duration
    stormy = 0.25 <= share < 0.40 or 0.65 <= share < 0.75
    return Step(peak if stormy else base, float(max(peak, 1)))


def business_day(t: float, *, peak: int, duration: float) -> Step | None:
    """A tenant's 24 hours compressed into ``duration`` seconds (``BUSINESS_DAY``)."""
    if t >= duration:
        return None
    hour = min(23, int(24 * t / duration))
    users = max(1, round(peak * BUSINESS_DAY[hour]))
    return Step(users, float(max(peak, 1)))


#: ``--shape`` name → profile.
PROFILES: dict[str, Profile] = {
    "steady": steady,
    "ramp": ramp,
    "burst": burst,
    "business-day": business_day,
}
