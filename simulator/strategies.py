"""Hypothesis strategies for webhook listener tests: valid events and hostile deliveries.

Valid events come **realistic** (from the seeded tenant model, the seed drawn by
Hypothesis) or **edge-case** (a realistic event pushed into the schema's corners:
Unicode and longest names, optional fields left out, empty lists, lowest numbers,
timestamps without fraction). Deliveries are labelled ``Delivery`` objects; each
``expect`` says how a correct listener answers, and ``delivery.check(response)``
asserts it. Everything shrinks towards seed 0 and the first kind listed, so a
failure reads like ``Delivery(label='missing-signature', expect='reject-401', …)``.

>>> from hypothesis import given
>>> from simulator import strategies as cs
>>> @given(cs.deliveries(secret="whsec_Y2hlc3RzaW0tdGVzdC1zZWNyZXQtdjEh"))
... def test_listener_answers(delivery):
...     delivery.check(client.post("/webhooks", content=delivery.body,
...                                headers=delivery.header_dict))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - hypothesis ships with chestsim[testing]
    raise ImportError(
        "simulator.strategies needs Hypothesis: pip install 'chestsim[testing]' "
        "(or pip install hypothesis)"
    ) from exc

from simulator._catalog import CATALOG, lookup
from simulator._signing import SigningSecret
from simulator._types import Event
from simulator.testing import _edge, _hostile
from simulator.testing._delivery import Delivery
from simulator.testing._settings import TEST_SECRET

__all__ = [
    "HOSTILE_KINDS",
    "TENANT_SEEDS",
    "Delivery",
    "deliveries",
    "delivery_sequences",
    "edge_case_events",
    "event_types",
    "events",
    "hostile_deliveries",
    "realistic_events",
    "seeds",
    "valid_deliveries",
]

#: Tenant size behind realistic events: small keeps draws fast; the model stays consistent.
_USERS = 5
#: How many seeded tenants realistic events come from. A tenant takes ~50 ms to build and its
#: events are remembered, so a bounded pool keeps draws and shrinking fast; the variety that
#: finds bugs comes from the edge-case and hostile layers on top.
TENANT_SEEDS = 32
# The flagship type first, so that shrinking ends on it.
_ORDER = ("secret.used", *(t.key for t in CATALOG if t.key != "secret.used"))
_DEFAULT_TOLERANCE = 300.0
_OVERSIZED = (1 << 20) + 1  # one byte past the common 1 MiB limit

_Secret = str | SigningSecret
_Types = str | Sequence[str] | None


def _keys(types: _Types) -> tuple[str, ...]:
    if types is None:
        return _ORDER
    names = [types] if isinstance(types, str) else list(types)
    if not names:
        raise ValueError("types=[] names no event type; leave it out for all 24")
    return tuple(dict.fromkeys(lookup(n).key for n in names))


def _secret(secret: _Secret) -> SigningSecret:
    return secret if isinstance(secret, SigningSecret) else SigningSecret(secret)


def seeds() -> st.SearchStrategy[int]:
    """Seeds for the tenant model; they shrink to 0.

    >>> seeds().example() >= 0     # doctest: +SKIP
    True
    """
    return st.integers(min_value=0, max_value=2**32 - 1)


def event_types(types: _Types = None) -> st.SearchStrategy[str]:
    """Event type keys (all 24, or those named by key or label); they shrink to ``secret.used``."""
    return st.sampled_from(_keys(types))


@st.composite
def _realistic(draw: st.DrawFn, keys: tuple[str, ...], users: int) -> Event:
    from simulator.testing._events import events_of

    key = draw(st.sampled_from(keys))
    seed = draw(st.integers(min_value=0, max_value=TENANT_SEEDS - 1))
    return events_of(key, 1, seed=seed, users=users)[0]


def realistic_events(types: _Types = None, *, users: int = _USERS) -> st.SearchStrategy[Event]:
    """Events from a simulated tenant whose seed Hypothesis draws (one of ``TENANT_SEEDS``):
    ids, people, devices and shard maps that hang together, as Secret Chest would send them.

    >>> @given(realistic_events("secret.used"))      # doctest: +SKIP
    ... def test_used(event): assert event["data"]["device_ids"]
    """
    return _realistic(_keys(types), users)


def _text_value(kind: str) -> st.SearchStrategy[Any]:
    if kind == "unicode-text":
        # Letters, marks, digits, punctuation, symbols (emoji) and spaces; no control characters.
        return st.text(st.characters(categories=("L", "M", "N", "P", "S", "Zs")), min_size=1, max_size=40)
    if kind in ("longest-text", "shortest-text"):
        return st.sampled_from(("a", "é", "漢", "🔐", "\u05d0", "ß"))
    if kind == "odd-email":
        # ASCII only: the contract's "email" format is RFC 5321, not internationalized.
        return st.sampled_from(("a", "o'brien+webhooks", "First.Last", "x_y-z"))
    if kind == "time-precision":
        return st.booleans()
    return st.none()


@st.composite
def _edge_case(draw: st.DrawFn, keys: tuple[str, ...], users: int) -> Event:
    event = draw(_realistic(keys, users))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(_edge.EDGE_KINDS))
        places = _edge.targets(event, kind)
        if not places:
            continue
        place = draw(st.sampled_from(places))
        changed = _edge.apply(event, kind, place, draw(_text_value(kind)))
        # A change that breaks a semantic rule (a count that must match a list) is skipped.
        if not _edge.errors(changed):
            event = changed
    return event


def edge_case_events(types: _Types = None, *, users: int = _USERS) -> st.SearchStrategy[Event]:
    """Valid events in the schema's corners: Unicode and longest names, optional fields left
    out, empty optional lists, lowest numbers, timestamps with no or six fraction digits.

    >>> @given(edge_case_events())                   # doctest: +SKIP
    ... def test_parses(event): parse(event)
    """
    return _edge_case(_keys(types), users)


def events(types: _Types = None, *, users: int = _USERS) -> st.SearchStrategy[Event]:
    """Valid events, realistic or edge-case (realistic first when shrinking)."""
    return st.one_of(realistic_events(types, users=users), edge_case_events(types, users=users))


def _clock(now: Callable[[], float] | None) -> Callable[[], float]:
    return now or time.time


@st.composite
def _valid(draw: st.DrawFn, source: st.SearchStrategy[Event], secret: SigningSecret,
           now: Callable[[], float]) -> Delivery:
    event = draw(source)
    form = draw(st.sampled_from(("valid", "rotation", "extra-fields")))
    if form == "rotation":
        return _hostile.rotation(event, secret, now=now())
    if form == "extra-fields":
        return _hostile.extra_fields(event, secret, now=now())
    return _hostile.valid(event, secret, now=now())


def valid_deliveries(*, secret: _Secret = TEST_SECRET, types: _Types = None,
                     now: Callable[[], float] | None = None) -> st.SearchStrategy[Delivery]:
    """Deliveries a correct listener accepts (2xx): genuine ones, one good signature among
    two (a key rotation), unknown extra fields (a newer producer)."""
    return _valid(events(types), _secret(secret), _clock(now))


#: Every hostile kind ``hostile_deliveries`` draws (its ``kinds=`` picks among them).
HOSTILE_KINDS = _hostile.HOSTILE_KINDS


@st.composite
def _hostile_one(draw: st.DrawFn, source: st.SearchStrategy[Event], kinds: tuple[str, ...],
                 secret: SigningSecret, now: Callable[[], float], tolerance: float, strict: bool,
                 oversized: int) -> Delivery:
    kind = draw(st.sampled_from(kinds))
    event = draw(source)
    if kind in _hostile.HEADER_ATTACKS:
        offset = draw(st.integers(min_value=60, max_value=30 * 86_400))
        return _hostile.header_attack(kind, event, secret, now=now(), tolerance=tolerance, offset=offset)
    if kind in _hostile.FIELD_ATTACKS:
        target = draw(st.sampled_from(_hostile.field_targets(event)))
        return _hostile.field_attack(kind, event, target, secret, now=now(), strict=strict)
    variant = draw(st.integers(min_value=0, max_value=4))
    return _hostile.body_attack(kind, event, secret, now=now(), variant=variant, size=oversized)


def _kinds(kinds: Sequence[str] | None) -> tuple[str, ...]:
    if kinds is None:
        return HOSTILE_KINDS
    unknown = [k for k in kinds if k not in HOSTILE_KINDS]
    if unknown or not kinds:
        raise ValueError(f"kinds={list(kinds)!r}: use some of {', '.join(HOSTILE_KINDS)}")
    return tuple(dict.fromkeys(kinds))


def hostile_deliveries(*, secret: _Secret = TEST_SECRET, types: _Types = None,
                       kinds: Sequence[str] | None = None,
                       tolerance: float = _DEFAULT_TOLERANCE, strict: bool = False,
                       oversized: int = _OVERSIZED,
                       now: Callable[[], float] | None = None) -> st.SearchStrategy[Delivery]:
    """Deliveries a listener must refuse, or at least survive, each labelled with ``expect``.

    Bad or missing signatures and headers, stale or future timestamps (``tolerance`` is the
    listener's, in seconds) → ``reject-401``; bodies that are not a JSON object with a string
    ``type`` and an object ``data`` → ``reject-400``; unknown types, ``oversized``-byte bodies,
    deep nesting, and fields missing or of the wrong type inside ``data`` → ``accept-or-reject``
    (``reject-400`` when ``strict``: for listeners that validate payloads). ``kinds`` narrows
    the draw to some of ``HOSTILE_KINDS``.
    """
    return _hostile_one(events(types), _kinds(kinds), _secret(secret), _clock(now), tolerance,
                        strict, oversized)


def deliveries(*, secret: _Secret = TEST_SECRET, types: _Types = None,
               kinds: Sequence[str] | None = None,
               tolerance: float = _DEFAULT_TOLERANCE, strict: bool = False,
               oversized: int = _OVERSIZED,
               now: Callable[[], float] | None = None) -> st.SearchStrategy[Delivery]:
    """Hostile and valid deliveries mixed (hostile first when shrinking)."""
    return st.one_of(
        hostile_deliveries(secret=secret, types=types, kinds=kinds, tolerance=tolerance,
                           strict=strict, oversized=oversized, now=now),
        valid_deliveries(secret=secret, types=types, now=now),
    )


@st.composite
def _sequence(draw: st.DrawFn, keys: tuple[str, ...], secret: SigningSecret,
              now: Callable[[], float], min_size: int, max_size: int, users: int) -> list[Delivery]:
    from simulator.model import Tenant

    size = draw(st.integers(min_value=min_size, max_value=max_size))
    tenant = Tenant(seed=draw(seeds()), users=users)
    stream: list[Event] = []
    for _ in range(size):
        stream.extend(tenant.events_of(draw(st.sampled_from(keys)), 1))
    kind = draw(st.sampled_from(("duplicate", "reordered")))
    if kind == "duplicate":
        repeat = draw(st.integers(min_value=0, max_value=len(stream) - 1))
        return _hostile.sequence("duplicate", stream, secret, now=now(), repeat=repeat)
    order = draw(st.permutations(range(len(stream))))
    return _hostile.sequence("reordered", stream, secret, now=now(), order=order)


def delivery_sequences(*, secret: _Secret = TEST_SECRET, types: _Types = None,
                       min_size: int = 2, max_size: int = 5, users: int = _USERS,
                       now: Callable[[], float] | None = None) -> st.SearchStrategy[list[Delivery]]:
    """Consistent streams from one tenant, delivered with a duplicate (a retry with the same
    ``webhook-id``: accept it again, process it once) or out of order (never crash)."""
    if not 1 <= min_size <= max_size:
        raise ValueError(f"min_size={min_size!r}, max_size={max_size!r}: need 1 <= min_size <= max_size")
    return _sequence(_keys(types), _secret(secret), _clock(now), min_size, max_size, users)
