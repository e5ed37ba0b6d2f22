"""``loadtests/_payloads.py``: events prepared ahead of the loop, fresh ids, cheap signatures."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from loadtests._payloads import (
    Payload,
    PayloadPool,
    _example_events,
    build_pool,
    check_events_file,
    scenario_events,
)
from simulator import InputError, SigningSecret, verify

SECRET = SigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
ID = re.compile(r"^evt_[0-9A-Za-z]{16,40}$")  # schemas/envelope.json


def test_the_pool_signs_with_the_one_signer_spec_test_vector() -> None:
    pool = PayloadPool([Payload(type="test", tail=b'", "test": 2432232314}')], id_prefix="msg_p5jXN8AQM9LWM0D4loKWxJek",
                       secrets=(SECRET,), clock=lambda: 1614265330.2)
    _, body, headers = pool.take()
    assert headers["webhook-timestamp"] == "1614265330"
    assert headers["webhook-signature"] == SECRET.sign(headers["webhook-id"], 1614265330, body)


@pytest.mark.parametrize("size", [16, 24, 64, 65, 100], ids=lambda n: f"key-{n}-bytes")
def test_pool_signatures_verify_for_any_key_length(size: int) -> None:
    secret = SigningSecret(bytes(range(size)))
    pool = build_pool(pool_size=3, tenant_users=10, secrets=(secret,), run_tag="Key000", clock=lambda: 1700000000.0)
    _, body, headers = pool.take()
    assert verify(headers, body, [secret], now=lambda: 1700000000.0) == headers["webhook-id"]


@pytest.mark.parametrize("token", ["abc\r\nX-Injected: yes", "tok€", "a\x00b"], ids=["crlf", "non-ascii", "nul"])
def test_a_token_that_would_change_the_request_is_refused(token: str) -> None:
    from simulator import UsageError

    with pytest.raises(UsageError, match="load test's token"):
        build_pool(pool_size=2, tenant_users=10, token=token, run_tag="Tok000")


def test_payload_keeps_the_event_and_swaps_the_id() -> None:
    event = {"id": "evt_original000000000", "type": "secret.used", "timestamp": "2026-11-30T08:00:00.000Z",
             "tenant_id": "e2a214e8-bbe9-4675-9d52-490575ffc53d", "data": {"a": [1, 2]}}
    body = Payload.from_event(event).body("evt_fresh0000000000000")
    assert orjson.loads(body) == {**event, "id": "evt_fresh0000000000000"}


def test_take_signs_with_a_fresh_timestamp_and_a_fresh_id() -> None:
    now = [1_800_000_000.7]
    pool = build_pool(pool_size=20, tenant_users=20, secrets=(SECRET,), run_tag="Run123", clock=lambda: now[0])
    seen = set()
    for _ in range(50):  # wraps the pool twice: ids stay unique
        now[0] += 1
        name, body, headers = pool.take()
        event = orjson.loads(body)
        assert event["id"] == headers["webhook-id"]
        assert ID.match(event["id"])
        assert event["type"] == name
        assert headers["webhook-timestamp"] == str(int(now[0]))
        assert verify(headers, body, [SECRET], now=lambda: now[0]) == event["id"]
        seen.add(event["id"])
    assert len(seen) == 50
    assert pool.sent == 50


def test_deliveries_signed_ahead_are_signed_again_when_the_second_turns() -> None:
    now = [1_800_000_000.1]
    pool = build_pool(pool_size=20, tenant_users=20, secrets=(SECRET,), run_tag="Run124", clock=lambda: now[0])
    taken = []
    # Many takes per second; the second turns mid-batch, a step within the second keeps it, and a
    # clock set back (an NTP step) stamps the earlier second again.
    moves = {40: 1.0, 41: 1.0, 100: 0.5, 150: 1.0, 200: -2.0, 230: 0.3, 299: 1.0}
    for step in range(300):
        now[0] += moves.get(step, 0.0)
        _, body, headers = pool.take()
        assert headers["webhook-timestamp"] == str(int(now[0]))
        assert verify(headers, body, [SECRET], now=lambda: now[0]) == headers["webhook-id"]
        taken.append(headers["webhook-id"])
    assert taken == [f"evt_Run124000{n:012d}" for n in range(300)]  # in order, none skipped
    assert pool.sent == 300


def test_a_paced_loop_signs_only_what_it_takes() -> None:
    now = [1_800_000_000.5]
    pool = build_pool(pool_size=5, tenant_users=20, secrets=(SECRET,), run_tag="Run125", clock=lambda: now[0])
    for _ in range(30):  # one delivery a second: nothing is signed ahead and thrown away
        now[0] += 1
        pool.take()
    assert pool._n == pool.sent == 30


def test_static_headers_carry_type_agent_and_token() -> None:
    pool = build_pool(pool_size=3, tenant_users=20, token="t0k3n")
    static = pool.static_headers
    assert static["content-type"] == "application/json"
    assert static["user-agent"].startswith("chestsim-loadtest/")
    assert static["authorization"] == "Bearer t0k3n"
    _, _, headers = pool.take()
    assert set(headers) == {"webhook-id", "webhook-timestamp"}  # unsigned without a secret
    assert "t0k3n" not in repr(pool)


def test_workers_get_disjoint_slices_and_ids() -> None:
    stream = [Payload.from_event(e).tail for e in scenario_events("firehose", seed=3, users=50, events=60)]
    pools = [build_pool(scenario="firehose", seed=3, tenant_users=50, pool_size=30, worker_index=i,
                        worker_count=2, run_tag="SameTg") for i in range(2)]
    slices = [[p.tail for p in pool._payloads] for pool in pools]
    assert slices[0] == stream[0::2]
    assert slices[1] == stream[1::2]
    ids = [{pool.take()[2]["webhook-id"] for _ in range(100)} for pool in pools]
    assert not ids[0] & ids[1]
    assert pools[0].id_prefix != pools[1].id_prefix


def test_scenario_stream_skips_the_replayed_history() -> None:
    events = list(scenario_events("firehose", seed=1, users=50, events=200))
    assert len(events) == 200
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert min(stamps) >= "2026-11-30T08:00:00.000Z"  # the model's start; history lies before it


@pytest.mark.parametrize("scenario", ["firehose", "tenant-day", "scim-sync"])
def test_example_fallback_follows_the_scenario_mix(scenario: str) -> None:
    events = list(_example_events(scenario, seed=1, events=300))
    assert len(events) == 300
    types = {e["type"] for e in events}
    if scenario == "scim-sync":
        assert "user.created" in types
        assert "secret.used" not in types
    if scenario == "firehose":
        assert len(types) == 24


def test_events_file_is_sliced_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [orjson.dumps({"id": f"evt_{i:020d}", "type": "secret.used", "data": {"n": i}}) for i in range(10)]
    path.write_bytes(b"\n".join(lines) + b"\n\n")
    check_events_file(path)
    pool = build_pool(events_file=path, pool_size=100, worker_index=1, worker_count=2)
    assert len(pool) == 5
    assert [orjson.loads(pool.take()[1])["data"]["n"] for _ in range(5)] == [1, 3, 5, 7, 9]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b"", "holds no events", id="empty"),
        pytest.param(b"{not json\n", "line 1 is not JSON", id="not-json"),
        pytest.param(b'{"type": "secret.used"}\n[1, 2]\n', "line 2 is not a JSON object", id="not-object"),
    ],
)
def test_bad_events_files_point_at_the_line(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(content)
    def load() -> None:
        check_events_file(path)  # the first event, at start
        build_pool(events_file=path, pool_size=5)  # the rest, when the test starts

    with pytest.raises(InputError, match=re.escape(fragment)):
        load()


def test_an_empty_pool_is_refused() -> None:
    with pytest.raises(ValueError, match="no events"):
        PayloadPool([], id_prefix="evt_x")
