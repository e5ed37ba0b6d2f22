"""Standard Webhooks signing and verification.

The signature is ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with
the base64-decoded part of a ``whsec_…`` secret; during a rotation several
signatures travel space-separated in one ``webhook-signature`` header.
Unlike the reference library, the clock and the tolerance are parameters.

>>> secret = SigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
>>> secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from simulator._exceptions import InvalidSecret, SignatureError

__all__ = [
    "DEFAULT_TOLERANCE",
    "SigningSecret",
    "parse_secrets",
    "sign_headers",
    "verify",
]

#: Default allowed distance between a delivery's timestamp and the receiver's clock, in seconds.
DEFAULT_TOLERANCE = 300.0

_PREFIX = "whsec_"


class SigningSecret:
    """A ``whsec_…`` signing secret. Its ``repr`` and ``str`` never show the key.

    >>> SigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    SigningSecret('whsec_…')
    """

    __slots__ = ("_key",)

    def __init__(self, secret: str | bytes) -> None:
        if isinstance(secret, bytes):
            self._key = secret
            return
        text = secret.strip()
        if not text.startswith(_PREFIX):
            raise InvalidSecret(
                "signing secret must start with 'whsec_' followed by base64, like the one "
                "`chestsim secret new` prints"
            )
        try:
            key = base64.b64decode(text[len(_PREFIX):], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidSecret(
                "signing secret after 'whsec_' is not valid base64; copy it again from the endpoint "
                "settings or make one with `chestsim secret new`"
            ) from None
        if len(key) < 16:
            raise InvalidSecret(
                f"signing secret decodes to {len(key)} bytes; Standard Webhooks secrets carry "
                "24 to 64 random bytes (`chestsim secret new`)"
            )
        self._key = key

    @classmethod
    def generate(cls, *, random_bytes: Callable[[int], bytes] | None = None) -> SigningSecret:
        """A new random secret (24 bytes); pass ``random_bytes`` for reproducible tests."""
        import os

        return cls((random_bytes or os.urandom)(24))

    def reveal(self) -> str:
        """The ``whsec_…`` text, for the one place that must show it (``chestsim secret new``)."""
        return _PREFIX + base64.b64encode(self._key).decode()

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """The ``v1,…`` signature of one delivery."""
        mac = hmac.new(self._key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
        return "v1," + base64.b64encode(mac.digest()).decode()

    def __repr__(self) -> str:
        return "SigningSecret('whsec_…')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SigningSecret) and hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(hashlib.sha256(self._key).digest())


def parse_secrets(values: Iterable[str | SigningSecret]) -> tuple[SigningSecret, ...]:
    """Parse several secrets (flags, or ``CHESTSIM_SECRET`` split on spaces or commas)."""
    out: list[SigningSecret] = []
    for value in values:
        if isinstance(value, SigningSecret):
            out.append(value)
            continue
        for part in value.replace(",", " ").split():
            out.append(SigningSecret(part))
    return tuple(out)


def sign_headers(
    msg_id: str,
    timestamp: int,
    body: bytes,
    secrets: Sequence[SigningSecret],
    *,
    token: str | None = None,
) -> dict[str, str]:
    """The Standard Webhooks headers (and ``Authorization`` when a token is given) for one delivery."""
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp)}
    if secrets:
        headers["webhook-signature"] = " ".join(s.sign(msg_id, timestamp, body) for s in secrets)
    if token:
        headers["authorization"] = f"Bearer {token}"
    return headers


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[SigningSecret],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: Callable[[], float] = time.time,
) -> str:
    """Check a delivery's Standard Webhooks headers; return its ``webhook-id``.

    ``headers`` must be case-insensitive or lower-cased. Raises ``SignatureError``
    with a terse ``reason`` (``missing-headers``, ``bad-timestamp``, ``stale``,
    ``future``, ``no-signature``, ``mismatch``) that never echoes the signature.
    """
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signature = headers.get("webhook-signature")
    if not msg_id or not stamp or not signature:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header",
                             reason="missing-headers")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not unix seconds", reason="bad-timestamp") from None
    current = now()
    if timestamp < current - tolerance:
        raise SignatureError("webhook-timestamp is too old", reason="stale")
    if timestamp > current + tolerance:
        raise SignatureError("webhook-timestamp is in the future", reason="future")
    offered = [part[3:] for part in signature.split() if part.startswith("v1,")]
    if not offered:
        raise SignatureError("no v1 signature in webhook-signature", reason="no-signature")
    for secret in secrets:
        expected = secret.sign(msg_id, timestamp, body)[3:].encode()
        if any(hmac.compare_digest(expected, candidate.encode()) for candidate in offered):
            return msg_id
    raise SignatureError("no signature matches", reason="mismatch")
