"""A contract, loaded once: a folder of JSON Schemas (like ``schemas/``) or a single-file bundle.

Both become the same thing, a :class:`Contract`: one mapping of named schemas
whose ``$ref`` all point inside it (``#/$defs/<name>…``), plus the event types
it describes. Exports and diffs work on that shape only, so they follow
whatever the folder holds today.

A folder's layout is the one chestsim ships: ``envelope.json`` and
``definitions.json`` at the top, one ``events/<type>.json`` per event type.
Every ``$ref`` must resolve to one of the folder's files; nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

import orjson

from simulator._catalog import CATALOG, SCHEMA_BASE
from simulator._exceptions import InputError

__all__ = ["BUNDLE_ID", "Contract", "def_name", "load_contract", "map_refs"]

#: The ``$id`` of an exported bundle.
BUNDLE_ID = f"{SCHEMA_BASE}bundle.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

_HOW = ("give a contract folder (envelope.json, definitions.json, events/*.json, like chestsim's schemas/) "
        "or a bundle from `chestsim schemas export --format bundle`")
# Keywords whose values are data, not schemas: a "$ref" key inside them is not a reference.
_DATA_KEYWORDS = frozenset({"const", "enum", "examples", "default"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
_METADATA = frozenset({"$schema", "$id", "$comment", "title", "description", "$defs"})
_CATALOG_ORDER = {t.key: i for i, t in enumerate(CATALOG)}


@dataclass(frozen=True, slots=True)
class Contract:
    """Every schema of a contract under one roof, each ``$ref`` an in-bundle pointer.

    >>> contract = load_contract()
    >>> len(contract.events), contract.events["secret.used"]
    (24, 'secret_used')
    >>> contract.resolve({"$ref": "#/$defs/uuid"})["format"]
    'uuid'
    """

    source: str
    defs: Mapping[str, Any]
    #: event type key → the name of its schema in ``defs`` (see :func:`def_name`)
    events: Mapping[str, str]
    #: event type key → example name → event, from a folder's ``examples/<key>/<name>.json`` (none in a bundle)
    examples: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"load_contract({self.source!r})"

    def event_schema(self, key: str) -> Any:
        """The schema of event type ``key`` (its ``$ref`` still unresolved)."""
        return self.defs[self.events[key]]

    def resolve(self, node: Any) -> Any:
        """Follow ``node``'s ``$ref`` chain (if any) to the schema it names."""
        seen: set[str] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen:
                raise InputError(f"{self.source}: $ref {ref!r} refers to itself in a loop; fix the schema",
                                 path=self.source)
            seen.add(ref)
            node = self.pointer(ref)
        return node

    def pointer(self, ref: str) -> Any:
        """The schema at an in-bundle reference ``#/$defs/<name>/…``."""
        parts = [p.replace("~1", "/").replace("~0", "~") for p in ref.removeprefix("#").split("/")[1:]]
        node: Any = {"$defs": self.defs}
        try:
            for part in parts:
                node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise InputError(f"{self.source}: $ref {ref!r} points at nothing in the contract; fix the schema",
                             path=self.source) from None
        return node

    def bundle(self) -> dict[str, Any]:
        """The contract as one JSON Schema (draft 2020-12): any event validates against it.

        ``oneOf`` holds one ``$ref`` per event type (each fixes ``type`` with a
        ``const``, so exactly one matches); ``$defs`` holds every shape.
        """
        return {
            "$schema": DIALECT,
            "$id": BUNDLE_ID,
            "title": "Secret Chest webhook events",
            "description": "Every webhook event of Secret Chest in one schema: the envelope, the shared shapes "
                           "and one definition per event type, each named by its key. Made by "
                           "`chestsim schemas export --format bundle`.",
            "oneOf": [{"$ref": f"#/$defs/{name}"} for name in self.events.values()],
            "$defs": dict(self.defs),
        }


