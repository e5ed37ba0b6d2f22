"""The benchmark harness: each ``bench/bench_*.py`` module has ``run(quick) -> list[Result]``.

A result is a figure measured beside a reference in the same run; the target
is a ratio (or an absolute bound for memory), never a timed assertion.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BARE_SINK", "FAKER_YARDSTICK", "OUT", "Result", "free_port", "peak_rss_mb", "run_python", "timed", "wait_ready"]

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
    #: The median of ratios taken round by round (each side run close in time): when set, the ratio
    #: shown and judged, steadier than the ratio of two medians when the machine's speed drifts.
    paired: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.paired is not None:
            return self.paired
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


#: Child-process code that sets ``names_per_cpu_second``: Faker's ``name()`` rate on this machine,
#: now (best of three rounds), the yardstick DESIGN.md states its absolute targets against
#: (Faker ≈ 14k names/s there). Paste it into a child after ``import time``.
FAKER_YARDSTICK = """
from faker import Faker as _Faker
_fake = _Faker("en_US")
_fake.seed_instance(1)
names_per_cpu_second = 0.0
for _round in range(3):
    _cpu = time.process_time()
    for _ in range(2000):
        _fake.name()
    names_per_cpu_second = max(names_per_cpu_second, 2000 / (time.process_time() - _cpu))
"""

#: A bare aiohttp sink, the reference for senders: read the body, answer 204, nothing else.
#: Run it as ``python -c BARE_SINK PORT``; ``GET /_ready`` answers once it listens.
BARE_SINK = """
import sys
from aiohttp import web

async def receive(request):
    await request.read()
    return web.Response(status=204)

async def ready(request):
    return web.Response(status=204)

app = web.Application()
app.router.add_get("/_ready", ready)
app.router.add_post("/{tail:.*}", receive)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], *, timeout: float = 20) -> None:
    """Poll ``url`` until it answers; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sink exited: {proc.stderr.read().decode()[-800:] if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"sink did not start within {timeout:g} s")
