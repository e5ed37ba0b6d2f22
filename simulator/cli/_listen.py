"""``chestsim listen`` (the mock listener) and ``chestsim inspect`` (what it recorded)."""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import typer

from simulator._catalog import expand_event_types
from simulator._exceptions import InvalidSecret, UnknownEventType, UsageError
from simulator.cli._app import OutputFormat, app

if TYPE_CHECKING:
    import asyncio  # imported where a listener starts: every other command starts ~40 ms sooner

_LISTEN_EPILOG = (
    "Answers: 204 recorded (x-chestsim-verdict says valid, warning — a member name repeated in an object, "
    "invalid with --strict — invalid or leak); 400 not JSON or a bad "
    "webhook-id; 401 bad signature, stale or future timestamp, missing headers or wrong token; 413 body "
    "over --max-body; 415 not application/json; 422 invalid payload with --reject-invalid; faults as "
    "configured. Secrets come from --secret or CHESTSIM_SECRET (several: rotation), the token from --token "
    "or CHESTSIM_TOKEN; neither is ever printed or recorded. Without a secret, signatures are not checked. "
    "A connection whose request head or body trickles past --header-timeout or --body-timeout, or that "
    "waits past --idle-timeout, is closed (a request cut short is recorded as incomplete). "
    "GET /_chestsim/stats and /_chestsim/events?type=&verdict=&limit= on the same port. SIGINT (Ctrl-C) "
    "and SIGTERM: requests in flight finish and every acknowledged request is in --db; exit 0 on SIGTERM, "
    "130 on Ctrl-C (with one line, chestsim: error: interrupted, on stderr). If --db is removed or "
    "replaced while listening, nothing more is acknowledged (500), what it held is saved to a new file, "
    "and the exit (code 1) says where and how many requests were not recorded."
)


class ViewMode(enum.StrEnum):
    """How ``chestsim listen`` shows what arrives."""

    auto = "auto"
    live = "live"
    plain = "plain"
    quiet = "quiet"


@app.command("listen", epilog=_LISTEN_EPILOG)
def listen_command(
    host: str = typer.Option("127.0.0.1", "--host", metavar="ADDRESS", help="address to bind (loopback by default)"),
    port: int = typer.Option(8080, "--port", metavar="PORT", help="port to bind; 0 picks a free one"),
    path: str = typer.Option("/webhooks", "--path", metavar="PATH", help="the webhook path"),
    secret: list[str] = typer.Option([], "--secret", metavar="WHSEC", show_default=False,
                                     help="whsec_… signing secret; repeat during a rotation"),
    token: str | None = typer.Option(None, "--token", metavar="TOKEN", show_default=False,
                                     help="require Authorization: Bearer TOKEN"),
    tolerance: str = typer.Option("5m", "--tolerance", metavar="DURATION", help="accepted clock distance of webhook-timestamp"),
    db: Path = typer.Option(Path("received.db"), "--db", metavar="FILE", help="SQLite file of records (appended to)"),
    reject_invalid: bool = typer.Option(False, "--reject-invalid", help="answer 422 to invalid payloads"),
    strict: bool = typer.Option(False, "--strict", help="unknown fields make a payload invalid"),
    max_body: str = typer.Option("1MB", "--max-body", metavar="SIZE", help="larger bodies get 413"),
    fail_rate: str = typer.Option("0", "--fail-rate", metavar="FRACTION", help="fraction answered with --fail-status"),
    fail_status: str = typer.Option("500", "--fail-status", metavar="CODES", help="statuses of failures, like 500,503"),
    latency: str | None = typer.Option(None, "--latency", metavar="DURATION", help="added latency: 50ms or 10ms..300ms"),
    drop_rate: str = typer.Option("0", "--drop-rate", metavar="FRACTION", help="fraction closed without an answer"),
    hang_rate: str = typer.Option("0", "--hang-rate", metavar="FRACTION", help="fraction never answered"),
    rate_limit: str | None = typer.Option(None, "--rate-limit", metavar="N/s", help="above N/s answer 429 + Retry-After"),
    gone_after: int | None = typer.Option(None, "--gone-after", metavar="N",
                                          help="answer 410 after N acknowledged requests"),
    fault_type: list[str] = typer.Option([], "--fault-type", metavar="TYPE", show_default=False,
                                         help="limit faults to these event types (repeat; keys or labels)"),
    faults: Path | None = typer.Option(None, "--faults", metavar="FILE", show_default=False,
                                       help="more fault rules, each scoped to its own event types: a JSON "
                                       'list like [{"fail_rate": 0.5, "event_types": ["secret.used"]}]'),
    seed: int = typer.Option(0, "--seed", metavar="N", help="seed of the fault draws"),
    view: ViewMode = typer.Option(ViewMode.auto, "--view",
                                  help="live (Rich), plain lines, quiet; auto: live on a terminal"),
    inline: bool = typer.Option(False, "--inline",
                                help="validate and record on the event loop, not in a writer process"),
    fsync: bool = typer.Option(False, "--fsync", help="fsync every batch (survives power loss, slower)"),
    header_timeout: str = typer.Option("10s", "--header-timeout", metavar="DURATION",
                                       help="close a connection whose request head is not complete by then"),
    body_timeout: str = typer.Option("30s", "--body-timeout", metavar="DURATION",
                                     help="close a connection whose body is not complete by then"),
    idle_timeout: str = typer.Option("30s", "--idle-timeout", metavar="DURATION",
                                     help="close a connection that waits this long for its next request"),
    max_connections: int = typer.Option(1000, "--max-connections", metavar="N",
                                        help="open connections at most (the longest idle makes room)"),
) -> None:
    """Run a mock webhook listener: verify, validate, record, and inject faults."""
    with _ctrl_c(db):
        _listen(host=host, port=port, path=path, secret=secret, token=token, tolerance=tolerance, db=db,
                reject_invalid=reject_invalid, strict=strict, max_body=max_body, fail_rate=fail_rate,
                fail_status=fail_status, latency=latency, drop_rate=drop_rate, hang_rate=hang_rate,
                rate_limit=rate_limit, gone_after=gone_after, fault_type=fault_type, faults=faults,
                seed=seed, view=view, inline=inline, fsync=fsync, header_timeout=header_timeout,
                body_timeout=body_timeout, idle_timeout=idle_timeout, max_connections=max_connections)


