"""Every command the README shows runs, in a scratch folder, against loopback, with short durations.

The README is read afresh: a command added to it is run here without anyone editing this
file. Each ```sh line is sorted by the rules below; a line no rule knows fails the test
(add a rule, with its reason). URLs are pointed at a ``chestsim listen`` on a free loopback
port, sizes are cut to a few seconds' worth, ``whsec_…`` becomes a fresh secret. A command
passes when it exits 0 or 1 (1 = invalid payloads or failed cases, as documented) with no
traceback and no "internal error". The README's pytest examples run too, against the
example Starlette listener.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from simulator._signing import SigningSecret
from simulator.listener import free_port

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

pytestmark = [pytest.mark.slow, pytest.mark.integration]

_FENCE = re.compile(r"^```(\w*)\s*$")
_URL = re.compile(r"https?://(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+)(?::\d+)?")
# Sizes cut to a few seconds' worth: (option, the most this test asks for).
_CAPS = {"--users": 30, "--events": 3000, "--requests": 200, "-u": 5, "-n": 200}
_TIMES = ("--run-time", "-t", "--duration-load")


def _blocks(language: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, lines) of each fenced block in ``language``."""
    inside: str | None = None
    start, lines = 0, []
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        fence = _FENCE.match(line)
        if fence and inside is None:
            inside, start, lines = fence.group(1), number, []
        elif line.startswith("```") and inside is not None:
            if inside == language:
                yield start, lines
            inside = None
        elif inside is not None:
            lines.append(line)


def _commands(lines: list[str]) -> Iterator[str]:
    joined = ""
    for line in lines:
        text = re.sub(r"(^|\s)#(\s.*|)$", "", line).rstrip()
        if text.endswith("\\"):
            joined += text[:-1] + " "
            continue
        joined += text
        if joined.strip():
            yield " ".join(joined.split())
        joined = ""


@dataclass
class Scratch:
    """The folder, environment and listener the README's commands run with."""

    folder: Path
    env: dict[str, str]
    port: int
    listener: subprocess.Popen[bytes] | None = None
    ran: list[str] = field(default_factory=list)

    def rewrite(self, command: str) -> str:
        command = command.replace("whsec_…", self.env["CHESTSIM_SECRET"])
        assert "…" not in command, f"README command has a placeholder this test cannot fill: {command}"
        command = _URL.sub(f"http://127.0.0.1:{self.port}", command)
        command = re.sub(r"--port \d+", f"--port {self.port}", command)
        for option, most in _CAPS.items():
            command = re.sub(rf"(?<!\S){re.escape(option)}[ =](\d+)",
                             lambda m, o=option, n=most: f"{o} {min(int(m.group(1)), n)}", command)
        for option in _TIMES:
            command = re.sub(rf"(?<!\S){re.escape(option)}[ =](\S+)", f"{option} 3s", command)
        return command

    def run(self, command: str) -> None:
        if _URL.search(command) or "--to " in command or command.startswith(("chestsim certify", "chestsim send")):
            self.ensure_listener()
        started = time.monotonic()
        done = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=self.folder, env=self.env,
                              capture_output=True, text=True, timeout=180, check=False)
        said = done.stdout + done.stderr
        self.ran.append(command)
        print(f"{time.monotonic() - started:6.1f} s  {command}")
        assert done.returncode in (0, 1), f"`{command}` exited {done.returncode}:\n{said[-3000:]}"
        assert "Traceback" not in said, f"`{command}` printed a traceback:\n{said[-3000:]}"
        assert "internal error" not in said, f"`{command}`:\n{said[-3000:]}"
        assert self.env["CHESTSIM_SECRET"] not in said or command.startswith("chestsim secret new"), command

    def listen(self, command: str) -> None:
        self.stop()
        log = self.folder / f"listener-{len(self.ran)}.log"
        with log.open("wb") as said:
            self.listener = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=self.folder, env=self.env,
                                             stdout=said, stderr=subprocess.STDOUT)
        self.ran.append(command)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.listener.poll() is None, f"`{command}` exited early: {log.read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_chestsim/stats", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"`{command}` did not answer within 30 s")

    def ensure_listener(self) -> None:
        if self.listener is None or self.listener.poll() is not None:
            self.listen(f"chestsim listen --port {self.port} --db default-received.db")

    def stop(self) -> None:
        if self.listener is None:
            return
        self.listener.send_signal(signal.SIGTERM)
        try:
            code = self.listener.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.listener.kill()
            pytest.fail("a README listener did not stop within 30 s of SIGTERM")
        self.listener = None
        assert code == 0, f"a README listener exited {code} on SIGTERM"


def _skip(reason: str) -> str:
    return reason


