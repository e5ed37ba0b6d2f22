"""Schemas → an offline registry and compiled validators, built once.

Every ``$ref`` resolves from the files in ``schemas/``: the registries are
filled from disk and their retrievers refuse any URI they do not hold, so a
typo in a ``$ref`` fails loudly instead of reaching the network.

Two compiled jsonschema-rs validators exist per event type:

- the *contract* validator, compiled from the published schema as it is, which
  gives the detailed errors;
- a *closed* validator, compiled from a ref-free copy in which every object
  that lists properties refuses the others, and every free-form string
  refuses what the leak guard would look at. One ``is_valid`` on it answers "valid, no unknown field,
  nothing that looks like secret material" on the fast path; only when it
  says no do we ask the contract validator and the Python checks why.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urljoin

import jsonschema_rs
import orjson

from simulator._catalog import CATALOG, SCHEMA_BASE
from simulator._resources import schemas_dir
from simulator.validation._leakguard import FREE_TEXT_FIELDS, SECRET_FIELD_PATTERN, value_pattern

if TYPE_CHECKING:
    import referencing

__all__ = [
    "ENVELOPE_ID",
    "Compiled",
    "Shape",
    "compiled",
    "compiled_type",
    "dropped_clauses",
    "format_checker",
    "inlined_type",
    "leak_prefilter",
    "reference_validator",
    "referencing_registry",
    "resources",
    "rs_registry",
    "schema_folder",
    "use_schemas",
]

ENVELOPE_ID = f"{SCHEMA_BASE}envelope.json"
DEFINITIONS_ID = f"{SCHEMA_BASE}definitions.json"


def _refuse(uri: str) -> Any:
    # Nothing is ever fetched: a $ref the files do not hold is a schema bug.
    raise LookupError(f"schema reference {uri!r} is not one of chestsim's schema files; nothing is fetched")


#: The contract folder in use: the shipped ``schemas/`` unless ``use_schemas`` chose another.
_FOLDER: list[Path] = []


def schema_folder() -> Path:
    """The contract folder validators are compiled from."""
    return _FOLDER[0] if _FOLDER else schemas_dir()


def use_schemas(folder: str | os.PathLike[str] | None) -> None:
    """Compile validators from ``folder`` (laid out like ``schemas/``) from now on; None: the shipped one.

    Raises ``ValueError`` naming the first file that is missing, not JSON, or
    not the event schema the catalog expects.
    """
    if folder is not None:
        path = Path(folder)
        if not path.is_dir():
            raise ValueError(f"--schemas={os.fspath(folder)!r} is not a folder; give a contract folder laid "
                             "out like schemas/ (envelope.json, definitions.json, events/<type>.json)")
        expected = [(path / "envelope.json", ENVELOPE_ID), (path / "definitions.json", DEFINITIONS_ID),
                    *((path / "events" / f"{t.key}.json", t.schema_id) for t in CATALOG)]
        for file, schema_id in expected:
            try:
                doc = orjson.loads(file.read_bytes())
            except OSError:
                raise ValueError(f"--schemas: {file} is missing; a contract folder holds envelope.json, "
                                 "definitions.json and events/<type>.json for each of the "
                                 f"{len(CATALOG)} types") from None
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"--schemas: {file} is not JSON ({exc}); fix or restore it") from None
            if not isinstance(doc, dict) or doc.get("$id") != schema_id:
                raise ValueError(f"--schemas: {file} must have \"$id\": {schema_id!r}, like the shipped schema")
    _FOLDER[:] = [Path(folder)] if folder is not None else []
    for cached in (resources, referencing_registry, rs_registry, compiled_type, compiled, inlined_type):
        cached.cache_clear()


@cache
def resources() -> tuple[tuple[str, dict[str, Any]], ...]:
    """Every schema file as ``($id, schema)``: envelope, definitions, the 24 events."""
    folder = schema_folder()
    paths = [folder / "envelope.json", folder / "definitions.json",
             *(folder / "events" / f"{t.key}.json" for t in CATALOG)]
    out = []
    for path in paths:
        schema = orjson.loads(path.read_bytes())
        out.append((schema["$id"], schema))
    return tuple(out)


@cache
def referencing_registry() -> referencing.Registry[Any]:
    """A python-jsonschema ``referencing.Registry`` holding every schema; it never fetches."""
    import referencing  # python-jsonschema's stack costs ~0.1 s to import: only tests and benches need it
    import referencing.jsonschema

    def retrieve(uri: str) -> referencing.Resource[Any]:
        return _refuse(uri)  # type: ignore[no-any-return]

    registry: referencing.Registry[Any] = referencing.Registry(retrieve=retrieve)  # type: ignore[call-arg]
    return registry.with_resources(
        (uri, referencing.jsonschema.DRAFT202012.create_resource(schema)) for uri, schema in resources()
    )


@cache
def rs_registry() -> jsonschema_rs.Registry:
    """A jsonschema-rs ``Registry`` holding every schema; its retriever refuses everything else."""
    return jsonschema_rs.Registry(list(resources()), retriever=_refuse)


def _compile(schema: dict[str, Any], *, registry: jsonschema_rs.Registry | None,
             fast_regex: bool = False) -> jsonschema_rs.Validator:
    options = jsonschema_rs.RegexOptions() if fast_regex else None
    return jsonschema_rs.validator_for(schema, registry=registry, retriever=_refuse, validate_formats=True,
                                       pattern_options=options)


#: The email pattern of definitions.json, and a stricter one that implies it and the email format.
LOOSE_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PLAIN_EMAIL = (r"^[A-Za-z0-9_%+-]{1,20}(?:\.[A-Za-z0-9_%+-]{1,20}){0,2}"
               r"@(?:[A-Za-z0-9]{1,20}(?:-[A-Za-z0-9]{1,20}){0,2}\.){1,4}[A-Za-z]{2,24}$")
_NOT_LEAK = {"type": "string", "pattern": value_pattern(free_text=False)}
_NOT_LEAK_FREE = {"type": "string", "pattern": value_pattern(free_text=True)}
_STRUCTURED_FORMATS = frozenset({"uuid", "date-time"})


_SECRET_NAMES = {"not": {"pattern": SECRET_FIELD_PATTERN}}
_SECRET_NAME = re.compile(SECRET_FIELD_PATTERN).search


def _guard(out: dict[str, Any], field: str | None) -> None:
    """Add the leak guard's prefilter to a closed node, in place.

    Only free-form strings get it: an enum, a const, a UUID, a time or a string
    held to its own pattern (event ids, emails) has no room for secret material.
    """
    extra: dict[str, Any] | None = None
    if out.get("type") == "string" and "enum" not in out and "const" not in out and "pattern" not in out \
            and out.get("format") not in _STRUCTURED_FORMATS:
        extra = {"not": _NOT_LEAK_FREE if field in FREE_TEXT_FIELDS else _NOT_LEAK}
    elif out.get("type") == "object" and "properties" not in out:
        extra = {"propertyNames": _SECRET_NAMES}
    if extra is not None:
        out.setdefault("allOf", []).append(extra)


# --- ref-free, closed copies -------------------------------------------------------------------

def _by_id() -> dict[str, dict[str, Any]]:
    return dict(resources())


def _resolve(ref: str, base: str, docs: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], str]:
    target = urljoin(base, ref)
    uri, fragment = urldefrag(target)
    node: Any = docs[uri]
    for part in [p for p in fragment.split("/") if p]:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node, uri


def _inline(node: Any, base: str, docs: dict[str, dict[str, Any]], depth: int = 0) -> Any:
    """The schema with every ``$ref`` replaced by its target (the schemas have no cycles)."""
    if depth > 64:
        raise ValueError("schema $ref chain too deep (a cycle?)")
    if isinstance(node, list):
        return [_inline(item, base, docs, depth) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$ref", "$defs", "$schema", "$id", "title", "description"):
            continue
        if key == "properties":
            out[key] = {name: _inline(child, base, docs, depth) for name, child in value.items()}
        else:
            out[key] = _inline(value, base, docs, depth)
    if "$ref" in node:
        target, target_base = _resolve(node["$ref"], base, docs)
        inlined = _inline(target, target_base, docs, depth + 1)
        out = {"allOf": [inlined, out]} if out else inlined
    return out


@dataclass(slots=True)
class Shape:
    """The property names a schema node knows, for unknown-field detection.

    ``fields`` maps a known name to the shapes of its value (several when
    ``allOf`` branches constrain the same name); ``items`` holds the shapes of
    array items. An ``open`` node lists no property at all, so anything goes.
    """

    fields: dict[str, list[Shape]] = field(default_factory=dict)
    items: list[Shape] = field(default_factory=list)
    alternatives: list[Shape] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return not self.fields and not self.alternatives

    def merge(self, other: Shape) -> None:
        for name, shapes in other.fields.items():
            self.fields.setdefault(name, []).extend(shapes)
        self.items.extend(other.items)
        self.alternatives.extend(other.alternatives)

    def at(self, path: tuple[str | int, ...]) -> Shape | None:
        """The shape of the value at ``path`` (names only), or None where no schema names it."""
        shape = self
        for token in path:
            shapes = shape.items if isinstance(token, int) else shape.fields.get(token)
            if not shapes:
                return None
            shape = _merged(shapes)
        return shape

    def unknown(self, instance: Any, pointer: str = "") -> Iterator[str]:
        """JSON pointers of the fields of ``instance`` that no schema names."""
        if isinstance(instance, dict):
            if self.alternatives and not self.fields:
                # oneOf/anyOf: a field is unknown only if no alternative knows it.
                fits = [a for a in self.alternatives if not any(True for _ in a.unknown(instance, pointer))]
                if fits or all(a.open for a in self.alternatives):
                    return
                yield from min((list(a.unknown(instance, pointer)) for a in self.alternatives), key=len)
                return
            if not self.fields:
                return
            for name, value in instance.items():
                shapes = self.fields.get(name)
                child = f"{pointer}/{_escape(name)}"
                if shapes is None:
                    yield child
                    continue
                merged = _merged(shapes)
                if isinstance(value, dict | list):
                    yield from merged.unknown(value, child)
        elif isinstance(instance, list) and self.items:
            merged = _merged(self.items)
            for index, item in enumerate(instance):
                if isinstance(item, dict | list):
                    yield from merged.unknown(item, f"{pointer}/{index}")


def _merged(shapes: list[Shape]) -> Shape:
    if len(shapes) == 1:
        return shapes[0]
    out = Shape()
    for shape in shapes:
        out.merge(shape)
    return out


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _shape(node: Any) -> Shape:
    shape = Shape()
    if not isinstance(node, dict):
        return shape
    for name, child in node.get("properties", {}).items():
        shape.fields.setdefault(name, []).append(_shape(child))
    if "items" in node:
        shape.items.append(_shape(node["items"]))
    for member in node.get("allOf", []):
        shape.merge(_shape(member))
    for key in ("oneOf", "anyOf"):
        alternatives = [_shape(member) for member in node.get(key, [])]
        if any(not a.open or a.items for a in alternatives):
            shape.alternatives.extend(alternatives)
    return shape


def _close(node: Any, *, conjunct: bool = False, field: str | None = None) -> Any:
    """A copy of an inlined schema where every object listing properties refuses the others.

    ``allOf`` members are conjuncts: they are not closed themselves (each would
    refuse the other's fields); the node that holds them lists the union of
    their names instead.
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _close(child, field=name) for name, child in value.items()}
        elif key == "allOf":
            # The shard map's if/then clauses (k ≤ n, n shards, index ≤ n: one clause per n) are
            # restated by the semantic rules, which run on every event the closed validator
            # passes; evaluating 64 clauses in Rust would cost more than the whole Python check.
            members = [m for m in value if not (isinstance(m, dict) and "if" in m)]
            if members:
                out[key] = [_close(member, conjunct=True, field=field) for member in members]
        elif key in ("oneOf", "anyOf"):
            out[key] = [_close(member, field=field) for member in value]
        elif key in ("items", "additionalProperties", "contains"):
            out[key] = _close(value, field=field)
        else:
            out[key] = value
    _guard(out, field)
    if out.get("format") == "uuid" and "pattern" in out:
        # The lower-case 8-4-4-4-12 pattern implies the format; checking both costs ~100 ns a UUID.
        del out["format"]
    if out.get("format") == "email" and out.get("pattern", LOOSE_EMAIL) == LOOSE_EMAIL:
        # jsonschema-rs's email format costs ~500 ns an address; the plain shape below implies both
        # it and the schema's loose pattern (a test draws thousands of addresses to check), and
        # covers generated and common real addresses. Others take the slow path, which decides.
        del out["format"]
        out["pattern"] = PLAIN_EMAIL
    if not conjunct:
        names = _known_names(node)
        if names:
            properties = out.setdefault("properties", {})
            for name in names:
                properties.setdefault(name, True)
            out["additionalProperties"] = False
    return out


