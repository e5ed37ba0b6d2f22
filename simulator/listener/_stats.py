"""What the listener counts while it runs: per type, verdict, status and fault, its own latency,
duplicates and out-of-order events.

``Tracker`` flags redeliveries and ordering; ``Stats`` counts. Both live on the
event loop and do a few dict operations per request.

>>> stats = Stats(clock=lambda: 0.0)
>>> stats.observe(status=204, verdict="valid", event_type="secret.used", webhook_id="evt_1",
...               duplicate=False, out_of_order=False, fault=None, seconds=0.0004, received_at=0.0)
>>> stats.snapshot()["by_verdict"]
{'valid': 1}
"""

from __future__ import annotations

import bisect
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

__all__ = ["Recent", "Stats", "Tracker"]


class Tracker:
    """Remembers the last ``capacity`` webhook-ids (attempts, acknowledged) and, per tenant,
    the newest envelope timestamp seen, to flag duplicates and out-of-order events.
    """

    def __init__(self, *, capacity: int = 1_000_000) -> None:
        self.capacity = capacity
        # webhook-id -> [attempts, acknowledged]
        self._ids: OrderedDict[str, list[int]] = OrderedDict()
        self._newest: dict[str, datetime] = {}

    def arrive(self, key: str) -> tuple[int, bool]:
        """Count one arrival of ``key``; return (attempt number, already acknowledged)."""
        entry = self._ids.get(key)
        if entry is None:
            self._ids[key] = [1, 0]
            if len(self._ids) > self.capacity:
                self._ids.popitem(last=False)
            return 1, False
        entry[0] += 1
        return entry[0], bool(entry[1])

    def acknowledge(self, key: str) -> None:
        """Note that ``key`` was answered 2xx."""
        entry = self._ids.get(key)
        if entry is not None:
            entry[1] = 1

    def out_of_order(self, tenant: str, timestamp: str) -> bool:
        """Whether ``timestamp`` is older than the newest seen for ``tenant`` (then remembered)."""
        try:
            when = datetime.fromisoformat(timestamp)
        except (TypeError, ValueError):
            return False
        newest = self._newest.get(tenant)
        try:
            if newest is not None and when < newest:
                return True
        except TypeError:  # naive against aware: the validator reports it; not an ordering fact
            return False
        self._newest[tenant] = when
        return False

    def preload(self, acknowledged: list[str]) -> None:
        """Seed the memory with ids acknowledged by an earlier run on the same record file."""
        for key in acknowledged[-self.capacity:]:
            self._ids[key] = [1, 1]


# Latency buckets (seconds), log-spaced from 50 µs to 60 s.
_BOUNDS = (*(50e-6 * 1.25**i for i in range(62)), float("inf"))


class Recent(NamedTuple):
    """One line of the "last events" list (a named tuple: one is made per request)."""

    received_at: float
    status: int
    verdict: str
    event_type: str | None
    webhook_id: str | None
    seconds: float
    duplicate: bool
    out_of_order: bool
    fault: str | None


class Stats:
    """Counters for the live view and ``GET /_chestsim/stats``."""

    def __init__(self, *, clock: Callable[[], float] = time.time, recent: int = 2000) -> None:
        self._clock = clock
        self.started_at = clock()
        self.requests = 0
        self.by_status: Counter[int] = Counter()
        self.by_verdict: Counter[str] = Counter()
        self.by_type: Counter[str] = Counter()
        self.by_fault: Counter[str] = Counter()
        self.signature_failures: Counter[str] = Counter()
        self.duplicates = 0
        self.out_of_order = 0
        self._latency = [0] * len(_BOUNDS)
        self._latency_max = 0.0
        self._latency_sum = 0.0
        self.recent: deque[Recent] = deque(maxlen=recent)

    def observe(self, *, status: int, verdict: str, event_type: str | None, webhook_id: str | None,
                duplicate: bool, out_of_order: bool, fault: str | None, seconds: float,
                received_at: float, signature: str | None = None) -> None:
        """Count one answered (or dropped) request."""
        self.count(status, verdict, event_type, webhook_id, signature, duplicate, out_of_order, fault,
                   seconds, received_at)

    def count(self, status: int, verdict: str, event_type: str | None, webhook_id: str | None,
              signature: str | None, duplicate: bool, out_of_order: bool, fault: str | None,
              seconds: float, received_at: float) -> None:
        """``observe`` with positional arguments, in the order of a pipeline outcome: the
        listener's per-request path (keyword arguments cost more than the counting)."""
        self.requests += 1
        by_status, by_verdict, by_type = self.by_status, self.by_verdict, self.by_type
        by_status[status] = by_status.get(status, 0) + 1
        by_verdict[verdict] = by_verdict.get(verdict, 0) + 1
        key = event_type or "-"
        by_type[key] = by_type.get(key, 0) + 1
        if fault:
            self.by_fault[fault] += 1
        if signature and signature != "ok" and signature != "unchecked":
            self.signature_failures[signature] += 1
        if duplicate:
            self.duplicates += 1
        if out_of_order:
            self.out_of_order += 1
        self._latency[bisect.bisect_left(_BOUNDS, seconds)] += 1
        self._latency_sum += seconds
        if seconds > self._latency_max:
            self._latency_max = seconds
        self.recent.append(Recent(received_at, status, verdict, event_type, webhook_id, seconds,
                                  duplicate, out_of_order, fault))

    def percentile(self, q: float) -> float:
        """Approximate ``q``-quantile (0–1) of the listener's own handling time, in seconds."""
        total = sum(self._latency)
        if not total:
            return 0.0
        rank = q * total
        seen = 0
        for index, count in enumerate(self._latency):
            seen += count
            if seen >= rank and count:
                return min(_BOUNDS[index], self._latency_max)
        return self._latency_max

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready view of every counter."""
        elapsed = max(self._clock() - self.started_at, 1e-9)
        return {
            "started_at": self.started_at,
            "uptime_s": round(elapsed, 3),
            "requests": self.requests,
            "rate_per_s": round(self.requests / elapsed, 1),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_verdict": dict(self.by_verdict.most_common()),
            "by_type": dict(self.by_type.most_common()),
            "by_fault": dict(self.by_fault.most_common()),
            "signature_failures": dict(self.signature_failures.most_common()),
            "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "latency_ms": {
                "mean": round(self._latency_sum / self.requests * 1000, 3) if self.requests else 0.0,
                "p50": round(self.percentile(0.5) * 1000, 3),
                "p90": round(self.percentile(0.9) * 1000, 3),
                "p99": round(self.percentile(0.99) * 1000, 3),
                "max": round(self._latency_max * 1000, 3),
            },
        }
