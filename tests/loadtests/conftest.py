"""Fixtures for the load-test suite: a real ``chestsim listen`` on loopback, as a subprocess."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# `loadtests` is a folder of the checkout, not an installed package.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.loadtests._helpers import SECRET, TOKEN, RunningListener, child_env, free_port  # noqa: E402


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[RunningListener]:
    """``chestsim listen`` on a free loopback port, checking ``SECRET`` signatures and the ``TOKEN``."""
    port = free_port()
    db = tmp_path / "received.db"
    log = tmp_path / "listener.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simulator", "listen", "--host", "127.0.0.1", "--port", str(port),
             "--path", "/webhooks", "--db", str(db), "--view", "quiet"],
            cwd=ROOT, env=child_env(CHESTSIM_SECRET=SECRET, CHESTSIM_TOKEN=TOKEN), stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT)
    running = RunningListener(f"http://127.0.0.1:{port}", db, proc)
    deadline = time.monotonic() + 30
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"chestsim listen exited {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                running.stats()
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"chestsim listen did not answer within 30 s: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield running
    finally:
        running.stop()


