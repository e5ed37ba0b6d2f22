"""``chestsim send``, ``chestsim replay``, ``chestsim endpoints check`` and ``chestsim secret new``.

Secrets and tokens come from ``--secret``/``--token`` or ``CHESTSIM_SECRET``/``CHESTSIM_TOKEN``
and are never printed; ``secret new`` is the one command that shows a secret.
Exit codes: 0 every delivery delivered, 1 some dead-lettered, 2 bad input.

``send --app`` serves an ASGI app as a server would: its lifespan starts before the
first delivery (a failed startup is one error line and exit code 2, with nothing sent
and no journal written) and shuts down when the run ends, however it ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from simulator._exceptions import UsageError
from simulator._signing import SigningSecret, parse_secrets
from simulator._units import parse_duration, parse_positive_int, parse_rate
from simulator.cli._app import OutputFormat, app, endpoints_app

if TYPE_CHECKING:  # the delivery stack (aiohttp) loads only when a delivery command runs
    from simulator.delivery import Endpoint, Report, Sender
    from simulator.delivery._engine import Progress

__all__ = ["endpoints_check", "replay", "secret_new", "send"]

secret_app = typer.Typer(help="Signing secrets.", no_args_is_help=True)
app.add_typer(secret_app, name="secret")

ToOpt = Annotated[list[str] | None, typer.Option("--to", metavar="URL", help="Endpoint URL (repeatable).",
                                                 show_default=False)]
EndpointsOpt = Annotated[Path | None, typer.Option("--endpoints", metavar="FILE", help="endpoints.toml file.",
                                                   show_default=False)]
SecretOpt = Annotated[list[str] | None, typer.Option(
    "--secret", metavar="WHSEC", help="whsec_… signing secret (repeat for rotation); default $CHESTSIM_SECRET.",
    show_default=False)]
TokenOpt = Annotated[str | None, typer.Option(
    "--token", metavar="TOKEN", help="Bearer token; default $CHESTSIM_TOKEN.", show_default=False)]
HeaderOpt = Annotated[list[str] | None, typer.Option(
    "--header", metavar="'NAME: VALUE'", help="Add this header to every request (repeatable; over an "
    "endpoints file's own). Checked; the journal keeps its name, never its value.", show_default=False)]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", help="Summary as text or json.")]


def _secrets(flags: Sequence[str] | None) -> tuple[SigningSecret, ...]:
    values = list(flags or ())
    if not values and os.environ.get("CHESTSIM_SECRET"):
        try:
            return parse_secrets([os.environ["CHESTSIM_SECRET"]])
        except UsageError as exc:
            raise UsageError(f"CHESTSIM_SECRET: {exc}") from None
    try:
        return parse_secrets(values)
    except UsageError as exc:
        raise UsageError(f"--secret: {exc}") from None


def _token(flag: str | None) -> str | None:
    from simulator.delivery._transports import check_value

    if flag:
        return check_value(flag, where="--token", what="token")
    env = os.environ.get("CHESTSIM_TOKEN") or None
    return check_value(env, where="CHESTSIM_TOKEN", what="token") if env else None


def _headers(flags: Sequence[str] | None) -> tuple[tuple[str, str], ...]:
    """The ``--header 'Name: value'`` flags, each checked; a name given twice is refused."""
    from simulator.delivery._transports import parse_header

    pairs = [parse_header(flag) for flag in flags or ()]
    seen: set[str] = set()
    for name, _ in pairs:
        if name.lower() in seen:
            raise UsageError(f"--header {name!r} is given twice; give each header once")
        seen.add(name.lower())
    return tuple(pairs)


def _endpoints(to: Sequence[str] | None, endpoints_file: Path | None, secrets: tuple[SigningSecret, ...],
               token: str | None, headers: tuple[tuple[str, str], ...] = ()) -> tuple[Endpoint, ...]:
    from simulator.delivery import Endpoint, load_endpoints

    found: list[Endpoint] = []
    for url in to or ():
        found.append(Endpoint.from_url(url, secrets=secrets, token=token, headers=dict(headers)))
    if endpoints_file is not None:
        given = {name.lower() for name, _ in headers}
        for endpoint in load_endpoints(endpoints_file, default_secrets=secrets, default_token=token):
            # The command line's headers over the file's own of the same name.
            kept = tuple((n, v) for n, v in endpoint.headers if n.lower() not in given)
            found.append(dataclasses.replace(endpoint, headers=kept + headers) if headers else endpoint)
    return tuple(found)


def _skew(text: str | None) -> float:
    if not text:
        return 0.0
    raw = text.strip()
    sign = -1.0 if raw.startswith("-") else 1.0
    return sign * parse_duration(raw.lstrip("+-"), option="--clock-skew")


def _progress() -> tuple[Callable[[Progress], None] | None, Callable[[], None]]:
    """A progress bar on a terminal; elsewhere one line when only retries are left, and again
    when the next one moves (so a run waiting on a long schedule never sits silent)."""
    if not sys.stderr.isatty():
        said: list[tuple[int, int, int]] = []

        def note(progress: Progress) -> None:
            waits = progress.describe()
            if not waits or progress.done + progress.waiting < progress.total:
                return
            # Said again only when something moved, not as the countdown ticks.
            key = (progress.done, progress.waiting, round(time.monotonic() + (progress.next_retry_in or 0)))
            if key not in said[-1:]:
                said.append(key)
                print(f"chestsim: {progress.done}/{progress.total} ended; {waits} "
                      "(--retry sets the schedule; Ctrl-C stops, --resume continues)", file=sys.stderr)

        return note, lambda: None
    from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    bar = Bar("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
              TimeElapsedColumn(), transient=True, console=None)
    task = bar.add_task("delivering", total=None)
    bar.start()

    def update(progress: Progress) -> None:
        waits = progress.describe()
        bar.update(task, completed=progress.done, total=progress.total,
                   description=f"delivering ({waits})" if waits else "delivering")

    return update, bar.stop


class _Partial:
    """What an interrupted run did so far, printed (on stdout, as the summary is) before the
    ``interrupted`` line: the run's sender registers here once it exists."""

    def __init__(self, fmt: OutputFormat) -> None:
        self.fmt = fmt
        self.sender: Sender | None = None

    def show(self) -> None:
        report = self.sender.partial_report() if self.sender is not None else None
        if report is None:
            return
        waiting = report.deliveries - report.delivered - report.dead_lettered
        if self.fmt is OutputFormat.json:
            summary = {**report.to_dict(), "interrupted": True, "waiting": waiting}
            sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            print(report.render())
            print(f"interrupted: delivered {report.delivered:,}  waiting {waiting:,} (in flight, queued or "
                  f"waiting to retry)  dead-lettered {report.dead_lettered:,}; input not read yet is not counted")
        sys.stdout.flush()


