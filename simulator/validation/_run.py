"""``validate(...)``: the facade over reader, ``Validator``, ``SequenceChecker`` and ``Report``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import orjson

from simulator.validation._problem import Problem
from simulator.validation._reader import DEFAULT_MAX_LINE_BYTES, Record, read_sources, splittable
from simulator.validation._report import Entry, Report
from simulator.validation._sequence import SequenceChecker, SequenceMode
from simulator.validation._validator import Validator

__all__ = ["validate"]


def validate(
    sources: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    strict: bool = False,
    sequence: SequenceMode | None = None,
    snapshot: Any = None,
    max_errors: int | None = 1000,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    jobs: int = 1,
    validator: Validator | None = None,
) -> Report:
    """Validate event files (``.json``, ``.jsonl``; ``-`` is stdin) and return a ``Report``.

    ``sequence="lenient"`` or ``"strict"`` also checks the sequence rules,
    starting from ``snapshot`` (see ``SequenceChecker``). ``jobs=N`` checks
    large JSON Lines files in N processes, each on a slice of the file (not
    with ``sequence``, whose rules need the stream in order).

    >>> from simulator._resources import schemas_dir
    >>> report = validate(schemas_dir() / "examples" / "secret.used" / "full.json")
    >>> report.exit_code, report.valid
    (0, 1)
    """
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    if jobs < 1:
        raise ValueError(f"jobs={jobs!r} must be 1 or more")
    run = _Run(validator if validator is not None else Validator(strict=strict),
               SequenceChecker(mode=sequence, snapshot=snapshot) if sequence is not None else None,
               Report(max_errors=max_errors))
    for source in sources:
        name = os.fspath(source)
        if jobs > 1 and sequence is None and splittable(name):
            from simulator.validation._parallel import validate_in_slices

            run.note_file(name)
            validate_in_slices(run, name, jobs=jobs, strict=run.checker.strict, max_errors=max_errors,
                               max_line_bytes=max_line_bytes)
        else:
            run.consume(read_sources([name], max_line_bytes=max_line_bytes))
    return run.finish()


class _Run:
    """The state of one ``validate`` call: counters, the report, the first finding of each sequence rule."""

    def __init__(self, checker: Validator, sequencer: SequenceChecker | None, report: Report) -> None:
        self.checker = checker
        self.sequencer = sequencer
        self.report = report
        self.totals: dict[str | None, list[int]] = {}  # type → [valid, invalid, warnings]
        self.first_by_rule: dict[str, int] = {}  # rule → index of its entry in report.entries (-1: not kept)
        self.repeats: dict[str, int] = {}
        self.seen_files: set[str] = set()

    def note_file(self, path: str) -> None:
        if path not in self.seen_files:
            self.seen_files.add(path)
            self.report.files.append(path)

    def consume(self, records: Iterable[Record], *, line_offset: int = 0) -> int:
        """Check every record; returns the last line number seen (for slices)."""
        report, totals, sequencer = self.report, self.totals, self.sequencer
        check = self.checker.check
        loads = orjson.loads
        last_line = 0
        for record in records:
            path, raw = record.path, record.raw
            line = record.line + line_offset if record.line else 0
            last_line = line or last_line
            if path not in self.seen_files:
                self.note_file(path)
            if raw is None:
                if record.fatal:
                    report.input_errors.append(record.error or f"{path}: unreadable")
                    continue
                report.add(Entry(path, line, None, None, Problem("json", "error", "", record.error or "unreadable")))
                totals.setdefault(None, [0, 0, 0])[1] += 1
                continue
            try:
                event = loads(raw)
            except orjson.JSONDecodeError as exc:
                report.add(Entry(path, line, None, None, _json_problem(str(exc))))
                totals.setdefault(None, [0, 0, 0])[1] += 1
                continue
            problems = check(event)
            event_type = event.get("type") if event.__class__ is dict else None
            if event_type.__class__ is not str:
                event_type = None
            if not problems and sequencer is None:
                counts = totals.get(event_type)
                if counts is None:
                    counts = totals[event_type] = [0, 0, 0]
                counts[0] += 1
                continue
            event_id = event.get("id") if event.__class__ is dict else None
            if event_id.__class__ is not str:
                event_id = None
            for problem in problems:
                report.add(Entry(path, line, event_id, event_type, problem))
            errors = sum(1 for p in problems if p.is_error)
            warnings = len(problems) - errors
            if sequencer is not None:
                for finding in sequencer.feed(event, f"{path}:{line}"):
                    if finding.problem.is_error:
                        errors += 1
                    if finding.rule in self.first_by_rule:
                        self.repeats[finding.rule] = self.repeats.get(finding.rule, 0) + 1
                        continue
                    if not finding.problem.is_error:
                        warnings += 1
                    stored = len(report.entries)
                    report.add(Entry(path, line, event_id, event_type, finding.problem))
                    self.first_by_rule[finding.rule] = stored if len(report.entries) > stored else -1
            counts = totals.setdefault(event_type, [0, 0, 0])
            counts[0 if not errors else 1] += 1
            counts[2] += warnings
        return last_line

    def finish(self) -> Report:
        report = self.report
        for event_type, (valid, invalid, warnings) in self.totals.items():
            report.record_totals(event_type, valid=valid, invalid=invalid, warnings=warnings)
        for rule, count in self.repeats.items():
            index = self.first_by_rule[rule]
            if index >= 0:
                entry = report.entries[index]
                report.entries[index] = Entry(entry.path, entry.line, entry.event_id, entry.event_type,
                                              entry.problem, repeats=count)
        return report


def _json_problem(message: str) -> Problem:
    hint = " (the value is truncated: is the file complete?)" if "unexpected end of data" in message else ""
    return Problem("json", "error", "", f"not JSON: {message}{hint}")
