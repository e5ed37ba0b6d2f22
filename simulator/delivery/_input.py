"""Reading events to send: JSONL/NDJSON files, stdin, or Python objects, streamed in batches.

The body sent is the input line's own bytes (a dict is dumped with orjson), so a
listener sees exactly what was captured. A broken line raises ``InputError``
naming ``file:line``; the sender stops reading there, finishes what it already
accepted, and a later ``--resume`` starts again at that line.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

import orjson

from simulator._catalog import CATALOG
from simulator._exceptions import InputError

__all__ = ["Outbound", "Recorded", "epoch_of", "read_batches", "with_key"]

_KEYS = frozenset(t.key for t in CATALOG)
BATCH = 512


@dataclass(frozen=True, slots=True)
class Outbound:
    """One event on its way out: the envelope's routing fields and the exact body bytes.

    ``seq`` is its journal number once accepted (``-1`` before); ``targets`` the
    endpoint indexes still owed a delivery when it comes back from a journal.
    """

    line: int
    id: str
    type: str
    tenant_id: str
    timestamp: str
    body: bytes
    key: str = ""
    seq: int = -1
    targets: tuple[int, ...] | None = None


def epoch_of(timestamp: str) -> float | None:
    """Unix seconds of an RFC 3339 timestamp, or ``None`` when it is not one."""
    try:
        return datetime.fromisoformat(timestamp).timestamp()
    except (TypeError, ValueError):
        return None


def _order_key(envelope: Mapping[str, Any], order_key: str) -> str:
    if order_key == "tenant":
        return str(envelope.get("tenant_id", ""))
    data = envelope.get("data")
    if not isinstance(data, dict):
        return ""
    if order_key == "secret":
        value = data.get("secret_id")
        if value is None and isinstance(data.get("secret"), dict):
            value = data["secret"].get("id")
        if value is None and isinstance(data.get("shard_map"), dict):
            value = data["shard_map"].get("secret_id")
        return str(value) if value is not None else str(envelope.get("tenant_id", ""))
    return str(data.get(order_key, envelope.get("tenant_id", "")))


def _parse(raw: bytes, line: int, where: str, order_key: str) -> Outbound:
    try:
        envelope = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{where}:{line}: not valid JSON ({exc}); fix or remove the line",
                         path=where, line=line) from None
    if not isinstance(envelope, dict):
        raise InputError(f"{where}:{line}: expected a JSON object (an event envelope)", path=where,
                         line=line)
    msg_id, kind = envelope.get("id"), envelope.get("type")
    if not isinstance(msg_id, str) or not msg_id:
        raise InputError(f"{where}:{line}: the envelope has no string \"id\"; every event needs one "
                         "(it becomes webhook-id)", path=where, line=line)
    if not msg_id.isprintable() or not msg_id.isascii() or " " in msg_id:
        raise InputError(f"{where}:{line}: the envelope \"id\" must be printable ASCII without spaces "
                         "(it becomes the webhook-id header)", path=where, line=line)
    if kind not in _KEYS:
        raise InputError(f"{where}:{line}: unknown event type {kind!r}; see `chestsim events list`",
                         path=where, line=line)
    return Outbound(line, msg_id, kind, str(envelope.get("tenant_id", "")),
                    str(envelope.get("timestamp", "")), raw, _order_key(envelope, order_key))


def _lines(source: str | os.PathLike[str] | IO[bytes]) -> tuple[Iterator[bytes], str, IO[bytes] | None]:
    if isinstance(source, str | os.PathLike):
        where = os.fspath(source)
        if where == "-":
            return iter(sys.stdin.buffer), "<stdin>", None
        try:
            fh: IO[bytes] = open(where, "rb")  # noqa: SIM115  (closed by read_batches)
        except FileNotFoundError:
            raise InputError(f"{where}: no such file; give a JSONL file or - for stdin", path=where) from None
        except IsADirectoryError:
            raise InputError(f"{where}: is a directory; give a JSONL file or - for stdin", path=where) from None
        except OSError as exc:
            raise InputError(f"{where}: cannot read it ({exc.strerror})", path=where) from None
        return iter(fh), where, fh
    return iter(source), getattr(source, "name", "<stream>"), None


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a journal recorded of its input, for ``--resume`` to check the input given again:
    the exact bytes of some lines already read (``lines``: line number → body), from the
    run ``journal`` started on ``input``."""

    lines: Mapping[int, bytes]
    journal: str
    input: str