@contextlib.contextmanager
def _interruptible(kept: Callable[[], str], partial: _Partial | None = None) -> Iterator[None]:
    """Ctrl-C and SIGTERM stop a run: deliveries in flight end, the journal is flushed, the
    summary so far is printed (``partial``), and one line, ``chestsim: error: interrupted;
    <kept()>``, says what was kept; exit code 130.

    Typer turns a ``KeyboardInterrupt`` into a silent exit 130, so it is caught here, where
    the command still knows what it was doing.
    """

    def terminate(signum: int, frame: Any) -> None:
        # Stop as Ctrl-C does: within asyncio.run its handler cancels the run, whose cleanup
        # flushes the journal at an await, never halfway through a write; elsewhere this is
        # Python's own handler, which raises KeyboardInterrupt.
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:
            # SIGINT ignored (a `&` job in a script): asyncio installed no Ctrl-C handler, so the
            # run under way is asked to stop as that handler would have. Not loaded: no run yet.
            sender = sys.modules.get("simulator.delivery._sender")
            if sender is None or not sender.request_stop():
                raise KeyboardInterrupt

    try:
        previous: Any = signal.signal(signal.SIGTERM, terminate)
        installed = True
    except ValueError:  # not the main thread (tests calling main() from a worker)
        installed = False
    try:
        yield
    except KeyboardInterrupt:
        from simulator.cli import _error  # the one printer of `chestsim: error: …` lines

        if partial is not None:
            with contextlib.suppress(Exception):  # the summary is a courtesy; the line below is not
                partial.show()
        _error(f"interrupted; {kept()}")
        raise typer.Exit(130) from None
    finally:
        if installed:
            signal.signal(signal.SIGTERM, previous)


