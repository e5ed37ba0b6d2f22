"""The tenant model and the scenario runner behind ``chestsim generate``.

A :class:`Tenant` holds a Secret Chest tenant's state (users, devices, groups,
secrets and their shard maps, shares, pending shares, queues, IdP, SCIM); its
actions change that state and emit the webhook events the product describes,
in causal order, stamped by a virtual clock. Same seed, same events, byte for byte.

>>> from simulator.model import Tenant
>>> t = Tenant(seed=1, users=3)
>>> alice, bob = t.users[:2]
>>> share = alice.share(alice.create_secret("Prod Postgres"), to=[bob])
>>> [e["type"] for e in bob.accept(share)][-1]
'backend_message.archived'

>>> from simulator.model import generate
>>> events = list(generate("share-lifecycle", seed=7, events=50))
>>> len(events)
50
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from simulator.model._clock import DEFAULT_START, VirtualClock
from simulator.model._entities import (
    Device,
    Group,
    ModelError,
    PendingShare,
    Secret,
    ShardMap,
    Share,
    User,
)
from simulator.model._generate import iter_events, write_events
from simulator.model._overrides import Override, parse_override
from simulator.model._scenario import Scenario, list_scenarios, load_scenario
from simulator.model._tenant import Tenant
from simulator.model._writer import EventWriter

__all__ = [
    "DEFAULT_START",
    "Device",
    "EventWriter",
    "Group",
    "ModelError",
    "Override",
    "PendingShare",
    "Scenario",
    "Secret",
    "ShardMap",
    "Share",
    "Tenant",
    "User",
    "VirtualClock",
    "generate",
    "iter_events",
    "list_scenarios",
    "load_scenario",
    "parse_override",
    "write_events",
]


def generate(
    scenario: str | Scenario,
    *,
    seed: int = 0,
    users: int | None = None,
    groups: int | None = None,
    devices_per_user: int | None = None,
    events: int | None = None,
    duration: float | str | None = None,
    rate: float | str | None = None,
    locale: str | None = None,
    start: str | None = None,
    overrides: Sequence[str] = (),
    history: bool = True,
) -> Iterator[dict[str, Any]]:
    """Events of a scenario (a shipped name or a script path), as independent dicts.

    ``duration`` takes seconds or ``"8h"``; ``rate`` events per virtual second or
    ``"200/s"``; ``overrides`` are ``--set`` strings; ``history=False`` starts with the
    scenario's own events (the tenant's earlier history left out). Same arguments, same events.

    >>> first = next(generate("onboarding", seed=1))
    >>> first["type"]
    'user.created'
    """
    from simulator._units import parse_duration, parse_rate

    seconds = parse_duration(duration, option="duration") if duration is not None else None
    per_second = parse_rate(rate, option="rate") if rate is not None else None
    stream = iter_events(scenario, seed=seed, users=users, groups=groups, devices_per_user=devices_per_user,
                         events=events, duration=seconds, rate=per_second, locale=locale, start=start,
                         overrides=overrides, history=history)
    loads, dumps = orjson.loads, orjson.dumps
    for event in stream:
        yield loads(dumps(event))
