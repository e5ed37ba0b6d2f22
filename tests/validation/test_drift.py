"""Drift: unknown fields, enum values outside the contract, required-in-practice fields, and the patch round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from validation_examples import example, jsonl

from simulator._resources import schemas_dir
from simulator.cli import main
from simulator.validation import validate

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _drifting(count: int = 30) -> list[dict[str, Any]]:
    events = []
    for index in range(count):
        event = example("user.created")
        event["data"]["user"]["pronouns"] = ["she/her", "they/them"][index % 2]
        event["data"]["user"]["recovery_hint"] = SECRET  # a leak as well as a new field: never echoed
        if index % 3 == 0:
            event["data"]["user"]["source"] = "okta"
        events.append(event)
    return events


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_summary_mentions_drift_in_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(jsonl(*_drifting()))
    _, out, _ = run(capsys, "validate", str(path))
    assert out.splitlines()[-1] == ("drift: 2 unknown fields, 1 enum with new values in 1 event type "
                                    "(--drift shows it)")
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(jsonl(example("user.created")))
    _, out, _ = run(capsys, "validate", str(clean))
    assert "drift" not in out


def test_the_drift_report_as_text_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(jsonl(*_drifting()))
    _, out, _ = run(capsys, "validate", "--drift", str(path))
    assert (f"user.created /data/user/pronouns: unknown field in 30 events, string, e.g. \"she/her\"; "
            f"first {path}:1, last {path}:30") in out
    assert f"user.created /data/user/source: values outside the enum: \"okta\" ×10; first {path}:1, last {path}:28" \
        in out
    assert "user.created /data/user/given_name: optional, yet there each of the 30 times its object was" in out
    assert SECRET not in out
    _, out, _ = run(capsys, "validate", "--drift", "--format", "json", str(path))
    assert SECRET not in out
    drift = json.loads(out)["drift"]
    hint = next(f for f in drift["unknown_fields"] if f["pointer"] == "/data/user/recovery_hint")
    assert hint["example"] == "«redacted»"
    assert hint["types"] == {"string": 30}
    [enum] = drift["enum_values"]
    assert (enum["pointer"], enum["values"]) == ("/data/user/source", {'"okta"': 10})
    assert {"type": "user.created", "pointer": "/data/user/given_name", "times": 30} \
        in drift["required_in_practice"]


def test_the_patch_round_trip(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    events = [e for e in _drifting() if not e["data"]["user"].pop("recovery_hint", None) or True]
    path = tmp_path / "capture.jsonl"
    path.write_bytes(jsonl(*events))
    patch, patched = tmp_path / "drift.json", tmp_path / "patched"
    code, out, err = run(capsys, "validate", "--strict", "--drift-patch", str(patch), "--patched-schemas",
                         str(patched), str(path))
    assert code == 1
    assert f"drift patch: 2 operations on 2 schema files in {patch}" in err
    assert json.loads(patch.read_text()) == {
        "events/user.created.json": [{"op": "add", "path": "/properties/data/properties/user/properties",
                                      "value": {"pronouns": {"type": "string", "description": (
                                          f"Seen in a capture (30 events, first {path}:1); added by chestsim "
                                          "validate --drift-patch.")}}}],
        "definitions.json": [{"op": "add", "path": "/$defs/user/properties/source/enum/-", "value": "okta"}]}
    code, out, _ = run(capsys, "validate", "--strict", "--schemas", str(patched), str(path))
    assert code == 0, out
    assert "OK: 30 events in 1 file: 30 valid, 0 invalid, 0 warnings" in out
    # The shipped contract is back for the next command.
    code, out, _ = run(capsys, "validate", "--strict", str(path))
    assert code == 1


def test_drift_from_slices_is_the_drift_of_the_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.validation._reader as reader

    monkeypatch.setattr(reader, "SPLIT_THRESHOLD", 1024)
    path = tmp_path / "capture.jsonl"
    path.write_bytes(jsonl(*_drifting(60)))
    whole = validate(path, drift=True)
    sliced = validate(path, drift=True, jobs=2)
    assert whole.drift is not None
    assert sliced.drift is not None
    assert sliced.drift.as_dict() == whole.drift.as_dict()


def _copy_contract(tmp_path: Path) -> Path:
    import shutil

    folder = tmp_path / "contract"
    shutil.copytree(schemas_dir(), folder)
    return folder


@pytest.mark.parametrize(("damage", "fragment"), [
    pytest.param(lambda f: f / "nope", "is not a folder", id="no-folder"),
    pytest.param(lambda f: (f / "definitions.json").unlink() or f, "definitions.json is missing", id="missing-file"),
    pytest.param(lambda f: (f / "events" / "secret.used.json").write_text("{") and f, "is not JSON", id="not-json"),
    pytest.param(lambda f: (f / "envelope.json").write_text('{"$id": "x"}') and f, "must have \"$id\"",
                 id="other-id"),
])
def test_a_bad_contract_folder_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                  damage: Any, fragment: str) -> None:
    folder = damage(_copy_contract(tmp_path))
    path = tmp_path / "one.jsonl"
    path.write_bytes(jsonl(example("user.created")))
    code, out, err = run(capsys, "validate", "--schemas", str(folder), str(path))
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("chestsim: error: --schemas")
    assert fragment in err


def test_patched_schemas_refuses_a_folder_with_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    path = tmp_path / "one.jsonl"
    path.write_bytes(jsonl(example("user.created")))
    code, _, err = run(capsys, "validate", "--patched-schemas", str(tmp_path / "full"), str(path))
    assert code == 2
    assert "must be a new or empty folder" in err
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
