"""The root Typer application; command modules register on it."""

from __future__ import annotations

import enum

import typer

__all__ = ["OutputFormat", "app", "endpoints_app", "events_app", "scenarios_app"]

app = typer.Typer(
    name="chestsim",
    help="Testing harness and mock event simulator for Secret Chest webhooks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
events_app = typer.Typer(help="The 24 event types: list them, show a schema and an example.",
                         no_args_is_help=True)
scenarios_app = typer.Typer(help="Shipped scenario scripts.", no_args_is_help=True)
endpoints_app = typer.Typer(help="Endpoint configuration.", no_args_is_help=True)
app.add_typer(events_app, name="events")
app.add_typer(scenarios_app, name="scenarios")
app.add_typer(endpoints_app, name="endpoints")


class OutputFormat(enum.StrEnum):
    """How a command prints its result."""

    text = "text"
    json = "json"
