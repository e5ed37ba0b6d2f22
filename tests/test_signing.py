"""Standard Webhooks signing: the spec's known answer, interop with the reference package, verification."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
import standardwebhooks
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import InvalidSecret, SignatureError, SigningSecret, sign_headers, verify
from simulator._signing import parse_secrets

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_known_answer() -> None:
    assert SigningSecret(VECTOR_SECRET).sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIG


def test_reference_package_verifies_what_we_sign() -> None:
    secret = SigningSecret.generate()
    body = b'{"id":"evt_1","type":"secret.used"}'
    wh = standardwebhooks.Webhook(secret.reveal())
    # The reference library reads the wall clock, so sign with "now" for it.
    headers = sign_headers("evt_abc", int(time.time()), body, [secret])
    assert wh.verify(body, headers) is not None


def test_we_verify_what_reference_package_signs() -> None:
    import datetime as dt

    wh = standardwebhooks.Webhook(VECTOR_SECRET)
    stamp = dt.datetime.fromtimestamp(VECTOR_TS, tz=dt.UTC)
    signature = wh.sign(VECTOR_ID, stamp, VECTOR_BODY.decode())
    headers = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TS), "webhook-signature": signature}
    assert verify(headers, VECTOR_BODY, parse_secrets([VECTOR_SECRET]), now=lambda: VECTOR_TS) == VECTOR_ID


def _headers(secret: SigningSecret, ts: int = VECTOR_TS, body: bytes = VECTOR_BODY) -> dict[str, str]:
    return sign_headers(VECTOR_ID, ts, body, [secret])


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        pytest.param(lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b), "missing-headers", id="no-id"),
        pytest.param(lambda h, b: ({**h, "webhook-timestamp": "soon"}, b), "bad-timestamp", id="bad-timestamp"),
        pytest.param(lambda h, b: ({**h, "webhook-timestamp": str(VECTOR_TS - 301)}, b), "stale", id="stale"),
        pytest.param(lambda h, b: ({**h, "webhook-timestamp": str(VECTOR_TS + 301)}, b), "future", id="future"),
        pytest.param(lambda h, b: ({**h, "webhook-signature": "v2,abc"}, b), "no-signature", id="wrong-version"),
        pytest.param(lambda h, b: (h, b + b" "), "mismatch", id="tampered-body"),
        pytest.param(lambda h, b: ({**h, "webhook-id": "msg_other"}, b), "mismatch", id="other-id"),
    ],
)
def test_verify_rejects(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    secret = SigningSecret(VECTOR_SECRET)
    headers, body = mutate(_headers(secret), VECTOR_BODY)
    with pytest.raises(SignatureError) as info:
        verify(headers, body, [secret], now=lambda: VECTOR_TS)
    assert info.value.reason == reason
    assert VECTOR_SIG[3:] not in str(info.value)


def test_rotation_any_secret_matches() -> None:
    old, new = SigningSecret.generate(), SigningSecret(VECTOR_SECRET)
    headers = sign_headers(VECTOR_ID, VECTOR_TS, VECTOR_BODY, [old, new])
    assert len(headers["webhook-signature"].split()) == 2
    assert verify(headers, VECTOR_BODY, [new], now=lambda: VECTOR_TS) == VECTOR_ID
    assert verify(headers, VECTOR_BODY, [old], now=lambda: VECTOR_TS) == VECTOR_ID
    with pytest.raises(SignatureError):
        verify(headers, VECTOR_BODY, [SigningSecret.generate()], now=lambda: VECTOR_TS)


def test_tolerance_is_a_parameter() -> None:
    secret = SigningSecret(VECTOR_SECRET)
    headers = _headers(secret, ts=VECTOR_TS - 3600)
    assert verify(headers, VECTOR_BODY, [secret], tolerance=7200, now=lambda: VECTOR_TS) == VECTOR_ID


def test_token_header() -> None:
    headers = sign_headers("evt_1", 1, b"{}", [], token="t0k")
    assert headers["authorization"] == "Bearer t0k"
    assert "webhook-signature" not in headers


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id="no-prefix"),
        pytest.param("whsec_not base64!!", id="not-base64"),
        pytest.param("whsec_" + base64.b64encode(b"short").decode(), id="too-short"),
        pytest.param("", id="empty"),
    ],
)
def test_bad_secrets_never_echoed(bad: str) -> None:
    with pytest.raises(InvalidSecret) as info:
        SigningSecret(bad)
    assert isinstance(info.value, ValueError)
    if bad:
        assert bad not in str(info.value)


def test_secret_repr_hides_key() -> None:
    secret = SigningSecret(VECTOR_SECRET)
    assert VECTOR_SECRET[6:] not in repr(secret)
    assert VECTOR_SECRET[6:] not in str(secret)
    assert secret.reveal() == VECTOR_SECRET


def test_parse_secrets_splits_env_style_lists() -> None:
    other = SigningSecret.generate()
    parsed = parse_secrets([f"{VECTOR_SECRET}, {other.reveal()}"])
    assert parsed == (SigningSecret(VECTOR_SECRET), other)


# -- Signer: the one place a delivery is signed ---------------------------------------------


def test_signer_known_answer_and_rotation() -> None:
    from simulator._signing import Signer

    other = SigningSecret.generate()
    signer = Signer([VECTOR_SECRET, other], clock=lambda: VECTOR_TS + 0.9)
    headers = signer.headers(VECTOR_ID, VECTOR_BODY)
    assert headers["webhook-timestamp"] == str(VECTOR_TS)
    first, second = headers["webhook-signature"].split()
    assert first == VECTOR_SIG
    assert second == other.sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    # Either secret alone verifies: the listener may hold the old or the new one.
    for secret in (VECTOR_SECRET, other.reveal()):
        assert verify(headers, VECTOR_BODY, parse_secrets([secret]), now=lambda: VECTOR_TS) == VECTOR_ID


def test_signer_matches_a_fresh_hmac_each_message() -> None:
    """The keyed HMAC is copied per message: no state leaks from one message into the next."""
    import hashlib
    import hmac as std_hmac

    from simulator._signing import Signer

    key = base64.b64decode(VECTOR_SECRET.removeprefix("whsec_"))
    signer = Signer([VECTOR_SECRET])
    for n in range(5):
        body = b'{"n": %d}' % n
        expected = base64.b64encode(std_hmac.new(key, f"evt_{n}.{1000 + n}.".encode() + body,
                                                 hashlib.sha256).digest()).decode()
        assert signer.signature(f"evt_{n}", 1000 + n, body) == f"v1,{expected}"


@settings(max_examples=300, deadline=None)
@given(keys=st.lists(st.integers(0, 200).flatmap(lambda n: st.binary(min_size=n, max_size=n)), min_size=1, max_size=3),
       msg_id=st.text(min_size=1, max_size=40), stamp=st.integers(0, 2**40), body=st.binary(max_size=3000))
def test_hmac_agrees_with_the_standard_library_for_any_key_and_message(keys, msg_id, stamp, body) -> None:  # type: ignore[no-untyped-def]
    """The signer's own RFC 2104 pads give ``hmac.digest``'s answer: keys shorter than, equal to and
    longer than SHA-256's 64-byte block, empty bodies and multi-block ones, one secret or a rotation."""
    import hashlib
    import hmac as std_hmac

    from simulator._signing import Signer

    message = f"{msg_id}.{stamp}.".encode() + body
    expected = ["v1," + base64.b64encode(std_hmac.digest(key, message, hashlib.sha256)).decode() for key in keys]
    secrets = [SigningSecret(key) for key in keys]
    assert [secret.sign(msg_id, stamp, body) for secret in secrets] == expected
    signer = Signer(secrets)
    assert signer.headers(msg_id, body, timestamp=stamp)["webhook-signature"] == " ".join(expected)
    assert signer.signature(msg_id, stamp, body) == " ".join(expected)


