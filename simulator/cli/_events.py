"""``chestsim events list`` and ``chestsim events show``."""

from __future__ import annotations

import sys

import orjson
import typer

from simulator._catalog import CATALOG, lookup
from simulator._exceptions import UsageError
from simulator.cli._app import OutputFormat, events_app


@events_app.command("list")
def list_events(
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json"),
) -> None:
    """List the 24 event types: key, the product page's label, description."""
    if format is OutputFormat.json:
        rows = [{"key": t.key, "label": t.label, "description": t.description} for t in CATALOG]
        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
        return
    # Rich is imported here, not at the top: every other command starts ~60 ms sooner.
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Secret Chest webhook events (Select all = every row)")
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("label")
    table.add_column("description")
    for t in CATALOG:
        table.add_row(t.key, t.label, t.description)
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@events_app.command("show")
def show_event(
    name: str = typer.Argument(..., metavar="NAME", help="an event key or label, e.g. secret.used or 'Secret Used'"),
    example: str = typer.Option("full", "--example", metavar="minimal|full",
                                help="which shipped example to show"),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json"),
) -> None:
    """Show an event type's JSON Schema and one example."""
    event_type = lookup(name)
    examples = {p.stem: p for p in sorted((event_type.schema_path.parent.parent / "examples" / event_type.key).glob("*.json"))}
    chosen = examples.get(example)
    if chosen is None:
        raise UsageError(f"--example={example!r}: {event_type.key} has the examples "
                         f"{', '.join(sorted(examples))}; pick one of them")
    example_doc = orjson.loads(chosen.read_bytes()) if chosen else None
    if format is OutputFormat.json:
        doc = {"key": event_type.key, "label": event_type.label, "description": event_type.description,
               "schema": event_type.schema, "example": example_doc}
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        return
    out = sys.stdout
    out.write(f"{event_type.key} — {event_type.label}\n{event_type.description}\n\n")
    out.write(f"schema ({event_type.schema_id}):\n")
    out.write(orjson.dumps(event_type.schema, option=orjson.OPT_INDENT_2).decode() + "\n")
    if example_doc is not None:
        out.write(f"\nexample ({chosen.name if chosen else ''}):\n")
        out.write(orjson.dumps(example_doc, option=orjson.OPT_INDENT_2).decode() + "\n")
