"""Semantic rules on one event: what JSON Schema cannot say."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from validation_examples import example

from simulator import CATALOG
from simulator.strategies import realistic_events
from simulator.validation import Validator, check_semantic
from simulator.validation._registry import compiled, reference_validator
from simulator.validation._semantic import _PAGE_RULES, _PAGE_RULES_OK, check_schema_valid, time_key

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def apply(event: dict[str, Any]) -> None:
        node = event
        parts = path.split("/")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[parts[-1] if isinstance(node, dict) else int(parts[-1])] = value
    return apply


def _both(*mutations: Mutation) -> Mutation:
    def apply(event: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(event)
    return apply


def _pop_shard(event: dict[str, Any]) -> None:
    event["data"]["shard_map"]["shards"].pop()


def _big_map(event: dict[str, Any]) -> None:
    # Beyond 32 shards the schema's if/then clauses stop: the semantic rule alone catches it.
    shard_map = event["data"]["shard_map"]
    template = shard_map["shards"][0]
    shard_map["shards"] = [dict(template, index=i) for i in range(1, 41)]
    shard_map["total"] = 40
    shard_map["threshold"] = 41
    event["data"]["device_ids"] = [template["device_id"]]


BROKEN = [
    pytest.param("secret.used", _big_map, "/data/shard_map/threshold", "exceeds total", id="k-greater-than-n-beyond-32"),
    pytest.param("secret.used", _set("data/shard_map/shards/1/index", 1), "/data/shard_map/shards/1/index",
                 "appears twice", id="duplicate-shard-index"),
    pytest.param("secret.created", _set("data/shard_map/shards/0/index", 3), "/data/shard_map/shards/2/index",
                 "appears twice", id="duplicate-index-secret-created"),
    pytest.param("secret.used", _set("data/time/completed_at", "2026-11-28T12:00:01Z"),
                 "/data/time/completed_at", "before initiated_at", id="completed-before-initiated-whole-seconds"),
    pytest.param("secret.share.began", _set("data/time/expires_at", "2026-11-01T00:00:00.000Z"),
                 "/data/time/expires_at", "before initiated_at", id="expires-before-initiated"),
    pytest.param("pending_share.accepted", _set("data/time/completed_at", "2020-01-01T00:00:00.000Z"),
                 "/data/time/completed_at", "before initiated_at", id="pending-share-time"),
    pytest.param("scim.updated", _both(_set("data/users_created", []), _set("data/users_pruned", [])),
                 "/data", "created or pruned", id="scim-run-changed-nobody"),
    pytest.param("secret.used", _set("data/device_ids/0", "11111111-2222-4333-8444-555555555555"),
                 "/data/device_ids/0", "holds no shard", id="used-device-not-in-map"),
    pytest.param("secret.deleted", _set("data/device_ids/0", "11111111-2222-4333-8444-555555555555"),
                 "/data/device_ids/0", "holds no shard", id="deleted-device-not-in-map"),
    pytest.param("secret.used", _set("data/shard_map/secret_id", "11111111-2222-4333-8444-555555555555"),
                 "/data/shard_map/secret_id", "not the event's secret", id="map-of-another-secret"),
    pytest.param("installation_map.posted", _set("data/shard_map/secret_id", "11111111-2222-4333-8444-555555555555"),
                 "/data/shard_map/secret_id", "not the event's secret", id="installation-map-of-another-secret"),
    pytest.param("group.created", _set("data/group/member_count", 7), "/data/group/member_count",
                 "member_count=7", id="member-count-mismatch"),
]


@pytest.mark.parametrize(("key", "mutate", "pointer", "fragment"), BROKEN)
def test_broken_semantic_rule_is_reported_at_its_pointer(
        validator: Validator, key: str, mutate: Mutation, pointer: str, fragment: str) -> None:
    event = example(key)
    mutate(event)
    problems = validator.check(event)
    assert [(p.code, p.pointer) for p in problems] == [("semantic", pointer)], problems
    assert fragment in problems[0].message


@pytest.mark.parametrize(
    ("key", "mutate"),
    [
        pytest.param("secret.used", _set("data/shard_map/threshold", 4), id="k-greater-than-n"),
        pytest.param("secret.used", _pop_shard, id="fewer-shards-than-n"),
        pytest.param("secret.used", _set("data/shard_map/shards/0/index", 9), id="index-beyond-n"),
    ],
)
def test_shard_map_rules_the_schema_also_states_are_caught_by_both(
        validator: Validator, key: str, mutate: Mutation) -> None:
    # The closed fast path skips the schema's per-n if/then clauses; the semantic rules restate
    # them, so chestsim reports them as semantic, while both schema validators refuse the event.
    event = example(key)
    mutate(event)
    problems = validator.check(event)
    assert problems
    assert all(p.code == "semantic" and p.pointer.startswith("/data/shard_map") for p in problems)
    assert not compiled()[1][key].contract.is_valid(event)
    assert not reference_validator(key).is_valid(event)


def test_non_utc_times_are_refused() -> None:
    event = example("secret.used")
    event["data"]["time"]["completed_at"] = "2026-11-28T13:00:01.388+01:00"
    event["timestamp"] = "2026-11-28T12:00:01.388+00:00"
    assert {p.pointer for p in check_semantic(event)} == {"/data/time/completed_at", "/timestamp"}


@pytest.mark.parametrize("event_type", CATALOG, ids=[t.key for t in CATALOG])
def test_examples_break_no_semantic_rule(event_type: Any) -> None:
    for ex in event_type.examples:
        assert check_semantic(ex) == []


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("2026-11-28T12:00:01Z", "2026-11-28T12:00:01.001Z"),
        ("2026-11-28T12:00:01.5Z", "2026-11-28T12:00:01.51Z"),
        ("2026-11-28T12:00:01.388Z", "2026-11-28T12:00:02Z"),
        ("2026-11-28T23:59:59.999999Z", "2026-11-29T00:00:00Z"),
    ],
)
def test_time_order_is_numeric_not_lexical(earlier: str, later: str) -> None:
    assert time_key(earlier) < time_key(later)


def test_semantic_rules_tolerate_garbage() -> None:
    for data in ({"time": 3}, {"shard_map": {"shards": [1, None]}}, {"device_ids": "x", "shard_map": []}, None):
        check_semantic({"type": "secret.used", "data": data})


# --- the rules after the closed schema give the general rules' verdict -----------------------------

_TIMES = ["2026-11-28T12:00:01Z", "2026-11-28T12:00:01.5Z", "2026-11-28T12:00:01.388Z",
          "2026-11-28T12:00:00.999999Z", "2026-11-28T12:00:02Z", "2026-11-27T23:59:59.9Z"]


@st.composite
def _semantic_mutants(draw: st.DrawFn) -> dict[str, Any]:
    """A shipped or simulated event, with a few of the fields the semantic rules read redrawn."""
    ruled = [e for t in CATALOG for e in t.examples if {"time", "shard_map", "group"} & set(e["data"])
             or t.key == "scim.updated"]
    event = copy.deepcopy(draw(st.sampled_from(ruled) | realistic_events(users=6)))
    data = event["data"]
    for _ in range(draw(st.integers(1, 3))):
        time, shard_map, group = data.get("time"), data.get("shard_map"), data.get("group")
        choice = draw(st.integers(0, 8))
        if choice <= 1 and isinstance(time, dict):
            time[draw(st.sampled_from(["initiated_at", "completed_at", "expires_at"]))] = draw(st.sampled_from(_TIMES))
        elif choice == 2 and isinstance(shard_map, dict):
            shard_map[draw(st.sampled_from(["threshold", "total"]))] = draw(st.integers(1, 6))
        elif choice == 3 and isinstance(shard_map, dict) and shard_map["shards"]:
            shard = draw(st.sampled_from(shard_map["shards"]))
            shard["index"] = draw(st.integers(1, 6))
        elif choice == 4 and isinstance(shard_map, dict) and len(shard_map["shards"]) > 1:
            shard_map["shards"].pop()
        elif choice == 5 and isinstance(shard_map, dict):
            shard_map["secret_id"] = draw(st.sampled_from([shard_map["secret_id"], str(uuid.UUID(int=7))]))
        elif choice == 6 and isinstance(data.get("device_ids"), list):
            data["device_ids"].append(draw(st.sampled_from([str(uuid.UUID(int=9)), *data["device_ids"]])))
        elif choice == 7 and isinstance(group, dict):
            group["member_count"] = draw(st.integers(0, 5))
        elif choice == 8 and event["type"] == "scim.updated":
            data[draw(st.sampled_from(["users_created", "users_pruned"]))] = []
    return event


def _one_device(event: dict[str, Any]) -> None:
    event["data"]["device_ids"] = event["data"]["device_ids"][:1]


def _dup_index(event: dict[str, Any]) -> None:
    shards = event["data"]["shard_map"]["shards"]
    shards[-1]["index"] = shards[0]["index"]


@pytest.mark.parametrize(("key", "mutate"), [
    pytest.param("secret.used", _set("data/device_ids/0", "00000000-0000-4000-8000-000000000009"),
                 id="device-not-in-map"),
    pytest.param("secret.used", _both(_set("data/time/initiated_at", "2026-11-28T12:00:01.5Z"),
                                      _set("data/time/completed_at", "2026-11-28T12:00:01Z")),
                 id="earlier-but-lexically-later"),
    pytest.param("secret.used", _dup_index, id="duplicate-index"),
    pytest.param("secret.used", _set("data/shard_map/secret_id", "00000000-0000-4000-8000-000000000007"),
                 id="map-of-another-secret"),
    pytest.param("secret.used", _set("data/shard_map/threshold", 9), id="k-greater-than-n"),
    pytest.param("secret.used", _pop_shard, id="fewer-shards-than-n"),
    pytest.param("secret.used", _one_device, id="fewer-devices-than-k"),
    pytest.param("group.created", _set("data/group/member_count", 99), id="member-count"),
    pytest.param("scim.updated", _both(_set("data/users_created", []), _set("data/users_pruned", [])),
                 id="scim-changed-nobody"),
])
def test_rules_after_the_closed_schema_catch_each_rule(key: str, mutate: Mutation) -> None:
    event = example(key)
    mutate(event)
    assert compiled()[1][key].closed.is_valid(event)
    assert check_schema_valid(event) == check_semantic(event) != []


@settings(max_examples=300, deadline=None)
@given(_semantic_mutants())
def test_rules_after_the_closed_schema_agree_with_the_general_rules(event: dict[str, Any]) -> None:
    closed = compiled()[1][event["type"]].closed
    assume(closed.is_valid(event))
    assert check_schema_valid(event) == check_semantic(event)


@pytest.mark.parametrize(("threshold", "total"), [(4.0, 3), (3.0, 3), (2, 3.0), (4, 3.0), (2.0, 3.0)])
@pytest.mark.parametrize("key", ["secret.created", "secret.used"])
def test_counts_written_as_integral_floats_are_counts(key: str, threshold: float, total: float) -> None:
    # JSON Schema's "integer" admits 4.0: the rules must read it as 4, on the fast path and off it.
    event = copy.deepcopy(example(key))
    event["data"]["shard_map"].update(threshold=threshold, total=total)
    problems = Validator().check(event)
    assert (not any(p.is_error for p in problems)) == reference_validator(key).is_valid(event) \
        or any(p.pointer == "/data/device_ids" for p in problems), problems
    assert check_semantic(event) == [p for p in problems if p.code == "semantic"]


@pytest.mark.parametrize("where", ["tenant_id", "timestamp", "id"])
def test_an_integer_past_64_bits_is_a_problem_not_a_crash(where: str) -> None:
    # orjson.loads reads such a number as a float; an event built in Python can hold the int itself.
    event = {**copy.deepcopy(example("secret.created")), where: 2**70}
    for _ in range(2):  # the second time, what was remembered answers
        assert [p.pointer for p in Validator().check(event)] == [f"/{where}"]


@pytest.mark.parametrize(("key", "where", "value", "pointer"), [
    ("secret.used", ("data", "shard_map", "shards", 1, "index"), 4.0, "/data/shard_map/shards/1/index"),
    ("secret.created", ("data", "shard_map", "shards", 0, "index"), 2.0, "/data/shard_map/shards/1/index"),
    ("pending_share.created", ("data", "shard", "index"), 99.0, "/data/shard/index"),
    ("group.created", ("data", "group", "member_count"), 99.0, "/data/group/member_count"),
], ids=["shard-index-past-n", "shard-index-twice", "pending-shard-index-past-n", "member-count"])
def test_indexes_and_member_counts_written_as_integral_floats_are_read_as_integers(
        key: str, where: tuple[str | int, ...], value: float, pointer: str) -> None:
    # The siblings of the counts above (found by Hypothesis: index 4.0 in a 3-shard map passed as valid).
    event = copy.deepcopy(example(key))
    node: Any = event
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = value
    problems = Validator().check(event)
    assert pointer in [p.pointer for p in problems if p.is_error], problems
    assert check_semantic(event) == [p for p in problems if p.code == "semantic"]


_PEOPLE = st.sampled_from([None, "x", {}, {"id": 7}, {"id": "u1"}, {"id": "u2"}])


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["secret.share.completed", "secret.multi_share.completed", "pending_share.created",
                        "pending_share.accepted", "pending_share.rejected"]),
       st.dictionaries(st.sampled_from(["sender", "original_sender", "recipient"]), _PEOPLE),
       st.none() | st.lists(_PEOPLE, max_size=3),
       st.none() | st.fixed_dictionaries({"index": st.sampled_from([1, 2, 3.0, 5, "2", None]),
                                          "total": st.sampled_from([1, 2, 3, 4.0, None])}))
def test_each_page_rules_verdict_is_its_explanations(key: str, people: dict[str, Any], accepted: Any,
                                                     shard: Any) -> None:
    # The fast paths ask a page rule's verdict alone (no generator); it must match what the rule explains.
    data = copy.deepcopy(example(key)["data"])
    data.update(people)
    if accepted is not None:
        data["accepted_by"] = accepted
    if shard is not None:
        data["shard"] = shard
    rule = _PAGE_RULES[key]
    assert _PAGE_RULES_OK[rule](data) == (next(rule(data), None) is None)
