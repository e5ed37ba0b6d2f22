from __future__ import annotations

import re
from collections import Counter

import pytest

from simulator.model import ModelError, Tenant
from tests.model._checks import problems


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


@pytest.fixture
def tenant() -> Tenant:
    return Tenant(seed=11, users=5, devices_per_user=2)


def test_history_is_replayed_first_and_dated_before_start() -> None:
    t = Tenant(seed=1, users=4, start="2026-11-28T08:00Z")
    history = list(t.drain())
    assert history[0]["type"] == "user.created"
    assert history[0]["data"]["user"]["roles"] == ["owner", "admin"]
    assert {"user.created", "device.registered", "idp.settings_updated", "secret.created"} <= set(types(history))
    assert all(e["timestamp"] < "2026-11-28T08:00:00.000Z" for e in history)
    assert Counter(types(history))["user.created"] == 4
    assert Counter(types(history))["device.registered"] == 8
    assert problems(history) == []


def test_standard_share_emits_the_causal_chain(tenant: Tenant) -> None:
    alice, bob = tenant.users[:2]
    secret = alice.create_secret("Prod Postgres")
    share = alice.share(secret, to=[bob])
    assert types(tenant.last_events) == ["secret.share.began", "backend_message.posted", "pending_share.created"]
    accepted = bob.accept(share)
    assert types(accepted) == [
        "pending_share.accepted", "installation_map.posted", "installation_map.deleted",
        "user_shards.posted", "user_shards.deleted", "secret.share.completed", "backend_message.archived",
    ]
    # Bob's device now holds a shard, and he can deshard the secret.
    assert bob.devices[0] in [d for _, d in secret.shard_map.shards]
    used = bob.use(secret)[0]["data"]
    map_devices = {s["device_id"] for s in used["shard_map"]["shards"]}
    assert set(used["device_ids"]) <= map_devices
    assert len(used["device_ids"]) == used["shard_map"]["threshold"]
    assert problems(tenant.drain()) == []


def test_a_pending_share_is_resolved_once(tenant: Tenant) -> None:
    alice, bob = tenant.users[:2]
    share = alice.share(alice.create_secret(), to=[bob])
    bob.reject(share, reason="Not expecting this share")
    with pytest.raises(ModelError, match="already rejected"):
        tenant.accept(share.pending[0])
    with pytest.raises(ModelError, match="no open pending share"):
        bob.accept(share)


def test_secrets_are_used_only_by_holders(tenant: Tenant) -> None:
    alice, bob = tenant.users[:2]
    secret = alice.create_secret()
    with pytest.raises(ModelError, match="holds no shard"):
        bob.use(secret)
    alice.share(secret, to=[bob])
    with pytest.raises(ModelError, match="still in progress"):
        alice.share(secret, to=[bob])
    tenant.respond(tenant.open_pending[0].share, accept=1.0)
    with pytest.raises(ModelError, match="already hold or were offered"):
        alice.share(secret, to=[bob])


def test_deleted_secret_stops_appearing(tenant: Tenant) -> None:
    alice = tenant.users[0]
    secret = alice.create_secret()
    events = alice.delete(secret)
    assert types(events) == ["installation_map.deleted", "secret.deleted"]
    with pytest.raises(ModelError, match="was deleted"):
        alice.use(secret)
    assert secret not in tenant.secrets


def test_offboarding_cleans_up_then_the_user_never_appears_again(tenant: Tenant) -> None:
    alice, bob = tenant.users[:2]
    shared = alice.create_secret()
    bob.accept(alice.share(shared, to=[bob]))
    alice.share(alice.create_secret(), to=[bob])  # left pending
    owned = bob.create_secret()
    events = tenant.offboard(bob)
    kinds = types(events)
    assert kinds[-1] == "user.deleted"
    assert "pending_share.rejected" in kinds
    assert "secret.deleted" in kinds
    assert "user_shards.deleted" in kinds
    assert events[-1]["data"]["user"]["status"] == "deprovisioned"
    assert not owned.active
    assert bob not in tenant.users
    assert all(d.owner is not bob for _, d in shared.shard_map.shards)
    with pytest.raises(ModelError, match="not an active user"):
        bob.use(shared)
    # Whatever happens next never mentions Bob.
    list(tenant.drain())
    tenant.random_activity(300)
    later = list(tenant.drain())
    assert later
    assert bob.id not in "".join(str(e) for e in later)


def test_group_share_offers_a_shard_to_each_member(tenant: Tenant) -> None:
    alice = tenant.users[0]
    group = tenant.create_group("Platform Engineering", members=tenant.users[:4])
    share = alice.share(alice.create_secret("PagerDuty integration key"), to=group)
    began = next(e for e in tenant.last_events if e["type"] == "secret.share.began")["data"]
    assert began["kind"] == "group"
    assert began["recipients"]["group"]["name"] == "Platform Engineering"
    # Everyone but the sender, offered one at a time: each offer names the slot the shard takes.
    assert len(share.pending) == 1
    assert len(share.waiting) == 2
    tenant.respond(share, accept=1.0)
    assert len(share.accepted) == 3
    events = list(tenant.drain())
    offered = [e["data"]["shard"]["index"] for e in events if e["type"] == "pending_share.created"]
    total = secret_total = len(alice.devices)
    assert offered[-3:] == [total + 1, total + 2, total + 3]
    assert share.secret.shard_map.total == secret_total + 3
    assert problems(events) == []


