"""The record file: another program's SQLite file is refused untouched; a record file removed while
listening stops the acknowledgements, and the exit says what was kept and what was not."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from listener_helpers import SECRET, Post, make_event, signed

from simulator.cli import main
from simulator.listener import Listener, RecordStore, free_port, run_listener
from simulator.listener._recorder import InlineRecorder

pytestmark = pytest.mark.integration


def _foreign(path: Path) -> str:
    """Another program's SQLite file (rollback journal, its own tables); its sha256."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("inline", [False, True], ids=["writer-process", "inline"])
def test_listen_refuses_another_programs_sqlite_file_and_leaves_it_unchanged(
        tmp_path: Path, inline: bool, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "app.db"
    digest = _foreign(other)
    args = ["listen", "--port", "0", "--view", "quiet", "--db", str(other)] + (["--inline"] if inline else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("chestsim: error: ")
    assert err.count("\n") == 1
    assert "not a chestsim listener record file" in err
    assert "users" in err
    assert hashlib.sha256(other.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]  # no -wal, no -shm
    with sqlite3.connect(other) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_inspect_leaves_another_programs_file_unchanged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "app.db"
    digest = _foreign(other)
    assert main(["inspect", str(other)]) == 2
    assert "not a chestsim listener record file" in capsys.readouterr().err
    assert hashlib.sha256(other.read_bytes()).hexdigest() == digest


async def test_a_removed_record_file_stops_acknowledgements_and_is_rescued(tmp_path: Path, post: Post) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    async with run_listener(Listener(secrets=(SECRET,), db=folder / "x.db")) as running:
        first = [make_event() for _ in range(5)]
        assert [(await post(running.url, *signed(e)))[0] for e in first] == [204] * 5
        shutil.rmtree(folder)
        assert [(await post(running.url, *signed(make_event())))[0] for _ in range(5)] == [500] * 5
        assert running.failure is not None
    assert running.unrecorded == 5
    rescued = Path(re.search(r"saved in (\S+)", running.failure).group(1))  # type: ignore[union-attr]
    with RecordStore(rescued) as store:
        assert store.acknowledged_ids() == {e["id"] for e in first}
    shutil.rmtree(rescued.parent)


async def test_a_record_file_removed_after_the_last_request_is_reported_at_stop(tmp_path: Path, post: Post) -> None:
    async with run_listener(Listener(secrets=(SECRET,), db=tmp_path / "x.db")) as running:
        assert (await post(running.url, *signed(make_event())))[0] == 204
        (tmp_path / "x.db").unlink()
    assert running.failure is not None
    assert "the 1 record it held is saved in" in running.failure
    rescued = Path(running.failure.rpartition(" saved in ")[2])
    with RecordStore(rescued) as store:
        assert store.count() == 1
    shutil.rmtree(rescued.parent)


def test_listen_with_its_folder_removed_says_what_was_kept_and_exits_1(tmp_path: Path) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "listen", "--port", str(port), "--db", str(folder / "x.db"),
         "--view", "quiet"], env={**os.environ, "CHESTSIM_SECRET": SECRET.reveal()},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/_chestsim/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        first = [make_event() for _ in range(5)]
        assert [httpx.post(url, content=b, headers=h).status_code for b, h in map(signed, first)] == [204] * 5
        shutil.rmtree(folder)
        later = [httpx.post(url, content=b, headers=h).status_code for b, h in map(signed, [make_event()] * 5)]
        assert later == [500] * 5
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    lines = err.decode().splitlines()
    assert "Traceback" not in err.decode()
    assert lines[-1].startswith(f"chestsim: error: the record file {folder / 'x.db'} was removed or replaced")
    assert "5 later requests were answered 500 and not recorded" in lines[-1]
    assert "records in" not in out.decode()
    rescued = Path(re.search(r"saved in (\S+);", lines[-1]).group(1))  # type: ignore[union-attr]
    with RecordStore(rescued) as store:
        assert store.acknowledged_ids() == {e["id"] for e in first}
    shutil.rmtree(rescued.parent)


async def test_a_batch_to_the_writer_is_bounded_in_bytes_as_well_as_in_requests(tmp_path: Path) -> None:
    # Each batch is one pipe message to the writer process: a thousand 1 MB bodies must not make one.
    recorder = InlineRecorder(Listener(), tmp_path / "r.db")
    recorder.batch_bytes = 2500
    await recorder.open()
    try:
        raws = [(0.0, "POST", "/webhooks", None, (), b"x" * 1000, 1000, None) for _ in range(7)]
        batches = [recorder.submit(raw) for raw in raws]
        await asyncio.gather(*{id(done): done for done, _ in batches}.values())
    finally:
        await recorder.close()
    assert [index for _, index in batches] == [0, 1, 2, 0, 1, 2, 0]
    assert len({id(done) for done, _ in batches}) == 3
