"""Scenario code under a guard: exits, recursion, endless loops, impossible sizes and --set indexes.

Each case comes from a hostile-input probe of ``chestsim generate``; each must end in one
line naming the place and the fix, exit 2, and no traceback.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from simulator._exceptions import UsageError
from simulator.model._guard import ScenarioStalled, check_fits, stall_guarded

SCRIPTS = {
    "exit-in-run": ("import sys\ndef run(t):\n    sys.exit(0)\n", 3, "it called sys.exit(0)"),
    "exit-on-load": ("import sys\nsys.exit(3)\ndef run(t):\n    pass\n", 2, "it called sys.exit(3)"),
    "recursion": ("def f(n):\n    return f(n + 1)\ndef run(t):\n    f(0)\n", 2, "recursion deeper than"),
    "endless-loop": ("def run(t):\n    while True:\n        pass\n", 2, "no event came out in 1 s"),
    "acts-without-returning": ("def run(t):\n    while True:\n        t.hire()\n", 3, "no event came out in 1 s"),
}


def _generate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", "generate", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_scenario_code_that_misbehaves_is_one_line_naming_its_line(name: str, tmp_path: Path) -> None:
    source, line, reason = SCRIPTS[name]
    script = tmp_path / f"{name.replace('-', '_')}.py"
    script.write_text(source)
    done = _generate(str(script), "--no-history", "--events", "5", "--timeout", "1s", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    [said] = done.stderr.splitlines()
    assert said.startswith("chestsim: error: ")
    assert f"{script}:{line}" in said
    assert reason in said
    assert "Traceback" not in done.stderr


def test_the_stall_timer_ignores_time_the_consumer_takes() -> None:
    import time

    slow_reader = []
    for item in stall_guarded(iter(range(3)), 0.3):
        time.sleep(0.5)  # a slow pipe: longer than the limit, but outside the scenario
        slow_reader.append(item)
    assert slow_reader == [0, 1, 2]


def test_the_stall_timer_stops_a_stream_that_works_too_long_and_restores_the_alarm() -> None:
    import signal

    def endless() -> object:
        yield 1
        while True:
            pass

    before = signal.getsignal(signal.SIGALRM)
    stream = stall_guarded(endless(), 0.5)
    assert next(stream) == 1
    with pytest.raises(ScenarioStalled, match=r"no event came out in 0\.5 s"):
        next(stream)
    assert signal.getsignal(signal.SIGALRM) is before


def test_a_tenant_that_cannot_fit_in_memory_is_refused_up_front(tmp_path: Path) -> None:
    done = _generate("onboarding", "--users", "1000000000", "--events", "3", cwd=tmp_path)
    assert done.returncode == 2
    [said] = done.stderr.splitlines()
    assert "--users=1000000000 needs about" in said
    assert "enough for about" in said
    with pytest.raises(UsageError, match="ask for fewer"):
        check_fits(users=200_000, devices_per_user=4, available=2**30)
    check_fits(users=10_000, devices_per_user=2, available=2**30)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('user.created:data.user.roles.5="admin"', "data.user.roles has"),
        ('secret.used:data.device_ids.99="x"', "data.device_ids has"),
    ],
    ids=["roles-5", "device-ids-99"],
)
def test_set_with_an_index_out_of_range_is_refused(setting: str, message: str, tmp_path: Path) -> None:
    done = _generate("desharding", "--users", "3", "--events", "200", "--set", setting, cwd=tmp_path)
    assert done.returncode == 2
    said = done.stderr.strip().splitlines()[-1]
    assert said.startswith("chestsim: error: --set=")
    assert message in said
    assert "is out of range; use an index from 0 to" in said


def test_set_with_an_index_in_range_changes_that_item(tmp_path: Path) -> None:
    done = _generate("onboarding", "--events", "40", "--set", 'user.created:data.user.roles.0="auditor"',
                     cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"roles":["auditor"' in done.stdout


def test_generate_to_a_file_says_what_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "day.jsonl"
    done = _generate("tenant-day", "--users", "6", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0
    lines = out.read_bytes().count(b"\n")
    [said] = done.stderr.splitlines()
    assert said.startswith(f"generated {lines:,} events of ")
    assert said.endswith(f" s to {out}")


def test_scenario_exit_via_library_is_a_scenario_error(tmp_path: Path) -> None:
    from simulator.model._generate import iter_events

    script = tmp_path / "quits.py"
    script.write_text(textwrap.dedent("""\
        import sys
        def run(t):
            raise SystemExit("bye")
    """))
    with pytest.raises(UsageError, match=r"quits.py:3: it called sys.exit\('bye'\)"):
        list(iter_events(str(script), history=False, events=3))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "0001-01-01T00:00Z"], "--start='0001-01-01T00:00Z' is out of range"),
        (["--start", "9999-12-31T20:00Z"], "--start='9999-12-31T20:00Z' is out of range"),
        (["--rate", "1e-300", "--no-history"], "at least one a day"),
    ],
    ids=["start-year-1", "start-year-9999", "rate-too-slow"],
)
def test_a_clock_that_would_leave_rfc3339_years_is_refused(args: list[str], message: str, tmp_path: Path) -> None:
    # Found beyond the list: year 1 printed timestamps like "0-12-25T…", year 9999 ran into
    # "10000-01-05T…", and a rate of 1e-300 ended in an OverflowError blamed on the scenario's line.
    done = _generate("onboarding", "--events", "50", *args, cwd=tmp_path)
    assert done.returncode == 2
    [said] = done.stderr.splitlines()
    assert message in said
    assert done.stdout == ""
