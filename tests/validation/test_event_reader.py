"""The streaming reader: JSONL, arrays, documents, stdin; bad input never stops the rest."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from validation_examples import example, jsonl

from simulator import InputError
from simulator.validation import Record, iter_events, read_sources
from simulator.validation._reader import read_stream


def records(data: bytes, name: str = "f.jsonl", limit: int = 1024 * 1024) -> list[tuple[int, bytes | None, str | None]]:
    return [(r.line, r.raw, r.error) for r in read_stream(io.BytesIO(data), name, max_line_bytes=limit)]


def test_jsonl_lines_keep_their_numbers_and_skip_blanks() -> None:
    assert records(b'{"a":1}\n\n  \n{"b":2}\r\n{"c":3}') == [
        (1, b'{"a":1}', None), (4, b'{"b":2}', None), (5, b'{"c":3}', None)]


def test_a_json_array_streams_its_elements_with_their_lines() -> None:
    data = b'[\n  {"a": "x,]}\\"{"},\n  {"b": [1, {"c": 2}]},\n  3,\n  "s"\n]\n'
    assert records(data, "f.json") == [
        (2, b'{"a": "x,]}\\"{"}', None), (3, b'{"b": [1, {"c": 2}]}', None), (4, b"3", None), (5, b'"s"', None)]


def test_pretty_printed_documents_are_split_by_value() -> None:
    data = b'{\n  "a": 1\n}\n{\n  "b": {"c": "}"}\n}\n'
    assert records(data, "f.json") == [(1, b'{\n  "a": 1\n}', None), (4, b'{\n  "b": {"c": "}"}\n}', None)]


def test_a_shipped_example_file_is_one_event(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_bytes(orjson.dumps(example("secret.used"), option=orjson.OPT_INDENT_2))
    [record] = list(read_sources([path]))
    assert record.line == 1
    assert orjson.loads(record.raw or b"") == example("secret.used")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"\x00\x01\x02binary", "binary file", id="binary"),
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"  \n\n ", "empty", id="only-whitespace"),
    ],
)
def test_unreadable_streams_give_one_fatal_record(data: bytes, expected: str) -> None:
    [record] = list(read_stream(io.BytesIO(data), "f.jsonl"))
    assert record.fatal
    assert record.raw is None
    assert expected in (record.error or "")


def test_a_truncated_array_is_reported_after_its_complete_elements() -> None:
    assert records(b'[{"a": 1},\n {"b": ', "f.json") == [
        (1, b'{"a": 1}', None), (2, None, "the JSON array is not closed: the file is truncated")]


def test_a_truncated_last_line_is_handed_on_for_the_parser_to_refuse() -> None:
    assert records(b'{"a": 1}\n{"b": ') == [(1, b'{"a": 1}', None), (2, b'{"b":', None)]


def test_an_overlong_line_is_reported_skipped_and_the_rest_read() -> None:
    data = b'{"a": 1}\n' + b'{"x": "' + b"y" * 5000 + b'"}\n{"b": 2}\n'
    assert records(data, limit=1024) == [
        (1, b'{"a": 1}', None),
        (2, None, "line longer than 1024 bytes skipped; an event is a few KiB (raise --max-line-bytes if this "
                  "one is real)"),
        (3, b'{"b": 2}', None)]


def test_a_line_far_longer_than_a_chunk_is_skipped_in_bounded_memory() -> None:
    # 3 MiB line with a 64 KiB limit: the reader drops it as it streams past.
    data = b'{"a": 1}\n"' + b"z" * (3 * 1024 * 1024) + b'"\n{"b": 2}'
    got = records(data, limit=64 * 1024)
    assert [(line, raw) for line, raw, _ in got] == [(1, b'{"a": 1}'), (2, None), (3, b'{"b": 2}')]


def test_an_overlong_array_element_is_skipped() -> None:
    data = b'[{"a": 1},\n {"x": "' + b"y" * 3_000_000 + b'"},\n {"b": 2}]'
    got = records(data, "f.json", limit=64 * 1024)
    assert [(line, raw) for line, raw, _ in got] == [(1, b'{"a": 1}'), (2, None), (3, b'{"b": 2}')]


def test_a_utf8_bom_is_ignored() -> None:
    assert records(b'\xef\xbb\xbf{"a": 1}\n') == [(1, b'{"a": 1}', None)]


def test_sources_report_missing_files_and_directories_and_go_on(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(jsonl({"a": 1}))
    got = list(read_sources([tmp_path / "missing.jsonl", tmp_path, good]))
    assert [(r.fatal, r.error is not None) for r in got] == [(True, True), (True, True), (False, False)]
    assert "does not exist" in (got[0].error or "")
    assert "is a directory" in (got[1].error or "")
    assert got[2].where == f"{good}:1"


def test_stdin_is_read_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeStdin:
        buffer = io.BytesIO(b'{"a": 1}\n{"b": 2}\n')

    monkeypatch.setattr("sys.stdin", FakeStdin())
    assert [(r.path, r.line) for r in read_sources(["-"])] == [("<stdin>", 1), ("<stdin>", 2)]


def test_iter_events_yields_parsed_events_and_raises_input_error_with_the_place(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(b'{"a": 1}\nnot json\n')
    events = iter_events([path])
    record, event = next(events)
    assert isinstance(record, Record)
    assert event == {"a": 1}
    with pytest.raises(InputError, match=r"e\.jsonl:2: not JSON") as info:
        next(events)
    assert info.value.line == 2


def test_record_parse_gives_the_event_or_an_input_error_naming_the_place() -> None:
    assert Record("f.jsonl", 3, b'{"a": 1}').parse() == {"a": 1}
    with pytest.raises(InputError, match=r"f\.jsonl:4: not JSON"):
        Record("f.jsonl", 4, b"{").parse()
    with pytest.raises(InputError, match=r"f\.jsonl:5: line longer"):
        Record("f.jsonl", 5, None, "line longer than 8 MiB skipped").parse()


@settings(max_examples=200, deadline=None, print_blob=True)
@given(st.lists(st.one_of(st.binary(max_size=40), st.sampled_from(
    [b"{", b"}", b"[", b"]", b'"', b"\\", b",", b"\n", b'{"a": 1}', b'[{"b": "x"}]']
)), max_size=30))
def test_any_bytes_give_records_never_an_exception(parts: list[bytes]) -> None:
    data = b"".join(parts)
    got = list(read_stream(io.BytesIO(data), "f", max_line_bytes=64))
    assert all(r.line >= 0 for r in got)
    assert all((r.raw is None) == (r.error is not None) for r in got)
