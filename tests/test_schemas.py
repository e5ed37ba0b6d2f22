"""The schemas: metaschema, examples, and mutated examples judged alike by two validators.

jsonschema-rs (the hot path) and python-jsonschema (+ referencing) must agree on
every example and every mutation; Hypothesis explores mutations and prints
its seed when they disagree.
"""

from __future__ import annotations

import copy
import json
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import CATALOG
from simulator._catalog import SCHEMA_BASE
from simulator.validation import Validator, check_semantic
from simulator.validation._leakguard import is_secret_field
from simulator.validation._registry import (
    _refuse,
    compiled,
    reference_validator,
    resources,
    rs_registry,
)

KEYS = [t.key for t in CATALOG]
EXAMPLES = [(t.key, i, ex) for t in CATALOG for i, ex in enumerate(t.examples)]
EXAMPLE_IDS = [f"{key}-{'full' if i else 'minimal'}" for key, i, _ in EXAMPLES]


def rs(key: str) -> jsonschema_rs.Validator:
    return compiled()[1][key].contract


def both(key: str, event: Any) -> tuple[bool, bool]:
    return rs(key).is_valid(event), reference_validator(key).is_valid(event)


# --- the files ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("uri", "schema"), resources(), ids=[u.removeprefix(SCHEMA_BASE) for u, _ in resources()])
def test_schema_passes_the_2020_12_metaschema(uri: str, schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert jsonschema_rs.meta.is_valid(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == uri
    assert schema.get("title")
    assert schema.get("description")


def test_there_is_one_schema_per_event_type_and_it_quotes_the_page() -> None:
    for t in CATALOG:
        schema = t.schema
        assert schema["$id"] == t.schema_id
        assert schema["properties"]["type"] == {"const": t.key}
        assert t.label in schema["description"]
    assert len(resources()) == 2 + 24


def test_refs_resolve_offline_only() -> None:
    bad = {"$schema": "https://json-schema.org/draft/2020-12/schema",
           "$ref": "https://example.invalid/elsewhere.json"}
    with pytest.raises(Exception, match="nothing is fetched"):
        jsonschema_rs.validator_for(bad, registry=rs_registry(), retriever=_refuse)
    with pytest.raises(Exception, match="Unresolvable"):
        reference_validator("envelope").evolve(schema=bad).is_valid({})


def test_no_schema_names_a_field_the_leak_guard_refuses() -> None:
    # The fast path relies on it: a closed validator only lets known names through.
    def names(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            yield from node.get("properties", {})
            for value in node.values():
                yield from names(value)
        elif isinstance(node, list):
            for item in node:
                yield from names(item)

    offending = {n for _, schema in resources() for n in names(schema) if is_secret_field(n)}
    assert offending == set()


# --- examples -------------------------------------------------------------------------------------

def test_every_type_has_a_minimal_and_a_full_example() -> None:
    for t in CATALOG:
        assert len(t.examples) >= 2, t.key


@pytest.mark.parametrize(("key", "index", "example"), EXAMPLES, ids=EXAMPLE_IDS)
def test_example_is_valid_for_both_validators_and_chestsim(key: str, index: int, example: dict[str, Any]) -> None:
    assert example["type"] == key
    assert both(key, example) == (True, True)
    assert Validator(strict=True).check(example) == []


# --- targeted mutations (the list) ----------------------------------------------------

def _mutations(key: str, example: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for field in ("id", "type", "timestamp", "tenant_id", "data"):
        event = copy.deepcopy(example)
        del event[field]
        yield f"missing-{field}", event
    for field in reference_validator(key).schema["properties"]["data"].get("required", []):
        event = copy.deepcopy(example)
        del event["data"][field]
        yield f"missing-data.{field}", event
    event = copy.deepcopy(example)
    event["data"] = "not an object"
    yield "data-wrong-type", event
    event = copy.deepcopy(example)
    event["tenant_id"] = 42
    yield "tenant_id-wrong-type", event
    event = copy.deepcopy(example)
    event["type"] = "secret.exploded"
    yield "unknown-type", event
    for bad in ("2026-11-28 09:14:03Z", "2026-11-28T09:14:03+01:00", "2026-02-30T10:00:00Z", "yesterday"):
        event = copy.deepcopy(example)
        event["timestamp"] = bad
        yield f"bad-timestamp-{bad}", event
    if isinstance(example["data"].get("shard_map"), dict):
        event = copy.deepcopy(example)
        shard_map = event["data"]["shard_map"]
        shard_map["threshold"] = shard_map["total"] + 1
        yield "shard-map-k-greater-than-n", event
        event = copy.deepcopy(example)
        event["data"]["shard_map"]["shards"].pop()
        yield "shard-map-fewer-shards-than-n", event


TARGETED = [(key, name, event) for key, _, example in EXAMPLES for name, event in _mutations(key, example)]


@pytest.mark.parametrize(("key", "name", "event"), TARGETED,
                         ids=[f"{key}-{name}" for key, name, _ in TARGETED])
def test_targeted_mutation_is_rejected_by_both_validators(key: str, name: str, event: dict[str, Any]) -> None:
    assert both(key, event) == (False, False)
    assert any(p.is_error for p in Validator().check(event))


# --- Hypothesis: random mutations, the two validators must agree ---------------------------------

ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70), st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["", "x", "evt_", "evt_0123456789abcdefXYZ", "2026-11-28T09:14:03.120Z",
                     "2026-11-28T09:14:03Z", "2026-02-30T09:14:03.120Z", "2026-11-28T24:00:00Z",
                     "03AA3897-FCF4-46B6-986C-39E8C7BB69F6", "03aa3897-fcf4-46b6-986c-39e8c7bb69f6",
                     "alice@example.com", "alice@", "https://idp.example.com/sso", "not a uri",
                     "secret.used", "user.created", "okta", "saml", "member", "standard", "pending"]),
    st.text(alphabet="abcXYZ019-_ ", max_size=12),
    st.just([]), st.just({}), st.lists(st.integers(0, 3), max_size=3),
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))


