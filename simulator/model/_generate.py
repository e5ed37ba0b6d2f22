"""The generate loop: a scenario drives a tenant; its events stream out until a limit.

Limits: ``events`` (stop after N events, the tenant's replayed history included)
or ``duration`` (stop at ``start + duration`` on the virtual clock). Without a
limit a scenario runs ``setup`` and one ``run`` episode, or forever if it is
``ENDLESS`` (the firehose).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import IO, Any

from simulator._exceptions import ScenarioError, UsageError
from simulator._types import Event
from simulator.model._clock import DEFAULT_START, format_ms, parse_instant
from simulator.model._overrides import Override, apply_overrides, parse_override
from simulator.model._people import DEFAULT_LOCALE, check_locale
from simulator.model._scenario import Scenario, load_scenario
from simulator.model._tenant import Tenant
from simulator.model._writer import EventWriter

__all__ = ["build_options", "build_tenant", "emitted_types", "iter_events", "paced", "write_events"]


_BUILTIN = {"users": 10, "groups": None, "devices_per_user": 2, "locale": DEFAULT_LOCALE,
            "start": DEFAULT_START}
_STALL_EPISODES = 3
_SLOWEST = 1 / 86_400  # events per second: slower would carry a run's timestamps past year 9999


def build_tenant(
    scenario: Scenario,
    *,
    seed: int = 0,
    users: int | None = None,
    groups: int | None = None,
    devices_per_user: int | None = None,
    locale: str | None = None,
    start: str | None = None,
    rate: float | None = None,
) -> Tenant:
    """The tenant a scenario runs on: explicit options, else the scenario's DEFAULTS, else built-ins."""
    opts = build_options(scenario, users=users, groups=groups, devices_per_user=devices_per_user, locale=locale,
                         start=start)
    for key in ("users", "devices_per_user"):
        if not isinstance(opts[key], int) or opts[key] < 1:
            raise UsageError(f"--{key.replace('_', '-')}={opts[key]!r} must be a whole number ≥ 1")
    if opts["groups"] is not None and (not isinstance(opts["groups"], int) or opts["groups"] < 0):
        raise UsageError(f"--groups={opts['groups']!r} must be a whole number ≥ 0")
    if rate is not None and not rate >= _SLOWEST:
        raise UsageError(f"--rate={rate!r} must be a positive number of events per second, at least one a day "
                         "(0.0000116), like 200 or 200/s")
    parse_instant(opts["start"])
    return Tenant(seed=seed, users=opts["users"], groups=opts["groups"],
                  devices_per_user=opts["devices_per_user"], locale=check_locale(opts["locale"]),
                  start=opts["start"], rate=rate)


def build_options(scenario: Scenario, **given: Any) -> dict[str, Any]:
    """The tenant options a run uses: those given (not None), else the scenario's DEFAULTS, else built-ins.

    >>> build_options(load_scenario("firehose"), users=None)["users"], build_options(load_scenario("firehose"), users=5)["users"]
    (1000, 5)
    """
    return {key: given[key] if given.get(key) is not None else scenario.defaults.get(key, default)
            for key, default in _BUILTIN.items()}


