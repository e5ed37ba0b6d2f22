"""``CertifyReport``: the graded result of one certification, and its text card.

```
CertifyReport   target, profile, every CaseResult, the burst's latencies, facts (load, TLS)
CaseResult      one case: owed, got, verdict (pass / warn / fail / skip), note, hint, requests
Sent            one request of a case: what it was (label, detail, size), status, latency
```

``str(report)`` is the terminal card; ``report.as_dict()`` the ``--format json`` document;
``simulator.certify.junit`` and ``.html`` render the other two. Nothing here holds a
header, so no secret, signature or token can reach a card.

>>> CertifyReport(target="http://127.0.0.1:8080/webhooks", profile="quick", cases=())
CertifyReport(target='http://127.0.0.1:8080/webhooks', grade='pass', failing=[])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from simulator.certify._cases import SECTIONS

__all__ = ["CaseResult", "CertifyReport", "Sent", "percentile"]

#: A case's verdict: ``pass``, ``warn``, ``fail``, or ``skip`` (not run).
CaseVerdict = str
_RANK = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``; NaN when there are none.

    >>> percentile([0.1, 0.2, 0.3, 0.4], 50)
    0.2
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def worst(verdicts: Sequence[str]) -> CaseVerdict:
    """The worst of some verdicts (``skip`` when there are none)."""
    out = "skip"
    for v in verdicts:
        if _RANK[v] > _RANK[out]:
            out = v
    return out


@dataclass(frozen=True, slots=True)
class Sent:
    """One request of a case and its answer (status 0: none came back)."""

    label: str
    status: int
    latency: float
    verdict: str
    note: str
    body_bytes: int = 0
    detail: str | None = None
    event_type: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"request": {"label": self.label, "detail": self.detail, "event_type": self.event_type,
                            "body_bytes": self.body_bytes},
                "status": self.status, "latency_ms": round(self.latency * 1000, 3),
                "verdict": self.verdict, "note": self.note, "error": self.error}


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The verdict on one case."""

    id: str
    section: str
    owed: str
    got: str
    verdict: CaseVerdict
    note: str = ""
    hint: str = ""
    sent: tuple[Sent, ...] = ()
    #: For a hostile case: whether a genuine delivery right after it was still accepted.
    alive: bool | None = None

    @property
    def latency(self) -> float | None:
        """The slowest answer among this case's requests, in seconds."""
        return max((s.latency for s in self.sent), default=None)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "section": self.section, "owed": self.owed, "got": self.got,
                "verdict": self.verdict, "note": self.note,
                "hint": self.hint if self.verdict in ("fail", "warn") else "",
                "alive_after": self.alive,
                "latency_ms": None if self.latency is None else round(self.latency * 1000, 3),
                "requests": [s.as_dict() for s in self.sent]}


@dataclass(frozen=True, slots=True)
class CertifyReport:
    """What ``certify`` found; ``passed`` is true when no case failed.

    ``assert report.passed, report`` names the failing cases; ``str(report)`` is the whole card.
    """

    target: str
    profile: str
    cases: tuple[CaseResult, ...]
    #: Acknowledgement latencies of the timing burst, in seconds (for the histogram).
    latencies: tuple[float, ...] = ()
    #: Requests planned (the number stated before sending) and actually sent.
    planned: int = 0
    sent: int = 0
    duration: float = 0.0
    started: str = ""
    #: Why the run stopped early, when it did (the listener stopped answering, the time budget).
    stopped: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when no case failed (warnings pass)."""
        return self.stopped is None and all(c.verdict != "fail" for c in self.cases)

    @property
    def grade(self) -> str:
        """``pass``, ``warn`` or ``fail`` for the whole card."""
        if not self.passed:
            return "fail"
        return "warn" if any(c.verdict == "warn" for c in self.cases) else "pass"

    @property
    def failing(self) -> list[str]:
        return [c.id for c in self.cases if c.verdict == "fail"]

    @property
    def warnings(self) -> list[str]:
        return [c.id for c in self.cases if c.verdict == "warn"]

    def case(self, case_id: str) -> CaseResult:
        """The result of one case by id (``KeyError`` when it was not run)."""
        for c in self.cases:
            if c.id == case_id:
                return c
        raise KeyError(case_id)

    def verdicts(self) -> dict[str, str]:
        """Every case id and its verdict."""
        return {c.id: c.verdict for c in self.cases}

    def sections(self) -> dict[str, str]:
        """Each section's grade: its worst case (``skip`` when none of its cases ran)."""
        out: dict[str, str] = {}
        for name in SECTIONS:
            mine = [c.verdict for c in self.cases if c.section == name and c.verdict != "skip"]
            if mine or any(c.section == name for c in self.cases):
                out[name] = worst(mine)
        return out

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "warn": 0, "fail": 0, "skip": 0}
        for c in self.cases:
            out[c.verdict] += 1
        return out

    def __repr__(self) -> str:
        return f"CertifyReport(target={self.target!r}, grade={self.grade!r}, failing={self.failing!r})"

    def __str__(self) -> str:
        from simulator.certify._card import render_text

        return render_text(self)

    def as_dict(self) -> dict[str, Any]:
        """The ``--format json`` document: every case, request summaries without secrets."""
        return {
            "target": self.target, "profile": self.profile, "grade": self.grade, "passed": self.passed,
            "started": self.started, "duration_s": round(self.duration, 3),
            "requests": {"planned": self.planned, "sent": self.sent},
            "stopped": self.stopped, "counts": self.counts(), "sections": self.sections(),
            "timing_ms": {f"p{q}": _ms(percentile(self.latencies, q)) for q in (50, 95, 99)},
            "facts": self.facts, "cases": [c.as_dict() for c in self.cases],
        }


def _ms(seconds: float) -> float | None:
    return None if math.isnan(seconds) else round(seconds * 1000, 3)
