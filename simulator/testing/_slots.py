"""Slots: every value of an event beside the part of its schema that governs it.

The edge-case and hostile strategies both need to know, for a value at some
JSON pointer, whether its property is required, what type the schema wants and
which bounds apply. ``slots(event)`` walks an event together with its type's
schema (following ``$ref``, merging ``allOf``, picking the ``oneOf`` branch the
value matches) and yields one ``Slot`` per value, in document order, so that a
drawn index always means the same place.

>>> from simulator import lookup
>>> event = lookup("secret.used").examples[0]
>>> [s.pointer for s in slots(event)][:3]
['/id', '/type', '/timestamp']
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urldefrag, urljoin

import orjson

from simulator._catalog import CATALOG, SCHEMA_BASE
from simulator._resources import schemas_dir
from simulator._types import Event

__all__ = ["Slot", "slots"]

_Schema = dict[str, Any]
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


@dataclass(frozen=True, slots=True)
class Slot:
    """One value in an event: where it is and what its schema asks of it."""

    path: tuple[str | int, ...]
    #: The governing schema, with ``$ref`` and ``allOf`` merged in (``{}`` when unconstrained).
    schema: _Schema
    #: True when the value is a property its parent object must have.
    required: bool

    @property
    def pointer(self) -> str:
        """The JSON pointer of the value (RFC 6901)."""
        return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in self.path)

    @property
    def kind(self) -> str | None:
        """The JSON type the schema asks for, when it names exactly one."""
        kind = self.schema.get("type")
        return kind if isinstance(kind, str) else None

    @property
    def free_text(self) -> bool:
        """A string bounded only by length: a name, a title, a description."""
        s = self.schema
        return (self.kind == "string" and "maxLength" in s
                and not any(k in s for k in ("pattern", "format", "enum", "const")))


@cache
def _documents() -> dict[str, _Schema]:
    root = schemas_dir()
    docs: dict[str, _Schema] = {}
    for path in [root / "definitions.json", root / "envelope.json", *sorted((root / "events").glob("*.json"))]:
        doc = orjson.loads(path.read_bytes())
        docs[doc.get("$id", SCHEMA_BASE + path.relative_to(root).as_posix())] = doc
    return docs


def _resolve(ref: str, base: str) -> tuple[_Schema, str]:
    uri, fragment = urldefrag(urljoin(base, ref))
    node: Any = _documents()[uri]
    for token in (t for t in fragment.split("/") if t):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node, uri


_Part = tuple[_Schema, str]


def _merge(parts: list[_Part], instance: Any) -> _Schema:
    """One flat schema: ``$ref`` and ``allOf`` folded in, the matching ``oneOf`` branch chosen."""
    out: _Schema = {}
    props: dict[str, list[_Part]] = {}
    items: list[_Part] = []
    required: set[str] = set()

    def fold(node: _Schema, here: str) -> None:
        if "$ref" in node:
            target, uri = _resolve(node["$ref"], here)
            fold(target, uri)
        for part in node.get("allOf", ()):
            fold(part, here)
        for branch in node.get("oneOf", ()) or node.get("anyOf", ()):
            flat = _merge([(branch, here)], instance)
            if _matches_type(flat, instance):
                fold(branch, here)
                break
        for key, value in node.items():
            if key == "properties":
                for name, sub in value.items():
                    props.setdefault(name, []).append((sub, here))
            elif key == "required":
                required.update(value)
            elif key == "items":
                items.append((value, here))
            elif key not in ("$ref", "allOf", "oneOf", "anyOf", "$defs", "$id", "$schema"):
                out.setdefault(key, value)

    for schema, base in parts:
        fold(schema, base)
    if props:
        out["properties"] = props
    if items:
        out["items"] = items
    if required:
        out["required"] = sorted(required)
    return out


def _matches_type(flat: _Schema, instance: Any) -> bool:
    kind = flat.get("type")
    if not isinstance(kind, str):
        return True
    if isinstance(instance, bool) and kind in ("integer", "number"):
        return False
    return isinstance(instance, _JSON_TYPES.get(kind, (object,)))


def _public(flat: _Schema) -> _Schema:
    """The merged schema without the walk's bookkeeping (sub-schemas and their base URIs)."""
    return {k: v for k, v in flat.items() if k not in ("properties", "items")}


def _walk(instance: Any, parts: list[_Part], path: tuple[str | int, ...],
          required: bool) -> Iterator[Slot]:
    flat = _merge(parts, instance)
    yield Slot(path, _public(flat), required)
    if isinstance(instance, dict):
        props: dict[str, list[_Part]] = flat.get("properties", {})
        needed = set(flat.get("required", ()))
        for name, value in instance.items():
            yield from _walk(value, props.get(name, []), (*path, name), name in needed)
    elif isinstance(instance, list):
        for index, value in enumerate(instance):
            yield from _walk(value, flat.get("items", []), (*path, index), False)


def slots(event: Event) -> Iterator[Slot]:
    """Every value below the root of ``event``, with its governing schema, in document order.

    An event of an unknown type is walked against the envelope schema alone.
    """
    key = event.get("type")
    uri = next((t.schema_id for t in CATALOG if t.key == key), SCHEMA_BASE + "envelope.json")
    root = _documents()[uri]
    walk = _walk(event, [(root, uri)], (), True)
    next(walk)  # the root itself is never a slot to change
    yield from walk
