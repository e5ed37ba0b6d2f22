"""``Certifier``: sends a plan's cases to one target through the transport package, and grades.

Only the given target is ever contacted: a URL through the network transport, or an
ASGI/WSGI app in process (its lifespan runs around the cases). Every loop is bounded:
in count (the plan states its requests before the first is sent), in time (each
request 15 s at most, the whole run a budget), and in rate (``Settings.rate``).

A request the target does not answer because it went away (connection refused or
reset) after a hostile case stops the run: the cases left are ``skip``, and the card
says after which case the listener stopped answering.

>>> Certifier("http://127.0.0.1:9/webhooks", secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
Certifier(target='http://127.0.0.1:9/webhooks', profile='quick')
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from simulator._exceptions import InvalidURL, UsageError
from simulator._signing import SigningSecret, parse_secrets
from simulator.certify._cases import HINTS, Case, Plan, Settings, make_plan
from simulator.certify._report import CaseResult, CertifyReport, Sent, percentile, worst
from simulator.delivery._transports import (
    Transport,
    fixed_headers,
    is_asgi,
    transport_for,
)
from simulator.delivery._urls import check_url, is_loopback
from simulator.testing import _hostile as hostile
from simulator.testing._delivery import Delivery

__all__ = ["Certifier"]

# In-process requests need a host; nothing resolves it.
_IN_PROCESS = "http://testserver"
# How the app transport says an in-process app raised instead of answering.
_APP_RAISED = "the app raised"
# Cases in a row without any answer after which a run stops (each waited the whole timeout).
_SILENT_CASES = 3
# Errors that mean nobody answers at the URL any more (as opposed to a slow answer).
_GONE = ("cannot connect", "connection closed", "connection error", "ConnectError", "RemoteProtocolError")


class _Spacer:
    """Spaces requests ``1/rate`` apart on the loop clock: the rate cap that protects the target.

    The same leaky bucket without burst as the sender's pacing: each caller takes the next
    slot before it awaits, so concurrent callers queue in order without a lock.
    """

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        now = asyncio.get_running_loop().time()
        slot = max(self._next, now)
        self._next = slot + self._interval
        if slot - now > 0.0005:
            await asyncio.sleep(slot - now)


class Certifier:
    """Certifies one listener: ``plan()`` says what will be sent, ``run()`` sends it and grades.

    ``target`` is a URL, an object with a ``.url`` (a running ``chest_listener``), or an
    ASGI/WSGI app (posted into at ``path``). ``on_plan`` is called with the plan before the
    first request (the CLI prints its one line there).
    """

    def __init__(self, target: Any, *, secret: str | SigningSecret | Sequence[str | SigningSecret],
                 token: str | None = None, settings: Settings | None = None, path: str = "/webhooks",
                 ca_file: str | None = None, insecure: bool = False,
                 now: Callable[[], float] = time.time,
                 on_plan: Callable[[Plan], None] | None = None) -> None:
        secrets = parse_secrets([secret] if isinstance(secret, str | SigningSecret) else secret)
        if not secrets:
            raise UsageError("certify needs the endpoint's signing secret: give --secret whsec_… "
                             "or set CHESTSIM_SECRET")
        self.secret = secrets[0]
        self.token = token or None
        # Checked where it enters (control characters refused), assembled by the transport package.
        self._bearer = fixed_headers(token=self.token, where="--token")["authorization"] if self.token else None
        self.settings = settings or Settings()
        self.ca_file = ca_file
        self.insecure = insecure
        self.now = now
        self.on_plan = on_plan
        self.app: Any = None
        if isinstance(target, str) or isinstance(getattr(target, "url", None), str):
            self.url = _checked_url(target if isinstance(target, str) else target.url)
            self.name = self.url
        elif callable(target):
            self.app = target
            self.url = _IN_PROCESS + path
            self.name = f"in-process {'ASGI' if is_asgi(target) else 'WSGI'} app {_app_name(target)}{path}"
        else:
            raise UsageError(f"target={target!r} is neither a URL nor an ASGI/WSGI app; give "
                             "http(s)://host:port/path or the app object")
        self._spacer: _Spacer | None = None
        self._transport: Transport | None = None
        self._sent = 0

    def __repr__(self) -> str:
        return f"Certifier(target={self.name!r}, profile={self.settings.profile!r})"

    @property
    def https(self) -> bool:
        return self.app is None and self.url.lower().startswith("https://")

    def plan(self, *, now: float | None = None) -> Plan:
        """The cases this run sends (``UsageError`` for an ``--only``/``--skip`` that picks nothing)."""
        try:
            return make_plan(secret=self.secret, now=self.now() if now is None else now,
                             settings=self.settings, token=self.token, https=self.https)
        except ValueError as exc:
            raise UsageError(str(exc).replace("only=", "--only=").replace("skip=", "--skip=")) from None

    def run(self) -> CertifyReport:
        """``run_async`` on a loop of its own."""
        return asyncio.run(self.run_async())

    async def run_async(self) -> CertifyReport:
        """Check the target answers, state the plan, send every case, grade, return the card."""
        plan = self.plan()  # bad --only/--skip: nothing is contacted
        started = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        clock = time.perf_counter()
        facts: dict[str, Any] = {}
        if self.https:
            facts["tls"] = await self._tls_reachable()
        elif self.app is None:
            await _reachable(self.url)
        plan = self.plan()  # signed now, after the reachability check
        if self.on_plan is not None:
            self.on_plan(plan)
        self._spacer = _Spacer(self.settings.rate)
        transport = self._transport = self._open_transport()
        await transport.open()
        try:
            results, latencies, stopped = await self._run_cases(plan, facts)
        finally:
            self._transport = None
            await transport.close()
        return CertifyReport(target=self.name, profile=self.settings.profile, cases=tuple(results),
                             latencies=tuple(latencies), planned=plan.requests, sent=self._sent,
                             duration=time.perf_counter() - clock, started=started, stopped=stopped,
                             facts=facts)

    def _open_transport(self) -> Transport:
        return transport_for(self.app, limit=max(self.settings.concurrency, 64), ca_file=self.ca_file,
                             insecure=self.insecure, name=self.name)

    def _budget(self, plan: Plan) -> float:
        """The whole run's time bound: generous for a healthy listener, finite for any."""
        return 120.0 + plan.requests * 0.5 + self.settings.pause_seconds * 2 + (
            self.settings.duration if plan.load else 0.0)

    async def _run_cases(self, plan: Plan, facts: dict[str, Any]) -> tuple[list[CaseResult], list[float], str | None]:
        results: list[CaseResult] = []
        latencies: list[float] = []
        stopped: str | None = None
        deadline = time.monotonic() + self._budget(plan)
        burst_done = load_done = False
        alive_count = silent = 0
        for case in plan.cases:
            if stopped is not None:
                results.append(_skipped(case, stopped))
                continue
            if time.monotonic() > deadline:
                stopped = "the run's time budget ran out"
                results.append(_skipped(case, stopped))
                continue
            if case.section == "timing":
                if not burst_done:
                    burst_done = True
                    statuses, latencies = await self._burst(plan, plan.burst, "burst")
                    facts["timing"] = _figures(statuses, latencies)
                results.append(self._grade_timing(case, facts["timing"], latencies))
            elif case.section == "load":
                if not load_done:
                    load_done = True
                    clock = time.perf_counter()
                    statuses, load_latencies = await self._burst(plan, plan.load, "load", concurrency=64)
                    figures = _figures(statuses, load_latencies)
                    figures["seconds"] = round(time.perf_counter() - clock, 3)
                    figures["rate_stated"] = self.settings.rate
                    figures["throughput"] = round(figures["ok"] / max(figures["seconds"], 1e-9), 1)
                    facts["load"] = figures
                results.append(self._grade_load(case, facts["load"]))
            elif case.section == "transport":
                results.append(await self._grade_transport(case, facts))
            else:
                result, gone = await self._one(case, plan, alive_count)
                alive_count += 1
                results.append(result)
                silent = silent + 1 if result.sent and all(s.status == 0 for s in result.sent) else 0
                if gone:
                    stopped = f"the listener stopped answering after {case.id}"
                elif silent >= _SILENT_CASES:
                    stopped = f"the listener answered none of {silent} cases in a row (up to {case.id})"
        return results, latencies, stopped

    async def _send(self, delivery: Delivery) -> tuple[int, float, str | None]:
        """One request through the transport: (status, seconds, error); status 0 when no answer."""
        assert self._spacer is not None
        assert self._transport is not None
        await self._spacer.wait()
        headers = delivery.header_dict
        if self._bearer is not None and delivery.label != "missing-token":
            headers["authorization"] = self._bearer + ("x" if delivery.label == "wrong-token" else "")
        self._sent += 1
        clock = time.perf_counter()
        response = await self._transport.send(self._transport.prepare_url(self.url), delivery.body,
                                               headers, self.settings.timeout)
        status = response.status
        if status == 0 and self.app is not None and (response.error or "").startswith(_APP_RAISED):
            status = 500  # the app crashed on it: a server answers 500 for it
        return status, time.perf_counter() - clock, response.error

    async def _one(self, case: Case, plan: Plan, index: int) -> tuple[CaseResult, bool]:
        """Send one case's deliveries (and a liveness check after a hostile one); grade them.

        Also says whether the listener is gone: a refused or reset connection, or a liveness
        check without any answer."""
        sent: list[Sent] = []
        hint = case.hint
        gone = False
        for i, delivery in enumerate(case.deliveries):
            if i and case.pause:
                await asyncio.sleep(case.pause)
            status, latency, error = await self._send(delivery)
            graded = delivery.grade(status)
            verdict: str = graded.verdict
            note = graded.note
            if status == 0:
                note = f"no answer: {error}" if error else note
                gone = gone or _is_gone(error)
            elif status >= 500 and case.section == "authenticity":
                hint = HINTS["crashed-verifying"]
            elif case.hostile and verdict != "fail" and latency > self.settings.max_latency:
                verdict, hint = "fail", HINTS["slow"]
                note = (f"answered {status} after {latency:.2f}s, past --max-latency="
                        f"{self.settings.max_latency:g}s")
            sent.append(Sent(label=delivery.label, status=status, latency=latency, verdict=verdict,
                             note=note, body_bytes=len(delivery.body), detail=delivery.detail,
                             event_type=delivery.event_type, error=error))
        verdict = worst([s.verdict for s in sent])
        shown = next((s for s in sent if s.verdict == verdict), sent[-1])
        note = shown.note
        got = ", then ".join(str(s.status) if s.status else "no answer" for s in sent)
        alive: bool | None = None
        if case.hostile and not gone:
            live = self._live(plan, index, "alive")
            status, _, error = await self._send(live)
            alive = 200 <= status < 300
            if not alive:
                verdict, hint = "fail", HINTS["alive"]
                said = f"answered {status}" if status else f"no answer: {error}"
                note = f"after this case a genuine delivery was refused ({said})"
                gone = status == 0  # refused, reset, or hung for the whole timeout
        return CaseResult(id=case.id, section=case.section, owed=case.owed, got=got, verdict=verdict,
                          note=note, hint=hint, sent=tuple(sent), alive=alive), gone

    def _live(self, plan: Plan, index: int, tag: str) -> Delivery:
        """A genuine delivery of the ``index``-th type in turn, with a fresh id, signed now."""
        event = plan.live_events[index % len(plan.live_events)]
        renamed = hostile.renamed(event, f"{plan.nonce}/{tag}/{index}")
        return hostile.valid(renamed, self.secret, now=self.now(), label=tag)

    async def _burst(self, plan: Plan, count: int, tag: str, *,
                     concurrency: int | None = None) -> tuple[list[int], list[float]]:
        """``count`` genuine deliveries of mixed types, ``concurrency`` in flight."""
        limit = asyncio.Semaphore(concurrency or self.settings.concurrency)
        statuses: list[int] = []
        latencies: list[float] = []

        async def one(i: int) -> None:
            async with limit:
                status, latency, _ = await self._send(self._live(plan, i, tag))
                statuses.append(status)
                latencies.append(latency if status else self.settings.timeout)

        # Tasks are made as room frees up: a load run of many thousands holds only what is in flight.
        pending: set[asyncio.Task[None]] = set()
        for i in range(count):
            if len(pending) >= (concurrency or self.settings.concurrency) * 2:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            pending.add(asyncio.create_task(one(i)))
        if pending:
            await asyncio.wait(pending)
        return statuses, latencies

    def _grade_timing(self, case: Case, figures: dict[str, Any], latencies: list[float]) -> CaseResult:
        limit = self.settings.max_latency
        if case.id == "timing/acknowledged":
            bad = figures["count"] - figures["ok"]
            verdict = "pass" if bad == 0 else "fail"
            note = f"{figures['ok']} of {figures['count']} acknowledged" + (
                f"; others: {figures['statuses']}" if bad else "")
            return CaseResult(case.id, case.section, case.owed, f"{figures['ok']}/{figures['count']} 2xx",
                              verdict, note, case.hint)
        q = int(case.id.rsplit("/p", 1)[1])
        value = percentile(latencies, q)
        if value >= self.settings.timeout:
            verdict, note = "fail", f"p{q} at or past {self.settings.timeout:g}s: senders time out there"
        elif value > limit:
            verdict = "warn" if q == 99 else "fail"
            note = f"p{q} {value * 1000:.0f} ms is past --max-latency={limit:g}s"
        else:
            verdict, note = "pass", f"over {figures['count']} deliveries at concurrency {self.settings.concurrency}"
        return CaseResult(case.id, case.section, case.owed, f"{value * 1000:.1f} ms", verdict, note, case.hint)

    def _grade_load(self, case: Case, figures: dict[str, Any]) -> CaseResult:
        statuses: dict[str, int] = figures["statuses"]
        if case.id == "load/no-5xx":
            n = sum(v for k, v in statuses.items() if k.startswith("5"))
            return CaseResult(case.id, case.section, case.owed, f"{n} × 5xx", "pass" if n == 0 else "fail",
                              f"of {figures['count']} requests", case.hint)
        if case.id == "load/no-errors":
            n = statuses.get("no answer", 0)
            return CaseResult(case.id, case.section, case.owed, f"{n} without an answer",
                              "pass" if n == 0 else "fail", "resets, refused connections or timeouts",
                              case.hint)
        if case.id == "load/throughput":
            rate = figures["throughput"]
            verdict = "pass" if rate >= 0.9 * self.settings.rate else "warn"
            return CaseResult(case.id, case.section, case.owed, f"{rate:g}/s", verdict,
                              f"{figures['ok']} acknowledged in {figures['seconds']:g}s", case.hint)
        timeout = self.settings.timeout
        p99 = figures["p99_ms"] / 1000 if figures["p99_ms"] is not None else timeout
        verdict = "pass" if p99 <= self.settings.max_latency else ("warn" if p99 < timeout else "fail")
        return CaseResult(case.id, case.section, case.owed, f"p99 {p99 * 1000:.1f} ms", verdict,
                          f"p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms", case.hint)

    async def _tls_reachable(self) -> dict[str, Any]:
        """One TLS handshake with the URL's host (no request): its facts, or ``UsageError`` when
        nothing answers there or, unless ``--insecure``, its certificate does not verify."""
        from simulator.certify import _tls

        parts = urlsplit(self.url)
        facts = await asyncio.to_thread(_tls.probe, parts.hostname or "", parts.port or 443,
                                        ca_file=self.ca_file, insecure=self.insecure)
        if facts.get("version") is None:
            raise UsageError(f"cannot reach {self.url} ({facts.get('error')}); start the listener, or check "
                             "the host and port")
        if not facts["verified"] and not self.insecure:
            raise UsageError(f"the certificate of {self.url} does not verify ({facts['error']}); a sender "
                             "refuses it too: fix the certificate, give --ca-file for a private CA, or "
                             "--insecure to grade the rest anyway")
        return facts

    async def _grade_transport(self, case: Case, facts: dict[str, Any]) -> CaseResult:
        from simulator.certify import _tls

        if self.app is not None:
            return CaseResult(case.id, case.section, case.owed, "in process", "skip",
                              "an in-process app has no network transport", case.hint)
        if case.id == "transport/scheme":
            return scheme_grade(case, self.url)
        return _tls.grade(case, facts["tls"], insecure=self.insecure)