def _kept_by(journal: Path | None) -> Callable[[], str]:
    """What an interrupted ``send`` leaves behind, said when it is interrupted."""

    def kept() -> str:
        if journal is None:
            return ("no --journal was given, so this run cannot be resumed (give --journal FILE "
                    "to make a run resumable)")
        if not journal.exists():
            return f"nothing was sent; the journal {str(journal)!r} was not created yet"
        where = shlex.quote(str(journal))
        return (f"the journal {where} holds the progress (every finished delivery is recorded); "
                f"`chestsim send --resume {where}` sends the rest")

    return kept


# What a journal stores of a run (``Sender.run_options``), as the flags that set each option.
_FLAGS = {
    "types": "--events", "concurrency": "--concurrency", "rate": "--rate", "pace": "--pace",
    "speed": "--speed", "ordered": "--ordered", "order_key": "--order-key", "retry": "--retry",
    "jitter": "--jitter", "time_scale": "--time-scale", "timeout": "--timeout",
    "clock_skew": "--clock-skew", "bad_signature": "--bad-signature", "seed": "--seed",
    "ca_file": "--ca-file", "insecure": "--insecure",
}
# Shown when a run resumes with the original run's options.
_SUMMARY = ("retry", "pace", "rate", "concurrency", "timeout")


def _given(ctx: typer.Context, flag: str) -> bool:
    """Whether ``flag`` was written on the command line (not left at its default)."""
    from typer._click.core import ParameterSource

    source = ctx.get_parameter_source(flag.removeprefix("--").replace("-", "_"))
    return source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def _stored_options(ctx: typer.Context, journal: Path,
                    options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None, set[str]]:
    """The options to resume with: the journal's stored ones but for the flags given again.

    Returns them, the stored options (``None``: an older journal without them, so the command
    line's values are used, as before) and the names of the options given again.
    """
    from simulator.delivery import Journal

    with Journal.open(journal) as jr:
        stored = jr.run_options()
    if stored is None:
        return options, None, set()
    known = {k: v for k, v in stored.items() if k in _FLAGS}
    given = {k for k in known if _given(ctx, _FLAGS[k])}
    return {**options, **{k: v for k, v in known.items() if k not in given}}, known, given


