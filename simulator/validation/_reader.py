"""Streaming reader of event files: JSON Lines, JSON arrays, single JSON documents, stdin.

Memory stays constant in the size of the input: JSON Lines are read in 1 MiB
chunks, arrays are split into their elements as they stream past, and a
line longer than ``max_line_bytes`` is reported and skipped without being
held. Every item names its source and the line where it starts, so that a
report can point at ``file:line``.

>>> import io
>>> [(r.line, r.raw) for r in read_stream(io.BytesIO(b'{"a": 1}\\n\\n{"b": 2}\\n'), "x.jsonl")]
[(1, b'{"a": 1}'), (3, b'{"b": 2}')]
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple, cast

import orjson

from simulator._exceptions import InputError

__all__ = ["DEFAULT_MAX_LINE_BYTES", "Block", "Record", "iter_events", "read_sources", "read_stream"]

#: Longest line (or array element) read; longer ones are reported and skipped.
DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024
_CHUNK = 1024 * 1024
_STDIN = "-"


class Record(NamedTuple):
    """One item of input: the raw JSON text of an event, or why there is none.

    ``fatal`` marks a problem with the source itself (missing, a directory,
    binary, empty): nothing more comes from that source. (A named tuple, not a
    dataclass: one is made per line, and tuples are the cheapest immutable record.)
    """

    path: str
    line: int
    raw: bytes | None
    error: str | None = None
    fatal: bool = False

    @property
    def where(self) -> str:
        """``file:line`` for messages."""
        return f"{self.path}:{self.line}" if self.line else self.path

    def parse(self) -> Any:
        """The event (``orjson.loads`` of ``raw``); ``InputError`` naming ``file:line`` when there is none."""
        if self.raw is None:
            raise InputError(f"{self.where}: {self.error}", path=self.path, line=self.line or None)
        try:
            return orjson.loads(self.raw)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{self.where}: not JSON ({exc})", path=self.path, line=self.line) from None


class Block(NamedTuple):
    """Consecutive lines of a JSON Lines source, for callers that check many at once.

    ``lines[i]`` is line ``line + i``, as read: unstripped, possibly blank,
    none longer than the limit. Only :func:`read_sources` with ``blocks=True``
    makes them; everything else (arrays, documents, overlong lines, unreadable
    sources) still comes as :class:`Record` items.
    """

    path: str
    line: int
    lines: list[bytes]

    def records(self) -> Iterator[Record]:
        """The block's non-blank lines as records, as ``read_sources`` would give them one by one."""
        for offset, raw in enumerate(self.lines):
            raw = raw.strip()
            if raw:
                yield Record(self.path, self.line + offset, raw)


def read_sources(sources: Iterable[str | os.PathLike[str]], *,
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Record]:
    """Records from each path in turn (``-`` is standard input)."""
    return cast(Iterator[Record], read_blocks(sources, max_line_bytes=max_line_bytes, blocks=False))


def read_blocks(sources: Iterable[str | os.PathLike[str]], *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                blocks: bool = True) -> Iterator[Record | Block]:
    """Like :func:`read_sources`, with the lines of JSON Lines sources in ``Block``s of about 1 MiB."""
    for source in sources:
        name = os.fspath(source)
        if name == _STDIN:
            yield from read_stream(sys.stdin.buffer, "<stdin>", max_line_bytes=max_line_bytes, blocks=blocks)
            continue
        path = Path(name)
        if path.is_dir():
            yield Record(name, 0, None, f"{name} is a directory; pass the .json or .jsonl files in it "
                         "(e.g. dir/*.jsonl)", fatal=True)
            continue
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            yield Record(name, 0, None, f"{name} does not exist; check the path", fatal=True)
            continue
        except OSError as exc:
            yield Record(name, 0, None, f"{name} cannot be read: {exc.strerror or exc}", fatal=True)
            continue
        with handle:
            yield from read_stream(handle, name, max_line_bytes=max_line_bytes, blocks=blocks)


