"""Group commit for the event loop: requests queue what they received and await their batch.

While one batch goes through the pipeline (verify, judge, track, faults) and
is committed, the next piles up; it goes out as one transaction as soon as the
previous one is done. A 2xx is sent only once the batch holding its record
has committed.

Two recorders share that protocol:

- ``InlineRecorder`` runs the pipeline and commits on the event loop (quick
  to start: tests, the pytest plugin, small runs);
- ``ProcessRecorder`` hands batches to a writer process over a pipe, so
  verification, validation and SQLite use another core and the loop only
  reads requests and writes answers (``chestsim listen``). The writer runs in
  its own process group, ignores SIGINT and SIGTERM, and exits when the pipe
  closes, after committing what it received. The configuration (secrets, token) travels over the pipe, never
  on a command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import sys
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any

from simulator._exceptions import InputError, UsageError
from simulator.listener._config import Listener
from simulator.listener._pipeline import Outcome, Pipeline, RawTuple
from simulator.listener._records import BatchWriter, RecordFileLost

__all__ = ["InlineRecorder", "ProcessRecorder", "Recorder", "RecorderFailed", "make_recorder", "process"]

_HEADER = 4


class RecorderFailed(RuntimeError):
    """The record writer could not commit; nothing in its batch may be acknowledged."""


class Recorder:
    """Batches requests and resolves one shared future per batch with the batch's outcomes."""

    #: Most requests in one batch (one transaction), and most body bytes (a batch is one pipe message).
    batch_max = 1000
    batch_bytes = 8 * 1024 * 1024

    def __init__(self, config: Listener, path: Path) -> None:
        self.config = config
        self.path = path
        self.committed = 0
        self._pending: list[RawTuple] = []
        self._pending_bytes = 0
        self._pending_done: asyncio.Future[list[Outcome]] | None = None
        self._ready: deque[tuple[list[RawTuple], asyncio.Future[list[Outcome]]]] = deque()
        self._wake: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._failed: BaseException | None = None
        #: What happened to a record file removed or replaced while listening.
        self.lost: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    @property
    def failure(self) -> str | None:
        """Why requests stopped being recorded (and acknowledged), if they did."""
        return self.lost or (str(self._failed) if self._failed is not None else None)

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._open()
        self._task = asyncio.create_task(self._run(), name="chestsim-recorder")

    def submit(self, item: RawTuple) -> tuple[asyncio.Future[list[Outcome]], int]:
        """Queue one request; return its batch's future and its index in the batch's outcomes.

        The future is shared by the whole batch: await it directly (a request
        cancelled while waiting cancels it for its batch, which then goes
        unanswered — never wrongly acknowledged).
        """
        if self._failed is not None:
            raise RecorderFailed(str(self._failed))
        if self._closing and self._task is None:
            raise RecorderFailed("the recorder is closed")
        if len(self._pending) >= self.batch_max or self._pending_bytes >= self.batch_bytes:
            # Full: it waits for its turn whole, and a new batch starts.
            assert self._pending_done is not None
            self._ready.append((self._pending, self._pending_done))
            self._pending, self._pending_done, self._pending_bytes = [], None, 0
        done = self._pending_done
        if done is None:
            assert self._loop is not None
            done = self._pending_done = self._loop.create_future()
        self._pending.append(item)
        self._pending_bytes += item[6]
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)
        return done, len(self._pending) - 1

    def _take(self) -> tuple[list[RawTuple], asyncio.Future[list[Outcome]]] | None:
        """The next batch to write: full ones first, in order, then the one filling up."""
        if self._ready:
            return self._ready.popleft()
        if not self._pending:
            return None
        items, done = self._pending, self._pending_done
        self._pending, self._pending_done, self._pending_bytes = [], None, 0
        assert done is not None
        return items, done

    async def _run(self) -> None:
        assert self._loop is not None
        loop = self._loop
        # One turn per batch; ends once closing and nothing is left.
        while True:
            batch = self._take()
            if batch is None:
                if self._closing:
                    return
                self._wake = loop.create_future()
                await self._wake
                self._wake = None
                continue
            items, done = batch
            try:
                outcomes = await self._write(items)
            except RecordFileLost as exc:
                self.lost = str(exc)
                self._failed = exc
                print(f"chestsim listen: {exc}; answering 500 from now on", file=sys.stderr)
                _fail_future(done, RecorderFailed(str(exc)))
                continue
            except Exception as exc:
                self._failed = exc
                print(f"chestsim listen: the record writer failed ({exc}); answering 500 from now on",
                      file=sys.stderr)
                _fail_future(done, RecorderFailed(str(exc)))
                continue
            self.committed += len(items)
            if not done.done():
                done.set_result(outcomes)

    async def close(self) -> None:
        """Commit what is queued, stop writing, close the file. Idempotent."""
        self._closing = True
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)
        if self._task is not None:
            await self._task
            self._task = None
        await self._close()

    async def _open(self) -> None:
        raise NotImplementedError

    async def _write(self, items: list[RawTuple]) -> list[Outcome]:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError


class InlineRecorder(Recorder):
    """Runs the pipeline and commits batches on the event loop itself."""

    _writer: BatchWriter | None = None
    _pipeline: Pipeline | None = None

    async def _open(self) -> None:
        self._writer = BatchWriter(self.path, fsync=self.config.fsync)
        self._pipeline = Pipeline(self.config)
        self._pipeline.preload(self._writer.acknowledged_ids(self._pipeline.tracker.capacity))

    async def _write(self, items: list[RawTuple]) -> list[Outcome]:
        assert self._writer is not None
        assert self._pipeline is not None
        return process(self._pipeline, self._writer, items)

    async def _close(self) -> None:
        if self._writer is not None:
            self.lost = self._writer.close() or self.lost
            self._writer = None


