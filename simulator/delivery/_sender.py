"""``Sender``: the options of a delivery run, checked, and its three entry points.

``send`` delivers a stream, ``resume`` continues a killed run from its journal,
``replay`` re-sends journalled events. Each builds an ``Engine`` (``_engine.py``)
with a transport (``_transports/``) and returns its ``Report``.

>>> Sender(to=["http://127.0.0.1:9/hook"], retry="none")
Sender(endpoints=['http://127.0.0.1:9/hook'], concurrency=32, retry=RetryPolicy.parse('none', jitter=0.1, time_scale=1.0))
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

from simulator._catalog import expand_event_types
from simulator._exceptions import EndpointConfigError, UsageError
from simulator._signing import SigningSecret, parse_secrets
from simulator.delivery._endpoints import Endpoint
from simulator.delivery._engine import Engine, Progress, RunSettings
from simulator.delivery._input import Outbound, read_batches
from simulator.delivery._journal import Journal
from simulator.delivery._pacing import Pace
from simulator.delivery._report import Report
from simulator.delivery._retry import RetryPolicy
from simulator.delivery._transports import USER_AGENT, Transport, transport_for

__all__ = ["USER_AGENT", "EventSource", "Pace", "Sender"]

#: At most this many deliveries in flight: each is a task and a connection (a file descriptor);
#: a million took over 20 s and gigabytes before the first request, where one process cannot
#: keep more than a few thousand busy anyway.
MAX_CONCURRENCY = 10_000
#: The longest per-attempt timeout taken (a day): libcurl takes milliseconds in a C long, and
#: ``inf`` or ``1e300`` dead-lettered every delivery with an OverflowError.
MAX_TIMEOUT = 86_400.0

EventSource = str | os.PathLike[str] | IO[bytes] | Iterable[Mapping[str, Any] | bytes | str]


class Sender:
    """Delivers events, signed, to endpoints, with retries and a journal.

    Build one with endpoints (``to=`` URLs or ``endpoints=``), then ``send`` a
    stream (a JSONL path, ``-``, or an iterable of envelopes), ``resume`` a
    journal, or ``replay`` from one. Each call returns a ``Report``.

    >>> import simulator.delivery as d
    >>> sender = d.Sender(to=["http://localhost:8080/hook"], secrets=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
    >>> sender.endpoints[0].name
    'http://localhost:8080/hook'
    """

    def __init__(
        self,
        *,
        to: Sequence[str] = (),
        endpoints: Sequence[Endpoint] = (),
        secrets: Iterable[str | SigningSecret] = (),
        token: str | None = None,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        types: Iterable[str] | str | None = None,
        concurrency: int = 32,
        rate: float | None = None,
        pace: Pace | None = None,
        speed: float = 1.0,
        ordered: bool = False,
        order_key: str = "tenant",
        retry: str | RetryPolicy = "standard-webhooks",
        jitter: float = 0.1,
        time_scale: float = 1.0,
        timeout: float = 15.0,
        clock_skew: float = 0.0,
        bad_signature: bool = False,
        app: Any = None,
        transport: Transport | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        insecure: bool = False,
        seed: int | None = None,
        max_pending: int | None = None,
        progress: Callable[[Progress], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secrets = parse_secrets(secrets)
        self._token = token or None
        # Sent to the ``to=`` endpoints and to those a resume rebuilds from its journal.
        self._headers = dict(headers.items() if isinstance(headers, Mapping) else headers)
        built = [Endpoint.from_url(u, secrets=self._secrets, token=self._token, headers=self._headers)
                 for u in to]
        self.endpoints: tuple[Endpoint, ...] = tuple(built) + tuple(endpoints)
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise UsageError(f"--concurrency={concurrency!r} must be a whole number from 1 to {MAX_CONCURRENCY:,}")
        if rate is not None and not rate > 0:
            raise UsageError(f"--rate={rate!r} must be a positive number of events per second")
        if not speed > 0:
            raise UsageError(f"--speed={speed!r} must be a positive factor, like 60")
        if not 0 < timeout <= MAX_TIMEOUT:
            raise UsageError(f"--timeout={timeout!r} must be a positive number of seconds up to a day "
                             f"({MAX_TIMEOUT:g}), like 15")
        if pace is None:
            pace = "rate" if rate is not None else "asap"
        if pace not in ("asap", "rate", "recorded"):
            raise UsageError(f"--pace={pace!r} must be asap, rate or recorded")
        if pace == "rate" and rate is None:
            raise UsageError("--pace=rate needs --rate, like --rate 200/s")
        if order_key not in ("tenant", "secret") and not order_key.isidentifier():
            raise UsageError(f"--order-key={order_key!r} must be tenant, secret or a data field name")
        self.types = frozenset(t.key for t in expand_event_types(types)) if types is not None else None
        self.concurrency = concurrency
        self.rate = rate
        self.pace: Pace = pace
        self.speed = speed
        self.ordered = ordered
        self.order_key = order_key
        self.retry = RetryPolicy.parse(retry, jitter=jitter, time_scale=time_scale)
        self.timeout = timeout
        self.clock_skew = clock_skew
        self.bad_signature = bad_signature
        self.app = app
        self._transport = transport
        self.ca_file = os.fspath(ca_file) if ca_file is not None else None
        if self.ca_file is not None and not os.path.isfile(self.ca_file):
            raise UsageError(f"--ca-file={self.ca_file!r} is not a file; give the PEM file of the CA that "
                             "signed the listener's certificate")
        self.insecure = insecure
        self.seed = seed
        self.max_pending = max_pending or max(4096, concurrency * 64)
        self._progress = progress
        self._clock = clock
        self._engine: Engine | None = None

    def run_options(self) -> dict[str, Any]:
        """The delivery options a journal stores, as plain values; ``Sender(**run_options())``
        rebuilds them. Never a secret, a token, a header value or an endpoint (endpoints are
        stored apart, without credentials); ``app`` and ``transport`` are objects and are not
        stored. ``ca_file`` is stored as an absolute path (a resume may run from elsewhere).

        >>> Sender(retry="1s,5s", rate=200).run_options()["retry"]
        '1.0,5.0'
        """
        return {
            "types": sorted(self.types) if self.types is not None else None,
            "concurrency": self.concurrency, "rate": self.rate, "pace": self.pace, "speed": self.speed,
            "ordered": self.ordered, "order_key": self.order_key, "retry": self.retry.spec,
            "jitter": self.retry.jitter, "time_scale": self.retry.time_scale, "timeout": self.timeout,
            "clock_skew": self.clock_skew, "bad_signature": self.bad_signature, "seed": self.seed,
            "ca_file": os.path.abspath(self.ca_file) if self.ca_file is not None else None,
            "insecure": self.insecure,
        }

    def partial_report(self) -> Report | None:
        """The summary so far of the run in progress, or of the last run (interrupted or not);
        ``None`` before any run. ``chestsim send`` prints it when interrupted."""
        return self._engine.partial_report() if self._engine is not None else None

    def __repr__(self) -> str:
        return (f"Sender(endpoints={[e.name for e in self.endpoints]!r}, concurrency={self.concurrency}, "
                f"retry={self.retry!r})")

    # -- public entry points ------------------------------------------------------------

    def send(self, events: EventSource, *, journal: str | os.PathLike[str] | None = None) -> Report:
        """Send a stream; block until every delivery is delivered or dead-lettered."""
        return _run_sync(self.send_async(events, journal=journal))

    async def send_async(self, events: EventSource, *, journal: str | os.PathLike[str] | None = None) -> Report:
        """``send`` for code already inside an event loop."""
        self._require_endpoints()
        source_name = os.fspath(events) if isinstance(events, str | os.PathLike) else "<events>"
        if source_name not in ("-", "<events>"):
            source_name = os.path.abspath(source_name)
        new_journal = None
        if journal:
            Journal.refuse_existing(journal)  # before an in-process app starts for nothing
            new_journal = functools.partial(
                Journal.create, journal, endpoints=[e.describe() for e in self.endpoints],
                meta={"input": source_name, "order_key": self.order_key}, options=self.run_options())
        batches = read_batches(events, order_key=self.order_key)
        return await self._run(batches, None, pending=None, disabled={}, new_journal=new_journal)

    def resume(self, journal: str | os.PathLike[str], events: EventSource | None = None) -> Report:
        """Continue a killed run: resend everything unfinished with the same ``webhook-id``,
        then read the rest of the input (``events``, or the journal's own input path).

        The run uses this ``Sender``'s options; the original run's are in
        ``Journal.open(journal).run_options()`` (``Sender(**those)`` rebuilds them), which is
        what ``chestsim send --resume`` does for every flag not given again."""
        return _run_sync(self.resume_async(journal, events))

    async def resume_async(self, journal: str | os.PathLike[str], events: EventSource | None = None) -> Report:
        jr = Journal.open(journal)
        try:
            self._adopt_endpoints(jr)
            meta = jr.meta()
            notes: list[str] = []
            batches: Iterator[list[Outbound]] | None = None
            # An input given again is checked even when the run had read all of its own.
            if meta.get("input_done") != "1" or events is not None:
                source: EventSource | None = events
                if source is None and meta.get("input") not in (None, "-", "<events>"):
                    source = meta["input"]
                if source is None:
                    notes.append(f"input was not a file; pipe the same stream again to continue after line "
                                 f"{meta.get('lines_read')}")
                else:
                    batches = read_batches(source, order_key=meta.get("order_key", self.order_key),
                                           skip_lines=int(meta.get("lines_read", "0")), recorded=jr.recorded())
            disabled = {row["idx"]: row["disabled"] for row in jr.endpoint_rows() if row["disabled"]}
        except BaseException:
            jr.close()
            raise
        return await self._run(batches, jr, pending=jr.pending(), disabled=disabled, notes=tuple(notes))

    def replay(self, journal: str | os.PathLike[str], *, failed: bool = False, ids: Sequence[str] = (),
               types: Iterable[str] = (), since: float | None = None, until: float | None = None,
               record: str | os.PathLike[str] | None = None) -> Report:
        """Re-send journalled events (all, or only ``failed`` ones, filtered by id, type, time).

        With the journal's own endpoints (none given, or the same names) the new attempts
        are added to that journal; with other endpoints (``to=``), to ``record`` when given.
        """
        return _run_sync(self.replay_async(journal, failed=failed, ids=ids, types=types, since=since,
                                           until=until, record=record))

    async def replay_async(self, journal: str | os.PathLike[str], *, failed: bool = False,
                           ids: Sequence[str] = (), types: Iterable[str] = (), since: float | None = None,
                           until: float | None = None, record: str | os.PathLike[str] | None = None) -> Report:
        source = Journal.open(journal, option="replay")
        keys = [t.key for t in expand_event_types(list(types))] if types else []
        selection = source.select(failed=failed, ids=ids, types=keys, since=since, until=until)
        same = {e.name for e in self.endpoints} == {r["name"] for r in source.endpoint_rows()}
        if not self.endpoints or same:
            try:
                self._adopt_endpoints(source)
            except BaseException:
                source.close()
                raise
            return await self._run(None, source, pending=selection, disabled={})
        # New endpoints: route afresh; the source journal is only read.
        rerouted = ([Outbound(e.line, e.id, e.type, e.tenant_id, e.timestamp, e.body)
                     for e in batch] for batch in _chunks(selection, 512))
        new_journal = None
        try:
            if record:
                Journal.refuse_existing(record)
                new_journal = functools.partial(
                    Journal.create, record, endpoints=[e.describe() for e in self.endpoints],
                    meta={"input": f"replay:{source.path}"}, options=self.run_options())
            return await self._run(rerouted, None, pending=None, disabled={}, new_journal=new_journal)
        finally:
            source.close()

    # -- setup ----------------------------------------------------------------------------

    def _require_endpoints(self) -> None:
        if not self.endpoints:
            raise EndpointConfigError("no endpoint: give --to URL (repeatable) or --endpoints FILE")

    def _adopt_endpoints(self, jr: Journal) -> None:
        """Match endpoints to a journal's: by name when given, else rebuilt from it (secrets from flags)."""
        rows = jr.endpoint_rows()
        if self.endpoints:
            by_name = {e.name: e for e in self.endpoints}
            missing = [r["name"] for r in rows if r["name"] not in by_name]
            if missing:
                raise EndpointConfigError(
                    f"the journal's endpoint {missing[0]!r} is not among the endpoints given; give the same "
                    "--to/--endpoints as the original run, or none to reuse the journal's URLs",
                    endpoint=missing[0])
            self.endpoints = tuple(by_name[r["name"]] for r in rows)
            _check_credentials(rows, self.endpoints)
            return
        rebuilt = []
        for r in rows:
            events = None if r["events"] == "all" else r["events"]
            rebuilt.append(Endpoint.from_url(r["url"], name=r["name"], events=events, secrets=self._secrets,
                                             token=self._token, headers=self._headers,
                                             concurrency=r.get("concurrency"), rate=r.get("rate")))
        self.endpoints = tuple(rebuilt)
        _check_credentials(rows, self.endpoints)

    # -- one run ------------------------------------------------------------------------------

    def settings(self) -> RunSettings:
        """The options a run goes by, checked."""
        return RunSettings(
            concurrency=self.concurrency, types=self.types, pace=self.pace, rate=self.rate, speed=self.speed,
            ordered=self.ordered, order_key=self.order_key, retry=self.retry, timeout=self.timeout,
            clock_skew=self.clock_skew, bad_signature=self.bad_signature, seed=self.seed,
            max_pending=self.max_pending)

    async def _run(self, batches: Iterator[list[Outbound]] | None, journal: Journal | None, *,
                   pending: Iterator[Outbound] | None, disabled: dict[int, str],
                   notes: tuple[str, ...] = (), new_journal: Callable[[], Journal] | None = None) -> Report:
        try:
            transport = self._transport or transport_for(self.app, limit=self.concurrency,
                                                         ca_file=self.ca_file, insecure=self.insecure)
            self._engine = engine = Engine(self.settings(), self.endpoints, transport, journal=journal,
                                           disabled=disabled, clock=self._clock, progress=self._progress)
        except BaseException:
            # Refused before the run started: release what the caller opened for it.
            for opened in (batches, pending, journal):
                close = getattr(opened, "close", None)
                if close is not None:
                    close()
            raise
        return await engine.run(batches, pending=pending, notes=notes, new_journal=new_journal)


def _check_credentials(rows: Sequence[Mapping[str, Any]], endpoints: Sequence[Endpoint]) -> None:
    """Refuse to continue unsigned (or without the token) what was signed: secrets are never stored."""
    for row, endpoint in zip(rows, endpoints, strict=True):
        if row.get("signed") and not endpoint.secrets:
            raise EndpointConfigError(
                f"endpoint {row['name']!r} was signed in the original run; give the secret again with "
                "--secret or CHESTSIM_SECRET (journals never store secrets)", endpoint=row["name"])
        if row.get("token") and not endpoint.token:
            raise EndpointConfigError(
                f"endpoint {row['name']!r} sent a bearer token in the original run; give it again with "
                "--token or CHESTSIM_TOKEN (journals never store tokens)", endpoint=row["name"])
        given = {name.lower() for name, _ in endpoint.headers}
        missing = [name for name in row.get("headers") or () if name.lower() not in given]
        if missing:
            raise EndpointConfigError(
                f"endpoint {row['name']!r} sent the header{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)} in the original run; give {'them' if len(missing) > 1 else 'it'} "
                "again with --header 'Name: value' or the same --endpoints file (journals never store "
                "header values)", endpoint=row["name"])


def _chunks(items: Iterator[Outbound], size: int) -> Iterator[list[Outbound]]:
    chunk: list[Outbound] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_STOPS: list[Callable[[], None]] = []  # how to stop each run under way, innermost last


def request_stop() -> bool:
    """Stop the run under way as Ctrl-C would (its in-flight deliveries end and are journalled,
    then ``KeyboardInterrupt``); False when no run is under way.

    For a SIGTERM handler when SIGINT is ignored (a ``&`` job in a script): then asyncio does
    not install its own Ctrl-C handler, and a KeyboardInterrupt raised at a random point would
    leave deliveries in flight unjournalled. Safe to call from a signal handler.
    """
    if not _STOPS:
        return False
    _STOPS[-1]()
    return True


def _run_sync(coro: Any) -> Report:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        stopped = False

        async def stoppable() -> Report:
            task, loop = asyncio.current_task(), asyncio.get_running_loop()
            assert task is not None

            def stop() -> None:
                nonlocal stopped
                stopped = True
                loop.call_soon_threadsafe(task.cancel)

            _STOPS.append(stop)
            try:
                outcome: Report = await coro
                return outcome
            finally:
                _STOPS.remove(stop)

        with _runner() as runner:
            try:
                return runner.run(stoppable())
            except asyncio.CancelledError:
                if stopped:
                    raise KeyboardInterrupt from None
                raise
    coro.close()
    raise UsageError("send() was called inside a running event loop; use `await Sender(...).send_async(...)`")


def _runner() -> asyncio.Runner:
    """The standard library's event loop, not uvloop. uvloop saved CPU while the loop watched
    every connection's socket itself; since the curl transport watches them on a poller of
    its own (one descriptor for the loop), the two spend the same CPU per delivery (sender
    208-235 µs under uvloop, 213-231 under asyncio, five rounds alternated against the bare
    sink, load 1.8-2.2, 2026-12-02), and the run went faster on asyncio in each of the five
    (median 4.2k against 3.1k deliveries/s), the sink spending less per request with it."""
    return asyncio.Runner()
