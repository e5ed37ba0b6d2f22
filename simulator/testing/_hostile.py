"""Hostile deliveries, built by plain functions so that strategies only choose among them.

Each builder takes a valid event, the endpoint's secret and the time, and returns
a labelled ``Delivery``. The kinds, by the answer they deserve:

```
reject-401        missing-signature missing-id missing-timestamp wrong-secret tampered-body
                  tampered-id unknown-scheme empty-signature garbage-signature
                  unprefixed-signature bad-timestamp stale-timestamp future-timestamp
reject-400        not-json not-object missing-field:/type|/data wrong-type:/type|/data
accept-or-reject  oversized deep-nesting missing-field:<deeper> wrong-type:<deeper>
                  (reject-400 with strict=True) ; reordered (sequences)
acknowledge       unknown-type
accept-or-415     content-type
accept            valid rotation extra-fields reformatted recent-timestamp duplicate (sequences)
```

Each label belongs to one section (``SECTIONS``): ``accepts``, ``authenticity`` or
``robustness``; ``hostile_suite(only=…, skip=…)`` picks deliveries by label or section,
as ``chestsim certify --only/--skip`` picks cases.

>>> from simulator import SigningSecret, lookup
>>> secret = SigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
>>> event = lookup("user.created").examples[0]
>>> header_attack("stale-timestamp", event, secret, now=1_800_000_000, tolerance=300, offset=3600)
Delivery(label='stale-timestamp', expect='reject-401', detail='3900s old', event_type='user.created', body=... bytes)
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from simulator._signing import SigningSecret, sign_headers
from simulator._types import Event
from simulator._version import __version__
from simulator.testing._delivery import Delivery, Expect
from simulator.testing._slots import Slot, slots

__all__ = [
    "ACCEPTED_VARIATIONS",
    "BODY_ATTACKS",
    "FIELD_ATTACKS",
    "HEADER_ATTACKS",
    "HOSTILE_KINDS",
    "SECTIONS",
    "VARIANTS",
    "body_attack",
    "extra_fields",
    "field_attack",
    "field_targets",
    "header_attack",
    "hostile_suite",
    "recent",
    "recent_age",
    "reformatted",
    "renamed",
    "rotation",
    "section_of",
    "selected",
    "sequence",
    "signed",
    "valid",
]

#: Kinds that break the signature, its headers or its timestamp: all deserve 401/403.
HEADER_ATTACKS = (
    "missing-signature",
    "wrong-secret",
    "tampered-body",
    "stale-timestamp",
    "future-timestamp",
    "missing-id",
    "missing-timestamp",
    "tampered-id",
    "unknown-scheme",
    "empty-signature",
    "garbage-signature",
    "unprefixed-signature",
    "bad-timestamp",
)

#: Kinds that keep a good signature over an odd body.
BODY_ATTACKS = ("unknown-type", "not-json", "not-object", "oversized", "deep-nesting", "content-type")
#: Kinds that remove or retype one required value, genuinely signed.
FIELD_ATTACKS = ("missing-field", "wrong-type")
#: Every hostile kind of a single delivery, in the order strategies shrink towards.
HOSTILE_KINDS = HEADER_ATTACKS + FIELD_ATTACKS + BODY_ATTACKS
#: Genuine deliveries with a twist that a correct listener still accepts.
ACCEPTED_VARIATIONS = ("rotation", "extra-fields", "reformatted", "recent-timestamp")
#: The sections that group labels, in the order a report card lists them.
SECTIONS = ("accepts", "authenticity", "robustness")
#: How many forms ``body_attack`` knows per kind (``variant`` wraps around).
VARIANTS = {"not-json": 4, "not-object": 5}

# A key no endpoint has: signatures made with it must never verify.
_OTHER_SECRET = SigningSecret(b"chestsim: a key that is not the endpoint's")
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Envelope fields without which a listener cannot route a delivery at all.
_ROUTING = {("type",): "string", ("data",): "object"}
_WRONG_VALUES: dict[str | None, Any] = {
    "string": 12345,
    "integer": "1",
    "number": "1.5",
    "boolean": "true",
    "object": ["not", "an", "object"],
    "array": {"not": "an array"},
    "null": 0,
    None: {"unexpected": "object"},
}


def section_of(label: str) -> str:
    """The section a delivery label belongs to (``authenticity`` for ``stale-timestamp``)."""
    if label in HEADER_ATTACKS:
        return "authenticity"
    if label in BODY_ATTACKS or label in FIELD_ATTACKS:
        return "robustness"
    return "accepts"


def selected(names: Iterable[str], *, only: Sequence[str] = (), skip: Sequence[str] = ()) -> list[str]:
    """The ``names`` that ``only`` and ``skip`` keep, in order. A name is a case id
    (``authenticity/stale-timestamp``, ``robustness/not-json/empty``) or a bare label
    (``stale-timestamp``). A selector picks a name equal to it, a name it is a ``/``-prefix of,
    a case whose label it is, or the labels of its section; one that picks nothing is a
    ``ValueError`` naming it.

    >>> selected(["accepts/rotation", "authenticity/wrong-secret"], only=["authenticity"])
    ['authenticity/wrong-secret']
    >>> selected(["rotation", "wrong-secret", "not-json"], skip=["robustness", "rotation"])
    ['wrong-secret']
    """
    every = list(names)

    def picks(selector: str, name: str) -> bool:
        if "/" not in name:
            return selector in (name, section_of(name))
        parts = name.split("/")
        return name == selector or name.startswith(selector + "/") or parts[1] == selector

    for option, selectors in (("only", only), ("skip", skip)):
        for selector in selectors:
            if not any(picks(selector, n) for n in every):
                raise ValueError(f"{option}={selector!r} picks nothing; name a section "
                                 f"({', '.join(SECTIONS)}…), a case like authenticity/stale-timestamp, "
                                 f"or a kind like stale-timestamp")
    return [n for n in every
            if (not only or any(picks(sel, n) for sel in only)) and not any(picks(sel, n) for sel in skip)]


def _body(event: Any) -> bytes:
    return orjson.dumps(event)


def _base_headers() -> list[tuple[str, str]]:
    return [("content-type", "application/json"), ("user-agent", f"chestsim/{__version__}")]


def _headers(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[SigningSecret],
             *, drop: str | None = None, override: dict[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    signed_headers = sign_headers(msg_id, timestamp, body, secrets)
    signed_headers.update(override or {})
    out = _base_headers() + [(k, v) for k, v in signed_headers.items() if k != drop]
    return tuple(out)


def renamed(event: Event, tag: str) -> Event:
    """A copy of ``event`` with its own id (``tag`` hashed in), so that a listener that skips
    ids it has processed still looks at this variation: it is a different delivery."""
    changed = copy.deepcopy(event)
    digest = hashlib.sha256(f"{_msg_id(event)}|{tag}".encode()).digest()
    suffix = "".join(_ALNUM[b % len(_ALNUM)] for b in digest[:8])
    changed["id"] = (_msg_id(event)[:36] + suffix)[:44]
    return changed


def _msg_id(event: Any) -> str:
    if isinstance(event, dict) and isinstance(event.get("id"), str):
        return str(event["id"])
    return "evt_chestsimNoEnvelopeId0"


def _type(event: Any) -> str | None:
    kind = event.get("type") if isinstance(event, dict) else None
    return kind if isinstance(kind, str) else None


def signed(body: bytes, secret: SigningSecret, *, msg_id: str, now: float, label: str,
           expect: Expect, event_type: str | None = None, detail: str | None = None) -> Delivery:
    """A delivery of ``body`` with genuine Standard Webhooks headers."""
    return Delivery(label=label, expect=expect, body=body,
                    headers=_headers(msg_id, int(now), body, [secret]),
                    event_type=event_type, detail=detail)


def valid(event: Event, secret: SigningSecret, *, now: float, label: str = "valid") -> Delivery:
    """The genuine delivery of ``event``: the listener must accept it."""
    return signed(_body(event), secret, msg_id=_msg_id(event), now=now, label=label,
                  expect="accept", event_type=_type(event))


def rotation(event: Event, secret: SigningSecret, *, now: float) -> Delivery:
    """Two signatures during a key rotation, the endpoint's own second: still accept."""
    event = renamed(event, "rotation")
    body = _body(event)
    return Delivery(label="rotation", expect="accept", body=body,
                    headers=_headers(_msg_id(event), int(now), body, [_OTHER_SECRET, secret]),
                    event_type=_type(event), detail="good signature second of two")


