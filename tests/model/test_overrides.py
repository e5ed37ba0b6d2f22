from __future__ import annotations

import pytest

from simulator._exceptions import UnknownEventType, UsageError
from simulator.model import Tenant
from simulator.model._overrides import apply_overrides, parse_override


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ('secret.used:data.purpose="copy"', ("data", "purpose"), "copy"),
        ("secret.used:data.purpose=copy", ("data", "purpose"), "copy"),
        ('user.created:data.user.roles=["admin"]', ("data", "user", "roles"), ["admin"]),
        ("Secret Used:data.shard_map.threshold=3", ("data", "shard_map", "threshold"), 3),
        ('secret.used:data.device_ids.0="0f0f0f0f-0000-4000-8000-000000000000"', ("data", "device_ids", "0"),
         "0f0f0f0f-0000-4000-8000-000000000000"),
        ("idp.settings_updated:data.previous=null", ("data", "previous"), None),
        ('installation_map.posted:data.share_id=null', ("data", "share_id"), None),
    ],
    ids=["json-string", "bare-string", "list", "label-and-int", "array-index", "null", "ref-only-data"],
)
def test_parse_valid_overrides(text: str, path: tuple[str, ...], value: object) -> None:
    override = parse_override(text)
    assert override.path == path
    assert override.value == value
    assert override.schema_problem is None


@pytest.mark.parametrize(
    ("text", "exc", "message"),
    [
        ("secret.usd:data.purpose=1", UnknownEventType, "did you mean 'secret.used'"),
        ("secret.used:data.nope=1", UsageError, "has no field 'nope' in data"),
        ("secret.used:purpose=1", UsageError, "paths start at the envelope"),
        ("secret.used:data.purpose.deeper=1", UsageError, "not an object"),
        ("secret.used:data.purpose", UsageError, "must look like TYPE:PATH=VALUE"),
        ("data.purpose=1", UsageError, "must look like TYPE:PATH=VALUE"),
        ("secret.used:data..purpose=1", UsageError, "empty part"),
    ],
    ids=["unknown-type", "unknown-field", "no-data-prefix", "scalar-has-no-fields", "no-value", "no-type",
         "empty-segment"],
)
def test_bad_overrides_are_usage_errors(text: str, exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        parse_override(text)


def test_a_value_the_schema_refuses_is_allowed_but_reported() -> None:
    override = parse_override("secret.used:data.purpose=teleport")
    assert override.schema_problem is not None
    assert "is not one of" in override.schema_problem


def test_apply_copies_on_write_and_leaves_the_model_alone() -> None:
    t = Tenant(seed=1, users=2)
    event = t.events_of("secret.used", n=1)[0]
    user_ref = event["data"]["used_by"]
    changed = apply_overrides(event, [parse_override('secret.used:data.used_by.email="qa@example.com"'),
                                      parse_override("secret.used:data.shard_map.shards.0.index=7")])
    assert changed["data"]["used_by"]["email"] == "qa@example.com"
    assert changed["data"]["shard_map"]["shards"][0]["index"] == 7
    assert user_ref["email"] != "qa@example.com"
    assert event["data"]["shard_map"]["shards"][0]["index"] == 1
    assert t.users[0].ref["email"] != "qa@example.com"


def test_apply_creates_missing_optional_objects() -> None:
    event = {"type": "secret.used", "data": {}}
    changed = apply_overrides(event, [parse_override('secret.used:data.time.expires_at="2030-01-01T00:00:00.000Z"')])
    assert changed["data"]["time"] == {"expires_at": "2030-01-01T00:00:00.000Z"}
    assert event["data"] == {}
