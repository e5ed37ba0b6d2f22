"""``validate(...)``: the facade over reader, ``Validator``, ``SequenceChecker`` and ``Report``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from simulator.validation._problem import Problem
from simulator.validation._reader import DEFAULT_MAX_LINE_BYTES, Record, read_sources
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
    validator: Validator | None = None,
) -> Report:
    """Validate event files (``.json``, ``.jsonl``; ``-`` is stdin) and return a ``Report``.

    ``sequence="lenient"`` or ``"strict"`` also checks the sequence rules,
    starting from ``snapshot`` (see ``SequenceChecker``).

    >>> from simulator._resources import schemas_dir
    >>> report = validate(schemas_dir() / "examples" / "secret.used" / "full.json")
    >>> report.exit_code, report.valid
    (0, 1)
    """
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    sources = list(sources)
    checker = validator if validator is not None else Validator(strict=strict)
    sequencer = SequenceChecker(mode=sequence, snapshot=snapshot) if sequence is not None else None
    report = Report(max_errors=max_errors)
    first_by_rule: dict[str, int] = {}  # rule → index of its entry in report.entries
    repeats: dict[str, int] = {}
    seen_files: set[str] = set()

    for record in read_sources(sources, max_line_bytes=max_line_bytes):
        if record.path not in seen_files:
            seen_files.add(record.path)
            report.files.append(record.path)
        if record.fatal:
            report.input_errors.append(record.error or f"{record.where}: unreadable")
            continue
        if record.raw is None:
            report.add(Entry(record.path, record.line, None, None,
                             Problem("json", "error", "", record.error or "unreadable")))
            report.count(None, valid=False, warnings=0)
            continue
        event, problems = checker.check_bytes(record.raw)
        if problems and problems[0].code == "json":
            problems = [_json_problem(record, problems[0])]
        event_id, event_type = _identify(event)
        for problem in problems:
            report.add(Entry(record.path, record.line, event_id, event_type, problem))
        errors = sum(1 for p in problems if p.is_error)
        warnings = len(problems) - errors
        if sequencer is not None and event is not None:
            for finding in sequencer.feed(event, record.where):
                if finding.rule in first_by_rule:
                    repeats[finding.rule] = repeats.get(finding.rule, 0) + 1
                    if finding.problem.is_error:
                        errors += 1
                    continue
                stored = len(report.entries)
                report.add(Entry(record.path, record.line, event_id, event_type, finding.problem))
                first_by_rule[finding.rule] = stored if len(report.entries) > stored else -1
                if finding.problem.is_error:
                    errors += 1
                else:
                    warnings += 1
        report.count(event_type, valid=not errors, warnings=warnings)

    for rule, count in repeats.items():
        index = first_by_rule[rule]
        if index >= 0:
            entry = report.entries[index]
            report.entries[index] = Entry(entry.path, entry.line, entry.event_id, entry.event_type,
                                          entry.problem, repeats=count)
    return report


def _identify(event: Any) -> tuple[str | None, str | None]:
    if not isinstance(event, dict):
        return None, None
    ident, kind = event.get("id"), event.get("type")
    return (ident if isinstance(ident, str) else None), (kind if isinstance(kind, str) else None)


def _json_problem(record: Record, problem: Problem) -> Problem:
    if "unexpected end of data" in problem.message:
        return Problem("json", "error", "", f"{problem.message} (the value is truncated: is the file complete?)")
    return problem
