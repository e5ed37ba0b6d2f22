"""The ``chestsim`` console script: the command line, with Ctrl-C handled from the first moment.

Importing the command line (Typer, Rich, the commands) takes a few tenths of a
second; a Ctrl-C in that time would otherwise end in a traceback. This module
imports nothing heavy itself, so it can catch it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``chestsim``; a Ctrl-C at any point says so in one line and exits 130."""
    try:
        from simulator.cli import main as run

        return run(argv)
    except KeyboardInterrupt:
        print("chestsim: error: interrupted", file=sys.stderr)
        return 130
