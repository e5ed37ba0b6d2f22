"""``chestsim generate`` and ``chestsim scenarios list``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
import typer

from simulator._exceptions import UsageError
from simulator._units import parse_duration, parse_positive_int, parse_rate
from simulator.cli._app import OutputFormat, app, scenarios_app

if TYPE_CHECKING:
    from simulator.model._tenant import Tenant

Event = dict[str, Any]

_EPILOG = (
    "--rate sets the spacing of the events' timestamps on the virtual clock (Poisson arrivals, "
    "mean 1/rate); it does not slow the output, which is written as fast as it is made. "
    "Without --rate, timestamps follow natural latencies and business hours. "
    "Add --realtime to also release events at --rate per wall-clock second (after the history). "
    "The tenant's existing population (users, devices, groups, secrets) is replayed first, "
    "dated in the week before --start. "
    "--set TYPE:PATH=VALUE overrides a field in every event of a type, e.g. "
    "--set 'secret.used:data.purpose=\"copy\"'; VALUE is JSON, or else a string."
)


@app.command("generate", epilog=_EPILOG)
def generate(
    scenario: str = typer.Argument(..., metavar="SCENARIO", help="a shipped scenario name (see `chestsim scenarios list`) or a path "
                                   "to your own script"),
    seed: int = typer.Option(0, "--seed", metavar="N", help="same seed and options, same bytes"),
    users: str | None = typer.Option(None, "--users", metavar="N", help="tenant size (default: the scenario's)"),
    groups: str | None = typer.Option(None, "--groups", metavar="N", help="number of groups (default: users/6)"),
    devices_per_user: str | None = typer.Option(None, "--devices-per-user", metavar="N", help="devices each user has (default 2)"),
    events: str | None = typer.Option(None, "--events", metavar="N", help="stop after N events (with --duration: whichever comes first)"),
    duration: str | None = typer.Option(None, "--duration", metavar="DURATION", help="stop at --start plus this virtual time, "
                                        "e.g. 8h"),
    rate: str | None = typer.Option(None, "--rate", metavar="RATE", help="events per virtual second, e.g. 200 or 200/s"),
    locale: str | None = typer.Option(None, "--locale", metavar="LOCALE", help="Faker locale for names, e.g. de_DE"),
    start: str | None = typer.Option(None, "--start", metavar="INSTANT", help="virtual start time, e.g. 2026-11-28T08:00Z "
                                     "(default 2026-11-30T08:00Z)"),
    set_: list[str] = typer.Option([], "--set", metavar="TYPE:PATH=VALUE", help="override a field in every event of a type; repeatable"),
    out: str = typer.Option("-", "--out", "-o", metavar="FILE", help="output file, or - for stdout"),
    no_history: bool = typer.Option(False, "--no-history", help="leave out the replayed history: start with "
                                    "the scenario's own events (pair with --snapshot-out)"),
    snapshot_out: str | None = typer.Option(None, "--snapshot-out", metavar="FILE", help="write the tenant as it stands at "
                                            "--start (ids, shard maps) to FILE, for `chestsim validate "
                                            "--sequence --snapshot FILE`"),
    realtime: bool = typer.Option(False, "--realtime", help="also pace the output in wall-clock time at --rate "
                                  "(for piping into a listener); the replayed history goes out at once"),
    timeout: str | None = typer.Option(None, "--timeout", metavar="DURATION", help="stop a scenario that produces no "
                                       "event for this long, e.g. 2m (default 30 s, 2 ms a user for big tenants)"),
) -> None:
    """Generate a scenario's webhook events as JSONL (one event per line)."""
    from simulator.model._clock import DEFAULT_START, format_ms, parse_instant
    from simulator.model._generate import build_options, iter_events, paced, write_events
    from simulator.model._guard import check_fits, default_timeout, stall_guarded
    from simulator.model._overrides import parse_override
    from simulator.model._scenario import load_scenario

    n_users = parse_positive_int(users, option="--users") if users is not None else None
    n_groups = parse_positive_int(groups, option="--groups", minimum=0) if groups is not None else None
    n_devices = parse_positive_int(devices_per_user, option="--devices-per-user") if devices_per_user is not None \
        else None
    n_events = parse_positive_int(events, option="--events") if events is not None else None
    seconds = parse_duration(duration, option="--duration") if duration is not None else None
    if seconds is not None and seconds <= 0:
        raise UsageError(f"--duration={duration!r} must be longer than zero, like 8h")
    per_second = parse_rate(rate, option="--rate") if rate is not None else None
    limit = parse_duration(timeout, option="--timeout") if timeout is not None else None
    if limit is not None and limit <= 0:
        raise UsageError(f"--timeout={timeout!r} must be longer than zero, like 2m")
    overrides = [parse_override(text) for text in set_]
    for override in overrides:
        if override.schema_problem:
            print(f"chestsim: note: --set={override.text!r} makes {override.type} events fail their schema "
                  f"({override.schema_problem})", file=sys.stderr)
    loaded = load_scenario(scenario)
    size = build_options(loaded, users=n_users, devices_per_user=n_devices)
    check_fits(users=size["users"], devices_per_user=size["devices_per_user"])
    stream = iter_events(loaded, seed=seed, users=n_users, groups=n_groups, devices_per_user=n_devices,
                         events=n_events, duration=seconds, rate=per_second, locale=locale, start=start,
                         overrides=overrides, history=not no_history,
                         on_start=_snapshot_writer(snapshot_out) if snapshot_out else None)
    stream = guarded = stall_guarded(stream, limit or default_timeout(size["users"]))
    types: set[str] = set()
    stream = _noting_types(stream, types)
    batch, every = 2048, 10_000
    if realtime:
        pace = per_second or loaded.defaults.get("rate")
        if not pace:
            raise UsageError("--realtime needs --rate (events per second), e.g. --rate 200/s --realtime")
        after = format_ms(parse_instant(start or loaded.defaults.get("start", DEFAULT_START)))
        stream = paced(stream, float(pace), after=after)
        batch, every = 1, max(1, int(float(pace) / 10))
    started = time.monotonic()
    with ExitStack() as stack:
        # Disarm the stall timer on the way out, whatever ends the run (a reader gone, ``| head``): left
        # to the garbage collector, it could fire after shutdown restored SIGALRM's default, which kills.
        stack.callback(guarded.close)
        sink: IO[bytes] = sys.stdout.buffer if out == "-" else stack.enter_context(_open_out(out))
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            progress = stack.enter_context(Progress(
                TextColumn(f"generate {loaded.name}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(file=sys.stderr), transient=True))
            task = progress.add_task("events", total=n_events)
            written = write_events(stream, sink, progress=lambda n: progress.update(task, completed=n),
                                   every=every, batch=batch)
        else:
            written = write_events(stream, sink, every=every, batch=batch)
    if out != "-":
        # stdout carries the events when --out is not given; the summary would mix into them.
        print(f"generated {written:,} {'event' if written == 1 else 'events'} of {len(types)} "
              f"{'type' if len(types) == 1 else 'types'} in {_seconds(time.monotonic() - started)} to {out}",
              file=sys.stderr)


def _seconds(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def _noting_types(stream: Iterable[Event], types: set[str]) -> Iterator[Event]:
    add = types.add
    for event in stream:
        add(event["type"])
        yield event


def _snapshot_writer(path: str) -> Callable[[Tenant], None]:
    try:
        Path(path).open("ab").close()
    except OSError as exc:
        raise UsageError(f"--snapshot-out={path!r} cannot be written: {exc.strerror}") from None

    def write(tenant: Tenant) -> None:
        Path(path).write_bytes(orjson.dumps(tenant.snapshot(), option=orjson.OPT_INDENT_2) + b"\n")

    return write


def _open_out(out: str) -> IO[bytes]:
    path = Path(out)
    try:
        return path.open("wb")
    except OSError as exc:
        raise UsageError(f"--out={out!r} cannot be written: {exc.strerror}") from None


@scenarios_app.command("list")
def list_scenarios(
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json"),
) -> None:
    """List the shipped scenarios: name, what they simulate, the event types they emit."""
    from simulator.model._generate import emitted_types
    from simulator.model._scenario import list_scenarios as shipped

    rows = [{"name": s.name, "description": s.description, "events": emitted_types(s), "path": str(s.path)}
            for s in shipped()]
    if format is OutputFormat.json:
        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Scenarios (chestsim generate NAME, or a path to your own script)")
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("simulates")
    table.add_column("event types")
    for row in rows:
        events = row["events"]
        assert isinstance(events, list)
        table.add_row(str(row["name"]), str(row["description"]), ", ".join(events))
    Console(width=None if sys.stdout.isatty() else 200).print(table)