def read_stream(stream: IO[bytes], name: str, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
                blocks: bool = False) -> Iterator[Record | Block]:
    """Records from one binary stream, whatever its shape (lines, an array, one document)."""
    try:
        first = stream.read(_CHUNK)
    except OSError as exc:
        yield Record(name, 0, None, f"{name} cannot be read: {exc.strerror or exc}", fatal=True)
        return
    if b"\x00" in first[:8192]:
        yield Record(name, 0, None, f"{name} is a binary file, not JSON or JSON Lines", fatal=True)
        return
    if first.lstrip().startswith(b"\xef\xbb\xbf"):
        first = first.replace(b"\xef\xbb\xbf", b"", 1)
    # Blank space before the first event (any amount, up to the line limit) is read past, not taken
    # for an empty file.
    while not first.strip() and len(first) <= max_line_bytes and (more := stream.read(_CHUNK)):
        first += more
    stripped = first.lstrip()
    if not stripped:
        yield Record(name, 0, None, f"{name} is empty: no events to check", fatal=True)
        return
    if stripped[:1] == b"[":
        empty = True
        for record in _documents(first, stream, name, max_line_bytes, array=True):
            empty = False
            yield record
        if empty:
            yield Record(name, 0, None, f"{name} is an empty JSON array: no events to check", fatal=True)
        return
    newline = first.find(b"\n")
    head = first[:newline] if newline >= 0 else first
    if stripped[:1] == b"{" and not _complete(head):
        # A pretty-printed document (or several): split values, not lines.
        yield from _documents(first, stream, name, max_line_bytes, array=False)
        return
    yield from _lines(first, stream, name, max_line_bytes, blocks=blocks)


