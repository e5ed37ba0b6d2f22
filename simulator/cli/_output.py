"""Standard output that cannot take what a command writes: a full disk, a closed stream."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from simulator._exceptions import UsageError

__all__ = ["drop_stdout", "to_stdout"]


def to_stdout(write: Callable[[], object], what: str, elsewhere: str) -> None:
    """Run ``write`` (which prints to stdout) and flush; a full or closed stdout is one line, exit 2.

    ``what`` names the output ("report"), ``elsewhere`` how to send it to a file ("> report.txt").
    A reader that leaves early (``| head``) is not an error: BrokenPipeError passes through.
    """
    try:
        write()
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        drop_stdout()  # what is still buffered would fail again at exit
        raise UsageError(f"cannot write the {what} to standard output: {exc.strerror or exc}; "
                         f"write it to a file with room ({elsewhere})") from None


def drop_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so what is still buffered is flushed harmlessly at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
