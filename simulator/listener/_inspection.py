"""What the web inspector reads from a record file: filtered pages, one record, counters, a timeline.

Nothing here writes to the file, and the listener pays nothing for it: a record
file is append-only and a record's type and verdict never change, so a
``SeqIndex`` keeps, in memory, the record numbers of each type, each verdict and
each pair, built with one pass over the file the first time the page asks and
then topped up from the rows after the last one it saw. A page filtered by type,
verdict or both is a slice of one of those lists, then a read of those rows by
number; a live update reads only the new rows; a text filter (a part of an id
or the tenant) reads the rows once.

>>> with Inspection("received.db") as look:                   # doctest: +SKIP
...     page = look.page(Filters(verdict="invalid"), limit=50)
...     look.record(page.rows[0]["seq"])["problems"]
[{'code': 'schema', 'pointer': '/data/shard_map/threshold', ...}]
"""

from __future__ import annotations

import bisect
import contextlib
import sqlite3
import threading
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

from simulator._catalog import lookup
from simulator._exceptions import InputError, UnknownEventType, UsageError
from simulator._types import PathLike
from simulator.listener._records import FORMAT
from simulator.listener._server import VERDICTS

__all__ = ["LIST_COLUMNS", "MAX_PAGE", "MAX_REPORT", "Filters", "Inspection", "Page", "SeqIndex"]

#: The columns of a row in the list (the detail adds headers, body and problems).
LIST_COLUMNS = (
    "seq", "received_at", "event_type", "verdict", "reason", "status", "handling_ms", "latency_ms",
    "webhook_id", "event_id", "tenant_id", "signature", "fault", "attempt", "duplicate", "out_of_order",
)
#: Most rows in one page or one live update.
MAX_PAGE = 500
#: Most records embedded in one ``inspect --html`` file.
MAX_REPORT = 100_000
#: Longest text filter, in characters.
MAX_TEXT = 200
#: The shown part of a body that is not JSON.
_TEXT_BODY = 64 * 1024

@dataclass(frozen=True, slots=True)
class Filters:
    """What the list shows: an event type key, a verdict, a text found in an id or the tenant.

    >>> Filters.parse({"type": "Secret Used", "verdict": "invalid", "q": "evt_"})
    Filters(type='secret.used', verdict='invalid', text='evt_')
    """

    type: str | None = None
    verdict: str | None = None
    text: str | None = None

    @classmethod
    def parse(cls, query: Any) -> Filters:
        """From query parameters (``type``, ``verdict``, ``q``); ``UsageError`` names the bad one."""
        raw_type = (query.get("type") or "").strip()
        try:
            event_type = lookup(raw_type).key if raw_type else None
        except UnknownEventType as exc:
            raise UsageError(f"type={raw_type[:80]!r}: {exc}") from None
        verdict = query.get("verdict") or None
        if verdict is not None and verdict not in VERDICTS:
            raise UsageError(f"verdict={verdict[:40]!r} must be one of {', '.join(VERDICTS)}")
        text = (query.get("q") or "").strip() or None
        if text is not None and (len(text) > MAX_TEXT or not text.isprintable()):
            raise UsageError(f"q must be printable text of at most {MAX_TEXT} characters (part of an "
                             "id or a tenant id)")
        return cls(event_type, verdict, text)

    def where(self) -> tuple[list[str], list[Any]]:
        """SQL conditions and their parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.type is not None:
            clauses.append("event_type = ?")
            params.append(self.type)
        if self.verdict is not None:
            clauses.append("verdict = ?")
            params.append(self.verdict)
        if self.text is not None:
            clauses.append("(instr(webhook_id, ?) OR instr(event_id, ?) OR instr(tenant_id, ?))")
            params += [self.text] * 3
        return clauses, params


class SeqIndex:
    """Record numbers by verdict, by event type and by both, in memory, for one record file.

    Append-only like the file (4 bytes a number, 12 a record); ``refresh`` reads the rows
    after the last one seen. Thread-safe: the server reads from several threads.
    """

    def __init__(self) -> None:
        self.last = 0
        self.total = 0
        self.by_type: dict[str | None, array[int]] = {}
        self.by_verdict: dict[str, array[int]] = {}
        self.by_pair: dict[tuple[str | None, str], array[int]] = {}
        self.lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SeqIndex(last={self.last}, total={self.total})"

    def refresh(self, conn: sqlite3.Connection) -> None:
        """Add the rows after the last one seen (call with ``lock`` held)."""
        rows = conn.execute("SELECT seq, event_type, verdict FROM records WHERE seq > ? ORDER BY seq",
                            (self.last,))
        for seq, event_type, verdict in rows:
            _append(self.by_type, event_type, seq)
            _append(self.by_verdict, verdict, seq)
            _append(self.by_pair, (event_type, verdict), seq)
            self.last = seq
            self.total += 1

    def numbers(self, filters: Filters) -> array[int] | None:
        """The ascending record numbers of a type, a verdict or both; None for no such filter."""
        if filters.type is not None and filters.verdict is not None:
            return self.by_pair.get((filters.type, filters.verdict), _EMPTY)
        if filters.type is not None:
            return self.by_type.get(filters.type, _EMPTY)
        if filters.verdict is not None:
            return self.by_verdict.get(filters.verdict, _EMPTY)
        return None


_EMPTY: array[int] = array("I")
_K = TypeVar("_K")


def _append(table: dict[_K, array[int]], key: _K, seq: int) -> None:
    numbers = table.get(key)
    if numbers is None:
        numbers = table[key] = array("I")
    numbers.append(seq)


@dataclass(frozen=True, slots=True)
class Page:
    """Rows of the list, newest first; ``older`` is the ``before`` of the next page, if any."""

    rows: list[dict[str, Any]]
    older: int | None
    matching: int

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.rows, "older": self.older, "matching": self.matching}


def int_param(query: Any, name: str, *, default: int | None, low: int, high: int) -> int | None:
    """A bounded whole-number query parameter, or ``UsageError`` naming it."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(high)) or not low <= int(raw) <= high:
        raise UsageError(f"{name}={raw[:20]!r} must be a whole number from {low} to {high}")
    return int(raw)