def load_contract(path: str | Path | None = None, *, examples: bool = True) -> Contract:
    """Load a contract folder or bundle file; ``None`` loads the contract chestsim ships.

    ``examples=False`` leaves a folder's ``examples/`` unread (a diff needs only the schemas).

    >>> contract = load_contract()
    >>> contract
    load_contract('.../schemas')
    >>> sorted(contract.examples["secret.used"])
    ['full', 'minimal']

    Raises :class:`~simulator.InputError` (one line, naming the file and the fix)
    for a missing path, a file that is not JSON, or a ``$ref`` that leaves the contract.
    """
    if path is None:
        from simulator._resources import schemas_dir

        path = schemas_dir()
    where = Path(path)
    try:
        if where.is_dir():
            return _from_folder(where, examples=examples)
        if where.is_file():
            return _from_bundle(where)
    except RecursionError:
        raise InputError(f"{path}: a schema nests too deeply to follow; no event needs that many levels",
                         path=str(path)) from None
    raise InputError(f"{path}: no such folder or file; {_HOW}", path=str(path))


def _read(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc}); {_HOW}", path=str(path)) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); {_HOW}", path=str(path)) from None


@dataclass(frozen=True, slots=True)
class _File:
    path: Path
    uri: str
    name: str
    schema: dict[str, Any]


def _from_folder(folder: Path, *, examples: bool) -> Contract:
    events_dir = folder / "events"
    event_paths = sorted(events_dir.glob("*.json")) if events_dir.is_dir() else []
    if not event_paths:
        raise InputError(f"{folder}: holds no events/*.json; {_HOW}", path=str(folder))
    files: list[_File] = []
    events: dict[str, str] = {}
    for path in [*sorted(folder.glob("*.json")), *event_paths]:
        schema = _read(path)
        if not isinstance(schema, dict):
            raise InputError(f"{path}: a schema file must hold a JSON object; {_HOW}", path=str(path))
        name = path.stem
        if path.parent == events_dir:
            name = _event_key(schema, default=path.stem)
            if name in events:
                raise InputError(f"{path}: a second schema for event type {name!r}; keep one file per type",
                                 path=str(path))
            events[name] = name = def_name(name)
        uri = schema["$id"] if isinstance(schema.get("$id"), str) else path.resolve().as_uri()
        files.append(_File(path, uri, name, schema))
    by_uri = {f.uri: f for f in files}
    defs: dict[str, Any] = {}
    origin: dict[str, Path] = {}

    def place(name: str, schema: Any, path: Path) -> None:
        if name in defs and defs[name] != schema:
            raise InputError(f"{path}: the name {name!r} is also defined in {origin[name]}; the bundle needs one "
                             "meaning per name, so rename one of them", path=str(path))
        defs[name], origin[name] = schema, path

    for f in files:
        shapes = f.schema.get("$defs")
        if shapes is not None and not isinstance(shapes, dict):
            raise InputError(f"{f.path}: $defs must be an object of named schemas; fix the file", path=str(f.path))
        for shape, sub in (shapes or {}).items():
            place(shape, _rewrite(sub, f.uri, by_uri, f.path), f.path)
        body = {k: v for k, v in f.schema.items() if k not in ("$schema", "$id", "$defs")}
        if set(f.schema) - _METADATA:
            place(f.name, _rewrite(body, f.uri, by_uri, f.path), f.path)
    ordered = dict(sorted(events.items(), key=lambda kv: (_CATALOG_ORDER.get(kv[0], len(_CATALOG_ORDER)), kv[0])))
    for name in ordered.values():
        _name_data(defs, name)
    shipped = {key: {p.stem: _read(p) for p in sorted((folder / "examples" / key).glob("*.json"))}
               for key in ordered} if examples else {}
    return _checked(Contract(source=str(folder), defs=defs, events=ordered,
                             examples={key: found for key, found in shipped.items() if found}))


def _name_data(defs: dict[str, Any], name: str) -> None:
    """Give an event's inline ``data`` schema a name of its own, ``<event>_data``, in place.

    Code generators name a class after its definition: ``SecretUsedData`` reads
    better than the ``Data17`` an inline schema would get. Nothing else changes.
    """
    schema = defs[name]
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return
    data = properties.get("data")
    target = f"{name}_data"
    if isinstance(data, dict) and "$ref" not in data and target not in defs:
        defs[target] = data
        defs[name] = {**schema, "properties": {**properties, "data": {"$ref": f"#/$defs/{target}"}}}


