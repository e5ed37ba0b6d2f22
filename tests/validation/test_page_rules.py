"""What the product page rules out, caught by ``chestsim validate``: one hand-made event per rule.

Rules JSON Schema can state live in the schemas (and so in both validators and in the closed
fast path); the others are semantic rules, where the general and the after-schema paths agree.
The simulator never breaks them: ``tests/model/test_page_rules.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from validation_examples import example

from simulator.validation import Validator, check_semantic
from simulator.validation._registry import compiled, reference_validator
from simulator.validation._semantic import check_schema_valid

Mutation = Callable[[dict[str, Any]], None]


def _used_on_too_few_devices(event: dict[str, Any]) -> None:
    data = event["data"]
    data["device_ids"] = data["device_ids"][: data["shard_map"]["threshold"] - 1]


def _completed_by_sender(event: dict[str, Any]) -> None:
    event["data"]["recipient"] = dict(event["data"]["sender"])


def _multi_completed_by_sender(event: dict[str, Any]) -> None:
    event["data"]["accepted_by"].append(dict(event["data"]["original_sender"]))


def _offered_to_sender(event: dict[str, Any]) -> None:
    event["data"]["recipient"] = dict(event["data"]["sender"])


def _index_past_total(event: dict[str, Any]) -> None:
    event["data"]["shard"]["index"] = event["data"]["shard"]["total"] + 1


SEMANTIC = [
    pytest.param("secret.used", _used_on_too_few_devices, "/data/device_ids", id="used-with-fewer-devices-than-k"),
    pytest.param("secret.share.completed", _completed_by_sender, "/data/recipient/id", id="completed-by-its-sender"),
    pytest.param("secret.multi_share.completed", _multi_completed_by_sender, "/data/accepted_by/1/id",
                 id="multi-share-accepted-by-its-sender"),
    pytest.param("pending_share.created", _offered_to_sender, "/data/recipient/id", id="offered-to-its-sender"),
    pytest.param("pending_share.created", _index_past_total, "/data/shard/index", id="pending-index-past-total"),
    pytest.param("pending_share.accepted", _index_past_total, "/data/shard/index", id="accepted-index-past-total"),
]


@pytest.mark.parametrize(("key", "mutate", "pointer"), SEMANTIC)
def test_semantic_rule_fires(key: str, mutate: Mutation, pointer: str) -> None:
    event = example(key)
    assert Validator().check(event) == []
    mutate(event)
    problems = Validator().check(event)
    assert [(p.code, p.pointer) for p in problems] == [("semantic", pointer)]
    assert "chestsim" not in problems[0].message  # the message explains the rule, not the tool
    # The schema cannot say it; the fast path after the closed schema says what the general rules say.
    assert compiled()[1][key].closed.is_valid(event)
    assert check_schema_valid(event) == check_semantic(event) == problems


def _extension(event: dict[str, Any]) -> dict[str, Any]:
    device = event["data"]["device"]
    device["type"] = "browser_extension"
    device["model"] = "Chrome extension"
    device["os"] = {"name": "macOS", "version": "26.1"}
    device.pop("serial_number", None)
    device["browser"] = {"name": "Chrome", "version": "142.0.7444.176"}
    return device


def _extension_on_a_phone(event: dict[str, Any]) -> None:
    _extension(event)["os"] = {"name": "iOS", "version": "26.1"}


def _extension_with_a_serial(event: dict[str, Any]) -> None:
    _extension(event)["serial_number"] = "C02XL0GHJGH5"


def _extension_without_its_browser(event: dict[str, Any]) -> None:
    del _extension(event)["browser"]


def _phone_without_a_serial(event: dict[str, Any]) -> None:
    del event["data"]["device"]["serial_number"]


def _phone_with_a_browser(event: dict[str, Any]) -> None:
    event["data"]["device"]["browser"] = {"name": "Safari", "version": "26.1"}


def _group_share_without_group(event: dict[str, Any]) -> None:
    del event["data"]["recipients"]["group"]


def _group_share_to_users(event: dict[str, Any]) -> None:
    event["data"]["recipients"] = {"kind": "users", "users": event["data"]["recipients"]["users"]}


def _standard_share_to_a_group(event: dict[str, Any]) -> None:
    event["data"]["kind"] = "standard"


SCHEMA = [
    pytest.param("device.registered", _extension_on_a_phone, id="browser-extension-on-a-mobile-os"),
    pytest.param("device.registered", _extension_with_a_serial, id="browser-extension-with-a-serial"),
    pytest.param("device.registered", _extension_without_its_browser, id="browser-extension-without-browser"),
    pytest.param("device.registered", _phone_without_a_serial, id="hardware-device-without-serial"),
    pytest.param("device.registered", _phone_with_a_browser, id="hardware-device-with-a-browser"),
    pytest.param("secret.share.began", _group_share_without_group, id="group-share-with-no-group"),
    pytest.param("secret.share.began", _group_share_to_users, id="group-share-to-users"),
    pytest.param("secret.share.began", _standard_share_to_a_group, id="standard-share-to-a-group"),
]


@pytest.mark.parametrize(("key", "mutate"), SCHEMA)
def test_schema_rule_fires_in_every_validator(key: str, mutate: Mutation) -> None:
    event = example(key)
    mutate(event)
    problems = Validator().check(event)
    assert any(p.code == "schema" and p.is_error for p in problems), problems
    assert not compiled()[1][key].contract.is_valid(event)
    assert not compiled()[1][key].closed.is_valid(event)  # the fast path refuses it too
    assert not reference_validator(key).is_valid(event)


def test_a_browser_extension_on_a_desktop_is_valid() -> None:
    event = example("device.registered")
    _extension(event)
    assert Validator(strict=True).check(event) == []
    for host in ("Windows", "Linux"):
        event["data"]["device"]["os"] = {"name": host, "version": "11 25H2 (26200.7171)"}
        assert Validator(strict=True).check(event) == []