def _shown(key: str, value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if key == "retry":
        from simulator.delivery import RetryPolicy

        policy = RetryPolicy.parse(str(value))
        return policy.name if policy.name != "custom" else ",".join(f"{d:g}s" for d in policy.delays)
    if key == "types":
        from simulator._catalog import CATALOG

        return "all" if len(value) == len(CATALOG) else ",".join(value)
    if key == "rate":
        return f"{value:g}/s"
    if key in ("timeout", "clock_skew"):
        return f"{value:g}s"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _resume_line(stored: dict[str, Any] | None, given: set[str], effective: dict[str, Any]) -> str:
    """The one line that says which options a resumed run uses."""
    if stored is None:
        return ("this journal stores no delivery options (an older chestsim wrote it); resuming "
                "with this command line's")
    overridden = sorted((k for k in given if effective.get(k) != stored[k]), key=list(_FLAGS).index)
    # --pace is shown when it is not the one --rate implies (rate with a rate, else asap).
    implied = {"rate": None, "pace": "asap" if stored.get("rate") is None else "rate"}
    kept = ", ".join(f"{_FLAGS[k]} {_shown(k, stored[k])}" for k in _SUMMARY
                     if k in stored and k not in overridden and implied.get(k, ...) != stored[k])
    line = f"resuming with the original run's options ({kept})"
    if overridden:
        line += "; " + ", ".join(f"{_FLAGS[k]} {_shown(k, effective[k])} given overrides "
                                 f"{_shown(k, stored[k])}" for k in overridden)
    return line


def _emit(report: Report, fmt: OutputFormat) -> int:
    if fmt is OutputFormat.json:
        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(report.render())
    return 0 if report.dead_lettered == 0 else 1


def _sender(*, endpoints: tuple[Endpoint, ...], secrets: tuple[SigningSecret, ...], token: str | None,
            fmt: OutputFormat, headers: tuple[tuple[str, str], ...] = (),
            started: Callable[[], None] | None = None,
            **options: Any) -> tuple[Sender, Callable[[], None]]:
    """The run's sender and what stops its progress bar; ``started`` is called once, when the
    run has started (its app, journal and input open), before anything is sent."""
    update, stop = _progress() if fmt is OutputFormat.text else (None, lambda: None)
    from simulator.delivery import Sender

    progress = update
    if started is not None:
        pending = [started]

        def progress(now: Progress) -> None:
            if pending:
                pending.pop()()
            if update is not None:
                update(now)

    sender = Sender(endpoints=endpoints, secrets=secrets, token=token, headers=headers, progress=progress,
                    **options)
    return sender, stop


@app.command()
def send(
    ctx: typer.Context,
    path: Annotated[str | None, typer.Argument(metavar="PATH|-", help="JSONL/NDJSON events, or - for stdin.",
                                               show_default=False)] = None,
    to: ToOpt = None,
    endpoints: EndpointsOpt = None,
    secret: SecretOpt = None,
    token: TokenOpt = None,
    header: HeaderOpt = None,
    events: Annotated[str | None, typer.Option("--events", metavar="TYPES", help="Only these types (keys, labels or all).",
                                               show_default=False)] = None,
    concurrency: Annotated[str, typer.Option("--concurrency", metavar="N", help="Deliveries in flight (1 to 10,000).")] = "32",
    rate: Annotated[str | None, typer.Option("--rate", metavar="N/s", help="At most N events per second (200/s).",
                                             show_default=False)] = None,
    pace: Annotated[str | None, typer.Option("--pace", metavar="asap|rate|recorded", help="asap | rate | recorded.",
                                             show_default=False)] = None,
    speed: Annotated[float, typer.Option("--speed", metavar="X", help="With --pace recorded: X times faster.")] = 1.0,
    ordered: Annotated[bool, typer.Option("--ordered", help="FIFO per tenant (or --order-key).")] = False,
    order_key: Annotated[str, typer.Option("--order-key", metavar="KEY", help="tenant | secret | a data field.")] = "tenant",
    retry: Annotated[str, typer.Option("--retry", metavar="PRESET|LIST", help="standard-webhooks (the production schedule: "
                                       "5s, 5m, 30m, 2h, 5h, 10h, 10h) | svix | hook0 | exponential | none | a list "
                                       "like 1s,2s,4s,8s (retries within seconds, to try a listener out).")] = "standard-webhooks",
    jitter: Annotated[float, typer.Option("--jitter", metavar="F", help="Spread retry waits by ± this fraction.")] = 0.1,
    time_scale: Annotated[float, typer.Option("--time-scale", metavar="F", help="Multiply retry waits (tests).")] = 1.0,
    timeout: Annotated[str, typer.Option("--timeout", metavar="DURATION", help="Per-attempt timeout (up to a day).")] = "15s",
    journal: Annotated[Path | None, typer.Option("--journal", metavar="FILE", help="Write a SQLite journal here.",
                                                 show_default=False)] = None,
    resume: Annotated[Path | None, typer.Option("--resume", metavar="FILE", help="Continue the run in this journal, "
                                                "with its options (flags given here override them).",
                                                show_default=False)] = None,
    clock_skew: Annotated[str | None, typer.Option("--clock-skew", metavar="DURATION", help="Shift webhook-timestamp "
                                                   "(10m, -10m) to test listeners.", show_default=False)] = None,
    bad_signature: Annotated[bool, typer.Option("--bad-signature",
                                                help="Sign with a wrong key (negative tests).")] = False,
    app_spec: Annotated[str | None, typer.Option("--app", metavar="MODULE:ATTR", help="Deliver in process to an ASGI/WSGI "
                                                 "app (module:attr).", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option("--seed", metavar="N", help="Seed for retry jitter.",
                                             show_default=False)] = None,
    ca_file: Annotated[Path | None, typer.Option("--ca-file", metavar="PEM", help="Trust this CA for https "
                                                 "endpoints (a staging listener's private CA).",
                                                 show_default=False)] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Do not verify https certificates "
                                           "(staging only; says so on stderr).")] = False,
    fmt: FormatOpt = OutputFormat.text,
) -> int:
    """Deliver events, signed, to endpoints; retry, journal, and print a summary.

    With --resume, the original run's delivery options (retry, pacing, concurrency, timeout…)
    are used again, but for the flags given on this command line; the input must be the one
    the run started on (a different file is refused).

    After a crash (kill -9), --resume loses nothing, and sends again at most --concurrency + 32
    deliveries per crash that the listener may already have had: those in flight and the last
    outcomes not yet committed to the journal. Each goes out with the same webhook-id.
    """
    if resume is not None and journal is not None:
        raise UsageError("--journal and --resume cannot be used together; --resume writes to its own journal")
    if path is None and resume is None:
        raise UsageError("give the events to send: a JSONL file, or - for stdin")
    partial = _Partial(fmt)
    with _interruptible(_kept_by(resume or journal), partial):
        return _send(ctx, path, to=to, endpoints=endpoints, secret=secret, token=token, header=header,
                     journal=journal,
                     resume=resume, app_spec=app_spec, fmt=fmt, partial=partial, options={
                         "types": events, "concurrency": concurrency, "rate": rate, "pace": pace,
                         "speed": speed, "ordered": ordered, "order_key": order_key, "retry": retry,
                         "jitter": jitter, "time_scale": time_scale, "timeout": timeout,
                         "clock_skew": clock_skew, "bad_signature": bad_signature, "seed": seed,
                         "ca_file": ca_file, "insecure": insecure})


