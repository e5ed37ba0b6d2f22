"""Crash safety: kill -9 the sender mid-run at several points, ``--resume`` each time.

Nothing is lost, the same ``webhook-id`` comes back, and nothing the journal had
already recorded as delivered is ever sent again (duplicates are only what was in
flight or not yet committed when the process died).
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from delivery_sink import UNSIGNED_NOTICE, Sink, make_events, write_jsonl

from simulator.delivery._journal import OUTCOME_BATCH

pytestmark = [pytest.mark.slow, pytest.mark.integration]

N = 2000


def delivered_in(journal: Path) -> set[str]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        return {r[0] for r in db.execute(
            "SELECT DISTINCT e.id FROM events e JOIN outcomes o ON o.seq = e.seq WHERE o.state='delivered'")}


def start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "simulator", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "CHESTSIM_SECRET": ""})


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def kill_when(proc: subprocess.Popen[bytes], sink: Sink, received: int, deadline: float = 30.0) -> None:
    stop = time.monotonic() + deadline
    while len(sink.received) < received and proc.poll() is None and time.monotonic() < stop:
        time.sleep(0.01)
    assert proc.poll() is None, f"sender finished before the kill point: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)


def test_kill_and_resume(sink: Sink, tmp_path: Path) -> None:
    events = make_events(N)
    path = write_jsonl(tmp_path / "events.jsonl", events)
    journal = tmp_path / "run.db"
    sink.delay = 0.004
    sink.script = {e["id"]: [503] for e in events[::97]}
    common = ["--to", sink.url, "--concurrency", "8", "--retry", "1s,1s,1s", "--time-scale", "0.05",
              "--format", "json"]
    proc = start(["send", str(path), "--journal", str(journal), *common])
    kill_points = [120, 700, 1400]
    kill_when(proc, sink, kill_points[0])
    for point in [*kill_points[1:], None]:
        already = delivered_in(journal)
        mark = len(sink.received)
        proc = start(["send", "--resume", str(journal), *common])
        if point is not None:
            kill_when(proc, sink, point)
        else:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
        resent = {r.id for r in sink.received[mark:]}
        assert not resent & already, "something recorded as delivered was sent again"
    ids = [e["id"] for e in events]
    assert set(sink.ids(ok_only=True)) == set(ids)
    assert delivered_in(journal) == set(ids)
    with sqlite3.connect(journal) as db:
        owed = db.execute("SELECT sum(ntargets) FROM events").fetchone()[0]
        done = db.execute("SELECT count(*) FROM outcomes WHERE state='delivered'").fetchone()[0]
    assert owed == done == N
    bodies = {line.split(b'"id":"')[1][:10].decode(): line for line in path.read_bytes().splitlines()}
    for got in sink.received:
        assert got.body == bodies[got.id]
    # The bound `send --help` states: per kill, the deliveries in flight (--concurrency 8)
    # plus one batch of outcomes not yet committed.
    duplicates = len(sink.ids(ok_only=True)) - N
    assert duplicates <= len(kill_points) * (8 + OUTCOME_BATCH), duplicates


@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["sigterm", "sigterm-with-sigint-ignored"])
def test_sigterm_flushes_the_journal(sink: Sink, tmp_path: Path, sigint_ignored: bool) -> None:
    # With SIGINT ignored (how a script starts a `&` job), asyncio installs no Ctrl-C handler and
    # SIGTERM raised KeyboardInterrupt mid-run: deliveries in flight went unjournalled.
    events = make_events(2000)
    path = write_jsonl(tmp_path / "events.jsonl", events)
    journal = tmp_path / "run.db"
    sink.delay = 0.005
    args = ["send", str(path), "--journal", str(journal), "--to", sink.url, "--concurrency", "8"]
    proc = subprocess.Popen([sys.executable, "-m", "simulator", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "CHESTSIM_SECRET": ""},
                            preexec_fn=_ignore_sigint if sigint_ignored else None)
    deadline = time.monotonic() + 60
    while len(sink.received) < 400 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert err.decode().splitlines()[-1].startswith("chestsim: error: interrupted; ")
    # Deliveries in flight got their answer before the run stopped: all of them are journalled.
    assert set(sink.ids(ok_only=True)) == delivered_in(journal)
    proc = start(["send", "--resume", str(journal), "--to", sink.url])
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert delivered_in(journal) == {e["id"] for e in events}


@pytest.mark.parametrize("terminal", [False, True], ids=["sigint-to-process", "ctrl-c-to-group"])
def test_ctrl_c_says_so_and_resume_sends_the_rest_once(sink: Sink, tmp_path: Path, terminal: bool) -> None:
    events = make_events(1500)
    path = write_jsonl(tmp_path / "events.jsonl", events)
    journal = tmp_path / "run.db"
    sink.delay = 0.005
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "send", str(path), "--journal", str(journal), "--to", sink.url,
         "--concurrency", "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "CHESTSIM_SECRET": ""}, start_new_session=terminal)
    deadline = time.monotonic() + 60
    while len(sink.received) < 300 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, f"sender finished before the interrupt: {proc.communicate()}"
    if terminal:  # a terminal's Ctrl-C reaches the whole foreground process group
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    # Sending unsigned is said once the run starts; the interruption is the one error line.
    lines = err.decode().splitlines()
    assert lines[:-1] == [UNSIGNED_NOTICE]
    assert lines[-1].startswith("chestsim: error: interrupted; ")
    assert f"chestsim send --resume {journal}" in lines[-1]
    assert b"Traceback" not in out + err
    first = sink.ids(ok_only=True)
    assert set(first) == delivered_in(journal), "the journal lacks deliveries the sink acknowledged"
    assert len(first) < len(events)
    # The summary so far comes first, on stdout: delivered, waiting and dead-lettered.
    summary = out.decode().splitlines()
    assert summary[0].startswith("events ")
    counts = re.fullmatch(r"interrupted: delivered ([\d,]+)  waiting ([\d,]+) \(in flight, queued or "
                          r"waiting to retry\)  dead-lettered 0; input not read yet is not counted", summary[-1])
    assert counts, summary
    delivered, waiting = (int(g.replace(",", "")) for g in counts.groups())
    assert delivered == len(first)
    assert 0 < waiting <= len(events) - delivered
    assert f"journal: {journal}" in summary

    proc = start(["send", "--resume", str(journal), "--format", "json"])
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err
    # Every event delivered exactly once over both runs: nothing resent, nothing lost.
    assert sorted(sink.ids(ok_only=True)) == [e["id"] for e in events]
    assert delivered_in(journal) == {e["id"] for e in events}


def test_killed_at_any_moment_it_resumes_or_says_the_run_never_started(sink: Sink, tmp_path: Path) -> None:
    """Killed from the moment the journal file appears to a fraction of a second later (the
    first second of a run), the file left behind resumes, or says in one line that the run
    never started and the same command with --journal starts it; never "not a journal"."""
    events = make_events(300)
    path = write_jsonl(tmp_path / "events.jsonl", events)
    sink.delay = 0.002
    outcomes = []
    for n, after in enumerate([0.0, 0.0, 0.001, 0.005, 0.02, 0.1]):
        journal = tmp_path / f"run{n}.db"
        first = ["send", str(path), "--journal", str(journal), "--to", sink.url, "--concurrency", "8",
                 "--format", "json"]
        proc = start(first)
        stop = time.monotonic() + 30
        while not journal.exists() and proc.poll() is None and time.monotonic() < stop:
            time.sleep(0.0002)
        time.sleep(after)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        assert journal.exists()
        resumed = start(["send", "--resume", str(journal), "--format", "json"])
        _, err = resumed.communicate(timeout=60)
        if resumed.returncode == 2:
            lines = err.decode().splitlines()
            assert len(lines) == 1, lines
            assert "never started" in lines[0]
            assert f"the same command with --journal {journal}" in lines[0]
            outcomes.append("never started")
            again = start(first)
            _, err = again.communicate(timeout=60)
            assert again.returncode == 0, err
        else:
            assert resumed.returncode == 0, err
            outcomes.append("resumed")
        assert delivered_in(journal) == {e["id"] for e in events}
    assert sink.received, outcomes


def test_an_interrupted_replay_prints_its_summary_so_far_as_json(sink: Sink, tmp_path: Path) -> None:
    import json

    import simulator.delivery as delivery

    events = make_events(1500)
    journal = tmp_path / "run.db"
    delivery.send(events, to=[sink.url], journal=journal)
    mark = len(sink.received)
    sink.delay = 0.005
    proc = start(["replay", str(journal), "--concurrency", "8", "--format", "json"])
    deadline = time.monotonic() + 60
    while len(sink.received) < mark + 200 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, f"the replay finished before the interrupt: {proc.communicate()}"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.decode().splitlines()[-1].startswith("chestsim: error: interrupted; deliveries not yet made")
    summary = json.loads(out)
    assert summary["interrupted"] is True
    replayed = len(sink.ids(ok_only=True)) - len(events)
    assert summary["delivered"] == replayed > 0
    assert summary["waiting"] == summary["deliveries"] - replayed > 0


def test_a_journal_in_use_is_refused_and_freed_by_a_kill(sink: Sink, tmp_path: Path) -> None:
    events = make_events(1500)
    path = write_jsonl(tmp_path / "events.jsonl", events)
    journal = tmp_path / "run.db"
    sink.delay = 0.005
    proc = start(["send", str(path), "--journal", str(journal), "--to", sink.url, "--concurrency", "4"])
    deadline = time.monotonic() + 60
    while len(sink.received) < 100 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()
    second = start(["send", "--resume", str(journal)])
    _, err = second.communicate(timeout=60)
    assert second.returncode == 2
    assert err.decode().splitlines() == [
        f"chestsim: error: the journal {str(journal)!r} is in use by another chestsim run; wait for it to end "
        "(or stop it), then run this again"]
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    sink.delay = 0.0
    resumed = start(["send", "--resume", str(journal)])
    _, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    assert delivered_in(journal) == {e["id"] for e in events}