def extra_fields(event: Event, secret: SigningSecret, *, now: float) -> Delivery:
    """Unknown fields in the envelope and in ``data``: a newer producer; still accept."""
    changed = renamed(event, "extra-fields")
    changed["x_chestsim_extra"] = {"note": "a field this listener does not know", "n": 1}
    if isinstance(changed.get("data"), dict):
        changed["data"]["x_chestsim_extra"] = ["unknown", 2, None]
    return signed(_body(changed), secret, msg_id=_msg_id(changed), now=now, label="extra-fields",
                  expect="accept", event_type=_type(event), detail="/x_chestsim_extra, /data/x_chestsim_extra")


def reformatted(event: Event, secret: SigningSecret, *, now: float) -> Delivery:
    """The event as another producer writes JSON (spaces after separators, non-ASCII text as
    ``\\u`` escapes): the signature covers these exact bytes, so a listener that verifies a
    re-serialization of the parsed body refuses it. Still accept."""
    changed = renamed(event, "reformatted")
    changed["x_chestsim_note"] = "Grüße, Zoë — 秘密"
    body = json.dumps(changed, ensure_ascii=True).encode()
    return signed(body, secret, msg_id=_msg_id(changed), now=now, label="reformatted", expect="accept",
                  event_type=_type(event), detail="JSON with spaces and \\u escapes")


