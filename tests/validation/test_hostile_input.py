"""Hostile input to ``chestsim validate``: closed or full standard streams, long fields, odd files.

Each case gets one line and exit 2 (or its verdict), never a traceback; none of them is timed:
the leak guard's linearity is checked by counting the searches it runs.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from validation_examples import example, jsonl

from simulator.cli import main
from simulator.validation import _leakguard, looks_like_secret, validate


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.jsonl"
    path.write_bytes(jsonl(example("secret.used"), example("user.created")))
    return path


def _chestsim(*args: str, **streams: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", *args], capture_output="stdout" not in streams,
                          text=True, timeout=60, check=False, **streams)


@pytest.mark.parametrize(("args", "streams", "fragment"), [
    pytest.param(["-"], {"stdin": subprocess.DEVNULL}, "is empty", id="stdin-empty"),
    pytest.param(["GOOD"], {"stdout": open("/dev/full", "w")}, "No space left on device", id="stdout-full"),  # noqa: SIM115
    pytest.param(["--format", "json", "GOOD"], {"stdout": open("/dev/full", "w")}, "No space left on device",  # noqa: SIM115
                 id="json-to-full-stdout"),
])
def test_standard_streams_that_fail_are_one_line_exit_2(good_file: Path, args: list[str], streams: dict[str, Any],
                                                        fragment: str | None) -> None:
    args = [str(good_file) if a == "GOOD" else a for a in args]
    stdout = streams.get("stdout")
    try:
        proc = _chestsim("validate", *args, stderr=subprocess.PIPE, **streams) if stdout else \
            _chestsim("validate", *args, **streams)
    finally:
        if stdout:
            stdout.close()
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("chestsim: error: ")
    if fragment:
        assert fragment in lines[0]


@pytest.mark.parametrize(("shell", "fragment"), [
    pytest.param("validate - <&-", "standard input, which is closed", id="stdin-closed"),
    pytest.param("validate GOOD >&-", "standard output is closed", id="stdout-closed"),
])
def test_closed_standard_streams_are_one_line_exit_2(good_file: Path, shell: str, fragment: str) -> None:
    command = f"{sys.executable} -m simulator {shell.replace('GOOD', str(good_file))}"
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("chestsim: error: ")
    assert fragment in proc.stderr


def test_blank_space_longer_than_a_read_before_the_events_is_not_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "padded.jsonl"
    path.write_bytes(b" " * (3 * 1024 * 1024) + b"\n" + jsonl(example("secret.used")))
    report = validate(path)
    assert (report.exit_code, report.valid, report.input_errors) == (0, 1, [])


def test_a_long_line_limit_takes_scientific_notation(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    event = example("user.created")
    event["data"]["user"]["display_name"] = "a1" * 1_000_000
    path = tmp_path / "long.jsonl"
    path.write_bytes(jsonl(event))
    assert main(["validate", "--max-line-bytes", "1e8", str(path)]) == 1
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert "is longer than 256 characters" in first  # the verdict survives the cut
    assert len(first) < 1000  # a 2 MB value is not echoed whole


# --- the leak guard stays linear on long fields ------------------------------------------------

_LONG = 200_000
_HOSTILE = ["a" * _LONG, "a1" * (_LONG // 2), "aB3" * (_LONG // 3), "a/" * (_LONG // 2), "a:" * (_LONG // 2),
            "x://" * (_LONG // 4), "http://" + "a" * _LONG, "ab://c:d" * (_LONG // 8)]


@pytest.mark.parametrize("value", _HOSTILE, ids=lambda v: f"{v[:8]!r}x{len(v)}")
def test_backtracking_searches_run_only_where_a_shape_can_start(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each shape's backtracking regex runs only on a value holding one of its literal needles, and
    # the URL scheme (the one search that could start at every letter) is checked only behind a
    # '://', in a window of at most 32 characters: the work is linear in the value's length.
    searched: list[str] = []
    shapes = tuple((lambda v, s=search, w=what: searched.append(w) or s(v), what, needles)
                   for search, what, needles in _leakguard._SHAPES)
    monkeypatch.setattr(_leakguard, "_SHAPES", shapes)
    windows: list[int] = []
    scheme = _leakguard._URL_SCHEME_AT_END
    monkeypatch.setattr(_leakguard, "_URL_SCHEME_AT_END",
                        lambda text, start, end: windows.append(end - start) or scheme(text, start, end))
    looks_like_secret(value, free_text=True)
    expected = [what for what, needles in zip((s[1] for s in shapes), _leakguard._SHAPE_NEEDLES, strict=True)
                if any(n in value.lower() for n in needles)]
    assert set(searched) <= set(expected)  # the one prefilter search may spare even these
    assert len(windows) <= value.count("://")
    assert all(width <= 32 for width in windows)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(range(len(_leakguard._SHAPE_PATTERNS))).flatmap(
    lambda i: st.tuples(st.just(i), st.from_regex(_leakguard._SHAPE_PATTERNS[i][0]))))
def test_every_shape_match_holds_one_of_its_needles(case: tuple[int, str]) -> None:
    # The needles gate the searches: a match without one would be a leak let through.
    index, value = case
    assume(re.search(_leakguard._SHAPE_PATTERNS[index][0], value))
    assert any(needle in value.lower() for needle in _leakguard._SHAPE_NEEDLES[index])
    assert looks_like_secret(value) is not None


def test_a_huge_unknown_type_is_named_short_and_not_remembered() -> None:
    from simulator.validation import Validator
    from simulator.validation._validator import _unknown_type

    event = example("user.created") | {"type": "x" * 5_000_000}
    _unknown_type.cache_clear()
    [problem] = [p for p in Validator().check(event) if p.code == "unknown-type"]
    assert len(problem.message) < 200
    assert "5,000,000 characters" in problem.message
    assert _unknown_type.cache_info().currsize == 0


def test_the_places_remembered_for_bulk_failures_stay_small_whatever_the_names(tmp_path: Path) -> None:
    # Pointers and names of new members are remembered for bulk failures: never a huge one.
    from simulator.validation._drift import _short_name
    from simulator.validation._leakguard import _tokens
    from simulator.validation._problem import _POINTERS

    events = []
    for letter in "abcd":
        event = example("user.created")
        event["data"] = {**event["data"], letter * 1_000_000: "x"}
        events.append(event)
    path = tmp_path / "huge-names.jsonl"
    path.write_bytes(jsonl(*events))
    _POINTERS.clear()
    _short_name.cache_clear()
    _tokens.cache_clear()
    report = validate(path)
    assert report.warnings == 4
    assert all(len(text) <= 256 for text in _POINTERS.values())
    assert _short_name.cache_info().currsize == 0
    assert _tokens.cache_info().currsize == 0
