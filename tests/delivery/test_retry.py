"""Retry schedules as data, jitter, time scale and Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from simulator._exceptions import UsageError
from simulator.delivery import PRESETS, RetryPolicy, parse_retry_after


def test_presets_are_data() -> None:
    assert RetryPolicy.parse("svix").delays == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert RetryPolicy.parse("standard-webhooks").attempts == 8
    assert RetryPolicy.parse("none").attempts == 1
    assert RetryPolicy.parse("hook0").attempts == 61
    assert max(RetryPolicy.parse("exponential").delays) == 120
    assert set(PRESETS) == {"standard-webhooks", "svix", "hook0", "exponential", "none"}


def test_custom_list() -> None:
    policy = RetryPolicy.parse("1s,250ms,2m")
    assert policy.delays == (1.0, 0.25, 120.0)
    assert policy.name == "custom"


@pytest.mark.parametrize("spec", [pytest.param("sometimes", id="word"), pytest.param("1s,x", id="bad-item"),
                                  pytest.param(",", id="empty")])
def test_bad_spec(spec: str) -> None:
    with pytest.raises(UsageError, match="--retry"):
        RetryPolicy.parse(spec)


def test_delay_jitter_and_scale() -> None:
    rng = random.Random(7)
    policy = RetryPolicy.parse("10s,20s", jitter=0.1, time_scale=0.5)
    first = policy.delay(1, rng)
    assert first is not None
    assert 4.5 <= first <= 5.5
    assert policy.delay(3, rng) is None
    assert RetryPolicy.parse("10s", jitter=0.0).delay(1, rng) == 10.0


def test_retry_after_replaces_and_is_capped() -> None:
    policy = RetryPolicy.parse("10s", time_scale=0.01)
    assert policy.delay(1, random.Random(1), retry_after=2.0) == pytest.approx(0.02)
    assert policy.delay(1, random.Random(1), retry_after=10**6) == pytest.approx(36.0)


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(date, now=now.timestamp) == pytest.approx(30.0)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
