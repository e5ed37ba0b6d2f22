"""The ``chestsim`` command line.

Every failure the user can fix prints one line, ``chestsim: error: …``, and
exits 2; payloads that fail validation exit 1; nothing prints a traceback
unless ``CHESTSIM_DEBUG=1`` asks for it.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Sequence
from typing import Any

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
from simulator.cli._output import drop_stdout

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
    _guard_standard_streams()
    try:
        result = command.main(args=args, prog_name="chestsim", standalone_mode=False)
        if sys.stdout is not None:
            sys.stdout.flush()  # a full disk or a closed stream shows here, not at exit
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
        drop_stdout()
        return 0
    except SystemExit as exc:
        # Click answers a broken pipe with sys.exit(1) even outside standalone mode; 1 means
        # "payloads invalid" here, so a reader that left early (| head) is answered as above.
        context = exc.__context__
        if isinstance(context, OSError) and context.errno == errno.EPIPE:
            drop_stdout()
            return 0
        raise
    except (UsageError, click.FileError) as exc:
        _error(exc.format_message() if isinstance(exc, click.FileError) else str(exc))
        return 2
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRNOS or exc.filename is not None:
            raise _Internal(exc) from exc
        drop_stdout()  # what is still buffered would fail again at exit
        reason = "it is closed" if exc.errno == errno.EBADF else exc.strerror or str(exc)
        _error(f"cannot write the output: {reason}; send it somewhere with room (> file on another disk), "
               "not to a closed or full stream")
        return 2
    except ChestsimError as exc:
        _error(str(exc))
        return 1
    except Exception as caught:
        bug = caught.__cause__ if isinstance(caught, _Internal) and caught.__cause__ else caught
        if os.environ.get("CHESTSIM_DEBUG"):
            raise bug from None
        _error(f"internal error {type(bug).__name__}: {bug} (set CHESTSIM_DEBUG=1 for the traceback "
               "and please report it)")
        return 70
    code = int(result) if isinstance(result, int) else 0
    if code == 130 and not _said:
        # Typer turns a Ctrl-C into a silent exit 130; commands with more to say (what was kept)
        # catch it first and say it themselves.
        _error("interrupted")
    return code


# Errors of writing output (not of opening a file, which names it): a full disk, a closed
# stream, an I/O error, a file grown past its limit or quota.
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EBADF, errno.EIO, errno.EFBIG, errno.EDQUOT}


class _Internal(Exception):
    """Carries an exception that is a bug, not bad input, to the internal-error answer."""


class _ClosedOutput(io.RawIOBase):
    """Stands in for a standard stream that was closed before chestsim started (``>&-``)."""

    refused = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        # Refused once, where it can still be answered in one line; what is flushed at exit
        # is dropped, or Python would print a traceback after the answer.
        if self.refused:
            return len(data)
        self.refused = True
        raise OSError(errno.EBADF, "standard output is closed")


def _guard_standard_streams() -> None:
    # With fd 0, 1 or 2 closed, the next file chestsim opens (a journal, a record database)
    # would get that number, and output meant for the terminal would land in it. /dev/null
    # takes the number first; output to a closed stdout then fails in one line, exit 2.
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                opened = os.open(os.devnull, os.O_RDWR)
            except OSError:
                return
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
    if sys.stdout is None:
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(_ClosedOutput()), encoding="utf-8")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (lives as long as the process)
