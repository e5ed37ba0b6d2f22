"""Standard Webhooks signing: the spec's known answer, interop with the reference package, verification."""

from __future__ import annotations

import base64
import time

import pytest
import standardwebhooks

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
