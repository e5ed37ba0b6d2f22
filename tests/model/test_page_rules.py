"""The simulator never makes what the product page rules out (each rule over seeds, by Hypothesis).

The same rules are in the contract (schema or semantic, ``tests/validation/test_page_rules.py``
shows each one firing); here each is restated on the generated events directly, so a model
change that breaks one fails here even if the validator were wrong too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.model import generate

Event = dict[str, Any]
MOBILE = {"iOS", "iPadOS", "Android"}


def _used_enough_devices(events: list[Event]) -> Iterator[str]:
    for e in events:
        if e["type"] == "secret.used":
            data = e["data"]
            if len(set(data["device_ids"])) < data["shard_map"]["threshold"]:
                yield f"{e['id']}: {len(data['device_ids'])} devices < k={data['shard_map']['threshold']}"


def _group_share_names_its_group(events: list[Event]) -> Iterator[str]:
    for e in events:
        if e["type"] == "secret.share.began":
            data = e["data"]
            if (data["kind"] == "group") != (data["recipients"]["kind"] == "group" and "group" in data["recipients"]):
                yield f"{e['id']}: kind={data['kind']} recipients={data['recipients']['kind']}"


def _nobody_completes_their_own_share(events: list[Event]) -> Iterator[str]:
    for e in events:
        data = e["data"]
        if e["type"] in ("secret.share.completed", "pending_share.created", "pending_share.accepted"):
            if data["sender"]["id"] == data["recipient"]["id"]:
                yield f"{e['id']}: {e['type']} sender is recipient"
        elif e["type"] == "secret.multi_share.completed":
            sender = data["original_sender"]["id"]
            if sender in {u["id"] for u in [*data["accepted_by"], data["recipient"]]}:
                yield f"{e['id']}: the original sender accepted"


def _extensions_are_desktop_browsers(events: list[Event]) -> Iterator[str]:
    for e in events:
        if e["type"] == "device.registered":
            device = e["data"]["device"]
            if device["type"] == "browser_extension" and (
                    device["os"]["name"] in MOBILE or "serial_number" in device or "browser" not in device):
                yield f"{e['id']}: {device}"
            if device["type"] != "browser_extension" and ("serial_number" not in device or "browser" in device):
                yield f"{e['id']}: {device}"


def _offered_index_is_installed(events: list[Event]) -> Iterator[str]:
    for position, e in enumerate(events):
        if e["type"] not in ("pending_share.created", "pending_share.accepted", "pending_share.rejected"):
            continue
        shard = e["data"]["shard"]
        if shard["index"] > shard["total"]:
            yield f"{e['id']}: index {shard['index']} > total {shard['total']}"
        if e["type"] == "pending_share.accepted":
            installed = next((x for x in events[position:] if x["type"] == "installation_map.posted"), None)
            if installed is None:  # the stream stopped before the installation
                continue
            placed = [s["index"] for s in installed["data"]["shard_map"]["shards"]
                      if s["device_id"] == shard["device_id"]]
            if placed != [shard["index"]] or installed["data"]["shard_map"]["total"] != shard["total"]:
                yield f"{e['id']}: offered index {shard['index']}, installed {placed}"


RULES: dict[str, Callable[[list[Event]], Iterator[str]]] = {
    "secret-used-with-at-least-k-devices": _used_enough_devices,
    "group-share-names-its-group": _group_share_names_its_group,
    "no-share-completed-by-its-sender": _nobody_completes_their_own_share,
    "browser-extension-on-a-desktop-os": _extensions_are_desktop_browsers,
    "pending-index-within-the-map-and-installed": _offered_index_is_installed,
}


@pytest.mark.parametrize("rule", list(RULES))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=st.sampled_from(["tenant-day", "firehose", "group-share", "multi-user-share", "offboarding"]),
       seed=st.integers(0, 2**32 - 1), users=st.integers(3, 24), devices=st.integers(1, 4))
def test_the_simulator_never_breaks_the_rule(rule: str, scenario: str, seed: int, users: int, devices: int) -> None:
    events = list(generate(scenario, seed=seed, users=users, devices_per_user=devices, events=900))
    assert list(RULES[rule](events)) == []


def test_each_rule_has_something_to_judge() -> None:
    # A long tenant day makes every kind of event each rule looks at (so the properties are not vacuous).
    events = list(generate("tenant-day", seed=3, users=30, devices_per_user=2, events=6000))
    types = {e["type"] for e in events}
    assert {"secret.used", "secret.share.began", "secret.share.completed", "secret.multi_share.completed",
            "pending_share.accepted", "device.registered"} <= types
    assert any(e["data"]["kind"] == "group" for e in events if e["type"] == "secret.share.began")
    assert any(e["data"]["device"]["type"] == "browser_extension" for e in events if e["type"] == "device.registered")
