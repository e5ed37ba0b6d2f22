"""Seeded fault injection: make the listener misbehave the way real receivers do.

A ``FaultRule`` says how often to fail (5xx), drop the connection, hang, how
slow to answer, how fast to rate-limit (429) and when to go away (410), for a
set of event types or for every request. Draws are a hash of the seed, the
``webhook-id`` and the attempt number, so a run is reproducible whatever the
arrival order, and a retry of the same delivery gets a fresh draw.

>>> rule = FaultRule(fail_rate=1.0, fail_statuses=(503,))
>>> injector = FaultInjector([rule], seed=7)
>>> injector.decide(event_type="secret.used", key="evt_1", attempt=1).fault
'fail'
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from simulator._catalog import expand_event_types
from simulator._exceptions import UsageError
from simulator._units import parse_duration, parse_fraction, parse_rate

__all__ = ["FaultDecision", "FaultInjector", "FaultRule", "Latency", "load_rules", "parse_statuses"]

FAIL = "fail"
DROP = "drop"
HANG = "hang"
RATE_LIMIT = "rate-limit"
GONE = "gone"


@dataclass(frozen=True, slots=True)
class Latency:
    """Added response latency in seconds: fixed (``low == high``) or uniform in ``[low, high]``.

    >>> Latency.parse("10ms..300ms")
    Latency(low=0.01, high=0.3)
    >>> Latency.parse("50ms").draw(0.5)
    0.05
    """

    low: float
    high: float

    @classmethod
    def parse(cls, text: str, *, option: str = "--latency") -> Latency:
        """``50ms`` (fixed) or ``10ms..300ms`` (uniform)."""
        low_text, sep, high_text = str(text).partition("..")
        if not sep:
            value = parse_duration(low_text, option=option)
            return cls(value, value)
        if not low_text.strip() or not high_text.strip():
            raise UsageError(f"{option}={text!r} must be a duration like 50ms or a range like 10ms..300ms")
        low = parse_duration(low_text, option=option)
        high = parse_duration(high_text, option=option)
        if high < low:
            raise UsageError(f"{option}={text!r} has its upper bound below its lower bound; write it low..high")
        return cls(low, high)

    def draw(self, u: float) -> float:
        """The latency for a uniform draw ``u`` in ``[0, 1)``."""
        return self.low + (self.high - self.low) * u

    def __str__(self) -> str:
        if self.low == self.high:
            return f"{self.low * 1000:g}ms"
        return f"{self.low * 1000:g}ms..{self.high * 1000:g}ms"


def parse_statuses(text: str | Iterable[int], *, option: str = "--fail-status") -> tuple[int, ...]:
    """HTTP statuses from ``500,503`` (each 400–599, at least one).

    >>> parse_statuses("500, 503")
    (500, 503)
    """
    parts: list[str] = (re.split(r"[,\s]+", text.strip()) if isinstance(text, str)
                        else [str(p) for p in text])
    out: list[int] = []
    for part in parts:
        if not part:
            continue
        if not part.isdigit() or not 400 <= int(part) <= 599:
            raise UsageError(f"{option}={text!r} must list HTTP error statuses between 400 and 599, "
                             "like 500,503")
        out.append(int(part))
    if not out:
        raise UsageError(f"{option}={text!r} must list at least one status, like 500,503")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One fault profile, scoped to some event types (``event_types=None``: every request).

    Rates are probabilities per request; ``rate_limit`` is requests per second
    above which the listener answers 429 with ``Retry-After``; ``gone_after`` is
    the number of acknowledged requests after which it answers 410 for good.

    >>> FaultRule(fail_rate=0.2, fail_statuses=(500, 503), event_types=frozenset({"secret.used"}))
    FaultRule(fail_rate=0.2, fail_statuses=(500, 503), latency=None, drop_rate=0.0, hang_rate=0.0, rate_limit=None, gone_after=None, event_types=frozenset({'secret.used'}))
    """

    fail_rate: float = 0.0
    fail_statuses: tuple[int, ...] = (500,)
    latency: Latency | None = None
    drop_rate: float = 0.0
    hang_rate: float = 0.0
    rate_limit: float | None = None
    gone_after: int | None = None
    event_types: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for name in ("fail_rate", "drop_rate", "hang_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"--{name.replace('_', '-')}={value!r} must be a fraction between 0 and 1, "
                                 "like 0.2 or 20%")
        if self.fail_rate + self.drop_rate + self.hang_rate > 1.0 + 1e-9:
            raise UsageError(
                f"--fail-rate, --drop-rate and --hang-rate add up to "
                f"{self.fail_rate + self.drop_rate + self.hang_rate:g}; together they must not exceed 1")
        parse_statuses(self.fail_statuses)
        if self.rate_limit is not None and not self.rate_limit > 0:
            raise UsageError(f"--rate-limit={self.rate_limit!r} must be a positive rate, like 50/s")
        if self.gone_after is not None and self.gone_after < 0:
            raise UsageError(f"--gone-after={self.gone_after!r} must be a whole number ≥ 0")
        if self.event_types is not None:
            # Accept labels and "all" here too; store catalog keys.
            keys = frozenset(t.key for t in expand_event_types(sorted(self.event_types)))
            object.__setattr__(self, "event_types", keys)

    @property
    def active(self) -> bool:
        """Whether this rule can change any answer."""
        return bool(self.fail_rate or self.drop_rate or self.hang_rate or self.latency
                    or self.rate_limit is not None or self.gone_after is not None)

    def applies_to(self, event_type: str | None) -> bool:
        """Whether a request of this type (None: not parsable) is in scope."""
        return self.event_types is None or event_type in self.event_types

    def describe(self) -> str:
        """A short human line, e.g. ``fail 20% (500,503), latency 50ms``."""
        parts = []
        if self.fail_rate:
            parts.append(f"fail {self.fail_rate:.0%} ({','.join(map(str, self.fail_statuses))})")
        if self.drop_rate:
            parts.append(f"drop {self.drop_rate:.0%}")
        if self.hang_rate:
            parts.append(f"hang {self.hang_rate:.0%}")
        if self.latency:
            parts.append(f"latency {self.latency}")
        if self.rate_limit is not None:
            parts.append(f"rate limit {self.rate_limit:g}/s")
        if self.gone_after is not None:
            parts.append(f"410 after {self.gone_after}")
        scope = "every type" if self.event_types is None else ", ".join(sorted(self.event_types))
        return f"{', '.join(parts) or 'no faults'} [{scope}]"


