"""Helpers for the load-test suite: a ``chestsim listen`` subprocess, Locust subprocesses.

Nothing here imports Locust: it monkey-patches the whole process with gevent.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIREHOSE = ROOT / "loadtests" / "firehose.py"
# The spec's test secret: known, so a test can check that it never leaks into output.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TOKEN = "t0k3n-firehose-bearer"



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: this checkout importable, no stray chestsim/Locust settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LOCUST_", "CHESTSIM_", "PYTEST_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


@dataclass
class RunningListener:
    base_url: str
    db: Path
    proc: subprocess.Popen[bytes]

    @property
    def host(self) -> str:
        return self.base_url

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base_url}/_chestsim/stats", timeout=5) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data

    def settled_stats(self, timeout: float = 10.0) -> dict[str, Any]:
        """Stats once every answered request is committed to the record file."""
        deadline = time.monotonic() + timeout
        stats = self.stats()
        while stats.get("committed", stats["requests"]) < stats["requests"] and time.monotonic() < deadline:
            time.sleep(0.1)
            stats = self.stats()
        return stats

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows from the listener's SQLite record file (read-only, WAL lets it run alongside)."""
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as conn:
            return conn.execute(sql).fetchall()


@dataclass
class LocustRun:
    returncode: int
    stdout: str
    stderr: str
    entries: list[dict[str, Any]]

    @property
    def successes(self) -> int:
        return sum(int(e["num_requests"]) - int(e["num_failures"]) for e in self.entries)

    @property
    def failures(self) -> int:
        return sum(int(e["num_failures"]) for e in self.entries)


def run_locust(args: Sequence[str], *, tmp_path: Path, env: dict[str, str] | None = None,
               timeout: float = 90) -> LocustRun:
    """Locust, headless, as a subprocess; its ``--json-file`` stats parsed when it wrote them."""
    report = tmp_path / "locust"
    command = [sys.executable, "-m", "locust", "-f", str(FIREHOSE), "--headless", "--json-file",
               str(report), "--stop-timeout", "10", *args]
    proc = subprocess.run(command, cwd=tmp_path, env=env or child_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)
    json_file = report.with_suffix(".json")
    entries = json.loads(json_file.read_text()) if json_file.is_file() else []
    return LocustRun(proc.returncode, proc.stdout, proc.stderr, entries)
