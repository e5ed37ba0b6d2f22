"""The Proof list: each kind of delivery gets the right answer and verdict, on real loopback HTTP."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import orjson
import pytest
import standardwebhooks
from listener_helpers import OTHER_SECRET, SECRET, TOKEN, Post, make_event, signed

from simulator.listener import Listener, RunningListener, run_listener

pytestmark = pytest.mark.integration


async def test_valid_delivery_is_acknowledged_and_recorded(listener: RunningListener, post: Post) -> None:
    event = make_event()
    status, headers, _ = await post(listener.url, *signed(event))
    assert status == 204
    assert headers["x-chestsim-verdict"] == "valid"
    [record] = listener.records()
    assert (record.verdict, record.status, record.signature) == ("valid", 204, "ok")
    assert (record.webhook_id, record.event_id, record.event_type) == (event["id"], event["id"], "secret.used")
    assert record.json() == event
    assert record.attempt == 1
    assert not record.duplicate


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        pytest.param("tampered", "mismatch", id="tampered-body"),
        pytest.param("wrong-secret", "mismatch", id="wrong-secret"),
        pytest.param("stale", "stale", id="stale-timestamp"),
        pytest.param("future", "future", id="future-timestamp"),
        pytest.param("no-id", "missing-headers", id="missing-webhook-id"),
        pytest.param("no-timestamp", "missing-headers", id="missing-webhook-timestamp"),
        pytest.param("no-signature", "missing-headers", id="missing-webhook-signature"),
        pytest.param("bad-timestamp", "bad-timestamp", id="timestamp-not-a-number"),
        pytest.param("v2-only", "no-signature", id="no-v1-signature"),
    ],
)
async def test_bad_signatures_get_401_and_are_recorded(listener: RunningListener, post: Post,
                                                       case: str, reason: str) -> None:
    event = make_event()
    now = int(time.time())
    secret = OTHER_SECRET if case == "wrong-secret" else SECRET
    stamp = {"stale": now - 301, "future": now + 301}.get(case, now)
    body, headers = signed(event, secret=secret, timestamp=stamp)
    if case == "tampered":
        body = body.replace(b'"api_key"', b'"password"')
    drop = {"no-id": "webhook-id", "no-timestamp": "webhook-timestamp", "no-signature": "webhook-signature"}
    headers.pop(drop.get(case, "x-none"), None)
    if case == "bad-timestamp":
        headers["webhook-timestamp"] = "yesterday"
    if case == "v2-only":
        headers["webhook-signature"] = "v2," + headers["webhook-signature"][3:]
    status, response_headers, payload = await post(listener.url, body, headers)
    assert status == 401
    assert response_headers["x-chestsim-verdict"] == "unverified"
    [record] = listener.records()
    assert (record.verdict, record.status, record.signature) == ("unverified", 401, reason)
    # Terse and secret-free: no signature echoed in the answer or the record.
    signature = headers.get("webhook-signature", "v1,")[3:]
    if signature:
        assert signature not in str(payload)
    assert record.headers.get("webhook-signature", "[redacted]") == "[redacted]"


async def test_tolerance_is_a_parameter_both_ways(db: Path, post: Post) -> None:
    async with run_listener(Listener(secrets=(SECRET,), db=db, tolerance=3600)) as running:
        for offset in (-3500, 3500):
            status, _, _ = await post(running.url, *signed(make_event(), timestamp=int(time.time()) + offset))
            assert status == 204


async def test_any_of_several_secrets_verifies_during_rotation(db: Path, post: Post) -> None:
    async with run_listener(Listener(secrets=(OTHER_SECRET, SECRET), db=db)) as running:
        assert (await post(running.url, *signed(make_event(), secret=SECRET)))[0] == 204
        assert (await post(running.url, *signed(make_event(), secret=OTHER_SECRET)))[0] == 204


async def test_the_standardwebhooks_packages_signer_is_accepted(listener: RunningListener, post: Post) -> None:
    event = make_event("user.created")
    body = orjson.dumps(event)
    signer = standardwebhooks.Webhook(SECRET.reveal())
    stamp = time.time()
    from datetime import UTC, datetime

    signature = signer.sign(event["id"], datetime.fromtimestamp(stamp, tz=UTC), body.decode())
    headers = {"webhook-id": event["id"], "webhook-timestamp": str(int(stamp)),
               "webhook-signature": signature, "content-type": "application/json"}
    status, _, _ = await post(listener.url, body, headers)
    assert status == 204
    assert listener.records()[0].signature == "ok"


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        pytest.param(f"Bearer {TOKEN}", 204, id="right-token"),
        pytest.param("Bearer wrong", 401, id="wrong-token"),
        pytest.param(None, 401, id="missing-token"),
        pytest.param(TOKEN, 401, id="token-without-bearer"),
    ],
)
async def test_bearer_token(db: Path, post: Post, authorization: str | None, expected: int) -> None:
    async with run_listener(Listener(secrets=(SECRET,), token=TOKEN, db=db)) as running:
        body, headers = signed(make_event())
        if authorization is not None:
            headers["authorization"] = authorization
        status, _, payload = await post(running.url, body, headers)
        assert status == expected
        [record] = running.records()
        assert record.signature == ("ok" if expected == 204 else "token")
        assert TOKEN not in str(payload)
    assert TOKEN.encode() not in b"".join(p.read_bytes() for p in db.parent.glob("received.db*"))


async def test_without_a_secret_signatures_are_not_checked(db: Path, post: Post) -> None:
    async with run_listener(Listener(db=db)) as running:
        status, _, _ = await post(running.url, *signed(make_event(), secret=None))
        assert status == 204
        assert running.records()[0].signature == "unchecked"


async def test_invalid_payload_is_recorded_and_acknowledged(listener: RunningListener, post: Post) -> None:
    event = make_event()
    event["data"]["shard_map"]["threshold"] = 9
    status, headers, _ = await post(listener.url, *signed(event))
    assert status == 204
    assert headers["x-chestsim-verdict"] == "invalid"
    [record] = listener.records()
    assert record.verdict == "invalid"
    assert record.problems
    assert record.problems[0]["severity"] == "error"
    assert record.reason
    assert "/data/shard_map" in record.reason


async def test_reject_invalid_answers_422(db: Path, post: Post) -> None:
    async with run_listener(Listener(secrets=(SECRET,), db=db, reject_invalid=True)) as running:
        bad = make_event()
        del bad["data"]["secret"]
        status, _, payload = await post(running.url, *signed(bad))
        assert (status, payload["verdict"]) == (422, "invalid")
        assert (await post(running.url, *signed(make_event())))[0] == 204
        assert [r.status for r in running.records()] == [422, 204]


async def test_unknown_type_is_invalid(listener: RunningListener, post: Post) -> None:
    status, headers, _ = await post(listener.url, *signed(make_event(type="secret.usd")))
    assert (status, headers["x-chestsim-verdict"]) == (204, "invalid")
    assert listener.records()[0].problems[0]["code"] == "unknown-type"


async def test_leak_guard_violation_is_flagged_and_never_stored(listener: RunningListener, db: Path,
                                                                post: Post) -> None:
    leaked = "whsec_" + base64.b64encode(b"a-real-looking-secret-key-32byte").decode()
    event = make_event()
    event["data"]["note"] = leaked
    status, headers, _ = await post(listener.url, *signed(event))
    assert (status, headers["x-chestsim-verdict"]) == (204, "leak")
    [record] = listener.records()
    assert record.verdict == "leak"
    assert record.json()["data"]["note"] == "[redacted: leak]"
    assert any(p["code"] == "leak" for p in record.problems)
    stored = b"".join(p.read_bytes() for p in db.parent.glob("received.db*"))
    assert leaked.encode() not in stored


async def test_duplicates_and_out_of_order_are_counted_and_flagged(listener: RunningListener,
                                                                   post: Post, client: object) -> None:
    first = make_event(timestamp="2026-11-28T12:00:05.000Z")
    older = make_event(timestamp="2026-11-28T12:00:01.000Z")
    assert (await post(listener.url, *signed(first)))[0] == 204
    status, headers, _ = await post(listener.url, *signed(first))
    assert status == 204
    assert headers["x-chestsim-duplicate"] == "1"
    assert (await post(listener.url, *signed(older)))[0] == 204
    records = listener.records()
    assert [(r.attempt, r.duplicate, r.out_of_order) for r in records] == [
        (1, False, False), (2, True, False), (1, False, True)]
    snapshot = listener.snapshot()
    assert (snapshot["duplicates"], snapshot["out_of_order"]) == (1, 1)


async def test_redelivery_after_a_restart_is_still_a_duplicate(db: Path, post: Post) -> None:
    event = make_event()
    async with run_listener(Listener(secrets=(SECRET,), db=db)) as running:
        assert (await post(running.url, *signed(event)))[0] == 204
    async with run_listener(Listener(secrets=(SECRET,), db=db)) as running:
        status, headers, _ = await post(running.url, *signed(event))
        assert (status, headers["x-chestsim-duplicate"]) == (204, "1")
        assert [r.duplicate for r in running.records()] == [False, True]


async def test_headers_are_recorded_with_credentials_redacted(db: Path, post: Post) -> None:
    async with run_listener(Listener(secrets=(SECRET,), token=TOKEN, db=db)) as running:
        body, headers = signed(make_event(), token=TOKEN)
        headers["x-api-key"] = "k-123456"
        headers["x-request-source"] = "tests"
        assert (await post(running.url, body, headers))[0] == 204
        [record] = running.records()
    assert record.headers["authorization"] == "[redacted]"
    assert record.headers["webhook-signature"] == "[redacted]"
    assert record.headers["x-api-key"] == "[redacted]"
    assert record.headers["x-request-source"] == "tests"
    assert record.headers["webhook-id"] == headers["webhook-id"]
    stored = b"".join(p.read_bytes() for p in db.parent.glob("received.db*"))
    assert headers["webhook-signature"][3:].encode() not in stored
    assert TOKEN.encode() not in stored


@pytest.mark.parametrize(
    ("strict", "reject_invalid", "status", "verdict"),
    [
        pytest.param(False, False, 204, "warning", id="default-warning"),
        pytest.param(False, True, 204, "warning", id="reject-invalid-still-acknowledges-a-warning"),
        pytest.param(True, False, 204, "invalid", id="strict-invalid"),
        pytest.param(True, True, 422, "invalid", id="strict-reject-invalid-422"),
    ],
)
async def test_duplicate_member_names_are_flagged(db: Path, post: Post, strict: bool, reject_invalid: bool,
                                                  status: int, verdict: str) -> None:
    event = make_event("user.created")
    real = orjson.dumps(event)
    # {"type": "bogus.type", …, "type": "user.created"}: orjson keeps the last, other parsers the first.
    body = b'{"type":"bogus.type",' + real[1:]
    assert orjson.loads(body) == event
    config = Listener(secrets=(SECRET,), db=db, strict=strict, reject_invalid=reject_invalid)
    async with run_listener(config) as running:
        got, headers, _ = await post(running.url, *signed(body, msg_id=event["id"]))
        assert (got, headers["x-chestsim-verdict"]) == (status, verdict)
        clean, headers, _ = await post(running.url, *signed(make_event("user.created")))
        assert (clean, headers["x-chestsim-verdict"]) == (204, "valid")
    first = running.records()[0]
    assert first.verdict == verdict
    assert [(p["code"], p["pointer"]) for p in first.problems if p["code"] == "duplicate-key"] == [("duplicate-key", "/type")]
    assert first.reason is not None
    assert "/type" in first.reason
