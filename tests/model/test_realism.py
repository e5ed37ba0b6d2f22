"""Realism: devices that exist on the day they are registered, k-of-n maps from policies, and a
replayed week that keeps office hours where each person works."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.model import Tenant, generate
from simulator.model._clock import OfficeHours, parse_instant
from simulator.model._hardware import MOBILE_OS, MODELS, device_spec, os_releases
from simulator.model._vault import GROUP_POLICIES, TENANT_POLICIES
from tests.model._checks import problems

_TRACK_OF = {m.name: m for models in MODELS.values() for m in models}


def _ms(iso: str) -> int:
    return parse_instant(iso)


@settings(max_examples=60, deadline=None)
@given(type_=st.sampled_from([*MODELS, "browser_extension"]),
       day=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 6, 30)),
       seed=st.integers(0, 2**32 - 1))
def test_a_device_is_a_model_out_that_day_running_an_os_it_supports(type_: str, day: datetime, seed: int) -> None:
    now = int(day.replace(tzinfo=UTC).timestamp() * 1000)
    spec = device_spec(type_, now, random.Random(seed))
    if type_ == "browser_extension":
        assert spec.serial_number is None
        assert spec.browser is not None
        assert spec.os_name not in MOBILE_OS
        if spec.browser[0] == "Safari":
            assert spec.os_name == "macOS"
        return
    assert spec.serial_number
    assert spec.browser is None
    model = _TRACK_OF[spec.model]
    assert model.type == type_
    releases = os_releases(model.track)
    release = next(r for r in releases if r.version == spec.os_version)
    majors = list(dict.fromkeys(r.major for r in releases))
    if model.released <= now:
        # Out by then, running a release out by then, within what the model supports.
        assert release.released <= now
        assert majors.index(release.major) >= majors.index(model.first_os) if model.first_os in majors else True
        if model.last_os is not None:
            assert majors.index(release.major) <= majors.index(model.last_os)


@pytest.mark.parametrize(
    ("day", "expected_major"),
    [("2024-06-01T12:00Z", "17"), ("2025-03-01T12:00Z", "18"), ("2026-11-30T08:00Z", "26")],
    ids=["mid-2024-ios17", "early-2025-ios18", "late-2026-ios26"],
)
def test_os_versions_age_with_the_clock(day: str, expected_major: str) -> None:
    rng = random.Random(1)
    majors = Counter(device_spec("iphone", _ms(day), rng).os_version.split(".")[0] for _ in range(300))
    assert majors.most_common(1)[0][0] == expected_major
    # Nobody runs an OS that did not exist yet.
    assert all(int(m) <= int(expected_major) for m in majors)


def test_old_models_stop_at_their_last_os_and_new_ones_start_at_their_first() -> None:
    rng = random.Random(2)
    seen: dict[str, set[str]] = {}
    for _ in range(3000):
        spec = device_spec("iphone", _ms("2026-11-30T08:00Z"), rng)
        seen.setdefault(spec.model, set()).add(spec.os_version.split(".")[0])
    assert seen.get("iPhone XS", {"18"}) <= {"17", "18"}  # no iOS 26 for an A12 iPhone
    assert seen["iPhone 17 Pro"] == {"26"}
    assert "iPhone 16 Pro" in seen
    assert not any(name.startswith("iPhone XS") for name in _models_out_by("2018-01-01T00:00Z"))


def _models_out_by(day: str) -> list[str]:
    return [m.name for m in MODELS["iphone"] if m.released <= _ms(day)]


def test_tenants_draw_different_policies_and_maps_are_not_all_two_of_two() -> None:
    shapes: Counter[tuple[int, int]] = Counter()
    policies = set()
    for seed in range(12):
        t = Tenant(seed=seed, users=12)
        policies.add(t.vault.policy)
        for secret in t.secrets:
            shapes[(secret.shard_map.threshold, secret.shard_map.total)] += 1
    assert policies <= set(TENANT_POLICIES)
    assert len(policies) >= 2
    assert sum(n for (k, total), n in shapes.items() if (k, total) != (2, 2)) > sum(shapes.values()) / 2
    assert any(total >= 4 for _, total in shapes)


def test_a_group_policy_places_shards_on_the_groups_members() -> None:
    t = Tenant(seed=4, users=10, devices_per_user=2)
    security = t.create_group("Security", members=t.users[:6])
    owner = security.members[1]
    assert t.vault.policy_for(owner) >= GROUP_POLICIES["Security"]
    secret = t.vault.create(owner, "Root CA recovery codes", None)
    k, n = GROUP_POLICIES["Security"]
    assert (secret.shard_map.threshold, secret.shard_map.total) == (k, n)
    holders = secret.holders
    assert holders[0] is owner
    assert all(u in security.members for u in holders)
    assert all(secret.id in u.holdings for u in holders)


def test_devices_that_leave_change_later_maps() -> None:
    t = Tenant(seed=4, users=10, devices_per_user=2)
    security = t.create_group("Security", members=t.users[:6])
    owner = security.members[1]
    secret = t.vault.create(owner, "Root CA recovery codes", None)
    peer = next(u for u in secret.holders if u is not owner)
    before = secret.shard_map.total
    t.offboard(peer)
    assert secret.shard_map.total == before - 1
    assert secret.shard_map.threshold <= secret.shard_map.total
    assert [i for i, _ in secret.shard_map.shards] == list(range(1, before))


@pytest.mark.parametrize("seed", [0, 1, 2, 4, 6, 7])
def test_the_replayed_week_keeps_office_hours_where_each_person_works(seed: int) -> None:
    t = Tenant(seed=seed, users=30)
    history = list(t.drain())
    zones = {u.id: u.time_zone for u in t.users}
    hours = OfficeHours(open_h=8, close_h=18)
    judged = 0
    for event in history:
        data = event["data"]
        if event["type"] not in ("user.created", "device.registered", "secret.created"):
            continue
        # Who acted: the person who joined, registered a device, or created a secret.
        owner = (data.get("device") or data.get("secret") or {}).get("owner") or data.get("user")
        if not owner or owner["id"] not in zones:
            continue
        judged += 1
        at = _ms(event["timestamp"])
        assert hours.is_open(at, zones[owner["id"]]), (event["type"], event["timestamp"], zones[owner["id"]])
    assert judged > 100
    # The weekend before start is quiet, and nothing is dated after start.
    assert all(event["timestamp"] < "2026-11-30T08:00:00.000Z" for event in history)
    assert not [e for e in history if datetime.fromisoformat(e["timestamp"][:10]).weekday() >= 5
                and all(datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).astimezone(ZoneInfo(z))
                        .weekday() >= 5 for z in t.directory.offices)]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), users=st.integers(2, 60),
       locale=st.sampled_from(["en_US", "de_DE", "ja_JP", "fr_FR", "en_GB"]))
def test_every_user_works_from_an_office_of_the_tenant(seed: int, users: int, locale: str) -> None:
    t = Tenant(seed=seed, users=users, locale=locale)
    assert {u.time_zone for u in t.users} <= set(t.directory.offices)
    stream = list(generate("tenant-day", seed=seed, users=users, locale=locale, events=400))
    assert [e["timestamp"] for e in stream] == sorted(e["timestamp"] for e in stream)


def test_a_device_that_joins_grows_its_owners_maps_up_to_the_policy() -> None:
    t = Tenant(seed=4, users=6, devices_per_user=1)
    owner = t.users[1]
    k, n = t.vault.policy_for(owner)
    secret = t.create_secret(owner, "Prod Postgres")  # on the owner's one device
    assert secret.shard_map.total == 1
    device = t.register_device(owner, type="mac")
    kinds = [e["type"] for e in t.last_events]
    assert kinds[:3] == ["device.registered", "installation_map.posted", "installation_map.deleted"]
    assert secret.shard_map.total == min(2, n)
    assert device in [d for _, d in secret.shard_map.shards]
    assert secret.shard_map.threshold == max(1, min(k, 2))


def _secret_with_a_peer(t: Tenant) -> tuple[Any, Any, Any]:
    security = t.create_group("Security", members=t.users[:6])
    owner = security.members[1]
    secret = t.vault.create(owner, "Root CA recovery codes", None)
    peer = next(u for u in secret.holders if u is not owner)
    return owner, secret, peer


def test_an_offer_made_stale_by_a_leaving_holder_is_refused_not_installed_at_another_index() -> None:
    t = Tenant(seed=4, users=10, devices_per_user=2)
    owner, secret, peer = _secret_with_a_peer(t)
    outsider = next(u for u in t.users if secret.id not in u.holdings and u.devices)
    pending = t.share(owner, secret, to=[outsider]).pending[0]
    assert pending.index == secret.shard_map.total + 1
    t.offboard(peer)  # the map shrinks: the slot offered no longer follows it
    events = t.accept(pending)
    assert events[0]["type"] == "pending_share.rejected"
    assert "changed" in events[0]["data"]["reason"]
    assert outsider not in secret.holders
    assert problems(t.drain()) == []


def test_a_sender_who_leaves_mid_share_offers_nothing_more() -> None:
    t = Tenant(seed=4, users=10, devices_per_user=2)
    sender = t.users[1]
    secret = t.create_secret(sender, "Prod Postgres")
    others = [u for u in t.users if u is not sender and u.devices and "owner" not in u.roles][:3]
    share = t.share(sender, secret, to=others)
    assert len(share.pending) == 1
    t.offboard(sender)
    assert len(share.pending) == 1  # the first offer was refused; nobody else was asked
    assert share.pending[0].status == "rejected"
    assert not share.open
    assert problems(t.drain()) == []
