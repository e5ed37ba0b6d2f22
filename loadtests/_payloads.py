"""Firehose payloads: events generated and serialized ahead of the request loop.

The request loop stays cheap: each event is serialized once, without its id,
into a ``Payload``; ``PayloadPool.take()`` then only glues a fresh id into the
body and has chestsim's one ``Signer`` sign ``id.timestamp.body`` with the
current second (one HMAC from a state keyed once). Deliveries are signed a few
at a time (``Signer.headers_many``), all stamped with the current second, and
whatever is left when the second turns is signed again: a delivery's headers
are what signing it when taken would give, at about half the CPU inside Locust
(one signature at a time, between requests, runs on cold caches). The fixed headers come
from the transport package's ``fixed_headers``, which checks the token.
Ids are ``evt_<run tag><worker index><counter>``, so two workers (or two runs
against one listener) never send the same id, and the worker index also picks
the worker's slice of the event stream (events ``i, i+N, i+2N …``).

>>> from simulator import SigningSecret
>>> pool = build_pool(scenario="firehose", seed=1, tenant_users=10, pool_size=4,
...                   secrets=(SigningSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),),
...                   run_tag="abc123", clock=lambda: 1614265330.5)
>>> name, body, headers = pool.take()
>>> headers["webhook-id"], headers["webhook-timestamp"]
('evt_abc123000000000000000', '1614265330')

Never imports Locust (the pytest process tests this module directly).
"""

from __future__ import annotations

import itertools
import os
import random
import string
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from simulator._catalog import CATALOG
from simulator._exceptions import InputError, ScenarioError
from simulator._signing import Signer, SigningSecret
from simulator._version import __version__
from simulator.delivery._transports import fixed_headers

__all__ = [
    "FALLBACK_SCENARIOS",
    "Payload",
    "PayloadPool",
    "available_scenarios",
    "build_pool",
    "check_events_file",
    "new_run_tag",
    "scenario_events",
]

#: Scenario names the locustfile accepts while the tenant model is not installed.
FALLBACK_SCENARIOS = ("firehose", "scim-sync", "tenant-day")

_ALPHABET = string.ascii_letters + string.digits
_HEAD = b'{"id":"'
_USER_AGENT = f"chestsim-loadtest/{__version__}"
#: The most deliveries signed ahead of their requests (all within the current second).
_MAX_BATCH = 64


@dataclass(frozen=True, slots=True)
class Payload:
    """One serialized event without its id: the body is ``{"id":"<id>",`` + ``tail``."""

    type: str
    tail: bytes

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Payload:
        """Serialize ``event`` once; its own ``id`` is dropped (the pool gives fresh ones)."""
        rest = {k: v for k, v in event.items() if k != "id"}
        encoded = orjson.dumps(rest)
        tail = b'",' + encoded[1:] if rest else b'"}'
        return cls(type=str(event.get("type") or "unknown"), tail=tail)

    def body(self, msg_id: str) -> bytes:
        """The JSON body carrying ``msg_id`` as its envelope id."""
        return _HEAD + msg_id.encode() + self.tail