_RULE_KEYS = ("fail_rate", "fail_status", "latency", "drop_rate", "hang_rate", "rate_limit", "gone_after",
              "event_types")


def load_rules(path: str | Path) -> tuple[FaultRule, ...]:
    """Fault rules from a JSON file: a list of objects with the keys of the ``--…`` flags.

    ``[{"fail_rate": 0.5, "fail_status": "503", "event_types": ["secret.used"]},
    {"latency": "10ms..50ms"}]``: half the ``secret.used`` deliveries fail, all are slow.
    """
    option = f"--faults={str(path)!r}"
    try:
        doc = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        raise UsageError(f"{option}: cannot read it ({exc.strerror or exc})") from None
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{option} is not JSON ({exc}); write a list of rule objects") from None
    if not isinstance(doc, list) or not all(isinstance(item, dict) for item in doc):
        raise UsageError(f"{option} must hold a JSON list of rule objects, like "
                         '[{"fail_rate": 0.2, "event_types": ["secret.used"]}]')
    rules = []
    for number, item in enumerate(doc, 1):
        where = f"{option} rule {number}"
        unknown = sorted(set(item) - set(_RULE_KEYS))
        if unknown:
            raise UsageError(f"{where}: unknown key {unknown[0]!r}; use {', '.join(_RULE_KEYS)}")
        try:
            types = item.get("event_types")
            rules.append(FaultRule(
                fail_rate=parse_fraction(item.get("fail_rate", 0), option="fail_rate"),
                fail_statuses=parse_statuses(str(item.get("fail_status", "500")), option="fail_status"),
                latency=Latency.parse(str(item["latency"]), option="latency") if item.get("latency") else None,
                drop_rate=parse_fraction(item.get("drop_rate", 0), option="drop_rate"),
                hang_rate=parse_fraction(item.get("hang_rate", 0), option="hang_rate"),
                rate_limit=parse_rate(item["rate_limit"], option="rate_limit") if item.get("rate_limit") else None,
                gone_after=_count(item.get("gone_after")),
                event_types=frozenset([types] if isinstance(types, str) else types) if types else None,
            ))
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None
        except (TypeError, AttributeError, ValueError):
            raise UsageError(f"{where}: values must be numbers or strings like the flags take, "
                             "and event_types a list of names") from None
    return tuple(rules)


