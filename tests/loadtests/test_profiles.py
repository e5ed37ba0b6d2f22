"""``loadtests/_profiles.py``: the curves behind ``--shape`` (steady, ramp, burst, business day)."""

from __future__ import annotations

import pytest

from loadtests._profiles import BUSINESS_DAY, PROFILES, burst, business_day, ramp, steady


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_stops_at_the_end_and_keeps_a_user(name: str) -> None:
    profile = PROFILES[name]
    for tenth in range(100):
        step = profile(tenth / 10, peak=40, duration=10.0)
        assert step is not None
        assert 1 <= step.users <= 40
        assert step.spawn_rate > 0
    assert profile(10.0, peak=40, duration=10.0) is None


def test_steady_holds_the_peak() -> None:
    assert {steady(t, peak=7, duration=9.0).users for t in range(9)} == {7}  # type: ignore[union-attr]


def test_ramp_climbs_then_holds() -> None:
    users = [ramp(t / 2, peak=20, duration=10.0).users for t in range(20)]  # type: ignore[union-attr]
    assert users == sorted(users)
    assert users[0] == 1
    assert users[-1] == 20


def test_burst_storms_reach_the_peak_from_a_tenth() -> None:
    users = [burst(t / 10, peak=50, duration=10.0).users for t in range(100)]  # type: ignore[union-attr]
    assert set(users) == {5, 50}
    assert users[0] == 5
    assert users[30] == 50
    assert users[70] == 50


def test_business_day_peaks_mid_morning_and_sleeps_at_night() -> None:
    at = {hour: business_day(hour / 24 * 240.0, peak=100, duration=240.0).users  # type: ignore[union-attr]
          for hour in range(24)}
    assert max(at, key=lambda h: at[h]) == BUSINESS_DAY.index(1.0) == 10
    assert at[4] < at[2]  # the nightly SCIM sync stands out
    assert at[23] < at[14]
