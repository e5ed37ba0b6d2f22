"""Validating one large JSON Lines file in several processes, each taking pieces of whole lines in turn.

The file is cut into pieces, large first and smaller towards the end: each
is the rest of the file shared among twice the processes (guided
self-scheduling), down to ~1 MiB. Each worker reads the byte range of the
piece it is given (nothing is shipped between processes but the results),
keeps at most ``max_errors`` problems, returns its counters and takes the
next piece; the parent renumbers the lines and merges, in file order. A cost
per byte that changes along the file cannot leave one worker alone at the
end: in the bench's capture (a tenant's life, creations first) the second
half cost 1.5× the first, and with one half per worker the first sat idle
for a third of the run. With 16 equal pieces, the one that finished last
still left the other worker idle ~0.1 s (a piece's time) in a ~2 s run; the
last pieces now take a hundredth of that.

On Linux, a parent with no other thread forks its workers: they inherit the
compiled validators and start checking at once (a spawned worker spends
~0.7 s importing and compiling first). A parent with threads (the listener,
an embedding application) spawns them, since forking a threaded process is
unsafe.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from simulator.validation._drift import Drift
from simulator.validation._reader import read_slice, slice_bounds
from simulator.validation._report import Entry, Group, Report
from simulator.validation._validator import Validator

if TYPE_CHECKING:
    from simulator.validation._run import _Run

__all__ = ["piece_cuts", "start_method", "validate_in_slices"]

_Result = tuple[int, dict[str | None, list[int]], list[Entry], int, dict[Any, Group], Drift]

#: Each piece is what remains of the file over GUIDED × jobs, and no smaller than a round trip to a
#: worker is worth (~1k events).
GUIDED = 2
MIN_PIECE_BYTES = 1 << 20

#: This worker process's validators, kept from one piece to the next (compiled types, learnt failures).
_VALIDATORS: dict[bool, Validator] = {}


def _work(name: str, start: int, end: int, strict: bool, max_errors: int | None,
          max_line_bytes: int, drift: bool, schemas: str | None) -> _Result:
    from simulator.validation._registry import schema_folder, use_schemas
    from simulator.validation._run import _Run

    if schemas is not None and str(schema_folder()) != schemas:
        use_schemas(schemas)  # a spawned worker starts from the shipped contract
        _VALIDATORS.clear()
    checker = _VALIDATORS.get(strict)
    if checker is None:
        checker = _VALIDATORS[strict] = Validator(strict=strict)
    run = _Run(checker, None, Report(max_errors=max_errors, drift=Drift(full=drift)))
    newlines: list[int] = []
    run.consume(read_slice(name, start, end, max_line_bytes=max_line_bytes, blocks=True, newlines=newlines))
    return newlines[0], run.totals, run.report.entries, run.report.dropped, run.report.groups, run.drift


def start_method() -> str:
    """``fork`` where it is safe and cheap (Linux, a single-threaded parent), else ``spawn``."""
    return "fork" if sys.platform == "linux" and threading.active_count() == 1 else "spawn"


def piece_cuts(size: int, jobs: int) -> list[int]:
    """Where a file of ``size`` bytes is cut for ``jobs`` processes (before each cut moves to a line's end):
    pieces that shrink towards the end, at least ``jobs`` of them."""
    cuts: list[int] = []
    done = 0
    while True:
        piece = max(MIN_PIECE_BYTES, (size - done) // (GUIDED * jobs), 1)
        if size - done <= piece and len(cuts) + 1 >= jobs:
            return cuts
        if size - done <= piece:  # a small file: equal pieces, one per process
            return [size * part // jobs for part in range(1, jobs)]
        done += piece
        cuts.append(done)


def validate_in_slices(run: _Run, name: str, *, jobs: int, strict: bool, max_errors: int | None,
                       max_line_bytes: int, drift: bool = False) -> None:
    """Check ``name`` in ``jobs`` processes and merge the results into ``run``, reporting progress per piece."""
    bounds = slice_bounds(name, piece_cuts(os.path.getsize(name), jobs))
    context = multiprocessing.get_context(start_method())
    from simulator.validation._registry import _FOLDER

    schemas = str(_FOLDER[0]) if _FOLDER else None
    with ProcessPoolExecutor(max_workers=min(jobs, len(bounds)), mp_context=context) as pool:
        futures = [pool.submit(_work, name, start, end, strict, max_errors, max_line_bytes, drift, schemas)
                   for start, end in bounds]
        offset = 0
        for (start, end), future in zip(bounds, futures, strict=True):
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
            if run.progress is not None:
                run.progress(end - start)