def recent(event: Event, secret: SigningSecret, *, now: float, age: float) -> Delivery:
    """Signed ``age`` seconds ago (inside the tolerance, as a delayed retry is): still accept."""
    changed = renamed(event, "recent-timestamp")
    return signed(_body(changed), secret, msg_id=_msg_id(changed), now=now - age,
                  label="recent-timestamp", expect="accept", event_type=_type(event),
                  detail=f"{int(age)}s old")


def header_attack(kind: str, event: Event, secret: SigningSecret, *, now: float,
                  tolerance: float = 300, offset: int = 3600) -> Delivery:
    """A delivery whose signature, headers or timestamp must not verify (``reject-401``).

    ``offset`` is how many seconds past the ``tolerance`` a stale or future timestamp lies.
    """
    body = _body(event)
    msg_id = _msg_id(event)
    stamp = int(now)
    detail: str | None = None
    if kind == "missing-signature":
        headers = _headers(msg_id, stamp, body, [secret], drop="webhook-signature")
    elif kind == "missing-id":
        headers = _headers(msg_id, stamp, body, [secret], drop="webhook-id")
    elif kind == "missing-timestamp":
        headers = _headers(msg_id, stamp, body, [secret], drop="webhook-timestamp")
    elif kind == "wrong-secret":
        headers = _headers(msg_id, stamp, body, [_OTHER_SECRET])
    elif kind == "tampered-body":
        good = _headers(msg_id, stamp, body, [secret])
        changed = copy.deepcopy(event)
        changed["tenant_id"] = "00000000-0000-4000-8000-000000000000"
        body = _body(changed)
        headers = good
        detail = "/tenant_id changed after signing"
    elif kind == "tampered-id":
        headers = _headers(msg_id, stamp, body, [secret], override={"webhook-id": msg_id + "x"})
    elif kind == "unknown-scheme":
        sig = secret.sign(msg_id, stamp, body)
        headers = _headers(msg_id, stamp, body, [secret], override={"webhook-signature": "v0," + sig[3:]})
    elif kind == "empty-signature":
        headers = _headers(msg_id, stamp, body, [secret], override={"webhook-signature": ""})
    elif kind == "garbage-signature":
        headers = _headers(msg_id, stamp, body, [secret], override={"webhook-signature": "v1,not base64 at all!"})
    elif kind == "unprefixed-signature":
        sig = secret.sign(msg_id, stamp, body)
        headers = _headers(msg_id, stamp, body, [secret], override={"webhook-signature": sig[3:]})
    elif kind == "bad-timestamp":
        headers = _headers(msg_id, stamp, body, [secret], override={"webhook-timestamp": "yesterday"})
    elif kind in ("stale-timestamp", "future-timestamp"):
        distance = int(tolerance) + offset
        stamp = stamp - distance if kind == "stale-timestamp" else stamp + distance
        headers = _headers(msg_id, stamp, body, [secret])
        detail = f"{distance}s old" if kind == "stale-timestamp" else f"{distance}s ahead"
    else:
        raise ValueError(f"kind={kind!r} is not a header attack; use one of {', '.join(HEADER_ATTACKS)}")
    return Delivery(label=kind, expect="reject-401", body=body, headers=headers,
                    event_type=_type(event), detail=detail)


