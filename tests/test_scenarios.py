"""The shipped scenarios: each runs and is valid; together they emit all 24 event types."""

from __future__ import annotations

from collections import Counter

import pytest

from simulator._catalog import CATALOG
from simulator.model import generate, list_scenarios
from tests.model._checks import problems

NAMES = [s.name for s in list_scenarios()]
REQUIRED = {"onboarding", "scim-sync", "share-lifecycle", "group-share", "multi-user-share", "desharding",
            "autofill", "offboarding", "idp-change", "tenant-day", "firehose"}


def test_the_required_scenarios_ship() -> None:
    assert set(NAMES) >= REQUIRED


@pytest.fixture(scope="module")
def streams() -> dict[str, list[dict]]:
    return {name: list(generate(name, seed=21, users=8, events=2500)) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_each_scenario_is_valid_and_consistent(name: str, streams: dict[str, list[dict]]) -> None:
    assert problems(streams[name]) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("share-lifecycle", {"secret.share.began", "pending_share.accepted", "pending_share.rejected",
                             "secret.share.completed", "backend_message.archived"}),
        ("group-share", {"secret.share.began", "pending_share.created"}),
        ("multi-user-share", {"secret.multi_share.began", "secret.multi_share.completed"}),
        ("desharding", {"secret.used"}),
        ("autofill", {"secret.temp_stored.retrieved"}),
        ("offboarding", {"user.deleted", "user_shards.deleted", "installation_map.deleted", "secret.deleted"}),
        ("idp-change", {"idp.settings_updated"}),
        ("scim-sync", {"scim.updated", "user.created"}),
        ("onboarding", {"device.registered", "group.created"}),
    ],
)
def test_each_scenario_emits_what_it_is_about(name: str, expected: set[str],
                                              streams: dict[str, list[dict]]) -> None:
    assert expected <= {e["type"] for e in streams[name]}


def test_together_the_scenarios_emit_all_24_types(streams: dict[str, list[dict]]) -> None:
    seen = Counter(e["type"] for stream in streams.values() for e in stream)
    missing = [t.key for t in CATALOG if t.key not in seen]
    assert missing == []


def test_tenant_day_alone_reaches_every_type_in_a_day() -> None:
    seen = {e["type"] for e in generate("tenant-day", seed=5, users=25, duration="10h")}
    assert len(seen) >= 22
