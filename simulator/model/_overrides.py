"""``--set KEY:JSON.PATH=VALUE``: override one field in every event of a type.

The type may be a key or a label; the path is dotted from the envelope
(``data.purpose``, ``data.user.roles``, ``data.device_ids.0``); the value is
JSON (``"copy"``, ``3``, ``["admin"]``, ``null``) or else taken as a string.
A type or a path the schema does not have is an error, never a silent no-op.
A value the schema refuses is allowed on purpose (to test a listener's
validation) and reported by :attr:`Override.schema_problem`.

>>> o = parse_override('secret.used:data.purpose="copy"')
>>> o.type, o.path, o.value
('secret.used', ('data', 'purpose'), 'copy')
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urljoin

import orjson

from simulator._catalog import SCHEMA_BASE, lookup
from simulator._exceptions import UsageError
from simulator._resources import schemas_dir

__all__ = ["Override", "apply_overrides", "parse_override"]

_OPTION = "--set"


@dataclass(frozen=True, slots=True)
class Override:
    """One ``--set``: in every ``type`` event, ``path`` becomes ``value``."""

    type: str
    path: tuple[str, ...]
    value: Any
    text: str
    schema_problem: str | None = None


def parse_override(text: str) -> Override:
    """Parse and check one ``KEY:JSON.PATH=VALUE`` against the event type's schema."""
    head, eq, raw_value = text.partition("=")
    type_name, colon, path_text = head.partition(":")
    if not eq or not colon or not type_name.strip() or not path_text.strip():
        raise UsageError(f"{_OPTION}={text!r} must look like TYPE:PATH=VALUE, "
                         'e.g. --set secret.used:data.purpose=\'"copy"\'')
    event_type = lookup(type_name.strip())
    path = tuple(p for p in path_text.strip().split("."))
    if any(not p for p in path):
        raise UsageError(f"{_OPTION}={text!r}: the path {path_text!r} has an empty part")
    try:
        value = orjson.loads(raw_value)
    except orjson.JSONDecodeError:
        value = raw_value
    targets = _resolve(event_type.key, path, text)
    problem = _check_value(targets, value)
    return Override(event_type.key, path, value, text, problem)


def _load(file_id: str) -> Any:
    return _schemas()[file_id]


@cache
def _schemas() -> dict[str, Any]:
    root = schemas_dir()
    out: dict[str, Any] = {}
    for path in [root / "envelope.json", root / "definitions.json", *sorted((root / "events").glob("*.json"))]:
        doc = orjson.loads(path.read_bytes())
        out[doc["$id"]] = doc
    return out


def _pointer_get(doc: Any, pointer: str) -> Any:
    node = doc
    for part in pointer.strip("/").split("/") if pointer.strip("/") else ():
        key = part.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def _join(base_id: str, ref: str) -> tuple[str, str]:
    target, _, pointer = ref.partition("#")
    return (urljoin(base_id, target) if target else base_id), pointer


Location = tuple[str, str]  # (file $id, JSON pointer)


def _flatten(loc: Location, seen: frozenset[Location] = frozenset()) -> Iterator[Location]:
    if loc in seen:
        return
    seen = seen | {loc}
    node = _pointer_get(_load(loc[0]), loc[1])
    if not isinstance(node, dict):
        return
    yield loc
    if "$ref" in node:
        yield from _flatten(_join(loc[0], node["$ref"]), seen)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for i, _ in enumerate(node.get(keyword, ())):
            yield from _flatten((loc[0], f"{loc[1]}/{keyword}/{i}"), seen)


def _resolve(key: str, path: Sequence[str], text: str) -> list[Location]:
    locations: list[Location] = [(f"{SCHEMA_BASE}events/{key}.json", "")]
    walked: list[str] = []
    for part in path:
        found: list[Location] = []
        names: set[str] = set()
        for loc in (flat for root in locations for flat in _flatten(root)):
            node = _pointer_get(_load(loc[0]), loc[1])
            props = node.get("properties", {})
            names.update(props)
            if part in props:
                found.append((loc[0], f"{loc[1]}/properties/{part}"))
            elif part.isdigit() and "items" in node:
                found.append((loc[0], f"{loc[1]}/items"))
        if not found:
            where = ".".join(walked) or "the envelope"
            known = ", ".join(sorted(names)) or "nothing (not an object)"
            hint = " (paths start at the envelope, e.g. data.…)" if not walked and part not in names else ""
            raise UsageError(f"{_OPTION}={text!r}: {key} has no field {part!r} in {where}{hint}; "
                             f"it has: {known}")
        locations = found
        walked.append(part)
    return locations


def _check_value(locations: Iterable[Location], value: Any) -> str | None:
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
    from referencing import Registry, Resource

    registry: Registry[Any] = Registry().with_resources(
        (uri, Resource.from_contents(doc)) for uri, doc in _schemas().items())
    for file_id, pointer in locations:
        validator = Draft202012Validator({"$ref": f"{file_id}#{pointer}"}, registry=registry)
        error = next(iter(validator.iter_errors(value)), None)
        if error is not None:
            return str(error.message)
    return None


def apply_overrides(event: dict[str, Any], overrides: Sequence[Override]) -> dict[str, Any]:
    """A copy of ``event`` with the overrides applied; shared fragments are copied on write.

    An index past the end of an array is an error, never a silent no-op (arrays differ in
    length from event to event, so it can only be known here):

    >>> o = parse_override('user.created:data.user.roles.5="admin"')
    >>> apply_overrides({"id": "evt_1", "type": "user.created", "data": {"user": {"roles": ["member"]}}}, [o])
    Traceback (most recent call last):
    simulator._exceptions.UsageError: --set='user.created:data.user.roles.5="admin"': data.user.roles has 1 item in event evt_1, so index 5 is out of range; use an index from 0 to 0
    """
    root = dict(event)
    for override in overrides:
        node: Any = root
        for depth, part in enumerate(override.path):
            last = depth == len(override.path) - 1
            if isinstance(node, list):
                index = int(part)
                if index >= len(node):
                    raise _out_of_range(override, depth, len(node), event)
                if last:
                    node[index] = override.value
                    break
                child = node[index]
                node[index] = child = dict(child) if isinstance(child, dict) else list(child)
            else:
                if last:
                    node[part] = override.value
                    break
                child = node.get(part)
                child = {} if child is None else (dict(child) if isinstance(child, dict) else list(child))
                node[part] = child
            node = child
    return root


def _out_of_range(override: Override, depth: int, length: int, event: dict[str, Any]) -> UsageError:
    where = ".".join(override.path[:depth])
    items = f"{length} item{'' if length == 1 else 's'}"
    fix = f"use an index from 0 to {length - 1}" if length else "it is empty in this event, so no index fits"
    return UsageError(f"{_OPTION}={override.text!r}: {where} has {items} in event {event.get('id', '?')}, "
                      f"so index {override.path[depth]} is out of range; {fix}")
