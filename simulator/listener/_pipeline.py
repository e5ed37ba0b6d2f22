"""What the listener concludes about one request, as a pure function of the bytes received.

``Pipeline.handle(raw)`` checks, in order: a sane ``webhook-id`` (400), bearer
token and Standard Webhooks signature (401), content type (415), JSON (400),
the payload contract (valid, invalid, leak); then tracks redeliveries and
ordering and draws faults. It returns the row to record and the ``Outcome``
the server turns into an answer. The server does only I/O; this runs where the
records are written (a writer process by default, or inline on the loop).

>>> from simulator.listener import Listener
>>> pipeline = Pipeline(Listener())
>>> raw = Raw(0.0, "POST", "/webhooks", "127.0.0.1", ((b"Content-Type", b"application/json"),), b"[]", 2, None)
>>> pipeline.handle(raw)[1].verdict
'invalid'
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from simulator._exceptions import SignatureError
from simulator._signing import verify
from simulator.listener._config import Listener
from simulator.listener._faults import FaultInjector
from simulator.listener._judge import judge
from simulator.listener._records import shared_validator
from simulator.listener._stats import Tracker

__all__ = ["Outcome", "Pipeline", "Preset", "Raw", "RawTuple"]

_MAX_ID = 256
_REDACTED = "[redacted]"
_REDACTED_BYTES = _REDACTED.encode()
#: What a content type looks like; anything else is not quoted in a reason.
_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,40}/[a-z0-9!#$&^_.+-]{1,60}|")
#: Query parameter names that carry credentials (besides those with a _SENSITIVE word).
_QUERY_CREDENTIALS = ("key", "sig", "auth", "access_token", "code", "pass", "pwd")
_SENSITIVE = ("authorization", "signature", "token", "secret", "cookie", "api-key", "apikey", "password")


class Preset(NamedTuple):
    """An answer the server gave before reading the body (413, or aiohttp's own 400)."""

    status: int
    verdict: str
    reason: str


class Raw(NamedTuple):
    """One request as received: what the server hands to the pipeline."""

    received_at: float
    method: str
    path: str
    remote: str | None
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes | None
    body_size: int
    preset: Preset | None


#: ``Raw`` as a plain tuple, what the server builds per request (it pickles faster).
RawTuple = tuple[float, str, str, str | None, tuple[tuple[bytes, bytes], ...], bytes | None, int, Preset | None]


class Outcome(NamedTuple):
    """What the server answers and counts for one request."""

    status: int                # 0: drop or hang, no answer
    verdict: str
    reason: str | None
    event_type: str | None
    webhook_id: str | None
    signature: str
    duplicate: bool
    out_of_order: bool
    fault: str | None
    latency: float
    retry_after: int | None


class Pipeline:
    """Verify, judge, track and draw faults for requests, one at a time, in arrival order."""

    def __init__(self, config: Listener, *, clock: Callable[[], float] | None = None) -> None:
        self.config = config
        self.clock = clock or config.clock
        self.validator = shared_validator(config.strict)
        self.tracker = Tracker()
        self.faults = FaultInjector(config.faults, seed=config.seed)
        self._secrets = config.secrets
        self._expected_auth = f"Bearer {config.token}".encode() if config.token else None
        # The listener's own credentials, wherever else a request repeats them (an X-Auth header,
        # a Referer's query, the body): never stored.
        known = [config.token] if config.token else []
        for secret in config.secrets:
            known += [secret.reveal(), secret.reveal().removeprefix("whsec_")]
        self._credentials = tuple(c for c in known if len(c) >= 8)
        self._credential_bytes = tuple(c.encode("utf-8", "surrogateescape") for c in self._credentials)
        # As they appear in the headers' JSON when a header value holds one.
        self._credential_json = tuple(orjson.dumps(c)[1:-1] for c in self._credentials)
        self._faulty = bool(self.faults)
        self._names: dict[bytes, tuple[str, bool]] = {}
        self._seq = 0

    def handle(self, raw: RawTuple) -> tuple[list[Any], Outcome]:
        """The record row (in ``COLUMNS`` order) and the outcome of one request."""
        started = time.perf_counter()
        self._seq += 1
        # Positional: the writer process receives plain tuples.
        received_at, method, path, remote, raw_headers, body, body_size, preset = raw
        headers, header_json = self._headers(raw_headers)
        webhook_id = headers.get("webhook-id")
        signature = "unchecked"
        problems: bytes | None = None
        event_id = event_type = tenant_id = event_time = None
        attempt, duplicate, out_of_order, validated = 1, False, False, False
        key = webhook_id
        reason: str | None

        if preset is not None:
            status, verdict, reason = preset
        elif webhook_id is not None and (len(webhook_id) > _MAX_ID or not webhook_id.isprintable()):
            status, verdict = 400, "rejected"
            reason = f"webhook-id is not a short printable id (at most {_MAX_ID} characters)"
            webhook_id = key = None
        else:
            assert body is not None
            status, verdict, signature, reason = self._authenticate(headers, body)
            if not status:
                content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
                if content_type != "application/json" and not content_type.endswith("+json"):
                    status, verdict = 415, "rejected"
                    shown = repr(content_type) if _MEDIA_TYPE.fullmatch(content_type) else "(not a media type)"
                    reason = f"content-type {shown} is not application/json"
                else:
                    found = judge(self.validator, body)
                    verdict, reason, problems, body = found.verdict, found.reason, found.problems, found.body
                    event = found.event
                    if verdict == "malformed":
                        status = 400
                    else:
                        status, validated = 204, True
                        if type(event) is dict:
                            event_id = _text(event.get("id"))
                            event_type = _text(event.get("type"))
                            tenant_id = _text(event.get("tenant_id"))
                            event_time = _text(event.get("timestamp"))
                        key = webhook_id or event_id or f"#{self._seq}"
                        attempt, duplicate = self.tracker.arrive(key)
                        if tenant_id is not None and event_time is not None:
                            out_of_order = self.tracker.out_of_order(tenant_id, event_time)
                        if self.config.reject_invalid and verdict in ("invalid", "leak"):
                            status, validated = 422, False

        fault = None
        latency = 0.0
        retry_after = None
        if self._faulty:
            decision = self.faults.decide(event_type=event_type, key=key or f"#{self._seq}",
                                          attempt=attempt, would_succeed=validated)
            latency = decision.latency
            if decision.fault is not None:
                fault, retry_after = decision.fault, decision.retry_after
                status = decision.status or 0
                reason = f"injected fault: {fault}"
        if validated and 200 <= status < 300 and key is not None:
            self.tracker.acknowledge(key)

        if "?" in path:
            path = _stored_path(path)
        if self._credentials:
            path = self._scrubbed(path)
            if body and any(c in body for c in self._credential_bytes):
                for c in self._credential_bytes:
                    body = body.replace(c, _REDACTED_BYTES)
        row = [received_at, method, path, remote, webhook_id, event_id, event_type,
               tenant_id, event_time, status, verdict, signature, reason, problems, fault,
               latency * 1000 if latency else None, attempt, int(duplicate), int(out_of_order), header_json,
               body, body_size, (time.perf_counter() - started) * 1000]
        return row, Outcome(status, verdict, reason, event_type, webhook_id, signature, duplicate,
                            out_of_order, fault, latency, retry_after)

    def _authenticate(self, headers: dict[str, str], body: bytes) -> tuple[int, str, str, str | None]:
        """(0 to go on, or 401), verdict, signature outcome, reason."""
        if self._expected_auth is not None:
            offered = headers.get("authorization", "").encode("utf-8", "surrogateescape")
            if not hmac.compare_digest(offered, self._expected_auth):
                return 401, "unverified", "token", "missing or wrong bearer token"
        if not self._secrets:
            return 0, "", "unchecked", None
        try:
            verify(headers, body, self._secrets, tolerance=self.config.tolerance, now=self.clock)
        except SignatureError as exc:
            return 401, "unverified", exc.reason, str(exc)
        return 0, "", "ok", None

    def _headers(self, pairs: tuple[tuple[bytes, bytes], ...], *,
                 scrub: bool = False) -> tuple[dict[str, str], str]:
        """Lower-cased headers (first of repeated names wins, like a case-insensitive lookup), and
        their JSON for the record with credentials (authorization, signatures, tokens…) redacted."""
        names = self._names
        headers: dict[str, str] = {}
        stored: dict[str, str] = {}
        for raw_name, raw_value in pairs:
            known = names.get(raw_name)
            if known is None:
                lower = raw_name.decode("utf-8", "surrogateescape").lower()
                known = (lower, any(word in lower for word in _SENSITIVE))
                if len(names) < 1000:
                    names[raw_name] = known
            name = known[0]
            if name in headers:
                continue
            value = raw_value.decode("utf-8", "surrogateescape")
            headers[name] = value
            stored[name] = _REDACTED if known[1] else self._scrubbed(value) if scrub else value
        try:
            text = orjson.dumps(stored)
        except TypeError:  # undecodable bytes arrive as surrogates; store them replaced
            text = orjson.dumps({_printable(k): _printable(v) for k, v in stored.items()})
        if not scrub and any(c in text for c in self._credential_json):
            # Rare: one of the listener's own credentials in a header: scrubbed value by value.
            return self._headers(pairs, scrub=True)
        return headers, text.decode()

    def _scrubbed(self, text: str) -> str:
        for credential in self._credentials:
            if credential in text:
                text = text.replace(credential, _REDACTED)
        return text

    def preload(self, acknowledged: list[str]) -> None:
        """Remember ids acknowledged by an earlier run on the same record file."""
        self.tracker.preload(acknowledged)


def _stored_path(path: str) -> str:
    """The path with the values of credential-like query parameters (``?token=…``) redacted.

    >>> _stored_path("/webhooks?token=abc&tenant=7")
    '/webhooks?token=[redacted]&tenant=7'
    """
    base, _, query = path.partition("?")
    parts = []
    for part in query.split("&"):
        name, equals, _value = part.partition("=")
        lowered = name.lower()
        sensitive = equals and (any(word in lowered for word in _SENSITIVE) or lowered in _QUERY_CREDENTIALS)
        parts.append(f"{name}={_REDACTED}" if sensitive else part)
    return f"{base}?{'&'.join(parts)}"


def _printable(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _text(value: Any) -> str | None:
    return value if type(value) is str else None
