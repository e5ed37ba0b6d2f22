"""The invalid path's shortcuts give the answers of the slow checks they stand for.

``Explainer`` (errors per failing part, remembered) against the whole-event
``iter_errors`` of the published schema; the ``tidy`` and leak prefilters
(one Rust pass) against the Python walks they let the validator skip.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from validation_examples import example

from simulator import CATALOG
from simulator.validation import Validator, leaks
from simulator.validation._explain import Explainer
from simulator.validation._registry import compiled_type, leak_prefilter
from simulator.validation._semantic import check_schema_valid

_TYPES = [t.key for t in CATALOG]
_ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.just(1.5),
    st.sampled_from(["", "2026-13-45", "not-a-uuid", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "x" * 300,
                     "Bearer abcdefghijkl", "aB3dE5gH7jK9mN1pQ3sT5vX7", "user.created", "ops@example.com"]),
    st.just({}), st.just([]), st.just({"password": "p"}), st.just([{"token": "t"}]))
_NAMES = st.sampled_from(["colour", "client_secret", "password", "note", "name", "id", "extra"])


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*path, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(_paths(value, (*path, index)))
    return out


@st.composite
def broken_events(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    key = draw(st.sampled_from(_TYPES))
    event = copy.deepcopy(example(key, draw(st.sampled_from(["full", "minimal"]))))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(event) if p]
        path = draw(st.sampled_from(paths))
        parent: Any = event
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["set", "delete", "add"]))
        if action == "set":
            parent[path[-1]] = copy.deepcopy(draw(_ODD_VALUES))
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(_NAMES)] = copy.deepcopy(draw(_ODD_VALUES))
    return key, event


_EXPLAINERS: dict[str, Explainer] = {}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_events())
def test_explained_parts_give_the_whole_event_errors(case: tuple[str, dict[str, Any]]) -> None:
    key, event = case
    explainer = _EXPLAINERS.setdefault(key, Explainer(key))
    whole = {(tuple(e.instance_path), str(e.message)) for e in compiled_type(key).contract.iter_errors(event)}
    for _ in range(2):  # the second time from the memo
        assert {(f.path, f.message) for f in explainer.failures(event)} == whole


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_events())
def test_the_part_by_part_check_finds_what_the_whole_event_walks_find(case: tuple[str, dict[str, Any]]) -> None:
    # Unknown fields and leaks are looked for only in the parts that failed their closed validators:
    # the answer must be that of walking the whole event.
    key, event = case
    schema = compiled_type(key)
    if schema.closed.is_valid(event) or event.get("type") != key:
        return  # the fast path's business (test_block_checking), or an event without its type
    problems = Validator().check(event)
    assert {p.pointer for p in problems if p.code == "unknown-field"} == set(schema.shape.unknown(event))
    assert {(p.pointer, p.message) for p in problems if p.code == "leak"} == \
        {(p.pointer, p.message) for p in leaks(event)}
    if leaks(event):
        assert not leak_prefilter().is_valid(event)


# --- events that fail alike: the remembered answer is the slow path's -------------------------------

_WARM: dict[bool, Validator] = {}


def _break_at(event: dict[str, Any], path: tuple[Any, ...], action: str, value: Any) -> dict[str, Any]:
    """A copy of ``event`` with ``path`` set to ``value``, deleted, or given a member no schema names."""
    out = copy.deepcopy(event)
    parent: Any = out
    for part in path[:-1]:
        if not _holds(parent, part):
            return out  # this event has no such place (a shorter list, a missing member)
        parent = parent[part]
    last = path[-1]
    if action == "set" and (isinstance(parent, dict) or _holds(parent, last)):
        parent[last] = copy.deepcopy(value)
    elif action == "delete" and isinstance(parent, dict):
        parent.pop(last, None)
    elif action == "add" and _holds(parent, last) and isinstance(parent[last], dict):
        parent[last]["client_secret" if isinstance(value, str) else "colour"] = copy.deepcopy(value)
    return out


def _holds(node: Any, part: Any) -> bool:
    return (isinstance(node, dict) and part in node) or \
        (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node))


@st.composite
def alike_failures(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """An event broken at one part, then another event of its type broken there the same way (the same
    value or another), and maybe elsewhere too."""
    key = draw(st.sampled_from(_TYPES))
    first = example(key, draw(st.sampled_from(["full", "minimal"])))
    parts = [p for p in _paths(first) if 1 <= len(p) <= 3 and p[0] != "type"]
    path = draw(st.sampled_from(parts))
    action = draw(st.sampled_from(["set", "set", "delete", "add"]))
    value = draw(_ODD_VALUES)
    again = value if draw(st.booleans()) else draw(_ODD_VALUES)
    second = _break_at(example(key, draw(st.sampled_from(["full", "minimal"]))), path, action, again)
    for _ in range(draw(st.integers(0, 2))):  # then break the second event somewhere else too, or not
        elsewhere = [p for p in _paths(second) if p and p[:len(path)] != path and path[:len(p)] != p]
        if not elsewhere:
            break
        second = _break_at(second, draw(st.sampled_from(elsewhere)), draw(st.sampled_from(["set", "delete"])),
                           draw(_ODD_VALUES))
    return _break_at(first, path, action, value), second


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(alike_failures(), st.booleans())
def test_an_event_failing_like_one_before_gets_the_slow_paths_answer(
        case: tuple[dict[str, Any], dict[str, Any]], strict: bool) -> None:
    # A validator that has explained the first event answers the second from what it remembered when
    # the second fails at the same part with the same value and nowhere else; in every case its answer
    # is the one a fresh validator works out in full.
    first, second = case
    warm = _WARM.setdefault(strict, Validator(strict=strict))
    warm.check(first)
    assert warm.check(second) == Validator(strict=strict).check(second)
    assert warm.check(first) == Validator(strict=strict).check(first)


def test_bulk_failures_are_answered_from_memory() -> None:
    # 200 events with the same bad timestamp: explained once, the other 199 recognised (the explainer
    # is not asked again), with the same problems.
    events = [dict(example(key, "full"), timestamp="2026-13-45") for key in _TYPES for _ in range(8)][:200]
    validator = Validator()
    expected = [Validator().check(event) for event in events]
    asked: list[int] = []
    real = Explainer.explain

    def counting(self: Explainer, event: Any) -> Any:
        asked.append(1)
        return real(self, event)

    Explainer.explain = counting  # type: ignore[method-assign]
    try:
        answers = [validator.check(event) for event in events]
    finally:
        Explainer.explain = real  # type: ignore[method-assign]
    assert answers == expected
    assert len(asked) == len({event["type"] for event in events})  # once per event type
    assert all(p.pointer == "/timestamp" for found in answers for p in found)


@st.composite
def numbered_strings(draw: st.DrawFn) -> tuple[str, tuple[str, ...], list[int]]:
    """An event type, a string member of it (envelope, data or one below), and integers to put there."""
    key = draw(st.sampled_from(_TYPES))
    event = example(key, "full")
    strings = [p for p in _paths(event) if 1 <= len(p) <= 3 and all(isinstance(part, str) for part in p)
               and isinstance(_get(event, p), str) and p != ("type",)]
    values = draw(st.lists(st.integers(-(2**63), 2**64 - 1) | st.integers(-3, 12), min_size=2, max_size=6))
    return key, draw(st.sampled_from(strings)), values


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(numbered_strings())
def test_a_string_written_as_a_number_is_explained_once_whatever_the_number(
        case: tuple[str, tuple[str, ...], list[int]]) -> None:
    # An ID sent as a number differs in every event: the answer for one number stands for every
    # other (quoted in its place), and is the answer a fresh validator works out in full.
    key, path, numbers = case
    warm = Validator()
    for number in numbers:
        event = _break_at(example(key, "full"), path, "set", number)
        assert warm.check(event) == Validator().check(event)


def test_ids_written_as_numbers_are_not_explained_one_by_one() -> None:
    events = []
    for number in range(300):
        event = copy.deepcopy(example("user.created", "full"))
        event["tenant_id"] = 10**6 + number * 7919
        events.append(event)
    validator = Validator()
    expected = [Validator().check(event) for event in events[:20]]
    asked: list[int] = []
    real = Explainer.explain_part

    def counting(self: Explainer, event: Any, path: Any) -> Any:
        asked.append(1)
        return real(self, event, path)

    Explainer.explain_part = counting  # type: ignore[method-assign]
    try:
        answers = [validator.check(event) for event in events]
    finally:
        Explainer.explain_part = real  # type: ignore[method-assign]
    assert answers[:20] == expected
    assert [p.message for p in answers[299]] == [f'{10**6 + 299 * 7919} is not of type "string"']
    assert len(asked) <= 1


def _explained_in_full(validator: Validator, event: dict[str, Any]) -> list[Any]:
    """What the validator answers without its shortcuts: every part of the event walked."""
    schema = validator._schema(event["type"])
    assert schema is not None
    if schema.closed.is_valid(event):
        return check_schema_valid(event)
    failures, suspects = validator._explainer(schema.key).explain(event)
    return validator._problems(event, schema, failures, suspects)


@st.composite
def new_members(draw: st.DrawFn) -> dict[str, Any]:
    """An event with members no schema names, in the envelope or in ``data`` (and maybe broken elsewhere)."""
    event = example(draw(st.sampled_from(_TYPES)), draw(st.sampled_from(["full", "minimal"])))
    for _ in range(draw(st.integers(1, 3))):
        holder = event if draw(st.booleans()) else event["data"]
        holder[draw(_NAMES | st.sampled_from(["region", "request_count", "api_key", "trace"]))] = draw(_ODD_VALUES)
    if draw(st.integers(0, 3)) == 0:
        event = _break_at(event, draw(st.sampled_from([p for p in _paths(event) if p and p[0] != "type"])),
                          "set", draw(_ODD_VALUES))
    return event


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(new_members(), min_size=1, max_size=4), st.booleans())
def test_new_members_get_the_answer_of_the_walk_over_every_part(events: list[dict[str, Any]],
                                                                strict: bool) -> None:
    # A release that adds fields adds them everywhere: those events skip the part-by-part walk (and
    # are remembered by where the new members sit); the answer must be the walk's, leaks included.
    warm = Validator(strict=strict)
    for event in events:
        assert warm.check(event) == _explained_in_full(Validator(strict=strict), event)


def test_a_remembered_set_of_new_members_never_hides_a_leak() -> None:
    validator = Validator()
    event = copy.deepcopy(example("user.created", "full"))
    event["data"]["region"] = "eu-west-1"
    event["data"]["trace"] = 7
    assert [p.code for p in validator.check(event)] == ["unknown-field", "unknown-field"]
    event["data"]["region"] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    found = validator.check(event)
    assert [p.code for p in found] == ["unknown-field", "unknown-field", "leak"]
    assert all("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in p.message for p in found)


@pytest.mark.parametrize("values", [["k3yMaterial-000111", "k3yMaterial-222333", "schema", "field", "abc"]])
def test_a_member_named_like_a_secret_is_remembered_by_its_name_but_never_a_redaction(values: list[str]) -> None:
    # Its value is never read, so one answer stands for every value; unless the value happens to
    # stand in a message ("schema"), which redaction then cuts: that one is worked out again.
    validator = Validator()
    for value in values:
        event = copy.deepcopy(example("secret.created", "full"))
        event["data"]["client_secret"] = value
        event["region"] = "eu-west-1"
        assert validator.check(event) == _explained_in_full(Validator(), event)


def test_new_members_with_huge_names_are_answered_but_not_remembered() -> None:
    # A hostile capture could otherwise make the memo hold a thousand megabyte-long names.
    validator = Validator()
    for letter in "abc":
        event = copy.deepcopy(example("user.created", "full"))
        event["data"][letter * 100_000] = 1
        found = validator.check(event)
        assert [p.code for p in found] == ["unknown-field"]
        assert len(found[0].message) < 500
    assert not validator._unknown


def test_a_clause_the_closed_validator_drops_still_counts_beside_a_remembered_failure() -> None:
    # A shard map lists one shard per share: if/then clauses the closed validators drop (the semantic
    # rules restate them for events the closed validator passes). An event with a remembered bad
    # timestamp that also breaks that clause must get both problems, not the remembered one alone.
    event = copy.deepcopy(example("secret.created", "full"))
    assert Validator().check(event) == []
    validator = Validator()
    validator.check(dict(event, timestamp="2026-13-45"))  # remembered
    broken = copy.deepcopy(event)
    broken["timestamp"] = "2026-13-45"
    broken["data"]["shard_map"]["total"] += 1
    found = validator.check(broken)
    assert found == Validator().check(broken)
    assert any(p.pointer.startswith("/data/shard_map") for p in found)


@pytest.mark.parametrize(("change", "pointers"), [
    ({}, ["/type"]),
    ({"timestamp": "2026-13-45"}, ["/type", "/timestamp"]),
    ({"tenant_id": 12}, ["/type", "/tenant_id"]),
    ({"id": None}, ["/type", "/id"]),
    ({"colour": "blue"}, ["/type"]),  # the envelope allows members it does not name
])
def test_an_unknown_type_still_gets_the_envelopes_problems(change: dict[str, Any], pointers: list[str]) -> None:
    event = {**copy.deepcopy(example("user.created", "full")), "type": "secret.teleported", **change}
    if change.get("id", "") is None:
        del event["id"]
        pointers = ["/type", ""]
    found = Validator().check(event)
    assert [p.pointer for p in found] == pointers
    assert found[0].code == "unknown-type"


# --- the clauses the closed copies drop, checked apart ----------------------------------------------

def _definition(name: str) -> Any:
    from simulator.validation._registry import _by_id, _inline

    docs = _by_id()
    uri = next(uri for uri in docs if uri.endswith("definitions.json"))
    return _inline(copy.deepcopy(docs[uri]["$defs"][name]), uri, docs)


def test_the_shard_maps_dropped_clauses_are_its_if_then_rules_alone() -> None:
    from simulator.validation._registry import dropped_clauses

    shard_map = _definition("shard_map")
    dropped = dropped_clauses(shard_map)
    assert dropped is not None
    assert set(dropped) == {"allOf"}
    assert dropped["allOf"] == [m for m in shard_map["allOf"] if "if" in m]
    assert len(dropped["allOf"]) == 32
    # A device's own if/then (a browser extension names its browser) is kept by the closed copy: nothing dropped.
    assert dropped_clauses(_definition("device")) == {}


@pytest.mark.parametrize(("schema", "expected"), [
    ({"type": "object", "properties": {"a": {"allOf": [{"if": {"required": ["x"]}, "then": {"required": ["y"]}},
                                                       {"required": ["z"]}]}}},
     {"properties": {"a": {"allOf": [{"if": {"required": ["x"]}, "then": {"required": ["y"]}}]}}}),
    ({"type": "array", "items": {"allOf": [{"if": {"const": 1}, "then": {"const": 1}}]}},
     {"items": {"allOf": [{"if": {"const": 1}, "then": {"const": 1}}]}}),
    ({"oneOf": [{"allOf": [{"if": {"const": 1}, "then": {"const": 1}}]}, {"type": "string"}]}, None),
    ({"contains": {"allOf": [{"if": {"const": 1}, "then": {"const": 1}}]}}, None),
    ({"prefixItems": [{}], "items": {"allOf": [{"if": {"const": 1}, "then": {"const": 1}}]}}, None),
    ({"type": "object", "properties": {"a": {"type": "string"}}, "if": {"required": ["a"]},
      "then": {"required": ["b"]}}, {}),
], ids=["under-properties", "under-items", "under-oneOf", "under-contains", "items-after-prefixItems",
        "a-node's-own-if-is-kept"])
def test_dropped_clauses_are_split_off_only_where_they_can_be_checked_apart(schema: Any, expected: Any) -> None:
    from simulator.validation._registry import dropped_clauses

    assert dropped_clauses(schema) == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 34), st.integers(0, 36), st.integers(0, 36), st.integers(1, 36), st.data())
def test_closed_copy_and_dropped_clauses_together_decide_as_the_contract(
        total: int, threshold: int, count: int, top: int, data: st.DataObject) -> None:
    from simulator.validation._registry import _close, _compile, _fold, dropped_clauses

    shard_map = _definition("shard_map")
    closed = _compile(_fold(_close(copy.deepcopy(shard_map))), registry=None)
    dropped = _compile(dropped_clauses(shard_map), registry=None)
    contract = _compile(shard_map, registry=None)
    value = copy.deepcopy(example("secret.created", "full")["data"]["shard_map"])
    shard = value["shards"][0]
    value.update(total=total, threshold=threshold,
                 shards=[dict(shard, index=data.draw(st.integers(1, top))) for _ in range(count)])
    if closed.is_valid(value):
        assert (closed.is_valid(value) and dropped.is_valid(value)) == contract.is_valid(value)


def test_a_leaked_members_problems_are_remembered_whatever_its_value_but_never_a_redaction() -> None:
    # A member named like a secret is reported by its name: one explanation serves every value. A value
    # that also appears in a message is cut out of it (redacted), so that answer must not be reused.
    base = example("user.created", "full")
    validator = Validator()
    for value in ("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "user.created", "schema", "zzzzzzzzzzzzzzzz"):
        event = copy.deepcopy(base)
        event["data"]["client_secret"] = value
        assert validator.check(event) == Validator().check(event), value