def _send(ctx: typer.Context, path: str | None, *, to: list[str] | None, endpoints: Path | None,
          secret: list[str] | None, token: str | None, header: list[str] | None, journal: Path | None,
          resume: Path | None,
          app_spec: str | None, fmt: OutputFormat, partial: _Partial, options: dict[str, Any]) -> int:
    secrets, tok, headers = _secrets(secret), _token(token), _headers(header)
    from simulator.delivery import Endpoint, HttpxTransport

    app_obj = _load_app(app_spec) if app_spec else None
    # The transport, not only the app, so that its lifespan errors name the app as given.
    transport = HttpxTransport(app=app_obj, name=f"--app={app_spec!r}") if app_obj is not None else None
    eps = _endpoints(to, endpoints, secrets, tok, headers)
    if app_obj is not None and not to and endpoints is None:
        eps = (Endpoint.from_url("http://localhost/", secrets=secrets, token=tok, headers=dict(headers)),)
    options = {
        **options, "concurrency": parse_positive_int(options["concurrency"], option="--concurrency"),
        "rate": parse_rate(options["rate"], option="--rate") if options["rate"] is not None else None,
        "timeout": parse_duration(options["timeout"], option="--timeout"),
        "clock_skew": _skew(options["clock_skew"]), "transport": transport,
    }
    stored: dict[str, Any] | None = None
    given: set[str] = set()
    if resume is not None:
        options, stored, given = _stored_options(ctx, resume, options)
    if options["insecure"]:  # given, or the resumed run's
        print("chestsim: warning: --insecure: https certificates are not verified; use it only for a "
              "staging listener you trust", file=sys.stderr)
    unsigned = [] if options.get("bad_signature") else _unsigned(eps, secrets, resume)
    notice = f"chestsim send: {_unsigned_line(unsigned, eps or unsigned)}" if unsigned else ""
    sender, stop = _sender(endpoints=eps, secrets=secrets, token=tok, headers=headers, fmt=fmt,
                           started=(lambda: print(notice, file=sys.stderr, flush=True)) if notice else None,
                           **options)
    partial.sender = sender
    # What is loaded by now lives as long as the process: out of the collector's way, so that
    # the collections the run's garbage triggers do not walk it again and again.
    gc.freeze()
    try:
        if resume is not None:
            print(f"chestsim send: {_resume_line(stored, given, sender.run_options())}", file=sys.stderr,
                  flush=True)
        if resume is not None:
            report = sender.resume(resume, path)
        else:
            report = sender.send(path or "-", journal=journal)
    finally:
        stop()
    if notice:
        report = dataclasses.replace(report, notes=(*report.notes, notice.removeprefix("chestsim send: ")))
    return _emit(report, fmt)


