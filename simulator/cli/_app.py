"""The root Typer application; command modules register on it."""

from __future__ import annotations

import enum

import typer
import typer.core

__all__ = ["OutputFormat", "app", "endpoints_app", "events_app", "scenarios_app", "schemas_app"]

app = typer.Typer(
    name="chestsim",
    help="Testing harness and mock event simulator for Secret Chest webhooks.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
events_app = typer.Typer(help="The 24 event types: list them, show a schema and an example.",
                         no_args_is_help=True)
scenarios_app = typer.Typer(help="Shipped scenario scripts.", no_args_is_help=True)
endpoints_app = typer.Typer(help="Endpoint configuration.", no_args_is_help=True)
schemas_app = typer.Typer(help="The payload contract as a whole: export it (OpenAPI 3.1, AsyncAPI 3.0, one JSON "
                               "Schema), diff two versions of it.", no_args_is_help=True)


def _show_version(value: bool) -> None:
    if value:
        from simulator._version import __version__

        print(f"chestsim {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-V", is_eager=True, callback=_show_version,
                                 help="print chestsim's version and exit"),
) -> None:
    """Testing harness and mock event simulator for Secret Chest webhooks."""


app.add_typer(events_app, name="events")
app.add_typer(scenarios_app, name="scenarios")
app.add_typer(endpoints_app, name="endpoints")
app.add_typer(schemas_app, name="schemas")




class OutputFormat(enum.StrEnum):
    """How a command prints its result."""

    text = "text"
    json = "json"
