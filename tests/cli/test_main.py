"""The CLI root: one-line errors with exit code 2, help, version of events commands."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from simulator.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["bogus"], "No such command 'bogus'", id="unknown-command"),
        pytest.param(["events", "show", "secret.usd"], "did you mean 'secret.used'", id="unknown-type"),
        pytest.param(["events", "list", "--format", "xml"], "--format", id="bad-choice"),
        pytest.param(["events", "list", "--nope"], "--nope", id="unknown-option"),
        pytest.param(["events", "show", "secret.used", "--example", "maximal"], "has the examples full, minimal",
                     id="unknown-example"),
    ],
)
def test_usage_errors_are_one_line_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], fragment: str) -> None:
    code, _out, err = run(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("chestsim: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in err


def test_no_args_prints_help_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys)
    assert code == 2
    assert "Usage" in err


def test_events_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "events", "list", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 24
    assert {"key", "label", "description"} <= set(rows[0])


def test_events_list_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "events", "list")
    assert code == 0
    assert "secret.used" in out
    assert "Post Meta Data Of Personal Device" in out


def test_events_show_by_label(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "events", "show", "Secret Used", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["key"] == "secret.used"
    assert doc["schema"]["$id"].endswith("events/secret.used.json")
    assert doc["example"]["type"] == "secret.used"


def test_python_dash_m_works() -> None:
    proc = subprocess.run([sys.executable, "-m", "simulator", "events", "show", "nope"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("chestsim: error: unknown event type 'nope'")


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (Typer vendors its own Click: no isinstance)
            out.extend(_commands(command, (*prefix, name)))
        elif name != "loadtest":  # Locust's own help, passed through
            out.append((*prefix, name))
    return out


def test_help_names_every_value_by_its_metavar_not_its_python_type(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    import typer

    from simulator.cli import app

    commands = _commands(typer.main.get_command(app))
    assert len(commands) >= 11
    for command in commands:
        code, out, _err = run(capsys, *command, "--help")
        assert code == 0, command
        assert not re.search(r"<(str|int|float|path|bool)>", out), (command, out)


@pytest.mark.parametrize("command", [["validate"], ["generate", "tenant-day", "--events", "5"]])
def test_ctrl_c_in_any_command_says_interrupted_in_one_line(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        command: list[str]) -> None:
    import simulator.model._generate
    import simulator.validation

    def interrupted(*_args: Any, **_options: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(simulator.validation, "validate", interrupted)
    monkeypatch.setattr(simulator.model._generate, "iter_events", interrupted)
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n")
    args = [*command, str(events)] if command == ["validate"] else [*command, "--out", str(tmp_path / "out.jsonl")]
    code, _out, err = run(capsys, *args)
    assert (code, err) == (130, "chestsim: error: interrupted\n")


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from simulator._version import __version__

    for flag in ("--version", "-V"):
        code, out, err = run(capsys, flag)
        assert (code, out, err) == (0, f"chestsim {__version__}\n", "")


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [("chestsim gen", 1, "generate"), ("chestsim validate --fo", 2, "--format"),
     ("chestsim examples co", 2, "copy")],
    ids=["command", "option", "subcommand"],
)
def test_shell_completion_answers_from_the_installed_script(words: str, cword: int, expected: str) -> None:
    import os
    import shutil

    script = shutil.which("chestsim", path=str(Path(sys.executable).parent))
    assert script, "the chestsim console script is not installed beside this Python"
    env = {**os.environ, "_CHESTSIM_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    done = subprocess.run([script], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout.split()


def test_install_completion_writes_the_script_for_the_shell(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "HOME": str(tmp_path), "SHELL": "/bin/bash"}
    # Typer finds the shell among the parent processes, as it would in a terminal: bash runs it
    # (`; true` keeps bash from replacing itself with the command).
    command = f"{shlex.quote(sys.executable)} -m simulator --install-completion; true"
    done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert "bash completion installed in" in done.stdout, done.stdout + done.stderr
    assert "_CHESTSIM_COMPLETE" in (tmp_path / ".bash_completions" / "chestsim.sh").read_text()
    assert ".bash_completions/chestsim.sh" in (tmp_path / ".bashrc").read_text()


def test_examples_copy_refuses_to_overwrite_without_force(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "examples", "copy", str(tmp_path / "ex"))[0] == 0
    assert (tmp_path / "ex" / "starlette_listener.py").is_file()
    code, _, err = run(capsys, "examples", "copy", str(tmp_path / "ex"))
    assert code == 2
    assert err.startswith("chestsim: error: DIR=")
    assert "add --force" in err
    assert run(capsys, "examples", "copy", "--force", str(tmp_path / "ex"))[0] == 0


def test_demo_refuses_a_file_as_its_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "taken"
    taken.write_text("")
    code, _, err = run(capsys, "demo", "--out", str(taken))
    assert code == 2
    assert err.count("\n") == 1
    assert "is a file; give a folder" in err
