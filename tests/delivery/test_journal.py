"""The SQLite journal: creation, refusal of foreign files, pending deliveries, replay selection."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from simulator._exceptions import JournalError
from simulator.delivery import Journal, Outbound, Sender
from simulator.delivery._journal import OUTCOME_BATCH


def ev(i: int, kind: str = "secret.used", ts: str = "2026-11-28T09:00:00Z") -> Outbound:
    return Outbound(i, f"evt_{i}", kind, "t1", ts, b'{"id":"evt_%d"}' % i)


def make(tmp_path: Path) -> Journal:
    return Journal.create(tmp_path / "run.db", endpoints=[{"name": "a", "url": "http://127.0.0.1/a"},
                                                         {"name": "b", "url": "http://127.0.0.1/b"}])


def test_pending_lists_only_unfinished_targets(tmp_path: Path) -> None:
    jr = make(tmp_path)
    seqs = jr.accept([(ev(1), (0, 1)), (ev(2), (1,)), (ev(3), (0,))], lines_read=3)
    jr.outcome(seqs[0], 0, "delivered", 1, 204, None)
    jr.outcome(seqs[1], 1, "dead", 3, 500, "retries exhausted")
    jr.close()
    jr = Journal.open(tmp_path / "run.db")
    pending = [(p.id, p.targets, p.body) for p in jr.pending()]
    assert pending == [("evt_1", (1,), b'{"id":"evt_1"}'), ("evt_3", (0,), b'{"id":"evt_3"}')]
    assert jr.counts() == {"events": 3, "delivered": 1, "dead": 1, "pending": 2}
    assert jr.meta()["lines_read"] == "3"
    failed = [(p.id, p.targets) for p in jr.select(failed=True)]
    assert failed == [("evt_2", (1,))]
    assert [p.id for p in jr.select(ids=["evt_3"])] == ["evt_3"]
    jr.close()


def test_select_by_type_and_time(tmp_path: Path) -> None:
    jr = make(tmp_path)
    jr.accept([(ev(1, ts="2026-11-28T09:00:00Z"), (0,)), (ev(2, "user.created", "2026-11-28T10:00:00.500Z"), (0,)),
               (ev(3, ts="2026-11-28T11:00:00Z"), (0,))])
    assert [p.id for p in jr.select(types=["user.created"])] == ["evt_2"]
    since = 1_795_860_000.0  # 2026-11-28T10:00:00Z
    assert [p.id for p in jr.select(since=since)] == ["evt_2", "evt_3"]
    assert [p.id for p in jr.select(until=since)] == ["evt_1"]
    jr.close()


def test_seq_continues_after_reopen(tmp_path: Path) -> None:
    jr = make(tmp_path)
    assert jr.accept([(ev(1), (0,))]) == [1]
    jr.close()
    jr = Journal.open(tmp_path / "run.db")
    assert jr.accept([(ev(2), (0,))]) == [2]
    jr.close()


def test_run_options_round_trip_and_older_journals(tmp_path: Path) -> None:
    sender = Sender(to=["http://127.0.0.1:9/h"], secrets=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
                    token="tok", types="secret.used", concurrency=4, rate=200, retry="1s,250ms,1e-05",
                    jitter=0.2, time_scale=0.5, timeout=2.5, clock_skew=-600, seed=7, ordered=True)
    options = sender.run_options()
    assert options["retry"] == "1.0,0.25,1e-05"
    assert not [key for key in options if "secret" in key or "token" in key]
    assert "MfKQ9r8G" not in repr(options)
    assert "tok" not in [str(v) for v in options.values()]
    Journal.create(tmp_path / "run.db", endpoints=[], options=options).close()
    with Journal.open(tmp_path / "run.db") as jr:
        assert jr.run_options() == options
    # Sender(**stored) is the original run's sender again, option for option.
    assert Sender(**options).run_options() == options
    # A journal from before options were stored: None, and --resume uses the command line.
    Journal.create(tmp_path / "old.db", endpoints=[]).close()
    with Journal.open(tmp_path / "old.db") as jr:
        assert jr.run_options() is None


@pytest.mark.parametrize("content", [
    pytest.param(b"SQLite format 3\x00" + b"\x00" * 200, id="damaged"),
    pytest.param(b"id,type\n1,2\n", id="csv"),
])
def test_open_refuses_foreign_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(content)
    with pytest.raises(JournalError, match="not a chestsim journal"):
        Journal.open(path)


def test_open_refuses_other_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        db.execute("INSERT INTO meta VALUES ('schema', '99')")
    db.close()
    with pytest.raises(JournalError, match="another chestsim version"):
        Journal.open(path)


def test_missing_and_existing(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no such journal file"):
        Journal.open(tmp_path / "absent.db")
    make(tmp_path).close()
    with pytest.raises(JournalError, match="already exists"):
        make(tmp_path)


# A process that SIGKILLs itself in the middle of writing a journal: inside ``Journal.create``'s
# one transaction (reading the endpoint list), or, as chestsim did before creation was one
# transaction, after switching to WAL and before the schema committed.
_KILLED_IN_CREATE = """
import os, signal, sys
from simulator.delivery import Journal
class Dies(dict):
    def __getitem__(self, key):
        os.kill(os.getpid(), signal.SIGKILL)
