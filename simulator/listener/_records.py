"""The listener's record file: one SQLite row per request, written in batches.

``BatchWriter`` commits a batch of rows in one transaction (in the writer
process, or inline on the event loop); ``RecordStore`` reads
a record file, live or after the fact (WAL lets readers and the writer work
side by side).

>>> store = RecordStore("received.db")            # doctest: +SKIP
>>> [r.event_type for r in store.records(verdict="valid", limit=3)]  # doctest: +SKIP
['secret.used', 'user.created', 'secret.used']
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from simulator._exceptions import InputError
from simulator._types import PathLike
from simulator.listener._judge import Validates

__all__ = ["COLUMNS", "FORMAT", "BatchWriter", "Record", "RecordFileLost", "RecordStore", "Summary",
           "shared_validator"]

#: Written in the ``meta`` table; ``chestsim inspect`` refuses other files.
FORMAT = "chestsim-listener-records/1"

#: Column order of a record row.
COLUMNS = (
    "received_at", "method", "path", "remote", "webhook_id", "event_id", "event_type", "tenant_id",
    "event_time", "status", "verdict", "signature", "reason", "problems", "fault", "latency_ms",
    "attempt", "duplicate", "out_of_order", "headers", "body", "body_size", "handling_ms",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq          INTEGER PRIMARY KEY,
    received_at  REAL NOT NULL,     -- unix seconds
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    remote       TEXT,
    webhook_id   TEXT,              -- the webhook-id header
    event_id     TEXT,              -- the envelope's id
    event_type   TEXT,
    tenant_id    TEXT,
    event_time   TEXT,              -- the envelope's timestamp
    status       INTEGER NOT NULL,  -- the answer given; 0 = dropped or hung, no answer
    verdict      TEXT NOT NULL,     -- valid invalid leak unverified malformed rejected error
    signature    TEXT NOT NULL,     -- ok, unchecked, or why it failed (never the signature)
    reason       TEXT,
    problems     TEXT,              -- JSON list of {code, severity, pointer, message}
    fault        TEXT,              -- fail drop hang rate-limit gone, or NULL
    latency_ms   REAL,              -- injected latency
    attempt      INTEGER NOT NULL,  -- how many times this webhook-id arrived, this one included
    duplicate    INTEGER NOT NULL,  -- 1: this webhook-id was already acknowledged
    out_of_order INTEGER NOT NULL,  -- 1: older than an event of the same tenant seen before
    headers      TEXT NOT NULL,     -- JSON object, lower-case names, credentials redacted
    body         BLOB,              -- as received (leaked values masked); NULL when refused unread
    body_size    INTEGER NOT NULL,
    handling_ms  REAL NOT NULL      -- the listener's own work before recording
);
"""

_INSERT = f"INSERT INTO records ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


@dataclass(frozen=True, slots=True)
class Record:
    """One request as the listener saw and answered it.

    ``status`` 0 means no answer (a dropped or hung connection); ``headers``
    never hold a signature or a token; ``body`` is ``None`` when the request
    was refused before its body was read (413).
    """

    seq: int
    received_at: float
    method: str
    path: str
    remote: str | None
    webhook_id: str | None
    event_id: str | None
    event_type: str | None
    tenant_id: str | None
    event_time: str | None
    status: int
    verdict: str
    signature: str
    reason: str | None
    problems: tuple[dict[str, str], ...]
    fault: str | None
    latency_ms: float | None
    attempt: int
    duplicate: bool
    out_of_order: bool
    headers: dict[str, str] = field(repr=False)
    body: bytes | None = field(repr=False)
    body_size: int
    handling_ms: float

    @property
    def acknowledged(self) -> bool:
        """Whether the sender got a 2xx."""
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed as JSON (raises ``orjson.JSONDecodeError`` if it is not)."""
        return orjson.loads(self.body or b"")

    def to_dict(self, *, body: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; the body is parsed when it is JSON, else shown as text."""
        out: dict[str, Any] = {name: getattr(self, name) for name in ("seq", *COLUMNS) if name != "body"}
        out["problems"] = list(self.problems)
        if body:
            try:
                out["body"] = self.json()
            except orjson.JSONDecodeError:
                out["body"] = None if self.body is None else self.body[:4096].decode("utf-8", "replace")
        return out

    @classmethod
    def _from_row(cls, row: sqlite3.Row) -> Record:
        values = dict(row)
        values["problems"] = tuple(orjson.loads(values["problems"])) if values["problems"] else ()
        values["headers"] = orjson.loads(values["headers"])
        values["duplicate"] = bool(values["duplicate"])
        values["out_of_order"] = bool(values["out_of_order"])
        return cls(**values)


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    if not create and not path.is_file():
        raise InputError(f"{path}: no such record file; `chestsim listen --db {path}` writes one",
                         path=str(path))
    if create and path.exists() and (not path.is_file() or path.stat().st_size > 0):
        # Another program's file must stay as it is: check it read-only before touching it.
        _check_format(path)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        conn.execute("PRAGMA busy_timeout=10000")
        if create:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT,))
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('created_at', ?)", (repr(time.time()),))
        found = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise _not_a_record_file(path, str(exc)) from None
    if not found or found[0] != FORMAT:
        conn.close()
        raise _not_a_record_file(path, f"format {found and found[0]!r}")
    return conn