@contextlib.contextmanager
def _ctrl_c(db: Path) -> Iterator[None]:
    """Ctrl-C gives one line, ``chestsim: error: interrupted; …``, and exit code 130 (Typer would
    turn the KeyboardInterrupt into a silent 130); by then every record is flushed."""
    try:
        yield
    except KeyboardInterrupt:
        from simulator.cli import _error  # the one printer of `chestsim: error: …` lines

        if db.exists():
            _error(f"interrupted; requests in flight were finished and every record is flushed to {db}")
        else:
            _error("interrupted before the listener started; nothing was received")
        raise typer.Exit(130) from None


def _listen(*, host: str, port: int, path: str, secret: list[str], token: str | None, tolerance: str, db: Path,
            reject_invalid: bool, strict: bool, max_body: str, fail_rate: str, fail_status: str,
            latency: str | None, drop_rate: str, hang_rate: str, rate_limit: str | None, gone_after: int | None,
            fault_type: list[str], faults: Path | None, seed: int, view: ViewMode, inline: bool,
            fsync: bool, header_timeout: str, body_timeout: str, idle_timeout: str,
            max_connections: int) -> None:
    from simulator._signing import parse_secrets
    from simulator._units import parse_duration, parse_fraction, parse_rate, parse_size
    from simulator.listener import FaultRule, Latency, Listener, load_rules, parse_statuses

    try:
        secrets = parse_secrets(secret or [os.environ.get("CHESTSIM_SECRET", "")])
    except InvalidSecret as exc:
        raise InvalidSecret(f"--secret (or CHESTSIM_SECRET): {exc}") from None
    token = token if token is not None else (os.environ.get("CHESTSIM_TOKEN") or None)
    try:
        scope = frozenset(expand_event_types(fault_type)) if fault_type else None
    except UnknownEventType as exc:
        raise UsageError(f"--fault-type: {exc}") from None
    fault = FaultRule(
        fail_rate=parse_fraction(fail_rate, option="--fail-rate"),
        fail_statuses=parse_statuses(fail_status),
        latency=Latency.parse(latency) if latency else None,
        drop_rate=parse_fraction(drop_rate, option="--drop-rate"),
        hang_rate=parse_fraction(hang_rate, option="--hang-rate"),
        rate_limit=parse_rate(rate_limit, option="--rate-limit") if rate_limit else None,
        gone_after=_gone_after(gone_after),
        event_types=frozenset(t.key for t in scope) if scope else None,
    )
    config = Listener(
        host=host, port=port, path=path, secrets=secrets, token=token,
        tolerance=parse_duration(tolerance, option="--tolerance"), db=db,
        reject_invalid=reject_invalid, strict=strict, max_body=_max_body(max_body, parse_size),
        faults=((fault,) if fault.active else ()) + (load_rules(faults) if faults else ()), seed=seed,
        offload=not inline, fsync=fsync,
        header_timeout=parse_duration(header_timeout, option="--header-timeout"),
        body_timeout=parse_duration(body_timeout, option="--body-timeout"),
        idle_timeout=parse_duration(idle_timeout, option="--idle-timeout"), max_connections=max_connections)
    if view is ViewMode.auto:
        view = ViewMode.live if sys.stdout.isatty() else ViewMode.plain
    with _event_loop() as runner:
        interrupted, failure = runner.run(_serve(config, view))
    if failure is not None:
        from simulator.cli import _error  # the one printer of `chestsim: error: …` lines

        _error(failure)
        raise typer.Exit(1)
    if interrupted:
        raise KeyboardInterrupt  # stopped by Ctrl-C, after flushing: said as any interrupt is


