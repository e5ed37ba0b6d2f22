"""The delivery engine: route, accept into the journal, pace, sign, send, retry, record.

One asyncio loop: ``feed`` reads input in batches, routes each event to the
endpoints subscribed to its type, writes the batch to the journal (committed
before any of it is sent), paces it and hands deliveries to ``concurrency``
workers. A failed attempt waits on a timer, not on a worker. ``ordered`` keeps
one delivery in flight per (endpoint, key) and the rest queued behind it, so
retries never reorder a tenant's events. Memory stays bounded: at most
``max_pending`` deliveries exist at once.

A delivery that raises (a stage of chestsim's own failed: signing, the transport,
the journal…) is dead-lettered with the stage's reason; the run goes on and ends.
``progress()`` says how far the run is, and how many deliveries wait to retry and
when the next one is due.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from simulator._exceptions import DeliveryError, InputError
from simulator._signing import Fault, Signer
from simulator.delivery._endpoints import Endpoint, Router
from simulator.delivery._input import Outbound, with_key
from simulator.delivery._journal import Journal
from simulator.delivery._pacing import Pace, Pacer, RateLimiter
from simulator.delivery._report import Report, Stats
from simulator.delivery._retry import RetryPolicy, parse_retry_after
from simulator.delivery._transports import Transport, fixed_headers, request_headers

__all__ = ["Engine", "Progress", "RunSettings"]

_FLUSH_EVERY = 0.2


@dataclass(frozen=True, slots=True)
class RunSettings:
    """The options one run goes by (``Sender`` holds and checks them)."""

    retry: RetryPolicy
    concurrency: int = 32
    types: frozenset[str] | None = None
    pace: Pace = "asap"
    rate: float | None = None
    speed: float = 1.0
    ordered: bool = False
    order_key: str = "tenant"
    timeout: float = 15.0
    clock_skew: float = 0.0
    bad_signature: bool = False
    seed: int | None = None
    max_pending: int = 4096


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a run is: ``done`` of ``total`` deliveries ended; ``waiting`` wait to retry, the
    next in ``next_retry_in`` seconds (``None`` when none waits).

    >>> Progress(done=2634, total=2635, waiting=1, next_retry_in=299.2).describe()
    '1 waiting to retry, next in 4m59s'
    """

    done: int
    total: int
    waiting: int = 0
    next_retry_in: float | None = None

    def describe(self) -> str:
        """The retry part of a progress line ('' when nothing waits)."""
        if not self.waiting or self.next_retry_in is None:
            return ""
        return f"{self.waiting} waiting to retry, next in {_duration(self.next_retry_in)}"


def _duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class _Job:
    """One delivery (an event to one endpoint) across its attempts."""

    __slots__ = ("attempt", "due", "ended", "ep", "ev", "seq", "timer")

    def __init__(self, ev: Outbound, seq: int, ep: int) -> None:
        self.ev = ev
        self.seq = seq
        self.ep = ep
        self.attempt = 0
        self.ended = False
        self.due = 0.0
        self.timer: asyncio.TimerHandle | None = None


class _Ready:
    """The deliveries waiting for a worker, and the workers waiting for one.

    ``asyncio.Queue`` without what a run never uses (a bound, ``task_done``): a delivery is
    handed to a waiting worker directly, and a worker takes a ready one without suspending.
    """

    __slots__ = ("_jobs", "_loop", "_workers")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._jobs: collections.deque[_Job] = collections.deque()
        self._workers: collections.deque[asyncio.Future[_Job]] = collections.deque()
        self._loop = loop

    def put(self, job: _Job) -> None:
        workers = self._workers
        while workers:
            worker = workers.popleft()
            if not worker.done():
                worker.set_result(job)
                return
        self._jobs.append(job)

    def take(self) -> _Job | None:
        """A ready delivery, or ``None``."""
        return self._jobs.popleft() if self._jobs else None

    async def wait(self) -> _Job:
        """The next delivery put, waiting for it."""
        worker: asyncio.Future[_Job] = self._loop.create_future()
        self._workers.append(worker)
        try:
            return await worker
        except asyncio.CancelledError:
            # Cancelled (the run stops) after a delivery was handed over: it is not lost.
            if worker.done() and not worker.cancelled():
                self._jobs.appendleft(worker.result())
            raise


