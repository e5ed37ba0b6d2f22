"""The event catalog: 24 types, lookup by key or label, Select all, did-you-mean."""

from __future__ import annotations

import pytest

from simulator import CATALOG, EventType, UnknownEventType, UsageError, expand_event_types, lookup
from simulator._catalog import SELECT_ALL


def test_the_catalog_has_the_24_types_of_the_design_table_once_each() -> None:
    assert len(CATALOG) == 24
    assert len({t.key for t in CATALOG}) == 24
    assert len({t.label.lower() for t in CATALOG}) == 24
    assert all(t.description for t in CATALOG)


@pytest.mark.parametrize("event_type", CATALOG, ids=[t.key for t in CATALOG])
def test_each_type_is_found_by_key_and_by_label(event_type: EventType) -> None:
    assert lookup(event_type.key) is event_type
    assert lookup(event_type.label) is event_type


@pytest.mark.parametrize(
    ("name", "key"),
    [
        pytest.param("Secret Used", "secret.used", id="label"),
        pytest.param("secret used", "secret.used", id="label-lower-case"),
        pytest.param("  SECRET   USED ", "secret.used", id="label-upper-case-extra-spaces"),
        pytest.param("SECRET.USED", "secret.used", id="key-upper-case"),
        pytest.param("user shards(post)", "user_shards.posted", id="label-with-parentheses"),
        pytest.param("UserShards(DELETE)", "user_shards.deleted", id="label-without-spaces"),
        pytest.param("Get And Delete Temporarily Stored Secret", "secret.temp_stored.retrieved",
                     id="long-label"),
        pytest.param("IdP settings updated", "idp.settings_updated", id="idp-label"),
        pytest.param("Post Meta Data Of Personal Device", "device.registered", id="device-label"),
    ],
)
def test_lookup_is_case_and_space_insensitive(name: str, key: str) -> None:
    assert lookup(name).key == key


@pytest.mark.parametrize("name", ["Select all", "select ALL", "all", "*", " All "])
def test_select_all_expands_to_every_type_in_catalog_order(name: str) -> None:
    assert expand_event_types([name]) == CATALOG
    assert expand_event_types(name) == CATALOG


def test_select_all_names() -> None:
    assert {"select all", "all", "*"} == SELECT_ALL


def test_expand_keeps_catalog_order_and_drops_duplicates() -> None:
    chosen = expand_event_types(["user.created", "Secret Used, secret.used", "IdP settings updated"])
    assert [t.key for t in chosen] == ["idp.settings_updated", "secret.used", "user.created"]


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        pytest.param("secret.usd", "secret.used", id="typo-in-key"),
        pytest.param("user.create", "user.created", id="missing-letter"),
        pytest.param("Secret Usd", "secret.used", id="typo-in-label"),
        pytest.param("group.delete", "group.deleted", id="group"),
        pytest.param("pending_share.accept", "pending_share.accepted", id="pending-share"),
    ],
)
def test_unknown_names_fail_with_did_you_mean(name: str, suggestion: str) -> None:
    with pytest.raises(UnknownEventType) as info:
        lookup(name)
    assert f"did you mean {suggestion!r}" in str(info.value)
    assert info.value.suggestions[0] == suggestion
    assert info.value.name == name
    assert isinstance(info.value, UsageError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name", ["", "zzzzzz", "webhook", "42"], ids=["empty", "noise", "word", "number"])
def test_names_without_a_close_match_fail_without_a_suggestion(name: str) -> None:
    with pytest.raises(UnknownEventType, match="chestsim events list") as info:
        lookup(name)
    assert "did you mean" not in str(info.value)


def test_an_unknown_name_inside_a_list_fails_the_expansion() -> None:
    with pytest.raises(UnknownEventType, match=r"did you mean 'user\.deleted'"):
        expand_event_types(["secret.used", "user.delted"])


def test_each_type_carries_its_schema_and_examples() -> None:
    for t in CATALOG:
        assert t.schema["$id"] == t.schema_id
        assert t.schema_path.is_file()
        assert all(example["type"] == t.key for example in t.examples)
        assert repr(t) == f"lookup({t.key!r})"