class Inspection:
    """Read-only queries over one record file, for the web inspector and ``inspect --html``."""

    def __init__(self, path: PathLike, *, index: SeqIndex | None = None) -> None:
        self.path = Path(path)
        self.index = index if index is not None else SeqIndex()
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such record file; `chestsim listen --db {self.path}` "
                             "writes one", path=str(self.path))
        try:
            self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                         check_same_thread=False, timeout=10, isolation_level=None)
            found = self._conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a chestsim listener record file ({exc})",
                             path=str(self.path)) from None
        if not found or found[0] != FORMAT:
            self._conn.close()
            raise InputError(f"{self.path}: not a chestsim listener record file; give the --db file "
                             "that `chestsim listen` wrote", path=str(self.path))
        self._conn.row_factory = sqlite3.Row

    def __repr__(self) -> str:
        return f"Inspection({str(self.path)!r})"

    def __enter__(self) -> Inspection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Inspection]:
        """Every query in the block sees the file as it was at the first one (a read transaction):
        the newest ``seq``, the counts and the rows of one live update agree, whatever commits
        meanwhile."""
        self._conn.execute("BEGIN")
        try:
            yield self
        finally:
            self._conn.execute("COMMIT")

    def page(self, filters: Filters, *, before: int | None = None, limit: int = 100) -> Page:
        """Up to ``limit`` matching rows older than ``before`` (newest first), and how many match."""
        last = self.last_seq()  # of this snapshot: another thread's index may have read further
        if filters.text is not None:
            clauses, params = filters.where()
            numbers: Sequence[int] | None = [seq for (seq,) in self._conn.execute(
                f"SELECT seq FROM records{_joined([*clauses, 'seq <= ?'])} ORDER BY seq", [*params, last])]
        else:
            with self.index.lock:
                self.index.refresh(self._conn)
                numbers = self.index.numbers(filters)
                if numbers is not None:
                    numbers = numbers[:bisect.bisect_right(numbers, last)]
        if numbers is None:  # no filter: the rowid is the index
            matching = self._count_all(last)
            clauses = ["seq <= ?"] if before is None else ["seq < ?"]
            rows = self._list(clauses, [last if before is None else before], limit=limit + 1)
        else:
            matching = len(numbers)
            end = matching if before is None else bisect.bisect_left(numbers, before)
            wanted = list(numbers[max(0, end - limit - 1):end])
            rows = self._list(["seq IN (SELECT value FROM json_each(?))"], [orjson.dumps(wanted).decode()],
                              limit=limit + 1)
        older = rows[-2]["seq"] if len(rows) > limit else None
        return Page(rows[:limit], older, matching)

    def _count_all(self, last: int) -> int:
        with self.index.lock:
            self.index.refresh(self._conn)
            if self.index.last == last:
                return self.index.total
        return int(self._conn.execute("SELECT count(*) FROM records WHERE seq <= ?", (last,)).fetchone()[0])

    def newer(self, filters: Filters, after: int, *, limit: int = 100) -> list[dict[str, Any]]:
        """Matching rows committed after ``after`` (newest first, at most ``limit``)."""
        clauses, params = filters.where()
        return self._list([*clauses, "seq > ?"], [*params, after], limit=min(limit, MAX_PAGE))

    def count_newer(self, filters: Filters, after: int) -> int:
        """How many rows after ``after`` match (a live update's count; read through the rowid)."""
        clauses, params = filters.where()
        return int(self._conn.execute(f"SELECT count(*) FROM {_after(after)}"
                                      + "".join(f" AND {c}" for c in clauses), [after, *params]).fetchone()[0])

    def _list(self, clauses: list[str], params: list[Any], *, limit: int) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(LIST_COLUMNS)} FROM records{_joined(clauses)} ORDER BY seq DESC LIMIT ?"
        return [_list_row(row) for row in self._conn.execute(sql, [*params, limit])]

    def record(self, seq: int) -> dict[str, Any] | None:
        """One record with its headers (credentials already redacted), problems and body."""
        row = self._conn.execute(
            f"SELECT {', '.join(LIST_COLUMNS)}, method, path, remote, event_time, problems, headers, "
            "body, body_size FROM records WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            return None
        out = _list_row(row)
        for name in ("method", "path", "remote", "event_time", "body_size"):
            out[name] = row[name]
        out["problems"] = orjson.loads(row["problems"]) if row["problems"] else []
        out["headers"] = orjson.loads(row["headers"]) if row["headers"] else {}
        body = row["body"]
        out["body"] = out["body_text"] = None
        if body is not None:
            try:
                out["body"] = orjson.loads(body)
            except orjson.JSONDecodeError:
                out["body_text"] = bytes(body[:_TEXT_BODY]).decode("utf-8", "replace")
        return out

    def last_seq(self) -> int:
        """The newest record's ``seq`` (0 for an empty file)."""
        return int(self._conn.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()[0])

    def counts(self, *, after: int = 0) -> dict[str, Any]:
        """Totals by verdict and by event type, of every record after ``after``."""
        last = self.last_seq()
        if after <= 0:
            with self.index.lock:
                self.index.refresh(self._conn)
                if self.index.last == last:
                    by_verdict = {k: len(v) for k, v in self.index.by_verdict.items()}
                    by_type = {k or "-": len(v) for k, v in self.index.by_type.items()}
                    return {"total": self.index.total, "by_verdict": _ranked(by_verdict),
                            "by_type": _ranked(by_type)}
        source = _after(after)
        by_verdict = {str(k): int(n) for k, n in self._conn.execute(
            f"SELECT verdict, count(*) FROM {source} GROUP BY 1 ORDER BY 2 DESC", (after,))}
        by_type = {str(k): int(n) for k, n in self._conn.execute(
            f"SELECT coalesce(event_type, '-'), count(*) FROM {source} GROUP BY 1 ORDER BY 2 DESC",
            (after,))}
        return {"total": sum(by_verdict.values()), "by_verdict": by_verdict, "by_type": by_type}

    def timeline(self, *, since: float | None = None, after: int = 0,
                 buckets: int = 60) -> dict[str, Any]:
        """Requests per time bucket and verdict: ``{"start", "width", "counts": [[i, verdict, n]]}``.

        With ``since``, one-second buckets from then (the live chart), read from the rows after
        the first one received since then (found by bisecting ``seq``: records are appended in
        the order they arrive); without, the file's whole span cut into ``buckets`` buckets (the
        report, which reads every row once).
        """
        if since is not None:
            start, width = float(int(since)), 1.0
            after = max(after, self._seq_before(start))
        else:
            first = self._conn.execute("SELECT received_at FROM records WHERE seq > ? ORDER BY seq LIMIT 1",
                                       (after,)).fetchone()
            if first is None:
                return {"start": 0.0, "width": 1.0, "counts": []}
            last = self._conn.execute("SELECT received_at FROM records ORDER BY seq DESC LIMIT 1").fetchone()
            start = float(int(first[0]))
            width = max(1.0, float(int((last[0] - start) / buckets) + 1))
        rows = self._conn.execute(
            "SELECT CAST((received_at - ?) / ? AS INTEGER), verdict, count(*) FROM records NOT INDEXED "
            "WHERE seq > ? AND received_at >= ? GROUP BY 1, 2 ORDER BY 1", (start, width, after, start))
        return {"start": start, "width": width, "counts": [[int(i), str(v), int(n)] for i, v, n in rows]}

    def _seq_before(self, moment: float) -> int:
        """The last ``seq`` received before ``moment`` (0 if none): a bisection, ~20 lookups."""
        low, high = 0, self.last_seq()
        # Invariant: row ``low`` (or nothing) is before ``moment``; rows after ``high`` are not.
        while low < high:
            middle = (low + high + 1) // 2
            found = self._conn.execute("SELECT received_at FROM records WHERE seq >= ? ORDER BY seq LIMIT 1",
                                       (middle,)).fetchone()
            if found is not None and found[0] < moment:
                low = middle
            else:
                high = middle - 1
        return low


def _after(after: int) -> str:
    """Records after ``after``, read through the rowid (never an index another tool added)."""
    return "records NOT INDEXED WHERE seq > ?"


def _ranked(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _joined(clauses: list[str]) -> str:
    return " WHERE " + " AND ".join(clauses) if clauses else ""


def _list_row(row: sqlite3.Row) -> dict[str, Any]:
    out = {name: row[name] for name in LIST_COLUMNS}
    out["duplicate"] = bool(out["duplicate"])
    out["out_of_order"] = bool(out["out_of_order"])
    return out
