"""``validate(...)``: the facade over reader, ``Validator``, ``SequenceChecker`` and ``Report``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from simulator.validation._drift import Drift, _Optional, optional_fields
from simulator.validation._duplicates import duplicate_problems, maybe_duplicates
from simulator.validation._leakguard import _at
from simulator.validation._problem import Problem
from simulator.validation._reader import (
    DEFAULT_MAX_LINE_BYTES,
    Block,
    Record,
    read_blocks,
    splittable,
)
from simulator.validation._registry import inlined_type
from simulator.validation._report import Entry, Report
from simulator.validation._semantic import check_schema_valid, holds_schema_valid
from simulator.validation._sequence import SequenceChecker, SequenceMode
from simulator.validation._validator import CATALOG_KEYS, Validator

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
    on_problem: Callable[[Entry], None] | None = None,
    progress: Callable[[int], None] | None = None,
    drift: bool = False,
) -> Report:
    """Validate event files (``.json``, ``.jsonl``; ``-`` is stdin) and return a ``Report``.

    ``sequence="lenient"`` or ``"strict"`` also checks the sequence rules,
    starting from ``snapshot`` (see ``SequenceChecker``). ``jobs=N`` checks
    large JSON Lines files in N processes, each on a slice of the file (not
    with ``sequence``, whose rules need the stream in order). ``on_problem``
    receives each problem as it is found instead of the report keeping it
    (the report still groups and counts them); ``progress`` receives the
    number of bytes read since its last call. Drift from the contract
    (unknown fields, enum values outside it) is always collected, from the
    problems found; ``drift=True`` also walks every event for optional fields
    present in all of them (``report.drift``).

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
               Report(max_errors=max_errors, sink=on_problem, drift=Drift(full=drift)), progress)
    for source in sources:
        name = os.fspath(source)
        if jobs > 1 and sequence is None and splittable(name):
            from simulator.validation._parallel import validate_in_slices

            run.note_file(name)
            validate_in_slices(run, name, jobs=jobs, strict=run.checker.strict, max_errors=max_errors,
                               max_line_bytes=max_line_bytes, drift=drift)
        else:
            run.consume(read_blocks([name], max_line_bytes=max_line_bytes))
    return run.finish()


