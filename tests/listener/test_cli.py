"""``chestsim listen`` as a process (SIGTERM under load) and ``chestsim inspect``; bad flags."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import orjson
import pytest
from listener_helpers import SECRET, TOKEN, Post, make_event, signed

from simulator._catalog import CATALOG
from simulator.cli import main
from simulator.listener import Listener, RecordStore, free_port, run_listener


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["--port", "abc"], "--port", id="port-word"),
        pytest.param(["--port", "99999"], "--port=99999", id="port-range"),
        pytest.param(["--fail-rate", "2"], "--fail-rate='2'", id="fail-rate"),
        pytest.param(["--fail-status", "200"], "--fail-status='200'", id="fail-status"),
        pytest.param(["--latency", "soon"], "--latency='soon'", id="latency"),
        pytest.param(["--latency", "2s..1s"], "--latency='2s..1s'", id="latency-range"),
        pytest.param(["--drop-rate", "x"], "--drop-rate='x'", id="drop-rate"),
        pytest.param(["--hang-rate", "150%"], "--hang-rate='150%'", id="hang-rate"),
        pytest.param(["--rate-limit", "fast"], "--rate-limit='fast'", id="rate-limit"),
        pytest.param(["--gone-after", "-3"], "--gone-after=-3", id="gone-after"),
        pytest.param(["--fault-type", "secret.usd"], "--fault-type", id="fault-type"),
        pytest.param(["--tolerance", "a while"], "--tolerance='a while'", id="tolerance"),
        pytest.param(["--max-body", "huge"], "--max-body='huge'", id="max-body"),
        pytest.param(["--path", "hooks"], "--path='hooks'", id="path"),
        pytest.param(["--secret", "whsec_!!!notbase64"], "--secret", id="secret"),
        pytest.param(["--view", "fancy"], "--view", id="view"),
        pytest.param(["--db", "/nonexistent-folder/x.db", "--port", "0"], "--db=", id="db-folder"),
        pytest.param(["--faults", "/nonexistent-folder/faults.json"], "--faults=", id="faults-file"),
        pytest.param(["--header-timeout", "0s"], "--header-timeout=", id="header-timeout-zero"),
        pytest.param(["--body-timeout", "soon"], "--body-timeout=", id="body-timeout-word"),
        pytest.param(["--idle-timeout", "-5s"], "--idle-timeout=", id="idle-timeout-negative"),
        pytest.param(["--max-connections", "0"], "--max-connections=0", id="max-connections-zero"),
    ],
)
def test_bad_flags_give_one_line_and_exit_2(args: list[str], fragment: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["listen", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chestsim: error: ")
    assert err.count("\n") == 1
    assert fragment in err
    assert "notbase64" not in err


def test_inspect_refuses_what_is_not_a_record_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(tmp_path / "missing.db")]) == 2
    (tmp_path / "x.db").write_bytes(b"SQLite format 3\x00 but not really")
    assert main(["inspect", str(tmp_path / "x.db")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert all(line.startswith("chestsim: error: ") for line in err)


@pytest.mark.integration
async def test_inspect_summarizes_a_record_file(db: Path, post: Post, capsys: pytest.CaptureFixture[str]) -> None:
    async with run_listener(Listener(secrets=(SECRET,), db=db)) as running:
        event = make_event()
        await post(running.url, *signed(event))
        await post(running.url, *signed(event))
        await post(running.url, *signed(make_event("user.created"), timestamp=5))
    capsys.readouterr()
    assert main(["inspect", str(db)]) == 0
    text = capsys.readouterr().out
    assert "3 requests" in text
    assert "valid 2, unverified 1" in text
    assert "1 duplicate deliveries" in text
    assert "secret.used" in text
    assert main(["inspect", str(db), "--format", "json", "--last", "2", "--verdict", "valid"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["total"] == 3
    assert doc["by_verdict"] == {"valid": 2, "unverified": 1}
    assert [r["verdict"] for r in doc["last"]] == ["valid", "valid"]
    assert main(["inspect", str(db), "--check"]) == 1
    assert main(["inspect", str(db), "--verdict", "nice"]) == 2


def _wait_ready(proc: subprocess.Popen[bytes], base: str) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"listener exited early: {proc.returncode}")
        try:
            if httpx.get(base + "/_chestsim/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("listener did not come up within 30 s")


def _listen_under_load_then_stop(db: Path, *, ctrl_c: bool) -> tuple[int, str, str, set[str]]:
    """Run `chestsim listen` as a subprocess, load it, stop it (SIGTERM, or a terminal's Ctrl-C
    to its whole process group); returns (exit code, stdout, stderr, ids acknowledged)."""
    port = free_port()
    env = {**os.environ, "CHESTSIM_SECRET": SECRET.reveal(), "CHESTSIM_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "listen", "--port", str(port), "--db", str(db), "--view", "plain"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=ctrl_c)
    try:
        _wait_ready(proc, f"http://127.0.0.1:{port}")
        stop = (lambda: os.killpg(proc.pid, signal.SIGINT)) if ctrl_c else None
        acked = asyncio.run(_load_then_terminate(proc, f"http://127.0.0.1:{port}/webhooks", stop=stop))
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out.decode(), err.decode(), acked


def _assert_every_acknowledged_delivery_recorded(db: Path, acked: set[str]) -> None:
    assert len(acked) >= 300
    with RecordStore(db) as store:
        recorded = store.acknowledged_ids()
        assert store.count() >= len(acked)
    assert acked <= recorded, f"{len(acked - recorded)} acknowledged deliveries are missing"


@pytest.mark.slow
@pytest.mark.integration
def test_sigterm_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "received.db"
    code, output, err, acked = _listen_under_load_then_stop(db, ctrl_c=False)
    assert code == 0, err
    _assert_every_acknowledged_delivery_recorded(db, acked)
    assert "stopped after" in output + err
    assert "http://127.0.0.1:" in output + err
    assert SECRET.reveal()[6:] not in output + err
    assert TOKEN not in output + err
    assert TOKEN.encode() not in db.read_bytes()


@pytest.mark.slow
@pytest.mark.integration
def test_ctrl_c_under_load_says_so_in_one_line_and_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "received.db"
    code, output, err, acked = _listen_under_load_then_stop(db, ctrl_c=True)
    assert code == 130, err
    assert err.splitlines() == [
        f"chestsim: error: interrupted; requests in flight were finished and every record is flushed to {db}"]
    assert "Traceback" not in output + err
    _assert_every_acknowledged_delivery_recorded(db, acked)
    assert "stopped after" in output


async def _load_then_terminate(proc: subprocess.Popen[bytes], url: str,
                               stop: Callable[[], None] | None = None) -> set[str]:
    """32 senders post distinct events of every type until the listener goes away (at most 6000
    posts or 20 s); ``stop`` it (default: SIGTERM) once 600 are acknowledged. Returns every
    webhook-id answered 2xx."""
    acked: set[str] = set()
    budget = iter(range(6000))
    types = [t.key for t in CATALOG]
    deadline = time.monotonic() + 20
    gone = asyncio.Event()

    async def sender(session: aiohttp.ClientSession) -> None:
        for n in budget:
            if gone.is_set() or time.monotonic() > deadline:
                return
            event = make_event(types[n % len(types)])
            body, headers = signed(event, token=TOKEN)
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if 200 <= response.status < 300:
                        acked.add(event["id"])
            except (TimeoutError, aiohttp.ClientError):
                gone.set()
                return

    async def terminator() -> None:
        while len(acked) < 600 and time.monotonic() < deadline and not gone.is_set():
            await asyncio.sleep(0.01)
        if stop is None:
            proc.send_signal(signal.SIGTERM)
        else:
            stop()

    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(terminator(), *(sender(session) for _ in range(32)))
    return acked


@pytest.mark.parametrize("inline", [False, True], ids=["writer-process", "inline"])
def test_listen_refuses_a_db_that_is_not_a_record_file(tmp_path: Path, inline: bool,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.db").write_text("hello")
    args = ["listen", "--port", "0", "--view", "quiet", "--db", str(tmp_path / "notes.db")]
    assert main(args + (["--inline"] if inline else [])) == 2
    err = capsys.readouterr().err
    assert err.startswith("chestsim: error: ")
    assert "not a chestsim listener record file" in err
