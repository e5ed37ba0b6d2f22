"""Checking JSON Lines a block at a time gives exactly the report of checking them one by one.

``validate`` reads JSON Lines in ~1 MiB blocks and checks their lines with the
common case inlined (for speed); anything unusual falls back to the one-by-one
path. These tests compare both paths on the same bytes, and pin the schema
folding that makes the closed fast path cheaper.
"""

from __future__ import annotations

import copy
import gc
import itertools
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from validation_examples import example

from simulator import CATALOG
from simulator.validation import Validator, read_sources, validate
from simulator.validation._reader import Block, read_blocks
from simulator.validation._registry import _fold
from simulator.validation._report import Report
from simulator.validation._run import _Run


def one_by_one(path: Path, *, max_line_bytes: int = 8 * 1024 * 1024, strict: bool = False) -> dict[str, Any]:
    run = _Run(Validator(strict=strict), None, Report(max_errors=None))
    run.consume(read_sources([path], max_line_bytes=max_line_bytes))
    return run.finish().as_dict()


def in_blocks(path: Path, *, max_line_bytes: int = 8 * 1024 * 1024, strict: bool = False) -> dict[str, Any]:
    return validate(path, max_errors=None, max_line_bytes=max_line_bytes, strict=strict).as_dict()


def _variants() -> tuple[list[bytes], bytes, bytes]:
    """Lines of every kind: valid events of all types, and each way a line can go wrong."""
    valid = [orjson.dumps(e) for t in CATALOG for e in t.examples]
    bad_schema = example("secret.used")
    bad_schema["data"]["secret"]["kind"] = "nope"
    bad_semantic = example("group.created")
    bad_semantic["data"]["group"]["member_count"] = 999
    bad_group = example("group.created", "minimal")  # the same type failing the schema, beside it
    bad_group["data"]["group"]["id"] = "not-a-uuid"
    leak = example("user.created")
    leak["data"]["user"]["display_name"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    unknown_field = example("device.registered")
    unknown_field["data"]["colour"] = "teal"
    unknown_type = example("secret.used") | {"type": "secret.teleported"}
    numeric_type = example("secret.used") | {"type": 7}
    list_type = example("secret.used") | {"type": ["secret.used"]}
    no_type = {k: v for k, v in example("secret.used").items() if k != "type"}
    odd = (bad_schema, bad_semantic, bad_group, leak, unknown_field, unknown_type, numeric_type, list_type, no_type)
    return [*valid, *(orjson.dumps(e) for e in odd),
            b"[1, 2]", b'"a string"', b"null", b"  " + valid[0] + b"\r"], orjson.dumps(bad_schema), \
        orjson.dumps(bad_semantic)


#: Lines that parse (the block path keeps them), and lines that send a whole block one by one.
VARIANTS, BAD_SCHEMA, BAD_SEMANTIC = _variants()
BROKEN = [b"", b"   ", b"not json", b'{"type": "secret.used"']


@pytest.mark.parametrize("broken", [False, True], ids=["parsable", "with-broken-lines"])
def test_a_multi_block_firehose_with_every_kind_of_line_reports_as_one_by_one(tmp_path: Path,
                                                                              broken: bool) -> None:
    pool = VARIANTS + (BROKEN if broken else [])
    lines = [pool[(index * 7) % len(pool)] for index in range(6000)]  # ~4 MiB: several blocks
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert sum(isinstance(item, Block) for item in read_blocks([path])) >= 3
    expected = one_by_one(path)
    assert in_blocks(path) == expected
    assert min(expected["invalid"], expected["valid"], expected["warnings"]) > 0
    codes = {p["code"] for p in expected["problems"]}
    assert {"schema", "semantic", "leak", "unknown-field", "unknown-type", "envelope"} <= codes
    assert ("json" in codes) == broken


def test_strict_mode_and_an_overlong_line_inside_a_block_report_as_one_by_one(tmp_path: Path) -> None:
    valid = VARIANTS[0]
    big = orjson.dumps(example("secret.used") | {"padding": "x" * 5000})
    path = tmp_path / "overlong.jsonl"
    path.write_bytes(b"\n".join([valid] * 1500 + [big] + [BAD_SEMANTIC] + [valid] * 1500) + b"\n")
    for strict in (False, True):
        expected = one_by_one(path, max_line_bytes=4096, strict=strict)
        assert in_blocks(path, max_line_bytes=4096, strict=strict) == expected
    problems = in_blocks(path, max_line_bytes=4096)["problems"]
    assert [p["line"] for p in problems][:1] == [1501]


def test_problems_keep_their_line_numbers_across_block_boundaries(tmp_path: Path) -> None:
    valid = VARIANTS[0]
    bad = BAD_SCHEMA
    per_block = (1024 * 1024) // (len(valid) + 1)
    wanted = [1, per_block - 1, per_block, per_block + 1, 3 * per_block + 5]
    lines = [bad if number in wanted else valid for number in range(1, 4 * per_block)]
    path = tmp_path / "boundaries.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = validate(path, max_errors=None)
    assert sorted({e.line for e in report.entries}) == wanted
    assert report.valid == len(lines) - len(wanted)


def test_jobs_split_files_report_as_one_by_one(tmp_path: Path) -> None:
    lines = [VARIANTS[(index * 11) % len(VARIANTS)] for index in range(14_000)]  # > 8 MiB: splittable
    lines[9000] = BROKEN[2]
    path = tmp_path / "parallel.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert validate(path, max_errors=None, jobs=2).as_dict() == one_by_one(path)


def test_blocks_hold_every_line_and_their_records_match_read_sources(tmp_path: Path) -> None:
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"\n".join((VARIANTS + BROKEN) * 60) + b"\n\n  \n")
    items = list(read_blocks([path]))
    assert all(isinstance(item, Block) for item in items)
    flattened = [record for item in items if isinstance(item, Block) for record in item.records()]
    assert flattened == list(read_sources([path]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(VARIANTS), min_size=1, max_size=40), st.lists(st.sampled_from(BROKEN), max_size=1))