def scheme_grade(case: Case, url: str) -> CaseResult:
    """``transport/scheme``: https passes; http passes on loopback, and is a warning elsewhere."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return CaseResult(case.id, case.section, case.owed, "https", "pass", "", case.hint)
    if is_loopback(parts.hostname or ""):
        return CaseResult(case.id, case.section, case.owed, "http", "pass",
                          "http on loopback: fine for a local test; deploy behind https", case.hint)
    return CaseResult(case.id, case.section, case.owed, "http", "warn",
                      "plain http off loopback: webhooks carry tenant metadata; use https", case.hint)


def _figures(statuses: list[int], latencies: list[float]) -> dict[str, Any]:
    counted: dict[str, int] = {}
    for s in statuses:
        key = str(s) if s else "no answer"
        counted[key] = counted.get(key, 0) + 1
    answered = [lat for s, lat in zip(statuses, latencies, strict=True) if s]

    def ms(q: float) -> float | None:
        value = percentile(answered, q)
        return None if value != value else round(value * 1000, 3)

    return {"count": len(statuses), "ok": sum(1 for s in statuses if 200 <= s < 300),
            "statuses": dict(sorted(counted.items())), "p50_ms": ms(50), "p95_ms": ms(95), "p99_ms": ms(99)}


def _skipped(case: Case, why: str) -> CaseResult:
    return CaseResult(case.id, case.section, case.owed, "not sent", "skip", f"not run: {why}", case.hint)


def _is_gone(error: str | None) -> bool:
    return bool(error) and any(word in (error or "") for word in _GONE)


async def _reachable(url: str) -> None:
    """Open (and close) one TCP connection to the URL's host and port: no request is sent."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), 10.0)
    except (OSError, TimeoutError) as exc:
        why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)
        raise UsageError(f"cannot reach {url} ({why}); start the listener, or check the host and port") from None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def _checked_url(url: str) -> str:
    try:
        return check_url(url)
    except InvalidURL as exc:
        # certify grades plain http off loopback as a warning rather than refusing it
        if exc.part == "scheme" and url.lower().startswith("http://"):
            return url
        raise


def _app_name(app: Any) -> str:
    name = getattr(app, "__qualname__", None) or type(app).__qualname__
    return str(name)
