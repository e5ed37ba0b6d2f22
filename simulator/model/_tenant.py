"""The tenant model: all mutable state, and the actions that change it and emit events.

Every action checks that it makes sense (a secret is used only on devices that
hold its shards, a pending share is resolved once, a deleted user stops
appearing), changes the state, and emits the catalog events that the product
page describes, in causal order, stamped by the virtual clock.

>>> t = Tenant(seed=1, users=3)
>>> alice, bob = t.users[:2]
>>> secret = alice.create_secret("Prod Postgres")
>>> share = alice.share(secret, to=[bob])
>>> [e["type"] for e in bob.accept(share)][:2]
['pending_share.accepted', 'installation_map.posted']
"""

from __future__ import annotations

from bisect import bisect
from collections.abc import Iterator, Sequence
from typing import Any

from simulator.model._catalogs import (
    COMPUTERS,
    DEVICE_KINDS,
    GROUP_NAMES,
    IDP_PROVIDERS,
    PHONES,
    SECRET_TEMPLATES,
    TABLETS,
    serial_for,
)
from simulator.model._entities import Device, Group, ModelError, Secret, User
from simulator.model._sharing import SecretActions

__all__ = ["Tenant"]

JSON = dict[str, Any]
Event = dict[str, Any]

_WEEK_MS = 7 * 86_400_000
_APP_VERSIONS = ("4.11.3", "4.12.0", "4.12.1", "4.13.0")
_OKTA_ID = "0123456789abcdefghijklmnopqrstuvwxyz"


Weighted = tuple[tuple[str, ...], tuple[float, ...]]


def _weighted(table: Sequence[tuple[str, float]]) -> Weighted:
    total = sum(w for _, w in table)
    cumulative, running = [], 0.0
    for _, w in table:
        running += w / total
        cumulative.append(running)
    return tuple(name for name, _ in table), tuple(cumulative)


def _pick_weighted(table: Weighted, r: float) -> str:
    names, cumulative = table
    return names[min(bisect(cumulative, r), len(names) - 1)]


_PHONES = _weighted(PHONES)
_COMPUTERS = _weighted(COMPUTERS)
_TABLETS = _weighted(TABLETS)
_ANY_DEVICE = _weighted(COMPUTERS + PHONES)


