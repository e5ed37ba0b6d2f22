"""Guards around scenario code that ``chestsim generate`` runs: a stall timer and a size check.

A scenario is the user's own Python. It can loop without end (``while True: pass``),
or keep acting inside one ``run(t)`` without ever returning, so no event reaches the
output. :func:`stall_guarded` wraps the event stream: while the stream is working
out its next event, a timer ticks; if no event comes out within ``seconds``, the
scenario is stopped with a :class:`ScenarioStalled` raised where it stands (so the
message can name its file and line). Time the *consumer* spends (a slow pipe, a
paced ``--realtime`` output) does not count: the timer only runs inside ``next()``.

:func:`check_fits` refuses a tenant that could not fit in memory before anything
is built, with the limit and the reason.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Generator, Iterable
from types import FrameType
from typing import TypeVar

from simulator._exceptions import ScenarioError, UsageError

__all__ = ["ScenarioStalled", "check_fits", "default_timeout", "stall_guarded"]

T = TypeVar("T")

_TICK = 0.25  # seconds between checks; a stall is noticed within a tick of its limit


class ScenarioStalled(ScenarioError):
    """A scenario produced no event within its ``--timeout``."""


def default_timeout(users: int) -> float:
    """The ``--timeout`` default: 30 s, plus 2 ms a user for the first events of a big tenant.

    >>> default_timeout(10), default_timeout(100_000)
    (30.0, 200.0)
    """
    return max(30.0, users * 0.002)


def stall_guarded(stream: Iterable[T], seconds: float, *, option: str = "--timeout") -> Generator[T, None, None]:
    """Yield from ``stream``; raise :class:`ScenarioStalled` inside it if one event takes over ``seconds``.

    Works where a POSIX interval timer can interrupt the main thread; elsewhere the
    stream runs unguarded (a thread cannot interrupt another thread's Python loop).
    """
    if not (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()):
        yield from stream
        return
    ticks_allowed = max(1, round(seconds / _TICK))
    state = {"working": False, "ticks": 0}

    def tick(signum: int, frame: FrameType | None) -> None:
        if not state["working"]:
            return
        state["ticks"] += 1
        if state["ticks"] >= ticks_allowed:
            state["working"] = False
            raise ScenarioStalled(f"no event came out in {seconds:g} s (it may loop without end, or keep "
                                  f"acting inside one run(t) without returning); raise {option} if it "
                                  "needs longer")

    previous = signal.signal(signal.SIGALRM, tick)
    # Another timer may already run (pytest-timeout's, say): it gets its time back at the end.
    earlier, _ = signal.setitimer(signal.ITIMER_REAL, _TICK, _TICK)
    started = time.monotonic()
    iterator = iter(stream)
    try:
        while True:
            state["ticks"] = 0
            state["working"] = True
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                state["working"] = False
            yield item
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
        if earlier:
            signal.setitimer(signal.ITIMER_REAL, max(earlier - (time.monotonic() - started), 0.001))


# Measured on a 10k-user firehose tenant once its replayed history is behind (2026-12):
# about 3 KiB a user plus 1 KiB a device; doubled for the shares, maps and secrets a
# long run accumulates.
_BYTES_PER_USER = 2 * 3 * 1024
_BYTES_PER_DEVICE = 2 * 1024


def check_fits(*, users: int, devices_per_user: int, available: int | None = None) -> None:
    """Refuse a tenant whose model could not fit in the memory this machine has free.

    >>> check_fits(users=10_000, devices_per_user=2, available=8 * 2**30)
    >>> check_fits(users=10**9, devices_per_user=2, available=8 * 2**30)
    Traceback (most recent call last):
    simulator._exceptions.UsageError: --users=1000000000 needs about 9.3 TiB of memory ...
    """
    free = _available_memory() if available is None else available
    if free is None:
        return
    per_user = _BYTES_PER_USER + _BYTES_PER_DEVICE * devices_per_user
    need = users * per_user
    if need <= free:
        return
    most = free // per_user
    raise UsageError(f"--users={users} needs about {_size(need)} of memory ({_size(per_user)} a user with "
                     f"{devices_per_user} devices each); this machine has {_size(free)} free, enough for "
                     f"about {most:,} users: ask for fewer")


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"
