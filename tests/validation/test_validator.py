"""``Validator``: the interface the listener and the CLI use, layer by layer."""

from __future__ import annotations

import dataclasses
import re

import jsonschema_rs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from validation_examples import example

from simulator import CATALOG
from simulator.model import iter_events
from simulator.validation import Problem, Validator
from simulator.validation._leakguard import SECRET_FIELD_PATTERN
from simulator.validation._registry import (
    DEFINITIONS_ID,
    PLAIN_EMAIL,
    closed_schema,
    inlined_type,
    rs_registry,
)


def codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


def test_problem_is_a_frozen_slotted_record() -> None:
    problem = Problem("schema", "error", "/data", "bad")
    assert problem.is_error
    assert not Problem("unknown-field", "warning", "/x", "new").is_error
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.code = "json"  # type: ignore[misc]
    assert not hasattr(problem, "__dict__")


@pytest.mark.parametrize("event_type", CATALOG, ids=[t.key for t in CATALOG])
def test_every_example_is_valid_through_check_bytes(validator: Validator, event_type: object) -> None:
    for ex in event_type.examples:  # type: ignore[attr-defined]
        event, problems = validator.check_bytes(orjson.dumps(ex))
        assert problems == []
        assert event == ex


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        pytest.param(b"not json", "json", "not JSON", id="not-json"),
        pytest.param(b'{"id": "evt_', "json", "not JSON", id="truncated"),
        pytest.param(b"", "json", "not JSON", id="empty-body"),
        pytest.param(b"[1, 2]", "envelope", "got array", id="array"),
        pytest.param(b'"text"', "envelope", "got str", id="string"),
        pytest.param(b"42", "envelope", "got int", id="number"),
        pytest.param(b"null", "envelope", "got NoneType", id="null"),
        pytest.param(b"{}", "envelope", "required", id="empty-object"),
        pytest.param(b'{"type": "secret.usd"}', "unknown-type", "did you mean 'secret.used'", id="typo"),
        pytest.param(b'{"type": "Secret Used"}', "unknown-type", "write the key 'secret.used'", id="label"),
        pytest.param(b'{"type": "zzzz"}', "unknown-type", "chestsim events list", id="nonsense-type"),
        pytest.param(b'{"type": ["secret.used"]}', "envelope", "type", id="type-not-a-string"),
    ],
)
def test_bad_bodies_get_one_clear_first_problem(validator: Validator, body: bytes, code: str, fragment: str) -> None:
    _event, problems = validator.check_bytes(body)
    assert problems, body
    assert problems[0].code == code
    assert any(fragment in p.message or fragment in p.pointer for p in problems), problems


def test_check_bytes_accepts_str_bytearray_and_memoryview(validator: Validator) -> None:
    body = orjson.dumps(example("user.created"))
    for variant in (body.decode(), bytearray(body), memoryview(body)):
        assert validator.check_bytes(variant)[1] == []


def test_schema_errors_carry_a_json_pointer(validator: Validator) -> None:
    event = example("secret.used")
    event["data"]["shard_map"]["shards"][1]["device_id"] = "not-a-uuid"
    event["data"]["time"] = 3
    problems = validator.check(event)
    pointers = {p.pointer for p in problems if p.code == "schema"}
    assert "/data/shard_map/shards/1/device_id" in pointers
    assert "/data/time" in pointers
    uuid_messages = [p.message for p in problems if p.pointer.endswith("device_id")]
    assert uuid_messages == ["/data/shard_map/shards/1/device_id='not-a-uuid' is not a lower-case hyphenated UUID"]


def test_envelope_errors_are_marked_envelope(validator: Validator) -> None:
    event = example("user.created")
    event["timestamp"] = "2026-11-28T09:14:03+01:00"
    event["id"] = "msg_1"
    problems = validator.check(event)
    assert {(p.code, p.pointer) for p in problems} == {("envelope", "/timestamp"), ("envelope", "/id")}
    assert "ending in Z" in next(p.message for p in problems if p.pointer == "/timestamp")