def _check_format(path: Path) -> None:
    """Refuse an existing file that is not a record file, without changing a byte of it."""
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10)
    except sqlite3.Error as exc:
        raise _not_a_record_file(path, str(exc)) from None
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        found = (conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
                 if "meta" in tables else None)
    except sqlite3.Error as exc:
        raise _not_a_record_file(path, str(exc)) from None
    finally:
        conn.close()
    if not found or found[0] != FORMAT:
        kind = f"tables {', '.join(sorted(tables)[:5])}" if tables else "no tables"
        raise _not_a_record_file(path, f"another program's SQLite file: {kind}")


def _not_a_record_file(path: Path, why: str) -> InputError:
    return InputError(f"{path}: not a chestsim listener record file ({why}); left unchanged; give a new "
                      "--db path or one that `chestsim listen` wrote", path=str(path))


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path`` now, or None when there is none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class RecordFileLost(RuntimeError):
    """The record file was removed or replaced while the listener wrote to it."""


@cache
def shared_validator(strict: bool) -> Validates:
    """One compiled ``Validator`` per strictness, per process (compiling takes a while)."""
    from simulator.validation import Validator

    return Validator(strict=strict)


class BatchWriter:
    """Inserts a batch of record rows in one transaction (synchronous; one thread).

    Commits are not fsynced (``synchronous=NORMAL``: safe when the process dies,
    which is what SIGTERM and kill -9 test) unless ``fsync``. Checkpoints, which
    do fsync, run in a thread of their own every ``checkpoint_every`` seconds,
    so that a commit never waits for one.
    """

    def __init__(self, path: PathLike, *, fsync: bool = False, checkpoint_every: float = 0.5) -> None:
        self.path = Path(path)
        self.conn = _connect(self.path, create=True)
        self._identity = _identity(self.path)
        #: Set once the file is found removed or replaced: what was kept, and where.
        self.lost: str | None = None
        self.conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
        # A safety valve: the checkpoint thread does nearly all the work, but only a writer can
        # wrap the WAL around once it has been copied back.
        self.conn.execute("PRAGMA wal_autocheckpoint=8000")
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint, args=(checkpoint_every,),
                                              name="chestsim-checkpoint", daemon=True)
        self._checkpointer.start()

    def _checkpoint(self, every: float) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        try:
            # Until close(); PASSIVE never blocks the writer.
            while not self._stop.wait(every):
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        """Insert and commit, or insert nothing (``RecordFileLost`` once the file is gone)."""
        if self.lost is not None or _identity(self.path) != self._identity:
            raise RecordFileLost(self._lose())
        conn = self.conn
        conn.execute("BEGIN")
        try:
            conn.executemany(_INSERT, rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def acknowledged_ids(self, limit: int) -> list[str]:
        """The newest ``limit`` acknowledged webhook-ids, oldest first (to spot redeliveries)."""
        rows = self.conn.execute(
            "SELECT webhook_id FROM records WHERE status BETWEEN 200 AND 299 AND webhook_id IS NOT NULL "
            "ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [row[0] for row in reversed(rows)]

    def _lose(self) -> str:
        """Say (once) what happened to the file, and save what it held to a new one."""
        if self.lost is None:
            held = int(self.conn.execute("SELECT count(*) FROM records").fetchone()[0])
            try:
                # The connection still reads the removed file: copy it out whole.
                rescue = Path(tempfile.mkdtemp(prefix="chestsim-rescued-")) / self.path.name
                self.conn.execute("VACUUM INTO ?", (str(rescue),))
                kept = f"the {held} record{'s' * (held != 1)} it held {'are' if held != 1 else 'is'} saved in {rescue}"
            except (OSError, sqlite3.Error) as exc:
                kept = f"the {held} record{'s' * (held != 1)} it held could not be saved ({type(exc).__name__})"
            self.lost = f"the record file {self.path} was removed or replaced while listening; {kept}"
        return self.lost

    def close(self) -> str | None:
        """Fold the WAL back into the file (self-contained for copies and `inspect`) and close;
        what was lost (see ``lost``) if the file was removed or replaced meanwhile."""
        self._stop.set()
        self._checkpointer.join(30)
        if self.lost is None and _identity(self.path) != self._identity:
            self._lose()
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()
        return self.lost


@dataclass(frozen=True, slots=True)
class Summary:
    """What a record file holds, counted (``chestsim inspect``)."""

    path: str
    total: int
    first_at: float | None
    last_at: float | None
    by_verdict: dict[str, int]
    by_status: dict[str, int]
    by_type: dict[str, int]
    by_fault: dict[str, int]
    distinct_ids: int
    acknowledged_ids: int
    duplicates: int
    out_of_order: int
    problems: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class RecordStore:
    """Read access to a record file (``chestsim listen --db``), while it is written or after.

    >>> with RecordStore("received.db") as store:    # doctest: +SKIP
    ...     store.count(verdict="valid")
    1200
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self._conn = _connect(self.path, create=False)
        self._conn.row_factory = sqlite3.Row

    def __repr__(self) -> str:
        return f"RecordStore({os.fspath(self.path)!r})"

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def records(self, *, type: str | None = None, verdict: str | None = None,
                limit: int | None = None, newest_first: bool = False) -> list[Record]:
        """Records, oldest first (or newest first), filtered by event type and verdict."""
        sql, params = _select(type=type, verdict=verdict, limit=limit, newest_first=newest_first)
        return [Record._from_row(row) for row in self._conn.execute(sql, params)]

    def __iter__(self) -> Iterator[Record]:
        for row in self._conn.execute("SELECT * FROM records ORDER BY seq"):
            yield Record._from_row(row)

    def count(self, *, type: str | None = None, verdict: str | None = None) -> int:
        where, params = _where(type=type, verdict=verdict)
        return int(self._conn.execute(f"SELECT count(*) FROM records{where}", params).fetchone()[0])

    def acknowledged_ids(self) -> set[str]:
        """Every ``webhook-id`` answered 2xx at least once."""
        rows = self._conn.execute(
            "SELECT DISTINCT webhook_id FROM records WHERE status BETWEEN 200 AND 299 AND webhook_id IS NOT NULL")
        return {row[0] for row in rows}

    def summary(self) -> Summary:
        """Counts by verdict, status, type and fault; duplicates; ordering; problem codes."""
        conn = self._conn

        def grouped(column: str) -> dict[str, int]:
            rows = conn.execute(f"SELECT coalesce({column}, '-'), count(*) FROM records GROUP BY 1 "
                                "ORDER BY 2 DESC, 1")
            return {str(key): int(n) for key, n in rows}

        total, first, last, dups, ooo, distinct = conn.execute(
            "SELECT count(*), min(received_at), max(received_at), coalesce(sum(duplicate), 0), "
            "coalesce(sum(out_of_order), 0), count(DISTINCT webhook_id) FROM records").fetchone()
        acked = conn.execute("SELECT count(DISTINCT webhook_id) FROM records "
                             "WHERE status BETWEEN 200 AND 299").fetchone()[0]
        problems: dict[str, int] = {}
        for (text,) in conn.execute("SELECT problems FROM records WHERE problems IS NOT NULL"):
            for problem in orjson.loads(text):
                key = f"{problem.get('code')}: {problem.get('pointer') or '/'}"
                problems[key] = problems.get(key, 0) + 1
        by_fault = grouped("fault")
        by_fault.pop("-", None)
        return Summary(path=str(self.path), total=int(total), first_at=first, last_at=last,
                       by_verdict=grouped("verdict"), by_status=grouped("status"),
                       by_type=grouped("event_type"), by_fault=by_fault, distinct_ids=int(distinct),
                       acknowledged_ids=int(acked), duplicates=int(dups), out_of_order=int(ooo),
                       problems=dict(sorted(problems.items(), key=lambda kv: (-kv[1], kv[0]))[:20]))


def _where(*, type: str | None, verdict: str | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if type is not None:
        clauses.append("event_type = ?")
        params.append(type)
    if verdict is not None:
        clauses.append("verdict = ?")
        params.append(verdict)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _select(*, type: str | None, verdict: str | None, limit: int | None,
            newest_first: bool) -> tuple[str, list[Any]]:
    where, params = _where(type=type, verdict=verdict)
    sql = f"SELECT * FROM records{where} ORDER BY seq {'DESC' if newest_first else 'ASC'}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return sql, params

