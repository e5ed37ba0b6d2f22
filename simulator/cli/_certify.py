"""``chestsim certify URL``: grade a webhook listener in any language, with a report card.

Before anything is sent, one line on stderr says how many requests go to which URL;
nothing goes anywhere else. Exit codes: 0 when no case fails (warnings pass), 1 when
any fails, 2 on bad input or a URL that cannot be reached.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from simulator._exceptions import UsageError
from simulator._units import parse_duration, parse_positive_int, parse_rate
from simulator.cli._app import OutputFormat, app
from simulator.cli._send import FormatOpt, SecretOpt, TokenOpt, _secrets, _token

if TYPE_CHECKING:
    from simulator.certify import Plan

__all__ = ["certify"]

_EPILOG = """Sections: accepts, authenticity, robustness, idempotency, timing, load (profile load),
transport. --only/--skip take a section, a case id (authenticity/stale-timestamp) or a kind
(stale-timestamp), repeated or comma-separated. Secrets and tokens never appear in any output."""


def _listed(values: list[str] | None) -> tuple[str, ...]:
    return tuple(part.strip() for value in values or () for part in value.split(",") if part.strip())


def _writable(path: Path | None, option: str) -> None:
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"{option}={str(path)!r}: folder {str(folder)!r} does not exist; create it first")
    if path.is_dir():
        raise UsageError(f"{option}={str(path)!r} is a folder; give a file name")


@app.command(epilog=_EPILOG)
def certify(
    url: Annotated[str, typer.Argument(metavar="URL", help="The listener's URL (https, or http for loopback).",
                                       show_default=False)],
    secret: SecretOpt = None,
    token: TokenOpt = None,
    profile: Annotated[str, typer.Option("--profile", metavar="quick|standard|load",
                                         help="quick: every case, a 32-event burst; standard: a 300-event "
                                              "burst; load: standard plus a firehose at --rate for --duration.")
                       ] = "quick",
    tolerance: Annotated[str, typer.Option("--tolerance", metavar="DURATION",
                                           help="The listener's timestamp tolerance.")] = "5m",
    max_latency: Annotated[str, typer.Option("--max-latency", metavar="DURATION",
                                             help="Slowest acceptable acknowledgement (15s fails whatever).")
                           ] = "2s",
    rate: Annotated[str, typer.Option("--rate", metavar="N[/s]",
                                      help="Never more than this many requests a second (the load profile's "
                                           "firehose rate).")] = "100/s",
    duration: Annotated[str, typer.Option("--duration", metavar="DURATION",
                                          help="How long the load profile's firehose runs.")] = "30s",
    pause: Annotated[str | None, typer.Option("--pause", metavar="DURATION",
                                              help="Wait before the idempotency redelivery (quick 1s, else 5s).",
                                              show_default=False)] = None,
    burst: Annotated[str | None, typer.Option("--burst", metavar="N",
                                              help="Deliveries in the timing burst (quick 32, else 300).",
                                              show_default=False)] = None,
    output: FormatOpt = OutputFormat.text,
    junit: Annotated[Path | None, typer.Option("--junit", metavar="FILE", help="Also write JUnit XML here.",
                                               show_default=False)] = None,
    html: Annotated[Path | None, typer.Option("--html", metavar="FILE",
                                              help="Also write a self-contained HTML report card here.",
                                              show_default=False)] = None,
    only: Annotated[list[str] | None, typer.Option("--only", metavar="SECTION|CASE",
                                                   help="Run only these (repeatable).", show_default=False)] = None,
    skip: Annotated[list[str] | None, typer.Option("--skip", metavar="SECTION|CASE",
                                                   help="Leave these out (repeatable).", show_default=False)] = None,
    ca_file: Annotated[Path | None, typer.Option("--ca-file", metavar="FILE",
                                                 help="Trust this CA bundle for an https listener.",
                                                 show_default=False)] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Do not verify the listener's certificate "
                                                              "(graded as a warning).")] = False,
) -> None:
    """Grade a webhook listener at URL with a report card: accepts real traffic, refuses forgeries,
    survives hostile input, is idempotent and fast. Any language, any framework."""
    from simulator.certify import PROFILES, Certifier, Settings, write_html, write_junit

    if profile not in PROFILES:
        raise UsageError(f"--profile={profile!r} is not a profile; use one of {', '.join(PROFILES)}")
    if ca_file is not None and insecure:
        raise UsageError("--ca-file and --insecure contradict each other; give one")
    if ca_file is not None and not ca_file.is_file():
        raise UsageError(f"--ca-file={str(ca_file)!r} is not a file; give a PEM bundle of the CA that signed "
                         "the listener's certificate")
    _writable(junit, "--junit")
    _writable(html, "--html")
    limit = parse_duration(max_latency, option="--max-latency")
    if limit <= 0:
        raise UsageError(f"--max-latency={max_latency!r} must be more than zero, like 500ms or 2s")
    settings = Settings(
        profile=profile,
        tolerance=parse_duration(tolerance, option="--tolerance"),
        max_latency=limit,
        rate=parse_rate(rate, option="--rate"),
        duration=parse_duration(duration, option="--duration"),
        pause=None if pause is None else parse_duration(pause, option="--pause"),
        burst=None if burst is None else parse_positive_int(burst, option="--burst"),
        only=_listed(only), skip=_listed(skip))
    if settings.tolerance < 2:
        raise UsageError(f"--tolerance={tolerance!r} is too small to test; use the listener's, like 5m")
    secrets = _secrets(secret)
    if not secrets:
        raise UsageError("certify signs as the sender does: give the endpoint's secret with --secret whsec_… "
                         "or CHESTSIM_SECRET")

    def announce(plan: Plan) -> None:
        print(f"chestsim: certify sends at most {plan.requests} requests to {url} and nowhere else "
              f"(profile {profile}, {len(plan.cases)} cases, at most {settings.rate:g}/s)",
              file=sys.stderr, flush=True)

    if insecure:
        print("chestsim: warning: --insecure: the listener's certificate is not verified", file=sys.stderr)
    certifier = Certifier(url, secret=secrets, token=_token(token), settings=settings,
                          ca_file=None if ca_file is None else os.fspath(ca_file), insecure=insecure,
                          on_plan=announce)
    report = certifier.run()
    if junit is not None:
        write_junit(report, junit)
    if html is not None:
        write_html(report, html, max_latency=settings.max_latency)
    if output == OutputFormat.json:
        sys.stdout.write(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(report)
    raise typer.Exit(0 if report.passed else 1)