def test_multi_peer_share_completes_once_per_acceptance_with_who_accepted_so_far(tenant: Tenant) -> None:
    alice, bob, carol, dave = tenant.users[:4]
    secret = alice.create_secret("AWS production root")
    share = alice.multi_share(secret, to=[bob, carol, dave], threshold=2)
    with tenant.record() as events:
        bob.accept(share)
        carol.accept(share)
        dave.reject(share)
    completed = [e["data"] for e in events if e["type"] == "secret.multi_share.completed"]
    assert [[u["email"] for u in c["accepted_by"]] for c in completed] == [[bob.email], [bob.email, carol.email]]
    assert [c["recipient"]["email"] for c in completed] == [bob.email, carol.email]
    assert all([u["email"] for u in c["recipients"]] == [bob.email, carol.email, dave.email] for c in completed)
    # Each completion follows its recipient's pending_share.accepted; a rejection completes nothing.
    kinds = types(events)
    assert kinds.index("pending_share.accepted") < kinds.index("secret.multi_share.completed")
    assert kinds[-2:] == ["pending_share.rejected", "backend_message.archived"]
    assert secret.shard_map.threshold >= 2
    assert problems(tenant.drain()) == []


def test_autofill_reports_when_clear_text_was_available_never_the_text(tenant: Tenant) -> None:
    alice = tenant.users[0]
    secret = alice.create_secret("GitHub passkey")
    used, retrieved = alice.autofill(secret)
    assert used["data"]["purpose"] == "passkey"
    data = retrieved["data"]
    assert data["origin"] == "https://github.com"
    assert data["device"]["id"] in used["data"]["device_ids"]
    assert data["time"]["initiated_at"] <= data["time"]["completed_at"]


def test_scim_sync_summarises_the_run(tenant: Tenant) -> None:
    events = tenant.scim_sync(hires=2, leavers=1)
    summary = events[-1]
    assert summary["type"] == "scim.updated"
    assert len(summary["data"]["users_created"]) == 2
    assert len(summary["data"]["users_pruned"]) == 1
    assert tenant.scim_sync(hires=0, leavers=0) == []


def test_idp_changes_name_their_fields(tenant: Tenant) -> None:
    rotated = tenant.update_idp()[0]["data"]
    assert rotated["changed_fields"] == ["certificate_expires_at"]
    other = "okta" if tenant.idp and tenant.idp["provider"] != "okta" else "entra_id"
    migrated = tenant.update_idp(provider=other)[0]["data"]
    assert migrated["settings"]["provider"] == other
    assert "provider" in migrated["changed_fields"]
    with pytest.raises(ModelError, match="unknown IdP setting"):
        tenant.update_idp(client_secret="x")


@pytest.mark.parametrize("key", ["secret.used", "pending_share.rejected", "secret.multi_share.completed",
                                 "group.deleted", "scim.updated", "user.deleted", "Secret Created"])
def test_events_of_makes_events_of_one_type_consistently(key: str) -> None:
    t = Tenant(seed=3, users=4)
    made = t.events_of(key, n=3)
    assert len(made) == 3
    assert len({e["type"] for e in made}) == 1
    assert problems(t.drain()) == []


def test_entities_look_real() -> None:
    t = Tenant(seed=8, users=30, devices_per_user=3)
    domain = t.domain
    for user in t.users:
        assert re.fullmatch(rf"[a-z0-9]+\.[a-z0-9]+\d*@{re.escape(domain)}", user.email), user.email
    os_by_type = {"iphone": "iOS", "ipad": "iPadOS", "mac": "macOS", "android_phone": "Android",
                  "android_tablet": "Android", "windows_pc": "Windows", "linux_pc": "Linux"}
    for user in t.users:
        assert len(user.devices) == 3
        for device in user.devices:
            if device.type == "browser_extension":
                assert device.serial_number is None
                assert device.browser is not None
                assert device.os_name in ("macOS", "Windows", "Linux")
                continue
            assert device.os_name == os_by_type[device.type]
            if device.type == "iphone":
                assert device.model.startswith("iPhone")
                # The default start is November 2026: iOS 26 (the OS compatibility is tested in test_devices.py).
                assert device.os_version.split(".")[0] in ("18", "26")
                assert re.fullmatch(r"[A-Z0-9]{10}|[A-Z0-9]{12}", device.serial_number or "")
            if device.type == "windows_pc":
                assert device.os_version.startswith("11 ")
    names = {s.name for s in t.secrets}
    assert names
    assert all(len(n) > 3 for n in names)


@pytest.mark.parametrize("locale", ["de_DE", "ru_RU", "ja_JP"])
def test_locale_changes_names_but_emails_stay_ascii_and_match(locale: str) -> None:
    from faker.decode import unidecode

    t = Tenant(seed=1, users=10, locale=locale)
    assert all(u.email.isascii() for u in t.users)
    assert any(not u.display_name.isascii() for u in t.users) or locale == "de_DE"
    if locale == "ru_RU":
        for u in t.users:
            assert u.email.startswith(unidecode(u.given_name).lower().replace(" ", "").replace("'", ""))


def test_unknown_locale_suggests() -> None:
    with pytest.raises(ValueError, match="not a Faker locale"):
        Tenant(seed=1, users=2, locale="xx_YY")


def test_a_tenant_needs_a_user() -> None:
    with pytest.raises(ModelError, match="users=0"):
        Tenant(users=0)


def test_repr_says_how_to_rebuild() -> None:
    assert repr(Tenant(seed=4, users=3)).startswith("Tenant(seed=4, users=3,")
