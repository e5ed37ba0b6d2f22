"""`chestsim schemas diff`: hand-made contract pairs, one per class of change, judged for listeners."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from contract_helpers import copy_schemas, edit

from simulator._resources import schemas_dir
from simulator.cli import main
from simulator.contract import diff_contracts, load_contract

Mutation = Callable[[Path], None]
SCHEMAS = str(schemas_dir())


def data_props(doc: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = doc["properties"]["data"]["properties"]
    return props


def on_used(change: Callable[[dict[str, Any]], object]) -> Mutation:
    """Edit the secret.used schema file."""
    return lambda folder: edit(folder, "events/secret.used.json", change)


def on_defs(change: Callable[[dict[str, Any]], object]) -> Mutation:
    """Edit the shared definitions (every event that uses them changes)."""
    return lambda folder: edit(folder, "definitions.json", lambda d: change(d["$defs"]))


def rename_purpose(doc: dict[str, Any]) -> None:
    props = data_props(doc)
    props["reason"] = props.pop("purpose")


def add_required(doc: dict[str, Any]) -> None:
    data_props(doc)["region"] = {"type": "string"}
    doc["properties"]["data"]["required"].append("region")


def make_required(doc: dict[str, Any]) -> None:
    doc["properties"]["data"]["required"].append("purpose")


def make_optional(doc: dict[str, Any]) -> None:
    doc["properties"]["data"]["required"].remove("device_ids")


def remove_type(folder: Path) -> None:
    (folder / "events" / "user_shards.deleted.json").unlink()


def add_type(folder: Path) -> None:
    doc = json.loads((folder / "events" / "user_shards.posted.json").read_text())
    doc["$id"] = doc["$id"].replace("posted", "moved")
    doc["properties"]["type"] = {"const": "user_shards.moved"}
    (folder / "events" / "user_shards.moved.json").write_text(json.dumps(doc))


def nullable_note(doc: dict[str, Any]) -> None:
    data_props(doc)["note"] = {"type": ["string", "null"]}


def string_note(doc: dict[str, Any]) -> None:
    data_props(doc)["note"] = {"type": "string"}


def no_null_previous(folder: Path) -> None:
    def change(doc: dict[str, Any]) -> None:
        data_props(doc)["previous"]["oneOf"].pop()  # [idp_settings, null] → [idp_settings]

    edit(folder, "events/idp.settings_updated.json", change)


# (id, change to OLD (or None), change to NEW, the one change expected: (event type, kind, pointer, breaking))
CASES = [
    ("field-removed", None, on_used(lambda d: data_props(d).pop("purpose")),
     ("secret.used", "field-removed", "/data/purpose", True)),
    ("field-renamed", None, on_used(rename_purpose), ("secret.used", "field-renamed", "/data/purpose", True)),
    ("new-required-field", None, on_used(add_required),
     ("secret.used", "field-added-required", "/data/region", True)),
    ("new-optional-field", None, on_used(lambda d: data_props(d).update(note={"type": "string"})),
     ("secret.used", "field-added-optional", "/data/note", False)),
    ("optional-now-required", None, on_used(make_required),
     ("secret.used", "field-now-required", "/data/purpose", True)),
    ("required-now-optional", None, on_used(make_optional),
     ("secret.used", "field-now-optional", "/data/device_ids", True)),
    ("enum-narrowed", None, on_used(lambda d: data_props(d)["purpose"]["enum"].remove("copy")),
     ("secret.used", "enum-narrowed", "/data/purpose", True)),
    ("enum-widened", None, on_used(lambda d: data_props(d)["purpose"]["enum"].append("print")),
     ("secret.used", "enum-widened", "/data/purpose", False)),
    ("type-narrowed", on_used(nullable_note), on_used(string_note),
     ("secret.used", "type-changed", "/data/note", True)),
    ("type-widened", on_used(string_note), on_used(nullable_note),
     ("secret.used", "type-changed", "/data/note", True)),
    ("nullable-no-more", None, no_null_previous,
     ("idp.settings_updated", "type-changed", "/data/previous", True)),
    ("bound-tightened", None, on_used(lambda d: data_props(d)["device_ids"].update(maxItems=8)),
     ("secret.used", "bound-tightened", "/data/device_ids", True)),
    ("bound-loosened", None, on_used(lambda d: data_props(d)["device_ids"].pop("minItems")),
     ("secret.used", "bound-loosened", "/data/device_ids", False)),
    ("pattern-added", None, on_used(lambda d: data_props(d)["purpose"].update(pattern="^[a-z]+$")),
     ("secret.used", "rule-added", "/data/purpose", True)),
    ("object-closed", None, on_used(lambda d: d["properties"]["data"].update(additionalProperties=False)),
     ("secret.used", "rule-added", "/data", True)),
    ("object-opened", on_used(lambda d: d["properties"]["data"].update(additionalProperties=False)),
     on_used(lambda d: d["properties"]["data"].update(additionalProperties=True)),
     ("secret.used", "rule-removed", "/data", False)),
    ("event-type-removed", None, remove_type, ("user_shards.deleted", "event-type-removed", "", True)),
    ("event-type-added", None, add_type, ("user_shards.moved", "event-type-added", "", False)),
]


@pytest.fixture
def pair(tmp_path: Path) -> Callable[[Mutation | None, Mutation | None], tuple[Path, Path]]:
    def make(old_change: Mutation | None, new_change: Mutation | None) -> tuple[Path, Path]:
        old = copy_schemas(tmp_path / "old")
        if old_change:
            old_change(old)
        new = tmp_path / "new"
        shutil.copytree(old, new)
        if new_change:
            new_change(new)
        return old, new

    return make


@pytest.mark.parametrize(("old_change", "new_change", "expected"),
                         [pytest.param(o, n, e, id=i) for i, o, n, e in CASES])
def test_each_class_of_change_is_found_and_judged(pair: Any, old_change: Mutation | None, new_change: Mutation,
                                                  expected: tuple[str, str, str, bool]) -> None:
    old, new = pair(old_change, new_change)
    diff = diff_contracts(load_contract(old), load_contract(new))
    assert [(c.event_type, c.kind, c.pointer, c.breaking) for c in diff.changes] == [expected]
    assert diff.exit_code == (1 if expected[3] else 0)


@pytest.mark.parametrize(("old_change", "new_change", "expected"),
                         [pytest.param(o, n, e, id=i) for i, o, n, e in CASES])
def test_the_command_exits_1_only_for_breaking_changes(pair: Any, capsys: pytest.CaptureFixture[str],
                                                       old_change: Mutation | None, new_change: Mutation,
                                                       expected: tuple[str, str, str, bool]) -> None:
    old, new = pair(old_change, new_change)
    code = main(["schemas", "diff", str(old), str(new), "--format", "json"])
    out, err = capsys.readouterr()
    assert err == ""
    report = json.loads(out)
    assert code == (1 if expected[3] else 0)
    assert report["breaking"] == int(expected[3])
    assert report["compatible"] == int(not expected[3])
    [change] = report["changes"]
    assert (change["event_type"], change["kind"], change["pointer"], change["breaking"]) == expected


def test_a_shared_definition_change_shows_in_every_event_type_using_it(pair: Any) -> None:
    old, new = pair(None, on_defs(lambda defs: defs["user_ref"]["properties"].pop("display_name")))
    diff = diff_contracts(load_contract(old), load_contract(new))
    assert ("secret.used", "field-removed", "/data/used_by/display_name") in {
        (c.event_type, c.kind, c.pointer) for c in diff.changes}
    assert len({c.event_type for c in diff.changes}) > 5
    assert all(c.breaking and c.kind == "field-removed" for c in diff.changes)


def test_conditional_rules_dropped_are_compatible_added_breaking_one_line_per_field(pair: Any) -> None:
    def drop_rules(defs: dict[str, Any]) -> None:
        del defs["shard_map"]["allOf"][-5:]  # the k <= n rules come one per shard count

    old, new = pair(None, on_defs(drop_rules))
    forward = diff_contracts(load_contract(old), load_contract(new))
    assert forward.changes
    assert {(c.kind, c.breaking) for c in forward.changes} == {("rule-removed", False)}
    assert len(forward.changes) == len({c.event_type for c in forward.changes})  # one line per event type
    assert all(c.detail.startswith("5 conditional rules dropped, like {") for c in forward.changes)
    backward = diff_contracts(load_contract(new), load_contract(old))
    assert {(c.kind, c.breaking) for c in backward.changes} == {("rule-added", True)}


def test_text_output_groups_changes_by_event_type(pair: Any, capsys: pytest.CaptureFixture[str]) -> None:
    def several(folder: Path) -> None:
        on_used(lambda d: data_props(d).pop("purpose"))(folder)
        on_used(lambda d: data_props(d).update(note={"type": "string"}))(folder)
        remove_type(folder)

    old, new = pair(None, several)
    code = main(["schemas", "diff", str(old), str(new)])
    out, _ = capsys.readouterr()
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{old} → {new}: 2 breaking, 1 compatible change in 2 event types"
    assert "  BREAKING   field-removed /data/purpose: removed: listeners reading it get nothing" in lines
    assert "  compatible field-added-optional /data/note: new optional field (string)" in lines
    assert lines.index("secret.used") < lines.index("  compatible field-added-optional /data/note: new optional "
                                                     "field (string)")


def test_strict_enums_makes_a_widened_enum_breaking(pair: Any, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = pair(None, on_used(lambda d: data_props(d)["purpose"]["enum"].append("print")))
    assert main(["schemas", "diff", str(old), str(new)]) == 0
    assert "compatible enum-widened /data/purpose" in capsys.readouterr().out
    assert main(["schemas", "diff", str(old), str(new), "--strict-enums", "--format", "json"]) == 1
    [change] = json.loads(capsys.readouterr().out)["changes"]
    assert (change["kind"], change["breaking"]) == ("enum-widened", True)


def test_field_names_cannot_forge_lines_in_the_text_output(pair: Any, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = pair(None, on_used(lambda d: data_props(d).update({"x\ncompatible fake\r\x1b[2J": {}})))
    code = main(["schemas", "diff", str(old), str(new)])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "  compatible field-added-optional /data/x\\ncompatible fake\\r\\x1b[2J: new optional field (any type)" \
        in out.splitlines()
    assert "\x1b" not in out
    assert "\r" not in out


def test_folders_and_bundles_compare_alike(pair: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = pair(None, on_used(lambda d: data_props(d)["purpose"]["enum"].remove("copy")))
    bundles = []
    for folder in (old, new):
        assert main(["schemas", "export", "--format", "bundle", "--schemas", str(folder),
                     "--out", str(folder) + ".json"]) == 0
        bundles.append(str(folder) + ".json")
    capsys.readouterr()
    results = []
    for a, b in [(old, new), (bundles[0], bundles[1]), (old, bundles[1]), (bundles[0], new)]:
        code = main(["schemas", "diff", str(a), str(b), "--format", "json"])
        report = json.loads(capsys.readouterr().out)
        results.append((code, report["changes"]))
    assert all(r == results[0] for r in results)
    assert results[0][0] == 1


def test_the_same_contract_has_no_changes(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["schemas", "diff", SCHEMAS, SCHEMAS])
    assert code == 0
    assert capsys.readouterr().out == f"{SCHEMAS} → {SCHEMAS}: no changes\n"


def test_diff_reads_only_the_schemas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # examples are part of an export, not of the contract a diff compares: a broken one does not stop it
    folder = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, folder)
    (folder / "examples" / "secret.used" / "full.json").write_text("{broken")
    assert main(["schemas", "diff", SCHEMAS, str(folder)]) == 0
    assert main(["schemas", "export", "--format", "asyncapi", "--schemas", str(folder)]) == 2
    assert "secret.used/full.json: not JSON" in capsys.readouterr().err
    assert repr(load_contract(folder, examples=False)) == f"load_contract({str(folder)!r})"


def test_a_schema_that_contains_itself_is_followed_once(tmp_path: Path) -> None:
    tree = {"$defs": {
        "tree": {"type": "object", "properties": {"left": {"$ref": "#/$defs/tree"}, "right": {"$ref": "#/$defs/tree"}}},
        "e": {"properties": {"type": {"const": "x.y"}, "data": {"$ref": "#/$defs/tree"}}}},
        "oneOf": [{"$ref": "#/$defs/e"}]}
    (tmp_path / "tree.json").write_text(json.dumps(tree))
    contract = load_contract(tmp_path / "tree.json")
    assert diff_contracts(contract, contract).changes == ()


@pytest.mark.parametrize("args", [["diff", SCHEMAS, SCHEMAS], ["export", "--format", "bundle"]], ids=["diff", "export"])
def test_a_full_stdout_is_one_line_exit_2(args: list[str]) -> None:
    import subprocess
    import sys

    with open("/dev/full", "wb") as full:
        done = subprocess.run([sys.executable, "-m", "simulator", "schemas", *args], stdout=full,
                              capture_output=False, stderr=subprocess.PIPE, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("chestsim: error: cannot write the ")
    assert "No space left on device" in done.stderr


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"properties": [1, 2]}, id="properties-a-list"),
        pytest.param({"type": [1, {"a": 2}]}, id="types-not-names"),
        pytest.param({"required": "id"}, id="required-a-string"),
        pytest.param({"allOf": {"a": 1}}, id="allOf-an-object"),
        pytest.param({"enum": {"a": 1}, "oneOf": [True, False, 3]}, id="enum-an-object"),
        pytest.param({"items": [1], "minItems": "3", "properties": {"x": None}}, id="odd-values"),
    ],
)
def test_odd_but_parseable_schemas_never_crash_the_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        data: dict[str, Any]) -> None:
    odd = {"$defs": {"e": {"properties": {"type": {"const": "x.y"}, "data": data}}}, "oneOf": [{"$ref": "#/$defs/e"}]}
    plain = {"$defs": {"e": {"properties": {"type": {"const": "x.y"}, "data": {"type": "object"}}}},
             "oneOf": [{"$ref": "#/$defs/e"}]}
    for name, doc in (("odd.json", odd), ("plain.json", plain)):
        (tmp_path / name).write_text(json.dumps(doc))
    for a, b in (("odd.json", "plain.json"), ("plain.json", "odd.json"), ("odd.json", "odd.json")):
        code = main(["schemas", "diff", str(tmp_path / a), str(tmp_path / b)])
        _, err = capsys.readouterr()
        assert code in (0, 1), err
        assert err == ""


def _write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


def _bundle(tmp_path: Path, defs: dict[str, Any]) -> str:
    return _write(tmp_path, "b.json", json.dumps({"$defs": {**defs, "e": {"properties": {
        "type": {"const": "x.y"}, "data": {"$ref": "#/$defs/a"}}}}, "oneOf": [{"$ref": "#/$defs/e"}]}))


@pytest.mark.parametrize(
    ("make_args", "fragment"),
    [
        pytest.param(lambda t: [str(t / "gone"), SCHEMAS], "gone: no such folder or file", id="missing-old"),
        pytest.param(lambda t: [SCHEMAS, str(t / "gone")], "gone: no such folder or file", id="missing-new"),
        pytest.param(lambda t: [_write(t, "x.json", "{not json"), SCHEMAS], "x.json: not JSON", id="not-json"),
        pytest.param(lambda t: [_write(t, "x.json", "[1, 2]"), SCHEMAS], "not a contract bundle", id="not-a-bundle"),
        pytest.param(lambda t: [SCHEMAS, SCHEMAS, "--format", "yaml"], "--format", id="unknown-format"),
        pytest.param(lambda t: [SCHEMAS], "Missing argument 'NEW'", id="one-argument"),
        pytest.param(lambda t: [_bundle(t, {"a": {"$ref": "#/$defs/zz"}}), SCHEMAS], "points at nothing",
                     id="dangling-ref"),
        pytest.param(lambda t: [_bundle(t, {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}), SCHEMAS],
                     "refers to itself in a loop", id="ref-loop"),
        pytest.param(lambda t: [_bundle(t, {"a": {"$ref": "other.json#/x"}}), SCHEMAS], "leaves the bundle",
                     id="ref-outside-bundle"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], make_args: Any,
                                      fragment: str) -> None:
    code = main(["schemas", "diff", *make_args(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("chestsim: error: ")
    assert fragment in lines[0]
    assert out == ""


def test_a_drift_patch_from_validate_is_a_compatible_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `chestsim validate --patched-schemas` widens the contract to what a capture showed: new optional
    # fields and enum values. Compared with the contract it came from, nothing may be breaking.
    event = json.loads((Path(SCHEMAS) / "examples" / "secret.used" / "full.json").read_text())
    event["data"]["region"] = "eu-west"
    event["data"]["purpose"] = "print"
    capture = tmp_path / "capture.jsonl"
    capture.write_text((json.dumps(event) + "\n") * 3)
    patched = tmp_path / "patched"
    assert main(["validate", str(capture), "--drift", "--patched-schemas", str(patched)]) == 1
    capsys.readouterr()
    assert main(["schemas", "diff", SCHEMAS, str(patched), "--format", "json"]) == 0
    changes = {(c["event_type"], c["kind"], c["pointer"]) for c in json.loads(capsys.readouterr().out)["changes"]}
    assert changes == {("secret.used", "field-added-optional", "/data/region"),
                       ("secret.used", "enum-widened", "/data/purpose")}
