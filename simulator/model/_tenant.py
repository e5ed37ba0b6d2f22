"""The tenant model: a small facade over its parts, each owning its state and its events.

The parts follow what the product page separates: the :class:`~simulator.model._directory.Directory`
(users, groups, SCIM, IdP), the :class:`~simulator.model._devices.DeviceRegistry`, and the
:class:`~simulator.model._vault.Vault` (secrets with their shard maps and shares). They share
one :class:`~simulator.model._context.Context` (clock, randomness, ids, event queue). The
facade checks each action makes sense, runs it on the part that owns it, and keeps what one
action emitted; actions that span parts (offboarding) are composed here. The week before
``start`` is replayed by :func:`~simulator.model._history.replay_week`.

>>> t = Tenant(seed=1, users=3)
>>> alice, bob = t.users[:2]
>>> secret = alice.create_secret("Prod Postgres")
>>> share = alice.share(secret, to=[bob])
>>> [e["type"] for e in bob.accept(share)][:2]
['pending_share.accepted', 'installation_map.posted']
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from simulator._types import Event, JSONObject
from simulator.model._catalogs import GROUP_NAMES, SECRET_TEMPLATES
from simulator.model._clock import DEFAULT_START, VirtualClock, parse_instant
from simulator.model._context import Context
from simulator.model._devices import DeviceRegistry
from simulator.model._directory import Directory
from simulator.model._entities import Device, Group, ModelError, PendingShare, Secret, Share, User
from simulator.model._history import replay_week
from simulator.model._ids import Ids
from simulator.model._people import DEFAULT_LOCALE, PersonPool
from simulator.model._vault import Vault

__all__ = ["Tenant"]



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
        self.rate = rate
        start_ms = start if isinstance(start, int) else parse_instant(start)
        self._ctx = ctx = Context(seed=seed, start_ms=start_ms, rate=rate)
        self.people = PersonPool(seed=seed, locale=locale, size_hint=users)
        self.id = ctx.tenant_id = ctx.ids.uuid()
        self.name = self.people.company
        self.domain = self.people.domain
        #: Users, groups, IdP and SCIM.
        self.directory = Directory(ctx, self.people, tenant=self, locale=locale)
        #: Devices and their metadata.
        self.device_registry = DeviceRegistry(ctx, devices_per_user=devices_per_user)
        #: Secrets, shard maps, shares and pending shares.
        self.vault = Vault(ctx, self.directory, domain=self.domain)
        ctx.history = replay_week(self)

    def __repr__(self) -> str:
        return (f"Tenant(seed={self.seed!r}, users={self.size!r}, groups={self.group_count!r}, "
                f"devices_per_user={self.devices_per_user!r}, locale={self.locale!r}, "
                f"start={self.clock.iso(self.clock.start)!r}, rate={self.rate!r})")

    # -- shared machinery ------------------------------------------------------------------

    @property
    def clock(self) -> VirtualClock:
        """The virtual clock every event is stamped by."""
        return self._ctx.clock

    @property
    def rng(self) -> random.Random:
        """The tenant's seeded randomness (scenarios draw from it too)."""
        return self._ctx.rng

    @property
    def ids(self) -> Ids:
        return self._ctx.ids

    @property
    def emitted(self) -> int:
        """How many events the tenant has emitted so far (history included)."""
        return self._ctx.emitted

    @property
    def last_events(self) -> list[Event]:
        """The events of the latest action."""
        return self._ctx.last_events

    def drain(self) -> Iterator[Event]:
        """Yield and forget queued events: the tenant's history first, then actions' events."""
        return self._ctx.drain()

    @contextmanager
    def record(self) -> Iterator[list[Event]]:
        """Collect every event emitted inside the block.

        >>> t = Tenant(seed=1, users=2)
        >>> with t.record() as events:
        ...     _ = t.users[0].create_secret("Prod Postgres")
        >>> events[0]["type"]
        'secret.created'
        """
        with self._ctx.capture() as box:
            yield box

    def wait(self, duration: str | float) -> None:
        """Let time pass (``t.wait("2h")``); applies under any pacing."""
        from simulator._units import parse_duration

        self.clock.sleep(parse_duration(duration, option="wait"))

    def think(self, mean_s: float = 90.0) -> None:
        """Idle time between two actions, following business hours (none under ``--rate``)."""
        self.clock.think(mean_s)

    # -- state, read-only views ------------------------------------------------------------

    @property
    def users(self) -> list[User]:
        """Active users, oldest first by roster order."""
        self._ctx.finish_history()
        return self.directory.users()

    @property
    def groups(self) -> list[Group]:
        self._ctx.finish_history()
        return self.directory.groups()

    @property
    def secrets(self) -> list[Secret]:
        self._ctx.finish_history()
        return self.vault.secrets()

    @property
    def open_pending(self) -> list[PendingShare]:
        """Pending shares not yet accepted or rejected, oldest first."""
        return self.vault.open_pending()

    @property
    def admin(self) -> User:
        """An active administrator (the owner if still there)."""
        self._ctx.finish_history()
        return self.directory.admin()

    @property
    def idp(self) -> JSONObject | None:
        return self.directory.idp

    def user(self, email_or_index: str | int) -> User:
        """A user by email (or local part) or by position."""
        users = self.users
        if isinstance(email_or_index, int):
            return users[email_or_index]
        for u in users:
            if u.email == email_or_index or u.email.split("@")[0] == email_or_index:
                return u
        raise ModelError(f"no active user {email_or_index!r}")

    def holders(self, secret: Secret) -> list[User]:
        """Users with a shard of ``secret`` on one of their devices (the owner first)."""
        return secret.shard_map.holders()

    def pick(self, n: int = 1) -> list[User]:
        """``n`` different random active users who have a device (hires someone if too few).

        >>> alice, bob = Tenant(seed=1, users=3).pick(2)
        """
        self._ctx.finish_history()
        ready = [u for u in self.directory.users() if u.devices]
        while len(ready) < n:
            ready.append(self.hire())
        return self.rng.sample(ready, n)

    def pick_secret(self, *, kind: str | Sequence[str] | None = None, held_by: User | None = None) -> Secret:
        """A random live secret (of a kind, held by a user); creates one if none fits."""
        self._ctx.finish_history()
        kinds = (kind,) if isinstance(kind, str) else tuple(kind or ())
        fits = [s for s in self.vault.secrets()
                if (not kinds or s.kind in kinds) and (held_by is None or s.id in held_by.holdings)]
        if fits:
            return self.rng.choice(fits)
        owner = held_by or self.pick(1)[0]
        name = next((s.name for s in SECRET_TEMPLATES if not kinds or s.kind in kinds), None)
        return self.create_secret(owner, name)

    def pick_group(self, *, min_members: int = 2) -> Group:
        """A random group with at least ``min_members`` members (creates one if none)."""
        self._ctx.finish_history()
        fits = [g for g in self.directory.groups() if len(g.members) >= min_members]
        return self.rng.choice(fits) if fits else self.create_group(members=self.pick(min_members))

    def snapshot(self) -> JSONObject:
        """What exists now, as ids and shard maps: the ``--snapshot`` a sequence checker needs to
        judge a stream that starts here (``chestsim generate --no-history --snapshot-out``).

        >>> snapshot = Tenant(seed=1, users=2).snapshot()
        >>> len(snapshot["users"]), len(snapshot["devices"])
        (2, 4)
        """
        self._ctx.finish_history()
        users = self.directory.users()
        secrets = self.vault.secrets()
        pending = self.vault.open_pending()
        open_shares = list(dict.fromkeys(p.share for p in pending))
        return {
            "tenant_id": self.id,
            "at": self.clock.iso(),
            "users": [u.id for u in users],
            "devices": [d.id for u in users for d in u.devices],
            "groups": [g.id for g in self.directory.groups()],
            "secrets": [{"id": s.id, "shard_map": s.shard_map.json} for s in secrets],
            "shard_maps": [s.shard_map.json for s in secrets],
            "installation_maps": [s.installation_map_id for s in secrets],
            "shares": [share.id for share in open_shares],
            "pending_shares": [p.id for p in pending],
            "messages": [share.message_id for share in open_shares],
        }

    # -- directory -------------------------------------------------------------------------

    def hire(self, *, source: str = "admin", roles: Sequence[str] = ("member",),
             devices: int | None = None) -> User:
        """Add a user (``user.created``) and register their devices (``device.registered``)."""
        with self._ctx.action():
            user = self.directory.new_user(source=source, roles=tuple(roles), by=None)
            for dtype in self.device_registry.plan()[: self.devices_per_user if devices is None else devices]:
                self.device_registry.register(user, dtype)
        return user

    def offboard(self, user: User, *, reason: str = "admin", by: User | None = None) -> list[Event]:
        """Remove a user: resolve their pending shares, delete their secrets, take their shards
        out of others' shard maps, drop them from groups, then ``user.deleted``."""
        with self._ctx.action() as box:
            self.remove_user(user, reason=reason, by=by)
        return box

    def remove_user(self, user: User, *, reason: str, by: User | None = None) -> Event:
        """What :meth:`offboard` does, outside any action's record; returns ``user.deleted``."""
        directory = self.directory
        directory.check_user(user)
        if directory.user_count() == 1:
            raise ModelError(f"cannot offboard {user.email}: a tenant keeps at least one user")
        actor: JSONObject = {"kind": "scim"} if reason == "scim_prune" else (
            {"kind": "admin", "user": by.ref} if by else directory.admin_actor())
        self.vault.release_user(user, deleter=by if by is not None and by is not user else None)
        return directory.remove_user(user, reason=reason, actor=actor)

    def create_group(self, name: str | None = None, *, members: Sequence[User] | None = None,
                     description: str | None = None, source: str = "admin") -> Group:
        """Create a group with members (``group.created``)."""
        with self._ctx.action():
            if name is None:
                name, default_description = self.directory.default_group_name()
            else:
                default_description = dict(GROUP_NAMES).get(name, f"{name} team")
            group = self.directory.create_group(name, description or default_description, source=source,
                                                members=members, by=None)
        return group

    def delete_group(self, group: Group, *, by: User | None = None) -> list[Event]:
        """Delete a group (``group.deleted``, with its members at that moment)."""
        with self._ctx.action() as box:
            self.directory.delete_group(group, by=by)
        return box

    def update_idp(self, *, by: User | None = None, **changes: Any) -> list[Event]:
        """Change IdP settings (``idp.settings_updated`` with the changed fields).

        With no ``changes``, rotates the signing certificate. ``provider="entra_id"``
        migrates to another IdP (new SSO URL and issuer).
        """
        with self._ctx.action() as box:
            self.directory.update_idp(by or self.admin, changes)
        return box

    def scim_sync(self, *, hires: int = 1, leavers: int = 0) -> list[Event]:
        """One SCIM run: create ``hires`` users, prune ``leavers``; then ``scim.updated``.

        A run that changes nobody sends nothing (the page: "if a user is created or pruned").
        """
        with self._ctx.action() as box:
            self.run_scim(hires, leavers)
        return box

    def run_scim(self, hires: int, leavers: int) -> list[User]:
        """What :meth:`scim_sync` does, outside any action's record; returns the users created
        (they have no device yet)."""
        return self.directory.scim_sync(hires, leavers, offboard=self._prune)

    def _prune(self, user: User) -> Event:
        return self.remove_user(user, reason="scim_prune")

    # -- devices ---------------------------------------------------------------------------

    def register_device(self, user: User, *, type: str | None = None) -> Device:
        """Register a new device for ``user`` (``device.registered``); it joins the shard maps of
        their secrets that hold fewer shards than their policy asks."""
        with self._ctx.action():
            self.directory.check_user(user)
            if type is not None:
                self.device_registry.check_type(type)
            device = self.device_registry.register(user, type or self.device_registry.plan()[-1])
            self.vault.device_joined(device)
        return device

    # -- secrets and shares ----------------------------------------------------------------

    def create_secret(self, owner: User, name: str | None = None, *, kind: str | None = None) -> Secret:
        """Create a secret sharded k-of-n across the owner's devices (k from the owner's policy,
        at most n); the secrets the tenant draws itself also place shards on peers' devices.

        Emits ``secret.created``, ``installation_map.posted``, ``user_shards.posted`` and,
        once the devices fetched their shards, ``user_shards.deleted``.
        """
        with self._ctx.action():
            self.directory.check_user(owner)
            secret = self.vault.create(owner, name, kind, peers=False)
        return secret

    def use(self, user: User, secret: Secret, *, purpose: str | None = None) -> list[Event]:
        """Deshard ``secret`` on k devices of its shard map, the user's own first (``secret.used``)."""
        with self._ctx.action() as box:
            self.vault.use(user, secret, purpose)
        return box

    def autofill(self, user: User, secret: Secret, *, origin: str | None = None) -> list[Event]:
        """Deshard and autofill a form or present a passkey: ``secret.used`` then
        ``secret.temp_stored.retrieved`` (when the clear text was available, never the text)."""
        with self._ctx.action() as box:
            purpose = "passkey" if secret.kind == "passkey" else "autofill"
            chosen = self.vault.use(user, secret, purpose)
            self.vault.temp_stored(user, secret, chosen, purpose, origin)
        return box

    def delete_secret(self, secret: Secret, *, by: User | None = None) -> list[Event]:
        """Delete a secret (``secret.deleted``, then ``installation_map.deleted``)."""
        with self._ctx.action() as box:
            self.vault.check_secret(secret)
            self.vault.delete(secret, by or secret.owner)
        return box

    def share(self, sender: User, secret: Secret, *, to: Sequence[User] | Group) -> Share:
        """Start a standard share (to users) or a group share (to a group's members).

        Emits ``secret.share.began``, ``backend_message.posted`` and one
        ``pending_share.created`` per recipient; recipients then accept or reject.
        """
        with self._ctx.action():
            group = to if isinstance(to, Group) else None
            if group is not None and not group.active:
                raise ModelError(f"group {group.name!r} was deleted")
            users = list(group.members if group is not None else to)
            share = self.vault.begin(sender, secret, users, group=group, threshold=0)
        return share

    def multi_share(self, sender: User, secret: Secret, *, to: Sequence[User], threshold: int = 2) -> Share:
        """Start a multi-peer share: one shard per peer; ``threshold`` peers are needed to deshard."""
        with self._ctx.action():
            share = self.vault.begin(sender, secret, list(to), group=None, threshold=max(1, threshold))
        return share

    def eligible_recipients(self, secret: Secret, candidates: Sequence[User]) -> list[User]:
        """Who among ``candidates`` can receive a shard of ``secret`` (active, has a device,
        not already holding or being offered one)."""
        return self.vault.eligible_recipients(secret, candidates)

    def accept(self, pending: PendingShare) -> list[Event]:
        """The recipient accepts the shard offered (``pending_share.accepted`` and what follows)."""
        with self._ctx.action() as box:
            self.vault.resolve(pending, accept=True, reason=None)
        return box

    def reject(self, pending: PendingShare, *, reason: str | None = None) -> list[Event]:
        """The recipient turns the shard down (``pending_share.rejected``)."""
        with self._ctx.action() as box:
            self.vault.resolve(pending, accept=False, reason=reason)
        return box

    def respond(self, share: Share, *, accept: float = 0.85) -> list[Event]:
        """Every open recipient of ``share`` answers, accepting with probability ``accept``."""
        with self._ctx.action() as box:
            # Answering one offer makes the next (one recipient at a time): at most one per recipient.
            for _ in range(len(share.recipients)):
                pending = next((p for p in share.pending if p.status == "pending"), None)
                if pending is None:
                    break
                self.clock.think(600)
                self.vault.resolve(pending, accept=self.rng.random() < accept, reason=None)
        return box

    # -- bulk ------------------------------------------------------------------------------

    def action(self) -> Any:
        """A context manager for several part-level steps recorded as one action (:attr:`last_events`)."""
        return self._ctx.action()

    def random_activity(self, actions: int = 100, *, think: float = 90.0) -> int:
        """``actions`` random actions that fit the current state (a business day's mix).

        Returns how many events they emitted; the events are in :meth:`drain` (not kept
        in :attr:`last_events`, so that long runs stay small).
        """
        from simulator.model._activity import random_activity

        self._ctx.finish_history()
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

        self._ctx.finish_history()
        return events_of(self, type_, n)