def test_signer_headers_follow_the_clock_from_second_to_second() -> None:
    """headers() makes a second's text once: each delivery still carries its own second, and
    its signature covers that second (an explicit timestamp= too)."""
    from simulator._signing import Signer

    now = [1_000_000.2]
    signer = Signer([VECTOR_SECRET], clock=lambda: now[0])
    secrets = parse_secrets([VECTOR_SECRET])
    for step, expected in [(0.0, 1_000_000), (0.5, 1_000_000), (0.4, 1_000_001), (5.0, 1_000_006),
                           (-3.0, 1_000_003)]:
        now[0] += step
        headers = signer.headers(f"evt_{expected}", b"{}")
        assert headers["webhook-timestamp"] == str(expected)
        assert verify(headers, b"{}", secrets, now=lambda: now[0]) == f"evt_{expected}"
    fixed = signer.headers("evt_x", b"{}", timestamp=1_000_000)
    assert fixed["webhook-signature"] == SigningSecret(VECTOR_SECRET).sign("evt_x", 1_000_000, b"{}")
    assert signer.headers("evt_y", b"{}")["webhook-timestamp"] == str(1_000_003)


@pytest.mark.parametrize("setup", ["unsigned", "one secret", "rotation", "skewed", "tampered-body", "wrong-secret"])
def test_headers_many_gives_what_headers_gives_one_by_one(setup: str) -> None:
    """The batch form a load test signs ahead with: the same headers, in order, for every kind of signer
    (its single-secret fast path and the general one), with the clock read once when no timestamp is given."""
    import random

    from simulator._signing import Signer

    all_secrets: dict[str, list[str | SigningSecret]] = {
        "unsigned": [], "rotation": [VECTOR_SECRET, SigningSecret(b"k" * 70)]}
    all_options: dict[str, dict[str, Any]] = {
        "skewed": {"skew": -30.0}, "tampered-body": {"fault": "tampered-body"},
        "wrong-secret": {"fault": "wrong-secret"}}
    secrets, options = all_secrets.get(setup, [VECTOR_SECRET]), all_options.get(setup, {})

    def signer() -> Signer:  # each with its own seeded rng: the same wrong secret every time
        return Signer(secrets, clock=clock, rng=random.Random(3), **options)

    deliveries = [(f"evt_{n}", b'{"n": %d}' % n + b"x" * (n * 37)) for n in range(40)]
    reads = []

    def clock() -> float:
        reads.append(1)
        return 1_000_000.7

    batch = signer().headers_many(iter(deliveries))
    assert len(reads) == 1
    one_by_one = signer()
    assert batch == [one_by_one.headers(msg_id, body) for msg_id, body in deliveries]
    assert [list(h) for h in batch[:1]] == [["webhook-id", "webhook-timestamp", "webhook-signature"][
        :3 if one_by_one.signs else 2]]
    fixed = signer().headers_many(deliveries[:3], timestamp=5)
    assert [h["webhook-timestamp"] for h in fixed] == ["5", "5", "5"]
    assert signer().headers_many([]) == []
    if setup in ("one secret", "rotation", "skewed"):
        stamp = int(1_000_000.7 + options.get("skew", 0.0))
        for (msg_id, body), headers in zip(deliveries, batch, strict=True):
            assert verify(headers, body, parse_secrets(secrets), now=lambda: stamp) == msg_id