# How each kind of README line is run. A line that matches none fails the test.
RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^make [a-z][\w-]*"), "make-dry-run"),
    (re.compile(r"^pip install\b"), _skip("installs from a package registry")),
    (re.compile(r"^locust -f (\S+)"), "locustfile-exists"),
    (re.compile(r"^export (\w+)=(\S+)$"), "export"),
    (re.compile(r"^chestsim listen\b"), "listen"),
    (re.compile(r"^(cat \S+ \| )?chestsim\b"), "run"),
    # Text tools that make an input for the next command (a drifted capture, say).
    (re.compile(r"^(sed|grep|head|cat|cp) "), "run"),
]


def _prepare(folder: Path, env: dict[str, str]) -> None:
    """Inputs the README names without making them."""
    subprocess.run([sys.executable, "-m", "simulator", "generate", "share-lifecycle", "--users", "8",
                    "--events", "300", "--out", "captured.jsonl"], cwd=folder, env=env, check=True, timeout=120,
                   capture_output=True)
    shutil.copyfile(folder / "captured.jsonl", folder / "events.jsonl")
    (folder / "my_scenario.py").write_text(
        '"""Alice shares a secret with Bob, who uses it."""\n\n\n'
        "def run(t):\n"
        "    alice, bob = t.users[:2]\n"
        "    secret = alice.create_secret('Prod Postgres')\n"
        "    alice.share(secret, to=[bob])\n"
        "    for pending in t.open_pending:\n"
        "        t.accept(pending)\n"
        "    t.use(alice, secret, purpose='copy')\n")
    shutil.copytree(ROOT / "examples", folder / "examples")
    # A contract and the one before it, for `schemas diff`.
    shutil.copytree(ROOT / "schemas", folder / "schemas")
    shutil.copytree(ROOT / "schemas", folder / "old-schemas")


def test_every_shell_command_in_the_readme_runs(tmp_path: Path) -> None:
    bindir = str(Path(sys.executable).parent)
    assert shutil.which("chestsim", path=bindir), "the chestsim console script is not installed beside Python"
    env = {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
           "CHESTSIM_SECRET": SigningSecret.generate().reveal()}
    env.pop("CHESTSIM_TOKEN", None)
    scratch = Scratch(tmp_path, env, free_port())
    _prepare(tmp_path, env)
    kinds: dict[str, int] = {}
    try:
        for start, lines in _blocks("sh"):
            for raw in _commands(lines):
                kind = next((k for pattern, k in RULES if pattern.search(raw)), None)
                assert kind is not None, (f"README.md:{start}: no rule says how to run `{raw}`; add one to "
                                          "tests/test_readme.py RULES")
                kinds[kind] = kinds.get(kind, 0) + 1
                command = scratch.rewrite(raw)
                if kind == "make-dry-run":
                    target = command.split()[1]
                    done = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True,
                                          timeout=60, check=False)
                    assert done.returncode == 0, f"README.md:{start}: `make {target}` is not a target"
                elif kind == "locustfile-exists":
                    locustfile = command.split()[2]
                    assert (ROOT / locustfile).is_file(), f"README.md:{start}: {locustfile} does not exist"
                elif kind == "export":
                    name, value = command.split(" ", 1)[1].split("=", 1)
                    env[name] = value
                elif kind == "listen":
                    scratch.listen(command)
                elif kind == "run":
                    scratch.run(command)
            scratch.stop()
    finally:
        if scratch.listener is not None and scratch.listener.poll() is None:
            scratch.listener.kill()
    assert kinds.get("run", 0) >= 20, f"the README's commands were not found: {kinds}"
    assert kinds.get("listen", 0) >= 1


def test_the_readme_pytest_examples_pass(tmp_path: Path) -> None:
    """The ```python blocks that define tests run against the example Starlette listener."""
    package = tmp_path / "myservice"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "web.py").write_text(
        "from starlette_listener import create_app as _example\n\n\n"
        "def create_app(webhook_secret):\n"
        "    return _example(webhook_secret)\n")
    shutil.copyfile(ROOT / "examples" / "starlette_listener.py", tmp_path / "starlette_listener.py")
    written = 0
    for start, lines in _blocks("python"):
        source = "\n".join(lines)
        if "def test_" not in source:
            continue
        if "create_app" in source and "import create_app" not in source:
            source = "from myservice.web import create_app\n\n\n" + source
        (tmp_path / f"test_readme_{start}.py").write_text(source + "\n")
        written += 1
    assert written >= 2, "the README's pytest examples were not found"
    # A project of the user's own: its own ini (the dev venv has pytest-asyncio, which wants its scope set).
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n"
                                         "asyncio_default_fixture_loop_scope = function\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"{written} passed" in done.stdout or " passed" in done.stdout
