"""``chestsim validate``: exit codes, one clear line per bad input, formats, options."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from validation_examples import example, jsonl

from simulator import CATALOG
from simulator.cli import main

GOOD = [example(t.key, which) for t in CATALOG for which in ("minimal", "full")]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.jsonl"
    path.write_bytes(jsonl(*GOOD))
    return path


def test_valid_file_exits_0_with_totals_per_type(capsys: pytest.CaptureFixture[str], good_file: Path) -> None:
    code, out, err = run(capsys, "validate", str(good_file))
    assert code == 0, out
    assert err == ""
    assert "OK: 48 events in 1 file: 48 valid, 0 invalid, 0 warnings" in out
    assert "secret.used" in out


def test_examples_as_json_files_and_arrays(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_bytes(orjson.dumps(GOOD[0], option=orjson.OPT_INDENT_2))
    many = tmp_path / "many.json"
    many.write_bytes(orjson.dumps(GOOD, option=orjson.OPT_INDENT_2))
    code, out, _ = run(capsys, "validate", str(one), str(many))
    assert code == 0, out
    assert "49 events in 2 files" in out


# One bad line inside good ones: the line is named, the rest is checked, exit 1.
BAD_LINES = [
    pytest.param(b"this is not json", "not JSON", id="not-json"),
    pytest.param(b'{"id": "evt_', "truncated", id="truncated-line"),
    pytest.param(b"[1, 2, 3]", "must be a JSON object, got array", id="non-object"),
    pytest.param(b'"just a string"', "must be a JSON object", id="string"),
    pytest.param(b'{"type": "secret.usd", "id": "evt_0123456789abcdefgh"}', "did you mean 'secret.used'",
                 id="unknown-type"),
]


@pytest.mark.parametrize(("line", "fragment"), BAD_LINES)
def test_a_bad_line_is_named_and_the_rest_is_checked(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, line: bytes, fragment: str) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(jsonl(*GOOD[:3]) + line + b"\n" + jsonl(*GOOD[3:6]))
    code, out, _ = run(capsys, "validate", "--show", "all", str(path))
    assert code == 1
    problem_lines = [text for text in out.splitlines() if text.startswith(f"{path}:")]
    assert problem_lines
    assert all(text.startswith(f"{path}:4:") for text in problem_lines)
    assert fragment in problem_lines[0]
    assert "6 valid, 1 invalid" in out
    assert "Traceback" not in out


def test_a_truncated_last_line_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    body = jsonl(*GOOD[:2])
    path.write_bytes(body + orjson.dumps(GOOD[2])[:50])
    code, out, _ = run(capsys, "validate", "--show", "all", str(path))
    assert code == 1
    assert f"{path}:3: error [json]" in out
    assert "truncated" in out


def test_a_50_mb_line_is_reported_skipped_and_the_rest_checked(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as out_file:
        out_file.write(jsonl(GOOD[0]))
        out_file.write(b'{"id": "' + b"x" * (50 * 1024 * 1024) + b'"}\n')
        out_file.write(jsonl(GOOD[1]))
    code, out, _ = run(capsys, "validate", "--show", "all", str(path))
    assert code == 1
    assert f"{path}:2: error [json]: line longer than 8 MiB skipped" in out
    assert "2 valid, 1 invalid" in out


# Inputs that cannot be read at all: one line on stderr, exit 2; other files are still checked.
UNREADABLE = [
    pytest.param("missing.jsonl", None, "does not exist", id="missing-file"),
    pytest.param("empty.jsonl", b"", "is empty", id="empty-file"),
    pytest.param("blank.json", b"\n\n   \n", "is empty", id="blank-file"),
    pytest.param("bom.jsonl", b"\xef\xbb\xbf", "is empty", id="only-a-bom"),
    pytest.param("bom-newline.jsonl", b"\xef\xbb\xbf\r\n", "is empty", id="a-bom-and-a-newline"),
    pytest.param("array.json", b"[]", "is an empty JSON array", id="empty-array"),
    pytest.param("bom-array.json", b"\xef\xbb\xbf [\n ]\n", "is an empty JSON array", id="bom-and-spaced-empty-array"),
    pytest.param("binary.jsonl", bytes(range(256)) * 4, "is a binary file", id="binary-file"),
    pytest.param("folder", "dir", "is a directory", id="directory"),
]


@pytest.mark.parametrize(("name", "content", "fragment"), UNREADABLE)
def test_unreadable_input_is_one_line_exit_2(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, good_file: Path,
        name: str, content: bytes | str | None, fragment: str) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    code, out, err = run(capsys, "validate", str(path), str(good_file))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("chestsim: error: ")
    assert str(path) in lines[0]
    assert fragment in lines[0]
    assert "48 valid" in out  # the good file was still checked
    # Alone, it is that one line and nothing else.
    code, out, err = run(capsys, "validate", str(path))
    assert (code, out, len(err.strip().splitlines())) == (2, "", 1)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["--sequence=sloppy"], "--sequence", id="sequence-takes-no-value"),
        pytest.param(["--max-errors", "-1"], "--max-errors=-1", id="negative-max-errors"),
        pytest.param(["--max-errors", "lots"], "--max-errors", id="non-numeric-max-errors"),
        pytest.param(["--format", "xml"], "--format", id="bad-format"),
        pytest.param(["--max-line-bytes", "10"], "--max-line-bytes=10", id="tiny-line-limit"),
        pytest.param(["-", "-"], "stdin", id="stdin-twice"),
    ],
)
def test_bad_options_are_one_line_exit_2(
        capsys: pytest.CaptureFixture[str], good_file: Path, args: list[str], fragment: str) -> None:
    code, _out, err = run(capsys, "validate", *args, str(good_file))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("chestsim: error: ")
    assert fragment in lines[0]


def test_a_missing_snapshot_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], good_file: Path,
                                               tmp_path: Path) -> None:
    code, _out, err = run(capsys, "validate", "--snapshot", str(tmp_path / "nope.json"), str(good_file))
    assert code == 2
    assert err.strip().splitlines() == [f"chestsim: error: --snapshot={str(tmp_path / 'nope.json')!r} cannot be "
                                        "read: No such file or directory"]


def test_stdin_with_a_dash(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeStdin:
        buffer = io.BytesIO(jsonl(*GOOD[:5]))

        def isatty(self) -> bool:
            return False

    monkeypatch.setattr("sys.stdin", FakeStdin())
    code, out, _ = run(capsys, "validate", "-")
    assert code == 0
    assert "5 events in 1 file" in out


def test_json_format_is_machine_readable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    bad = example("secret.used")
    bad["data"]["time"]["completed_at"] = "2026-01-01T00:00:00.000Z"
    path.write_bytes(jsonl(GOOD[0], bad))
    code, out, _ = run(capsys, "validate", "--format", "json", str(path))
    assert code == 1
    doc = json.loads(out)
    assert doc["ok"] is False
    assert doc["events"] == 2
    assert doc["invalid"] == 1
    assert doc["per_type"]["secret.used"] == {"valid": 0, "invalid": 1, "warnings": 0}
    [problem] = doc["problems"]
    assert problem == {"path": str(path), "line": 2, "id": bad["id"], "type": "secret.used", "code": "semantic",
                       "severity": "error", "pointer": "/data/time/completed_at",
                       "message": problem["message"]}


def test_strict_turns_unknown_field_warnings_into_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "new.jsonl"
    newer = example("user.created")
    newer["data"]["user"]["pronouns"] = "she/her"
    path.write_bytes(jsonl(newer))
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 0
    assert "warning [unknown-field] at /data/user/pronouns" in out
    code, out, _ = run(capsys, "validate", "--strict", str(path))
    assert code == 1
    assert "error [unknown-field] at /data/user/pronouns" in out


def test_max_errors_caps_the_listing_not_the_totals(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"nope\n" * 30)
    code, out, _ = run(capsys, "validate", "--show", "all", "--max-errors", "5", str(path))
    assert code == 1
    assert out.count("error [json]") == 5
    assert "25 more problems not shown" in out
    assert "0 valid, 30 invalid" in out


def test_sequence_flag_before_a_path_and_strict_mode(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "mid-life.jsonl"
    path.write_bytes(jsonl(example("secret.share.completed")))
    code, out, _ = run(capsys, "validate", "--sequence", str(path))
    assert code == 0
    assert "warning [sequence]" in out
    code, out, _ = run(capsys, "validate", "--sequence-strict", str(path))
    assert code == 1
    assert "error [sequence]" in out
    snapshot = tmp_path / "snapshot.json"
    data = example("secret.share.completed")["data"]
    snapshot.write_bytes(orjson.dumps({"users": [data["sender"], data["recipient"]], "secrets": [data["secret"]],
                                       "shares": [data["share_id"]]}))
    code, out, _ = run(capsys, "validate", "--sequence-strict", "--snapshot", str(snapshot), str(path))
    assert code == 0, out


def test_jobs_split_a_large_file_and_give_the_same_report(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.validation._reader as reader
    from simulator.validation import validate

    monkeypatch.setattr(reader, "SPLIT_THRESHOLD", 1024)
    path = tmp_path / "large.jsonl"
    broken = example("secret.used")
    broken["data"]["time"]["completed_at"] = "2026-01-01T00:00:00.000Z"
    path.write_bytes(jsonl(*GOOD) + b"oops\n" + jsonl(*GOOD, broken) + b"\n" + jsonl(*GOOD))
    serial = validate([path])
    parallel = validate([path], jobs=2)
    assert parallel.as_dict() == serial.as_dict()
    assert [(e.line, e.problem.code) for e in parallel.entries] == [(49, "json"), (98, "semantic")]


def test_jobs_with_sequence_is_refused(capsys: pytest.CaptureFixture[str], good_file: Path) -> None:
    code, _out, err = run(capsys, "validate", "--jobs", "2", "--sequence", str(good_file))
    assert code == 2
    assert "--jobs=2 cannot be used with --sequence" in err


def test_validate_refuses_zero_jobs(good_file: Path) -> None:
    from simulator.validation import validate

    with pytest.raises(ValueError, match="jobs=0"):
        validate([good_file], jobs=0)


def test_the_default_stops_at_eight_processes_on_a_big_machine(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, good_file: Path) -> None:
    import simulator.cli._validate as command
    import simulator.validation

    seen: list[int] = []
    real = simulator.validation.validate

    def spy(*positional: Any, **options: Any) -> Any:
        seen.append(options["jobs"])
        return real(*positional, **{**options, "jobs": 1})

    monkeypatch.setattr(simulator.validation, "validate", spy)
    monkeypatch.setattr(command, "_cpus", lambda: 64)
    assert run(capsys, "validate", str(good_file))[0] == 0
    assert run(capsys, "validate", "--jobs", "0", str(good_file))[0] == 0
    assert seen == [8, 64]


@pytest.mark.parametrize(("args", "expected"), [
    ([], min(len(os.sched_getaffinity(0)), 8)),
    (["--jobs", "0"], len(os.sched_getaffinity(0))),
    (["--jobs", "3"], 3),
    (["--sequence"], 1),
    (["--sequence", "--jobs", "1"], 1),
])
def test_the_cli_checks_in_one_process_per_cpu_unless_told_or_sequencing(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, good_file: Path,
        args: list[str], expected: int) -> None:
    import simulator.validation

    seen: list[int] = []
    real = simulator.validation.validate

    def spy(*positional: Any, **options: Any) -> Any:
        seen.append(options["jobs"])
        return real(*positional, **options)

    monkeypatch.setattr(simulator.validation, "validate", spy)
    code, _out, _err = run(capsys, "validate", *args, str(good_file))
    assert code in (0, 1)  # (the examples break sequence rules among themselves)
    assert seen == [expected]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_slices_give_the_same_report_whether_workers_fork_or_spawn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    import simulator.validation._parallel as parallel
    import simulator.validation._reader as reader
    from simulator.validation import validate

    monkeypatch.setattr(reader, "SPLIT_THRESHOLD", 1024)
    monkeypatch.setattr(parallel, "start_method", lambda: method)
    path = tmp_path / "large.jsonl"
    broken = example("group.created")
    broken["data"]["group"]["member_count"] = 42
    path.write_bytes(jsonl(*GOOD) + b"oops\n" + jsonl(*GOOD, broken) + b"\n" + jsonl(*GOOD))
    assert validate([path], jobs=3).as_dict() == validate([path]).as_dict()


def test_workers_fork_only_from_a_single_threaded_parent_on_linux() -> None:
    from simulator.validation._parallel import start_method

    expected = "fork" if sys.platform == "linux" and threading.active_count() == 1 else "spawn"
    assert start_method() == expected
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(start_method()))
    thread.start()
    thread.join(timeout=10)
    assert seen == ["spawn"]


def test_identical_problems_are_one_group_with_a_count_and_first_places(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    events = []
    for index in range(40):
        event = example("user.created")
        event["timestamp"] = "2026-13-45"
        if index % 4 == 0:
            event["data"]["user"]["pronouns"] = "they/them"
        events.append(event)
    path = tmp_path / "bulk.jsonl"
    path.write_bytes(jsonl(*events))
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("     40 × user.created error [envelope] at /timestamp: /timestamp='2026-13-45'")
    assert lines[1].split() == ["first", "at", f"{path}:1", events[0]["id"], f"{path}:2,", events[1]["id"],
                                f"{path}:3,", events[2]["id"].rstrip(","), "and", "37", "more"] or \
        f"{path}:1 {events[0]['id']}, {path}:2" in lines[1]
    assert lines[2].startswith("     10 × user.created warning [unknown-field] at /data/user/pronouns")
    assert "50 problems in 2 groups, most frequent first; --show all lists each one" in out
    code, out, _ = run(capsys, "validate", "--show", "all", str(path))
    assert out.count("error [envelope] at /timestamp") == 40


def test_json_carries_groups_and_every_problem_and_jsonl_streams_them(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    events = [example("secret.used") | {"timestamp": f"2026-13-{10 + i}"} for i in range(1200)]
    path = tmp_path / "bulk.jsonl"
    path.write_bytes(jsonl(*events))
    code, out, _ = run(capsys, "validate", "--format", "json", str(path))
    assert code == 1
    doc = json.loads(out)
    assert len(doc["problems"]) == 1200  # every problem, not the text listing's 1000
    [group] = doc["groups"]
    assert group["count"] == 1200
    assert group["template"] == "/timestamp=… is not an RFC 3339 time in UTC ending in Z, like 2026-11-28T09:14:03.120Z"
    assert [place["line"] for place in group["first"]] == [1, 2, 3]
    code, out, _ = run(capsys, "validate", "--format", "jsonl", str(path))
    assert code == 1
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["line"] for row in rows[:-1]] == list(range(1, 1201))
    assert rows[-1]["summary"]["invalid"] == 1200
    assert rows[-1]["summary"]["groups"][0]["count"] == 1200


def test_a_progress_bar_on_a_terminal_once_a_run_takes_a_second(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import simulator.cli._validate as command

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    path = tmp_path / "big.jsonl"
    path.write_bytes(jsonl(*GOOD))
    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    clock = iter([0.0, 0.5, 2.0, 2.5, 3.0, 3.5, 4.0])
    monkeypatch.setattr(command.time, "monotonic", lambda: next(clock, 5.0))
    with command._progress([str(path)]) as advance:
        assert advance is not None
        advance(100)  # half a second in: nothing yet
        assert screen.getvalue() == ""
        advance(100)  # two seconds in: the bar
    assert "checking" in screen.getvalue()
    with command._progress(["-"]) as advance:  # nothing to measure on stdin
        assert advance is None
