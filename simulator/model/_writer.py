"""The event writer: one JSON object per line (JSONL), serialized with orjson, batched writes.

>>> import io
>>> out = io.BytesIO()
>>> with EventWriter(out) as writer:
...     writer.write({"id": "evt_1", "type": "secret.used"})
>>> out.getvalue()
b'{"id":"evt_1","type":"secret.used"}\\n'
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from types import TracebackType
from typing import IO

import orjson

from simulator._types import Event

__all__ = ["EventWriter"]

_NEWLINE = orjson.OPT_APPEND_NEWLINE


class EventWriter:
    """Writes events to a binary stream, ``batch`` lines per ``write`` call."""

    __slots__ = ("_buffer", "_dumps", "_out", "batch", "count")

    def __init__(self, out: IO[bytes], *, batch: int = 2048) -> None:
        self._out = out
        self._buffer: list[bytes] = []
        self._dumps = orjson.dumps
        self.batch = batch
        self.count = 0

    def write(self, event: Event) -> None:
        buffer = self._buffer
        buffer.append(self._dumps(event, option=_NEWLINE))
        if len(buffer) >= self.batch:
            self.flush()

    def write_all(self, events: Iterable[Event]) -> int:
        """Write every event; return how many."""
        self.flush()
        dumps, batch, out = self._dumps, self.batch, self._out
        iterator = iter(events)
        total = 0
        while True:
            lines = [dumps(event, option=_NEWLINE) for event in islice(iterator, batch)]
            if not lines:
                break
            out.write(b"".join(lines))
            total += len(lines)
            self.count += len(lines)
            if len(lines) < batch:
                break
        return total

    def flush(self) -> None:
        if self._buffer:
            self.count += len(self._buffer)
            self._out.write(b"".join(self._buffer))
            self._buffer.clear()
        self._out.flush()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.flush()