class _Inseparable(Exception):
    """A dropped clause sits where it cannot be checked apart from the rest (under ``oneOf``, ``contains``…)."""


def dropped_clauses(node: Any) -> Any | None:
    """What ``_close`` drops from an inlined schema, at its place, and nothing else.

    A value that passes the closed copy and this schema passes the contract:
    the closed copy is the contract, stricter, minus exactly these ``if``/``then``
    conjuncts. ``{}`` when nothing is dropped; None when a dropped clause sits
    where it cannot be checked apart (under ``oneOf``/``anyOf``/``contains``, or
    an ``additionalProperties``/``items`` whose meaning hangs on its siblings):
    the whole contract must decide then.
    """
    try:
        return _dropped(node)
    except _Inseparable:
        return None


def _dropped(node: Any) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            properties = {name: kept for name, child in value.items() if (kept := _dropped(child))}
            if properties:
                out[key] = properties
        elif key == "allOf":
            members = [member if isinstance(member, dict) and "if" in member else _dropped(member)
                       for member in value]
            if any(members):
                out[key] = [member for member in members if member]
        elif key in ("oneOf", "anyOf", "contains", "additionalProperties"):
            children = value if key in ("oneOf", "anyOf") else [value]
            if any(_dropped(child) for child in children):
                raise _Inseparable(key)
        elif key == "items":
            kept = _dropped(value)
            if kept and "prefixItems" in node:
                raise _Inseparable(key)
            if kept:
                out[key] = kept
    return out


