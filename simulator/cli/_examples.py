"""``chestsim examples``: the example listeners and files, shipped in the wheel, copied where you want them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import typer

from simulator._exceptions import UsageError
from simulator.cli._app import app

examples_app = typer.Typer(help="Example listeners (Starlette, Flask) with their tests, and example files.",
                           no_args_is_help=True)
app.add_typer(examples_app, name="examples")


def _shipped() -> list[Path]:
    from simulator._resources import data_dir

    return sorted(p for p in data_dir("examples").iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix != ".pyc")


@examples_app.command("list")
def list_examples() -> None:
    """List the example files and what each is."""
    for path in _shipped():
        print(f"{path.name:28} {_first_line(path)}")


@examples_app.command("copy")
def copy_examples(
    into: Path = typer.Argument(..., metavar="DIR", help="folder to copy them into (created when missing)"),
    force: bool = typer.Option(False, "--force", help="overwrite files that already exist there"),
) -> None:
    """Copy the examples into DIR, e.g. `chestsim examples copy ./chestsim-examples`."""
    if into.exists() and not into.is_dir():
        raise UsageError(f"DIR={str(into)!r} is a file; give a folder")
    files = _shipped()
    clashes = [p.name for p in files if (into / p.name).exists()]
    if clashes and not force:
        raise UsageError(f"DIR={str(into)!r} already has {', '.join(clashes)}; add --force to overwrite")
    try:
        into.mkdir(parents=True, exist_ok=True)
        for path in files:
            shutil.copyfile(path, into / path.name)
    except OSError as exc:
        raise UsageError(f"DIR={str(into)!r} cannot be written: {exc.strerror}") from None
    print(f"copied {len(files)} files to {into}/ (see {into / 'README.md'})", file=sys.stderr)


def _first_line(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    for line in text.splitlines():
        stripped = line.strip().strip('"#').strip()
        if stripped and not stripped.startswith(("from ", "import ", "[")):
            return stripped[:80]
    return ""
