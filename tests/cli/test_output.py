"""Output that cannot be written: a full disk, a closed stdout, a reader that leaves early."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

_OUTPUT_COMMANDS = [["events", "list"], ["scenarios", "list"], ["events", "show", "secret.used"],
                    ["generate", "onboarding", "--events", "20"], ["secret", "new"]]


@pytest.mark.parametrize("args", _OUTPUT_COMMANDS, ids=lambda a: "-".join(a[:2]))
@pytest.mark.parametrize("stdout", ["full", "closed"])
def test_output_that_cannot_be_written_is_one_line_and_exit_2(args: list[str], stdout: str) -> None:
    # `> /dev/full` and `>&-` ended in "internal error" (exit 70), then in a traceback at exit.
    redirect = "> /dev/full" if stdout == "full" else ">&-"
    command = " ".join([shlex.quote(sys.executable), "-m", "simulator", *map(shlex.quote, args), redirect])
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    [said] = done.stderr.splitlines()
    assert said.startswith("chestsim: error: cannot write the output: ")
    assert ("it is closed" if stdout == "closed" else "No space left on device") in said
    assert "whsec_" not in done.stderr


def test_a_reader_that_leaves_early_is_not_an_error() -> None:
    command = f"{shlex.quote(sys.executable)} -m simulator generate onboarding --events 30000 | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr  # Click's own answer to a broken pipe was exit 1
    assert done.stdout.startswith('{"id":"evt_')
    assert done.stderr == ""


def test_a_closed_stdout_is_not_handed_to_the_next_file_opened(tmp_path: Path) -> None:
    # With fd 1 closed, the --out file would get fd 1 and anything printed would land in it.
    out = tmp_path / "day.jsonl"
    command = (f"{shlex.quote(sys.executable)} -m simulator generate onboarding --events 5 "
               f"--out {shlex.quote(str(out))} >&-")
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().count(b"\n") == 5
    assert all(line.startswith(b'{"id"') for line in out.read_bytes().splitlines())


def test_a_reader_that_leaves_early_leaves_no_stall_timer_armed(monkeypatch: pytest.MonkeyPatch) -> None:
    # The stall guard's interval timer is disarmed when the run ends, whatever ends it: left armed until
    # the garbage collector finds the guard, it could fire after shutdown restored SIGALRM's default
    # action, which kills the process ("Alarm clock", seen under load).
    import io
    import signal

    from simulator.cli import main

    class GoneReader(io.BytesIO):
        def write(self, data: bytes) -> int:  # type: ignore[override]
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(GoneReader(), encoding="utf-8"))
    before = signal.getsignal(signal.SIGALRM)
    assert main(["generate", "onboarding", "--events", "3000"]) == 0
    assert signal.getitimer(signal.ITIMER_REAL)[1] == 0.0  # the guard's ticking timer is gone (a test
    assert signal.getsignal(signal.SIGALRM) is before      # timeout's own one-shot timer may remain)