class _Run:
    """The state of one ``validate`` call: counters, the report, the first finding of each sequence rule."""

    def __init__(self, checker: Validator, sequencer: SequenceChecker | None, report: Report,
                 progress: Callable[[int], None] | None = None) -> None:
        self.checker = checker
        self.progress = progress
        self.sequencer = sequencer
        self.report = report
        self.totals: dict[str | None, list[int]] = {}  # type → [valid, invalid, warnings]
        self.first_by_rule: dict[str, int] = {}  # rule → index of its entry in report.entries (-1: not kept)
        self.repeats: dict[str, int] = {}
        self.seen_files: set[str] = set()
        if report.drift is None:
            report.drift = Drift()
        self.drift = report.drift
        self.optional: dict[str, _Optional] = {}  # event type → its optional fields (full drift only)

    def note_file(self, path: str) -> None:
        if path not in self.seen_files:
            self.seen_files.add(path)
            self.report.files.append(path)

    def consume(self, items: Iterable[Record | Block]) -> None:
        """Check every record and block (blocks one by one too when the sequence rules need order)."""
        in_blocks = self.sequencer is None
        progress = self.progress
        for item in items:
            if progress is not None:
                progress(sum(map(len, item.lines)) + len(item.lines) if isinstance(item, Block)
                         else len(item.raw or b"") + 1)
            if isinstance(item, Block):
                if in_blocks:
                    self._block(item)
                else:
                    for record in item.records():
                        self._record(record)
            else:
                self._record(item)

    def _record(self, record: Record) -> None:
        path, raw = record.path, record.raw
        line = record.line
        if path not in self.seen_files:
            self.note_file(path)
        if raw is None:
            if record.fatal:
                self.report.input_errors.append(record.error or f"{path}: unreadable")
                return
            self.report.add(Entry(path, line, None, None, Problem("json", "error", "", record.error or "unreadable")))
            self.totals.setdefault(None, [0, 0, 0])[1] += 1
            return
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self.report.add(Entry(path, line, None, None, _json_problem(str(exc))))
            self.totals.setdefault(None, [0, 0, 0])[1] += 1
            return
        self._event(path, line, event, self.checker.check_parsed(raw, event))

    def _event(self, path: str, line: int, event: Any, problems: list[Problem]) -> None:
        report, sequencer = self.report, self.sequencer
        event_type = event.get("type") if event.__class__ is dict else None
        if event_type.__class__ is not str:
            event_type = None
        drift = self.drift
        if drift.full and event_type in CATALOG_KEYS:
            drift.note_event(event_type, event, self._optional(event_type))
        if not problems and sequencer is None:
            self.totals.setdefault(event_type, [0, 0, 0])[0] += 1
            return
        event_id = event.get("id") if event.__class__ is dict else None
        if event_id.__class__ is not str:
            event_id = None
        errors = 0
        add = report.add_problem
        where = ""
        for problem in problems:
            if problem.severity == "error":
                errors += 1
            if event_type is not None and (problem.code == "unknown-field" or problem.keyword == "enum"):
                value = _at(event, problem.pointer)
                where = where or f"{path}:{line}"
                if problem.code == "unknown-field":
                    drift.note_unknown(event_type, problem.pointer, value, where)
                else:
                    drift.note_enum(event_type, problem.pointer, value, where)
            add(path, line, event_id, event_type, problem)
        warnings = len(problems) - errors
        if sequencer is not None:
            for finding in sequencer.feed(event, f"{path}:{line}"):
                if finding.problem.is_error:
                    errors += 1
                if finding.rule in self.first_by_rule:
                    self.repeats[finding.rule] = self.repeats.get(finding.rule, 0) + 1
                    report.add(Entry(path, line, event_id, event_type, finding.problem), keep=False)
                    continue
                if not finding.problem.is_error:
                    warnings += 1
                stored = len(report.entries)
                report.add(Entry(path, line, event_id, event_type, finding.problem))
                self.first_by_rule[finding.rule] = stored if len(report.entries) > stored else -1
        counts = self.totals.setdefault(event_type, [0, 0, 0])
        counts[0 if not errors else 1] += 1
        counts[2] += warnings

    def _block(self, block: Block) -> None:
        """Check a block of lines, one line at a time, with the common case inlined.

        Each line is parsed, checked by its type's closed validator and the
        semantic rules, and dropped before the next is parsed: a parsed event
        is freed while its memory is still in the CPU caches. (Parsing a
        thousand events first and checking them after measured three times
        the parse cost per event on this machine kind: the objects of a
        thousand events overflow the caches.) Anything unusual — a blank or
        broken line, a non-object, an unknown type, an event that fails a
        check, text that is not orjson's compact dump of what it parsed —
        is set aside and goes through the one-by-one path a few dozen at a
        time (``_ODD_BATCH``), in line order, so the report is the same as
        reading line by line. (Explaining each odd event the moment it showed
        up cost the bench's capture, 3% broken, ~4% more time in all: the slow
        path's code and data, cold each time, pushed the fast path's out of
        the CPU caches, and the next events paid for it. Setting a whole
        block's aside made an all-broken file ~25% slower: its parsed events
        piled up.)
        """
        path, lines = block.path, block.lines
        if path not in self.seen_files:
            self.note_file(path)
        checker = self.checker
        closed = checker.fast_paths
        holds = holds_schema_valid
        loads, dumps = orjson.loads, orjson.dumps
        note = self.drift.note_event if self.drift.full else None
        valid: dict[str, int] = {}
        odd: list[tuple[int, bytes, Any, bool]] = []  # (line, text, parsed or _UNPARSED, refused), in line order
        for line, raw in enumerate(lines, block.line):
            try:
                event = loads(raw)
            except orjson.JSONDecodeError:
                odd.append((line, raw, _UNPARSED, False))
                if len(odd) == _ODD_BATCH:
                    self._flush(path, odd)
                continue
            try:
                event_type: Any = event["type"]
                is_valid = closed[event_type]
            except (KeyError, TypeError):  # not an object, no type or an odd one, or a type met first here
                event_type = event.get("type") if event.__class__ is dict else None
                found = checker.fast_path(event_type) if event_type.__class__ is str else None
                if found is None:
                    odd.append((line, raw, event, False))
                    if len(odd) == _ODD_BATCH:
                        self._flush(path, odd)
                    continue
                is_valid = found
            if is_valid(event):
                if holds(event) and (dumps(event) == raw or not maybe_duplicates(raw, event)):
                    valid[event_type] = valid.get(event_type, 0) + 1
                    if note is not None:
                        note(event_type, event, self._optional(event_type))
                    continue
                odd.append((line, raw, event, False))
            else:
                odd.append((line, raw, event, True))
            if len(odd) == _ODD_BATCH:  # mostly odd lines: explain them before their parsed events pile up
                self._flush(path, odd)
        totals = self.totals
        for event_type, count in valid.items():
            totals.setdefault(event_type, [0, 0, 0])[0] += count
        self._flush(path, odd)

    def _flush(self, path: str, odd: list[tuple[int, bytes, Any, bool]]) -> None:
        """Check the lines set aside, in line order, and forget them."""
        for line, raw, event, refused in odd:
            self._odd(path, line, raw, event, refused)
        odd.clear()

    def _odd(self, path: str, line: int, raw: bytes, event: Any, refused: bool) -> None:
        """One line the block's fast path did not pass (``refused``: its type's closed validator refused it)."""
        if event is _UNPARSED:
            raw = raw.strip()
            if raw:
                self._record(Record(path, line, raw))
            return
        checker = self.checker
        event_type: Any = event.get("type") if event.__class__ is dict else None
        is_valid = checker.fast_paths.get(event_type) if event_type.__class__ is str else None
        if is_valid is None:
            self._event(path, line, event, checker.check_parsed(raw, event))
            return
        problems = checker.check_refused(event, event_type) if refused else check_schema_valid(event)
        if maybe_duplicates(raw, event):
            problems = duplicate_problems(raw, event, strict=checker.strict) + problems
        self._event(path, line, event, problems)

    def _optional(self, event_type: str) -> _Optional:
        optional = self.optional.get(event_type)
        if optional is None:
            optional = self.optional[event_type] = optional_fields(inlined_type(event_type))
        return optional

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


_UNPARSED: Any = object()  # a line orjson could not parse
#: Odd lines set aside at most (their parsed events held meanwhile: a block's worth overflows the caches).
_ODD_BATCH = 32


def _json_problem(message: str) -> Problem:
    hint = " (the value is truncated: is the file complete?)" if "unexpected end of data" in message else ""
    return Problem("json", "error", "", f"not JSON: {message}{hint}")
