"""``chestsim schemas export`` and ``chestsim schemas diff``: the contract for other tools, and its changes."""

from __future__ import annotations

import enum
import os
import sys
import tempfile
from pathlib import Path

import orjson
import typer

from simulator._exceptions import UsageError
from simulator.cli._app import OutputFormat, schemas_app
from simulator.cli._output import to_stdout


class ExportFormat(enum.StrEnum):
    """What ``chestsim schemas export`` writes."""

    openapi = "openapi"
    asyncapi = "asyncapi"
    bundle = "bundle"


_EXPORT_EPILOG = (
    "openapi: an OpenAPI 3.1 document whose webhooks hold the 24 events (body schema, the webhook-id, "
    "webhook-timestamp and webhook-signature headers, the optional bearer token, the answers a listener owes). "
    "asyncapi: an AsyncAPI 3.0 document (one channel, one receive operation and one message per event type). "
    "bundle: one JSON Schema (draft 2020-12) holding every schema, every $ref inside it; any event validates "
    "against it, and `chestsim schemas diff` reads it back."
)
_DIFF_EPILOG = (
    "Breaking for listeners: an event type or field removed or renamed, a new required field, a field now "
    "optional or required, a type changed, an enum narrowed, a bound or rule tightened. Compatible: a new event "
    "type, a new optional field, an enum widened (breaking with --strict-enums), a bound loosened. Exit codes: 0 no breaking change; 1 breaking "
    "changes; 2 an input that cannot be read."
)


@schemas_app.command("export", epilog=_EXPORT_EPILOG)
def export_command(
    format: str = typer.Option(..., "--format", metavar="openapi|asyncapi|bundle", show_default=False,
                               help="what to write"),
    out: str | None = typer.Option(None, "--out", "-o", metavar="FILE", show_default=False,
                                   help="write to FILE (replaced whole, never half-written) [default: stdout]"),
    schemas: str | None = typer.Option(None, "--schemas", metavar="DIR", show_default=False,
                                       help="export this contract folder or bundle [default: the shipped schemas]"),
) -> None:
    """Export the payload contract as OpenAPI 3.1 webhooks, AsyncAPI 3.0, or one JSON Schema bundle."""
    from simulator.contract import asyncapi, load_contract, openapi

    try:
        chosen = ExportFormat(format.strip().lower())
    except ValueError:
        raise UsageError(f"--format={format!r} is not an export format; use openapi, asyncapi or bundle") from None
    contract = load_contract(schemas)
    if chosen is ExportFormat.openapi:
        document = openapi(contract)
    elif chosen is ExportFormat.asyncapi:
        document = asyncapi(contract)
    else:
        document = contract.bundle()
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    if out is None or out == "-":
        to_stdout(lambda: sys.stdout.buffer.write(data), f"{chosen.value} document",
                   f"--out {chosen.value}.json")
        return
    _write_whole(Path(out), data)
    print(f"wrote {chosen.value} ({len(contract.events)} event types) to {out}", file=sys.stderr)


def _write_whole(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it, so a reader never sees half a document."""
    if path.is_dir():
        raise UsageError(f"--out={str(path)!r} is a folder; give a file name, like {path / 'openapi.json'}")
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"--out={str(path)!r}: the folder {str(folder)!r} does not exist; create it first")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"--out={str(path)!r} cannot be written ({exc.strerror or exc}); "
                         "pick a folder you can write to") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise UsageError(f"--out={str(path)!r} cannot be written ({exc.strerror or exc}); "
                         "pick a file you can write to") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@schemas_app.command("diff", epilog=_DIFF_EPILOG)
def diff_command(
    old: str = typer.Argument(..., metavar="OLD", help="the contract listeners were written against: a folder "
                              "like schemas/, or a bundle"),
    new: str = typer.Argument(..., metavar="NEW", help="the contract to compare with it: a folder or a bundle"),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json"),
    strict_enums: bool = typer.Option(False, "--strict-enums", help="a widened enum is breaking too (listeners "
                                      "that switch over every value, or models generated from OLD, refuse new "
                                      "values)"),
) -> None:
    """Compare two contracts per event type; each change is breaking for listeners or compatible."""
    from simulator.contract import diff_contracts, load_contract

    diff = diff_contracts(load_contract(old, examples=False), load_contract(new, examples=False),
                          strict_enums=strict_enums)
    to_stdout(diff.write_json if format is OutputFormat.json else diff.write_text, "diff", "> diff.txt")
    raise typer.Exit(diff.exit_code)