def iter_events(
    scenario: Scenario | str,
    *,
    seed: int = 0,
    users: int | None = None,
    groups: int | None = None,
    devices_per_user: int | None = None,
    events: int | None = None,
    duration: float | None = None,
    rate: float | None = None,
    locale: str | None = None,
    start: str | None = None,
    overrides: Sequence[str | Override] = (),
    history: bool = True,
    on_start: Callable[[Tenant], object] | None = None,
) -> Iterator[Event]:
    """Events of one scenario run, lazily.

    ``history=False`` leaves out the replayed history (the tenant as it stood before
    ``start``); ``on_start(tenant)`` is called once that history is behind, e.g. to save
    ``tenant.snapshot()`` for a sequence checker. Events share fragments: do not mutate them
    (``simulator.model.generate`` hands out independent copies).

    >>> [e["type"] for e in iter_events("desharding", seed=1, users=1, events=3)]
    ['user.created', 'device.registered', 'device.registered']
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if events is not None and events < 1:
        raise UsageError(f"--events={events!r} must be a whole number ≥ 1")
    if duration is not None and not duration > 0:
        raise UsageError(f"--duration={duration!r} must be a positive duration like 8h")
    parsed = [o if isinstance(o, Override) else parse_override(o) for o in overrides]
    if rate is None and scenario.defaults.get("rate") is not None:
        rate = float(scenario.defaults["rate"])
    tenant = build_tenant(scenario, seed=seed, users=users, groups=groups, devices_per_user=devices_per_user,
                          locale=locale, start=start, rate=rate)
    stream = _episodes(scenario, tenant, limited=events is not None or duration is not None, history=history,
                       on_start=on_start)
    if parsed:
        by_type: dict[str, list[Override]] = {}
        for o in parsed:
            by_type.setdefault(o.type, []).append(o)
        stream = (apply_overrides(e, by_type[e["type"]]) if e["type"] in by_type else e for e in stream)
    if duration is not None:
        end = format_ms(tenant.clock.start + int(duration * 1000))
        stream = _until(stream, end)
    if events is not None:
        stream = islice(stream, events)
    return stream


def _episodes(scenario: Scenario, tenant: Tenant, *, limited: bool, history: bool = True,
              on_start: Callable[[Tenant], object] | None = None) -> Iterator[Event]:
    if history:
        yield from tenant.drain()
    else:
        for _ in tenant.drain():
            pass
    if on_start is not None:
        on_start(tenant)
    if scenario.setup is not None:
        scenario.call(scenario.setup, tenant)
        yield from tenant.drain()
    idle = 0
    while True:
        before = tenant.emitted
        scenario.call(scenario.run, tenant)
        yield from tenant.drain()
        if not (limited or scenario.endless):
            return
        idle = idle + 1 if tenant.emitted == before else 0
        if idle >= _STALL_EPISODES:
            raise ScenarioError(f"scenario {scenario.name!r} ({scenario.path}) emitted no events in "
                                f"{_STALL_EPISODES} episodes in a row; its run(t) must act on the tenant",
                                path=str(scenario.path))


def _until(stream: Iterator[Event], end_iso: str) -> Iterator[Event]:
    for event in stream:
        if event["timestamp"] >= end_iso:
            return
        yield event


def paced(
    stream: Iterator[Event],
    rate: float,
    *,
    after: str | None = None,
    now: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Event]:
    """Release events at ``rate`` per wall-clock second (``--realtime``).

    Events stamped before ``after`` (the replayed history) go out at once.
    """
    started: float | None = None
    count = 0
    for event in stream:
        if after is not None and event["timestamp"] < after:
            yield event
            continue
        if started is None:
            started = now()
        count += 1
        ahead = count / rate - (now() - started)
        if ahead > 0.001:
            sleep(ahead)
        yield event


def write_events(
    stream: Iterator[Event],
    out: IO[bytes],
    *,
    progress: Callable[[int], None] | None = None,
    every: int = 10_000,
    batch: int = 2048,
) -> int:
    """Write a stream as JSONL; call ``progress(count)`` every ``every`` events. Returns the count.

    >>> import io
    >>> write_events(iter_events("onboarding", seed=1, events=10), io.BytesIO())
    10

    While it writes, the cyclic garbage collector runs rarely: every 100k events it collects what
    died and sets the survivors aside (``gc.freeze``). Events are freed by reference counting, and
    scanning a 10k-user tenant again and again would cost more than making the events.
    """
    writer = EventWriter(out, batch=batch)
    count = 0
    next_freeze = _FREEZE_EVERY
    with _lean_gc():
        while True:
            chunk = writer.write_all(islice(stream, every))
            writer.flush()
            count += chunk
            if progress is not None:
                progress(count)
            if chunk < every:
                break
            if count >= next_freeze:
                # Collect what died since the last time (shares and their pending shares form
                # reference cycles), then set the survivors aside from future collections.
                gc.collect()
                gc.freeze()
                next_freeze = count + _FREEZE_EVERY
        writer.flush()
    return count


_FREEZE_EVERY = 100_000


@contextmanager
def _lean_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def emitted_types(scenario: Scenario | str, *, seed: int = 0, episodes: int = 3, users: int = 20) -> list[str]:
    """The event types a scenario's own episodes emit (the replayed history left out), in catalog order."""
    from simulator._catalog import CATALOG

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    size = min(users, int(scenario.defaults.get("users", users)))
    tenant = build_tenant(scenario, seed=seed, users=max(size, 4))
    for _ in tenant.drain():
        pass
    seen: set[str] = set()
    if scenario.setup is not None:
        scenario.call(scenario.setup, tenant)
        seen.update(e["type"] for e in tenant.drain())
    for _ in range(episodes):
        scenario.call(scenario.run, tenant)
        seen.update(e["type"] for e in tenant.drain())
    return [t.key for t in CATALOG if t.key in seen]
