"""Where the shipped data lives: ``schemas/``, ``scenarios/`` and ``examples/``.

In a wheel they are inside the package (``simulator/_data/``); in a checkout
or an editable install they are the top-level folders beside the package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["data_dir", "scenarios_dir", "schemas_dir"]

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """The folder holding shipped data ``name`` (``"schemas"``, ``"scenarios"`` or ``"examples"``)."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"chestsim's {name}/ folder is missing; reinstall chestsim")


def schemas_dir() -> Path:
    """The folder of JSON Schemas (``schemas/``)."""
    return data_dir("schemas")


def scenarios_dir() -> Path:
    """The folder of shipped scenario scripts (``scenarios/``)."""
    return data_dir("scenarios")
