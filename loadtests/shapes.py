"""Load shapes for the firehose: steady, ramp, burst and a compressed business day.

Pick one with ``--shape NAME`` (or ``LOCUST_SHAPE``) on the firehose locustfile::

    locust -f loadtests/firehose.py --headless -H http://127.0.0.1:8000 \\
        --shape burst -u 200 -t 2m

``-u`` is the peak user count and ``-t`` the length of the whole shape (the
business day compresses 24 hours into it). The curves live in ``_profiles.py``.
"""

from __future__ import annotations

from typing import ClassVar

from locust import LoadTestShape

from loadtests._profiles import PROFILES

__all__ = ["SHAPES", "BurstShape", "BusinessDayShape", "RampShape", "SteadyShape", "make_shape"]

#: Peak users and length (s) when ``-u`` / ``-t`` are not given.
DEFAULT_PEAK = 10
DEFAULT_DURATION = {"steady": 60.0, "ramp": 60.0, "burst": 60.0, "business-day": 240.0}


class ProfileShape(LoadTestShape):
    """A ``LoadTestShape`` that follows one profile of ``_profiles.PROFILES``."""

    abstract = True
    use_common_options = True
    profile: ClassVar[str] = "steady"

    def __init__(self, *, peak: int | None = None, duration: float | None = None) -> None:
        super().__init__()
        self.peak = peak or DEFAULT_PEAK
        self.duration = duration or DEFAULT_DURATION[self.profile]

    def tick(self) -> tuple[int, float] | None:
        step = PROFILES[self.profile](self.get_run_time(), peak=self.peak, duration=self.duration)
        return None if step is None else (step.users, step.spawn_rate)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(peak={self.peak}, duration={self.duration:g})"


class SteadyShape(ProfileShape):
    """``peak`` users for the whole run."""

    abstract = False
    profile = "steady"


class RampShape(ProfileShape):
    """One user up to ``peak`` over 70 % of the run, then hold."""

    abstract = False
    profile = "ramp"


class BurstShape(ProfileShape):
    """A tenth of ``peak``, with two storms at ``peak`` (SCIM sync, mass offboarding)."""

    abstract = False
    profile = "burst"


class BusinessDayShape(ProfileShape):
    """A tenant's day (night lull, 02:00 SCIM sync, office hours) compressed into the run."""

    abstract = False
    profile = "business-day"


#: ``--shape`` name → class.
SHAPES: dict[str, type[ProfileShape]] = {
    "steady": SteadyShape,
    "ramp": RampShape,
    "burst": BurstShape,
    "business-day": BusinessDayShape,
}


def make_shape(name: str, *, peak: int | None = None, duration: float | None = None) -> ProfileShape:
    """The shape called ``name``, scaled to ``peak`` users and ``duration`` seconds."""
    return SHAPES[name](peak=peak, duration=duration)
