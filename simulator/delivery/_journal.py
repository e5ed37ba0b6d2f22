"""The delivery journal: one SQLite file (WAL, batched writes) per run.

Tables::

    meta(key, value)                 schema version, input path, lines read, input done, and
                                     ``options``: the run's delivery options as JSON (no secrets)
    endpoints(idx, name, url, info)  what may be known about each endpoint (no secrets)
    events(seq, line, id, type, tenant_id, ts, ts_epoch, targets, ntargets, body)
                                     accepted events, with the exact body sent
    attempts(seq, endpoint, attempt, at, status, latency_ms, error, outcome)
    outcomes(seq, endpoint, state, attempts, status, reason, at)
                                     'delivered' or 'dead' (dead-lettered, with reason)

An event is written (accepted) and committed before its first attempt; outcomes
and attempts are buffered and committed every ``OUTCOME_BATCH`` outcomes, with
the next batch of events, or every fraction of a second. After a kill -9, a
delivery without an outcome is sent again with the same ``webhook-id``: at most
the deliveries in flight (``--concurrency``) plus ``OUTCOME_BATCH`` per kill. No secret, token or header value is ever written; the
stored options are the ones ``Sender.run_options`` lists (retry, pacing,
concurrency, timeout…), which ``--resume`` uses unless a flag overrides them.
Journals written before options were stored have no ``options`` row.

>>> j = Journal.create(":memory:", endpoints=[])
>>> j.counts()
{'events': 0, 'delivered': 0, 'dead': 0, 'pending': 0}
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one run per journal is then up to the user
    fcntl = None  # type: ignore[assignment]

from simulator._exceptions import JournalError
from simulator.delivery._input import Outbound, Recorded, epoch_of

__all__ = ["Journal"]

SCHEMA_VERSION = "1"
#: Outcomes are committed at least every this many: after a kill -9, what a ``--resume``
#: sends again is at most the deliveries in flight plus one such batch (``send --help``).
OUTCOME_BATCH = 32
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE endpoints (idx INTEGER PRIMARY KEY, name TEXT NOT NULL, url TEXT NOT NULL,
                        info TEXT NOT NULL, disabled TEXT);
CREATE TABLE events (seq INTEGER PRIMARY KEY, line INTEGER, id TEXT NOT NULL, type TEXT NOT NULL,
                     tenant_id TEXT, ts TEXT, ts_epoch REAL, targets TEXT NOT NULL,
                     ntargets INTEGER NOT NULL, body BLOB NOT NULL);
CREATE INDEX events_id ON events(id);
CREATE TABLE attempts (seq INTEGER NOT NULL, endpoint INTEGER NOT NULL, attempt INTEGER NOT NULL,
                       at REAL NOT NULL, status INTEGER, latency_ms REAL, error TEXT,
                       outcome TEXT NOT NULL);
CREATE TABLE outcomes (seq INTEGER NOT NULL, endpoint INTEGER NOT NULL, state TEXT NOT NULL,
                       attempts INTEGER NOT NULL, status INTEGER, reason TEXT, at REAL NOT NULL,
                       PRIMARY KEY (seq, endpoint)) WITHOUT ROWID;
"""


