"""``validate(...)``: the facade over reader, ``Validator``, ``SequenceChecker`` and ``Report``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import orjson

from simulator.validation._problem import Problem
from simulator.validation._reader import DEFAULT_MAX_LINE_BYTES, read_sources
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

    totals: dict[str | None, list[int]] = {}  # type → [valid, invalid, warnings]
    check = checker.check
    loads = orjson.loads
    for record in read_sources(sources, max_line_bytes=max_line_bytes):
        path, line, raw = record.path, record.line, record.raw
        if path not in seen_files:
            seen_files.add(path)
            report.files.append(path)
        if raw is None:
            if record.fatal:
                report.input_errors.append(record.error or f"{record.where}: unreadable")
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
            for finding in sequencer.feed(event, record.where):
                if finding.rule in first_by_rule:
                    repeats[finding.rule] = repeats.get(finding.rule, 0) + 1
                    if finding.problem.is_error:
                        errors += 1
                    continue
                stored = len(report.entries)
                report.add(Entry(path, line, event_id, event_type, finding.problem))
                first_by_rule[finding.rule] = stored if len(report.entries) > stored else -1
                if finding.problem.is_error:
                    errors += 1
                else:
                    warnings += 1
        counts = totals.setdefault(event_type, [0, 0, 0])
        counts[0 if not errors else 1] += 1
        counts[2] += warnings

    for event_type, (valid, invalid, warnings) in totals.items():
        report.record_totals(event_type, valid=valid, invalid=invalid, warnings=warnings)
    for rule, count in repeats.items():
        index = first_by_rule[rule]
        if index >= 0:
            entry = report.entries[index]
            report.entries[index] = Entry(entry.path, entry.line, entry.event_id, entry.event_type,
                                          entry.problem, repeats=count)
    return report


def _json_problem(message: str) -> Problem:
    hint = " (the value is truncated: is the file complete?)" if "unexpected end of data" in message else ""
    return Problem("json", "error", "", f"not JSON: {message}{hint}")
