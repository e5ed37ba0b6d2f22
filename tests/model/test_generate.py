from __future__ import annotations

import io

import orjson
import pytest

from simulator._exceptions import UsageError
from simulator.model import generate, iter_events, write_events
from simulator.model._generate import paced


def jsonl(scenario: str, **options: object) -> bytes:
    out = io.BytesIO()
    write_events(iter_events(scenario, **options), out)  # type: ignore[arg-type]
    return out.getvalue()


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first = jsonl("tenant-day", seed=9, users=8, events=1500)
    assert first == jsonl("tenant-day", seed=9, users=8, events=1500)
    assert first != jsonl("tenant-day", seed=10, users=8, events=1500)
    assert first.count(b"\n") == 1500


def test_events_limit_counts_the_replayed_history() -> None:
    events = list(generate("desharding", seed=1, users=3, events=5))
    assert len(events) == 5
    assert events[0]["type"] == "user.created"


def test_duration_stops_on_the_virtual_clock() -> None:
    events = list(generate("tenant-day", seed=2, users=6, duration="8h", start="2026-11-30T08:00Z"))
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert stamps[-1] < "2026-11-30T16:00:00.000Z"
    assert sum(s >= "2026-11-30T08:00:00.000Z" for s in stamps) > 50


def test_rate_spaces_timestamps() -> None:
    events = list(generate("firehose", seed=3, users=5, events=3000, rate="100/s", start="2026-11-30T08:00Z"))
    live = [e["timestamp"] for e in events if e["timestamp"] >= "2026-11-30T08:00:00.000Z"]
    assert len(live) > 2000
    # ~100 events per virtual second: 2000+ events span about 20+ seconds.
    assert "2026-11-30T08:00:15" < live[-1] < "2026-11-30T08:01:30"


def test_without_a_limit_a_finite_scenario_runs_one_episode() -> None:
    events = list(generate("idp-change", seed=4, users=2))
    assert sum(e["type"] == "idp.settings_updated" for e in events) in (3, 4)


def test_overrides_apply_to_every_event_of_that_type_only() -> None:
    events = list(generate("autofill", seed=5, users=4, events=400,
                           overrides=['secret.used:data.purpose="copy"']))
    used = [e for e in events if e["type"] == "secret.used"]
    assert used
    assert all(e["data"]["purpose"] == "copy" for e in used)
    retrieved = [e for e in events if e["type"] == "secret.temp_stored.retrieved"]
    assert all(e["data"]["purpose"] in ("autofill", "passkey") for e in retrieved)


def test_the_facade_hands_out_independent_copies() -> None:
    a, b = list(generate("share-lifecycle", seed=6, events=40))[:2]
    a["data"]["user"]["email"] = "changed@example.com"
    again = list(generate("share-lifecycle", seed=6, events=40))
    assert again[0]["data"]["user"]["email"] != "changed@example.com"
    assert orjson.dumps(again[1]) == orjson.dumps(b)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"users": 0}, "users=0"),
        ({"devices_per_user": 0}, "devices-per-user=0"),
        ({"events": 0}, "events=0"),
        ({"rate": "fast"}, "rate='fast'"),
        ({"duration": "forever"}, "duration='forever'"),
        ({"locale": "xx_YY"}, "--locale='xx_YY'"),
        ({"start": "tomorrow"}, "--start='tomorrow'"),
    ],
    ids=["users-0", "devices-0", "events-0", "rate-fast", "duration-word", "locale", "start"],
)
def test_bad_options_are_usage_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as info:
        next(generate("onboarding", **options))  # type: ignore[arg-type]
    assert message in str(info.value)


def test_paced_releases_events_at_the_rate_on_an_injected_clock() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    events = [{"timestamp": f"2026-11-30T08:00:0{i}.000Z"} for i in range(6)]
    history = [{"timestamp": "2026-11-29T08:00:00.000Z"}]
    out = list(paced(iter(history + events), 2.0, after="2026-11-30T08:00:00.000Z", now=lambda: now[0],
                     sleep=sleep))
    assert len(out) == 7
    assert now[0] - 100.0 == pytest.approx(3.0)  # 6 events at 2/s, the history not paced
    assert all(s > 0 for s in slept)
