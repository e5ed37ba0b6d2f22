"""The tenant's week before ``start``, replayed first: the owner, the IdP, everyone joining with
their devices, the teams, then everyone's secrets.

Each step happens in office hours where the person acting works, on weekdays; the weekend is
quiet. A step's own events follow each other closely; the time a step does not use passes
between steps, so that the week's events spread over about four and a half office days.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import TYPE_CHECKING

from simulator.model._catalogs import GROUP_NAMES
from simulator.model._clock import OfficeHours

if TYPE_CHECKING:
    from simulator.model._tenant import Tenant

__all__ = ["replay_week"]

_WEEK_MS = 7 * 86_400_000


def replay_week(t: Tenant) -> Iterator[None]:
    """The tenant's week before ``start``: each step (a person joining with their devices, the
    IdP, a group, a person's secrets) happens in office hours where the person acting works,
    on weekdays; the weekend is quiet. A step's own events follow each other closely."""
    clock, rng = t.clock, t.rng
    directory, devices, vault = t.directory, t.device_registry, t.vault
    start = clock.start
    spu = t.secrets_per_user
    holders = 1 + max(0, vault.policy[1] - t.devices_per_user)
    steps = 2 + 2 * t.size + t.group_count
    expected = 2 + t.size * (1 + t.devices_per_user + spu * (2 + 2 * holders)) + t.group_count
    # About four and a half office days (less with two offices: the clock waits for each in
    # turn); each event takes its share, and the time a step does not use passes between steps.
    budget = (4.5 if len(directory.offices) == 1 else 3.0) * 9 * 3_600_000
    within = min(budget / expected, 30_000.0)
    pause = max(0.0, budget / steps - within * expected / steps)
    hours = OfficeHours()
    saved_gap = clock.gap_ms
    clock.now = start - _WEEK_MS
    clock.gap_ms = within

    def at_work(tz: str) -> None:
        if clock.gap_ms == 20.0:
            return
        opens = hours.next_open(clock.now + int(pause * (0.5 + rng.random())), tz)
        if opens > start - 3_600_000:
            # Late history is squeezed in before start rather than cut (a huge tenant).
            clock.gap_ms = 20.0
            return
        clock.now = opens

    try:
        at_work(directory.offices[0])
        owner = directory.new_user(source="admin", roles=("owner", "admin"), by={"kind": "system"},
                                   time_zone=directory.offices[0])
        for dtype in devices.plan():
            devices.register(owner, dtype)
        yield
        at_work(owner.time_zone)
        directory.configure_idp(owner)
        yield
        # People join office by office, so that nobody waits for another office to open.
        zones = [directory.office_for_new_user() for _ in range(1, t.size)]
        for tz in directory.offices:
            for i, zone in enumerate(zones, 1):
                if zone != tz:
                    continue
                at_work(tz)
                user = directory.new_user(source=rng.choices(("scim", "admin", "jit"), (0.8, 0.1, 0.1))[0],
                                          roles=_roles_for(rng, i), by=None, time_zone=tz)
                for dtype in devices.plan():
                    devices.register(user, dtype)
                yield
        for g in range(t.group_count):
            name, description = GROUP_NAMES[g % len(GROUP_NAMES)]
            if g >= len(GROUP_NAMES):
                name = f"{name} {g // len(GROUP_NAMES) + 1}"
            at_work(owner.time_zone)
            directory.create_group(name, description, source="scim", members=None, by=None)
            yield
        users = directory.users()
        for tz in directory.offices:
            for user in users:
                if user.time_zone != tz:
                    continue
                count = int(spu) + (1 if rng.random() < spu - int(spu) else 0)
                if count:
                    at_work(tz)
                for _ in range(count):
                    vault.create(user, None, None)
                yield
    finally:
        clock.gap_ms = saved_gap
        clock.now = max(clock.now, start)


def _roles_for(rng: random.Random, i: int) -> tuple[str, ...]:
    if i < 3 or rng.random() < 0.03:
        return ("admin",)
    r = rng.random()
    if r < 0.02:
        return ("auditor",)
    if r < 0.03:
        return ("billing",)
    return ("member",)