def read_batches(
    source: str | os.PathLike[str] | IO[bytes] | Iterable[Mapping[str, Any] | bytes | str],
    *,
    order_key: str = "tenant",
    skip_lines: int = 0,
    batch: int = BATCH,
    recorded: Recorded | None = None,
) -> Iterator[list[Outbound]]:
    """Batches of ``Outbound`` from a path, ``-``, a binary file, or an iterable of events.

    Lines up to ``skip_lines`` are skipped (how ``--resume`` continues an input). With
    ``recorded``, they are skipped now, and each line ``recorded`` names must be the same
    bytes: another input raises ``InputError`` before anything is sent.
    """
    if isinstance(source, str | os.PathLike) or hasattr(source, "read"):
        # Opened now, not at the first batch, so a missing file fails before anything starts.
        lines, where, fh = _lines(source)  # type: ignore[arg-type]
        start = 0
        if recorded is not None and skip_lines:
            try:
                _skip_checked(lines, where, skip_lines, recorded)
            except BaseException:
                if fh is not None:
                    fh.close()
                raise
            start, skip_lines = skip_lines, 0
        return _Closing(_batches_of_lines(lines, where, order_key, skip_lines, batch, start=start), fh)
    return _batches_of_objects(source, order_key, skip_lines, batch)


def _skip_checked(lines: Iterator[bytes], where: str, skip: int, recorded: Recorded) -> None:
    """Consume the first ``skip`` lines, checking those ``recorded`` names."""
    again = (f"--resume continues the input the journal {recorded.journal} was started on "
             f"({recorded.input}): give that input again, or start a new run with --journal NEWFILE")
    number = 0
    for number, raw in enumerate(lines, 1):
        expected = recorded.lines.get(number)
        if expected is not None and raw.strip() != expected:
            raise InputError(f"{where}:{number}: not the line the journal recorded there, so this is "
                             f"another input; {again}", path=where, line=number)
        if number >= skip:
            return
    raise InputError(f"{where}: has {number} lines, but the journal had read {skip} lines of its input, "
                     f"so this is another input; {again}", path=where, line=number)


class _Closing:
    """Batches that close their file when exhausted, failed, or dropped before the first batch.

    ``never_waits``: the lines come from a regular file, so reading a batch never waits on
    a writer (as a pipe's or stdin's may): the sender reads it on its loop, not on a thread.
    """

    def __init__(self, batches: Iterator[list[Outbound]], fh: IO[bytes] | None) -> None:
        self._batches = batches
        self._fh = fh
        try:
            self.never_waits = fh is not None and stat.S_ISREG(os.fstat(fh.fileno()).st_mode)
        except (OSError, ValueError, AttributeError):
            self.never_waits = False

    def __iter__(self) -> _Closing:
        return self

    def __next__(self) -> list[Outbound]:
        try:
            return next(self._batches)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __del__(self) -> None:
        self.close()


def _batches_of_lines(lines: Iterator[bytes], where: str, order_key: str, skip: int,
                      size: int, *, start: int = 0) -> Iterator[list[Outbound]]:
    out: list[Outbound] = []
    number = start
    try:
        for number, raw in enumerate(lines, start + 1):
            if number <= skip:
                continue
            raw = raw.strip()
            if not raw:
                continue
            try:
                out.append(_parse(raw, number, where, order_key))
            except InputError:
                # The good lines before the broken one still go out; resume starts at it.
                if out:
                    yield out
                raise
            if len(out) >= size:
                yield out
                out = []
    except UnicodeDecodeError:
        raise InputError(f"{where}:{number + 1}: not UTF-8 text", path=where, line=number + 1) from None
    if out:
        yield out


def _batches_of_objects(items: Iterable[Mapping[str, Any] | bytes | str], order_key: str, skip: int,
                        size: int) -> Iterator[list[Outbound]]:
    out: list[Outbound] = []
    for number, item in enumerate(items, 1):
        if number <= skip:
            continue
        if isinstance(item, Mapping):
            raw = orjson.dumps(item)
        elif isinstance(item, str):
            raw = item.strip().encode()
        elif isinstance(item, bytes | bytearray | memoryview):
            raw = bytes(item).strip()
        else:
            raise InputError(f"event #{number}: expected a dict, JSON bytes or str, not "
                             f"{type(item).__name__}", line=number)
        try:
            out.append(_parse(raw or b"null", number, "<events>", order_key))
        except InputError:
            if out:
                yield out
            raise
        if len(out) >= size:
            yield out
            out = []
    if out:
        yield out


def with_key(ev: Outbound, order_key: str) -> Outbound:
    """``ev`` with its ordering key read from its body (journalled events are stored without it)."""
    try:
        envelope = orjson.loads(ev.body)
    except orjson.JSONDecodeError:
        return ev
    return Outbound(ev.line, ev.id, ev.type, ev.tenant_id, ev.timestamp, ev.body,
                    _order_key(envelope, order_key) if isinstance(envelope, dict) else "", ev.seq, ev.targets)
