"""Group commit for the event loop: requests queue rows, and await their batch's commit.

While one batch is being judged and committed, the next piles up; it goes
out as one transaction as soon as the previous one is done. A 2xx is sent
only once the batch holding its row has committed.

Two writers share that protocol:

- ``InlineRecorder`` judges and commits on the event loop (no start-up cost:
  tests, the pytest plugin, small runs);
- ``ProcessRecorder`` hands batches to a writer process over a pipe, so
  validation and SQLite use another core and the loop only verifies and
  answers (``chestsim listen``). The writer ignores SIGINT and SIGTERM and
  exits when the pipe closes, after committing what it received.
"""

from __future__ import annotations

import asyncio
import pickle
import sys
from pathlib import Path
from typing import Any

from simulator._exceptions import InputError, UsageError
from simulator.listener._records import BatchWriter, Item, Outcome

__all__ = ["InlineRecorder", "ProcessRecorder", "Recorder", "RecorderFailed", "make_recorder"]

_HEADER = 4


class RecorderFailed(RuntimeError):
    """The record writer could not commit; nothing in its batch may be acknowledged."""


class Recorder:
    """Batches rows and resolves one shared future per batch with the batch's outcomes."""

    def __init__(self, path: Path, *, fsync: bool, strict: bool, reject_invalid: bool) -> None:
        self.path = path
        self.fsync = fsync
        self.strict = strict
        self.reject_invalid = reject_invalid
        self.committed = 0
        self.preloaded: list[str] = []
        self._pending: list[Item] = []
        self._pending_done: asyncio.Future[list[Outcome]] | None = None
        self._wake: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._failed: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, fsync={self.fsync!r})"

    async def open(self, *, preload: int = 0) -> None:
        self._loop = asyncio.get_running_loop()
        await self._open(preload)
        self._task = asyncio.create_task(self._run(), name="chestsim-recorder")

    def submit(self, item: Item) -> tuple[asyncio.Future[list[Outcome]], int]:
        """Queue one item; return its batch's future and its index in the batch's outcomes.

        The future is shared by the whole batch: await it directly (a request
        cancelled while waiting cancels it for its batch, which then goes
        unanswered — never wrongly acknowledged).
        """
        if self._failed is not None:
            raise RecorderFailed(str(self._failed))
        if self._closing and self._task is None:
            raise RecorderFailed("the recorder is closed")
        done = self._pending_done
        if done is None:
            assert self._loop is not None
            done = self._pending_done = self._loop.create_future()
        self._pending.append(item)
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)
        return done, len(self._pending) - 1

    async def _run(self) -> None:
        assert self._loop is not None
        loop = self._loop
        # One turn per batch; ends once closing and nothing is left.
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake = loop.create_future()
                await self._wake
                self._wake = None
                continue
            items, done = self._pending, self._pending_done
            self._pending, self._pending_done = [], None
            assert done is not None
            try:
                outcomes = await self._write(items)
            except Exception as exc:
                self._failed = exc
                print(f"chestsim listen: the record writer failed ({exc}); answering 500 from now on",
                      file=sys.stderr)
                if not done.done():
                    done.set_exception(RecorderFailed(str(exc)))
                    done.exception()  # retrieved: its waiters each answer 500
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

    async def _open(self, preload: int) -> None:
        raise NotImplementedError

    async def _write(self, items: list[Item]) -> list[Outcome]:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError


class InlineRecorder(Recorder):
    """Judges and commits batches on the event loop itself."""

    _writer: BatchWriter | None = None

    async def _open(self, preload: int) -> None:
        self._writer = BatchWriter(self.path, fsync=self.fsync, strict=self.strict,
                                   reject_invalid=self.reject_invalid)
        self.preloaded = self._writer.acknowledged_ids(preload) if preload else []

    async def _write(self, items: list[Item]) -> list[Outcome]:
        assert self._writer is not None
        return self._writer.write(items)

    async def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class ProcessRecorder(Recorder):
    """Hands batches to ``python -m simulator.listener._worker`` and awaits its outcomes."""

    start_timeout = 60.0
    _proc: asyncio.subprocess.Process | None = None

    async def _open(self, preload: int) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "simulator.listener._worker", str(self.path),
            "--fsync" if self.fsync else "--no-fsync", "--strict" if self.strict else "--no-strict",
            "--reject-invalid" if self.reject_invalid else "--accept-invalid", str(preload),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        try:
            kind, value = await asyncio.wait_for(self._receive(), self.start_timeout)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            await self._close()
            raise RecorderFailed("the record writer process did not start") from None
        if kind != "ready":
            await self._close()
            raise InputError(str(value), path=str(self.path)) if kind == "input-error" else UsageError(str(value))
        self.preloaded = list(value)

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

    async def _write(self, items: list[Item]) -> list[Outcome]:
        try:
            await self._send(items)
            kind, value = await self._receive()
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise RecorderFailed(f"the record writer process exited ({type(exc).__name__})") from None
        if kind != "ok":
            raise RecorderFailed(str(value))
        outcomes: list[Outcome] = value
        return outcomes

    async def _close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def make_recorder(path: Path, *, offload: bool, fsync: bool, strict: bool,
                  reject_invalid: bool) -> Recorder:
    """The process writer when ``offload``, else the inline one."""
    cls: type[Recorder] = ProcessRecorder if offload else InlineRecorder
    return cls(path, fsync=fsync, strict=strict, reject_invalid=reject_invalid)