def _count(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UsageError(f"gone_after={value!r} must be a whole number ≥ 0")
    return value


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do with one request: a ``fault`` (None: answer normally) and a latency to add."""

    fault: str | None
    status: int | None = None
    latency: float = 0.0
    retry_after: int | None = None


_NONE = FaultDecision(None)
_SCALE = 1.0 / 2**64


def _draws(seed: int, index: int, key: str, attempt: int) -> tuple[float, float, float, float]:
    digest = hashlib.blake2b(f"{seed}:{index}:{key}:{attempt}".encode(), digest_size=32).digest()
    return tuple(int.from_bytes(digest[i:i + 8], "little") * _SCALE  # type: ignore[return-value]
                 for i in (0, 8, 16, 24))


class _Bucket:
    """A token bucket: ``rate`` per second, bursts up to ``max(1, rate)``."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = now

    def take(self, now: float) -> float:
        """0.0 if a token was taken, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class FaultInjector:
    """Decides, per request, which fault (if any) the listener plays.

    Faults other than latency only replace answers that would have been 2xx:
    a bad signature still gets its 401.
    """

    def __init__(self, rules: Sequence[FaultRule], *, seed: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rules = tuple(r for r in rules if r.active)
        self.seed = seed
        self._clock = clock
        now = clock()
        self._buckets = [_Bucket(r.rate_limit, now) if r.rate_limit is not None else None
                         for r in self.rules]
        self._acked = [0] * len(self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __repr__(self) -> str:
        return f"FaultInjector({list(self.rules)!r}, seed={self.seed!r})"

    def decide(self, *, event_type: str | None, key: str, attempt: int,
               would_succeed: bool = True) -> FaultDecision:
        """The decision for one request; ``key`` is its ``webhook-id`` (or a sequence number)."""
        latency = 0.0
        for index, rule in enumerate(self.rules):
            if not rule.applies_to(event_type):
                continue
            u_fault, u_status, u_latency, _ = _draws(self.seed, index, key, attempt)
            if rule.latency is not None and not latency:
                latency = rule.latency.draw(u_latency)
            if not would_succeed:
                continue
            if rule.gone_after is not None and self._acked[index] >= rule.gone_after:
                return FaultDecision(GONE, 410, latency)
            bucket = self._buckets[index]
            if bucket is not None:
                wait = bucket.take(self._clock())
                if wait:
                    return FaultDecision(RATE_LIMIT, 429, latency, max(1, math.ceil(wait)))
            if u_fault < rule.drop_rate:
                return FaultDecision(DROP, None, latency)
            if u_fault < rule.drop_rate + rule.hang_rate:
                return FaultDecision(HANG, None, latency)
            if u_fault < rule.drop_rate + rule.hang_rate + rule.fail_rate:
                status = rule.fail_statuses[int(u_status * len(rule.fail_statuses))]
                return FaultDecision(FAIL, status, latency)
        if would_succeed:
            for index, rule in enumerate(self.rules):
                if rule.gone_after is not None and rule.applies_to(event_type):
                    self._acked[index] += 1
        return FaultDecision(None, None, latency) if latency else _NONE
