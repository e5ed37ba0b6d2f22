"""The delivery engine: route, accept into the journal, sign, send, retry, record.

One asyncio loop: a producer reads input in batches, routes each event to the
endpoints subscribed to its type, writes the batch to the journal (committed
before any of it is sent), paces it (``asap``, ``rate``, ``recorded``) and hands
deliveries to ``concurrency`` workers. A failed attempt waits on a timer, not
on a worker. ``--ordered`` keeps one delivery in flight per (endpoint, key) and
the rest queued behind it, so retries never reorder a tenant's events.
Memory stays bounded: at most ``max_pending`` deliveries exist at once.

>>> Sender(to=["http://127.0.0.1:9/hook"], retry="none")
Sender(endpoints=['http://127.0.0.1:9/hook'], concurrency=32, retry=RetryPolicy.parse('none', jitter=0.1, time_scale=1.0))
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, Any, Literal

from simulator._catalog import expand_event_types
from simulator._exceptions import DeliveryError, EndpointConfigError, InputError, UsageError
from simulator._signing import Fault, Signer, SigningSecret, parse_secrets
from simulator.delivery._endpoints import Endpoint, Router
from simulator.delivery._input import Outbound, epoch_of, read_batches
from simulator.delivery._journal import Journal
from simulator.delivery._report import Report, Stats
from simulator.delivery._retry import RetryPolicy, parse_retry_after
from simulator.delivery._transports import (
    USER_AGENT,
    Transport,
    fixed_headers,
    request_headers,
    transport_for,
)

__all__ = ["USER_AGENT", "Pace", "Sender"]

Pace = Literal["asap", "rate", "recorded"]
EventSource = str | os.PathLike[str] | IO[bytes] | Iterable[Mapping[str, Any] | bytes | str]

_FLUSH_EVERY = 0.2


class _Job:
    """One delivery (an event to one endpoint) across its attempts."""

    __slots__ = ("attempt", "ep", "ev", "seq", "timer")

    def __init__(self, ev: Outbound, seq: int, ep: int) -> None:
        self.ev = ev
        self.seq = seq
        self.ep = ep
        self.attempt = 0
        self.timer: asyncio.TimerHandle | None = None


class _RateLimiter:
    """Spaces calls ``1/rate`` apart on the loop clock (a leaky bucket without burst)."""

    __slots__ = ("_interval", "_next")

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0

    async def wait(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        slot = max(self._next, now)
        self._next = slot + self._interval
        if slot - now > 0.0005:
            await asyncio.sleep(slot - now)


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
        progress: Callable[[int, int], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secrets = parse_secrets(secrets)
        self._token = token or None
        built = [Endpoint.from_url(u, secrets=self._secrets, token=self._token) for u in to]
        self.endpoints: tuple[Endpoint, ...] = tuple(built) + tuple(endpoints)
        if concurrency < 1:
            raise UsageError(f"--concurrency={concurrency!r} must be a whole number ≥ 1")
        if rate is not None and not rate > 0:
            raise UsageError(f"--rate={rate!r} must be a positive number of events per second")
        if not speed > 0:
            raise UsageError(f"--speed={speed!r} must be a positive factor, like 60")
        if not timeout > 0:
            raise UsageError(f"--timeout={timeout!r} must be a positive number of seconds, like 15")
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
        self.insecure = insecure
        self.seed = seed
        self.max_pending = max_pending or max(4096, concurrency * 64)
        self._progress = progress
        self._clock = clock
        self._live: tuple[_Run, float] | None = None

    def run_options(self) -> dict[str, Any]:
        """The delivery options a journal stores, as plain values; ``Sender(**run_options())``
        rebuilds them. Never a secret, a token or an endpoint (endpoints are stored apart,
        without credentials); ``app`` and ``transport`` are objects and are not stored.

        >>> Sender(retry="1s,5s", rate=200).run_options()["retry"]
        '1.0,5.0'
        """
        return {
            "types": sorted(self.types) if self.types is not None else None,
            "concurrency": self.concurrency, "rate": self.rate, "pace": self.pace, "speed": self.speed,
            "ordered": self.ordered, "order_key": self.order_key, "retry": self.retry.spec,
            "jitter": self.retry.jitter, "time_scale": self.retry.time_scale, "timeout": self.timeout,
            "clock_skew": self.clock_skew, "bad_signature": self.bad_signature, "seed": self.seed,
        }

    def partial_report(self) -> Report | None:
        """The summary so far of the run in progress, or of the last run (interrupted or not);
        ``None`` before any run. ``chestsim send`` prints it when interrupted."""
        if self._live is None:
            return None
        run, since = self._live
        return run.stats.report(seconds=time.perf_counter() - since,
                                journal=run.journal.path if run.journal is not None else None,
                                notes=tuple(run.notes))

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
            if meta.get("input_done") != "1":
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
                                             token=self._token, concurrency=r.get("concurrency"),
                                             rate=r.get("rate")))
        self.endpoints = tuple(rebuilt)
        _check_credentials(rows, self.endpoints)

    # -- the engine -----------------------------------------------------------------------

    async def _run(self, batches: Iterator[list[Outbound]] | None, journal: Journal | None, *,
                   pending: Iterator[Outbound] | None, disabled: dict[int, str],
                   notes: tuple[str, ...] = (), new_journal: Callable[[], Journal] | None = None) -> Report:
        """One run; ``new_journal`` makes its journal once the transport is open (an in-process
        app started), so that a run that cannot start leaves no journal behind."""
        run = _Run(self, journal, disabled)
        self._live = (run, time.perf_counter())
        input_error: InputError | None = None
        try:
            await run.open()
            if new_journal is not None:
                run.journal = journal = new_journal()
            started = time.perf_counter()
            run.start()
            if self._progress is not None:  # the run has started: a first progress report, at zero
                self._progress(0, 0)
            try:
                if pending is not None:
                    await run.feed_pending(pending)
                if batches is not None:
                    await run.feed(batches)
            except InputError as exc:
                input_error = exc
            await run.drain()
        except asyncio.CancelledError:
            # Interrupted (Ctrl-C, SIGTERM): no delivery starts any more, those in flight get
            # their answer and it is journalled, so a --resume sends each of the rest once.
            await run.settle()
            raise
        finally:
            if batches is not None:
                _close(batches)
            try:
                await run.stop()
            finally:
                if journal is not None:
                    journal.close()
        seconds = time.perf_counter() - started
        if input_error is not None:
            where = f"; fix it and continue with --resume {journal.path}" if journal is not None else ""
            raise InputError(f"{input_error}{where} ({run.stats.delivered_count} deliveries made before "
                             "it are not sent again)", path=input_error.path, line=input_error.line)
        return run.stats.report(seconds=seconds, journal=journal.path if journal else None,
                                notes=notes + tuple(run.notes))


class _Run:
    """The state of one run. Lives on one event loop."""

    def __init__(self, sender: Sender, journal: Journal | None, disabled: dict[int, str]) -> None:
        self.s = sender
        self.journal = journal
        self.endpoints = sender.endpoints
        self.router = Router(self.endpoints)
        self.stats = Stats()
        self.rng = random.Random(sender.seed)
        self.disabled = dict(disabled)
        for idx, why in disabled.items():
            self.stats.disabled[self.endpoints[idx].name] = why
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.outstanding = 0
        self.room = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        #: Set once interrupted: no attempt starts; ``quiet`` is set when the last in flight ends.
        self.closing = False
        self.inflight = 0
        self.quiet = asyncio.Event()
        #: Said at the end of the report (an in-process app whose shutdown failed).
        self.notes: list[str] = []
        self.chains: dict[tuple[int, str], collections.deque[_Job]] = {}
        self.waiting: dict[int, set[_Job]] = collections.defaultdict(set)
        self.tasks: list[asyncio.Task[None]] = []
        self.transport: Transport = sender._transport or transport_for(
            sender.app, limit=sender.concurrency, ca_file=sender.ca_file, insecure=sender.insecure)
        self.urls = [self.transport.prepare_url(e.url) for e in self.endpoints]
        self.fixed = [fixed_headers(token=e.token, custom=e.headers, where=f"endpoint {e.name!r}")
                      for e in self.endpoints]
        fault: Fault | None = "wrong-secret" if sender.bad_signature else None
        self.signers = [Signer(e.secrets, clock=sender._clock, skew=sender.clock_skew, fault=fault, rng=self.rng)
                        for e in self.endpoints]
        self.ep_limits = [asyncio.Semaphore(e.concurrency) if e.concurrency else None for e in self.endpoints]
        self.ep_rates = [_RateLimiter(e.rate) if e.rate else None for e in self.endpoints]
        self.pacer = _RateLimiter(sender.rate) if sender.rate else None
        self.loop = asyncio.get_running_loop()

    async def open(self) -> None:
        """Open the transport: an in-process ASGI app's lifespan starts here, before anything
        is read, journalled or sent (``UsageError`` when its startup fails)."""
        await self.transport.open()

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._worker()) for _ in range(self.s.concurrency)]
        self.tasks.append(asyncio.create_task(self._flusher()))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for jobs in self.waiting.values():
            for job in jobs:
                if job.timer is not None:
                    job.timer.cancel()
        try:
            await self.transport.close()
        except DeliveryError as exc:
            # An in-process app's lifespan shutdown failed after the last delivery: what was
            # delivered stands, so the report says so instead of being lost to the error.
            self.notes.append(str(exc))

    async def drain(self) -> None:
        while self.outstanding:
            self.idle.clear()
            await self.idle.wait()

    async def settle(self) -> None:
        """Start no more attempts and wait for those in flight to end (each is bounded by the
        per-attempt timeout); their outcomes are journalled as usual."""
        self.closing = True
        if self.inflight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.quiet.wait(), self.s.timeout + 5)

    # -- producing ------------------------------------------------------------------------

    async def _room_for(self, n: int) -> None:
        limit = self.s.max_pending
        while self.outstanding and self.outstanding + n > limit:
            self.room.clear()
            await self.room.wait()

    async def feed(self, batches: Iterator[list[Outbound]]) -> None:
        loop = self.loop
        types = self.s.types
        last_line = 0
        exhausted = object()
        while True:
            # Reading runs off the loop so a slow pipe never stalls deliveries in flight.
            batch = await loop.run_in_executor(None, next, batches, exhausted)
            if batch is exhausted:
                break
            assert isinstance(batch, list)
            routed: list[tuple[Outbound, tuple[int, ...]]] = []
            stats = self.stats
            for ev in batch:
                stats.events += 1
                if types is not None and ev.type not in types:
                    stats.skipped += 1
                    continue
                targets = self.router.targets(ev.type)
                if not targets:
                    stats.unrouted += 1
                    continue
                routed.append((ev, targets))
            last_line = batch[-1].line if batch else last_line
            await self._room_for(sum(len(t) for _, t in routed))
            if self.journal is not None:
                seqs = self.journal.accept(routed, lines_read=last_line)
            else:
                seqs = list(range(len(routed)))
            for (ev, targets), seq in zip(routed, seqs, strict=True):
                await self._pace(ev)
                for ep in targets:
                    self._dispatch(_Job(ev, seq, ep))
        if self.journal is not None:
            self.journal.accept((), input_done=True)

    async def feed_pending(self, pending: Iterator[Outbound]) -> None:
        for ev in pending:
            self.stats.events += 1
            if self.s.ordered and not ev.key:
                ev = _with_key(ev, self.s.order_key)
            targets = ev.targets or ()
            await self._room_for(len(targets))
            await self._pace(ev)
            for ep in targets:
                self._dispatch(_Job(ev, ev.seq, ep))

    _t0: tuple[float, float] | None = None

    async def _pace(self, ev: Outbound) -> None:
        if self.s.pace == "asap":
            if self.pacer is not None:
                await self.pacer.wait(self.loop)
            return
        if self.s.pace == "rate":
            assert self.pacer is not None
            await self.pacer.wait(self.loop)
            return
        when = epoch_of(ev.timestamp)
        if when is None:
            return
        if self._t0 is None:
            self._t0 = (self.loop.time(), when)
        due = self._t0[0] + (when - self._t0[1]) / self.s.speed
        delay = due - self.loop.time()
        if delay > 0.0005:
            await asyncio.sleep(delay)

    def _dispatch(self, job: _Job) -> None:
        self.outstanding += 1
        self.stats.deliveries += 1
        if self.s.ordered:
            key = (job.ep, job.ev.key)
            chain = self.chains.get(key)
            if chain is not None:
                chain.append(job)
                return
            self.chains[key] = collections.deque()
        self.queue.put_nowait(job)

    def _finish(self, job: _Job) -> None:
        self.outstanding -= 1
        if self.s.ordered:
            key = (job.ep, job.ev.key)
            chain = self.chains.get(key)
            if chain:
                self.queue.put_nowait(chain.popleft())
            else:
                self.chains.pop(key, None)
        if self.outstanding + 512 <= self.s.max_pending:
            self.room.set()
        if not self.outstanding:
            self.idle.set()

    # -- delivering -----------------------------------------------------------------------

    async def _worker(self) -> None:
        queue, journal, stats = self.queue, self.journal, self.stats
        retry, timeout = self.s.retry, self.s.timeout
        send = self.transport.send
        perf = time.perf_counter
        while True:
            job = await queue.get()
            ep_index = job.ep
            endpoint = self.endpoints[ep_index]
            ev = job.ev
            if ep_index in self.disabled:
                self._dead(job, f"endpoint disabled earlier in the run ({self.disabled[ep_index]})", None)
                continue
            limit = self.ep_limits[ep_index]
            if limit is not None:
                await limit.acquire()
            try:
                if (limiter := self.ep_rates[ep_index]) is not None:
                    await limiter.wait(self.loop)
                if self.closing:
                    return  # interrupted: the job stays owed in the journal
                headers = request_headers(self.fixed[ep_index], self.signers[ep_index], ev.id, ev.body)
                started = perf()
                self.inflight += 1
                try:
                    resp = await send(self.urls[ep_index], ev.body, headers, timeout)
                finally:
                    self.inflight -= 1
                    if self.closing and not self.inflight:
                        self.quiet.set()
                latency = perf() - started
            finally:
                if limit is not None:
                    limit.release()
            job.attempt += 1
            stats.attempts += 1
            status = resp.status
            if status:
                stats.latencies.append(latency)
            if 200 <= status < 300:
                if journal is not None:
                    journal.attempt(job.seq, ep_index, job.attempt, status, latency * 1000, None, "delivered")
                    journal.outcome(job.seq, ep_index, "delivered", job.attempt, status, None)
                stats.delivered(ev.type, endpoint.name, attempts=job.attempt, latency=latency)
                self._finish(job)
                continue
            error = resp.error or f"HTTP {status}"
            if status == 410:
                if journal is not None:
                    journal.attempt(job.seq, ep_index, job.attempt, status, latency * 1000, error, "dead")
                self._disable(ep_index, "410 Gone: the endpoint asked to be disabled")
                self._dead(job, "410 Gone: endpoint disabled", status, record_attempt=False)
                continue
            after = parse_retry_after(resp.retry_after) if status in (429, 503) else None
            delay = retry.delay(job.attempt, self.rng, retry_after=after)
            if delay is None:
                if journal is not None:
                    journal.attempt(job.seq, ep_index, job.attempt, status or None, latency * 1000, error, "dead")
                self._dead(job, f"retries exhausted after {job.attempt} attempt"
                           f"{'s' if job.attempt > 1 else ''} (last: {_reason(status, resp.error)})",
                           status or None, record_attempt=False)
                continue
            if journal is not None:
                journal.attempt(job.seq, ep_index, job.attempt, status or None, latency * 1000, error, "retry")
            self._later(job, delay)

    def _later(self, job: _Job, delay: float) -> None:
        waiting = self.waiting[job.ep]
        waiting.add(job)

        def wake() -> None:
            waiting.discard(job)
            job.timer = None
            self.queue.put_nowait(job)

        job.timer = self.loop.call_later(delay, wake)

    def _disable(self, ep_index: int, why: str) -> None:
        if ep_index in self.disabled:
            return
        self.disabled[ep_index] = why
        self.stats.disabled[self.endpoints[ep_index].name] = why
        if self.journal is not None:
            self.journal.disable(ep_index, why)
        # Deliveries waiting to retry this endpoint are dead-lettered now, not hours from now.
        for job in list(self.waiting.pop(ep_index, ())):
            if job.timer is not None:
                job.timer.cancel()
                job.timer = None
            self.queue.put_nowait(job)

    def _dead(self, job: _Job, reason: str, status: int | None, *, record_attempt: bool = True) -> None:
        if self.journal is not None:
            if record_attempt:
                self.journal.attempt(job.seq, job.ep, job.attempt, status, 0.0, reason, "dead")
            self.journal.outcome(job.seq, job.ep, "dead", job.attempt, status, reason)
        self.stats.dead(job.ev.type, self.endpoints[job.ep].name, attempts=job.attempt, reason=reason)
        self._finish(job)

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_EVERY)
            if self.journal is not None:
                self.journal.flush()
            if self.s._progress is not None:
                self.s._progress(self.stats.done, self.stats.deliveries)


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


def _close(batches: Iterator[list[Outbound]]) -> None:
    close = getattr(batches, "close", None)
    if close is not None:
        close()


def _reason(status: int, error: str | None) -> str:
    if status:
        return f"HTTP {status}"
    return error or "no response"


def _with_key(ev: Outbound, order_key: str) -> Outbound:
    import orjson

    from simulator.delivery._input import _order_key

    try:
        envelope = orjson.loads(ev.body)
    except orjson.JSONDecodeError:
        return ev
    return Outbound(ev.line, ev.id, ev.type, ev.tenant_id, ev.timestamp, ev.body,
                    _order_key(envelope, order_key) if isinstance(envelope, dict) else "", ev.seq, ev.targets)


def _chunks(items: Iterator[Outbound], size: int) -> Iterator[list[Outbound]]:
    chunk: list[Outbound] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _run_sync(coro: Any) -> Report:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        result: Report = asyncio.run(coro)
        return result
    coro.close()
    raise UsageError("send() was called inside a running event loop; use `await Sender(...).send_async(...)`")
