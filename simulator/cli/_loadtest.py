"""``chestsim loadtest``: Locust with the firehose locustfile, in its own process.

Everything after ``loadtest`` goes to Locust unchanged (``chestsim loadtest
--help`` shows Locust's help with the firehose options). Locust runs as a
child process, never imported here: importing it monkey-patches the whole
process with gevent. The locustfile and its ``loadtests`` package ship inside
the wheel (``simulator/_data/loadtests/``); in a checkout they are the
top-level ``loadtests/`` folder. Only the Locust process imports ``loadtests``:
its folder's parent is put on that process's ``PYTHONPATH``, never on this one's.
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
from simulator._resources import data_dir
from simulator.cli._app import app

__all__ = ["find_locustfile", "loadtest", "locust_command"]


def _loadtests_dir() -> Path:
    try:
        return data_dir("loadtests")
    except FileNotFoundError:
        raise UsageError("chestsim's loadtests/ folder is missing from this installation; reinstall "
                         "chestsim, or set CHESTSIM_LOCUSTFILE, or pass -f FILE") from None


def find_locustfile(environ: Mapping[str, str] = os.environ) -> Path:
    """The firehose locustfile (``loadtests/firehose.py``), or ``$CHESTSIM_LOCUSTFILE``."""
    given = environ.get("CHESTSIM_LOCUSTFILE")
    candidate = Path(given).expanduser() if given else _loadtests_dir() / "firehose.py"
    if not candidate.is_file():
        where = "CHESTSIM_LOCUSTFILE" if given else "chestsim's loadtests/ folder"
        raise UsageError(f"locustfile {str(candidate)!r} not found (from {where}); set CHESTSIM_LOCUSTFILE "
                         "to a locustfile, pass -f FILE, or reinstall chestsim")
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
    # The locustfile (and a locustfile of one's own that uses the firehose users) imports the
    # `loadtests` package: the folder holding it goes first on the Locust process's path.
    root = str(_loadtests_dir().parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    try:
        code = subprocess.call(command, env=env)
    except KeyboardInterrupt:  # Locust got the same SIGINT and prints its own summary
        code = 130
    raise typer.Exit(code)
