"""Live load generators taking turns on one counting sink: same-run rates that drift together.

Each side is a live process (a Locust user, ``chestsim send``, wrk…) posting to
its own path on one aiohttp 204 sink that counts requests per path. The sides
take turns: one runs for a half-second window while the others are stopped
(SIGSTOP), forwards then backwards, round after round; a window's rate is what
the sink counted in it after a short settle. Every side thus meets the same
machine within a second or two of the others, and start-up (imports, reading
input) never enters the figures. Run one after the other instead, the same
side's rate moved 10-40% from run to run on this machine kind.

``bench_locust`` and ``bench_send`` use it.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["COUNTING_SINK", "Side", "counting_sink", "median_ratio", "ratio_note", "take_turns"]

#: The bare sink of the other benches, counting what it received per path (``GET /_count``).
COUNTING_SINK = """
import collections, sys
from aiohttp import web

counts = collections.Counter()

async def receive(request):
    await request.read()
    counts[request.path] += 1
    return web.Response(status=204)

async def count(request):
    return web.json_response(counts)

async def ready(request):
    return web.Response(status=204)

app = web.Application()
app.router.add_get("/_ready", ready)
app.router.add_get("/_count", count)
app.router.add_post("/{tail:.*}", receive)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


@dataclass
class Side:
    """One load generator: how to start its process (given its path) and what its windows measured."""

    name: str
    path: str
    start: Callable[[Side], subprocess.Popen[bytes]]
    proc: subprocess.Popen[bytes] | None = None
    rates: list[float] = field(default_factory=list)  # requests per second, one per window
    cpu_us: list[float] = field(default_factory=list)  # the process's CPU µs per request, one per window
    sink_us: list[float] = field(default_factory=list)  # the sink's CPU µs per request, one per window


def counting_sink(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", COUNTING_SINK, str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def take_turns(sides: Sequence[Side], host: str, sink: subprocess.Popen[bytes], *, sets: int, rounds: int,
               window: float = 0.5, settle: float = 0.1, after_set: Callable[[], None] | None = None) -> None:
    """``sets`` times: start every side afresh, let them take ``rounds`` turns each, stop them
    (then call ``after_set``, e.g. to remove what the stopped processes wrote).

    A process is a sample too: on this machine kind two processes of the same program can
    run up to 10% apart for their whole life, hence fresh processes per set.
    """
    for s in range(sets):
        for side in sides:
            side.proc = side.start(side)
        try:
            _wait_posting(sides, host)
            for i in range(rounds):
                for side in sides if i % 2 == 0 else sides[::-1]:
                    _window(side, host, sink.pid, window=window, settle=settle)
            print(f"   set {s + 1}: " + ", ".join(
                f"{side.name} {statistics.median(side.rates[-rounds:]):,.0f} req/s "
                f"({statistics.median(side.cpu_us[-rounds:] or [0]):,.0f} µs CPU/request)"
                for side in sides), file=sys.stderr, flush=True)
        finally:
            for side in sides:
                _stop(side)
            if after_set is not None:
                after_set()


def median_ratio(side: Side, reference: Side) -> float:
    """The median over windows of ``side``'s rate / ``reference``'s, each pair from one round."""
    return statistics.median(_pairs(side, reference))


def ratio_note(side: Side, reference: Side, *, sets: int, rounds: int, window: float = 0.5) -> str:
    pairs = sorted(_pairs(side, reference))
    if len(pairs) < 2:
        return f"one round: {pairs[0]:.2f}"
    low, _, high = statistics.quantiles(pairs, n=4)
    return (f"{sets} sets × {rounds} rounds of {window:g} s windows taken in turns; ratio: the median of the "
            f"round ratios {pairs[0]:.2f}–{pairs[-1]:.2f} (quartiles {low:.2f}–{high:.2f})")


def _pairs(side: Side, reference: Side) -> list[float]:
    return [a / b for a, b in zip(side.rates, reference.rates, strict=True) if b]


def _wait_posting(sides: Sequence[Side], host: str, *, timeout: float = 60) -> None:
    """Until every side's new process has posted (the sink counts on from earlier sets), then stop them all."""
    deadline = time.monotonic() + timeout
    before = _counts(host)
    while not all(_counts(host).get(side.path, 0) > before.get(side.path, 0) for side in sides):
        for side in sides:
            assert side.proc is not None
            if side.proc.poll() is not None:
                raise RuntimeError(f"{side.name} exited {side.proc.returncode} before posting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the load generators did not all post within {timeout:g} s")
        time.sleep(0.2)
    time.sleep(1.0)  # every side started and posting, all at once
    for side in sides:
        assert side.proc is not None
        side.proc.send_signal(signal.SIGSTOP)


def _window(side: Side, host: str, sink_pid: int, *, window: float, settle: float) -> None:
    """Let ``side`` alone run for ``settle`` + ``window`` seconds; record its rate and CPU per request."""
    assert side.proc is not None
    if side.proc.poll() is not None:
        raise RuntimeError(f"{side.name} exited {side.proc.returncode} during the run (for chestsim: "
                           "it ran out of events, give it more)")
    side.proc.send_signal(signal.SIGCONT)
    try:
        time.sleep(settle)  # the answers that waited while it was stopped, the caches it lost
        count0, t0 = _counts(host).get(side.path, 0), time.monotonic()
        cpu0, sink0 = cpu_seconds(side.proc.pid), cpu_seconds(sink_pid)
        time.sleep(window)
        count1, t1 = _counts(host).get(side.path, 0), time.monotonic()
        cpu1, sink1 = cpu_seconds(side.proc.pid), cpu_seconds(sink_pid)
    finally:
        side.proc.send_signal(signal.SIGSTOP)
    side.rates.append((count1 - count0) / (t1 - t0))
    if count1 > count0 and None not in (cpu0, cpu1, sink0, sink1):
        side.cpu_us.append((cpu1 - cpu0) / (count1 - count0) * 1e6)  # type: ignore[operator]
        side.sink_us.append((sink1 - sink0) / (count1 - count0) * 1e6)  # type: ignore[operator]


def _stop(side: Side) -> None:
    proc, side.proc = side.proc, None
    if proc is None:
        return
    proc.send_signal(signal.SIGCONT)  # a stopped process would not see SIGTERM until continued
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _counts(host: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{host}/_count", timeout=10) as answer:
        counts: dict[str, int] = json.loads(answer.read())
    return counts


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far, all its threads (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
