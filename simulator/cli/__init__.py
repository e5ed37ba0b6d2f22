"""The ``chestsim`` command line.

Every failure the user can fix prints one line, ``chestsim: error: …``, and
exits 2; payloads that fail validation exit 1; nothing prints a traceback
unless ``CHESTSIM_DEBUG=1`` asks for it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

# Typer vendors its own copy of Click; its exceptions are the ones raised here.
from typer._click import exceptions as click

from simulator._exceptions import ChestsimError, UsageError
from simulator.cli import (  # noqa: F401  (each module registers its commands on ``app``)
    _certify,
    _demo,
    _events,
    _examples,
    _generate,
    _listen,
    _loadtest,
    _schemas,
    _send,
    _validate,
)
from simulator.cli._app import app

__all__ = ["app", "main"]


_said: list[str] = []  # the error lines printed during this run


def _error(message: str) -> None:
    line = f"chestsim: error: {' '.join(str(message).split())}"
    _said.append(line)
    print(line, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it)."""
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    _said.clear()
    try:
        result = command.main(args=args, prog_name="chestsim", standalone_mode=False)
    except click.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx else "", file=sys.stderr)
        return 2
    except click.UsageError as exc:
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        _error(f"{exc.format_message()}{where}")
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        _error("interrupted")
        return 130
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (``chestsim generate | head``): not an error.
        _silence_stdout()
        return 0
    except (UsageError, click.FileError) as exc:
        _error(exc.format_message() if isinstance(exc, click.FileError) else str(exc))
        return 2
    except ChestsimError as exc:
        _error(str(exc))
        return 1
    except Exception as exc:
        if os.environ.get("CHESTSIM_DEBUG"):
            raise
        _error(f"internal error {type(exc).__name__}: {exc} (set CHESTSIM_DEBUG=1 for the traceback "
               "and please report it)")
        return 70
    code = int(result) if isinstance(result, int) else 0
    if code == 130 and not _said:
        # Typer turns a Ctrl-C into a silent exit 130; commands with more to say (what was kept)
        # catch it first and say it themselves.
        _error("interrupted")
    return code


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
