"""``chestsim send`` against the real ``chestsim listen`` (a subprocess on loopback).

Signatures and tokens verified by the listener, subscriptions and select-all,
410 from ``--gone-after``, 429 from ``--rate-limit``, ``--ordered``, and the fault
test: ~20% 5xx, ~5% dropped connections, ~5% hangs past the timeout, one restart
mid-run; the listener's distinct acknowledged webhook-ids equal the journal's
delivered set.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from delivery_sink import SECRET, TOKEN, make_events

import simulator.delivery as delivery
from simulator.delivery import Endpoint, Journal

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Listen:
    """``chestsim listen`` in a child process; restartable on the same port and database."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.port = free_port()
        self.db = tmp / f"listen-{self.port}.db"
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("CHESTSIM_SECRET", "CHESTSIM_TOKEN")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator", "listen", "--port", str(self.port), "--db", str(self.db),
             "--view", "quiet", *self.args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"listener exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_chestsim/stats", timeout=1):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise RuntimeError("listener did not start within 30 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as db:
            return list(db.execute(sql))

    def acknowledged(self) -> set[str]:
        return {str(r[0]) for r in self.rows("SELECT DISTINCT webhook_id FROM records WHERE status BETWEEN 200 AND 299")}


def start_listener(tmp: Path, *args: str) -> Listen:
    listener = Listen(tmp, *args)
    listener.start()
    return listener


@pytest.fixture
def listen(tmp_path: Path) -> Iterator[type[Listen]]:
    started: list[Listen] = []

    class Tracked(Listen):
        def __init__(self, *args: str) -> None:
            super().__init__(tmp_path, *args)
            started.append(self)
            self.start()

    yield Tracked
    for listener in started:
        listener.stop()


@pytest.fixture(scope="module")
def verifying(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listen]:
    """One listener checking signatures and the token, shared by the tests that only send."""
    listener = start_listener(tmp_path_factory.mktemp("listen"), "--secret", SECRET, "--token", TOKEN)
    yield listener
    listener.stop()


def test_signed_with_token_verified_by_listener(verifying: Listen) -> None:
    events = make_events(40, prefix="signed")
    report = delivery.send(events, to=[verifying.url], secrets=[SECRET], token=TOKEN)
    assert report.delivered == 40
    rows = verifying.rows("SELECT DISTINCT signature, status FROM records WHERE webhook_id LIKE 'signed_%'")
    assert rows == [("ok", 204)]


def test_bad_signature_and_skew_refused_by_listener(verifying: Listen) -> None:
    report = delivery.send(make_events(3, prefix="badsig"), to=[verifying.url], secrets=[SECRET], token=TOKEN,
                           bad_signature=True, retry="none")
    assert report.dead_lettered == 3
    assert report.dead_reasons == {"retries exhausted after 1 attempt (last: HTTP 401)": 3}
    skewed = delivery.send(make_events(2, prefix="skew"), to=[verifying.url], secrets=[SECRET], token=TOKEN,
                           clock_skew=-3600, retry="none")
    assert skewed.dead_lettered == 2
    no_token = delivery.send(make_events(2, prefix="notoken"), to=[verifying.url], secrets=[SECRET], retry="none")
    assert no_token.dead_lettered == 2


def test_subscriptions_and_select_all(verifying: Listen) -> None:
    events = make_events(40, prefix="route")
    eps = [Endpoint.from_url(verifying.url, name="used", events=["Secret Used"], secrets=[SECRET], token=TOKEN),
           Endpoint.from_url(verifying.url, name="all", events="Select all", secrets=[SECRET], token=TOKEN)]
    report = delivery.send(events, endpoints=eps)
    assert report.delivered == 50
    assert report.per_endpoint["used"]["delivered"] == 10
    counts = dict(verifying.rows("SELECT event_type, count(*) FROM records WHERE webhook_id LIKE 'route_%' "
                                 "GROUP BY event_type"))
    assert counts == {"secret.used": 20, "user.created": 10, "secret.deleted": 10, "group.created": 10}


def test_gone_after_disables(listen: type[Listen], tmp_path: Path) -> None:
    listener = listen("--gone-after", "10")
    report = delivery.send(make_events(30), to=[listener.url], concurrency=1, journal=tmp_path / "j.db")
    assert report.delivered == 10
    assert report.dead_lettered == 20
    assert listener.url in report.disabled_endpoints


def test_rate_limit_429_retried(listen: type[Listen]) -> None:
    listener = listen("--rate-limit", "50")
    report = delivery.send(make_events(80), to=[listener.url], retry=",".join(["1s"] * 30),
                           time_scale=0.2, concurrency=8)
    assert report.delivered == 80
    listener.stop()
    assert listener.rows("SELECT count(*) FROM records WHERE status = 429")[0][0] > 0


def test_ordered_per_tenant(listen: type[Listen]) -> None:
    listener = listen("--fail-rate", "0.3", "--seed", "5")
    events = make_events(90)
    report = delivery.send(events, to=[listener.url], ordered=True, concurrency=16, retry="1s,1s,1s,1s,1s,1s",
                           time_scale=0.01)
    assert report.delivered == 90
    listener.stop()
    seq = {e["id"]: (e["tenant_id"], e["data"]["seq"]) for e in events}
    per_tenant: dict[str, list[int]] = {}
    for (msg_id,) in listener.rows("SELECT webhook_id FROM records WHERE status = 204 ORDER BY seq"):
        tenant, n = seq[str(msg_id)]
        per_tenant.setdefault(tenant, []).append(n)
    assert all(ns == sorted(ns) for ns in per_tenant.values())


@pytest.mark.slow
def test_faults_with_restart(listen: type[Listen], tmp_path: Path) -> None:
    listener = listen("--secret", SECRET, "--fail-rate", "0.2", "--drop-rate", "0.05", "--hang-rate", "0.05",
                      "--seed", "11")
    journal = tmp_path / "run.db"
    events = make_events(300)

    def restart_midway() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if listener.rows("SELECT count(*) FROM records")[0][0] >= 120:
                    break
            except sqlite3.Error:
                pass
            time.sleep(0.05)
        listener.stop()
        time.sleep(0.3)
        listener.start()

    restarter = threading.Thread(target=restart_midway)
    restarter.start()
    report = delivery.send(events, to=[listener.url], secrets=[SECRET], journal=journal, concurrency=16,
                           timeout=0.5, retry=",".join(["1s"] * 12), time_scale=0.05, seed=2)
    restarter.join(60)
    assert report.delivered + report.dead_lettered == 300
    assert report.retried > 50
    listener.stop()
    jr = Journal.open(journal)
    try:
        assert jr.counts()["pending"] == 0
        assert listener.acknowledged() == jr.delivered_ids()
    finally:
        jr.close()