def body_attack(kind: str, event: Event, secret: SigningSecret, *, now: float,
                variant: int = 0, size: int = (1 << 20) + 1) -> Delivery:
    """A genuinely signed delivery whose body is odd; see the module docstring for answers.

    ``variant`` picks among a kind's forms (which non-object, which broken JSON);
    ``size`` is the body size of ``oversized``.
    """
    event = renamed(event, f"{kind}/{variant}")
    msg_id = _msg_id(event)
    kind_of = _type(event)
    expect: Expect = "accept-or-reject"
    detail: str | None = None
    if kind == "unknown-type":
        changed = copy.deepcopy(event)
        changed["type"] = "secret.exploded"
        body, kind_of, expect = _body(changed), "secret.exploded", "acknowledge"
    elif kind == "content-type":
        body = _body(event)
        return Delivery(label=kind, expect="accept-or-415", body=body,
                        headers=_headers(msg_id, int(now), body, [secret],
                                         override={"content-type": "text/plain; charset=utf-8"}),
                        event_type=kind_of, detail="content-type: text/plain")
    elif kind == "not-json":
        whole = _body(event)
        broken = (whole[: len(whole) // 2], b"", b'{"type": "\xff\xfe"}', b"{'type': 'single-quoted'}")
        body, expect = broken[variant % len(broken)], "reject-400"
        detail = ("truncated", "empty", "invalid utf-8", "python repr")[variant % len(broken)]
    elif kind == "not-object":
        forms: tuple[Any, ...] = ([event], None, "secret.used", 42, [])
        body, expect = _body(forms[variant % len(forms)]), "reject-400"
        detail = ("array of events", "null", "string", "number", "empty array")[variant % len(forms)]
    elif kind == "oversized":
        changed = copy.deepcopy(event)
        changed["x_chestsim_padding"] = ""
        pad = max(0, size - len(_body(changed)))
        changed["x_chestsim_padding"] = "x" * pad
        body, detail = _body(changed), f"{size} bytes"
    elif kind == "deep-nesting":
        depth = 50_000
        whole = _body(event)
        body = whole[:-1] + b',"x_chestsim_deep":' + b"[" * depth + b"]" * depth + b"}"
        detail = f"{depth} nested arrays"
    else:
        raise ValueError(f"kind={kind!r} is not a body attack; use one of {', '.join(BODY_ATTACKS)}")
    return signed(body, secret, msg_id=msg_id, now=now, label=kind, expect=expect,
                  event_type=kind_of, detail=detail)


def field_targets(event: Event) -> list[Slot]:
    """The values a field attack may remove or retype: required ones, in document order."""
    return [s for s in slots(event) if s.required]


def field_attack(kind: str, event: Event, target: Slot, secret: SigningSecret, *, now: float,
                 strict: bool = False) -> Delivery:
    """``missing-field`` or ``wrong-type`` at ``target`` (a slot of ``event``), genuinely signed.

    Without ``/type`` or ``/data`` a listener cannot route: ``reject-400``. Deeper, a
    listener may validate (4xx) or not (2xx) unless ``strict``, but it must not crash.
    """
    msg_id = _msg_id(renamed(event, f"{kind}{target.pointer}"))
    changed = copy.deepcopy(event)
    if target.path != ("id",):
        changed["id"] = msg_id
    parent: Any = changed
    for part in target.path[:-1]:
        parent = parent[part]
    last = target.path[-1]
    if kind == "missing-field":
        del parent[last]
    elif kind == "wrong-type":
        parent[last] = _WRONG_VALUES.get(target.kind, _WRONG_VALUES[None])
    else:
        raise ValueError(f"kind={kind!r} is not a field attack; use missing-field or wrong-type")
    routing = target.path in _ROUTING
    expect: Expect = "reject-400" if routing or strict else "accept-or-reject"
    return signed(_body(changed), secret, msg_id=msg_id, now=now, label=kind,
                  expect=expect, event_type=_type(event), detail=target.pointer)


def sequence(kind: str, events: Sequence[Event], secret: SigningSecret, *, now: float,
             order: Sequence[int] | None = None, repeat: int = 0) -> list[Delivery]:
    """Several deliveries: ``duplicate`` (event ``repeat`` delivered again, later, with the
    same ``webhook-id`` and a fresh signature, as a retry) or ``reordered`` (``order``)."""
    if kind == "duplicate":
        out = [valid(e, secret, now=now) for e in events]
        again = events[repeat % len(events)]
        out.append(valid(again, secret, now=now + 1, label="duplicate"))
        return out
    if kind == "reordered":
        picks = list(order) if order is not None else list(range(len(events)))[::-1]
        return [signed(_body(events[i]), secret, msg_id=_msg_id(events[i]), now=now,
                       label="reordered", expect="accept-or-reject", event_type=_type(events[i]),
                       detail=f"position {pos} of {len(picks)}, was {i}")
                for pos, i in enumerate(picks)]
    raise ValueError(f"kind={kind!r} is not a sequence kind; use duplicate or reordered")


def hostile_suite(events: Sequence[Event], *, secret: str | SigningSecret, now: float | None = None,
                  tolerance: float = 300, strict: bool = False, oversized: int = (1 << 20) + 1,
                  only: Sequence[str] = (), skip: Sequence[str] = ()) -> list[Delivery]:
    """Every hostile kind, every form, and every field attack on each of ``events``, plus the
    accepted variations (rotation, extra fields…): a deterministic table, for one plain test.

    ``only`` and ``skip`` pick by label (``stale-timestamp``) or section (``authenticity``,
    ``robustness``, ``accepts``), as ``chestsim certify --only/--skip`` does.

    >>> from simulator import SigningSecret, lookup
    >>> suite = hostile_suite([lookup("user.created").examples[0]],
    ...                       secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    >>> sorted({d.expect for d in suite})
    ['accept', 'accept-or-415', 'accept-or-reject', 'acknowledge', 'reject-400', 'reject-401']
    >>> len(hostile_suite([lookup("user.created").examples[0]], only=["authenticity"],
    ...                   skip=["stale-timestamp"], secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
    12
    """
    if isinstance(secret, str):
        secret = SigningSecret(secret)
    labels = ACCEPTED_VARIATIONS + HOSTILE_KINDS
    keep = set(selected(labels, only=only, skip=skip))
    now = time.time() if now is None else now
    out: list[Delivery] = []
    for event in events:
        out.append(rotation(event, secret, now=now))
        out.append(extra_fields(event, secret, now=now))
        out.append(reformatted(event, secret, now=now))
        out.append(recent(event, secret, now=now, age=recent_age(tolerance)))
        out.extend(header_attack(kind, event, secret, now=now, tolerance=tolerance)
                   for kind in HEADER_ATTACKS)
        for kind in BODY_ATTACKS:
            out.extend(body_attack(kind, event, secret, now=now, variant=v, size=oversized)
                       for v in range(VARIANTS.get(kind, 1)))
        for target in field_targets(event):
            out.extend(field_attack(kind, event, target, secret, now=now, strict=strict)
                       for kind in FIELD_ATTACKS)
    return [d for d in out if d.label in keep]


def recent_age(tolerance: float) -> float:
    """How old ``recent-timestamp`` is: 4 minutes under the usual 5, well inside any other."""
    return tolerance - 60 if tolerance >= 180 else tolerance * 0.6