class Journal:
    """A run's journal. Use ``create`` for a new run, ``open`` to resume or replay one.

    >>> with Journal.create(":memory:", endpoints=[{"name": "a", "url": "http://localhost/"}]) as j:
    ...     j.endpoint_rows()[0]["url"]
    'http://localhost/'
    """

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        try:
            self._lock = _Lock(path)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self.path = path
        self._attempts: list[tuple[Any, ...]] = []
        self._outcomes: list[tuple[Any, ...]] = []
        self._readers: list[sqlite3.Connection] = []
        row = conn.execute("SELECT max(seq) FROM events").fetchone()
        self._next_seq = (row[0] or 0) + 1

    def __repr__(self) -> str:
        return f"Journal.open({self.path!r})"

    # -- opening -----------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, endpoints: Sequence[dict[str, Any]],
               meta: dict[str, str] | None = None, options: dict[str, Any] | None = None) -> Journal:
        """A new journal; refuses to overwrite an existing one (a file left by a run that never
        started is replaced).

        Schema, meta, endpoints and ``options`` are written in one transaction in SQLite's
        rollback-journal mode, and the file switches to WAL only once they are committed: a
        process killed at any moment leaves no journal (an empty file, or one whose hot
        rollback journal empties it) or a whole one. ``options`` are the run's delivery options
        (``Sender.run_options()``): plain values, never a secret or a token.
        """
        where = os.fspath(path)
        cls.refuse_existing(where)
        if where != ":memory:":
            _discard(where)
        rows = {"schema": SCHEMA_VERSION, "created_at": repr(time.time()), "lines_read": "0",
                "input_done": "0", **(meta or {})}
        if options is not None:
            rows["options"] = orjson.dumps(options).decode()
        try:
            conn = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("BEGIN")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.executemany("INSERT INTO meta VALUES (?, ?)", rows.items())
            conn.executemany("INSERT INTO endpoints VALUES (?, ?, ?, ?, NULL)",
                             [(i, e["name"], e["url"], orjson.dumps(e).decode())
                              for i, e in enumerate(endpoints)])
            conn.execute("COMMIT")
            _pragmas(conn)
        except sqlite3.Error as exc:
            raise JournalError(f"--journal={where!r}: cannot create it ({exc})", path=where) from None
        return cls(conn, where)

    @staticmethod
    def refuse_existing(path: str | os.PathLike[str]) -> None:
        """Raise ``JournalError`` when ``path`` already holds something: ``create`` never
        overwrites, and a run checks this before it starts anything. A file left by a run
        killed before its journal was written holds nothing and is not refused."""
        where = os.fspath(path)
        if os.path.isdir(where):
            raise JournalError(f"--journal={where!r} is a folder; give a file path, like "
                               f"{os.path.join(where, 'run.db')}", path=where)
        if where == ":memory:" or not os.path.exists(where) or _never_started(where):
            return
        raise JournalError(f"--journal={where!r} already exists; continue it with --resume "
                           f"{where} or choose a new file", path=where)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, option: str = "--resume") -> Journal:
        """An existing journal, checked to be a chestsim journal."""
        where = os.fspath(path)
        if os.path.isdir(where):
            raise JournalError(f"{option}={where!r} is a folder; give the journal file written by "
                               "--journal", path=where)
        if not os.path.isfile(where):
            raise JournalError(f"{option}={where!r}: no such journal file", path=where)
        if _never_started(where):
            raise JournalError(
                f"{option}={where!r}: that run never started (it was stopped before its journal was "
                f"written), so nothing was sent; the same command with --journal {where} instead of "
                f"{option} starts it", path=where)
        try:
            conn = sqlite3.connect(f"file:{where}?mode=rw", uri=True, isolation_level=None,
                                   check_same_thread=False)
            _pragmas(conn)
            version = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.Error:
            raise JournalError(f"{option}={where!r} is not a chestsim journal (not SQLite, or "
                               "damaged); give the file written by --journal", path=where) from None
        if version is None or version[0] != SCHEMA_VERSION:
            raise JournalError(f"{option}={where!r} is a journal of another chestsim version "
                               f"(schema {version[0] if version else '?'})", path=where)
        return cls(conn, where)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Flush and close."""
        try:
            self.flush()
        finally:
            for reader in self._readers:
                reader.close()
            self._conn.close()
            self._lock.release()

    # -- writing ---------------------------------------------------------------------

    def accept(self, routed: Iterable[tuple[Outbound, tuple[int, ...]]], *, lines_read: int | None = None,
               input_done: bool = False) -> list[int]:
        """Write events (with their targets) and everything buffered in one commit; return seqs."""
        rows = []
        seqs = []
        seq = self._next_seq
        for ev, targets in routed:
            rows.append((seq, ev.line, ev.id, ev.type, ev.tenant_id, ev.timestamp, epoch_of(ev.timestamp),
                         ",".join(map(str, targets)), len(targets), ev.body))
            seqs.append(seq)
            seq += 1
        self._next_seq = seq
        conn = self._conn
        conn.execute("BEGIN")
        try:
            if rows:
                conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            self._write_buffers()
            if lines_read is not None:
                conn.execute("UPDATE meta SET value=? WHERE key='lines_read'", (str(lines_read),))
            if input_done:
                conn.execute("UPDATE meta SET value='1' WHERE key='input_done'")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._clear_buffers()
        return seqs

    def attempt(self, seq: int, endpoint: int, attempt: int, status: int | None, latency_ms: float,
                error: str | None, outcome: str) -> None:
        """Buffer one attempt ('delivered', 'retry', 'dead' or 'disabled')."""
        self._attempts.append((seq, endpoint, attempt, time.time(), status, latency_ms, error, outcome))

    def delivered(self, seq: int, endpoint: int, attempt: int, status: int, latency_ms: float) -> None:
        """Buffer a delivered attempt and its outcome (``attempt`` then ``outcome``, in one call:
        the one every delivery makes)."""
        now = time.time()
        self._attempts.append((seq, endpoint, attempt, now, status, latency_ms, None, "delivered"))
        self._outcomes.append((seq, endpoint, "delivered", attempt, status, None, now))
        if len(self._outcomes) >= OUTCOME_BATCH:
            self.flush()

    def outcome(self, seq: int, endpoint: int, state: str, attempts: int, status: int | None,
                reason: str | None) -> None:
        """Buffer a final outcome: 'delivered' or 'dead' with its reason; the buffer is
        committed once it holds ``OUTCOME_BATCH`` outcomes (or sooner, by ``flush``)."""
        self._outcomes.append((seq, endpoint, state, attempts, status, reason, time.time()))
        if len(self._outcomes) >= OUTCOME_BATCH:
            self.flush()

    def disable(self, endpoint: int, reason: str) -> None:
        """Mark an endpoint disabled (410 Gone)."""
        self._conn.execute("UPDATE endpoints SET disabled=? WHERE idx=?", (reason, endpoint))

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @property
    def buffered(self) -> int:
        return len(self._attempts) + len(self._outcomes)

    def flush(self) -> None:
        """Commit buffered attempts and outcomes."""
        if not self._attempts and not self._outcomes:
            return
        conn = self._conn
        conn.execute("BEGIN")
        try:
            self._write_buffers()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._clear_buffers()

    def _write_buffers(self) -> None:
        if self._attempts:
            self._conn.executemany("INSERT INTO attempts VALUES (?,?,?,?,?,?,?,?)", self._attempts)
        if self._outcomes:
            self._conn.executemany("INSERT OR REPLACE INTO outcomes VALUES (?,?,?,?,?,?,?)", self._outcomes)

    def _clear_buffers(self) -> None:
        # Only once committed: a rollback (an interrupt mid-write) keeps them for the next flush.
        self._attempts = []
        self._outcomes = []

    # -- reading ---------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        # A second connection reads a stable snapshot while the first keeps writing outcomes.
        if self.path == ":memory:":
            return self._conn
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=5000")
        self._readers.append(conn)
        return conn

    def meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    def run_options(self) -> dict[str, Any] | None:
        """The delivery options stored by the run that created the journal, or ``None`` when
        it predates stored options (or the row is unreadable)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key='options'").fetchone()
        if row is None:
            return None
        try:
            options = orjson.loads(row[0])
        except orjson.JSONDecodeError:
            return None
        return options if isinstance(options, dict) else None

    def recorded(self, *, samples: int = 1024) -> Recorded:
        """Some input lines this run read, as bytes, for ``--resume`` to check that it is given
        the same input: ``samples`` events spread over the journal, and its last 64."""
        last = self._conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        step = max(1, last // samples)
        # By rowid, so that a journal of a million events is not read through for a thousand.
        seqs = sorted({*range(step, last + 1, step), *range(max(1, last - 63), last + 1)})
        rows = self._conn.execute(
            f"SELECT line, body FROM events WHERE line IS NOT NULL AND seq IN ({','.join('?' * len(seqs))})",
            seqs).fetchall() if seqs else []
        meta = self.meta()
        return Recorded({line: body for line, body in rows}, self.path, meta.get("input", "?"))

    def endpoint_rows(self) -> list[dict[str, Any]]:
        """Each endpoint's stored description, with ``disabled`` (a reason or ``None``)."""
        out = []
        for idx, info, disabled in self._conn.execute(
                "SELECT idx, info, disabled FROM endpoints ORDER BY idx"):
            row = orjson.loads(info)
            row["idx"], row["disabled"] = idx, disabled
            out.append(row)
        return out

    def counts(self) -> dict[str, int]:
        """Events accepted, deliveries delivered / dead-lettered / still pending."""
        self.flush()
        events, owed = self._conn.execute("SELECT count(*), coalesce(sum(ntargets),0) FROM events").fetchone()
        states = dict(self._conn.execute("SELECT state, count(*) FROM outcomes GROUP BY state").fetchall())
        delivered, dead = states.get("delivered", 0), states.get("dead", 0)
        return {"events": events, "delivered": delivered, "dead": dead, "pending": owed - delivered - dead}

    def delivered_ids(self) -> set[str]:
        """Ids of events delivered to at least one endpoint."""
        self.flush()
        return {r[0] for r in self._conn.execute(
            "SELECT DISTINCT e.id FROM events e JOIN outcomes o ON o.seq=e.seq WHERE o.state='delivered'")}

    def pending(self) -> Iterator[Outbound]:
        """Accepted events still owed a delivery, in order, with the endpoints that still owe it."""
        self.flush()
        cursor = self._reader().execute(
            "SELECT e.seq, e.line, e.id, e.type, e.tenant_id, e.ts, e.targets, e.body, "
            "group_concat(o.endpoint) FROM events e LEFT JOIN outcomes o ON o.seq = e.seq "
            "GROUP BY e.seq HAVING count(o.endpoint) < e.ntargets ORDER BY e.seq")
        for seq, line, msg_id, kind, tenant, ts, targets, body, done in _fetch(cursor):
            finished = {int(x) for x in done.split(",")} if done else set()
            owed = tuple(int(x) for x in targets.split(",") if int(x) not in finished)
            yield Outbound(line, msg_id, kind, tenant or "", ts or "", body, "", seq, owed)

    def select(self, *, failed: bool = False, ids: Sequence[str] = (), types: Sequence[str] = (),
               since: float | None = None, until: float | None = None) -> Iterator[Outbound]:
        """Journalled events for ``replay``; with ``failed`` only those dead-lettered somewhere,
        targeted at the endpoints where they died."""
        self.flush()
        where: list[str] = []
        args: list[Any] = []
        if ids:
            where.append(f"e.id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        if types:
            where.append(f"e.type IN ({','.join('?' * len(types))})")
            args.extend(types)
        if since is not None:
            where.append("e.ts_epoch >= ?")
            args.append(since)
        if until is not None:
            where.append("e.ts_epoch < ?")
            args.append(until)
        if failed:
            where.append("o.state = 'dead'")
            sql = ("SELECT e.seq, e.line, e.id, e.type, e.tenant_id, e.ts, group_concat(o.endpoint), e.body "
                   "FROM events e JOIN outcomes o ON o.seq = e.seq")
        else:
            sql = "SELECT e.seq, e.line, e.id, e.type, e.tenant_id, e.ts, e.targets, e.body FROM events e"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += (" GROUP BY e.seq" if failed else "") + " ORDER BY e.seq"
        for seq, line, msg_id, kind, tenant, ts, targets, body in _fetch(self._reader().execute(sql, args)):
            owed = tuple(int(x) for x in targets.split(",")) if targets else ()
            yield Outbound(line, msg_id, kind, tenant or "", ts or "", body, "", seq, owed)


def _fetch(cursor: sqlite3.Cursor) -> Iterator[tuple[Any, ...]]:
    try:
        while True:
            rows = cursor.fetchmany(512)
            if not rows:
                return
            yield from rows
    finally:
        cursor.close()


class _Lock:
    """One run at a time per journal: an exclusive ``flock`` on the file, held while it is open
    (two runs resuming one journal would each send everything it owes). The kernel drops it
    when the process dies, so a kill -9 never leaves a journal locked. SQLite's own locks are
    POSIX record locks, which ``flock`` does not touch."""

    def __init__(self, path: str) -> None:
        self._fd: int | None = None
        if path == ":memory:" or fcntl is None:
            return
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalError(f"the journal {path!r} is in use by another chestsim run; wait for it to end "
                               "(or stop it), then run this again", path=path) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


_SQLITE_HEADER = b"SQLite format 3\x00"


def _never_started(where: str) -> bool:
    """Whether ``where`` is what a run killed while creating its journal leaves: an empty
    file, or an SQLite file without a single table (a hot rollback journal beside it is
    rolled back by opening it; a journal from before creation was one transaction may be a
    WAL header whose tables never committed)."""
    try:
        with open(where, "rb") as fh:
            head = fh.read(len(_SQLITE_HEADER))
    except OSError:
        return False
    if not head:
        return True
    if head != _SQLITE_HEADER:
        return False
    try:
        conn = sqlite3.connect(f"file:{where}?mode=rw", uri=True, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return bool(tables == 0)


def _discard(where: str) -> None:
    """Remove what a run that never started left at ``where`` (the file and SQLite's side files)."""
    for name in (where, f"{where}-journal", f"{where}-wal", f"{where}-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(name)


def _pragmas(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL survives a killed process (kill -9); only an OS crash can lose the last commits.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