def test_any_mix_of_lines_reports_as_one_by_one(tmp_path: Path, lines: list[bytes], broken: list[bytes]) -> None:
    path = tmp_path / "drawn.jsonl"
    path.write_bytes(b"\n".join(lines + broken))
    assert in_blocks(path) == one_by_one(path)


# --- folding allOf into its node ------------------------------------------------------------------

def test_fold_merges_compatible_conjuncts_into_one_node() -> None:
    schema = {"type": "object", "properties": {"a": True, "b": True}, "additionalProperties": False,
              "allOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                        {"properties": {"a": {"maxLength": 3}, "b": {"type": "integer"}}, "required": ["b"]}]}
    assert _fold(schema) == {
        "type": "object", "additionalProperties": False, "required": ["a", "b"],
        "properties": {"a": {"type": "string", "maxLength": 3}, "b": {"type": "integer"}}}


@pytest.mark.parametrize("member", [
    {"type": "string"},                                       # contradicts the node: keep it apart
    {"properties": {"c": True}, "additionalProperties": False},  # reads its own siblings
    {"properties": {"z": {"type": "string"}}},                # a name the closed node does not list
])
def test_fold_keeps_conjuncts_that_would_change_meaning(member: dict[str, Any]) -> None:
    schema = {"type": "object", "properties": {"a": True}, "additionalProperties": False, "allOf": [member]}
    assert _fold(copy.deepcopy(schema))["allOf"] == [member]


@pytest.mark.parametrize("instance", [
    {"a": "abc", "b": 1}, {"a": "abcd", "b": 1}, {"a": "abc"}, {"b": 1}, {"a": 1, "b": 1},
    {"a": "abc", "b": 1, "c": 0}, {"a": "abc", "b": "1"}, [], "x",
])
def test_a_folded_schema_gives_the_same_verdicts(instance: Any) -> None:
    schema = {"type": "object", "properties": {"a": True, "b": True}, "additionalProperties": False,
              "allOf": [{"properties": {"a": {"type": "string"}}, "required": ["a"]},
                        {"properties": {"a": {"maxLength": 3}, "b": {"type": "integer"}}, "required": ["b"]},
                        {"type": "array"}]}
    folded = _fold(copy.deepcopy(schema))
    assert jsonschema_rs.is_valid(folded, instance) == jsonschema_rs.is_valid(schema, instance)


def test_the_garbage_collector_is_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "few.jsonl"
    path.write_bytes(b"\n".join(VARIANTS) + b"\n")
    assert gc.isenabled()
    validate(path)
    assert gc.isenabled()
    gc.disable()
    try:
        validate(path)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_jobs_cut_a_file_into_more_pieces_than_workers_and_report_as_one_by_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.validation._parallel as parallel

    lines = [VARIANTS[(index * 7) % len(VARIANTS)] for index in range(14_000)]
    for index in (5, 4000, 9000, 13_999):
        lines[index] = BROKEN[index % len(BROKEN)]
    path = tmp_path / "pieces.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    monkeypatch.setattr(parallel, "MIN_PIECE_BYTES", 64 * 1024)
    cuts = parallel.piece_cuts(path.stat().st_size, 2)
    sizes = [end - start for start, end in itertools.pairwise([0, *cuts, path.stat().st_size])]
    assert len(sizes) > 4
    assert sizes[0] > 4 * sizes[-2]  # large pieces first, small ones last: the workers end together
    seen: list[int] = []
    report = validate(path, max_errors=None, jobs=2, progress=seen.append)
    assert report.as_dict() == one_by_one(path)
    assert len(seen) == len(sizes)
    assert sum(seen) == path.stat().st_size


@pytest.mark.parametrize("jobs", [1, 2, 3, 8])
@pytest.mark.parametrize("size", [1, 10, 3_000_000, 9_000_000, 170_000_000])
def test_pieces_cover_the_file_in_order_at_least_one_per_process(size: int, jobs: int) -> None:
    import simulator.validation._parallel as parallel

    cuts = parallel.piece_cuts(size, jobs)
    assert cuts == sorted(cuts)
    assert all(0 < cut < size for cut in cuts) or size < jobs
    assert len(cuts) + 1 >= jobs
    assert len(cuts) < 80  # a round trip per piece: not thousands