def test_signer_skew_moves_the_timestamp() -> None:
    from simulator._signing import Signer

    signer = Signer([VECTOR_SECRET], clock=lambda: 1_000_000.0, skew=-600)
    headers = signer.headers("evt_1", b"{}")
    assert headers["webhook-timestamp"] == str(1_000_000 - 600)
    with pytest.raises(SignatureError) as err:
        verify(headers, b"{}", parse_secrets([VECTOR_SECRET]), now=lambda: 1_000_000.0)
    assert err.value.reason == "stale"


def test_unsigned_signer_sends_no_signature() -> None:
    from simulator._signing import Signer

    headers = Signer(clock=lambda: 5.0).headers("evt_1", b"{}")
    assert headers == {"webhook-id": "evt_1", "webhook-timestamp": "5"}


@pytest.mark.parametrize("fault", __import__("simulator._signing", fromlist=["FAULTS"]).FAULTS)
def test_every_fault_is_refused_by_us_and_the_reference_package(fault: str) -> None:
    import random

    from simulator._signing import Signer

    now = int(time.time())
    signer = Signer([VECTOR_SECRET], fault=fault, rng=random.Random(7))  # type: ignore[arg-type]
    headers = signer.headers("evt_fault", VECTOR_BODY, timestamp=now)
    with pytest.raises(SignatureError):
        verify(headers, VECTOR_BODY, parse_secrets([VECTOR_SECRET]), now=lambda: now)
    # (The reference package raises a bare ValueError on an unprefixed signature: still a refusal.)
    with pytest.raises((standardwebhooks.webhooks.WebhookVerificationError, ValueError)):
        standardwebhooks.Webhook(VECTOR_SECRET).verify(VECTOR_BODY, headers)
    # The same fault, seeded, gives the same signature: negative tests are reproducible.
    again = Signer([VECTOR_SECRET], fault=fault, rng=random.Random(7))  # type: ignore[arg-type]
    assert again.headers("evt_fault", VECTOR_BODY, timestamp=now) == headers


def test_unknown_fault_is_refused() -> None:
    from simulator._signing import Signer

    with pytest.raises(ValueError, match="fault='nope'"):
        Signer([VECTOR_SECRET], fault="nope")  # type: ignore[arg-type]


def test_secret_pickles_without_showing_the_key() -> None:
    import pickle

    secret = SigningSecret(VECTOR_SECRET)
    copy = pickle.loads(pickle.dumps(secret))
    assert copy == secret
    assert copy.sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIG


def test_hmac_is_keyed_only_in_the_signer() -> None:
    """One signer: in simulator/ and loadtests/, ``hmac.new`` appears only in ``_signing.py``."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    offenders = [str(path.relative_to(root))
                 for folder in ("simulator", "loadtests") for path in sorted((root / folder).rglob("*.py"))
                 if "hmac.new" in path.read_text(encoding="utf-8") and path.name != "_signing.py"]
    assert offenders == []
    keyed = [str(path.relative_to(root))
             for folder in ("simulator", "loadtests") for path in sorted((root / folder).rglob("*.py"))
             if "def _keyed(" in path.read_text(encoding="utf-8")]
    assert keyed == ["simulator/_signing.py"]