# Keywords whose meaning depends on their siblings (``additionalProperties`` on ``properties``,
# ``items`` on ``prefixItems``, ``unevaluated*`` on everything): a conjunct holding one of them is
# folded only into a node that does not hold it too.
_SIBLING_BOUND = frozenset({"additionalProperties", "patternProperties", "unevaluatedProperties",
                            "unevaluatedItems", "prefixItems", "items", "$ref", "$dynamicRef"})
_LEAVES = frozenset({"enum", "const", "required", "pattern", "format", "type"})


def _fold(node: Any) -> Any:
    """The same schema with ``allOf`` conjuncts merged into their node where nothing conflicts.

    ``{"allOf": [A, B], ...}`` means "A and B and the rest", and so does one
    object holding all their keywords, as long as no keyword appears twice
    with different values and none reads its siblings (see ``_SIBLING_BOUND``).
    Properties named on both sides become the conjunction of both schemas,
    folded in turn. jsonschema-rs walks the flat form about 12% faster.
    """
    if isinstance(node, list):
        return [_fold(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: value if key in _LEAVES else _fold(value) for key, value in node.items() if key != "properties"}
    if "properties" in node:
        out["properties"] = {name: _fold(schema) for name, schema in node["properties"].items()}
    members = out.pop("allOf", None)
    if members is None:
        return out
    kept = [member for member in members if not (isinstance(member, dict) and _merge(out, member))]
    if kept:
        out["allOf"] = kept
    return out


def _merge(out: dict[str, Any], member: dict[str, Any]) -> bool:
    """Merge a (folded) conjunct into ``out`` in place; False, with ``out`` untouched, if it cannot."""
    for key, value in member.items():
        if key in ("properties", "required"):
            continue
        if key in out and (key in _SIBLING_BOUND or key == "allOf" or out[key] != value):
            return False
    if "properties" in member and any(key in out for key in ("additionalProperties", "patternProperties",
                                                               "unevaluatedProperties")):
        # Names the member adds would change what the node's additionalProperties means.
        known = out.get("properties", {})
        if any(name not in known for name in member["properties"]):
            return False
    for key, value in member.items():
        if key == "properties":
            properties = out.setdefault("properties", {})
            for name, schema in value.items():
                mine = properties.get(name, True)
                properties[name] = schema if mine is True else mine if schema is True else \
                    _fold({"allOf": [mine, schema]})
        elif key == "required":
            out["required"] = list(dict.fromkeys([*out.get("required", []), *value]))
        else:
            out[key] = value
    return True


def _known_names(node: Any) -> set[str]:
    if not isinstance(node, dict):
        return set()
    names = set(node.get("properties", {}))
    for member in node.get("allOf", []):
        names |= _known_names(member)
    return names


def json_copy(document: Any) -> Any:
    """A deep copy of a JSON document (an orjson round trip: ~10× ``copy.deepcopy``)."""
    return orjson.loads(orjson.dumps(document))


@cache
def leak_prefilter() -> jsonschema_rs.Validator:
    """A validator that any event the leak guard would flag fails (and a few more): one Rust pass.

    The same rules as the closed validators' prefilter, on any structure: no
    secret-ish member name anywhere, no string holding a shape's literal, no
    long token in a free-text field (nor in the items of one). An event it
    passes has no leak, so the Python walk (``leaks``) is skipped.
    """
    def node(free: bool) -> dict[str, Any]:
        return {"propertyNames": {"not": {"pattern": SECRET_FIELD_PATTERN}},
                "properties": {name: {"$ref": "#/$defs/free"} for name in sorted(FREE_TEXT_FIELDS)},
                "additionalProperties": {"$ref": "#/$defs/node"},
                "items": {"$ref": "#/$defs/free" if free else "#/$defs/node"},
                "not": {"type": "string", "pattern": value_pattern(free_text=free)}}

    return _compile({"$defs": {"node": node(False), "free": node(True)}, "$ref": "#/$defs/node"},
                    registry=None, fast_regex=True)


class Compiled:
    """The compiled validators and shapes of one event type (or of the envelope).

    ``closed`` (the fast path) is compiled at once; ``contract`` and ``shape``,
    which only invalid events and tests need, on first use: a run of valid
    events never pays for them.
    """

    __slots__ = ("_contract", "_shape", "closed", "key")

    def __init__(self, key: str, closed: jsonschema_rs.Validator) -> None:
        self.key = key
        self.closed = closed
        self._contract: jsonschema_rs.Validator | None = None
        self._shape: Shape | None = None

    def __repr__(self) -> str:
        return f"Compiled({self.key!r})"

    @property
    def contract(self) -> jsonschema_rs.Validator:
        """The published schema as it stands, ``$ref``s resolved through the registry."""
        if self._contract is None:
            self._contract = _compile(_by_id()[_schema_uri(self.key)], registry=rs_registry())
        return self._contract

    @property
    def shape(self) -> Shape:
        """Where each known member sits, for naming unknown fields."""
        if self._shape is None:
            self._shape = _shape(inlined_type(self.key))
        return self._shape


def _schema_uri(key: str) -> str:
    return ENVELOPE_ID if key == "envelope" else lookup_key(key).schema_id


@cache
def compiled_type(key: str) -> Compiled:
    """One event type's validators (or the envelope's, for ``"envelope"``), compiled on first use.

    Compiling all 25 closed validators takes ~0.25 s here; a run that meets three types pays for three.
    """
    return Compiled(key, _compile(closed_schema(inlined_type(key)), registry=None, fast_regex=True))


def closed_schema(schema: Any, *, field: str | None = None) -> Any:
    """The closed copy of an inlined schema (``_close``), folded and trimmed for speed; ``schema`` stays.

    The same instances pass it as pass ``_close``'s copy; two rewrites make
    valid events cheaper to check (measured on the firehose, ~5.7 µs an
    event before):

    - a lower-case UUID's pattern (~110 ns a value with jsonschema-rs) becomes
      the ``uuid`` format and no capital A–F (~50 ns; ``tests/validation``
      compares both on fuzzed strings): ~0.6 µs an event;
    - a closed object whose own names all pass the secret-name rule drops
      that rule on its names (``propertyNames``, from the envelope's open
      ``data``): it can only hold those names. ~0.6 µs an event.
    """
    return _trim(_fold(_close(json_copy(schema), field=field)))


_UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def _trim(node: Any) -> Any:
    """``closed_schema``'s two rewrites, in place, at every level."""
    if isinstance(node, list):
        for item in node:
            _trim(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in _LEAVES:
                _trim(value)
        if node.get("pattern") == _UUID_PATTERN and node.get("type") == "string" and "not" not in node:
            del node["pattern"]
            node["format"] = "uuid"
            node["not"] = {"pattern": "[A-F]"}
        names = node.get("properties")
        if node.get("additionalProperties") is False and isinstance(names, dict) \
                and node.get("propertyNames") == _SECRET_NAMES \
                and not any(_SECRET_NAME(name) for name in names):
            del node["propertyNames"]
    return node


@cache
def inlined_type(key: str) -> Any:
    """One event type's schema with every ``$ref`` replaced (a fresh copy each call is not made: do not change it)."""
    docs = _by_id()
    uri = _schema_uri(key)
    return _inline(json_copy(docs[uri]), uri, docs)


@cache
def compiled() -> tuple[Compiled, dict[str, Compiled]]:
    """The envelope's validators and every event type's, all compiled."""
    return compiled_type("envelope"), {t.key: compiled_type(t.key) for t in CATALOG}


def lookup_key(key: str) -> Any:
    """The catalog entry of an exact key (``KeyError`` for anything else: no label matching here)."""
    return _BY_KEY[key]


_BY_KEY = {t.key: t for t in CATALOG}


# --- python-jsonschema: the second, independent validator ----------------------------------------

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$")


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _uri(value: object) -> bool:
    return not isinstance(value, str) or _URI.match(value) is not None


@cache
def format_checker() -> Any:
    """python-jsonschema's format checker, plus ``date-time`` and ``uri``.

    Without the optional rfc3339-validator and rfc3987 packages python-jsonschema
    skips those two formats; these checkers make it do the work jsonschema-rs does.
    """
    import jsonschema  # type: ignore[import-untyped]

    checker = jsonschema.FormatChecker()
    checker.checks("date-time")(_date_time)
    checker.checks("uri")(_uri)
    return checker


@cache
def reference_validator(key: str) -> Any:
    """A python-jsonschema validator for an event type (or ``"envelope"``), formats checked.

    The independent second opinion for differential tests and the bench baseline.
    """
    uri = ENVELOPE_ID if key == "envelope" else f"{SCHEMA_BASE}events/{key}.json"
    schema = _by_id()[uri]
    import jsonschema

    return jsonschema.Draft202012Validator(schema, registry=referencing_registry(),
                                           format_checker=format_checker())