class PayloadPool:
    """Pre-serialized payloads handed out in a loop, each with a fresh id, timestamp and signature.

    ``take()`` returns ``(event type, body, headers)``: the headers that change per
    delivery (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``); send them
    with ``static_headers`` (content type, user agent, bearer token), which a
    client sets once. The type names the row in Locust's statistics. The repr
    shows the id prefix and size, never a secret.
    """

    __slots__ = ("_batch", "_clock", "_count", "_n", "_payloads", "_prefix", "_ready", "_ready_from",
                 "_ready_stamp", "_sent", "_signer", "_static")

    def __init__(
        self,
        payloads: Sequence[Payload],
        *,
        id_prefix: str,
        secrets: Sequence[SigningSecret] = (),
        token: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not payloads:
            raise ScenarioError("the event source produced no events to send")
        self._payloads = tuple(payloads)
        self._count = len(self._payloads)
        self._prefix = id_prefix
        self._signer = Signer(secrets, clock=clock)
        self._clock = clock
        self._n = 0  # deliveries prepared (ids used), ahead of ``_sent`` by what ``_ready`` holds
        self._sent = 0
        self._ready: list[tuple[str, bytes, dict[str, str]]] = []  # prepared, last one first
        self._ready_stamp: int | None = None
        self._ready_from = 0.0  # the second ``_ready`` is signed for, as a float: [from, from + 1)
        self._batch = 1
        self._static = fixed_headers(token=token, where="the load test's token (--token or CHESTSIM_TOKEN)",
                                     user_agent=_USER_AGENT)

    def __len__(self) -> int:
        return self._count

    @property
    def sent(self) -> int:
        """How many payloads ``take()`` has handed out."""
        return self._sent

    @property
    def static_headers(self) -> dict[str, str]:
        """Headers every delivery carries unchanged (a copy): content type, user agent, token."""
        return dict(self._static)

    @property
    def id_prefix(self) -> str:
        """What every id of this pool starts with (``evt_<run tag><worker index>``)."""
        return self._prefix

    @property
    def types(self) -> frozenset[str]:
        """The event types in the pool (the rows Locust's statistics will show)."""
        return frozenset(p.type for p in self._payloads)

    def take(self) -> tuple[str, bytes, dict[str, str]]:
        """The next ``(event type, body, per-delivery headers)``, stamped with the current second."""
        now = self._clock()
        ready = self._ready
        if not ready or not self._ready_from <= now < self._ready_from + 1:
            ready = self._prepare(int(now))
        self._sent += 1
        return ready.pop()

    def _prepare(self, stamp: int) -> list[tuple[str, bytes, dict[str, str]]]:
        """Sign the next deliveries with ``stamp``: a batch that grows while the loop takes
        it within one second, so a slow (paced) loop never signs what it will not send."""
        left = len(self._ready)
        if left:  # the second turned: the rest keep their ids and are signed again
            self._n -= left
            self._batch = max(self._batch // 2, 1)
        elif stamp == self._ready_stamp:
            self._batch = min(self._batch * 2, _MAX_BATCH)
        n, count, payloads, prefix = self._n, self._count, self._payloads, self._prefix
        numbers = range(n + self._batch - 1, n - 1, -1)  # popped from the end: taken in id order
        chosen = [payloads[i % count] for i in numbers]
        ids = [f"{prefix}{i:012d}" for i in numbers]
        bodies = [b"".join((_HEAD, msg_id.encode(), payload.tail))
                  for msg_id, payload in zip(ids, chosen, strict=True)]
        signed = self._signer.headers_many(zip(ids, bodies, strict=True), timestamp=stamp)
        ready = list(zip([payload.type for payload in chosen], bodies, signed, strict=True))
        self._n = n + self._batch
        self._ready, self._ready_stamp, self._ready_from = ready, stamp, float(stamp)
        return ready

    def __repr__(self) -> str:
        return f"PayloadPool(<{self._count} payloads>, id_prefix={self._prefix!r})"


def new_run_tag(rng: random.Random | None = None) -> str:
    """Six letters or digits naming one run in its event ids (fresh per run unless ``rng`` is seeded)."""
    chooser = rng or random.Random(os.urandom(16))
    return "".join(chooser.choice(_ALPHABET) for _ in range(6))


def build_pool(
    *,
    scenario: str = "firehose",
    seed: int = 1,
    tenant_users: int = 1000,
    events_file: Path | None = None,
    pool_size: int = 2000,
    worker_index: int = 0,
    worker_count: int = 1,
    secrets: Sequence[SigningSecret] = (),
    token: str | None = None,
    run_tag: str | None = None,
    clock: Callable[[], float] = time.time,
) -> PayloadPool:
    """Generate this worker's slice of the stream (``pool_size`` events) and serialize it.

    Worker ``i`` of ``N`` takes events ``i, i+N, i+2N …`` of the stream, and its ids
    start ``evt_<run_tag><i:03d>``, so no two workers share an event or an id.
    """
    if worker_count < 1 or worker_index < 0:
        raise ValueError(f"worker_index={worker_index} / worker_count={worker_count} is not a slice")
    slot = worker_index % worker_count
    if events_file is not None:
        stream: Iterable[dict[str, Any]] = _read_jsonl(events_file)
    else:
        stream = scenario_events(scenario, seed=seed, users=tenant_users, events=pool_size * worker_count)
    mine = itertools.islice(stream, slot, slot + pool_size * worker_count, worker_count)
    payloads = [Payload.from_event(event) for event in mine]
    tag = run_tag if run_tag is not None else new_run_tag()
    return PayloadPool(payloads, id_prefix=f"evt_{tag}{worker_index:03d}", secrets=secrets, token=token,
                       clock=clock)


def available_scenarios() -> list[str]:
    """Scenario names ``--scenario`` accepts, sorted."""
    names: set[str] = set()
    model = _model()
    lister = _first(model, "list_scenarios", "available_scenarios", "scenario_names")
    if lister is not None:
        names.update(str(getattr(item, "name", item)) for item in lister())
    if not names:
        from simulator._resources import scenarios_dir

        try:
            folder = scenarios_dir()
        except FileNotFoundError:
            folder = None
        if folder is not None:
            names.update(p.stem.replace("_", "-") for p in folder.glob("*.py") if not p.name.startswith("_"))
        names.update(FALLBACK_SCENARIOS)
    return sorted(names)


def scenario_events(scenario: str, *, seed: int, users: int, events: int) -> Iterator[dict[str, Any]]:
    """The event stream of ``scenario``: the one place that chooses where events come from.

    With the tenant model (``simulator.model.generate``) the stream is the
    scenario's own activity from its start time on: the tenant's replayed history
    (a week of hires and devices before the start) is skipped, since a live
    firehose never replays it. Without the model, the shipped examples cycle in
    the scenario's mix of event types, seeded.
    """
    model = _model()
    generate = _first(model, "generate")
    if generate is None:
        return _example_events(scenario, seed=seed, events=events)
    # A huge limit keeps one-episode scenarios (tenant-day, scim-sync) running episode after episode.
    produced: Iterator[dict[str, Any]] = generate(scenario, seed=seed, users=users, events=10**12)
    cutoff = _start_of(model, scenario)
    if cutoff is not None:
        produced = itertools.dropwhile(lambda event: str(event.get("timestamp", "")) < cutoff, produced)
    return itertools.islice(produced, events)


def _start_of(model: Any, scenario: str) -> str | None:
    """The scenario's start on its virtual clock, formatted like event timestamps (ms, ``Z``)."""
    try:
        start = model.load_scenario(scenario).defaults.get("start") or model.DEFAULT_START
        when = datetime.fromisoformat(str(start).replace("Z", "+00:00")).astimezone(UTC)
    except (AttributeError, ValueError, TypeError):
        return None
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def check_events_file(path: Path) -> None:
    """Read the first event of a JSONL file, so a bad file stops the run before users start."""
    first = next(iter(_read_jsonl(path)), None)
    if first is None:
        raise InputError(f"--events-file={str(path)!r} holds no events; pass a JSONL file with one "
                         "envelope per line", path=str(path))


def _model() -> Any:
    try:
        from simulator import model
    except ImportError:
        return None
    return model


def _first(module: Any, *names: str) -> Any:
    """The first callable of ``names`` on ``module`` (the model's facade is still settling)."""
    for name in names:
        found = getattr(module, name, None) if module is not None else None
        if callable(found):
            return found
    return None


# Rough weights of event types in each scenario, used only by the example fallback.
_MIXES: dict[str, dict[str, int]] = {
    "firehose": {},  # every type, evenly
    "tenant-day": {"secret.used": 12, "secret.created": 3, "backend_message.posted": 4,
                   "backend_message.archived": 4, "secret.share.began": 2, "secret.share.completed": 2,
                   "pending_share.created": 2, "pending_share.accepted": 2, "user_shards.posted": 2,
                   "installation_map.posted": 2, "secret.temp_stored.retrieved": 3},
    "scim-sync": {"user.created": 6, "user.deleted": 4, "scim.updated": 1, "group.created": 1,
                  "group.deleted": 1, "user_shards.deleted": 2, "device.registered": 2},
}


def _example_events(scenario: str, *, seed: int, events: int) -> Iterator[dict[str, Any]]:
    mix = _MIXES.get(scenario) or {t.key: 1 for t in CATALOG}
    examples = {t.key: t.examples for t in CATALOG if t.key in mix}
    keys = [key for key in mix if examples.get(key)]
    if not keys:
        raise ScenarioError(f"--scenario={scenario!r} has no example events to send")
    rng = random.Random(seed)
    weights = list(itertools.accumulate(mix[key] for key in keys))
    for _ in range(events):
        key = rng.choices(keys, cum_weights=weights)[0]
        yield rng.choice(examples[key])


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"--events-file={str(path)!r} cannot be read ({exc.strerror}); check the path "
                         "and its permissions", path=str(path)) from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise InputError(f"--events-file={str(path)!r} line {number} is not JSON; each line must "
                                 "be one event envelope", path=str(path), line=number) from None
            if not isinstance(event, dict):
                raise InputError(f"--events-file={str(path)!r} line {number} is not a JSON object; each "
                                 "line must be one event envelope", path=str(path), line=number)
            yield event
