"""The summary of a run: delivered, retried, dead-lettered; per type and endpoint; latency percentiles.

>>> stats = Stats()
>>> stats.delivered("secret.used", "a", attempts=1, latency=0.004)
>>> stats.report(seconds=1.0).delivered
1
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Report", "Stats"]


def percentile(sorted_values: Any, q: float) -> float | None:
    """Nearest-rank percentile of already sorted values (``q`` in 0..100)."""
    n = len(sorted_values)
    if not n:
        return None
    rank = max(1, math.ceil(q / 100 * n))
    return float(sorted_values[rank - 1])


@dataclass(frozen=True, slots=True)
class Report:
    """What a ``send``, ``resume`` or ``replay`` did. ``to_dict()`` is the ``--format json`` form."""

    events: int
    deliveries: int
    delivered: int
    dead_lettered: int
    retried: int
    attempts: int
    skipped: int
    unrouted: int
    seconds: float
    latency_ms: dict[str, float | None]
    per_type: dict[str, dict[str, int]] = field(default_factory=dict)
    per_endpoint: dict[str, dict[str, int]] = field(default_factory=dict)
    dead_reasons: dict[str, int] = field(default_factory=dict)
    disabled_endpoints: dict[str, str] = field(default_factory=dict)
    journal: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every delivery ended delivered."""
        return self.dead_lettered == 0 and self.delivered == self.deliveries

    @property
    def rate(self) -> float:
        """Deliveries per second."""
        return self.delivered / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events, "deliveries": self.deliveries, "delivered": self.delivered,
            "dead_lettered": self.dead_lettered, "retried": self.retried, "attempts": self.attempts,
            "skipped": self.skipped, "unrouted": self.unrouted, "seconds": round(self.seconds, 3),
            "rate_per_s": round(self.rate, 1), "latency_ms": self.latency_ms,
            "per_type": self.per_type, "per_endpoint": self.per_endpoint,
            "dead_reasons": self.dead_reasons, "disabled_endpoints": self.disabled_endpoints,
            "journal": self.journal, "notes": list(self.notes),
        }

    def render(self) -> str:
        """The text summary printed at the end of ``chestsim send``."""
        lat = self.latency_ms

        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v:.1f}"

        lines = [
            f"events {self.events:,}  deliveries {self.deliveries:,}  delivered {self.delivered:,}  "
            f"retried {self.retried:,}  dead-lettered {self.dead_lettered:,}  attempts {self.attempts:,}",
            f"{self.seconds:.2f}s  {self.rate:,.0f} deliveries/s  latency ms p50 {ms(lat['p50'])}  "
            f"p95 {ms(lat['p95'])}  p99 {ms(lat['p99'])}",
        ]
        if self.skipped or self.unrouted:
            lines.append(f"skipped by --events {self.skipped:,}  with no subscribed endpoint {self.unrouted:,}")
        if self.per_endpoint:
            lines.append("per endpoint:")
            for name, c in self.per_endpoint.items():
                lines.append(f"  {name}: delivered {c.get('delivered', 0):,}  retried {c.get('retried', 0):,}  "
                             f"dead {c.get('dead', 0):,}")
        if self.per_type:
            lines.append("per type:")
            for name, c in sorted(self.per_type.items()):
                lines.append(f"  {name}: delivered {c.get('delivered', 0):,}  dead {c.get('dead', 0):,}")
        for reason, count in sorted(self.dead_reasons.items(), key=lambda kv: -kv[1]):
            lines.append(f"dead-lettered {count:,}: {reason}")
        for name, why in self.disabled_endpoints.items():
            lines.append(f"endpoint disabled: {name}: {why}")
        if self.journal:
            lines.append(f"journal: {self.journal}")
        lines.extend(self.notes)
        return "\n".join(lines)


class Stats:
    """Counters a run updates as it goes; ``report()`` freezes them."""

    def __init__(self) -> None:
        self.events = 0
        self.deliveries = 0
        self.attempts = 0
        self.retried = 0
        self.skipped = 0
        self.unrouted = 0
        self.latencies = array("d")
        self.by_type: dict[str, Counter[str]] = {}
        self.by_endpoint: dict[str, Counter[str]] = {}
        self.dead_reasons: Counter[str] = Counter()
        self.disabled: dict[str, str] = {}
        self.done = 0
        self.delivered_count = 0
        self.dead_count = 0

    def _count(self, kind: str, endpoint: str, what: str) -> None:
        # Counted per delivery: look the counters up, and build one only for a new name.
        by_type = self.by_type.get(kind)
        if by_type is None:
            by_type = self.by_type[kind] = Counter()
        by_type[what] += 1
        by_endpoint = self.by_endpoint.get(endpoint)
        if by_endpoint is None:
            by_endpoint = self.by_endpoint[endpoint] = Counter()
        by_endpoint[what] += 1

    def delivered(self, kind: str, endpoint: str, *, attempts: int, latency: float) -> None:
        self.done += 1
        self.delivered_count += 1
        if attempts > 1:
            self.retried += 1
            self.by_endpoint.setdefault(endpoint, Counter())["retried"] += 1
        self._count(kind, endpoint, "delivered")

    def dead(self, kind: str, endpoint: str, *, attempts: int, reason: str) -> None:
        self.done += 1
        self.dead_count += 1
        if attempts > 1:
            self.retried += 1
            self.by_endpoint.setdefault(endpoint, Counter())["retried"] += 1
        self._count(kind, endpoint, "dead")
        self.dead_reasons[reason] += 1

    def report(self, *, seconds: float, journal: str | None = None, notes: tuple[str, ...] = ()) -> Report:
        ordered = sorted(self.latencies)
        latency = {f"p{q}": (None if (v := percentile(ordered, q)) is None else round(v * 1000, 3))
                   for q in (50, 95, 99)}
        return Report(
            events=self.events, deliveries=self.deliveries, delivered=self.delivered_count,
            dead_lettered=self.dead_count, retried=self.retried, attempts=self.attempts,
            skipped=self.skipped, unrouted=self.unrouted, seconds=seconds, latency_ms=latency,
            per_type={k: dict(v) for k, v in self.by_type.items()},
            per_endpoint={k: dict(v) for k, v in self.by_endpoint.items()},
            dead_reasons=dict(self.dead_reasons), disabled_endpoints=dict(self.disabled),
            journal=journal, notes=notes)
