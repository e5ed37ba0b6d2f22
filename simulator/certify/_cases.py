"""The cases of ``chestsim certify``: what is sent, in which order, and what each one owes.

A case is one or two ``Delivery`` objects (built by ``simulator.testing``'s builders, signed
by the one signer) with the answer owed, a one-line hint for a failure, and whether it is
hostile (then a genuine delivery follows it, to check that the listener is still alive).
Timing, load and transport cases are measured rather than sent one by one: the plan says
how many requests they take.

```
accepts       every event type, minimal and full payloads; extra fields; a rotation header
              (one stale, one valid signature); reformatted JSON; a timestamp 4 minutes old
authenticity  every header attack (+ missing and wrong token when a token is given)
robustness    not JSON, not an object, deep nesting, > 1 MiB, no type / data, content type,
              an unknown event type
idempotency   the same webhook-id again at once, and after a pause
timing        p50 / p95 / p99 of a burst at concurrency 16, and every answer 2xx (p99 past
              --max-latency warns; anything past 15 s fails, since senders time out there)
load          (profile load) a Select-all firehose at --rate for --duration
transport     scheme; for https: certificate, TLS version, expiry
```

>>> plan = make_plan(secret=SigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), now=1.8e9)
>>> len([c for c in plan.cases if c.section == "accepts"])
52
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from simulator._catalog import CATALOG, lookup
from simulator._signing import SigningSecret
from simulator._types import Event
from simulator.testing import _hostile as hostile
from simulator.testing._delivery import EXPECTATIONS, Delivery

__all__ = ["HARD_TIMEOUT", "PROFILES", "SECTIONS", "Case", "Plan", "Profile", "Settings", "make_plan"]

#: Senders give up on an answer after 15 s: past it a listener fails whatever --max-latency says.
HARD_TIMEOUT = 15.0

Profile = Literal["quick", "standard", "load"]
PROFILES: tuple[Profile, ...] = ("quick", "standard", "load")
#: The sections of a report card, in order.
SECTIONS = ("accepts", "authenticity", "robustness", "idempotency", "timing", "load", "transport")

#: Ids of the measured cases (no deliveries of their own).
TIMING_CASES = ("timing/acknowledged", "timing/p50", "timing/p95", "timing/p99")
LOAD_CASES = ("load/no-5xx", "load/no-errors", "load/throughput", "load/latency")
TRANSPORT_CASES = ("transport/scheme", "transport/certificate", "transport/tls-version", "transport/expiry")

_SIGN = ("verify webhook-signature over 'webhook-id.webhook-timestamp.body' with the endpoint's "
         "secret before anything else, and answer 401")
HINTS: dict[str, str] = {
    "accepts": "answer 2xx to every genuine delivery, whatever its type; queue the work if need be",
    "rotation": "accept when any one of the space-separated v1 signatures matches",
    "extra-fields": "ignore fields you do not know: newer producers add them",
    "reformatted": "compare the signature over the raw body, before parsing",
    "recent-timestamp": "allow the tolerance (5 minutes) both ways: a retry may arrive minutes late",
    "missing-signature": _SIGN,
    "empty-signature": _SIGN,
    "garbage-signature": _SIGN,
    "unprefixed-signature": "accept only 'v1,<base64>' signatures; " + _SIGN,
    "crashed-verifying": ("treat any error while verifying (bad base64, no comma, a body that does not "
                          "decode) as a failed signature: 401, never a 500"),
    "unknown-scheme": "accept only v1 signatures and ignore other schemes",
    "wrong-secret": _SIGN,
    "tampered-body": "compare the signature over the raw body you received",
    "tampered-id": "sign-check with the webhook-id header you received; it is part of the signed content",
    "missing-id": "refuse a request without webhook-id (401)",
    "missing-timestamp": "refuse a request without webhook-timestamp (401)",
    "bad-timestamp": "refuse a webhook-timestamp that is not unix seconds (401)",
    "stale-timestamp": "refuse webhook-timestamp more than the tolerance in the past: it stops replays",
    "future-timestamp": "refuse webhook-timestamp more than the tolerance in the future",
    "missing-token": "refuse a request without the endpoint's bearer token (401)",
    "wrong-token": "compare the bearer token in constant time and refuse another (401)",
    "not-json": "parse after verifying; answer 400 to a body that is not JSON, never a 500",
    "not-object": "answer 400 to JSON that is not an object with 'type' and 'data'",
    "deep-nesting": "catch the parser's recursion error (or cap the depth) and answer 400",
    "oversized": "cap the body size (answer 413) before reading it all",
    "missing-field": "answer 400 when 'type' or 'data' is missing or of the wrong type",
    "content-type": "read the body as JSON whatever the content-type, or answer 415",
    "unknown-type": "acknowledge (2xx) event types you do not handle; refusing them makes senders retry",
    "idempotency": "remember webhook-id and answer 2xx to a redelivery without processing it again (never 409)",
    "alive": "a hostile request must never take the listener down; answer it and carry on",
    "slow": "answer hostile input within --max-latency; refuse early, before heavy work",
    "timing": "acknowledge fast: queue the work and answer 2xx before processing it",
    "load": "keep up with a firehose: acknowledge before processing, and size the server for bursts",
    "transport": "serve webhooks over https with a valid certificate (TLS 1.2 or later)",
}


@dataclass(frozen=True, slots=True)
class Settings:
    """How one certification runs; the CLI's flags, as a library caller gives them.

    >>> Settings()
    Settings(profile='quick', tolerance=300.0, max_latency=2.0, rate=100.0)
    """

    profile: Profile = "quick"
    tolerance: float = 300.0
    max_latency: float = 2.0
    rate: float = 100.0
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    #: Seconds between a delivery and its redelivery (``idempotency/after-pause``); None: the profile's.
    pause: float | None = None
    #: Events in the timing burst; None: the profile's (quick 32, standard and load 300).
    burst: int | None = None
    concurrency: int = 16
    #: How long the load profile's firehose runs.
    duration: float = 30.0
    #: Seed of the run's webhook ids; None: a fresh one (ids must not repeat across runs).
    seed: int | None = None
    oversized: int = (1 << 20) + 1
    #: Seconds to wait for one answer: senders give up at 15 (tests lower it to meet a hung listener fast).
    timeout: float = HARD_TIMEOUT

    def __post_init__(self) -> None:
        for name in ("tolerance", "max_latency", "rate", "timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}={getattr(self, name)!r} must be a positive number")
        if self.profile not in PROFILES:
            raise ValueError(f"profile={self.profile!r}: use one of {', '.join(PROFILES)}")

    def __repr__(self) -> str:
        return (f"Settings(profile={self.profile!r}, tolerance={self.tolerance!r}, "
                f"max_latency={self.max_latency!r}, rate={self.rate!r})")

    @property
    def burst_size(self) -> int:
        return self.burst if self.burst is not None else (32 if self.profile == "quick" else 300)

    @property
    def pause_seconds(self) -> float:
        return self.pause if self.pause is not None else (1.0 if self.profile == "quick" else 5.0)

    @property
    def load_requests(self) -> int:
        return int(self.rate * self.duration) if self.profile == "load" else 0


@dataclass(frozen=True, slots=True)
class Case:
    """One graded case: its deliveries in order, the answer owed, and a hint for a failure."""

    id: str
    section: str
    owed: str
    hint: str
    deliveries: tuple[Delivery, ...] = ()
    #: A genuine delivery follows it: the listener must still accept one.
    hostile: bool = False
    #: Seconds to wait before the last delivery (a redelivery after a pause).
    pause: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.deliveries) + (1 if self.hostile else 0)


@dataclass(frozen=True, slots=True)
class Plan:
    """The selected cases and what the measured ones will send."""

    cases: tuple[Case, ...]
    burst: int
    load: int
    nonce: str
    #: A genuine event to sign afresh for each liveness check and burst delivery.
    live_events: tuple[Event, ...] = field(default=(), repr=False)

    @property
    def requests(self) -> int:
        """How many requests the run sends at most (fewer when the listener stops answering)."""
        return sum(c.requests for c in self.cases) + self.burst + self.load

    def ids(self) -> list[str]:
        return [c.id for c in self.cases]


def _examples(key: str) -> dict[str, Event]:
    """The type's shipped examples by name: ``minimal`` and ``full``."""
    folder = lookup(key).schema_path.parent.parent / "examples" / key
    names = sorted(p.stem for p in folder.glob("*.json"))
    return dict(zip(names, lookup(key).examples, strict=True))