def process(pipeline: Pipeline, writer: BatchWriter, items: list[RawTuple]) -> list[Outcome]:
    """Handle a batch of requests and commit their rows; the outcomes, in order."""
    handled = [pipeline.handle(raw) for raw in items]
    writer.write([row for row, _ in handled])
    return [outcome for _, outcome in handled]


class ProcessRecorder(Recorder):
    """Hands batches to ``python -m simulator.listener._worker`` and awaits its outcomes."""

    start_timeout = 60.0
    #: Batches sent and not yet answered: one being written, the next one waiting in the pipe.
    #: More would send smaller batches (each costs two pipe wake-ups and a commit): measured
    #: under wrk, 8 batches of at most 16 cost the writer ~15% more CPU per request than this.
    max_in_flight = 2
    _proc: asyncio.subprocess.Process | None = None

    async def _open(self) -> None:
        # Its own session (so its own process group): a Ctrl-C in the terminal reaches the whole
        # foreground group, and would kill the writer with a traceback before it gets to ignore
        # SIGINT. (uvloop takes start_new_session, not process_group.)
        group: dict[str, Any] = {"start_new_session": True} if os.name == "posix" else {}
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "simulator.listener._worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, **group)
        try:
            # The injected clock stays in this process: the writer uses the system clock.
            await self._send((replace(self.config, clock=time.time), str(self.path)))
            kind, value = await asyncio.wait_for(self._receive(), self.start_timeout)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            await self._close()
            raise RecorderFailed("the record writer process did not start") from None
        if kind != "ready":
            await self._close()
            raise InputError(str(value), path=str(self.path)) if kind == "input-error" else UsageError(str(value))

    async def _send(self, value: Any) -> None:
        assert self._proc is not None
        assert self._proc.stdin is not None
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        self._proc.stdin.write(len(payload).to_bytes(_HEADER, "little") + payload)
        await self._proc.stdin.drain()

    async def _receive(self) -> tuple[str, Any]:
        assert self._proc is not None
        assert self._proc.stdout is not None
        size = int.from_bytes(await self._proc.stdout.readexactly(_HEADER), "little")
        kind, value = pickle.loads(await self._proc.stdout.readexactly(size))
        return str(kind), value

    async def _run(self) -> None:
        """Pipelined: send each batch as it forms (up to ``max_in_flight`` unanswered), while a
        reader task resolves the batches in the order the writer answers them."""
        assert self._loop is not None
        loop = self._loop
        in_flight: deque[asyncio.Future[list[Outcome]]] = deque()
        reader = asyncio.create_task(self._read_replies(in_flight), name="chestsim-recorder-replies")
        try:
            # One turn per batch sent; ends once closing and nothing is left to send.
            while True:
                if self._failed is not None:
                    break
                batch = self._take() if len(in_flight) < self.max_in_flight else None
                if batch is None:
                    if self._closing and not self._pending and not self._ready:
                        break
                    self._wake = loop.create_future()
                    await self._wake
                    self._wake = None
                    continue
                items, done = batch
                in_flight.append(done)
                try:
                    # Plain tuples (the server makes them so) pickle ten times faster than named ones.
                    await self._send(items)
                except (ConnectionError, RuntimeError) as exc:
                    self._fail(RecorderFailed(f"the record writer process went away ({type(exc).__name__})"))
            while in_flight and self._failed is None and not reader.done():
                self._wake = loop.create_future()
                await self._wake
                self._wake = None
        finally:
            if self._failed is not None:
                for done in in_flight:
                    _fail_future(done, self._failed)
                if self._pending_done is not None:
                    _fail_future(self._pending_done, self._failed)
                for _, waiting in self._ready:
                    _fail_future(waiting, self._failed)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read_replies(self, in_flight: deque[asyncio.Future[list[Outcome]]]) -> None:
        # One turn per reply, until the writer's output ends.
        while True:
            try:
                kind, value = await self._receive()
            except (asyncio.IncompleteReadError, ConnectionError):
                if in_flight:
                    self._fail(RecorderFailed("the record writer process exited"))
                return
            if kind == "lost":
                self.lost = str(value)
            done = in_flight.popleft()
            if kind == "ok":
                self.committed += len(value)
                if not done.done():
                    done.set_result(value)
            else:
                self._fail(RecorderFailed(str(value)))
                _fail_future(done, self._failed or RecorderFailed(str(value)))
            wake = self._wake
            if wake is not None and not wake.done():
                wake.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self._failed is None:
            self._failed = exc
            print(f"chestsim listen: {exc}; answering 500 from now on", file=sys.stderr)
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        # The writer's last word, if the file was removed or replaced after its last batch.
        with contextlib.suppress(TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            self._proc = proc
            kind, value = await asyncio.wait_for(self._receive(), 60)
            if kind == "lost":
                self.lost = str(value)
        self._proc = None
        try:
            await asyncio.wait_for(proc.wait(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def _fail_future(done: asyncio.Future[Any], exc: BaseException) -> None:
    if not done.done():
        done.set_exception(exc if isinstance(exc, RecorderFailed) else RecorderFailed(str(exc)))
        done.exception()  # retrieved: its waiters each answer 500


def make_recorder(config: Listener, path: Path) -> Recorder:
    """The process recorder when ``config.offload``, else the inline one."""
    return (ProcessRecorder if config.offload else InlineRecorder)(config, path)
