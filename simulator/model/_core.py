"""The tenant's state and the machinery every action uses: event emission, the clock,
capture of what an action emitted, and the read-only views.

:class:`~simulator.model.Tenant` builds on this (``_sharing.py`` adds secrets and
shares, ``_tenant.py`` people, devices, groups, IdP and SCIM).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from simulator.model._catalogs import GROUP_NAMES
from simulator.model._clock import DEFAULT_START, VirtualClock, parse_instant
from simulator.model._entities import Group, ModelError, PendingShare, Roster, Secret, User
from simulator.model._ids import Ids
from simulator.model._people import DEFAULT_LOCALE, PersonPool

__all__ = ["TenantCore"]

JSON = dict[str, Any]
Event = dict[str, Any]


class TenantCore:
    """State and event machinery of a tenant; see :class:`~simulator.model.Tenant`."""

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

    def _finish_bootstrap(self) -> None:
        if self._boot is not None:
            for _ in self._boot:
                pass
            self._boot = None

    def _admin_actor(self) -> JSON:
        admin = self._find_admin() if len(self._users) else None
        return {"kind": "admin", "user": admin.ref} if admin else {"kind": "system"}

    def _check_user(self, user: User) -> None:
        if not user.active or user.tenant is not self:
            raise ModelError(f"{user.email} is not an active user of this tenant")

    def _secret_by_id(self, secret_id: str) -> Secret:
        return self._secret_index[secret_id]

    def _bootstrap(self) -> Iterator[None]:
        raise NotImplementedError
