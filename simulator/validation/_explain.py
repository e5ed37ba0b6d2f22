"""Why an event fails its schema, found part by part and remembered: the invalid path kept cheap.

Asking jsonschema-rs for the errors of a whole event costs ~15 µs per error
(each becomes a Python object), against ~0.4 µs for ``is_valid``. Captures are
often broken in bulk and in the same way, so the errors are asked of the
smallest part that fails, and remembered by that part's value:

- a *plain* object node (only ``type``, ``properties``, ``required``,
  ``additionalProperties``: no rule reads two fields together) is split: its
  own skeleton (type, required names) and each property, checked apart. The
  event and its ``data`` are plain in every shipped schema;
- anything else (a user object, a shard map and its ``if``/``then`` rules, a
  timestamp) is a *leaf*: ``is_valid`` on its own validator, and on failure its
  errors, remembered by the leaf's JSON text (up to ``MEMO_SIZE`` entries).

The errors of a plain node are exactly the union of its skeleton's and its
properties' errors, so the answer is the one the whole-event ``iter_errors``
gives (a test compares both on every kind of breakage); a schema that is not
plain at the root is asked whole, as before.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs
import orjson

from simulator.validation._registry import _by_id, _compile, _fold, _inline

__all__ = ["Explainer", "Failure"]

#: Remembered explanations per event type; the memo starts over when full (memory stays bounded).
MEMO_SIZE = 4096
_PLAIN = frozenset({"type", "properties", "required", "additionalProperties"})
#: Split plain nodes down to this depth (the event, its data); deeper objects are leaves.
_DEPTH = 2


@dataclass(frozen=True, slots=True)
class Failure:
    """One schema error, relative to the event: what ``Validator`` turns into a ``Problem``."""

    path: tuple[str | int, ...]
    kind: str
    detail: str  # the pattern or format the value missed ("" for other kinds)
    instance: Any
    message: str


@dataclass(slots=True)
class _Node:
    validator: jsonschema_rs.Validator  # the skeleton of a plain node, or the whole leaf
    children: dict[str, _Node] = field(default_factory=dict)
    memo: dict[bytes, tuple[Failure, ...]] = field(default_factory=dict)


class Explainer:
    """The schema errors of events of one schema, computed per failing part and remembered."""

    __slots__ = ("_root",)

    def __init__(self, schema_id: str) -> None:
        docs = _by_id()
        self._root = _plan(_fold(_inline(copy.deepcopy(docs[schema_id]), schema_id, docs)), 0)

    def failures(self, event: Any) -> list[Failure]:
        """Every schema error of ``event`` (empty when it is valid)."""
        out: list[Failure] = []
        _explain(self._root, event, (), out)
        return out


def _plan(node: Any, depth: int) -> _Node:
    if depth < _DEPTH and isinstance(node, dict) and node.get("type") == "object" and set(node) <= _PLAIN \
            and node.get("additionalProperties", True) is True:
        skeleton = {key: value for key, value in node.items() if key != "properties"}
        return _Node(_compile(skeleton, registry=None),
                     {name: _plan(child, depth + 1) for name, child in node.get("properties", {}).items()})
    return _Node(_compile(node, registry=None) if node is not True else _compile({}, registry=None))


def _explain(node: _Node, value: Any, path: tuple[str | int, ...], out: list[Failure]) -> None:
    if node.validator.is_valid(value):
        if node.children and value.__class__ is dict:
            for name, child in node.children.items():
                if name in value:
                    _explain(child, value[name], (*path, name), out)
        return
    if node.children and value.__class__ is dict:
        key = b"names:" + orjson.dumps(sorted(value))  # a skeleton's errors depend on the names held
    else:
        key = orjson.dumps(value)
    found = node.memo.get(key)
    if found is None:
        if len(node.memo) >= MEMO_SIZE:
            node.memo.clear()
        found = node.memo[key] = tuple(_failure(error) for error in node.validator.iter_errors(value))
    for failure in found:
        out.append(Failure((*path, *failure.path), failure.kind, failure.detail, failure.instance, failure.message)
                   if path else failure)
    if node.children and value.__class__ is dict:
        for name, child in node.children.items():
            if name in value:
                _explain(child, value[name], (*path, name), out)


def _failure(error: Any) -> Failure:
    kind = error.kind
    detail = str(getattr(kind, "pattern", "")) + str(getattr(kind, "format", ""))
    return Failure(tuple(error.instance_path), kind.name, detail, error.instance, str(error.message))