def test_unknown_fields_are_warnings_by_default_and_errors_when_strict(
        validator: Validator, strict_validator: Validator) -> None:
    event = example("device.registered")
    event["data"]["device"]["firmware"] = "17.2"
    event["trace"] = {"span": 1}
    lenient = validator.check(event)
    assert [(p.code, p.severity, p.pointer) for p in lenient] == [
        ("unknown-field", "warning", "/data/device/firmware"), ("unknown-field", "warning", "/trace")]
    strict = strict_validator.check(event)
    assert [(p.code, p.severity) for p in strict] == [("unknown-field", "error")] * 2


def test_unknown_fields_inside_arrays_and_composed_schemas(strict_validator: Validator) -> None:
    event = example("pending_share.accepted")
    event["data"]["shard"]["color"] = "blue"  # pending_share is allOf(def, {status, time})
    event["data"]["time"]["paused_at"] = "2026-11-28T10:00:00.000Z"
    problems = strict_validator.check(event)
    assert {p.pointer for p in problems} == {"/data/shard/color", "/data/time/paused_at"}
    event = example("group.created")
    event["data"]["group"]["members"][0]["phone"] = "+1 555"
    assert [p.pointer for p in strict_validator.check(event)] == ["/data/group/members/0/phone"]


def test_known_fields_of_either_oneof_branch_are_not_unknown(strict_validator: Validator) -> None:
    event = example("idp.settings_updated")
    event["data"]["previous"] = None
    assert strict_validator.check(event) == []


def test_semantic_rules_run_on_schema_valid_events(validator: Validator) -> None:
    event = example("secret.used")
    event["data"]["time"]["completed_at"] = "2026-11-28T12:00:00.000Z"
    assert [(p.code, p.pointer) for p in validator.check(event)] == [("semantic", "/data/time/completed_at")]


def test_the_leak_guard_runs_on_valid_looking_events(validator: Validator) -> None:
    event = example("secret.created")
    event["data"]["secret"]["name"] = "ghp_" + "a1B2c3D4e5" * 4
    problems = validator.check(event)
    assert [(p.code, p.pointer) for p in problems] == [("leak", "/data/secret/name")]
    assert "GitHub token" in problems[0].message
    assert "ghp_" not in problems[0].message  # never echo the material


def test_the_leak_guard_flags_secret_field_names_as_unknown_fields_too(validator: Validator) -> None:
    event = example("secret.created")
    event["data"]["secret"]["password"] = "hunter2"
    problems = validator.check(event)
    assert ("leak", "error", "/data/secret/password") in {(p.code, p.severity, p.pointer) for p in problems}
    assert any(p.code == "unknown-field" for p in problems)


def test_a_long_low_entropy_name_is_not_a_leak(validator: Validator) -> None:
    event = example("group.created")
    event["data"]["group"]["name"] = "platform_engineering_oncall_rotation_primary"
    assert validator.check(event) == []


def test_repr_shows_how_to_rebuild_it() -> None:
    assert repr(Validator(strict=True)) == "Validator(strict=True)"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, print_blob=True)
@given(JSON, st.sampled_from([t.key for t in CATALOG] + ["nope", None]))
def test_any_json_value_gives_problems_never_an_exception(value: object, event_type: str | None) -> None:
    validator = Validator(strict=True)
    assert isinstance(validator.check(value), list)
    if isinstance(value, dict):
        value = {**value, "type": event_type, "data": value}
        problems = validator.check(value)
        assert problems
        assert all(p.pointer == "" or p.pointer.startswith("/") for p in problems)


# --- the closed fast path's plain email shape --------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(st.from_regex(PLAIN_EMAIL, fullmatch=True).filter(lambda s: len(s) <= 254))
def test_the_plain_email_shape_implies_the_contracts_email(address: str) -> None:
    # The closed fast path checks emails with PLAIN_EMAIL instead of the (slow) email format:
    # whatever it passes, the contract's email definition must pass too.
    email = jsonschema_rs.validator_for({"$ref": f"{DEFINITIONS_ID}#/$defs/email"}, registry=rs_registry(),
                                        validate_formats=True)
    assert email.is_valid(address)