def _owed(expect: str) -> str:
    return EXPECTATIONS[expect]


def _hint(delivery: Delivery) -> str:
    return HINTS.get(delivery.label, HINTS["accepts"])


def make_plan(*, secret: SigningSecret, now: float, settings: Settings | None = None,
              token: str | None = None, https: bool = False, select: bool = True) -> Plan:
    """The cases of one run, signed at ``now``, narrowed by ``settings.only``/``skip``.

    Raises ``ValueError`` naming an ``--only``/``--skip`` value that picks nothing.
    """
    settings = settings or Settings()
    rng = random.Random(settings.seed)
    nonce = "".join(rng.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(10))
    cases: list[Case] = []

    def event(key: str, variant: str, tag: str) -> Event:
        return hostile.renamed(_examples(key)[variant], f"{nonce}/{tag}")

    for etype in CATALOG:
        for variant in ("minimal", "full"):
            d = hostile.valid(event(etype.key, variant, f"accepts/{etype.key}/{variant}"), secret, now=now,
                              label=f"{etype.key}/{variant}")
            cases.append(Case(f"accepts/{etype.key}/{variant}", "accepts", _owed("accept"),
                              HINTS["accepts"], (d,)))
    base = event("secret.used", "full", "base")
    for d in (hostile.extra_fields(base, secret, now=now), hostile.rotation(base, secret, now=now),
              hostile.reformatted(base, secret, now=now),
              hostile.recent(base, secret, now=now, age=hostile.recent_age(settings.tolerance))):
        cases.append(Case(f"accepts/{d.label}", "accepts", _owed(d.expect), _hint(d), (d,)))

    attack = event("user.created", "full", "authenticity")
    for kind in hostile.HEADER_ATTACKS:
        d = hostile.header_attack(kind, attack, secret, now=now, tolerance=settings.tolerance)
        cases.append(Case(f"authenticity/{kind}", "authenticity", _owed(d.expect), _hint(d), (d,), hostile=True))
    if token is not None:
        for kind in ("missing-token", "wrong-token"):
            d = hostile.valid(event("user.created", "minimal", kind), secret, now=now, label=kind)
            d = Delivery(label=kind, expect="reject-401", body=d.body, headers=d.headers,
                         event_type=d.event_type, detail=kind.replace("-", " "))
            cases.append(Case(f"authenticity/{kind}", "authenticity", _owed(d.expect), _hint(d), (d,),
                              hostile=True))

    odd = event("secret.used", "full", "robustness")
    for kind in ("not-json", "not-object", "deep-nesting", "oversized"):
        for form in range(hostile.VARIANTS.get(kind, 1)):
            d = hostile.body_attack(kind, odd, secret, now=now, variant=form, size=settings.oversized)
            suffix = f"/{_slug(d.detail)}" if kind in hostile.VARIANTS else ""
            cases.append(Case(f"robustness/{kind}{suffix}", "robustness", _owed(d.expect), _hint(d), (d,),
                              hostile=True))
    for target in hostile.field_targets(odd):
        if target.pointer in ("/type", "/data"):
            d = hostile.field_attack("missing-field", odd, target, secret, now=now)
            cases.append(Case(f"robustness/missing-{target.pointer[1:]}", "robustness", _owed(d.expect),
                              _hint(d), (d,), hostile=True))
    for kind in ("content-type", "unknown-type"):
        d = hostile.body_attack(kind, odd, secret, now=now)
        cases.append(Case(f"robustness/{kind}", "robustness", _owed(d.expect), _hint(d), (d,), hostile=True))

    pause = settings.pause_seconds
    for name, wait in (("at-once", 0.0), ("after-pause", pause)):
        again = event("secret.used", "minimal", f"idempotency/{name}")
        first = hostile.valid(again, secret, now=now, label=f"first ({name})")
        second = hostile.valid(again, secret, now=now + wait, label=f"again ({name})")
        cases.append(Case(f"idempotency/{name}", "idempotency", "2xx each time", HINTS["idempotency"],
                          (first, second), pause=wait))

    cases.extend(Case(cid, "timing", _timing_owed(cid, settings), HINTS["timing"]) for cid in TIMING_CASES)
    if settings.profile == "load":
        cases.extend(Case(cid, "load", _load_owed(cid, settings), HINTS["load"]) for cid in LOAD_CASES)
    transport = TRANSPORT_CASES if https else TRANSPORT_CASES[:1]
    cases.extend(Case(cid, "transport", _transport_owed(cid), HINTS["transport"]) for cid in transport)

    if select:
        keep = set(hostile.selected([c.id for c in cases], only=settings.only, skip=settings.skip))
        cases = [c for c in cases if c.id in keep]
    timing = any(c.section == "timing" for c in cases)
    load = any(c.section == "load" for c in cases)
    live = tuple(_examples(k.key)["full"] for k in CATALOG)
    return Plan(cases=tuple(cases), burst=settings.burst_size if timing else 0,
                load=settings.load_requests if load else 0, nonce=nonce, live_events=live)


def _slug(text: str | None) -> str:
    return "-".join((text or "").replace("-", " ").split())


def _timing_owed(cid: str, settings: Settings) -> str:
    if cid == "timing/acknowledged":
        return "2xx to every delivery of the burst"
    return f"≤ {settings.max_latency:g}s (--max-latency)"


def _load_owed(cid: str, settings: Settings) -> str:
    return {
        "load/no-5xx": "no 5xx",
        "load/no-errors": "no resets, no timeouts",
        "load/throughput": f"≥ 90% of {settings.rate:g}/s acknowledged",
        "load/latency": f"p99 ≤ {settings.max_latency:g}s",
    }[cid]


def _transport_owed(cid: str) -> str:
    return {
        "transport/scheme": "https (http only on loopback)",
        "transport/certificate": "a trusted chain naming the host",
        "transport/tls-version": "TLS 1.2 or later",
        "transport/expiry": "more than 14 days left",
    }[cid]