def def_name(key: str) -> str:
    """The bundle's name for event type ``key``: ``secret.used`` → ``secret_used``.

    Code generators read a dotted name as a module path, so the bundle avoids dots.
    """
    return key.replace(".", "_")


def _event_key(schema: dict[str, Any], *, default: str) -> str:
    """An event schema's type: the ``const`` it fixes ``type`` to, else its file or definition name."""
    properties = schema.get("properties")
    type_node = properties.get("type") if isinstance(properties, dict) else None
    if isinstance(type_node, dict) and isinstance(type_node.get("const"), str):
        return str(type_node["const"])
    return default


def _rewrite(node: Any, base: str, by_uri: Mapping[str, _File], path: Path) -> Any:
    """A copy of ``node`` whose every ``$ref`` is an in-bundle pointer."""
    return map_refs(node, lambda ref: _bundle_ref(ref, base, by_uri, path))


def map_refs(node: Any, change: Callable[[str], str]) -> Any:
    """A copy of schema ``node`` with ``change`` applied to every ``$ref``.

    Values of data keywords (``const``, ``enum``…) are copied as they are, and
    the names in ``properties`` or ``$defs`` are names, never keywords.
    """
    if isinstance(node, list):
        return [map_refs(item, change) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = change(value)
        elif key in _DATA_KEYWORDS:
            out[key] = value
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: map_refs(sub, change) for name, sub in value.items()}
        else:
            out[key] = map_refs(value, change)
    return out


def _bundle_ref(ref: str, base: str, by_uri: Mapping[str, _File], path: Path) -> str:
    document, fragment = urldefrag(urljoin(base, ref))
    target = by_uri.get(document)
    if target is None:
        raise InputError(f"{path}: $ref {ref!r} leaves the contract folder ({document}); every $ref must name "
                         "one of its files, since nothing is fetched", path=str(path))
    parts = fragment.split("/") if fragment else [""]
    if len(parts) >= 3 and parts[0] == "" and parts[1] == "$defs":
        return "#/$defs/" + "/".join(parts[2:])  # shared shapes are hoisted to the bundle's $defs
    return f"#/$defs/{target.name}{fragment}"


def _from_bundle(path: Path) -> Contract:
    doc = _read(path)
    defs = doc.get("$defs") if isinstance(doc, dict) else None
    branches = doc.get("oneOf") if isinstance(doc, dict) else None
    if not isinstance(defs, dict) or not isinstance(branches, list) or not branches:
        raise InputError(f"{path}: not a contract bundle (a JSON Schema with $defs and a oneOf of event "
                         f"types); {_HOW}", path=str(path))
    events: dict[str, str] = {}
    for branch in branches:
        ref = branch.get("$ref") if isinstance(branch, dict) else None
        name = ref.removeprefix("#/$defs/") if isinstance(ref, str) and ref.startswith("#/$defs/") else None
        if name is None or name not in defs or not isinstance(defs[name], dict):
            raise InputError(f"{path}: oneOf entry {orjson.dumps(branch).decode()[:80]} is not a $ref to one of "
                             f"its $defs; {_HOW}", path=str(path))
        events[_event_key(defs[name], default=name)] = name
    def check(ref: str) -> str:
        if not ref.startswith("#/$defs/"):
            raise InputError(f"{path}: $ref {ref!r} leaves the bundle; a bundle refers only to its own $defs",
                             path=str(path))
        return ref

    map_refs({"$defs": defs}, check)
    return _checked(Contract(source=str(path), defs=defs, events=events))


def _checked(contract: Contract) -> Contract:
    """``contract``, once every ``$ref`` in it is known to lead somewhere (not nowhere, not round in a loop)."""

    def follow(ref: str) -> str:
        contract.resolve({"$ref": ref})
        return ref

    map_refs({"$defs": contract.defs}, follow)
    return contract

