"""The result of validating a stream: totals per event type, the problems found, and how to print them.

Memory stays bounded: totals are counters, and at most ``max_errors``
problems are kept (the rest are counted, not stored).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from simulator.validation._problem import Problem

__all__ = ["EXIT_INPUT", "EXIT_INVALID", "EXIT_OK", "Entry", "Report", "TypeTotals"]

EXIT_OK, EXIT_INVALID, EXIT_INPUT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Entry:
    """One problem at one place of the input."""

    path: str
    line: int
    event_id: str | None
    event_type: str | None
    problem: Problem
    repeats: int = 0  # sequence rules: how many more events broke the same rule

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def as_dict(self) -> dict[str, Any]:
        out = {"path": self.path, "line": self.line, "id": self.event_id, "type": self.event_type,
               "code": self.problem.code, "severity": self.problem.severity,
               "pointer": self.problem.pointer, "message": self.problem.message}
        if self.repeats:
            out["repeats"] = self.repeats
        return out


@dataclass(slots=True)
class TypeTotals:
    """How many events of one type were valid and invalid, and how many warnings they drew."""

    valid: int = 0
    invalid: int = 0
    warnings: int = 0


@dataclass(slots=True)
class Report:
    """What ``validate`` found. ``exit_code``: 0 all valid, 1 some invalid, 2 unreadable input.

    >>> Report().exit_code
    0
    """

    max_errors: int | None = 1000
    files: list[str] = field(default_factory=list)
    events: int = 0
    valid: int = 0
    invalid: int = 0
    warnings: int = 0
    per_type: dict[str, TypeTotals] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    dropped: int = 0
    input_errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.input_errors:
            return EXIT_INPUT
        return EXIT_INVALID if self.invalid else EXIT_OK

    @property
    def ok(self) -> bool:
        """True when every event is valid and every input was readable."""
        return self.exit_code == EXIT_OK

    def add(self, entry: Entry) -> None:
        if self.max_errors is not None and len(self.entries) >= self.max_errors:
            self.dropped += 1
            return
        self.entries.append(entry)

    def record_totals(self, event_type: str | None, *, valid: int, invalid: int, warnings: int) -> None:
        """Add counts for one event type (``None``: input that had no type)."""
        totals = self.per_type.setdefault(event_type or "(no type)", TypeTotals())
        totals.valid += valid
        totals.invalid += invalid
        totals.warnings += warnings
        self.valid += valid
        self.invalid += invalid
        self.warnings += warnings
        self.events += valid + invalid

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``--format json``)."""
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "files": self.files,
            "events": self.events,
            "valid": self.valid,
            "invalid": self.invalid,
            "warnings": self.warnings,
            "per_type": {key: {"valid": t.valid, "invalid": t.invalid, "warnings": t.warnings}
                         for key, t in sorted(self.per_type.items())},
            "problems": [entry.as_dict() for entry in self.entries],
            "problems_not_shown": self.dropped,
            "input_errors": self.input_errors,
        }

    def write_json(self, out: IO[bytes] | None = None) -> None:
        stream = out if out is not None else sys.stdout.buffer
        stream.write(orjson.dumps(self.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")

    def write_text(self, out: IO[str] | None = None) -> None:
        """Human-readable: one line per problem, then totals per type and a summary line."""
        stream = out if out is not None else sys.stdout
        for entry in self.entries:
            ident = f" {entry.event_id}" if entry.event_id else ""
            kind = f" {entry.event_type}" if entry.event_type else ""
            at = f" at {entry.problem.pointer}" if entry.problem.pointer else ""
            more = f" (and {entry.repeats} more events like it)" if entry.repeats else ""
            stream.write(f"{entry.where}:{ident}{kind} {entry.problem.severity} [{entry.problem.code}]"
                         f"{at}: {entry.problem.message}{more}\n")
        if self.dropped:
            stream.write(f"… {self.dropped} more problems not shown (--max-errors)\n")
        if self.per_type:
            width = max(len(key) for key in self.per_type)
            stream.write(f"\n{'type'.ljust(width)}  {'valid':>8}  {'invalid':>8}  {'warnings':>8}\n")
            for key, totals in sorted(self.per_type.items()):
                stream.write(f"{key.ljust(width)}  {totals.valid:>8}  {totals.invalid:>8}  {totals.warnings:>8}\n")
        if not self.events and self.input_errors:
            return  # nothing could be read: the one error line on stderr says it all
        files = f"{len(self.files)} file{'s' if len(self.files) != 1 else ''}"
        verdict = "OK" if self.ok else "FAILED"
        events = f"{self.events} event{'s' if self.events != 1 else ''}"
        stream.write(f"\n{verdict}: {events} in {files}: {self.valid} valid, {self.invalid} invalid, "
                     f"{self.warnings} warning{'s' if self.warnings != 1 else ''}\n")
