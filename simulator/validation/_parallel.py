"""Validating one large JSON Lines file in several processes, each on a slice of whole lines.

Each worker reads its own byte range (nothing is shipped between processes
but the results), keeps at most ``max_errors`` problems, and returns its
counters; the parent renumbers the lines and merges, in file order. Workers
are spawned (not forked), so a parent with threads (the listener) is safe.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

from simulator.validation._reader import count_lines, read_slice, slice_bounds
from simulator.validation._report import Entry, Report

if TYPE_CHECKING:
    from simulator.validation._run import _Run

__all__ = ["validate_in_slices"]

_Result = tuple[int, dict[str | None, list[int]], list[Entry], int]


def _work(name: str, start: int, end: int, strict: bool, max_errors: int | None,
          max_line_bytes: int) -> _Result:
    from simulator.validation._run import _Run
    from simulator.validation._validator import Validator

    run = _Run(Validator(strict=strict), None, Report(max_errors=max_errors))
    run.consume(read_slice(name, start, end, max_line_bytes=max_line_bytes))
    return count_lines(name, start, end), run.totals, run.report.entries, run.report.dropped


def validate_in_slices(run: _Run, name: str, *, jobs: int, strict: bool, max_errors: int | None,
                       max_line_bytes: int) -> None:
    """Check ``name`` in ``jobs`` processes and merge the results into ``run``."""
    bounds = slice_bounds(name, jobs)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(bounds), mp_context=context) as pool:
        futures = [pool.submit(_work, name, start, end, strict, max_errors, max_line_bytes)
                   for start, end in bounds]
        offset = 0
        for future in futures:
            lines, totals, entries, dropped = future.result()
            for entry in entries:
                run.report.add(dataclasses.replace(entry, line=entry.line + offset) if entry.line else entry)
            run.report.dropped += dropped
            for event_type, (valid, invalid, warnings) in totals.items():
                counts = run.totals.setdefault(event_type, [0, 0, 0])
                counts[0] += valid
                counts[1] += invalid
                counts[2] += warnings
            offset += lines
