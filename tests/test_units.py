"""Parsing of durations, rates, fractions and sizes: values and one-line messages."""

from __future__ import annotations

import pytest

from simulator import UsageError
from simulator._units import (
    parse_duration,
    parse_fraction,
    parse_positive_int,
    parse_rate,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1.5", 1.5), ("250ms", 0.25), ("10s", 10), ("5m", 300), ("8h", 28800), ("1h30m", 5400), ("2d", 172800), (3, 3.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, option="--timeout") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["fast", "", "10x", "-5s", "5s10", "h"])
def test_bad_durations_name_the_option(text: str) -> None:
    with pytest.raises(UsageError, match=r"--timeout="):
        parse_duration(text, option="--timeout")


@pytest.mark.parametrize(("text", "rate"), [("200", 200), ("200/s", 200), ("600/m", 10), ("3600/h", 1), (0.5, 0.5)])
def test_rates(text: str, rate: float) -> None:
    assert parse_rate(text, option="--rate") == pytest.approx(rate)


@pytest.mark.parametrize("text", ["fast", "0", "-1", "10/fortnight", "nan", "inf"])
def test_bad_rates(text: str) -> None:
    with pytest.raises(UsageError, match=r"--rate=.*like 200 or 200/s"):
        parse_rate(text, option="--rate")


def test_fractions() -> None:
    assert parse_fraction("20%", option="--fail-rate") == pytest.approx(0.2)
    assert parse_fraction("0.05", option="--fail-rate") == pytest.approx(0.05)
    for bad in ("1.5", "lots", "-0.1"):
        with pytest.raises(UsageError, match="--fail-rate="):
            parse_fraction(bad, option="--fail-rate")


def test_positive_int_and_size() -> None:
    assert parse_positive_int("3", option="--users") == 3
    with pytest.raises(UsageError, match=r"--users='0'"):
        parse_positive_int("0", option="--users")
    assert parse_size("10MB", option="--max-body") == 10 * 1024 * 1024
    assert parse_size("512k", option="--max-body") == 512 * 1024
    assert parse_size("1e8", option="--max-line-bytes") == 100_000_000
    with pytest.raises(UsageError, match="--max-body="):
        parse_size("big", option="--max-body")