class Engine:
    """One run, on one event loop. ``run`` drives it from start to report."""

    def __init__(self, settings: RunSettings, endpoints: Sequence[Endpoint], transport: Transport, *,
                 journal: Journal | None = None, disabled: dict[int, str] | None = None,
                 clock: Callable[[], float] = time.time,
                 progress: Callable[[Progress], None] | None = None) -> None:
        self.settings = settings
        self.journal = journal
        self.endpoints = tuple(endpoints)
        self.transport = transport
        self.router = Router(self.endpoints)
        self.stats = Stats()
        self.rng = random.Random(settings.seed)
        self.disabled = dict(disabled or {})
        for idx, why in self.disabled.items():
            self.stats.disabled[self.endpoints[idx].name] = why
        self.loop = asyncio.get_running_loop()
        self.queue = _Ready(self.loop)
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
        #: Why the run cannot go on (the journal cannot be written); raised by ``drain``.
        self.broken: BaseException | None = None
        self.chains: dict[tuple[int, str], collections.deque[_Job]] = {}
        self.waiting: dict[int, set[_Job]] = collections.defaultdict(set)
        self.tasks: list[asyncio.Task[None]] = []
        self._progress = progress
        self.started = time.perf_counter()
        self.urls = [transport.prepare_url(e.url) for e in self.endpoints]
        self.fixed = [fixed_headers(token=e.token, custom=e.headers, where=f"endpoint {e.name!r}")
                      for e in self.endpoints]
        fault: Fault | None = "wrong-secret" if settings.bad_signature else None
        self.signers = [Signer(e.secrets, clock=clock, skew=settings.clock_skew, fault=fault, rng=self.rng)
                        for e in self.endpoints]
        self.ep_limits = [asyncio.Semaphore(e.concurrency) if e.concurrency else None for e in self.endpoints]
        self.ep_rates = [RateLimiter(e.rate) if e.rate else None for e in self.endpoints]
        self.pacer = Pacer(settings.pace, rate=settings.rate, speed=settings.speed)

    # -- one run, start to report -------------------------------------------------------------

    async def run(self, batches: Iterator[list[Outbound]] | None, *, pending: Iterator[Outbound] | None = None,
                  notes: tuple[str, ...] = (), new_journal: Callable[[], Journal] | None = None) -> Report:
        """Deliver ``pending`` (journalled, owed) then ``batches`` (new input); ``new_journal``
        makes the journal once the transport is open (an in-process app started), so that a
        run that cannot start leaves no journal behind."""
        input_error: InputError | None = None
        self.started = time.perf_counter()
        try:
            await self.transport.open()
            if new_journal is not None:
                self.journal = new_journal()
            self.started = time.perf_counter()
            self.start()
            self._tell(Progress(0, 0))  # the run has started: a first progress report, at zero
            try:
                if pending is not None:
                    await self.feed_pending(pending)
                if batches is not None:
                    await self.feed(batches)
            except InputError as exc:
                input_error = exc
            await self.drain()
        except asyncio.CancelledError:
            # Interrupted (Ctrl-C, SIGTERM): no delivery starts any more, those in flight get
            # their answer and it is journalled, so a --resume sends each of the rest once.
            await self.settle()
            raise
        finally:
            if batches is not None:
                _close(batches)
            try:
                await self.stop()
            finally:
                if self.journal is not None:
                    self._close_journal(self.journal)
        seconds = time.perf_counter() - self.started
        journal = self.journal
        if input_error is not None:
            where = f"; fix it and continue with --resume {journal.path}" if journal is not None else ""
            raise InputError(f"{input_error}{where} ({self.stats.delivered_count} deliveries made before "
                             "it are not sent again)", path=input_error.path, line=input_error.line)
        return self.stats.report(seconds=seconds, journal=journal.path if journal else None,
                                 notes=notes + tuple(self.notes))

    def partial_report(self) -> Report:
        """The summary so far (of a run in progress, or interrupted)."""
        return self.stats.report(seconds=time.perf_counter() - self.started,
                                 journal=self.journal.path if self.journal is not None else None,
                                 notes=tuple(self.notes))

    def _close_journal(self, journal: Journal) -> None:
        try:
            journal.close()
        except Exception:
            if self.broken is None:
                raise
            # The run stopped because the journal could not be written: that is the error to say.

    def progress(self) -> Progress:
        """How far the run is, and what waits to retry."""
        timers = [job.due for jobs in self.waiting.values() for job in jobs if job.timer is not None]
        next_in = max(0.0, min(timers) - self.loop.time()) if timers else None
        return Progress(self.stats.done, self.stats.deliveries, len(timers), next_in)

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._worker()) for _ in range(self.settings.concurrency)]
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
        while self.outstanding and self.broken is None:
            self.idle.clear()
            await self.idle.wait()
        if self.broken is not None:
            raise DeliveryError(f"the run stopped: {self.broken}") from self.broken

    async def settle(self) -> None:
        """Start no more attempts and wait for those in flight to end (each is bounded by the
        per-attempt timeout); their outcomes are journalled as usual."""
        self.closing = True
        if self.inflight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.quiet.wait(), self.settings.timeout + 5)

    # -- producing ----------------------------------------------------------------------------

    async def _room_for(self, n: int) -> None:
        limit = self.settings.max_pending
        while self.outstanding and self.outstanding + n > limit and self.broken is None:
            self.room.clear()
            await self.room.wait()

    async def feed(self, batches: Iterator[list[Outbound]]) -> None:
        loop = self.loop
        types = self.settings.types
        last_line = 0
        exhausted = object()
        # Reading runs off the loop so a slow pipe never stalls deliveries in flight; a regular
        # file is read on the loop (handing each batch over from a thread cost a context switch
        # and the GIL going back and forth while the thread parsed).
        inline = getattr(batches, "never_waits", False)
        while True:
            if inline:
                # A turn of the loop before each batch: workers send what was accepted before the
                # next batch is parsed, even when few events are routed and nothing waits for room.
                await asyncio.sleep(0)
                batch = next(batches, exhausted)
            else:
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
            if self.broken is not None:
                return
            if self.journal is not None:
                seqs = self.journal.accept(routed, lines_read=last_line)
            else:
                seqs = list(range(len(routed)))
            pacer = self.pacer
            for (ev, targets), seq in zip(routed, seqs, strict=True):
                if pacer.holds:
                    await pacer.wait(ev.timestamp, loop)
                for ep in targets:
                    self._dispatch(_Job(ev, seq, ep))
        if self.journal is not None:
            self.journal.accept((), input_done=True)

    async def feed_pending(self, pending: Iterator[Outbound]) -> None:
        for ev in pending:
            self.stats.events += 1
            if self.settings.ordered and not ev.key:
                ev = with_key(ev, self.settings.order_key)
            targets = ev.targets or ()
            await self._room_for(len(targets))
            if self.broken is not None:
                return
            await self.pacer.wait(ev.timestamp, self.loop)
            for ep in targets:
                self._dispatch(_Job(ev, ev.seq, ep))

    def _dispatch(self, job: _Job) -> None:
        self.outstanding += 1
        self.stats.deliveries += 1
        if self.settings.ordered:
            key = (job.ep, job.ev.key)
            chain = self.chains.get(key)
            if chain is not None:
                chain.append(job)
                return
            self.chains[key] = collections.deque()
        self.queue.put(job)

    def _finish(self, job: _Job) -> None:
        if job.ended:
            return
        job.ended = True
        self.outstanding -= 1
        if self.settings.ordered:
            key = (job.ep, job.ev.key)
            chain = self.chains.get(key)
            if chain:
                self.queue.put(chain.popleft())
            else:
                self.chains.pop(key, None)
        if self.outstanding + 512 <= self.settings.max_pending:
            self.room.set()
        if not self.outstanding:
            self.idle.set()

    # -- delivering ---------------------------------------------------------------------------

    async def _worker(self) -> None:
        ready = self.queue
        while True:
            job = ready.take() or await ready.wait()
            try:
                if await self._deliver(job):
                    return  # interrupted: the job stays owed in the journal
            except Exception as exc:
                self._crashed(job, exc)

    async def _deliver(self, job: _Job) -> bool:
        """One attempt of ``job`` and what follows from its answer; ``True`` when the run is closing."""
        journal, stats = self.journal, self.stats
        ep_index, ev = job.ep, job.ev
        if ep_index in self.disabled:
            self._dead(job, f"endpoint disabled earlier in the run ({self.disabled[ep_index]})", None)
            return False
        limit = self.ep_limits[ep_index]
        if limit is not None:
            await limit.acquire()
        try:
            if (limiter := self.ep_rates[ep_index]) is not None:
                await limiter.wait(self.loop)
            if self.closing:
                return True
            headers = request_headers(self.fixed[ep_index], self.signers[ep_index], ev.id, ev.body)
            started = time.perf_counter()
            self.inflight += 1
            try:
                resp = await self.transport.send(self.urls[ep_index], ev.body, headers, self.settings.timeout)
            finally:
                self.inflight -= 1
                if self.closing and not self.inflight:
                    self.quiet.set()
            latency = time.perf_counter() - started
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
                journal.delivered(job.seq, ep_index, job.attempt, status, latency * 1000)
            stats.delivered(ev.type, self.endpoints[ep_index].name, attempts=job.attempt, latency=latency)
            self._finish(job)
            return False
        error = resp.error or f"HTTP {status}"
        if status == 410:
            if journal is not None:
                journal.attempt(job.seq, ep_index, job.attempt, status, latency * 1000, error, "dead")
            self._disable(ep_index, "410 Gone: the endpoint asked to be disabled")
            self._dead(job, "410 Gone: endpoint disabled", status, record_attempt=False)
            return False
        after = parse_retry_after(resp.retry_after) if status in (429, 503) else None
        delay = self.settings.retry.delay(job.attempt, self.rng, retry_after=after)
        if delay is None:
            if journal is not None:
                journal.attempt(job.seq, ep_index, job.attempt, status or None, latency * 1000, error, "dead")
            self._dead(job, f"retries exhausted after {job.attempt} attempt"
                       f"{'s' if job.attempt > 1 else ''} (last: {_reason(status, resp.error)})",
                       status or None, record_attempt=False)
            return False
        if journal is not None:
            journal.attempt(job.seq, ep_index, job.attempt, status or None, latency * 1000, error, "retry")
        self._later(job, delay)
        return False

    def _crashed(self, job: _Job, exc: Exception) -> None:
        """A stage of chestsim's own raised: dead-letter the delivery, never wait on it.

        The reason names the exception's type only: its text may quote a header value."""
        reason = f"chestsim could not deliver it ({type(exc).__name__} while sending); nothing more is tried"
        if job.ended or job.timer is not None:
            return
        try:
            self._dead(job, reason, None)
        except Exception:
            if not job.ended:
                self.stats.dead(job.ev.type, self.endpoints[job.ep].name, attempts=job.attempt, reason=reason)
            self._finish(job)

    def _later(self, job: _Job, delay: float) -> None:
        waiting = self.waiting[job.ep]
        waiting.add(job)

        def wake() -> None:
            waiting.discard(job)
            job.timer = None
            self.queue.put(job)

        job.due = self.loop.time() + delay
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
            self.queue.put(job)

    def _dead(self, job: _Job, reason: str, status: int | None, *, record_attempt: bool = True) -> None:
        try:
            if self.journal is not None:
                if record_attempt:
                    self.journal.attempt(job.seq, job.ep, job.attempt, status, 0.0, reason, "dead")
                self.journal.outcome(job.seq, job.ep, "dead", job.attempt, status, reason)
        finally:
            self.stats.dead(job.ev.type, self.endpoints[job.ep].name, attempts=job.attempt, reason=reason)
            self._finish(job)

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_EVERY)
            if self.journal is not None:
                try:
                    self.journal.flush()
                except Exception as exc:
                    self.broken = DeliveryError(f"the journal {self.journal.path!r} cannot be written "
                                                f"({type(exc).__name__}); what it holds stands, "
                                                f"--resume continues once it can be written")
                    self.idle.set()
                    self.room.set()
                    return
            self._tell(self.progress())

    def _tell(self, progress: Progress) -> None:
        if self._progress is None:
            return
        try:
            self._progress(progress)
        except Exception as exc:
            self._progress = None
            self.notes.append(f"the progress display failed ({type(exc).__name__}); the run went on without it")


def _close(batches: Iterator[list[Outbound]]) -> None:
    close = getattr(batches, "close", None)
    if close is not None:
        close()


def _reason(status: int, error: str | None) -> str:
    if status:
        return f"HTTP {status}"
    return error or "no response"
