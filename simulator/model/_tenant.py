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

import random
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
from simulator.model._clock import DEFAULT_START, VirtualClock, parse_instant
from simulator.model._entities import (
    Device,
    Group,
    ModelError,
    PendingShare,
    Roster,
    Secret,
    ShardMap,
    Share,
    User,
)
from simulator.model._ids import Ids
from simulator.model._people import DEFAULT_LOCALE, PersonPool

__all__ = ["Tenant"]

JSON = dict[str, Any]
Event = dict[str, Any]

_WEEK_MS = 7 * 86_400_000
_APP_VERSIONS = ("4.11.3", "4.12.0", "4.12.1", "4.13.0")
_OKTA_ID = "0123456789abcdefghijklmnopqrstuvwxyz"
_PURPOSES = {
    "password": ("autofill", "autofill", "copy", "view"),
    "passkey": ("passkey",),
    "api_key": ("api", "copy", "api"),
    "ssh_key": ("ssh_agent",),
    "certificate": ("api", "view"),
    "secure_note": ("view",),
    "totp": ("copy", "autofill"),
    "credit_card": ("autofill", "view"),
    "database_credential": ("copy", "api"),
}
_REJECT_REASONS = ("Not expecting this share", "Already have access", "Wrong recipient", None, None)


class Tenant:
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

    def __init__(
        self,
        *,
        seed: int = 0,
        users: int = 10,
        groups: int | None = None,
        devices_per_user: int = 2,
        secrets_per_user: float = 1.5,
        locale: str = DEFAULT_LOCALE,
        start: str | int = DEFAULT_START,
        rate: float | None = None,
    ) -> None:
        if users < 1:
            raise ModelError(f"users={users!r} must be at least 1 (a tenant has an owner)")
        if devices_per_user < 1:
            raise ModelError(f"devices_per_user={devices_per_user!r} must be at least 1")
        self.seed = seed
        self.locale = locale
        self.size = users
        self.group_count = min(len(GROUP_NAMES), max(1, users // 6)) if groups is None else groups
        self.devices_per_user = devices_per_user
        self.secrets_per_user = secrets_per_user
        start_ms = start if isinstance(start, int) else parse_instant(start)
        self.rate = rate
        self.clock = VirtualClock(start_ms, rate=rate, seed=seed)
        self.rng = random.Random(f"model:{seed}")
        self.ids = Ids(seed=seed)
        self.people = PersonPool(seed=seed, locale=locale, size_hint=users)
        self.id = self.ids.uuid()
        self.name = self.people.company
        self.domain = self.people.domain

        self._users: Roster[User] = Roster()
        self._groups: Roster[Group] = Roster()
        self._secrets: Roster[Secret] = Roster()
        self._open: dict[str, PendingShare] = {}
        self._secret_index: dict[str, Secret] = {}
        self._admin_cache: User | None = None
        self._idp: JSON | None = None
        self._queue: deque[Event] = deque()
        self._capture: list[list[Event]] = []
        self.last_events: list[Event] = []
        self.emitted = 0
        self._iso = self.clock.formatter
        self._random = self.rng.random
        self._event_id = self.ids.event_id
        self._boot: Iterator[None] | None = self._bootstrap()

    def __repr__(self) -> str:
        return (f"Tenant(seed={self.seed!r}, users={self.size!r}, groups={self.group_count!r}, "
                f"devices_per_user={self.devices_per_user!r}, locale={self.locale!r}, "
                f"start={self.clock.iso(self.clock.start)!r}, rate={self.rate!r})")

    # -- state, read-only views ------------------------------------------------------------

    @property
    def users(self) -> list[User]:
        """Active users, oldest first by roster order."""
        self._finish_bootstrap()
        return self._users.items()

    @property
    def groups(self) -> list[Group]:
        self._finish_bootstrap()
        return self._groups.items()

    @property
    def secrets(self) -> list[Secret]:
        self._finish_bootstrap()
        return self._secrets.items()

    @property
    def open_pending(self) -> list[PendingShare]:
        """Pending shares not yet accepted or rejected, oldest first."""
        return list(self._open.values())

    @property
    def admin(self) -> User:
        """An active administrator (the owner if still there)."""
        self._finish_bootstrap()
        return self._find_admin()

    def _find_admin(self) -> User:
        cached = self._admin_cache
        if cached is not None and cached.active and ("admin" in cached.roles or "owner" in cached.roles):
            return cached
        for user in self._users.live():
            if "admin" in user.roles or "owner" in user.roles:
                self._admin_cache = user
                return user
        # Everyone with admin rights left: promote the longest-standing member.
        user = self._users[0]
        user.roles = ("admin", *user.roles)
        self._admin_cache = user
        return user

    @property
    def idp(self) -> JSON | None:
        return self._idp

    def user(self, email_or_index: str | int) -> User:
        """A user by email (or local part) or by position."""
        users = self.users
        if isinstance(email_or_index, int):
            return users[email_or_index]
        for u in users:
            if u.email == email_or_index or u.email.split("@")[0] == email_or_index:
                return u
        raise ModelError(f"no active user {email_or_index!r}")

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

    def holders(self, secret: Secret) -> list[User]:
        """Users with a shard of ``secret`` on one of their devices (the owner first)."""
        return secret.shard_map.holders()

    # -- events ----------------------------------------------------------------------------

    def drain(self) -> Iterator[Event]:
        """Yield and forget queued events: the tenant's history first, then actions' events."""
        queue = self._queue
        while True:
            while queue:
                yield queue.popleft()
            if self._boot is None:
                return
            if next(self._boot, StopIteration) is StopIteration:
                self._boot = None

    @contextmanager
    def record(self) -> Iterator[list[Event]]:
        """Collect every event emitted inside the block.

        >>> t = Tenant(seed=1, users=2)
        >>> with t.record() as events:
        ...     _ = t.users[0].create_secret("Prod Postgres")
        >>> events[0]["type"]
        'secret.created'
        """
        self._finish_bootstrap()
        box: list[Event] = []
        self._capture.append(box)
        try:
            yield box
        finally:
            self._capture.pop()

    def _emit(self, type_: str, data: JSON, iso: str) -> Event:
        event = {"id": self._event_id(), "type": type_, "timestamp": iso, "tenant_id": self.id, "data": data}
        self._queue.append(event)
        self.emitted += 1
        if self._capture:
            for box in self._capture:
                box.append(event)
        return event

    def _tick(self, low_ms: float, high_ms: float) -> int:
        clock = self.clock
        return clock.tick(clock.latency(low_ms, high_ms) if not clock.rate else 0)

    @contextmanager
    def _action(self) -> Iterator[list[Event]]:
        self._finish_bootstrap()
        box: list[Event] = []
        self._capture.append(box)
        try:
            yield box
        finally:
            self._capture.pop()
            self.last_events = box

    def wait(self, duration: str | float) -> None:
        """Let time pass (``t.wait("2h")``); applies under any pacing."""
        from simulator._units import parse_duration

        self.clock.sleep(parse_duration(duration, option="wait"))

    def think(self, mean_s: float = 90.0) -> None:
        """Idle time between two actions, following business hours (none under ``--rate``)."""
        self.clock.think(mean_s)

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

    def _finish_bootstrap(self) -> None:
        if self._boot is not None:
            for _ in self._boot:
                pass
            self._boot = None

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
        rng = self.rng
        plan = [rng.choices([t for t, _ in PHONES], [w for _, w in PHONES])[0],
                rng.choices([t for t, _ in COMPUTERS], [w for _, w in COMPUTERS])[0]]
        while len(plan) < self.devices_per_user:
            pool = TABLETS if len(plan) == 2 else COMPUTERS + PHONES
            plan.append(rng.choices([t for t, _ in pool], [w for _, w in pool])[0])
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

    def _admin_actor(self) -> JSON:
        admin = self._find_admin() if len(self._users) else None
        return {"kind": "admin", "user": admin.ref} if admin else {"kind": "system"}

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

    def _check_user(self, user: User) -> None:
        if not user.active or user.tenant is not self:
            raise ModelError(f"{user.email} is not an active user of this tenant")

    def _secret_by_id(self, secret_id: str) -> Secret:
        return self._secret_index[secret_id]

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
            first_lower=user.email.split(".")[0], model_tag=short.split()[-1].lower())
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

    # -- secrets --------------------------------------------------------------------------

    def create_secret(self, owner: User, name: str | None = None, *, kind: str | None = None) -> Secret:
        """Create a secret sharded k-of-n across the owner's devices.

        Emits ``secret.created``, ``installation_map.posted``, ``user_shards.posted`` and,
        once the devices fetched their shards, ``user_shards.deleted``.
        """
        with self._action():
            self._check_user(owner)
            secret = self._create_secret(owner, name, kind)
        return secret

    def _create_secret(self, owner: User, name: str | None, kind: str | None) -> Secret:
        rng = self.rng
        template = None
        if name is None:
            template = rng.choice(SECRET_TEMPLATES)
            name = template.name
        else:
            template = next((s for s in SECRET_TEMPLATES if s.name == name), None)
        kind = kind or (template.kind if template else "password")
        devices = owner.devices
        if not devices:
            raise ModelError(f"{owner.email} has no device to hold shards; register one first")
        n = len(devices)
        k = 1 if n == 1 else (2 if n <= 3 else n // 2 + 1)
        secret_id = self.ids.uuid()
        now = self._tick(300, 8000)
        iso = self._iso(now)
        shards = tuple((i + 1, d) for i, d in enumerate(devices))
        shard_map = self._shard_map(secret_id, k, shards, iso)
        folder = template.folder if template else "Personal"
        tags = template.tags if template else ()
        secret = Secret(
            id=secret_id, name=name, kind=kind, owner=owner, folder=folder, tags=tags,
            origin=template.origin if template else f"https://{self.domain}",
            created_at=now, shard_map=shard_map, installation_map_id=self.ids.uuid(), ref={})
        secret.ref = {"id": secret.id, "name": secret.name, "kind": secret.kind}
        self._secrets.add(secret)
        self._secret_index[secret.id] = secret
        owner.holdings.add(secret.id)
        doc: JSON = {"id": secret.id, "name": name, "kind": kind, "owner": owner.ref, "folder": folder}
        if tags:
            doc["tags"] = list(tags)
        doc["created_at"] = iso
        self._emit("secret.created", {"secret": doc, "shard_map": shard_map.json}, iso)
        posted = self._tick(50, 600)
        piso = self._iso(posted)
        self._emit("installation_map.posted", {
            "installation_map_id": secret.installation_map_id, "secret": secret.ref,
            "shard_map": shard_map.json, "share_id": None,
            "time": {"initiated_at": iso, "completed_at": piso}}, piso)
        self._user_shards(owner, secret, list(shards), posted=True)
        return secret

    def _shard_map(self, secret_id: str, k: int, shards: tuple[tuple[int, Device], ...], iso: str) -> ShardMap:
        map_id = self.ids.uuid()
        doc = {
            "id": map_id, "secret_id": secret_id, "threshold": k, "total": len(shards),
            "shards": [{"index": i, "device_id": d.id, "user_id": d.owner.id} for i, d in shards],
            "created_at": iso,
        }
        return ShardMap(id=map_id, secret_id=secret_id, threshold=k, shards=shards, json=doc)

    def _user_shards(self, user: User, secret: Secret, shards: list[tuple[int, Device]], *, posted: bool) -> None:
        """Shards queued for a user's devices (posted then, once fetched, deleted), or removed."""
        start = self.clock.now
        entries = [{"shard_id": self.ids.uuid(), "index": i, "device_id": d.id, "secret_id": secret.id,
                    "shard_map_id": secret.shard_map.id} for i, d in shards]
        siso = self._iso(start)
        if posted:
            now = self._tick(20, 400)
            iso = self._iso(now)
            self._emit("user_shards.posted", {"user": user.ref, "queue": "shards", "shards": entries,
                                              "time": {"initiated_at": siso, "completed_at": iso}}, iso)
            fetched = self._tick(200, 5000)
            fiso = self._iso(fetched)
            self._emit("user_shards.deleted", {"user": user.ref, "queue": "shards", "shards": entries,
                                               "time": {"initiated_at": iso, "completed_at": fiso}}, fiso)
        else:
            now = self._tick(20, 400)
            iso = self._iso(now)
            self._emit("user_shards.deleted", {"user": user.ref, "queue": "shards", "shards": entries,
                                               "time": {"initiated_at": siso, "completed_at": iso}}, iso)

    def _install(self, secret: Secret, devices: Sequence[Device], k: int, *,
                 share_id: str | None) -> None:
        """Replace a secret's shard map: post the new installation map, delete the old one.

        Shards are numbered 1..n in the new map (one shard per device).
        """
        shards = tuple(enumerate(devices, 1))
        old_map, old_install = secret.shard_map, secret.installation_map_id
        started = self._iso(self.clock.now)
        now = self._tick(50, 800)
        iso = self._iso(now)
        new_map = self._shard_map(secret.id, max(1, k), shards, iso)
        secret.shard_map = new_map
        secret.installation_map_id = self.ids.uuid()
        self._emit("installation_map.posted", {
            "installation_map_id": secret.installation_map_id, "secret": secret.ref,
            "shard_map": new_map.json, "share_id": share_id,
            "time": {"initiated_at": started, "completed_at": iso}}, iso)
        done = self._tick(20, 300)
        diso = self._iso(done)
        self._emit("installation_map.deleted", {
            "installation_map_id": old_install, "secret": secret.ref, "shard_map": old_map.json,
            "share_id": share_id, "time": {"initiated_at": iso, "completed_at": diso}}, diso)
        old_holders = {d.owner for _, d in old_map.shards}
        new_holders = {d.owner for _, d in shards}
        for u in old_holders - new_holders:
            u.holdings.discard(secret.id)
        for u in new_holders:
            u.holdings.add(secret.id)

    def _check_secret(self, secret: Secret) -> None:
        if not secret.active:
            raise ModelError(f"secret {secret.name!r} ({secret.id}) was deleted")

    def use(self, user: User, secret: Secret, *, purpose: str | None = None) -> list[Event]:
        """Deshard ``secret`` on k devices of its shard map, the user's own first (``secret.used``)."""
        with self._action() as box:
            self._use(user, secret, purpose)
        return box

    def _use(self, user: User, secret: Secret, purpose: str | None) -> list[str]:
        if not secret.active:
            self._check_secret(secret)
        if not user.active:
            self._check_user(user)
        shard_map = secret.shard_map
        if secret.id not in user.holdings:
            raise ModelError(f"{user.email} holds no shard of {secret.name!r}; share it with them first")
        k = shard_map.threshold
        chosen = shard_map.chosen.get(user.id)
        if chosen is None:
            chosen = [d.id for _, d in shard_map.shards if d.owner is user][:k]
            if len(chosen) < k:
                # Too few of the user's own devices: peers' devices take part (a different set each time).
                others = [d.id for _, d in shard_map.shards if d.owner is not user]
                chosen += self.rng.sample(others, k - len(chosen))
            else:
                shard_map.chosen[user.id] = chosen
        iso = self._iso
        started = iso(self.clock.now)
        now = self._tick(150, 1500)
        done = iso(now)
        if purpose is None:
            purposes = _PURPOSES[secret.kind]
            purpose = purposes[int(self._random() * len(purposes))]
        self._emit("secret.used", {
            "secret": secret.ref, "used_by": user.ref, "device_ids": chosen, "shard_map": shard_map.json,
            "time": {"initiated_at": started, "completed_at": done}, "purpose": purpose}, done)
        return chosen

    def autofill(self, user: User, secret: Secret, *, origin: str | None = None) -> list[Event]:
        """Deshard and autofill a form or present a passkey: ``secret.used`` then
        ``secret.temp_stored.retrieved`` (when the clear text was available, never the text)."""
        with self._action() as box:
            purpose = "passkey" if secret.kind == "passkey" else "autofill"
            chosen = self._use(user, secret, purpose)
            self._temp_stored(user, secret, chosen, purpose, origin)
        return box

    def _temp_stored(self, user: User, secret: Secret, chosen: list[str], purpose: str, origin: str | None) -> None:
        device = next((d for d in user.devices if d.id in chosen), None) or next(
            d for _, d in secret.shard_map.shards if d.owner is user)
        available = self.clock.now
        now = self._tick(30, 2500)
        iso = self._iso(now)
        self._emit("secret.temp_stored.retrieved", {
            "secret": secret.ref, "user": user.ref, "device": device.ref, "purpose": purpose,
            "origin": origin or secret.origin,
            "time": {"initiated_at": self._iso(available), "completed_at": iso}}, iso)

    def delete_secret(self, secret: Secret, *, by: User | None = None) -> list[Event]:
        """Delete a secret (``secret.deleted``, then ``installation_map.deleted``)."""
        with self._action() as box:
            self._check_secret(secret)
            self._delete_secret(secret, by or secret.owner)
        return box

    def _delete_secret(self, secret: Secret, by: User) -> None:
        for pending in list(self._open.values()):
            if pending.share.secret is secret:
                self._resolve(pending, accept=False, reason="Secret was deleted")
        shard_map = secret.shard_map
        # The backend removes the installation map first; the deletion completes after it.
        started = self.clock.now
        removed = self._tick(50, 800)
        riso = self._iso(removed)
        self._emit("installation_map.deleted", {
            "installation_map_id": secret.installation_map_id, "secret": secret.ref, "shard_map": shard_map.json,
            "share_id": None, "time": {"initiated_at": self._iso(started), "completed_at": riso}}, riso)
        now = self._tick(100, 2000)
        iso = self._iso(now)
        self._emit("secret.deleted", {
            "secret": secret.ref, "deleted_by": by.ref,
            "device_ids": list(dict.fromkeys(d.id for _, d in shard_map.shards)),
            "shard_map": shard_map.json, "time": {"initiated_at": self._iso(started), "completed_at": iso}}, iso)
        for _, d in shard_map.shards:
            d.owner.holdings.discard(secret.id)
        secret.active = False
        self._secrets.remove(secret)
        del self._secret_index[secret.id]

    # -- shares ---------------------------------------------------------------------------

    def share(self, sender: User, secret: Secret, *, to: Sequence[User] | Group) -> Share:
        """Start a standard share (to users) or a group share (to a group's members).

        Emits ``secret.share.began``, ``backend_message.posted`` and one
        ``pending_share.created`` per recipient; recipients then accept or reject.
        """
        with self._action():
            group = to if isinstance(to, Group) else None
            if group is not None and not group.active:
                raise ModelError(f"group {group.name!r} was deleted")
            users = list(group.members if group is not None else to)
            share = self._begin(sender, secret, users, group=group, threshold=0)
        return share

    def multi_share(self, sender: User, secret: Secret, *, to: Sequence[User], threshold: int = 2) -> Share:
        """Start a multi-peer share: one shard per peer; ``threshold`` peers are needed to deshard."""
        with self._action():
            share = self._begin(sender, secret, list(to), group=None, threshold=max(1, threshold))
        return share

    def eligible_recipients(self, secret: Secret, candidates: Sequence[User]) -> list[User]:
        """Who among ``candidates`` can receive a shard of ``secret`` (active, has a device,
        not already holding or being offered one)."""
        # Everyone in a share of this secret that is still open (pending, or accepted but not yet
        # installed, as in a multi-peer share waiting for its other peers).
        offered = {u.id for p in self._open.values() if p.share.secret is secret for u in p.share.recipients}
        return [u for u in candidates if u.active and u.devices and secret.id not in u.holdings
                and u.id not in offered]

    def _begin(self, sender: User, secret: Secret, users: list[User], *, group: Group | None,
               threshold: int) -> Share:
        self._check_user(sender)
        self._check_secret(secret)
        if secret.id not in sender.holdings:
            raise ModelError(f"{sender.email} holds no shard of {secret.name!r} and cannot share it")
        candidates = [u for u in users if u is not sender]
        recipients = self.eligible_recipients(secret, candidates)
        if group is None and len(recipients) != len(candidates):
            bad = [u.email for u in candidates if u not in recipients]
            raise ModelError(f"cannot share {secret.name!r} with {', '.join(bad)}: they already hold or "
                             "were offered a shard, have no device, or left")
        if not recipients:
            raise ModelError(f"nobody in {group.name if group else 'the recipients'!r} can receive "
                             f"a shard of {secret.name!r}")
        multi = threshold > 0
        kind = "multi_peer" if multi else ("group" if group is not None else "standard")
        now = self._tick(200, 3000)
        iso = self._iso(now)
        expires = self._iso(now + _WEEK_MS)
        share_id = self.ids.uuid()
        message: JSON = {"id": self.ids.uuid(), "queue": "shares", "object": {"type": "share", "id": share_id},
                         "action": "deliver_shard"}
        share = Share(id=share_id, kind=kind, secret=secret, sender=sender, recipients=recipients, group=group,
                      threshold=threshold, began_at=now, message_id=message["id"], message=message)
        refs = [u.ref for u in recipients]
        if multi:
            self._emit("secret.multi_share.began", {
                "share_id": share_id, "secret": secret.ref, "sender": sender.ref, "recipients": refs,
                "threshold": min(threshold, secret.shard_map.total + len(recipients)),
                "shard_map_id": secret.shard_map.id,
                "time": {"initiated_at": iso, "expires_at": expires}}, iso)
        else:
            recip: JSON = {"kind": "group", "group": group.ref, "users": refs} if group is not None else {
                "kind": "users", "users": refs}
            self._emit("secret.share.began", {
                "share_id": share_id, "secret": secret.ref, "kind": kind, "sender": sender.ref,
                "recipients": recip, "shard_map_id": secret.shard_map.id,
                "time": {"initiated_at": iso, "expires_at": expires}}, iso)
        posted = self._tick(20, 300)
        piso = self._iso(posted)
        self._emit("backend_message.posted", {"message": message, "time": {
            "initiated_at": piso, "expires_at": self._iso(posted + _WEEK_MS)}}, piso)
        share.posted_at = posted
        for position, user in enumerate(recipients, 1):
            # The slot offered: after the current shards, in recipient order.
            index = secret.shard_map.total + position
            device = user.devices[0]
            at = self._tick(10, 200)
            pending = PendingShare(id=self.ids.uuid(), share=share, recipient=user, index=index,
                                   device=device, created_at=at)
            share.pending.append(pending)
            self._open[pending.id] = pending
            aiso = self._iso(at)
            self._emit("pending_share.created", self._pending_json(pending, "pending", {
                "initiated_at": aiso, "expires_at": self._iso(at + _WEEK_MS)}), aiso)
        secret.open_shares += 1
        return share

    def _pending_json(self, pending: PendingShare, status: str, time: JSON) -> JSON:
        share = pending.share
        return {
            "pending_share_id": pending.id, "share_id": share.id, "share_kind": share.kind,
            "secret": share.secret.ref, "shard_map_id": share.secret.shard_map.id,
            "shard": {"index": pending.index, "device_id": pending.device.id},
            "sender": share.sender.ref, "recipient": pending.recipient.ref, "status": status, "time": time,
        }

    def accept(self, pending: PendingShare) -> list[Event]:
        """The recipient accepts the shard offered (``pending_share.accepted`` and what follows)."""
        with self._action() as box:
            self._resolve(pending, accept=True, reason=None)
        return box

    def reject(self, pending: PendingShare, *, reason: str | None = None) -> list[Event]:
        """The recipient turns the shard down (``pending_share.rejected``)."""
        with self._action() as box:
            self._resolve(pending, accept=False, reason=reason)
        return box

    def respond(self, share: Share, *, accept: float = 0.85) -> list[Event]:
        """Every open recipient of ``share`` answers, accepting with probability ``accept``."""
        with self._action() as box:
            for pending in list(share.pending):
                if pending.status == "pending":
                    self.clock.think(600)
                    self._resolve(pending, accept=self.rng.random() < accept, reason=None)
        return box

    def _resolve(self, pending: PendingShare, *, accept: bool, reason: str | None) -> None:
        if pending.status != "pending":
            raise ModelError(f"pending share {pending.id} was already {pending.status}")
        share, secret, user = pending.share, pending.share.secret, pending.recipient
        del self._open[pending.id]
        now = self._tick(2000, 120_000)
        iso = self._iso(now)
        time = {"initiated_at": self._iso(pending.created_at), "completed_at": iso}
        if accept and secret.active and user.active:
            pending.status = "accepted"
            share.accepted.append(user)
            self._emit("pending_share.accepted", self._pending_json(pending, "accepted", time), iso)
            if share.kind != "multi_peer":
                devices = [*(d for _, d in secret.shard_map.shards), pending.device]
                self._install(secret, devices, secret.shard_map.threshold, share_id=share.id)
                self._user_shards(user, secret, [secret.shard_map.shards[-1]], posted=True)
                done = self._tick(20, 300)
                diso = self._iso(done)
                self._emit("secret.share.completed", {
                    "share_id": share.id, "secret": secret.ref, "kind": share.kind, "sender": share.sender.ref,
                    "recipient": user.ref,
                    "time": {"initiated_at": self._iso(share.began_at), "completed_at": diso}}, diso)
        else:
            pending.status = "rejected"
            data = self._pending_json(pending, "rejected", time)
            why = reason if reason is not None else self.rng.choice(_REJECT_REASONS)
            if why:
                data["reason"] = why
            self._emit("pending_share.rejected", data, iso)
        if not share.open:
            self._finish_share(share)

    def _finish_share(self, share: Share) -> None:
        secret = share.secret
        secret.open_shares -= 1
        if share.kind == "multi_peer" and share.accepted and secret.active:
            in_map = {d for _, d in secret.shard_map.shards}
            joined = [p for p in share.pending if p.status == "accepted" and p.recipient.active
                      and p.device not in in_map]
            if joined:
                devices = [*(d for _, d in secret.shard_map.shards), *(p.device for p in joined)]
                k = min(len(devices), max(share.threshold, secret.shard_map.threshold))
                self._install(secret, devices, k, share_id=share.id)
                for p in joined:
                    placed = next(pair for pair in secret.shard_map.shards if pair[1] is p.device)
                    self._user_shards(p.recipient, secret, [placed], posted=True)
                done = self._tick(20, 300)
                diso = self._iso(done)
                self._emit("secret.multi_share.completed", {
                    "share_id": share.id, "secret": secret.ref, "original_sender": share.sender.ref,
                    "recipients": [u.ref for u in share.recipients if u.active],
                    "accepted_by": [p.recipient.ref for p in joined],
                    "time": {"initiated_at": self._iso(share.began_at), "completed_at": diso}}, diso)
        now = self._tick(20, 500)
        iso = self._iso(now)
        self._emit("backend_message.archived", {"message": share.message, "time": {
            "initiated_at": self._iso(share.posted_at), "completed_at": iso}}, iso)

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

    def _scim_sync(self, hires: int, leavers: int) -> None:
        if hires <= 0 and leavers <= 0:
            return
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
            return
        now = self._tick(200, 3000)
        iso = self._iso(now)
        self._emit("scim.updated", {
            "run_id": self.ids.uuid(), "provider": self._idp["provider"] if self._idp else "scim",
            "users_created": created, "users_pruned": pruned,
            "unchanged_count": len(self._users) - len(created),
            "time": {"initiated_at": self._iso(started), "completed_at": iso}}, iso)

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