def _unsigned(eps: Sequence[Endpoint], secrets: Sequence[SigningSecret], resume: Path | None) -> list[str]:
    """The endpoints a run sends to without a signature: those given without a secret, or, when
    a resume takes its endpoints from the journal, all of them when no secret is given."""
    if eps or resume is None:
        return [e.name for e in eps if not e.secrets]
    if secrets:
        return []
    from simulator.delivery import Journal

    with Journal.open(resume) as jr:
        return [row["name"] for row in jr.endpoint_rows()]


def _unsigned_line(unsigned: Sequence[str], endpoints: Sequence[object]) -> str:
    which = "" if len(unsigned) == len(endpoints) else f" to {', '.join(unsigned)}"
    return (f"no signing secret: sending unsigned{which} (no webhook-signature header); sign with "
            "--secret whsec_… or CHESTSIM_SECRET (`chestsim secret new` makes one)")


def _load_app(spec: str) -> Any:
    """``--app module:attr``, imported as uvicorn imports an app: the current folder first on
    the import path (``chestsim send --app main:app`` finds ``./main.py``), and a module that
    fails while importing is one error line, not a traceback."""
    from simulator.delivery._transports import load_app

    here = os.getcwd()
    if here not in sys.path:
        sys.path.insert(0, here)
    try:
        return load_app(spec)
    except UsageError:
        raise
    except (Exception, SystemExit) as exc:  # a module that exits while importing ends nothing here
        module = spec.partition(":")[0]
        what = f"sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"
        raise UsageError(f"--app={spec!r}: importing {module!r} failed: {what}; "
                         "fix the module so that it imports") from None


def _when(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}={text!r} must be an RFC 3339 time like 2026-11-28T09:00:00Z "
                         "or unix seconds") from None
    return moment.timestamp()


