"""The benchmark harness: each ``bench/bench_*.py`` module has ``run(quick) -> list[Result]``.

A result is a figure measured beside a reference in the same run; the target
is a ratio (or an absolute bound for memory), never a timed assertion.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OUT", "Result", "peak_rss_mb", "run_python", "timed"]

#: Where benchmarks leave their files (git-ignored).
OUT = Path(__file__).resolve().parent / "out"


@dataclass(frozen=True, slots=True)
class Result:
    """One line of the bench table.

    ``value`` is chestsim's figure, ``reference`` the baseline's, measured in the
    same run; ``target`` is the ratio ``value / reference`` that must hold
    (``higher_is_better=False`` for memory-like figures, where ``value`` must stay
    under ``limit`` instead).
    """

    name: str
    value: float
    unit: str
    reference_name: str = ""
    reference: float | None = None
    target: float | None = None
    limit: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.reference in (None, 0):
            return None
        assert self.reference is not None
        return self.value / self.reference

    @property
    def ok(self) -> bool | None:
        if self.limit is not None:
            return self.value <= self.limit
        if self.target is not None and self.ratio is not None:
            return self.ratio >= self.target
        return None


def timed(fn: Callable[[], object]) -> float:
    """Seconds taken by ``fn()`` on a monotonic clock."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_python(args: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 600) -> tuple[str, float]:
    """Run ``python args…`` in a child process; return (stdout, peak RSS of children in MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return proc.stdout, max(after, before) / 1024
