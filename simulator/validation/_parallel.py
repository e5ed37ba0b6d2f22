"""Validating one large JSON Lines file in several processes, each on a slice of whole lines.

Each worker reads its own byte range (nothing is shipped between processes
but the results), keeps at most ``max_errors`` problems, and returns its
counters; the parent renumbers the lines and merges, in file order.

On Linux, a parent with no other thread forks its workers: they inherit the
compiled validators and start checking at once (a spawned worker spends
~0.7 s importing and compiling first). A parent with threads (the listener,
an embedding application) spawns them, since forking a threaded process is
unsafe.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from simulator.validation._drift import Drift
from simulator.validation._reader import read_slice, slice_bounds
from simulator.validation._report import Entry, Group, Report

if TYPE_CHECKING:
    from simulator.validation._run import _Run

__all__ = ["start_method", "validate_in_slices"]

_Result = tuple[int, dict[str | None, list[int]], list[Entry], int, dict[Any, Group], Drift]


def _work(name: str, start: int, end: int, strict: bool, max_errors: int | None,
          max_line_bytes: int, drift: bool, schemas: str | None) -> _Result:
    from simulator.validation._registry import schema_folder, use_schemas
    from simulator.validation._run import _Run
    from simulator.validation._validator import Validator

    if schemas is not None and str(schema_folder()) != schemas:
        use_schemas(schemas)  # a spawned worker starts from the shipped contract
    run = _Run(Validator(strict=strict), None, Report(max_errors=max_errors, drift=Drift(full=drift)))
    newlines: list[int] = []
    run.consume(read_slice(name, start, end, max_line_bytes=max_line_bytes, blocks=True, newlines=newlines))
    return newlines[0], run.totals, run.report.entries, run.report.dropped, run.report.groups, run.drift


def start_method() -> str:
    """``fork`` where it is safe and cheap (Linux, a single-threaded parent), else ``spawn``."""
    return "fork" if sys.platform == "linux" and threading.active_count() == 1 else "spawn"


def validate_in_slices(run: _Run, name: str, *, jobs: int, strict: bool, max_errors: int | None,
                       max_line_bytes: int, drift: bool = False) -> None:
    """Check ``name`` in ``jobs`` processes and merge the results into ``run``."""
    bounds = slice_bounds(name, jobs)
    context = multiprocessing.get_context(start_method())
    from simulator.validation._registry import _FOLDER

    schemas = str(_FOLDER[0]) if _FOLDER else None
    with ProcessPoolExecutor(max_workers=len(bounds), mp_context=context) as pool:
        futures = [pool.submit(_work, name, start, end, strict, max_errors, max_line_bytes, drift, schemas)
                   for start, end in bounds]
        offset = 0
        for future in futures:
            lines, totals, entries, dropped, groups, found = future.result()
            run.report.merge_groups(groups, line_offset=offset)
            run.drift.merge(found.renumbered(offset))
            for entry in entries:
                entry = dataclasses.replace(entry, line=entry.line + offset) if entry.line else entry
                if run.report.sink is not None:
                    run.report.sink(entry)
                else:
                    run.report.keep(entry)
            run.report.dropped += dropped
            for event_type, (valid, invalid, warnings) in totals.items():
                counts = run.totals.setdefault(event_type, [0, 0, 0])
                counts[0] += valid
                counts[1] += invalid
                counts[2] += warnings
            offset += lines
