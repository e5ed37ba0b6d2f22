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
from types import TracebackType
from typing import IO, Any

import orjson

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

    def write(self, event: dict[str, Any]) -> None:
        buffer = self._buffer
        buffer.append(self._dumps(event, option=_NEWLINE))
        if len(buffer) >= self.batch:
            self.flush()

    def write_all(self, events: Iterable[dict[str, Any]]) -> int:
        """Write every event; return how many."""
        dumps, buffer, batch = self._dumps, self._buffer, self.batch
        n = 0
        for event in events:
            buffer.append(dumps(event, option=_NEWLINE))
            n += 1
            if len(buffer) >= batch:
                self.flush()
        return n

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
