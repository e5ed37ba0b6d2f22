"""The firehose locustfile under real Locust subprocesses against a real ``chestsim listen``.

Loopback only, every run bounded by ``--run-time`` and a timeout; Locust is never
imported here (it would monkey-patch this process with gevent).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.loadtests._helpers import (
    FIREHOSE,
    SECRET,
    TOKEN,
    RunningListener,
    child_env,
    free_port,
    run_locust,
)

pytestmark = [pytest.mark.locust, pytest.mark.slow]


def test_every_success_arrives_verified_and_valid(listener: RunningListener, tmp_path: Path) -> None:
    run = run_locust(["-H", listener.host, "-u", "6", "-r", "6", "-t", "5s", "--webhook-path", "/webhooks",
                      "--html", str(tmp_path / "report.html"), "--csv", str(tmp_path / "locust")],
                     tmp_path=tmp_path, env=child_env(CHESTSIM_SECRET=SECRET, CHESTSIM_TOKEN=TOKEN))
    assert run.returncode == 0, run.stderr[-3000:]
    stats = listener.settled_stats()
    assert run.successes > 100
    assert run.failures == 0
    assert stats["requests"] == run.successes
    assert stats["by_verdict"] == {"valid": run.successes}
    assert stats["signature_failures"] == {}
    assert stats["duplicates"] == 0
    listener.stop()
    [(rows, distinct, signed_ok)] = listener.query(
        "SELECT count(*), count(DISTINCT webhook_id), sum(signature = 'ok') FROM records")
    assert rows == distinct == signed_ok == run.successes
    # Statistics are grouped by event type: a few rows, each named after a catalog key.
    names = {e["name"] for e in run.entries}
    assert 1 < len(names) <= 24
    assert all(re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", name) for name in names)
    # The secret and the token never show: not in Locust's output, not in its reports.
    outputs = [run.stdout, run.stderr, *(p.read_text(errors="replace") for p in tmp_path.glob("locust*"))]
    outputs.append((tmp_path / "report.html").read_text())
    for text in outputs:
        assert SECRET.removeprefix("whsec_") not in text
        assert TOKEN not in text


def test_two_processes_send_distinct_slices(listener: RunningListener, tmp_path: Path) -> None:
    run = run_locust(["-H", listener.host, "-u", "4", "-r", "4", "-t", "8s", "--processes", "2", "--tenant-users", "200",
                      "--signing-secret", SECRET, "--token", TOKEN], tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.successes > 50
    stats = listener.settled_stats()
    assert stats["requests"] == run.successes
    assert stats["by_verdict"] == {"valid": run.successes}
    listener.stop()
    [(rows, distinct)] = listener.query("SELECT count(*), count(DISTINCT webhook_id) FROM records")
    assert rows == distinct == run.successes
    # evt_<run tag><worker index><counter>: both workers sent, each under its own prefix.
    prefixes = {p for (p,) in listener.query("SELECT DISTINCT substr(webhook_id, 1, 13) FROM records")}
    assert len(prefixes) == 2
    assert {p[-3:] for p in prefixes} == {"000", "001"}
    # ... and different events: worker i sends events i, i+2, i+4 … of one stream.
    [(bodies,)] = listener.query("SELECT count(DISTINCT substr(body, 34)) FROM records")
    assert bodies > 2


def test_a_shape_drives_the_run(listener: RunningListener, tmp_path: Path) -> None:
    env = child_env(LOCUST_SIGNING_SECRET=SECRET, LOCUST_TOKEN=TOKEN, LOCUST_SHAPE="ramp")
    run = run_locust(["-H", listener.host, "-u", "4", "-t", "3s", "--scenario", "scim-sync"],
                     tmp_path=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "RampShape(peak=4, duration=3)" in run.stderr
    assert "Shape test completed" in run.stderr
    assert listener.settled_stats()["requests"] == run.successes > 0
    assert {e["name"] for e in run.entries} <= {
        "user.created", "user.deleted", "scim.updated", "device.registered", "secret.deleted",
        "installation_map.deleted", "user_shards.deleted", "group.created", "group.deleted",
        "backend_message.posted", "backend_message.archived", "user_shards.posted", "secret.created",
        "installation_map.posted", "pending_share.rejected", "secret.share.began"}


BAD = "whsec_!!!notbase64!!!"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["--scenario", "firehoze"], "--scenario='firehoze' is not a shipped scenario; did you mean",
                     id="unknown-scenario"),
        pytest.param(["--events-file", "missing.jsonl"], "--events-file='missing.jsonl' does not exist",
                     id="missing-events-file"),
        pytest.param(["--signing-secret", BAD], "not valid base64", id="bad-secret"),
        pytest.param(["--shape", "square"], "--shape='square' is not a load shape", id="unknown-shape"),
        pytest.param(["--processes", "2", "--scenario", "nope"], "--scenario='nope'", id="processes-one-message"),
    ],
)
def test_bad_options_stop_locust_at_start(tmp_path: Path, args: list[str], fragment: str) -> None:
    # Port 9 (discard): nothing may be sent, the run must stop before any user starts.
    run = run_locust(["-H", "http://127.0.0.1:9", "-u", "1", "-t", "5s", *args], tmp_path=tmp_path, timeout=30)
    assert run.returncode == 2, run.stderr[-2000:]
    errors = [line for line in run.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, run.stderr
    assert errors[0].startswith("chestsim: error: ")
    assert fragment in errors[0]
    assert "Traceback" not in run.stderr
    assert BAD not in run.stderr + run.stdout
    assert run.entries == []


def test_a_missing_host_is_one_line_too(tmp_path: Path) -> None:
    run = run_locust(["-u", "1", "-t", "5s"], tmp_path=tmp_path, timeout=30)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1] == (
        "chestsim: error: --host is missing; pass the listener's base URL, like -H http://127.0.0.1:8000")


def test_options_come_from_the_environment_too(tmp_path: Path) -> None:
    env = child_env(LOCUST_SCENARIO="tenant-dya", CHESTSIM_SECRET=SECRET)
    run = run_locust(["-H", "http://127.0.0.1:9", "-u", "1", "-t", "5s"], tmp_path=tmp_path, env=env, timeout=30)
    assert run.returncode == 2
    assert "--scenario='tenant-dya' is not a shipped scenario; did you mean 'tenant-day'" in run.stderr


def test_chestsim_loadtest_runs_the_firehose_locustfile(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "simulator", "loadtest", "--headless", "-H",
                           "http://127.0.0.1:9", "-t", "2s", "--scenario", "nope"],
                          cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("chestsim: error: --scenario='nope'")


def test_master_and_workers_share_out_an_events_file(listener: RunningListener, tmp_path: Path) -> None:
    # What several machines do, on one: workers start with nothing but -f; the master's options
    # (events file, secret, token) reach them with the test, and each takes its slice of the file.
    from simulator.model import generate

    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in generate("share-lifecycle", seed=5, events=400)))
    port = str(free_port())
    env = child_env()
    master = subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(FIREHOSE), "--master", "--headless", "--expect-workers", "2",
         "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "-H", listener.host, "-u", "4", "-r", "4",
         "-t", "5s", "--stop-timeout", "10", "--events-file", str(events), "--signing-secret", SECRET,
         "--token", TOKEN, "--json-file", str(tmp_path / "locust")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workers = [subprocess.Popen(
        [sys.executable, "-m", "locust", "-f", str(FIREHOSE), "--worker", "--master-host", "127.0.0.1",
         "--master-port", port], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True) for _ in range(2)]
    try:
        _, master_err = master.communicate(timeout=90)
        worker_errs = [w.communicate(timeout=30)[1] for w in workers]
    finally:
        for proc in (master, *workers):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert master.returncode == 0, master_err[-3000:]
    entries = json.loads((tmp_path / "locust.json").read_text())
    successes = sum(e["num_requests"] - e["num_failures"] for e in entries)
    assert successes > 20
    assert listener.settled_stats()["by_verdict"] == {"valid": successes}
    listener.stop()
    [(rows, distinct, signed)] = listener.query(
        "SELECT count(*), count(DISTINCT webhook_id), sum(signature = 'ok') FROM records")
    assert rows == distinct == signed == successes
    assert {p[-3:] for (p,) in listener.query("SELECT DISTINCT substr(webhook_id, 1, 13) FROM records")} == {
        "000", "001"}
    assert any("worker 0 of 2 sends 200 prepared events" in err for err in worker_errs), worker_errs
    assert any("worker 1 of 2 sends 200 prepared events" in err for err in worker_errs), worker_errs
