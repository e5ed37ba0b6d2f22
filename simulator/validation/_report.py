"""The result of validating a stream: totals per event type, the problems found, and how to print them.

Memory stays bounded: totals are counters, and at most ``max_errors``
problems are kept (the rest are counted, not stored).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import IO, TYPE_CHECKING, Any

import orjson

from simulator.validation._problem import Problem

if TYPE_CHECKING:
    from simulator.validation._drift import Drift

__all__ = ["EXIT_INPUT", "EXIT_INVALID", "EXIT_OK", "Entry", "Group", "Report", "TypeTotals"]

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


#: Quoted values and numbers in a message: what varies between problems of one kind.
_VALUES = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b(?:evt|msg)_[0-9A-Za-z]+|"
                     r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|(?:^|(?<==))-?\d+(?:\.\d+)?\b")
_INDEX = re.compile(r"/\d+(?=/|$)")
#: Problems whose group ``Report.add`` remembers (it starts over when full: memory stays bounded).
_GROUPS_REMEMBERED = 4096
#: Locations kept per group (the first ones met).
FIRST_LOCATIONS = 3


def template(message: str) -> str:
    """``message`` with its quoted values and numbers replaced by ``…``: the kind of problem.

    >>> template("/timestamp='2026-13-45' is not an RFC 3339 time")
    '/timestamp=… is not an RFC 3339 time'
    """
    # Remembered for sane lengths only: bulk failures repeat their messages, a hostile line need not.
    return _template(message) if len(message) <= 1024 else _VALUES.sub("…", message)


@lru_cache(maxsize=4096)
def _template(message: str) -> str:
    return _VALUES.sub("…", message)


def pointer_pattern(pointer: str) -> str:
    """A pointer with array indexes as ``*``: one group for every item of a list.

    >>> pointer_pattern("/data/shard_map/shards/3/device_id")
    '/data/shard_map/shards/*/device_id'
    """
    return _pointer_pattern(pointer) if len(pointer) <= 1024 else _INDEX.sub("/*", pointer)


@lru_cache(maxsize=4096)
def _pointer_pattern(pointer: str) -> str:
    return _INDEX.sub("/*", pointer)


@dataclass(slots=True)
class Group:
    """Problems of one kind: same event type, code, severity, pointer (indexes as ``*``) and message template."""

    event_type: str | None
    code: str
    severity: str
    pointer: str
    template: str
    count: int = 0
    first: list[Entry] = field(default_factory=list)

    @property
    def key(self) -> tuple[str | None, str, str, str, str]:
        return self.event_type, self.code, self.severity, self.pointer, self.template

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.event_type, "code": self.code, "severity": self.severity, "pointer": self.pointer,
                "template": self.template, "count": self.count,
                "message": self.first[0].problem.message if self.first else "",
                "first": [{"path": e.path, "line": e.line, "id": e.event_id} for e in self.first]}


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
    groups: dict[tuple[str | None, str, str, str, str], Group] = field(default_factory=dict)
    #: Where each problem goes as it is found (``--format jsonl``) instead of being kept.
    sink: Callable[[Entry], None] | None = None
    #: How the capture differs from the contract (``validate`` always sets it).
    drift: Drift | None = None
    #: (event type, problem) → its group: bulk failures repeat the same problem (bounded, see ``add``).
    _group_of: dict[tuple[str | None, Problem], Group] = field(default_factory=dict, repr=False, compare=False)

    @property
    def exit_code(self) -> int:
        if self.input_errors:
            return EXIT_INPUT
        return EXIT_INVALID if self.invalid else EXIT_OK

    @property
    def ok(self) -> bool:
        """True when every event is valid and every input was readable."""
        return self.exit_code == EXIT_OK

    def add(self, entry: Entry, *, keep: bool = True) -> None:
        """Count a problem in its group, and keep it (up to ``max_errors``) or hand it to ``sink``."""
        group = self._group_of.get((entry.event_type, entry.problem)) or self._group(entry.event_type, entry.problem)
        group.count += 1 + entry.repeats
        if len(group.first) < FIRST_LOCATIONS:
            group.first.append(entry)
        if not keep:
            return
        if self.sink is not None:
            self.sink(entry)
            return
        self.keep(entry)

    def add_problem(self, path: str, line: int, event_id: str | None, event_type: str | None,
                    problem: Problem) -> None:
        """``add(Entry(...))``, with the entry made only where it is kept (bulk failures drop most)."""
        group = self._group_of.get((event_type, problem)) or self._group(event_type, problem)
        group.count += 1
        entry = None
        if len(group.first) < FIRST_LOCATIONS:
            entry = Entry(path, line, event_id, event_type, problem)
            group.first.append(entry)
        if self.sink is not None:
            self.sink(entry or Entry(path, line, event_id, event_type, problem))
        elif self.max_errors is not None and len(self.entries) >= self.max_errors:
            self.dropped += 1
        else:
            self.entries.append(entry or Entry(path, line, event_id, event_type, problem))

    def _group(self, event_type: str | None, problem: Problem) -> Group:
        """The group of a problem; bulk failures repeat the same problem, so it is remembered by (type, problem)."""
        key = (event_type, problem.code, problem.severity, pointer_pattern(problem.pointer), template(problem.message))
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(*key)
        if len(self._group_of) >= _GROUPS_REMEMBERED:
            self._group_of.clear()
        self._group_of[(event_type, problem)] = group
        return group

    def keep(self, entry: Entry) -> None:
        """Keep a problem for the listing (up to ``max_errors``; the rest are counted in ``dropped``)."""
        if self.max_errors is not None and len(self.entries) >= self.max_errors:
            self.dropped += 1
            return
        self.entries.append(entry)

    def merge_groups(self, groups: dict[tuple[str | None, str, str, str, str], Group], *, line_offset: int) -> None:
        """Add the groups of a later slice of the same file (its lines renumbered by ``line_offset``)."""
        for key, theirs in groups.items():
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = Group(*key)
            group.count += theirs.count
            for entry in theirs.first[: FIRST_LOCATIONS - len(group.first)]:
                group.first.append(Entry(entry.path, entry.line + line_offset if entry.line else 0,
                                         entry.event_id, entry.event_type, entry.problem, entry.repeats))

    def ranked_groups(self) -> list[Group]:
        """Groups, most frequent first (then in the order they were first met)."""
        return sorted(self.groups.values(), key=lambda g: -g.count)

    @property
    def problems(self) -> int:
        """How many problems were found (kept or not)."""
        return sum(g.count for g in self.groups.values())

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
            "groups": [group.as_dict() for group in self.ranked_groups()],
            "problems": [entry.as_dict() for entry in self.entries],
            "problems_not_shown": self.dropped,
            "input_errors": self.input_errors,
            "drift": None if self.drift is None else {"exists": self.drift.exists,
                                                      "summary": self.drift.summary() if self.drift.exists else "",
                                                      **self.drift.as_dict()},
        }

    def write_json(self, out: IO[bytes] | None = None) -> None:
        stream = out if out is not None else sys.stdout.buffer
        stream.write(orjson.dumps(self.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")

    def write_text(self, out: IO[str] | None = None, *, show: str = "groups") -> None:
        """Human-readable: the problems grouped (or each one, ``show="all"``), totals per type, a summary."""
        stream = out if out is not None else sys.stdout
        if show == "all":
            self._write_each(stream)
        else:
            self._write_groups(stream)
        if self.drift is not None and self.drift.full:
            self.drift.write_text(stream)
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
        if self.drift is not None and self.drift.exists:
            stream.write(self.drift.summary() + "\n")

    def _write_each(self, stream: IO[str]) -> None:
        for entry in self.entries:
            stream.write(_line(entry) + "\n")
        if self.dropped:
            stream.write(f"… {self.dropped} more problems not shown (--max-errors)\n")

    def _write_groups(self, stream: IO[str]) -> None:
        groups = self.ranked_groups()
        for group in groups:
            first = group.first[0]
            kind = f" {group.event_type}" if group.event_type else ""
            at = f" at {group.pointer}" if group.pointer else ""
            stream.write(f"{group.count:>7} ×{kind} {group.severity} [{group.code}]{at}: {first.problem.message}\n")
            places = ", ".join(f"{e.where}" + (f" {e.event_id}" if e.event_id else "") for e in group.first)
            more = f" and {group.count - len(group.first)} more" if group.count > len(group.first) else ""
            stream.write(f"{'':>9} {'at' if group.count == 1 else 'first at'} {places}{more}\n")
        if groups:
            problems = self.problems
            stream.write(f"\n{problems} problem{'s' if problems != 1 else ''} in {len(groups)} group"
                         f"{'s' if len(groups) != 1 else ''}, most frequent first; --show all lists each one "
                         "(--format jsonl streams them)\n")


def _line(entry: Entry) -> str:
    ident = f" {entry.event_id}" if entry.event_id else ""
    kind = f" {entry.event_type}" if entry.event_type else ""
    at = f" at {entry.problem.pointer}" if entry.problem.pointer else ""
    more = f" (and {entry.repeats} more events like it)" if entry.repeats else ""
    return (f"{entry.where}:{ident}{kind} {entry.problem.severity} [{entry.problem.code}]"
            f"{at}: {entry.problem.message}{more}")