def _complete(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _lines(first: bytes, stream: IO[bytes], name: str, limit: int, *,
           blocks: bool = False) -> Iterator[Record | Block]:
    number = 0
    carry = b""
    skipping = False  # inside an overlong line, dropping bytes until its newline
    chunk = first
    while chunk:
        lines = chunk.split(b"\n")
        lines[0] = carry + lines[0]
        carry = lines.pop()
        if blocks and not skipping and lines and max(map(len, lines)) <= limit:
            yield Block(name, number + 1, lines)
            number += len(lines)
            lines = []
        for line in lines:
            number += 1
            if skipping:
                skipping = False
                continue
            if len(line) > limit:
                yield _overlong(name, number, limit)
                continue
            line = line.strip()
            if line:
                yield Record(name, number, line)
        if len(carry) > limit:
            if not skipping:
                yield _overlong(name, number + 1, limit)
            skipping = True
            carry = b""
        chunk = stream.read(_CHUNK)
    if skipping:
        return
    carry = carry.strip()
    if carry:
        yield Record(name, number + 1, carry)


def _overlong(name: str, line: int, limit: int) -> Record:
    size = f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
    return Record(name, line, None, f"line longer than {size} skipped; an event is a few KiB "
                  "(raise --max-line-bytes if this one is real)")


_INTERESTING = re.compile(rb'["\\\[\]{},\n]')


def _documents(first: bytes, stream: IO[bytes], name: str, limit: int, *, array: bool) -> Iterator[Record]:
    """Split a stream into top-level values, or into the elements of one top-level array."""
    line = 1
    depth = 0
    in_string = escaped = False
    level = 1 if array else 0  # the depth at which values are delimited
    opened = not array
    buffer = b""
    segment = 0  # offset in `buffer` where the current value's text begins
    segment_line = 1
    skipping = False  # the current value outgrew the limit: drop it up to its end
    chunk = first
    while chunk:
        scan_from = len(buffer)
        buffer += chunk
        for match in _INTERESTING.finditer(buffer, scan_from):
            char, position = match.group(0), match.start()
            if char == b"\n":
                line += 1
                escaped = False
                continue
            if in_string:
                if escaped:
                    escaped = False
                elif char == b"\\":
                    escaped = True
                elif char == b'"':
                    in_string = False
                continue
            if char == b'"':
                in_string = True
            elif char in b"[{":
                depth += 1
                if array and not opened:
                    opened = True
                    segment, segment_line = position + 1, line
            elif char in b"]}":
                depth -= 1
                if array and depth == 0:  # the array's closing bracket
                    if not skipping:
                        yield from _segment(buffer[segment:position], name, segment_line, limit)
                    return
                if not array and depth == 0:
                    if not skipping:
                        yield from _segment(buffer[segment:position + 1], name, segment_line, limit)
                    skipping = False
                    segment, segment_line = position + 1, line
                elif depth < 0:
                    yield Record(name, line, None, f"unbalanced {char.decode()!r}: not JSON")
                    depth = 0
            elif char == b"," and array and depth == level:
                if not skipping:
                    yield from _segment(buffer[segment:position], name, segment_line, limit)
                skipping = False
                segment, segment_line = position + 1, line
        # Keep only the unfinished value; once it outgrows the limit, report it and drop it.
        buffer = buffer[segment:]
        segment = 0
        if len(buffer) > limit:
            if not skipping:
                text = buffer.lstrip()
                yield _overlong(name, segment_line + buffer[: len(buffer) - len(text)].count(b"\n"), limit)
            skipping = True
            buffer = b""
        chunk = stream.read(_CHUNK)
    if array and opened:
        yield Record(name, line, None, "the JSON array is not closed: the file is truncated")
    elif not skipping:
        yield from _segment(buffer, name, segment_line, limit)  # a truncated value: the parser says so


def _segment(raw: bytes, name: str, line: int, limit: int) -> Iterator[Record]:
    text = raw.lstrip()
    if not text.strip():
        return
    line += raw[: len(raw) - len(text)].count(b"\n")
    yield _overlong(name, line, limit) if len(text) > limit else Record(name, line, text.rstrip())


def iter_events(sources: Iterable[str | os.PathLike[str]], *,
                max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[tuple[Record, Any]]:
    """Parsed events with their records; raises ``InputError`` at the first unreadable item.

    For callers that need events, not a report (the delivery engine).
    """
    for record in read_sources(sources, max_line_bytes=max_line_bytes):
        yield record, record.parse()


#: Files smaller than this are not worth splitting across processes.
SPLIT_THRESHOLD = 8 * 1024 * 1024


def splittable(name: str) -> bool:
    """True for a large regular JSON Lines file, which can be read in independent slices."""
    if name == _STDIN:
        return False
    try:
        if not os.path.isfile(name) or os.path.getsize(name) < SPLIT_THRESHOLD:
            return False
        with open(name, "rb") as handle:
            first = handle.read(_CHUNK)
    except OSError:
        return False
    stripped = first.lstrip()
    newline = first.find(b"\n")
    return (b"\x00" not in first[:8192] and stripped[:1] == b"{" and newline >= 0
            and _complete(first[:newline]))


def slice_bounds(name: str, targets: Iterable[int]) -> list[tuple[int, int]]:
    """Byte ranges of whole lines that split a file near each offset of ``targets`` (in increasing order)."""
    size = os.path.getsize(name)
    cuts = [0]
    with open(name, "rb") as handle:
        for offset in targets:
            target = max(offset, cuts[-1])
            handle.seek(target)
            position = size
            while chunk := handle.read(65536):
                newline = chunk.find(b"\n")
                if newline >= 0:
                    position = handle.tell() - len(chunk) + newline + 1
                    break
            if cuts[-1] < position < size:
                cuts.append(position)
    cuts.append(size)
    return list(itertools.pairwise(cuts))


class _Slice:
    """A read-only view of ``[start, end)`` of a binary file, for ``_lines``; counts the newlines it reads."""

    def __init__(self, handle: IO[bytes], start: int, end: int) -> None:
        handle.seek(start)
        self._handle = handle
        self._left = end - start
        self.newlines = 0

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        data = self._handle.read(self._left if size < 0 else min(size, self._left))
        self._left -= len(data)
        self.newlines += data.count(b"\n")
        return data


def read_slice(name: str, start: int, end: int, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
               blocks: bool = False, newlines: list[int] | None = None) -> Iterator[Record | Block]:
    """Records of the lines in bytes ``[start, end)`` of a JSON Lines file; line numbers count from the slice.

    Once the slice is read to its end, ``newlines`` (when given) receives how
    many newlines it held: where the next slice's line numbers start, without
    reading the slice a second time.
    """
    with open(name, "rb") as handle:
        view = _Slice(handle, start, end)
        yield from _lines(view.read(_CHUNK), view, name, max_line_bytes,  # type: ignore[arg-type]
                          blocks=blocks)
        if newlines is not None:
            newlines.append(view.newlines)
