"""The leak guard: secret material by field name or value shape, and no false positives."""

from __future__ import annotations

import base64
import json
import pathlib
import random
import re
import string
import uuid

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from validation_examples import example

from simulator import CATALOG
from simulator.validation import Validator, is_secret_field, leaks, looks_like_secret, validate
from simulator.validation._leakguard import _SHAPE_PATTERNS, PREFILTER_PATTERN
from simulator.validation._registry import compiled_type

# Material is assembled at run time so that no scanner mistakes this file for a leak.
JWT = ".".join(base64.urlsafe_b64encode(part).decode().rstrip("=") for part in
               (b'{"alg":"HS256","typ":"JWT"}', b'{"sub":"1234567890","name":"John"}', b"signature-bytes"))
PEM = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
RANDOM_TOKEN = "".join(random.Random(7).choices(string.ascii_letters + string.digits, k=32))

SHAPES = [
    pytest.param(PEM, "a PEM block", id="pem"),
    pytest.param("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", id="signing-secret"),
    pytest.param("Bearer " + "abcdef0123456789abcdef", "Bearer", id="bearer"),
    pytest.param("authorization: bearer " + "abcdef0123456789", "Bearer", id="bearer-lower-case"),
    pytest.param(JWT, "JWT", id="jwt"),
    pytest.param("AKIA" + "IOSFODNN7EXAMPLE", "AWS", id="aws-access-key"),
    pytest.param("ghp_" + "A" * 36, "GitHub", id="github-token"),
    pytest.param("github_pat_" + "11ABCDEFG0" * 4, "GitHub", id="github-fine-grained"),
    pytest.param("xoxb-" + "1234567890-abcdefghij", "Slack", id="slack"),
    pytest.param("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "Stripe", id="stripe"),
    pytest.param("AIza" + "SyA-1234567890abcdefghijklmnopqrstu", "Google", id="google-api-key"),
    pytest.param("https://admin:" + "s3cr3t@db.example.com/x", "URL with credentials", id="url-credentials"),
]


@pytest.mark.parametrize(("value", "what"), SHAPES)
def test_value_shapes_are_leaks_in_any_string_field(validator: Validator, value: str, what: str) -> None:
    assert what in (looks_like_secret(value) or "")
    event = example("backend_message.posted")
    event["data"]["message"]["action"] = value
    problems = validator.check(event)
    leaked = [p for p in problems if p.code == "leak"]
    assert [p.pointer for p in leaked] == ["/data/message/action"]
    assert all(value not in p.message for p in problems)


@pytest.mark.parametrize(
    "field",
    ["password", "db_password", "secret_value", "value", "plaintext", "private_key", "token", "scim_token",
     "api_key", "API_KEY", "client_secret", "access_token", "refresh_token", "mnemonic", "shard_content", "cvv"],
)
def test_secret_field_names_are_leaks(field: str) -> None:
    assert is_secret_field(field)
    event = example("user.created")
    event["data"]["user"][field] = "anything"
    assert [(p.code, p.pointer) for p in leaks(event)] == [("leak", f"/data/user/{field}")]


@pytest.mark.parametrize(
    "field",
    ["secret", "secret_id", "secrets", "kind", "token_expires_at", "key", "shard_map_id", "id", "name",
     "tokens_issued", "password_policy", "value_count", "pinned"],
)
def test_metadata_field_names_are_not_leaks(field: str) -> None:
    assert not is_secret_field(field)


def test_kind_api_key_is_metadata_not_a_leak(validator: Validator) -> None:
    event = example("secret.used")
    assert event["data"]["secret"]["kind"] == "api_key"
    assert validator.check(event) == []
    assert leaks(event) == []


def test_a_high_entropy_token_in_a_free_text_field_is_a_leak(validator: Validator) -> None:
    event = example("group.created")
    event["data"]["group"]["description"] = f"rotated {RANDOM_TOKEN} today"
    problems = validator.check(event)
    assert [(p.code, p.pointer) for p in problems] == [("leak", "/data/group/description")]
    assert "high-entropy" in problems[0].message


def test_the_same_token_in_a_structured_field_is_a_schema_matter_not_a_leak() -> None:
    event = example("device.registered")
    event["data"]["device"]["serial_number"] = "C02ZK1ABMD6T"
    assert leaks(event) == []


@pytest.mark.parametrize(
    "value",
    [
        str(uuid.UUID(int=0x0123456789ABCDEF0123456789ABCDEF)),
        "alice.nakamura@northwind-labs.com",
        "https://github.com/login?return_to=%2Fsettings%2Fsecurity",
        "https://accounts.google.com/signin/v2/identifier",
        "2026-11-28T09:14:03.120Z",
        "Platform Engineering on-call rotation",
        "AWS production root",
        "iPhone 16 Pro Max",
        "MacBookPro18,3",
        "scim_prune",
        "infrastructure_owners_and_platform_team",
        "evt_Tv2gm4Z7vV9ygAvdz1NN3MAJ",
    ],
)
def test_ordinary_values_are_not_leaks(value: str) -> None:
    assert looks_like_secret(value, free_text=True) is None


@pytest.mark.parametrize("event_type", CATALOG, ids=[t.key for t in CATALOG])
def test_no_false_positive_on_the_shipped_examples(event_type: object) -> None:
    for ex in event_type.examples:  # type: ignore[attr-defined]
        assert leaks(ex) == []


@settings(max_examples=150, deadline=None, print_blob=True)
@given(st.uuids(), st.emails(), st.sampled_from(["name", "description", "reason", "origin"]))
def test_uuids_and_emails_never_look_like_secrets(ident: uuid.UUID, email: str, field: str) -> None:
    assert looks_like_secret(str(ident), free_text=True) is None
    assert leaks({field: email, "id": str(ident)}) == []


@settings(max_examples=100, deadline=None, print_blob=True)
@given(st.binary(min_size=24, max_size=48))
def test_random_keys_in_free_text_are_caught(raw: bytes) -> None:
    token = base64.b64encode(raw).decode()
    # Degenerate draws (all zeros, no digit) do not look random, and are not meant to be caught.
    assume(len(set(token)) >= 16)
    assume(all(any(test(c) for c in token) for test in (str.isdigit, str.islower, str.isupper)))
    assert looks_like_secret(f"note {token}", free_text=True) is not None


@pytest.mark.parametrize("length", [200_000])
def test_long_unbroken_fields_stay_linear(length: int) -> None:
    # A quadratic pattern once stalled `chestsim listen` for minutes on one padded body.
    # No timing assertion: pytest-timeout (300 s) is the bound; the quadratic pattern took
    # ~46 s at 50 kB, so ~12 min here.
    value = "a1" * (length // 2)
    assert looks_like_secret(value, free_text=True) is None
    assert looks_like_secret("x://" * (length // 4)) is None
    assert looks_like_secret("see https://ops:hunter2@db.example.com/") == "a URL with credentials"


# --- the Rust prefilter of the closed fast path ------------------------------------------------------

@pytest.mark.parametrize(("value", "what"), SHAPES)
def test_value_shapes_are_leaks_in_structured_free_form_fields_too(validator: Validator, value: str,
                                                                   what: str) -> None:
    # external_id is free-form but not free text: its prefilter has no token pattern.
    event = example("user.created")
    event["data"]["user"]["external_id"] = value
    assert not compiled_type("user.created").closed.is_valid(event)
    assert [p.pointer for p in validator.check(event) if p.code == "leak"] == ["/data/user/external_id"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_SHAPE_PATTERNS).flatmap(lambda shape: st.from_regex(shape[0])))
def test_the_prefilter_matches_whatever_a_value_shape_matches(value: str) -> None:
    assume(looks_like_secret(value))
    assert re.search(PREFILTER_PATTERN, value)
    assume("\x00" not in value and len(value) <= 256)
    event = example("user.created")
    event["data"]["user"]["external_id"] = value
    assert not compiled_type("user.created").closed.is_valid(event)


def test_long_alphanumeric_ids_are_not_suspects() -> None:
    # Okta ids, serial numbers and APNs tokens in structured fields pass the prefilter.
    for value in ("00u14k8f9wxssihflddn", "C02ZK1ABMD6T", "a3f9" * 16, "Zm9vYmFyYmF6cXV4" * 4):
        assert not re.search(PREFILTER_PATTERN, value), value


# --- a leak in the JSON text, however the line writes it ---------------------------------------------

def _escaped(text: str, value: str) -> str:
    """``text`` (JSON) with the first letter of ``value`` written as a ``\\u`` escape where the value stands."""
    inner = json.dumps(value)[1:-1]
    return text.replace(inner, f"\\u{ord(value[0]):04x}{inner[1:]}", 1)


@pytest.mark.parametrize(("value", "what"), SHAPES)
@pytest.mark.parametrize(("key", "where"), [
    ("user.created", ("data", "user", "external_id")),  # free-form, not free text
    ("backend_message.posted", ("data", "message", "action")),  # free text
])
@pytest.mark.parametrize("written", ["compact", "spaced", "escaped"])
def test_a_shape_in_the_line_is_a_leak_whatever_way_the_line_is_written(
        tmp_path: pathlib.Path, value: str, what: str, key: str, where: tuple[str, ...], written: str) -> None:
    # Captures come from any JSON writer: compact (orjson), spaced (json.dumps), or with escapes that spell
    # a shape's letters (\u0077hsec_…). The line reader, the block checker and check_bytes all find it.
    event = example(key)
    node = event
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = value
    text = orjson.dumps(event).decode() if written == "compact" else json.dumps(event)
    if written == "escaped":
        text = _escaped(text, value)
    assert json.loads(text) == event
    pointer = "/" + "/".join(where)
    _, problems = Validator().check_bytes(text.encode())
    assert [p.pointer for p in problems if p.code == "leak"] == [pointer]
    path = tmp_path / "events.jsonl"
    path.write_text(f"{text}\n{orjson.dumps(example(key)).decode()}\n")
    report = validate(path)
    assert (report.valid, report.invalid) == (1, 1)
    assert [e.problem.pointer for e in report.entries if e.problem.code == "leak"] == [pointer]
