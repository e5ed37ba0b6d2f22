"""``send --app`` serves an ASGI app as a server would: lifespan startup before the first
delivery, shutdown when the run ends (done, failed, or interrupted); apps without lifespan
support get their deliveries as before. The apps are in ``lifespan_apps.py``."""

from __future__ import annotations

import contextlib
import doctest
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from delivery_sink import SECRET, UNSIGNED_NOTICE, make_events, write_jsonl
from lifespan_apps import LOG_ENV, read_log

import simulator.delivery as delivery
from simulator.cli import main

pytestmark = pytest.mark.integration

N = 40
HERE = Path(__file__).resolve().parent


@pytest.fixture
def lifespan_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "lifespan.log"
    monkeypatch.setenv(LOG_ENV, str(path))
    return path


@pytest.fixture
def events(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "events.jsonl", make_events(N))


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def journal_counts(path: Path) -> tuple[int, int]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        events = db.execute("SELECT count(*) FROM events").fetchone()[0]
        delivered = db.execute("SELECT count(*) FROM outcomes WHERE state='delivered'").fetchone()[0]
    return events, delivered


def test_startup_runs_before_the_first_delivery_and_shutdown_at_the_end(
        events: Path, lifespan_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = tmp_path / "run.db"
    code, out, err = run(["send", str(events), "--app", "lifespan_apps:listener", "--journal", str(journal),
                          "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["delivered"] == N
    lines = read_log(lifespan_log)
    assert lines[0] == "startup"
    assert sorted(lines[1:-1]) == [f"delivered evt_{i:06d}" for i in range(N)]
    assert lines[-1] == f"shutdown after {N} deliveries"
    assert journal_counts(journal) == (N, N)


def test_the_library_runs_the_lifespan_too(lifespan_log: Path) -> None:
    from lifespan_apps import listener

    report = delivery.send(make_events(3), to=["http://localhost/"], app=listener)
    assert report.delivered == 3
    assert read_log(lifespan_log)[::4] == ["startup", "shutdown after 3 deliveries"]


def test_an_app_without_lifespan_support_gets_everything_as_before(
        events: Path, lifespan_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["send", str(events), "--app", "lifespan_apps:no_lifespan", "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["delivered"] == N
    assert err.splitlines() == [UNSIGNED_NOTICE]
    assert sorted(read_log(lifespan_log)) == [f"delivered evt_{i:06d}" for i in range(N)]


def test_a_failed_startup_is_one_line_exit_2_and_nothing_is_sent_or_journalled(
        events: Path, lifespan_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = tmp_path / "run.db"
    code, out, err = run(["send", str(events), "--app", "lifespan_apps:broken", "--journal", str(journal)],
                         capsys)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("chestsim: error: --app='lifespan_apps:broken': lifespan startup failed: "
                               "RuntimeError: cannot connect to the database at db:5432; nothing was sent; ")
    assert "make its startup succeed" in lines[0]
    assert "Traceback" not in err
    assert read_log(lifespan_log) == []
    # No journal was made, so the same command works once the app is fixed.
    assert not journal.exists()
    code, _, err = run(["send", str(events), "--app", "lifespan_apps:listener", "--journal", str(journal)],
                       capsys)
    assert code == 0, err


def test_a_failed_startup_leaves_a_resumed_journal_as_it_was(
        lifespan_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A journal with work owed: the input file grew after the first run read it.
    events = make_events(N)
    path = write_jsonl(tmp_path / "events.jsonl", events[:10])
    journal = tmp_path / "run.db"
    assert run(["send", str(path), "--app", "lifespan_apps:listener", "--journal", str(journal)], capsys)[0] == 0
    with contextlib.closing(sqlite3.connect(journal)) as db, db:
        db.execute("UPDATE meta SET value='0' WHERE key='input_done'")
    write_jsonl(path, events)
    before = journal_counts(journal)

    code, _, err = run(["send", "--resume", str(journal), "--app", "lifespan_apps:broken"], capsys)
    assert code == 2
    resuming, error = err.splitlines()
    assert resuming.startswith("chestsim send: resuming with the original run's options")
    assert error.startswith("chestsim: error: --app='lifespan_apps:broken': lifespan startup failed: ")
    assert journal_counts(journal) == before == (10, 10)

    code, _, err = run(["send", "--resume", str(journal), "--app", "lifespan_apps:listener"], capsys)
    assert code == 0, err
    assert journal_counts(journal) == (N, N)


def test_a_failed_shutdown_keeps_the_summary_and_says_so(
        events: Path, lifespan_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["send", str(events), "--app", "lifespan_apps:shutdown_fails", "--format", "json",
                          "--secret", SECRET], capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["delivered"] == N
    assert summary["notes"] == [
        "--app='lifespan_apps:shutdown_fails': lifespan shutdown failed: RuntimeError: the pool was already "
        "closed; the deliveries before it stand; chestsim runs the app's lifespan as a server does (startup "
        "before the first delivery, shutdown when the run ends): make its shutdown succeed (close what "
        "startup opened, once)"]
    assert read_log(lifespan_log)[-1] == f"shutdown after {N} deliveries"


def test_a_run_that_ends_in_an_input_error_still_shuts_the_app_down(
        lifespan_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "events.jsonl", make_events(3))
    with path.open("a") as f:
        f.write("not json\n")
    code, _, err = run(["send", str(path), "--app", "lifespan_apps:listener"], capsys)
    assert code == 2
    assert "events.jsonl:4: not valid JSON" in err
    lines = read_log(lifespan_log)
    assert (lines[0], lines[-1]) == ("startup", "shutdown after 3 deliveries")


def test_a_startup_that_never_answers_fails_within_its_bound(lifespan_log: Path) -> None:
    async def deaf(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:  # reads every message and never answers, as an app unaware of lifespan might
            await receive()

    transport = delivery.HttpxTransport(app=deaf, lifespan_timeout=0.2)
    with pytest.raises(ValueError, match=r"lifespan startup failed: no lifespan.startup.complete within "
                                         r"timeout=0.2s; nothing was sent; .* return or raise on a 'lifespan'"):
        delivery.send(make_events(2), to=["http://localhost/"], transport=transport)


def test_sigterm_shuts_the_app_down_and_the_journal_resumes(lifespan_log: Path, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "events.jsonl", make_events(400))
    journal = tmp_path / "run.db"
    env = {**os.environ, "PYTHONPATH": str(HERE), "LIFESPAN_APPS_DELAY": "0.01", "CHESTSIM_SECRET": ""}
    common = ["--app", "lifespan_apps:listener", "--concurrency", "2", "--format", "json"]
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "send", str(path), "--journal", str(journal),
                             *common], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 30
        while len(read_log(lifespan_log)) < 20 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert err.decode().splitlines()[-1].startswith("chestsim: error: interrupted; the journal ")
    lines = read_log(lifespan_log)
    assert lines[0] == "startup"
    assert lines[-1].startswith("shutdown after ")
    received = {line.split()[1] for line in lines if line.startswith("delivered ")}
    _, delivered = journal_counts(journal)
    assert delivered == len(received) < 400

    lifespan_log.unlink()
    done = subprocess.run([sys.executable, "-m", "simulator", "send", "--resume", str(journal), *common],
                          capture_output=True, env={**env, "LIFESPAN_APPS_DELAY": ""}, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = read_log(lifespan_log)
    assert (lines[0], lines[-1]) == ("startup", f"shutdown after {400 - delivered} deliveries")
    assert journal_counts(journal) == (400, 400)


@pytest.mark.parametrize("name", ["simulator._lifespan", "simulator.testing._lifespan",
                                  "simulator.delivery._transports._app", "simulator.delivery._transports._curl",
                                  "simulator.delivery._transports._request", "simulator.delivery._transports._choice",
                                  "simulator.delivery._transports._base", "simulator._signing"])
def test_docstring_examples(name: str) -> None:
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
