"""Helpers of the contract tests: editable copies of the shipped schemas, $ref walking."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from simulator._resources import schemas_dir


def copy_schemas(destination: Path) -> Path:
    """A copy of the shipped schemas (without examples) to edit."""
    shutil.copytree(schemas_dir(), destination, ignore=shutil.ignore_patterns("examples"))
    return destination


def edit(folder: Path, relative: str, change: Callable[[Any], object]) -> None:
    """Apply ``change`` to the parsed JSON of ``folder/relative`` and write it back."""
    path = folder / relative
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` string in a document (not inside ``const``/``enum``/``examples`` values)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key not in ("const", "enum", "examples", "default"):
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(document: Any, ref: str) -> Any:
    """The node a local ``#/…`` JSON pointer names; ``LookupError`` when there is none."""
    node = document
    for part in ref.removeprefix("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise LookupError(f"{ref} names nothing in the document") from None
    return node