def test_the_plain_email_shape_implies_the_contracts_email_at_its_extremes() -> None:
    # Random draws rarely reach the length limits (64 before the @, 63 a label): walk them.
    email = jsonschema_rs.validator_for({"$ref": f"{DEFINITIONS_ID}#/$defs/email"}, registry=rs_registry(),
                                        validate_formats=True)
    sizes = (1, 2, 19, 20, 21, 30, 31, 32, 40, 60, 62, 63, 64, 65)
    locals_ = ["a" * i + "".join(f".{c * n}" for c, n in zip("bc", rest, strict=False) if n)
               for i in sizes for rest in [(0, 0), *((j, k) for j in sizes for k in (0, *sizes))]]
    labels = ["x" * i + (f"-{'y' * j}" if j else "") + (f"-{'z' * k}" if k else "")
              for i in sizes for j in (0, *sizes) for k in (0, 20, 21)]
    domains = [f"{label}.com" for label in labels] + [".".join(["d" * 20] * n) + ".c" + "o" * 23 for n in (3, 4, 5)]
    checked = 0
    for local in locals_:
        for domain in (domains if local in ("a", "a" * 20) else ["example.com"]):
            address = f"{local}@{domain}"
            if len(address) <= 254 and re.fullmatch(PLAIN_EMAIL, address):
                checked += 1
                assert email.is_valid(address), address
    assert checked > 100


def test_generated_emails_take_the_fast_path() -> None:
    # Realistic addresses must fit the plain shape, or every event would take the slow path.
    found = 0
    for event in iter_events("firehose", seed=3, users=300, events=3000):
        for address in re.findall(rb'"email":"([^"]*)"', orjson.dumps(event)):
            found += 1
            assert re.fullmatch(PLAIN_EMAIL, address.decode()), address
    assert found > 1000


# --- the closed fast path's UUID and member-name rewrites ------------------------------------------

def _uuid_mutants() -> st.SearchStrategy[str]:
    near = st.uuids().map(str).flatmap(lambda text: st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 40), st.sampled_from("0123456789abcdefABCDEFg-{}: \n\u0660\uff10é")),
        max_size=3).map(lambda edits: _edit(text, edits)))
    return near | st.text(max_size=40)


def _edit(text: str, edits: list[tuple[int, int, str]]) -> str:
    chars = list(text)
    for op, at, char in edits:
        at = min(at, len(chars))
        if op == 0 and chars:
            chars[min(at, len(chars) - 1)] = char
        elif op == 1:
            chars.insert(at, char)
        elif op == 2 and chars:
            del chars[min(at, len(chars) - 1)]
        else:
            chars = chars[:at]
    return "".join(chars)


@settings(max_examples=3000, deadline=None)
@given(_uuid_mutants())
def test_the_closed_uuid_check_is_the_contracts_uuid(text: str) -> None:
    # The closed copies check a UUID as the uuid format and no capital A-F (about half the cost of
    # the contract's lower-case 8-4-4-4-12 pattern): both must take and refuse the same strings.
    contract = jsonschema_rs.validator_for({"$ref": f"{DEFINITIONS_ID}#/$defs/uuid"}, registry=rs_registry(),
                                           validate_formats=True)
    closed = jsonschema_rs.validator_for(closed_schema({"type": "string", "format": "uuid", "pattern": _UUID}),
                                         validate_formats=True)
    assert closed.is_valid(text) == contract.is_valid(text) == bool(re.fullmatch(_UUID, text, re.ASCII))


_UUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def test_the_closed_copies_use_the_cheaper_uuid_check() -> None:
    text = orjson.dumps(closed_schema(inlined_type("secret.used"))).decode()
    assert _UUID.replace("\\", "\\\\") not in text
    assert '"format":"uuid"' in text


def test_a_closed_object_keeps_the_secret_name_rule_only_where_a_name_could_break_it() -> None:
    names = {"not": {"pattern": SECRET_FIELD_PATTERN}}
    harmless = {"type": "object", "properties": {"id": {"type": "string"}}, "additionalProperties": False,
                "propertyNames": names}
    assert "propertyNames" not in closed_schema(harmless)
    secretive = {**harmless, "properties": {"api_key": {"type": "string"}}}
    assert closed_schema(secretive)["propertyNames"] == names
    event = example("secret.used")
    event["data"]["client_secret"] = "x"  # a secret-looking name the schema does not declare: still refused
    assert not Validator().fast_path("secret.used")(event)  # type: ignore[misc]
