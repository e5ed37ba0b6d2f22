"""Duplicate member names: found wherever they hide, at a cost only where they may be."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from validation_examples import example, jsonl

from simulator.cli import main
from simulator.validation import Validator, validate
from simulator.validation._duplicates import duplicate_members, maybe_duplicates


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param(b'{"type":"bogus.type","data":{},"type":"user.created"}', ["/type"], id="top-level"),
    pytest.param(b'{"a":{"b":1,"c":2,"b":3}}', ["/a/b"], id="nested"),
    pytest.param(b'[{"a":1},{"a":1,"a":2}]', ["/1/a"], id="in-array"),
    pytest.param(b'{"a" :1,\n"a"\t:\n2}', ["/a"], id="spaces-before-colon"),
    pytest.param(b'{"ab":1,"a\\u0062":2}', ["/ab"], id="escaped-name"),
    pytest.param(b'{"a/b~":1,"a/b~":2}', ["/a~1b~0"], id="pointer-escapes"),
    pytest.param(b'{"a":1,"a":2,"a":3}', ["/a"], id="three-times"),
    # A quote written \u0022 in a string makes the re-dump hold one more '":' than the text:
    # the cheap count must not be fooled into missing the duplicate.
    pytest.param(b'{"a":1,"a":2,"s":"\\u0022:"}', ["/a"], id="hidden-by-escaped-quote"),
    pytest.param(b'{"a":1,"s":"\\":\\":"}', [], id="quotes-in-string-no-duplicate"),
    pytest.param(b'{"a":"\\":","b":{"c":1}}', [], id="colon-after-quote-in-string"),
    pytest.param(b'{"a":1}', [], id="plain"),
    pytest.param(b'[1, "x", null]', [], id="no-objects"),
    pytest.param(b'"just a string"', [], id="scalar"),
    pytest.param(b'{"a":', [], id="not-json"),
])
def test_duplicate_members_names_each_repeat(raw: bytes, expected: list[str]) -> None:
    assert duplicate_members(raw) == expected


def _reference(raw: bytes) -> int:
    """How many members repeat a name, by a full parse every time (no shortcut)."""
    repeats = 0

    def hook(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeats
        repeats += len(items) - len({name for name, _ in items})
        return dict(items)

    json.loads(raw, object_pairs_hook=hook)
    return repeats


_names = st.sampled_from(["a", "b", "type", 'q"', "a\\", ":", "\u00e9"])
_scalars = st.one_of(st.integers(), st.booleans(), st.none(),
                     st.text(alphabet='ab":\\ \u00e9', max_size=6))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.lists(st.tuples(_names, inner), max_size=4)), max_leaves=12)


def _write(value: Any, draw_space: st.DataObject) -> str:
    """JSON text with members kept as written (duplicates included) and random spacing and escapes."""
    space = draw_space.draw(st.sampled_from(["", " ", "\n", "\t "]))
    if isinstance(value, tuple):
        raise AssertionError("unreachable")
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        members = [f"{_string(name, draw_space)}{space}:{space}{_write(item, draw_space)}" for name, item in value]
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + f",{space}".join(_write(item, draw_space) for item in value) + "]"
    if isinstance(value, str):
        return _string(value, draw_space)
    return json.dumps(value)


def _string(text: str, draw_space: st.DataObject) -> str:
    if draw_space.draw(st.booleans()):
        return json.dumps(text)  # \" for quotes, \u00e9
    return '"' + "".join(f"\\u{ord(c):04x}" if c in '"\\:' else c for c in text) + '"'


@settings(max_examples=300, deadline=None)
@given(value=_values, data=st.data())
def test_the_cheap_check_never_misses_a_duplicate(value: Any, data: st.DataObject) -> None:
    raw = _write(value, data).encode()
    event = orjson.loads(raw)
    expected = _reference(raw)
    if expected:
        assert maybe_duplicates(raw, event)
    # Repeats inside a value that a later member replaced are not in the tree: its own name is reported.
    assert bool(duplicate_members(raw, event)) == bool(expected)


def test_validator_flags_duplicates_warning_by_default_error_when_strict() -> None:
    event = example("user.created")
    raw = b'{"type":"bogus.type",' + orjson.dumps(event)[1:]
    _, problems = Validator().check_bytes(raw)
    assert [(p.code, p.severity, p.pointer) for p in problems] == [("duplicate-key", "warning", "/type")]
    _, problems = Validator(strict=True).check_bytes(raw)
    assert [(p.code, p.severity, p.pointer) for p in problems] == [("duplicate-key", "error", "/type")]


def test_validate_command_reports_duplicates_in_both_paths(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    good = example("secret.used")
    dup = orjson.dumps(good)[:-1] + b',"id":' + orjson.dumps(good["id"]) + b"}"
    path = tmp_path / "dup.jsonl"
    path.write_bytes(jsonl(good) + dup + b"\n" + jsonl(good))
    report = validate(path)  # the block path
    assert [(e.line, e.problem.code, e.problem.pointer) for e in report.entries] == [(2, "duplicate-key", "/id")]
    assert (report.valid, report.invalid, report.warnings) == (3, 0, 1)
    assert main(["validate", "--strict", str(path)]) == 1
    out = capsys.readouterr().out
    assert "duplicate-key" in out
    assert "/id" in out
    single = tmp_path / "dup.json"
    single.write_bytes(dup)  # the one-by-one path
    assert [e.problem.pointer for e in validate(single).entries] == ["/id"]
