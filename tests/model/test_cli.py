"""``chestsim generate`` and ``chestsim scenarios list`` through the CLI entry point."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from simulator.cli import main


def test_generate_writes_jsonl_to_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["generate", "share-lifecycle", "--seed", "3", "--events", "25"]) == 0
    out = capsysbinary.readouterr()
    lines = out.out.splitlines()
    assert len(lines) == 25
    assert orjson.loads(lines[0])["type"] == "user.created"
    assert out.err == b""  # no progress bar when stderr is not a terminal


def test_generate_to_a_file_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    args = ["generate", "tenant-day", "--users", "6", "--groups", "2", "--devices-per-user", "3",
            "--duration", "2h", "--start", "2026-11-30T09:00Z", "--locale", "fr_FR", "--rate", "2/s"]
    assert main([*args, "--out", str(a)]) == 0
    assert main([*args, "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.stat().st_size > 0


def test_set_with_a_value_the_schema_refuses_warns_and_runs(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["generate", "desharding", "--users", "3", "--events", "300", "--set", "secret.used:data.purpose=teleport"]) == 0
    out = capsysbinary.readouterr()
    assert b"makes secret.used events fail their schema" in out.err
    used = [orjson.loads(line) for line in out.out.splitlines() if b'"secret.used"' in line]
    assert used
    assert all(e["data"]["purpose"] == "teleport" for e in used)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["onboarding", "--users", "0"], "--users='0' must be a whole number"),
        (["onboarding", "--rate", "fast"], "--rate='fast' must be a positive number"),
        (["onbording"], "did you mean 'onboarding'"),
        (["onboarding", "--events", "-3"], "--events='-3'"),
        (["onboarding", "--duration", "0"], "--duration='0' must be longer than zero"),
        (["onboarding", "--set", "secret.usd:data.purpose=1"], "did you mean 'secret.used'"),
        (["onboarding", "--set", "secret.used:data.nope=1"], "has no field 'nope'"),
        (["onboarding", "--set", "secret.used"], "must look like TYPE:PATH=VALUE"),
        (["onboarding", "--locale", "xx_YY"], "not a Faker locale"),
        (["onboarding", "--start", "soon"], "--start='soon'"),
        (["onboarding", "--out", "/nonexistent/dir/x.jsonl"], "cannot be written"),
        (["onboarding", "--realtime"], "--realtime needs --rate"),
    ],
    ids=["users-0", "rate-fast", "unknown-scenario", "events-negative", "duration-0", "set-unknown-type",
         "set-unknown-path", "set-no-value", "locale", "start", "out-unwritable", "realtime-without-rate"],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chestsim: error: ")
    assert err.count("\n") == 1
    assert message in err


def test_a_scenario_file_with_a_syntax_error_points_at_its_line(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.py"
    path.write_text('"""Broken."""\n\ndef run(t):\n    t.users[0].use(\n')
    assert main(["generate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:4: syntax error" in err
    assert err.count("\n") == 1


def test_scenarios_list_json_names_what_each_emits(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["scenarios", "list", "--format", "json"]) == 0
    rows = orjson.loads(capsysbinary.readouterr().out)
    by_name = {r["name"]: r for r in rows}
    assert "secret.used" in by_name["desharding"]["events"]
    assert by_name["idp-change"]["events"] == ["idp.settings_updated"]
    assert len(by_name["firehose"]["events"]) >= 20


def test_scenarios_list_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenarios", "list"]) == 0
    out = capsys.readouterr().out
    assert "share-lifecycle" in out
    assert "tenant-day" in out


def test_no_history_with_a_snapshot_passes_the_strict_sequence_rules(tmp_path: Path) -> None:
    from simulator.validation import SequenceChecker

    out, snap = tmp_path / "live.jsonl", tmp_path / "snapshot.json"
    assert main(["generate", "share-lifecycle", "--users", "5", "--events", "300", "--no-history",
                 "--snapshot-out", str(snap), "--out", str(out)]) == 0
    events = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(events) == 300
    assert events[0]["type"] == "secret.created"  # the scenario's own first action, not the history
    checker = SequenceChecker(mode="strict", snapshot=str(snap))
    assert [f for i, e in enumerate(events) for f in checker.feed(e, str(i))] == []
    blind = SequenceChecker(mode="strict")
    assert [f for i, e in enumerate(events) for f in blind.feed(e, str(i))] != []


def test_output_does_not_depend_on_the_interpreters_hash_seed(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    def run(hash_seed: str) -> bytes:
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        return subprocess.run([sys.executable, "-m", "simulator", "generate", "firehose", "--users", "20",
                               "--events", "4000", "--seed", "5"], env=env, capture_output=True, check=True,
                              timeout=120).stdout

    assert run("1") == run("2")