@st.composite
def mutated_events(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    key, _, example = draw(st.sampled_from(EXAMPLES))
    event = copy.deepcopy(example)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(event) if p]
        path = draw(st.sampled_from(paths))
        parent = event
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "note", "zz"]))] = draw(ODD_VALUES)
        else:
            parent[path[-1]] = draw(ODD_VALUES)
    return key, event


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
@given(mutated_events())
def test_mutated_examples_get_the_same_verdict_from_both_validators(case: tuple[str, dict[str, Any]]) -> None:
    key, event = case
    rs_valid, py_valid = both(key, event)
    assert rs_valid == py_valid, list(reference_validator(key).iter_errors(event))
    if not rs_valid:
        assert any(p.is_error for p in Validator().check(event))


@settings(max_examples=200, deadline=None, print_blob=True)
@given(mutated_events())
def test_closed_fast_path_never_passes_what_the_contract_refuses(case: tuple[str, dict[str, Any]]) -> None:
    # Only the shard map's per-n if/then clauses are left to the semantic rules on the fast path.
    key, event = case
    closed, contract = compiled()[1][key].closed, rs(key)
    if closed.is_valid(event) and not contract.is_valid(event):
        assert check_semantic(event)


# --- the full examples tell one story ---------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
STORY = ROOT / "scripts" / "make_examples.py"


def test_the_full_examples_are_what_the_story_script_writes(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(STORY), "--out", str(tmp_path)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    for key in KEYS:
        written = (tmp_path / key / "full.json").read_bytes()
        assert written == (ROOT / "schemas" / "examples" / key / "full.json").read_bytes(), (
            f"{key}: run python scripts/make_examples.py and commit its output")
    assert (tmp_path / "examples.snapshot.json").read_bytes() == (ROOT / "scripts" / "examples.snapshot.json").read_bytes()


def test_the_full_examples_in_order_pass_sequence_strict_as_one_stream(tmp_path: Path) -> None:
    order = runpy.run_path(str(STORY))["ORDER"]
    assert sorted(order) == sorted(KEYS)
    stream = tmp_path / "story.jsonl"
    with stream.open("wb") as out:
        for key in order:
            event = json.loads((ROOT / "schemas" / "examples" / key / "full.json").read_text(encoding="utf-8"))
            out.write(json.dumps(event).encode() + b"\n")
    stamps = [json.loads(line)["timestamp"] for line in stream.read_text().splitlines()]
    assert stamps == sorted(stamps)
    done = subprocess.run([sys.executable, "-m", "simulator", "validate", str(stream), "--sequence-strict",
                           "--snapshot", str(ROOT / "scripts" / "examples.snapshot.json")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "24 valid, 0 invalid, 0 warnings" in done.stdout + done.stderr


def test_the_story_examples_agree_with_each_other() -> None:
    full = {key: json.loads((ROOT / "schemas" / "examples" / key / "full.json").read_text(encoding="utf-8"))
            for key in KEYS}
    began, completed = full["secret.share.began"]["data"], full["secret.share.completed"]["data"]
    assert began["share_id"] == completed["share_id"]
    assert began["kind"] == completed["kind"] == "group"
    assert began["recipients"]["group"]["id"] == full["group.created"]["data"]["group"]["id"]
    assert full["pending_share.accepted"]["data"]["share_kind"] == "group"
    # The installation map posted with the secret is the one its first share's installation replaced.
    posted, deleted = full["installation_map.posted"], full["installation_map.deleted"]
    assert posted["data"]["installation_map_id"] == deleted["data"]["installation_map_id"]
    assert posted["timestamp"] < deleted["timestamp"]
    assert deleted["data"]["share_id"] == began["share_id"]
    # The accepted shard is installed at the index the offer announced.
    offer = full["pending_share.created"]["data"]["shard"]
    assert offer == full["pending_share.accepted"]["data"]["shard"]
    assert offer["index"] == offer["total"] == deleted["data"]["shard_map"]["total"] + 1
    assert full["user.created"]["data"]["created_by"] == {"kind": "scim"}
    assert full["user.created"]["data"]["user"] in full["scim.updated"]["data"]["users_created"]