def _event_loop() -> asyncio.Runner:
    """uvloop where installed (measured: the listener answers more per CPU second; `make bench`)."""
    import asyncio

    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def _gone_after(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise UsageError(f"--gone-after={value} must be a whole number ≥ 0")
    return value


def _max_body(text: str, parse_size: Any) -> int:
    size = int(parse_size(text, option="--max-body"))
    if size < 1:
        raise UsageError(f"--max-body={text!r} must be a positive size, like 1MB")
    return size


async def _serve(config: Any, view: ViewMode) -> tuple[bool, str | None]:
    """Listen until SIGINT or SIGTERM, then finish and flush. Whether SIGINT (Ctrl-C) stopped it,
    and what was not kept if records could not be written."""
    import asyncio

    from rich.console import Console

    from simulator.listener import run_listener
    from simulator.listener._view import LiveView, PlainLog

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stopped_by: list[int] = []

    def on_signal(signum: int) -> None:
        stopped_by.append(signum)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    out = sys.stdout
    async with run_listener(config) as running:
        checks = []
        if config.secrets:
            checks.append(f"signatures ({len(config.secrets)} secret{'s' * (len(config.secrets) > 1)}, "
                          f"tolerance {config.tolerance:g}s)")
        if config.token:
            checks.append("the bearer token")
        verifying = (f"verifying {' and '.join(checks)}" if checks else
                     "NOT verifying signatures (give --secret or CHESTSIM_SECRET)")
        print(f"chestsim listen: {running.url}", file=out)
        print(f"  {verifying}; recording to {config.db}", file=out)
        for rule in config.faults:
            print(f"  faults (seed {config.seed}): {rule.describe()}", file=out)
        print(f"  send with: chestsim send --to {running.url} …   stop with Ctrl-C", file=out, flush=True)
        task = None
        if view is ViewMode.live:
            task = asyncio.create_task(LiveView(running.stats, Console(file=out), url=running.url,
                                                db=str(config.db)).run(stop))
        elif view is ViewMode.plain:
            task = asyncio.create_task(PlainLog(running.stats, out).run(stop))
        await stop.wait()
        if task is not None:
            await task
        # On stdout with the other status lines: stderr is for the one line a Ctrl-C gives.
        print("chestsim listen: stopping; finishing requests in flight", file=out, flush=True)
    snap = running.stats.snapshot()
    verdicts = ", ".join(f"{k}={v}" for k, v in snap["by_verdict"].items()) or "nothing"
    interrupted = bool(stopped_by) and stopped_by[0] == signal.SIGINT
    if running.failure is not None:
        print(f"chestsim listen: stopped after {snap['requests']} requests ({verdicts})", file=out, flush=True)
        return interrupted, (f"{running.failure}; {running.unrecorded} later requests were answered 500 "
                             "and not recorded")
    print(f"chestsim listen: stopped after {snap['requests']} requests ({verdicts}); records in "
          f"{config.db} — `chestsim inspect {config.db}`", file=out, flush=True)
    return interrupted, None


@app.command("inspect")
def inspect_command(
    db: Path = typer.Argument(..., metavar="FILE", help="a record file written by `chestsim listen --db`"),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json"),
    last: int = typer.Option(10, "--last", metavar="N", help="also list the last N records (0: none)"),
    type: str | None = typer.Option(None, "--type", metavar="TYPE", help="only records of this event type (last list)"),
    verdict: str | None = typer.Option(None, "--verdict", metavar="VERDICT", help="only records with this verdict (last list)"),
    check: bool = typer.Option(False, "--check", help="exit 1 unless every record is valid and acknowledged"),
    html: Path | None = typer.Option(None, "--html", metavar="FILE", show_default=False,
                                     help="also write the web inspector's view as one self-contained HTML file"),
    html_limit: int = typer.Option(2000, "--html-limit", metavar="N",
                                   help="newest records embedded in the --html file (counters cover all)"),
) -> None:
    """Summarize what a mock listener recorded: verdicts, types, statuses, faults, duplicates."""
    from simulator._catalog import lookup
    from simulator.listener import VERDICTS, RecordStore

    if last < 0:
        raise UsageError(f"--last={last} must be 0 or more")
    if verdict is not None and verdict not in VERDICTS:
        raise UsageError(f"--verdict={verdict!r} must be one of {', '.join(VERDICTS)}")
    event_type = lookup(type).key if type else None
    if html is not None:
        _write_html(db, html, html_limit=html_limit, event_type=event_type, verdict=verdict)
    with RecordStore(db) as store:
        summary = store.summary()
        records = store.records(type=event_type, verdict=verdict, limit=last, newest_first=True) if last else []
    records.reverse()
    if format is OutputFormat.json:
        doc = summary.to_dict()
        doc["last"] = [r.to_dict() for r in records]
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print_summary(summary, records)
    if check:
        clean = summary.total > 0 and set(summary.by_verdict) == {"valid"} and all(
            status.startswith("2") for status in summary.by_status)
        raise typer.Exit(0 if clean else 1)


def _write_html(db: Path, out: Path, *, html_limit: int, event_type: str | None, verdict: str | None) -> None:
    from simulator.listener._inspection import MAX_REPORT, Filters
    from simulator.listener._web import write_report

    if not 1 <= html_limit <= MAX_REPORT:
        raise UsageError(f"--html-limit={html_limit} must be from 1 to {MAX_REPORT}")
    if out.is_dir() or not out.parent.is_dir():
        raise UsageError(f"--html={str(out)!r} must be a file in an existing folder, like report.html")
    wrote = write_report(db, out, filters=Filters(event_type, verdict), limit=html_limit)
    # On stderr: stdout stays the summary (text or JSON) that scripts read.
    print(f"chestsim inspect: wrote {out} ({wrote['embedded']} of {wrote['matching']} matching records "
          f"embedded; {wrote['total']} in the file)", file=sys.stderr)


def _print_summary(summary: Any, records: list[Any]) -> None:
    def when(stamp: float | None) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp)) if stamp else "-"

    def counts(values: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in values.items()) or "-"

    print(f"{summary.path}: {summary.total} requests, {when(summary.first_at)} → {when(summary.last_at)}")
    print(f"  verdicts:     {counts(summary.by_verdict)}")
    print(f"  statuses:     {counts(summary.by_status)}")
    print(f"  faults:       {counts(summary.by_fault)}")
    print(f"  webhook-ids:  {summary.distinct_ids} distinct, {summary.acknowledged_ids} acknowledged; "
          f"{summary.duplicates} duplicate deliveries, {summary.out_of_order} out of order")
    print("  event types:")
    for key, count in summary.by_type.items():
        print(f"    {key:<32} {count}")
    if summary.problems:
        print("  problems (code: where, count):")
        for key, count in summary.problems.items():
            print(f"    {key:<60} {count}")
    if records:
        from simulator.listener._stats import Recent
        from simulator.listener._view import format_line

        print(f"  last {len(records)} (latency: the listener's own handling time, + what --latency injected):")
        for r in records:
            line = format_line(Recent(r.received_at, r.status, r.verdict, r.event_type, r.webhook_id,
                                      r.handling_ms / 1000, r.duplicate, r.out_of_order, r.fault),
                               injected_ms=r.latency_ms)
            print(f"    {line}" + (f"  — {r.reason}" if r.reason else ""))
