"""Helpers for the mock listener tests: the test secrets, a valid event factory, a signer."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from simulator._catalog import lookup
from simulator._signing import SigningSecret, sign_headers

#: The Standard Webhooks spec's test secret: public, so fine in tests.
SECRET = SigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
OTHER_SECRET = SigningSecret(b"another-secret-of-24-byt")
TOKEN = "t0k3n-for-the-listener-tests"

_counter = itertools.count()


def make_event(type_key: str = "secret.used", **changes: Any) -> dict[str, Any]:
    """A valid event of ``type_key`` (the shipped minimal example) with a fresh id."""
    event: dict[str, Any] = copy.deepcopy(lookup(type_key).examples[-1])
    event["id"] = f"evt_listenertest{next(_counter):012d}"
    event.update(changes)
    return event


def signed(event: dict[str, Any] | bytes, *, secret: SigningSecret | None = SECRET,
           msg_id: str | None = None, timestamp: int | None = None, token: str | None = None,
           content_type: str = "application/json") -> tuple[bytes, dict[str, str]]:
    """(body, headers) of one delivery, signed like chestsim send signs it."""
    body = event if isinstance(event, bytes) else orjson.dumps(event)
    if msg_id is None:
        msg_id = event["id"] if isinstance(event, dict) else f"evt_raw{next(_counter):016d}"
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = sign_headers(msg_id, stamp, body, [secret] if secret else [], token=token)
    headers["content-type"] = content_type
    return body, headers




Post = Callable[..., Awaitable[tuple[int, Any, Any]]]
