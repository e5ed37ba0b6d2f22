from __future__ import annotations

import pytest

from simulator._exceptions import UsageError
from simulator.model._clock import VirtualClock, format_ms, parse_instant


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T08:00Z", "2026-11-28T08:00:00.000Z"),
        ("2026-11-28T08:00:00.250Z", "2026-11-28T08:00:00.250Z"),
        ("2026-11-28T09:00:00+01:00", "2026-11-28T08:00:00.000Z"),
        ("2026-11-28T08:00", "2026-11-28T08:00:00.000Z"),
    ],
    ids=["Z-minutes", "millis", "offset", "naive-is-utc"],
)
def test_parse_and_format_round_trip(text: str, expected: str) -> None:
    assert format_ms(parse_instant(text)) == expected


def test_bad_start_is_one_clear_usage_error() -> None:
    with pytest.raises(UsageError, match=r"--start='yesterday' is not a date"):
        parse_instant("yesterday")


def test_formatter_across_minutes_days_and_repeats() -> None:
    clock = VirtualClock(parse_instant("2026-12-31T23:59:59.998Z"))
    assert clock.iso() == "2026-12-31T23:59:59.998Z"
    clock.sleep(0.003)
    assert clock.iso() == "2027-01-01T00:00:00.001Z"
    assert clock.iso(clock.start) == "2026-12-31T23:59:59.998Z"
    assert clock.iso() == "2027-01-01T00:00:00.001Z"


def test_rate_spaces_events_by_poisson_gaps_with_the_right_mean() -> None:
    clock = VirtualClock(0, rate=100.0, seed=1)
    for _ in range(20_000):
        clock.tick(5_000)  # the natural latency is ignored under a rate
    mean_gap_ms = clock.now / 20_000
    assert 9.0 < mean_gap_ms < 11.0


def test_think_time_waits_for_business_hours() -> None:
    friday_evening = parse_instant("2026-12-04T17:59:00Z")
    clock = VirtualClock(friday_evening, seed=3)
    hours = []
    for _ in range(300):
        clock.think(1800)
        hours.append(format_ms(clock.now))
    weekend = [h for h in hours if h.startswith(("2026-12-05", "2026-12-06"))]
    # Some night and weekend activity, but most of it waits for Monday morning.
    assert len(weekend) < len(hours) // 4
    assert any(h.startswith("2026-12-07T08") for h in hours)


def test_think_is_zero_under_a_rate_and_clock_never_goes_back() -> None:
    clock = VirtualClock(1000, rate=10.0)
    clock.think(3600)
    assert clock.now == 1000
    clock.set(500)
    assert clock.now == 1000