Journal.create(sys.argv[1], endpoints=[Dies(name="a", url="http://127.0.0.1/")])
"""
_KILLED_IN_OLD_CREATE = """
import os, signal, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("BEGIN")
conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("script", [
    pytest.param(None, id="empty-file"),
    pytest.param(_KILLED_IN_CREATE, id="killed-inside-create"),
    pytest.param(_KILLED_IN_OLD_CREATE, id="killed-before-schema-committed"),
])
def test_a_run_killed_while_creating_its_journal_never_started(tmp_path: Path, script: str | None) -> None:
    path = tmp_path / "run.db"
    if script is None:
        path.write_bytes(b"")
    else:
        done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, timeout=60,
                              check=False)
        assert done.returncode == -9, done.stderr
    assert path.exists()
    with pytest.raises(JournalError) as caught:
        Journal.open(path)
    message = str(caught.value)
    assert "never started" in message
    assert f"--journal {path}" in message
    assert "\n" not in message
    # The same command without --resume starts the run on that file.
    Journal.refuse_existing(path)
    with Journal.create(path, endpoints=[{"name": "a", "url": "http://127.0.0.1/a"}]) as jr:
        jr.accept([(ev(1), (0,))], lines_read=1)
    assert not [p.name for p in tmp_path.iterdir() if p.name != "run.db"]
    with Journal.open(path) as jr:
        assert jr.counts()["events"] == 1


def test_a_journal_that_started_is_never_replaced(tmp_path: Path) -> None:
    make(tmp_path).close()
    with pytest.raises(JournalError, match="already exists"):
        Journal.refuse_existing(tmp_path / "run.db")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(JournalError, match="already exists"):
        Journal.create(other, endpoints=[])


def test_outcomes_commit_every_batch(tmp_path: Path) -> None:
    jr = make(tmp_path)
    seqs = jr.accept([(ev(i), (0,)) for i in range(1, OUTCOME_BATCH + 2)], lines_read=OUTCOME_BATCH + 1)

    def committed() -> int:
        with sqlite3.connect(f"file:{tmp_path / 'run.db'}?mode=ro", uri=True) as db:
            count: int = db.execute("SELECT count(*) FROM outcomes").fetchone()[0]
        db.close()
        return count

    for seq in seqs[:OUTCOME_BATCH - 1]:
        jr.outcome(seq, 0, "delivered", 1, 204, None)
    assert committed() == 0
    jr.outcome(seqs[OUTCOME_BATCH - 1], 0, "delivered", 1, 204, None)
    assert committed() == OUTCOME_BATCH
    assert jr.buffered == 0
    jr.close()


def test_delivered_writes_the_attempt_and_the_outcome_and_commits_every_batch(tmp_path: Path) -> None:
    jr = make(tmp_path)
    seqs = jr.accept([(ev(i), (0,)) for i in range(1, OUTCOME_BATCH + 1)], lines_read=OUTCOME_BATCH)
    for seq in seqs[:-1]:
        jr.delivered(seq, 0, 1, 204, 2.5)
    assert jr.buffered == 2 * (OUTCOME_BATCH - 1)
    jr.delivered(seqs[-1], 0, 2, 202, 7.0)
    assert jr.buffered == 0  # the batch is full: committed
    with sqlite3.connect(f"file:{tmp_path / 'run.db'}?mode=ro", uri=True) as db:
        attempts = db.execute("SELECT seq, endpoint, attempt, at, status, latency_ms, error, outcome "
                              "FROM attempts ORDER BY seq").fetchall()
        outcomes = db.execute("SELECT seq, endpoint, state, attempts, status, reason, at "
                              "FROM outcomes ORDER BY seq").fetchall()
    db.close()
    assert len(attempts) == len(outcomes) == OUTCOME_BATCH
    last_attempt, last_outcome = attempts[-1], outcomes[-1]
    assert last_attempt[:3] == (seqs[-1], 0, 2)
    assert last_attempt[4:] == (202, 7.0, None, "delivered")
    assert last_outcome[:6] == (seqs[-1], 0, "delivered", 2, 202, None)
    # One clock read for both rows: the attempt's time is the outcome's.
    assert all(a[3] == o[6] for a, o in zip(attempts, outcomes, strict=True))
    assert jr.counts()["delivered"] == OUTCOME_BATCH
    jr.close()


def test_recorded_samples_lines_read(tmp_path: Path) -> None:
    jr = make(tmp_path)
    jr.accept([(ev(i), (0,)) for i in range(1, 3001)], lines_read=3000)
    recorded = jr.recorded(samples=100)
    assert len(recorded.lines) < 200
    assert recorded.lines[3000] == b'{"id":"evt_3000"}'
    assert all(body == b'{"id":"evt_%d"}' % line for line, body in recorded.lines.items())
    assert os.fspath(recorded.journal) == str(tmp_path / "run.db")
    jr.close()


def test_one_run_at_a_time_per_journal(tmp_path: Path) -> None:
    first = make(tmp_path)
    with pytest.raises(JournalError, match="is in use by another chestsim run"):
        Journal.open(tmp_path / "run.db")
    first.close()
    with Journal.open(tmp_path / "run.db") as again:
        assert again.counts()["events"] == 0
