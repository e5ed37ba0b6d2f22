"""Properties over seeds and sizes (Hypothesis prints the failing seed and sizes)."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.model import Tenant, generate, iter_events, list_scenarios, write_events
from tests.model._checks import problems

SCENARIOS = [s.name for s in list_scenarios()]
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(
    scenario=st.sampled_from(SCENARIOS),
    seed=st.integers(0, 2**32 - 1),
    users=st.integers(1, 14),
    devices=st.integers(1, 4),
    events=st.integers(50, 700),
)
def test_every_event_is_valid_and_the_stream_is_consistent(scenario: str, seed: int, users: int, devices: int,
                                                           events: int) -> None:
    stream = list(generate(scenario, seed=seed, users=users, devices_per_user=devices, events=events))
    assert len(stream) == events
    assert problems(stream) == []
    stamps = [e["timestamp"] for e in stream]
    assert stamps == sorted(stamps)
    for event in stream:
        time = event["data"].get("time")
        if time is None:
            continue
        # The envelope says when the event happened: completion for completed things, else start.
        assert event["timestamp"] == time.get("completed_at", time["initiated_at"])
        assert time["initiated_at"] <= event["timestamp"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), users=st.integers(2, 8), actions=st.integers(20, 250))
def test_random_activity_keeps_the_model_consistent(seed: int, users: int, actions: int) -> None:
    t = Tenant(seed=seed, users=users, rate=50.0)
    t.random_activity(actions)
    assert problems(t.drain()) == []
    # The model's own bookkeeping agrees with the shard maps it published.
    for secret in t.secrets:
        holders = {d.owner for _, d in secret.shard_map.shards}
        assert all(secret.id in u.holdings for u in holders)
        assert all(u.active for u in holders)
        assert 1 <= secret.shard_map.threshold <= secret.shard_map.total
    for pending in t.open_pending:
        assert pending.status == "pending"
        assert pending.recipient.active


@settings(max_examples=10, deadline=None)
@given(scenario=st.sampled_from(SCENARIOS), seed=st.integers(0, 2**32 - 1), users=st.integers(1, 10))
def test_same_seed_same_bytes(scenario: str, seed: int, users: int) -> None:
    def run() -> bytes:
        out = io.BytesIO()
        write_events(iter_events(scenario, seed=seed, users=users, events=300), out)
        return out.getvalue()

    assert run() == run()
