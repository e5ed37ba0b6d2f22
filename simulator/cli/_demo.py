"""``chestsim demo``: the whole pipeline on embedded defaults (what ``make demo`` runs)."""

from __future__ import annotations

from pathlib import Path

import typer

from simulator._exceptions import UsageError
from simulator.cli._app import app


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", "-o", metavar="DIR",
                             help="folder for the stream, the journal and the listener's records"),
) -> int:
    """Generate a tenant's day, validate it, send it signed to a local listener, inspect what arrived.

    Everything stays on loopback; the signing secret is made for the run and never printed.
    """
    from simulator import demo as pipeline

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out={str(out)!r} is a file; give a folder (it is created when missing)")
    try:
        return pipeline.main(out)
    except OSError as exc:
        raise UsageError(f"--out={str(out)!r} cannot be used: {exc.strerror}") from None
    except SystemExit as exc:
        # A step of the demo failed; it already said which, in one line.
        raise UsageError(str(exc.code)) from None
