"""Drift: how a capture differs from the contract, and the schema patch that would describe it.

Collected while validating, from what the checks already find: fields no
schema names (by pointer, array indexes as ``*``: count, JSON types, formats,
an example redacted by the leak guard's rules, first and last place seen),
enum values outside the schema, and — with ``full=True`` (``--drift``), which
walks every event — optional fields present in every event that could carry
them ("required in practice").

``patch()`` turns the unknown fields and enum values into RFC 6902 JSON
Patches, one per schema file of the contract folder (``events/<type>.json``
for new fields, the file holding the enum for new values): applied with
``apply_patch`` into a copy of the folder, ``chestsim validate --schemas DIR``
re-checks the capture against the patched contract.

>>> drift = Drift()
>>> drift.note_unknown("user.created", "/data/user/pronouns", "she/her", "c.jsonl:3")
>>> drift.exists, drift.summary()
(True, 'drift: 1 unknown field in 1 event type (--drift shows it)')
"""

from __future__ import annotations

import copy
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any
from urllib.parse import urldefrag, urljoin

import orjson

from simulator.validation._leakguard import is_secret_field, looks_like_secret
from simulator.validation._problem import escape
from simulator.validation._report import pointer_pattern

__all__ = ["Drift", "apply_patch"]

#: Distinct enum values kept per pointer; optional fields need this many parents to be "required in practice".
MAX_VALUES = 20
MIN_EVENTS_FOR_REQUIRED = 20
_FORMATS = (
    ("uuid", re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")),
    ("date-time", re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")),
    ("email", re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")),
    ("uri", re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")),
)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _format(value: Any) -> str | None:
    if isinstance(value, str):
        for name, pattern in _FORMATS:
            if pattern.match(value):
                return name
    return None


def _example(name: str, value: Any) -> Any:
    """A value safe to print: secret-looking values and secret-ish names are redacted, long ones cut."""
    if is_secret_field(name):
        return "«redacted»"
    if isinstance(value, str):
        if looks_like_secret(value, free_text=True):
            return "«redacted»"
        return value if len(value) <= 80 else value[:77] + "…"
    if isinstance(value, dict | list):
        text = orjson.dumps(value).decode()
        if looks_like_secret(text, free_text=True) or any(is_secret_field(k) for k in _keys(value)):
            return "«redacted»"
        return value if len(text) <= 120 else text[:117] + "…"
    return value


def _keys(node: Any) -> Iterator[str]:
    stack = [node]
    while stack:  # bounded: each node once
        item = stack.pop()
        if isinstance(item, dict):
            yield from item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


@dataclass(slots=True)
class _Seen:
    count: int = 0
    types: Counter[str] = field(default_factory=Counter)
    formats: Counter[str] = field(default_factory=Counter)
    values: Counter[str] = field(default_factory=Counter)
    example: Any = None
    first: str = ""
    last: str = ""

    def note(self, name: str, value: Any, where: str, *, keep_values: bool) -> None:
        if not self.count:
            self.example, self.first = _example(name, value), where
        self.count += 1
        self.last = where
        self.types[_json_type(value)] += 1
        shape = _format(value)
        if shape:
            self.formats[shape] += 1
        if keep_values:
            shown = orjson.dumps(_example(name, value)).decode()
            if shown in self.values or len(self.values) < MAX_VALUES:
                self.values[shown] += 1

    def merge(self, other: _Seen) -> None:
        if not self.count:
            self.example, self.first = other.example, other.first
        if other.count:
            self.last = other.last
        self.count += other.count
        self.types.update(other.types)
        self.formats.update(other.formats)
        for value, count in other.values.items():
            if value in self.values or len(self.values) < MAX_VALUES:
                self.values[value] += count

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "types": dict(self.types), "formats": dict(self.formats),
                "example": self.example, "first": self.first, "last": self.last}


@dataclass(slots=True)
class Drift:
    """What a capture holds that the contract does not say (see the module docstring)."""

    full: bool = False
    unknown: dict[tuple[str, str], _Seen] = field(default_factory=dict)
    enums: dict[tuple[str, str], _Seen] = field(default_factory=dict)
    parents: dict[tuple[str, str], int] = field(default_factory=dict)  # (type, object pointer) → times seen
    present: dict[tuple[str, str], int] = field(default_factory=dict)  # (type, optional field) → times present

    @property
    def exists(self) -> bool:
        return bool(self.unknown or self.enums)

    def note_unknown(self, event_type: str, pointer: str, value: Any, where: str) -> None:
        key = (event_type, pointer_pattern(pointer))
        seen = self.unknown.get(key)
        if seen is None:
            seen = self.unknown[key] = _Seen()
        seen.note(_name(pointer), value, where, keep_values=False)

    def note_enum(self, event_type: str, pointer: str, value: Any, where: str) -> None:
        key = (event_type, pointer_pattern(pointer))
        seen = self.enums.get(key)
        if seen is None:
            seen = self.enums[key] = _Seen()
        seen.note(_name(pointer), value, where, keep_values=True)

    def note_event(self, event_type: str, event: Any, optional: _Optional) -> None:
        """Count which optional fields ``event`` carries (``full`` drift only)."""
        stack: list[tuple[_Optional, Any, str]] = [(optional, event, "")]
        parents, present = self.parents, self.present
        while stack:  # bounded: each node of the event once
            node, value, where = stack.pop()
            if isinstance(value, dict):
                if node.names:
                    key = (event_type, where)
                    parents[key] = parents.get(key, 0) + 1
                    for name in node.names:
                        if name in value:
                            key = (event_type, f"{where}/{escape(name)}")
                            present[key] = present.get(key, 0) + 1
                for name, child in node.children.items():
                    if name in value:
                        stack.append((child, value[name], f"{where}/{escape(name)}"))
            elif isinstance(value, list) and node.items is not None:
                stack.extend((node.items, item, f"{where}/*") for item in value)

    def merge(self, other: Drift) -> None:
        for mine, theirs in ((self.unknown, other.unknown), (self.enums, other.enums)):
            for key, seen in theirs.items():
                mine.setdefault(key, _Seen()).merge(seen)
        for counts, more in ((self.parents, other.parents), (self.present, other.present)):
            for key, count in more.items():
                counts[key] = counts.get(key, 0) + count

    def renumbered(self, offset: int) -> Drift:
        """This drift with the line numbers of its places moved by ``offset`` (a later slice of a file)."""
        if offset:
            for seen in (*self.unknown.values(), *self.enums.values()):
                seen.first, seen.last = _moved(seen.first, offset), _moved(seen.last, offset)
        return self

    def required_in_practice(self) -> list[tuple[str, str, int]]:
        """(type, pointer, events) of optional fields present every time their object was."""
        out = []
        for (event_type, where), count in sorted(self.present.items()):
            parent = where.rsplit("/", 1)[0]
            seen = self.parents.get((event_type, parent), 0)
            if count == seen >= MIN_EVENTS_FOR_REQUIRED:
                out.append((event_type, where, count))
        return out

    def summary(self) -> str:
        """The one line every summary carries when drift exists."""
        types = {t for t, _ in self.unknown} | {t for t, _ in self.enums}
        parts = []
        if self.unknown:
            parts.append(f"{len(self.unknown)} unknown field{'s' if len(self.unknown) != 1 else ''}")
        if self.enums:
            parts.append(f"{len(self.enums)} enum{'s' if len(self.enums) != 1 else ''} with new values")
        return (f"drift: {', '.join(parts)} in {len(types)} event type{'s' if len(types) != 1 else ''}"
                f"{'' if self.full else ' (--drift shows it)'}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "unknown_fields": [{"type": t, "pointer": p, **s.as_dict()} for (t, p), s in sorted(self.unknown.items())],
            "enum_values": [{"type": t, "pointer": p, "values": dict(s.values), **s.as_dict()}
                            for (t, p), s in sorted(self.enums.items())],
            "required_in_practice": [{"type": t, "pointer": p, "times": n}
                                     for t, p, n in self.required_in_practice()],
        }

    def write_text(self, stream: IO[str]) -> None:
        stream.write("\nDrift from the contract\n")
        if not self.exists and not self.required_in_practice():
            stream.write("  none: every field is in the schemas, every enum value allowed\n")
        for (event_type, where), seen in sorted(self.unknown.items()):
            types = "/".join(sorted(seen.types))
            formats = f" ({', '.join(sorted(seen.formats))})" if seen.formats else ""
            stream.write(f"  {event_type} {where}: unknown field in {seen.count} event{'s' if seen.count != 1 else ''}"
                         f", {types}{formats}, e.g. {orjson.dumps(seen.example).decode()}; "
                         f"first {seen.first}, last {seen.last}\n")
        for (event_type, where), seen in sorted(self.enums.items()):
            values = ", ".join(f"{v} ×{n}" for v, n in seen.values.most_common())
            stream.write(f"  {event_type} {where}: values outside the enum: {values}; "
                         f"first {seen.first}, last {seen.last}\n")
        for event_type, where, count in self.required_in_practice():
            stream.write(f"  {event_type} {where}: optional, yet there each of the {count} times its object was "
                         "(required in practice?)\n")

    def patch(self, folder: Path) -> dict[str, list[dict[str, Any]]]:
        """RFC 6902 patches, by schema file relative to ``folder``, that make the contract accept the drift."""
        docs = _documents(folder)
        additions: dict[str, dict[str, Any]] = {}  # event file → {existing node path: new properties}
        for (event_type, where), seen in sorted(self.unknown.items()):
            relative = f"events/{event_type}.json"
            if relative not in docs:
                continue
            tokens = [t.replace("~1", "/").replace("~0", "~") for t in where.split("/")[1:]]
            node, path = docs[relative], ""
            while len(tokens) > 1:
                token = tokens[0]
                if token == "*" and isinstance(node.get("items"), dict):
                    node, path = node["items"], f"{path}/items"
                elif token != "*" and isinstance(node.get("properties", {}).get(token), dict):
                    node, path = node["properties"][token], f"{path}/properties/{escape(token)}"
                else:
                    break
                tokens.pop(0)
            schema = _nest(tokens[:-1], {tokens[-1]: _schema_for(seen)})
            _deep_merge(additions.setdefault(relative, {}).setdefault(path, {}), schema)
        out: dict[str, list[dict[str, Any]]] = {}
        for relative, nodes in additions.items():
            for path, new in nodes.items():
                node = _at(docs[relative], path)
                ops = out.setdefault(relative, [])
                if isinstance(node.get("properties"), dict):
                    ops.extend({"op": "add", "path": f"{path}/properties/{escape(name)}", "value": value}
                               for name, value in new["properties"].items())
                    if "items" in new:
                        ops.append({"op": "add", "path": f"{path}/items", "value": new["items"]})
                else:
                    ops.extend({"op": "add", "path": f"{path}/{key}", "value": value} for key, value in new.items())
        for (event_type, where), seen in sorted(self.enums.items()):
            relative = f"events/{event_type}.json"
            values = [orjson.loads(v) for v in seen.values if orjson.loads(v) != "«redacted»"]
            for target, enum_path in _enum_nodes(docs, relative, where):
                allowed = _at(docs[target], enum_path)
                ops = out.setdefault(target, [])
                for value in values:
                    op = {"op": "add", "path": f"{enum_path}/-", "value": value}
                    if value not in allowed and op not in ops:
                        ops.append(op)
        return out


def _moved(where: str, offset: int) -> str:
    path, _, line = where.rpartition(":")
    return f"{path}:{int(line) + offset}" if line.isdigit() else where


def _name(pointer: str) -> str:
    return _short_name(pointer) if len(pointer) <= 256 else _name_of(pointer)  # memory stays bounded


def _name_of(pointer: str) -> str:
    return pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")


_short_name = lru_cache(maxsize=4096)(_name_of)


def _schema_for(seen: _Seen) -> dict[str, Any]:
    types = sorted(seen.types)
    schema: dict[str, Any] = {"type": types[0] if len(types) == 1 else types}
    if len(seen.formats) == 1 and sum(seen.formats.values()) == seen.count:
        schema["format"] = next(iter(seen.formats))
    schema["description"] = (f"Seen in a capture ({seen.count} events, first {seen.first}); "
                             "added by chestsim validate --drift-patch.")
    return schema


def _nest(tokens: list[str], leaf: dict[str, Any]) -> dict[str, Any]:
    """``{"properties": leaf}`` under the remaining path (``*`` is an array's items)."""
    node: dict[str, Any] = {"properties": leaf}
    for token in reversed(tokens):
        node = {"items": node} if token == "*" else {"properties": {token: node}}
    return node


def _deep_merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value


def _at(doc: Any, path: str) -> Any:
    for token in path.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        doc = doc[int(token)] if isinstance(doc, list) else doc[token]
    return doc


def _documents(folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in [folder / "envelope.json", folder / "definitions.json", *sorted((folder / "events").glob("*.json"))]:
        if path.is_file():
            out[path.relative_to(folder).as_posix()] = orjson.loads(path.read_bytes())
    return out


def _enum_nodes(docs: dict[str, Any], relative: str, where: str) -> Iterator[tuple[str, str]]:
    """(file, JSON pointer in it) of each ``enum`` that applies at instance pointer ``where``."""
    by_id = {doc.get("$id"): name for name, doc in docs.items() if isinstance(doc, dict)}
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in where.split("/")[1:]]
    stack: list[tuple[str, str, int, int]] = [(relative, "", 0, 0)]
    seen: set[tuple[str, str, int]] = set()
    while stack:  # bounded: each (file, node, depth) once, and $ref hops are counted
        name, path, depth, hops = stack.pop()
        if (name, path, depth) in seen or hops > 32:
            continue
        seen.add((name, path, depth))
        node = _at(docs[name], path)
        if not isinstance(node, dict):
            continue
        if depth == len(tokens) and isinstance(node.get("enum"), list):
            yield name, f"{path}/enum"
        if "$ref" in node:
            target = urljoin(docs[name].get("$id", ""), node["$ref"])
            uri, fragment = urldefrag(target)
            if uri in by_id:
                stack.append((by_id[uri], fragment, depth, hops + 1))
        for key in ("allOf", "anyOf", "oneOf"):
            for index, _ in enumerate(node.get(key, [])):
                stack.append((name, f"{path}/{key}/{index}", depth, hops))
        if depth < len(tokens):
            token = tokens[depth]
            if token == "*" and "items" in node:
                stack.append((name, f"{path}/items", depth + 1, hops))
            elif token in node.get("properties", {}):
                stack.append((name, f"{path}/properties/{escape(token)}", depth + 1, hops))


@dataclass(slots=True)
class _Optional:
    """The optional property names of a schema node, and where to look deeper."""

    names: set[str] = field(default_factory=set)
    children: dict[str, _Optional] = field(default_factory=dict)
    items: _Optional | None = None


def optional_fields(inlined: Any) -> _Optional:
    """The optional-field tree of an inlined (ref-free) event schema."""
    out = _Optional()
    if not isinstance(inlined, dict):
        return out
    members = [inlined, *(m for m in inlined.get("allOf", []) if isinstance(m, dict) and "if" not in m)]
    required: set[str] = set()
    for member in members:
        required.update(member.get("required", []))
    for member in members:
        for name, child in member.get("properties", {}).items():
            if name not in required:
                out.names.add(name)
            sub = optional_fields(child)
            if sub.names or sub.children or sub.items is not None:
                mine = out.children.setdefault(name, _Optional())
                mine.names |= sub.names
                mine.children.update(sub.children)
                mine.items = mine.items or sub.items
        if isinstance(member.get("items"), dict):
            out.items = optional_fields(member["items"])
    return out


def apply_patch(source: Path, patch: dict[str, list[dict[str, Any]]], target: Path) -> None:
    """Copy the contract folder ``source`` to ``target`` (new or empty) and apply ``patch`` there."""
    import jsonpatch

    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty")
    shutil.copytree(source, target, dirs_exist_ok=True)
    for relative, ops in patch.items():
        path = target / relative
        doc = orjson.loads(path.read_bytes())
        path.write_bytes(orjson.dumps(jsonpatch.apply_patch(copy.deepcopy(doc), ops), option=orjson.OPT_INDENT_2)
                         + b"\n")