@app.command()
def replay(
    journal_path: Annotated[Path, typer.Argument(metavar="JOURNAL", help="A journal written by --journal.")],
    failed: Annotated[bool, typer.Option("--failed", help="Only dead-lettered deliveries.")] = False,
    event_id: Annotated[list[str] | None, typer.Option("--event-id", metavar="ID", help="Only this event (repeatable).",
                                                       show_default=False)] = None,
    type_: Annotated[list[str] | None, typer.Option("--type", metavar="TYPE", help="Only this type (repeatable).",
                                                    show_default=False)] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="TIME", help="Events at or after this time.",
                                              show_default=False)] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="TIME", help="Events before this time.",
                                              show_default=False)] = None,
    to: ToOpt = None,
    endpoints: EndpointsOpt = None,
    secret: SecretOpt = None,
    token: TokenOpt = None,
    header: HeaderOpt = None,
    record: Annotated[Path | None, typer.Option("--journal", metavar="FILE", help="With --to: journal the replay here.",
                                                show_default=False)] = None,
    concurrency: Annotated[str, typer.Option("--concurrency", metavar="N", help="Deliveries in flight (1 to 10,000).")] = "32",
    retry: Annotated[str, typer.Option("--retry", metavar="PRESET|LIST", help="Retry schedule.")] = "standard-webhooks",
    time_scale: Annotated[float, typer.Option("--time-scale", metavar="F", help="Multiply retry waits (tests).")] = 1.0,
    timeout: Annotated[str, typer.Option("--timeout", metavar="DURATION", help="Per-attempt timeout (up to a day).")] = "15s",
    fmt: FormatOpt = OutputFormat.text,
) -> int:
    """Re-send events from a journal, with the same webhook-id."""
    secrets, tok, headers = _secrets(secret), _token(token), _headers(header)
    eps = _endpoints(to, endpoints, secrets, tok, headers)
    if record is not None and not eps:
        raise UsageError("--journal with replay needs --to or --endpoints; without them the replay "
                         "is recorded in the source journal")
    sender, stop = _sender(endpoints=eps, secrets=secrets, token=tok, headers=headers, fmt=fmt,
                           concurrency=parse_positive_int(concurrency, option="--concurrency"),
                           retry=retry, time_scale=time_scale,
                           timeout=parse_duration(timeout, option="--timeout"))
    partial = _Partial(fmt)
    partial.sender = sender
    with _interruptible(lambda: "deliveries not yet made were not sent; run the replay again to send them",
                        partial):
        try:
            report = sender.replay(journal_path, failed=failed, ids=event_id or (), types=type_ or (),
                                   since=_when(since, "--since"), until=_when(until, "--until"),
                                   record=record)
        finally:
            stop()
    if report.events == 0:
        filters = [flag for flag, value in (("--event-id", event_id), ("--type", type_), ("--since", since),
                                            ("--until", until)) if value]
        why = ("no delivery in it was dead-lettered" if failed else "it holds no events") if not filters \
            else f"no event in it matches {', '.join(filters)}" + (" and was dead-lettered" if failed else "")
        report = dataclasses.replace(report, notes=(*report.notes, f"nothing to replay: {why}"))
        if fmt is OutputFormat.text:
            print(f"nothing to replay from {journal_path}: {why}")
            return 0
    return _emit(report, fmt)


@endpoints_app.command("check")
def endpoints_check(
    target: Annotated[str, typer.Argument(metavar="FILE|URL", help="endpoints.toml or one URL.")],
    secret: SecretOpt = None,
    token: TokenOpt = None,
    fmt: FormatOpt = OutputFormat.text,
) -> int:
    """Validate endpoint configuration without sending anything.

    FILE is UTF-8 TOML, one [[endpoint]] table per webhook (the repository's
    examples/endpoints.toml explains every field); only url is required:

    \b
        [[endpoint]]
        name = "siem"                                # default: the url
        url = "https://siem.example.com/chest"       # http only for loopback
        events = ["Secret Used", "secret.deleted"]   # or "all" (the default)
        secret_env = "SIEM_SECRET"                   # or secret = "whsec_…" / secrets = [...]
        token_env = "SIEM_TOKEN"                     # or token = "…" (Authorization: Bearer)
        headers = { "X-Team" = "security" }
        concurrency = 8                              # deliveries in flight to it
        rate = "50/s"                                # deliveries per second to it

    Without a secret of its own an endpoint is signed with --secret or
    $CHESTSIM_SECRET, and sends --token or $CHESTSIM_TOKEN; a URL is checked
    the same way, as `send --to URL` would send to it.
    """
    from simulator.delivery import check_endpoints

    found = check_endpoints(target, default_secrets=_secrets(secret), default_token=_token(token))
    rows = [e.describe() for e in found]
    if fmt is OutputFormat.json:
        sys.stdout.write(orjson.dumps({"ok": True, "endpoints": rows}, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    for row in rows:
        events = row["events"] if row["events"] == "all" else f"{len(row['events'])} types"
        print(f"ok  {row['name']}  {row['url']}  events={events}  signed={'yes' if row['signed'] else 'no'}"
              f"  token={'yes' if row['token'] else 'no'}")
    print(f"{len(rows)} endpoint{'s' if len(rows) != 1 else ''} ok")
    return 0


@secret_app.command("new")
def secret_new() -> int:
    """Print a fresh whsec_ signing secret (the only command that shows one)."""
    print(SigningSecret.generate().reveal())
    return 0
