"""``EventFactory``: consistent events from the simulated tenant, by type or by scenario.

``chest_events("secret.used", n=5)`` makes five ``secret.used`` events from one
seeded tenant (each refers to users, devices and shard maps that exist);
``chest_events("tenant-day", n=100)`` takes the first hundred events of a
scenario. Both are the same for the same seed, every run.

>>> from simulator.testing import ChestSettings
>>> make = EventFactory(ChestSettings.resolve(marker={"seed": 1}))
>>> [e["type"] for e in make("Secret Used", n=2)]
['secret.used', 'secret.used']
"""

from __future__ import annotations

import copy
import functools
from functools import cached_property
from typing import TYPE_CHECKING

from simulator._exceptions import UnknownEventType, UsageError
from simulator._types import Event
from simulator.testing._settings import ChestSettings

if TYPE_CHECKING:
    from simulator.model import Tenant

__all__ = ["EventFactory", "events_of"]


def events_of(type_: str, n: int = 1, *, seed: int = 0, users: int = 10) -> list[Event]:
    """``n`` consistent events of one type from a fresh tenant ``Tenant(seed=seed, users=users)``.

    The same arguments give the same events; they are remembered, because Hypothesis asks
    again and again for the same few seeds while it shrinks (a tenant takes ~50 ms to build).
    """
    return copy.deepcopy(_events_of(type_, n, seed, users))


@functools.lru_cache(maxsize=1024)
def _events_of(type_: str, n: int, seed: int, users: int) -> list[Event]:
    from simulator.model import Tenant

    return Tenant(seed=seed, users=users).events_of(type_, n)


class EventFactory:
    """Makes events for one test; ``tenant`` is the seeded tenant they come from.

    Calls on one factory share its tenant, so events from successive calls stay
    consistent with each other (a ``secret.deleted`` after ``secret.used`` events
    deletes a secret that was used).
    """

    def __init__(self, settings: ChestSettings) -> None:
        self.settings = settings

    def __repr__(self) -> str:
        return f"EventFactory(seed={self.settings.seed!r}, users={self.settings.users!r})"

    @cached_property
    def tenant(self) -> Tenant:
        """The simulated tenant, built on first use."""
        from simulator.model import Tenant

        return Tenant(seed=self.settings.seed, users=self.settings.users)

    def __call__(self, name: str, n: int | None = None) -> list[Event]:
        """``n`` events of type ``name`` (key or label; default 1), or of scenario ``name``
        (default: the whole scenario, which for an endless one like ``firehose`` means ``n``)."""
        if n is not None and n < 0:
            raise UsageError(f"n={n!r} must be a count of events, 0 or more")
        if n == 0:
            return []
        try:
            key = self._type_key(name)
        except UnknownEventType as unknown:
            return self._scenario(name, n, unknown)
        return copy.deepcopy(self.tenant.events_of(key, 1 if n is None else n))

    @staticmethod
    def _type_key(name: str) -> str:
        from simulator._catalog import lookup

        return lookup(name).key

    def _scenario(self, name: str, n: int | None, unknown: UnknownEventType) -> list[Event]:
        from simulator.model import generate, load_scenario

        try:
            scenario = load_scenario(name)
        except UsageError as exc:
            raise UsageError(
                f"chest_events({name!r}) names neither an event type ({unknown}) nor a scenario ({exc})"
            ) from None
        return list(generate(scenario, seed=self.settings.seed, users=self.settings.users, events=n))
