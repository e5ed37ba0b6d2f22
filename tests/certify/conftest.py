"""Fixtures for certify tests; the listeners live in ``certify_listeners.py`` beside this file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# --import-mode=importlib does not put test folders on sys.path; the helper module needs it.
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from simulator.testing import TEST_SECRET  # noqa: E402

Start = Callable[..., str]


@pytest.fixture
def start() -> Iterator[Start]:
    """``start(break, token=None, tls=(cert, key))``: a listener process (``certify_listeners.py``) on a free loopback port;
    returns its webhook URL. Every process is killed at teardown."""
    running: list[subprocess.Popen[str]] = []

    def _start(broken: str, *, token: str | None = None, tls: tuple[Path, Path] | None = None) -> str:
        env = {**os.environ, "LISTENER_SECRET": TEST_SECRET}
        if token:
            env["LISTENER_TOKEN"] = token
        if tls:
            env["LISTENER_CERT"], env["LISTENER_KEY"] = str(tls[0]), str(tls[1])
        proc = subprocess.Popen([sys.executable, str(HERE / "certify_listeners.py"), broken],
                                stdout=subprocess.PIPE, text=True, env=env)
        running.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()  # bounded: the listener prints it, or exits and gives EOF
        assert line.startswith("port="), line
        scheme = "https" if tls else "http"
        return f"{scheme}://127.0.0.1:{int(line.split('=')[1])}/webhooks"

    yield _start
    for proc in running:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()

