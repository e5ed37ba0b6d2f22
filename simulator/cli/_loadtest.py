"""``chestsim loadtest``: Locust with the firehose locustfile, in its own process.

Everything after ``loadtest`` goes to Locust unchanged (``chestsim loadtest
--help`` shows Locust's help with the firehose options). Locust runs as a
child process, never imported here: importing it monkey-patches the whole
process with gevent. The locustfile ships with the source tree
(``loadtests/firehose.py``), not with the wheel.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import typer

from simulator._exceptions import UsageError
from simulator.cli._app import app

__all__ = ["find_locustfile", "loadtest", "locust_command"]

_CHECKOUT = Path(__file__).resolve().parents[2]


def find_locustfile(environ: Mapping[str, str] = os.environ) -> Path:
    """``loadtests/firehose.py`` of this checkout (or ``$CHESTSIM_LOCUSTFILE``)."""
    given = environ.get("CHESTSIM_LOCUSTFILE")
    candidate = Path(given).expanduser() if given else _CHECKOUT / "loadtests" / "firehose.py"
    if not candidate.is_file():
        raise UsageError(
            f"locustfile {str(candidate)!r} not found; the firehose locustfile ships with the chestsim "
            "source tree: run from a checkout, set CHESTSIM_LOCUSTFILE, or pass -f FILE"
        )
    return candidate


def locust_command(args: Sequence[str], *, environ: Mapping[str, str] = os.environ) -> list[str]:
    """The Locust command line: ``python -m locust -f <firehose.py> args…`` unless ``-f`` is given."""
    if importlib.util.find_spec("locust") is None:
        raise UsageError("Locust is not installed; install it with `pip install 'chestsim[load]'`")
    own_file = any(a in ("-f", "--locustfile") or a.startswith(("-f=", "--locustfile=")) for a in args)
    prefix = [] if own_file else ["-f", str(find_locustfile(environ))]
    return [sys.executable, "-m", "locust", *prefix, *args]


@app.command(
    "loadtest",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def loadtest(ctx: typer.Context) -> None:
    """Run Locust with the firehose locustfile; every argument goes to Locust (try --help)."""
    command = locust_command(list(ctx.args))
    env = dict(os.environ)
    # The locustfile imports the `loadtests` package of the checkout it lives in.
    root = str(_CHECKOUT)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    try:
        code = subprocess.call(command, env=env)
    except KeyboardInterrupt:  # Locust got the same SIGINT and prints its own summary
        code = 130
    raise typer.Exit(code)