class Tenant(SecretActions):
    """A Secret Chest tenant: users, devices, groups, secrets, shares, queues, IdP and SCIM.

    The constructor lays out the tenant as it stands before ``start`` (an owner, an IdP,
    ``users`` people with ``devices_per_user`` devices, ``groups`` teams, a few secrets
    each); the events of that history are replayed first by :meth:`drain`, dated in the
    week before ``start``. Actions return the events they emitted (creators return what
    they made; :attr:`last_events` holds the events of the latest action).

    >>> t = Tenant(seed=3, users=2)
    >>> len(t.users), t.users[0].roles
    (2, ('owner', 'admin'))
    """

    def pick(self, n: int = 1) -> list[User]:
        """``n`` different random active users who have a device (hires someone if too few).

        >>> alice, bob = Tenant(seed=1, users=3).pick(2)
        """
        self._finish_bootstrap()
        ready = [u for u in self._users.items() if u.devices]
        while len(ready) < n:
            ready.append(self.hire())
        return self.rng.sample(ready, n)

    def pick_secret(self, *, kind: str | Sequence[str] | None = None, held_by: User | None = None) -> Secret:
        """A random live secret (of a kind, held by a user); creates one if none fits."""
        self._finish_bootstrap()
        kinds = (kind,) if isinstance(kind, str) else tuple(kind or ())
        fits = [s for s in self._secrets.items()
                if (not kinds or s.kind in kinds) and (held_by is None or s.id in held_by.holdings)]
        if fits:
            return self.rng.choice(fits)
        owner = held_by or self.pick(1)[0]
        name = next((s.name for s in SECRET_TEMPLATES if not kinds or s.kind in kinds), None)
        return self.create_secret(owner, name)

    def pick_group(self, *, min_members: int = 2) -> Group:
        """A random group with at least ``min_members`` members (creates one if none)."""
        self._finish_bootstrap()
        fits = [g for g in self._groups.items() if len(g.members) >= min_members]
        return self.rng.choice(fits) if fits else self.create_group(members=self.pick(min_members))

    def snapshot(self) -> JSON:
        """What exists now, as ids and shard maps: the ``--snapshot`` a sequence checker needs to
        judge a stream that starts here (``chestsim generate --no-history --snapshot-out``).

        >>> snapshot = Tenant(seed=1, users=2).snapshot()
        >>> len(snapshot["users"]), len(snapshot["devices"])
        (2, 4)
        """
        self._finish_bootstrap()
        users = self._users.items()
        secrets = self._secrets.items()
        open_shares = list(dict.fromkeys(p.share for p in self._open.values()))
        return {
            "tenant_id": self.id,
            "at": self.clock.iso(),
            "users": [u.id for u in users],
            "devices": [d.id for u in users for d in u.devices],
            "groups": [g.id for g in self._groups.items()],
            "secrets": [{"id": s.id, "shard_map": s.shard_map.json} for s in secrets],
            "shard_maps": [s.shard_map.json for s in secrets],
            "installation_maps": [s.installation_map_id for s in secrets],
            "shares": [share.id for share in open_shares],
            "pending_shares": list(self._open),
            "messages": [share.message_id for share in open_shares],
        }

    def holders(self, secret: Secret) -> list[User]:
        """Users with a shard of ``secret`` on one of their devices (the owner first)."""
        return secret.shard_map.holders()

    # -- bootstrap: the tenant as it stands before start -------------------------------------

    def _bootstrap(self) -> Iterator[None]:
        for _ in self._bootstrap_steps():
            # Keep the history before start: if it runs late, squeeze what remains.
            if self.clock.now > self.clock.start - 3_600_000:
                self.clock._gap_mean_ms = 20.0
            yield

    def _bootstrap_steps(self) -> Iterator[None]:
        clock = self.clock
        start = clock.start
        spu = self.secrets_per_user
        expected = 2 + self.size * (1 + self.devices_per_user + 4 * spu) + self.group_count
        saved_gap = clock._gap_mean_ms
        clock.now = start - _WEEK_MS
        clock._gap_mean_ms = (4 * 86_400_000) / expected
        try:
            owner = self._new_user(source="admin", roles=("owner", "admin"), by={"kind": "system"})
            for dtype in self._device_plan():
                self._register(owner, dtype)
            yield
            self._configure_idp(owner)
            yield
            for i in range(1, self.size):
                user = self._new_user(
                    source=self.rng.choices(("scim", "admin", "jit"), (0.8, 0.1, 0.1))[0],
                    roles=self._roles_for(i), by=None)
                for dtype in self._device_plan():
                    self._register(user, dtype)
                yield
            for g in range(self.group_count):
                name, description = GROUP_NAMES[g % len(GROUP_NAMES)]
                if g >= len(GROUP_NAMES):
                    name = f"{name} {g // len(GROUP_NAMES) + 1}"
                self._create_group(name, description, source="scim", members=None, by=None)
                yield
            for user in self._users.items():
                count = int(spu) + (1 if self.rng.random() < spu - int(spu) else 0)
                for _ in range(count):
                    self._create_secret(user, None, None)
                yield
        finally:
            clock._gap_mean_ms = saved_gap
            clock.now = max(clock.now, start)

    def _roles_for(self, i: int) -> tuple[str, ...]:
        if i < 3 or self.rng.random() < 0.03:
            return ("admin",)
        r = self.rng.random()
        if r < 0.02:
            return ("auditor",)
        if r < 0.03:
            return ("billing",)
        return ("member",)

    def _device_plan(self) -> list[str]:
        """A user's devices: a phone, a computer, then a tablet, then more of either."""
        rand = self._random
        plan = [_pick_weighted(_PHONES, rand()), _pick_weighted(_COMPUTERS, rand())]
        while len(plan) < self.devices_per_user:
            plan.append(_pick_weighted(_TABLETS if len(plan) == 2 else _ANY_DEVICE, rand()))
        return plan[: self.devices_per_user]

    # -- users ----------------------------------------------------------------------------

    def _new_user(self, *, source: str, roles: tuple[str, ...], by: JSON | None) -> User:
        person = self.people.draw()
        now = self._tick(200, 4000)
        external = None
        if source in ("scim", "jit") and self._idp is not None:
            external = "00u" + self.ids.token(_OKTA_ID, 17)
        user = User(
            id=self.ids.uuid(), email=person.email, given_name=person.given_name,
            family_name=person.family_name, source=source, roles=roles, external_id=external,
            created_at=now, tenant=self, ref={})
        user.ref = {"id": user.id, "email": user.email, "display_name": user.display_name}
        self._users.add(user)
        iso = self._iso(now)
        if by is None:
            by = {"kind": "scim"} if source == "scim" else (
                {"kind": "system"} if source == "jit" else self._admin_actor())
        self._emit("user.created", {"user": user.as_json(iso, iso), "created_by": by}, iso)
        return user

    def hire(self, *, source: str = "admin", roles: Sequence[str] = ("member",),
             devices: int | None = None) -> User:
        """Add a user (``user.created``) and register their devices (``device.registered``)."""
        with self._action():
            user = self._new_user(source=source, roles=tuple(roles), by=None)
            for dtype in self._device_plan()[: self.devices_per_user if devices is None else devices]:
                self._register(user, dtype)
        return user

    def offboard(self, user: User, *, reason: str = "admin", by: User | None = None) -> list[Event]:
        """Remove a user: resolve their pending shares, delete their secrets, take their shards
        out of others' shard maps, drop them from groups, then ``user.deleted``."""
        with self._action() as box:
            self._offboard(user, reason=reason, by=by)
        return box

    def _offboard(self, user: User, *, reason: str, by: User | None) -> None:
        self._check_user(user)
        if len(self._users) == 1:
            raise ModelError(f"cannot offboard {user.email}: a tenant keeps at least one user")
        actor: JSON = {"kind": "scim"} if reason == "scim_prune" else (
            {"kind": "admin", "user": by.ref} if by else self._admin_actor())
        for pending in list(self._open.values()):
            if pending.recipient is user:
                self._resolve(pending, accept=False, reason="Recipient left the organisation")
            elif pending.share.sender is user:
                self._resolve(pending, accept=False, reason="Sender left the organisation")
        deleter = by if by is not None and by is not user else None
        for secret_id in sorted(user.holdings):
            secret = self._secret_by_id(secret_id)
            if secret.owner is user:
                self._delete_secret(secret, deleter or self._other_admin(user))
        for secret_id in sorted(user.holdings):
            secret = self._secret_by_id(secret_id)
            keep = [d for _, d in secret.shard_map.shards if d.owner is not user]
            removed = [(i, d) for i, d in secret.shard_map.shards if d.owner is user]
            self._user_shards(user, secret, removed, posted=False)
            self._install(secret, keep, min(secret.shard_map.threshold, len(keep)), share_id=None)
        for group in self._groups.items():
            if user in group.members:
                group.members.remove(user)
        self._users.remove(user)
        user.active = False
        self.people.release(user.email)
        now = self._tick(100, 2000)
        iso = self._iso(now)
        self._emit("user.deleted", {
            "user": user.as_json(self._iso(user.created_at), iso, status="deprovisioned"),
            "reason": reason, "deleted_by": actor, "deleted_at": iso}, iso)

    def _other_admin(self, leaver: User) -> User:
        for u in self._users.live():
            if u is not leaver and ("admin" in u.roles or "owner" in u.roles):
                return u
        for u in self._users.live():
            if u is not leaver:
                return u
        raise ModelError("no other user left to act")

    # -- devices --------------------------------------------------------------------------

    def register_device(self, user: User, *, type: str | None = None) -> Device:
        """Register a new device for ``user`` (``device.registered``)."""
        with self._action():
            self._check_user(user)
            if type is not None and type not in DEVICE_KINDS:
                raise ModelError(f"device type {type!r} is not one of {', '.join(DEVICE_KINDS)}")
            device = self._register(user, type or self._device_plan()[-1])
        return device

    def _register(self, user: User, dtype: str) -> Device:
        rng = self.rng
        kind = DEVICE_KINDS[dtype]
        model = rng.choice(kind.models)
        short = model.split(" (")[0]
        name = kind.name_pattern.format(
            first=user.given_name, model=model, model_short=short,
            FIRST=(user.email.split(".")[0][:8]).upper(), num=rng.randint(100, 999),
            first_lower=user.email.split(".")[0], model_tag=short.split()[0].lower())
        now = self._tick(1000, 60_000)
        device = Device(
            id=self.ids.uuid(), owner=user, type=dtype, model=model, name=name[:128],
            os_name=kind.os_name, os_version=rng.choice(kind.os_versions),
            serial_number=serial_for(kind, model, rng),
            bluetooth_available=rng.random() < kind.bluetooth,
            apns_enabled=rng.random() < kind.apns,
            entitlements=kind.entitlements if rng.random() < 0.97 else (),
            app_version=rng.choice(_APP_VERSIONS), registered_at=now, ref={})
        device.ref = {"id": device.id, "type": device.type, "name": device.name}
        user.devices.append(device)
        iso = self._iso(now)
        self._emit("device.registered", {"device": device.as_json(iso)}, iso)
        return device

    # -- groups ---------------------------------------------------------------------------

    def create_group(self, name: str | None = None, *, members: Sequence[User] | None = None,
                     description: str | None = None, source: str = "admin") -> Group:
        """Create a group with members (``group.created``)."""
        with self._action():
            if name is None:
                taken = {g.name for g in self._groups.items()}
                free = [g for g in GROUP_NAMES if g[0] not in taken]
                name, default_description = self.rng.choice(free) if free else (
                    f"Project {self.ids.token('ABCDEFGHJKLMNPQRSTUVWXYZ', 4)}", "Project team")
            else:
                default_description = dict(GROUP_NAMES).get(name, f"{name} team")
            group = self._create_group(name, description or default_description, source=source,
                                       members=members, by=None)
        return group

    def _create_group(self, name: str, description: str, *, source: str,
                      members: Sequence[User] | None, by: JSON | None) -> Group:
        if members is None:
            pool = self._users.live()
            size = min(len(pool), max(2, min(40, int(self.rng.expovariate(1 / 8)) + 2)))
            members = self.rng.sample(pool, size)
        for m in members:
            self._check_user(m)
        now = self._tick(500, 5000)
        group = Group(id=self.ids.uuid(), name=name, description=description, source=source,
                      members=list(members), created_at=now, ref={})
        group.ref = {"id": group.id, "name": group.name}
        self._groups.add(group)
        iso = self._iso(now)
        actor = by or ({"kind": "scim"} if source == "scim" else self._admin_actor())
        self._emit("group.created", {"group": group.as_json(iso), "created_by": actor}, iso)
        return group

    def delete_group(self, group: Group, *, by: User | None = None) -> list[Event]:
        """Delete a group (``group.deleted``, with its members at that moment)."""
        with self._action() as box:
            if not group.active:
                raise ModelError(f"group {group.name!r} was already deleted")
            self._groups.remove(group)
            group.active = False
            now = self._tick(500, 5000)
            iso = self._iso(now)
            actor = {"kind": "admin", "user": by.ref} if by else (
                {"kind": "scim"} if group.source == "scim" else self._admin_actor())
            self._emit("group.deleted", {"group": group.as_json(self._iso(group.created_at)),
                                         "deleted_by": actor, "deleted_at": iso}, iso)
        return box

    # -- identity: IdP and SCIM -----------------------------------------------------------

    def _configure_idp(self, by: User, provider: str | None = None) -> None:
        rng = self.rng
        provider = provider or rng.choices(list(IDP_PROVIDERS), (0.45, 0.3, 0.15, 0.05, 0.05))[0]
        protocol, sso, issuer = IDP_PROVIDERS[provider]
        fill = {"sub": self.people.slug, "app": "exk" + self.ids.token(_OKTA_ID, 17), "tid": self.ids.uuid()}
        now = self._tick(1000, 60_000)
        settings: JSON = {
            "provider": provider, "protocol": protocol, "sso_url": sso.format(**fill),
            "issuer": issuer.format(**fill), "scim_enabled": True,
            "scim_base_url": "https://api.secretchest.example/scim/v2", "jit_provisioning": True,
            "default_role": "member", "enforce_sso": rng.random() < 0.7,
            "certificate_expires_at": self._iso(now + 3 * 365 * 86_400_000),
        }
        previous = self._idp
        changed = [k for k in settings if previous is None or previous.get(k) != settings[k]]
        self._idp = settings
        iso = self._iso(now)
        self._emit("idp.settings_updated", {
            "settings": settings, "previous": previous, "changed_fields": changed or ["provider"],
            "changed_by": {"kind": "admin", "user": by.ref}, "updated_at": iso}, iso)

    def update_idp(self, *, by: User | None = None, **changes: Any) -> list[Event]:
        """Change IdP settings (``idp.settings_updated`` with the changed fields).

        With no ``changes``, rotates the signing certificate. ``provider="entra_id"``
        migrates to another IdP (new SSO URL and issuer).
        """
        with self._action() as box:
            admin = by or self.admin
            if self._idp is not None and changes.get("provider") == self._idp["provider"]:
                del changes["provider"]
            if self._idp is None or ("provider" in changes and changes["provider"] != self._idp["provider"]):
                self._configure_idp(admin, changes.pop("provider", None))
                if not changes:
                    return box
            assert self._idp is not None
            previous = self._idp
            settings = dict(previous)
            now = self._tick(1000, 30_000)
            if not changes:
                changes = {"certificate_expires_at": self._iso(now + 3 * 365 * 86_400_000)}
            unknown = set(changes) - {"scim_enabled", "jit_provisioning", "default_role", "enforce_sso",
                                      "certificate_expires_at", "sso_url", "issuer", "scim_base_url", "protocol"}
            if unknown:
                raise ModelError(f"unknown IdP setting(s): {', '.join(sorted(unknown))}")
            settings.update(changes)
            changed = [k for k in settings if previous.get(k) != settings[k]]
            if not changed:
                raise ModelError("update_idp() changed nothing: give a setting with a new value")
            self._idp = settings
            iso = self._iso(now)
            self._emit("idp.settings_updated", {
                "settings": settings, "previous": previous, "changed_fields": changed,
                "changed_by": {"kind": "admin", "user": admin.ref}, "updated_at": iso}, iso)
        return box

    def scim_sync(self, *, hires: int = 1, leavers: int = 0) -> list[Event]:
        """One SCIM run: create ``hires`` users, prune ``leavers``; then ``scim.updated``.

        A run that changes nobody sends nothing (the page: "if a user is created or pruned").
        """
        with self._action() as box:
            self._scim_sync(hires, leavers)
        return box

    def _scim_sync(self, hires: int, leavers: int) -> list[User]:
        """Run SCIM; return the users it created (they have no device yet)."""
        if hires <= 0 and leavers <= 0:
            return []
        started = self.clock.now
        created: list[JSON] = []
        pruned: list[JSON] = []
        hired: list[User] = []
        for _ in range(hires):
            hired.append(self._new_user(source="scim", roles=("member",), by={"kind": "scim"}))
            created.append(self._queue[-1]["data"]["user"])
        for user in self._scim_leavers(leavers, keep=hired):
            self._offboard(user, reason="scim_prune", by=None)
            pruned.append(self._queue[-1]["data"]["user"])
        if not created and not pruned:
            return hired
        now = self._tick(200, 3000)
        iso = self._iso(now)
        self._emit("scim.updated", {
            "run_id": self.ids.uuid(), "provider": self._idp["provider"] if self._idp else "scim",
            "users_created": created, "users_pruned": pruned,
            "unchanged_count": len(self._users) - len(created),
            "time": {"initiated_at": self._iso(started), "completed_at": iso}}, iso)
        return hired

    def _scim_leavers(self, n: int, *, keep: Sequence[User] = ()) -> list[User]:
        """Up to ``n`` random users the IdP provisioned (never the owner or admin-made users)."""
        roster, rng = self._users, self.rng
        chosen: list[User] = []
        if n <= 0 or len(roster) < 2:
            return chosen
        for _ in range(20 * n):
            user = roster[rng.randrange(len(roster))]
            if "owner" not in user.roles and user.source != "admin" and user not in chosen and user not in keep:
                chosen.append(user)
                if len(chosen) == n:
                    break
        return chosen

    # -- bulk -----------------------------------------------------------------------------

    def random_activity(self, actions: int = 100, *, think: float = 90.0) -> int:
        """``actions`` random actions that fit the current state (a business day's mix).

        Returns how many events they emitted; the events are in :meth:`drain` (not kept
        in :attr:`last_events`, so that long runs stay small).
        """
        from simulator.model._activity import random_activity

        self._finish_bootstrap()
        before = self.emitted
        random_activity(self, actions, think=think)
        return self.emitted - before

    def events_of(self, type_: str, n: int = 1) -> list[Event]:
        """``n`` events of one type (key or label), made by consistent actions.

        The other events those actions cause stay in the tenant's stream (:meth:`drain`).

        >>> t = Tenant(seed=2, users=4)
        >>> [e["type"] for e in t.events_of("Secret Used", n=2)]
        ['secret.used', 'secret.used']
        """
        from simulator.model._activity import events_of

        self._finish_bootstrap()
        return events_of(self, type_, n)

