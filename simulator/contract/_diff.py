"""Two versions of the contract, compared per event type, each change judged for listeners.

A listener was written and tested against the old contract: what it reads,
and the payloads it was tested on. A change is **breaking** when something it
relied on is no longer promised — a field it reads is gone or renamed, a field
may now be missing or of another type, payloads that were valid no longer are
(a narrowed enum, a new required field, a tighter bound), an event type it
subscribed to is gone. It is **compatible** when the old promises still hold:
a new optional field, a new event type, a widened enum, a looser bound.

Each event schema is flattened into facts per field pointer (``/data/secret/id``,
``/data/device_ids/*`` for array items): JSON types, allowed values, whether it
is required, bounds. ``allOf`` branches merge (the envelope into each event);
``oneOf``/``anyOf`` branches unite (``X or null``); ``if``/``then`` rules are
compared whole.

>>> from simulator.contract import load_contract
>>> diff_contracts(load_contract(), load_contract()).changes
()
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson

from simulator.contract._contract import Contract

__all__ = ["Change", "ContractDiff", "diff_contracts"]

_MAX_DEPTH = 64  # levels of fields followed in one event
_LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum", "minContains")
_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum", "maxContains")
_RULES = ("pattern", "format", "multipleOf", "uniqueItems")
_CLOSING = ("additionalProperties", "unevaluatedProperties")  # an object closed to fields it does not list


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two contracts, for one event type.

    ``kind`` is one of ``event-type-removed``, ``event-type-added``, ``field-removed``,
    ``field-renamed``, ``field-added-required``, ``field-added-optional``,
    ``field-now-required``, ``field-now-optional``, ``type-changed``, ``enum-narrowed``,
    ``enum-widened``, ``enum-changed``, ``bound-tightened``, ``bound-loosened``,
    ``rule-added``, ``rule-changed``, ``rule-removed`` (a pattern, a format, an ``if``/``then``,
    an object closed with ``additionalProperties: false``); ``pointer`` is the field
    (``""`` for the event type as a whole).
    """

    event_type: str
    kind: str
    pointer: str
    breaking: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """The change as JSON-ready data."""
        return {"event_type": self.event_type, "kind": self.kind, "pointer": self.pointer,
                "breaking": self.breaking, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class ContractDiff:
    """Every change from ``old`` to ``new``; ``exit_code`` is 1 when any is breaking.

    >>> from simulator.contract import load_contract
    >>> diff = diff_contracts(load_contract(), load_contract())
    >>> diff.exit_code, diff.summary()
    (0, 'no changes')
    """

    old: str
    new: str
    changes: tuple[Change, ...]

    @property
    def breaking(self) -> tuple[Change, ...]:
        """The changes that break listeners written against ``old``."""
        return tuple(c for c in self.changes if c.breaking)

    @property
    def exit_code(self) -> int:
        """1 when a change is breaking, else 0."""
        return 1 if self.breaking else 0

    def summary(self) -> str:
        """One line: how many changes of each class, in how many event types."""
        if not self.changes:
            return "no changes"
        types = len({c.event_type for c in self.changes})
        broken = len(self.breaking)
        return (f"{broken} breaking, {len(self.changes) - broken} compatible change"
                f"{'' if len(self.changes) - broken == 1 else 's'} in {types} event type{'' if types == 1 else 's'}")

    def as_dict(self) -> dict[str, Any]:
        """The diff as JSON-ready data."""
        return {"old": self.old, "new": self.new, "breaking": len(self.breaking),
                "compatible": len(self.changes) - len(self.breaking),
                "changes": [c.as_dict() for c in self.changes]}

    def write_text(self, out: TextIO | None = None) -> None:
        """Write the diff for a person: a summary line, then the changes grouped by event type."""
        out = out or sys.stdout
        out.write(f"{self.old} → {self.new}: {self.summary()}\n")
        current = None
        for change in self.changes:
            if change.event_type != current:
                current = change.event_type
                out.write(f"\n{_printable(current)}\n")
            label = "BREAKING  " if change.breaking else "compatible"
            where = f" {_printable(change.pointer)}" if change.pointer else ""
            out.write(f"  {label} {change.kind}{where}: {_printable(change.detail)}\n")

    def write_json(self, out: TextIO | None = None) -> None:
        """Write :meth:`as_dict` as indented JSON."""
        (out or sys.stdout).write(orjson.dumps(self.as_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")


def diff_contracts(old: Contract, new: Contract, *, strict_enums: bool = False) -> ContractDiff:
    """Compare two contracts event type by event type (see the module's docstring).

    ``strict_enums=True`` counts a widened enum as breaking: a listener that
    switches over every value, or a model generated from the old contract (a
    Pydantic ``Enum``), refuses the new values.

    >>> from simulator.contract import load_contract
    >>> diff = diff_contracts(load_contract(), load_contract(), strict_enums=True)
    >>> diff.breaking, diff.as_dict()["compatible"]
    ((), 0)
    """
    changes: list[Change] = []
    for key in old.events:
        if key not in new.events:
            changes.append(Change(key, "event-type-removed", "", True,
                                  "event type removed: listeners subscribed to it receive nothing"))
    for key in new.events:
        if key not in old.events:
            changes.append(Change(key, "event-type-added", "", False, "new event type"))
        else:
            before = _facts(old, old.event_schema(key))
            after = _facts(new, new.event_schema(key))
            changes.extend(Change(key, kind, pointer, breaking or (strict_enums and kind == "enum-widened"), detail)
                           for kind, pointer, breaking, detail in _compare(before, after))
    return ContractDiff(old=old.source, new=new.source, changes=tuple(changes))


@dataclass(slots=True)
class _Field:
    """What a schema promises about one field."""

    types: frozenset[str] | None = None  # None: any JSON type
    values: frozenset[bytes] | None = None  # None: any value; else the canonical JSON of each allowed value
    required: bool = True
    lower: dict[str, Any] = field(default_factory=dict)
    upper: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)
    conditionals: frozenset[bytes] = frozenset()


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _facts(contract: Contract, schema: Any) -> dict[str, _Field]:
    out: dict[str, _Field] = {}
    _walk(contract, schema, "", True, out, frozenset())
    return out


def _flatten(contract: Contract, node: Any, path: frozenset[str], parts: list[dict[str, Any]],
             expanded: set[str]) -> None:
    """Gather the schemas that all apply to one value: ``node`` and its ``$ref`` and ``allOf`` parts, resolved.

    ``path`` holds the references already expanded above this value: a schema that
    contains itself (a tree) is followed once, not forever.
    """
    if not isinstance(node, dict):
        return
    parts.append(node)
    ref = node.get("$ref")
    if isinstance(ref, str) and ref not in path and ref not in expanded:
        expanded.add(ref)
        _flatten(contract, contract.resolve({"$ref": ref}), path, parts, expanded)
    branches = node.get("allOf")
    for branch in branches if isinstance(branches, list) else ():
        if isinstance(branch, dict) and "if" not in branch:
            _flatten(contract, branch, path, parts, expanded)


def _walk(contract: Contract, node: Any, pointer: str, required: bool, out: dict[str, _Field],
          path: frozenset[str]) -> None:
    if pointer.count("/") > _MAX_DEPTH:
        return  # no payload nests this deep; stopping keeps a hostile schema from exhausting the stack
    parts: list[dict[str, Any]] = []
    expanded: set[str] = set()
    _flatten(contract, node, path, parts, expanded)
    path = path | expanded
    facts = out.setdefault(pointer, _Field())
    facts.required = required
    properties: dict[str, list[Any]] = {}
    required_names: set[str] = set()
    items: list[Any] = []
    alternatives: list[list[Any]] = []
    conditionals: set[bytes] = set()
    for part in parts:
        types = part.get("type")
        if isinstance(types, str | list):
            kinds = frozenset(t for t in ([types] if isinstance(types, str) else types) if isinstance(t, str))
            facts.types = kinds if facts.types is None else facts.types & kinds
        values = [part["const"]] if "const" in part else part.get("enum")
        if isinstance(values, list):
            allowed = frozenset(_canonical(v) for v in values)
            facts.values = allowed if facts.values is None else facts.values & allowed
        for key in _LOWER_BOUNDS:
            if isinstance(part.get(key), int | float):
                facts.lower[key] = max(part[key], facts.lower.get(key, part[key]))
        for key in _UPPER_BOUNDS:
            if isinstance(part.get(key), int | float):
                facts.upper[key] = min(part[key], facts.upper.get(key, part[key]))
        for key in _RULES:
            if key in part:
                facts.rules[key] = part[key]
        for key in _CLOSING:
            if part.get(key) is False:  # `true` says what leaving the keyword out says
                facts.rules[key] = False
        if isinstance(part.get("properties"), dict):
            for name, sub in part["properties"].items():
                properties.setdefault(name, []).append(sub)
        if isinstance(part.get("required"), list):
            required_names.update(n for n in part["required"] if isinstance(n, str))
        if isinstance(part.get("items"), dict):
            items.append(part["items"])
        for keyword in ("oneOf", "anyOf"):
            if isinstance(part.get(keyword), list):
                alternatives.append(part[keyword])
        if isinstance(part.get("allOf"), list):
            conditionals.update(_canonical(b) for b in part["allOf"] if isinstance(b, dict) and "if" in b)
        if "if" in part:
            conditionals.add(_canonical({k: part[k] for k in ("if", "then", "else") if k in part}))
    facts.conditionals = frozenset(conditionals)
    for branches in alternatives:
        _unite(contract, branches, pointer, facts, out, path)
    for name, subs in properties.items():
        _walk(contract, {"allOf": subs}, f"{pointer}/{_escape(name)}", name in required_names, out, path)
    if items:
        _walk(contract, {"allOf": items}, f"{pointer}/*", True, out, path)


def _unite(contract: Contract, branches: list[Any], pointer: str, facts: _Field, out: dict[str, _Field],
           path: frozenset[str]) -> None:
    """Fold ``oneOf``/``anyOf`` branches into ``facts``: a value may take any branch's shape."""
    types: set[str] = set()
    values: set[bytes] = set()
    any_type = any_value = False
    for branch in branches:
        inner: dict[str, _Field] = {}
        _walk(contract, branch, pointer, facts.required, inner, path)
        own = inner.pop(pointer)
        any_type |= own.types is None
        any_value |= own.values is None
        types |= own.types or set()
        values |= own.values or set()
        for child, child_facts in inner.items():
            out.setdefault(child, child_facts)
    if not any_type:
        facts.types = frozenset(types) if facts.types is None else facts.types & types
    if not any_value:
        facts.values = frozenset(values) if facts.values is None else facts.values & values


def _printable(text: str) -> str:
    """``text`` with control characters escaped: a field named "a\\nBREAKING …" cannot forge a line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _compare(old: Mapping[str, _Field], new: Mapping[str, _Field]) -> Iterator[tuple[str, str, bool, str]]:
    removed = _tops(p for p in old if p not in new)
    added = _tops(p for p in new if p not in old)
    renamed: dict[str, str] = {}
    for gone in removed:
        for fresh in added:
            if fresh not in renamed.values() and _parent(fresh) == _parent(gone) \
                    and _subtree(old, gone) == _subtree(new, fresh):
                renamed[gone] = fresh
                break
    for pointer in sorted({*old, *new}, key=_order):
        if pointer in renamed:
            yield ("field-renamed", pointer, True,
                   f"removed; {renamed[pointer]} has the same shape and looks like its new name")
        elif pointer in removed:
            yield "field-removed", pointer, True, "removed: listeners reading it get nothing"
        elif pointer in added and pointer not in renamed.values():
            if new[pointer].required:
                yield "field-added-required", pointer, True, f"new required field ({_types(new[pointer])}): " \
                                                             "payloads valid before are not any more"
            else:
                yield "field-added-optional", pointer, False, f"new optional field ({_types(new[pointer])})"
        elif pointer in old and pointer in new:
            yield from _compare_field(pointer, old[pointer], new[pointer])


def _compare_field(pointer: str, old: _Field, new: _Field) -> Iterator[tuple[str, str, bool, str]]:
    if old.required and not new.required:
        yield "field-now-optional", pointer, True, "was required, now optional: listeners may not find it"
    elif new.required and not old.required:
        yield "field-now-required", pointer, True, "was optional, now required: payloads valid before are not any more"
    if old.types != new.types:
        how = "narrowed" if _within(new.types, old.types) else "widened" if _within(old.types, new.types) \
            else "changed"
        yield "type-changed", pointer, True, f"type {how}: {_types(old)} → {_types(new)}"
    if old.values != new.values:
        if _within(old.values, new.values):
            yield "enum-widened", pointer, False, f"values added: {_values((new.values or set()) - (old.values or set()))}"
        elif _within(new.values, old.values):
            gone = _values(old.values - new.values) if old.values and new.values else "any value"
            yield "enum-narrowed", pointer, True, f"values no longer allowed: {gone}"
        else:
            yield "enum-changed", pointer, True, f"allowed values changed: {_values(old.values)} → {_values(new.values)}"
    for key in (*_LOWER_BOUNDS, *_UPPER_BOUNDS):
        lower = key in _LOWER_BOUNDS
        before = (old.lower if lower else old.upper).get(key)
        after = (new.lower if lower else new.upper).get(key)
        if before == after:
            continue
        if after is not None and (before is None or (after > before if lower else after < before)):
            yield "bound-tightened", pointer, True, f"{key} {_show(before)} → {after}: payloads valid " \
                                                    "before may not be any more"
        else:
            yield "bound-loosened", pointer, False, f"{key} {before} → {_show(after)}"
    for key in (*_RULES, *_CLOSING):
        before, after = old.rules.get(key), new.rules.get(key)
        if before == after:
            continue
        if before is None:
            yield "rule-added", pointer, True, f"new {key} {after!r}: payloads valid before may not be any more"
        elif after is None:
            yield "rule-removed", pointer, False, f"{key} {before!r} dropped"
        else:
            yield "rule-changed", pointer, True, f"{key} {before!r} → {after!r}"
    added, dropped = sorted(new.conditionals - old.conditionals), sorted(old.conditionals - new.conditionals)
    # rules often come by the dozen (one per shard count): one line per direction, with the count
    if added:
        yield "rule-added", pointer, True, _rules(added, "added")
    if dropped:
        yield "rule-removed", pointer, False, _rules(dropped, "dropped")


def _rules(rules: list[bytes], verb: str) -> str:
    if len(rules) == 1:
        return f"conditional rule {verb}: {_clip(rules[0])}"
    return f"{len(rules)} conditional rules {verb}, like {_clip(rules[0])}"


def _within(inner: frozenset[Any] | None, outer: frozenset[Any] | None) -> bool:
    """Every value ``inner`` allows, ``outer`` allows too (``None`` allows everything)."""
    if outer is None:
        return True
    if inner is None:
        return False
    return inner <= outer or (inner - {"integer"} <= outer and "number" in outer)


def _tops(pointers: Iterator[str]) -> set[str]:
    """The pointers whose parent is not among them (a removed object, not each of its fields)."""
    chosen = set(pointers)
    return {p for p in chosen if not any(p.startswith(q + "/") for q in chosen)}


def _parent(pointer: str) -> str:
    return pointer.rpartition("/")[0]


def _subtree(facts: Mapping[str, _Field], top: str) -> list[tuple[str, Any]]:
    return sorted((p[len(top):], (f.types, f.values, f.required, sorted(f.lower.items()), sorted(f.upper.items()),
                                  sorted((k, repr(v)) for k, v in f.rules.items()), sorted(f.conditionals)))
                  for p, f in facts.items() if p == top or p.startswith(top + "/"))


def _order(pointer: str) -> tuple[int, str]:
    return pointer.count("/"), pointer


def _types(facts: _Field) -> str:
    return "|".join(sorted(facts.types)) if facts.types is not None else "any type"


def _values(values: frozenset[bytes] | set[bytes] | None) -> str:
    if values is None:
        return "any value"
    return ", ".join(sorted(v.decode() for v in values)) or "none"


def _show(value: Any) -> str:
    return "none" if value is None else str(value)


def _clip(rule: bytes, width: int = 100) -> str:
    text = rule.decode()
    return text if len(text) <= width else text[: width - 1] + "…"
