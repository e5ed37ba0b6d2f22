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
  timestamp) is a *leaf*: on failure its errors are asked once and
  remembered by the leaf's JSON text (up to ``MEMO_SIZE`` entries of at most
  ``MEMO_KEY_BYTES``: memory stays bounded).

Each part below the root is first tried whole against its *closed* copy (no
unknown field, nothing the leak guard's prefilter looks at; backed by the
contract where the closed copy dropped ``if``/``then`` clauses): a part that
passes is valid, closed and clean, and is not looked at again. The parts that
fail are returned as *suspects*: the only places the Python walks for unknown
fields and leaks need to visit.

The errors of a plain node are exactly the union of its skeleton's and its
properties' errors, so the answer is the one the whole-event ``iter_errors``
gives (``tests/validation/test_explain.py`` compares both on random breakage).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

import orjson

from simulator.validation._registry import (
    _compile,
    _fold,
    closed_schema,
    dropped_clauses,
    inlined_type,
)

__all__ = ["Explainer", "Failure"]

#: Remembered explanations per event type; the memo starts over when full (memory stays bounded).
MEMO_SIZE = 1024
MEMO_KEY_BYTES = 512
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
    validator: _Lazy  # the skeleton of a plain node, or the whole leaf
    children: dict[str, _Node] = field(default_factory=dict)
    memo: dict[bytes, tuple[Failure, ...]] = field(default_factory=dict)
    #: The part's closed validator (no unknown field, nothing the leak guard's prefilter would look at).
    closed: _Lazy | None = None
    #: The closed copy dropped ``if``/``then`` clauses (the shard map's): passing it proves less.
    lossy: bool = False
    #: A lossy leaf's dropped clauses alone (None: they cannot be checked apart; the contract decides).
    dropped: _Lazy | None = None
    #: A plain node's whole contract (its ``validator`` is only its skeleton), to back a lossy ``closed``.
    contract: _Lazy | None = None
    #: A plain node's members whose closed copies are lossy: the only ones a passing ``closed`` leaves open.
    lossy_members: tuple[tuple[str, _Node], ...] = ()
    #: A plain node's required member names.
    required: frozenset[str] = frozenset()
    #: A leaf's schema (None for a plain node).
    schema: Any = None


#: A part of an event the Python walks must look at: (path, value, known): a leaf its closed
#: validator refused (known=True), or a member no schema names (known=False).
Suspect = tuple[tuple[str | int, ...], Any, bool]


class Explainer:
    """The schema errors of events of one schema, computed per failing part and remembered."""

    __slots__ = ("_root",)

    def __init__(self, key: str) -> None:
        """The explainer of one event type's schema, or of the envelope's (``"envelope"``)."""
        self._root = _plan(_fold(inlined_type(key)), 0)  # _fold copies what it changes: the cached schema stays

    def failures(self, event: Any) -> list[Failure]:
        """Every schema error of ``event`` (empty when it is valid)."""
        out: list[Failure] = []
        _explain(self._root, event, (), out, [])
        return out

    def explain(self, event: Any) -> tuple[list[Failure], list[Suspect]]:
        """Every schema error of ``event``, and the parts that may hold unknown fields or leaks.

        A part that passes its closed validator holds neither; the others are
        the only places the unknown-field and leak walks need to look.
        """
        out: list[Failure] = []
        suspects: list[Suspect] = []
        _explain(self._root, event, (), out, suspects)
        return out, suspects

    def explain_part(self, event: Any, path: tuple[str, ...]) -> tuple[list[Failure], list[Suspect]]:
        """``explain(event)`` for an event known to be valid, closed and clean outside the part at ``path``.

        Only the plain nodes on the way (their skeletons: a required member
        may be the part, absent) and the part itself are visited, in the order
        ``explain`` visits them, so the answer is the same.
        """
        out: list[Failure] = []
        suspects: list[Suspect] = []
        node, value = self._root, event
        for depth, name in enumerate(path):
            if not node.validator.is_valid(value):
                _remember(node, value, path[:depth], out)
            item = value.get(name, _ABSENT)
            child = node.children.get(name)
            if depth < len(path) - 1:
                if child is None or item is _ABSENT:
                    raise ValueError(f"no plain node at {path[:depth + 1]!r}")
                node, value = child, item
            elif item is not _ABSENT:
                if child is None:
                    suspects.append((path, item, False))
                else:
                    _explain(child, item, path, out, suspects)
        return out, suspects

    def unknown_members(self, event: Any) -> list[Suspect]:
        """The members no schema names, of the event and of its plain objects (``data``), in the order
        ``explain`` finds them; empty when there are none or the event's schema is not plain."""
        known = self._root.children
        if not known or event.__class__ is not dict:
            return []
        found: list[Suspect] = []
        for name, value in event.items():
            child = known.get(name)
            if child is None:
                found.append(((name,), value, False))
            elif child.children and value.__class__ is dict:
                inner = child.children
                found.extend(((name, key), item, False) for key, item in value.items() if key not in inner)
        return found

    def part(self, holder: tuple[str, ...]) -> tuple[bool, frozenset[str]]:
        """Whether ``holder`` runs through plain nodes only (the root is ``()``), and the last one's required names."""
        node = self._root
        for name in holder:
            child = node.children.get(name)
            if child is None or not child.children:
                return False, frozenset()
            node = child
        return bool(node.children), node.required

    def _node(self, path: tuple[str, ...]) -> _Node | None:
        node = self._root
        for name in path:
            child = node.children.get(name)
            if child is None:
                return None
            node = child
        return node

    def leaf_schema(self, path: tuple[str, ...]) -> Any:
        """The schema of the leaf at ``path`` (None where no leaf is)."""
        node = self._node(path)
        return None if node is None else node.schema

    def clean_at(self, path: tuple[str, ...]) -> Callable[[Any], bool] | None:
        """A test that a value, put at ``path``, is valid, closed and clean there (None: no such part).

        A shortcut asks it before patching a whole event: a part that is
        clean cannot be where the event fails (~0.3 µs, against ~6 µs for the
        patched event's closed validator).
        """
        node = self._node(path)
        return None if node is None or node.closed is None else partial(_clean, node)

    def dropped_hold_outside(self, event: Any, path: tuple[str, ...]) -> bool:
        """For an event a lossy closed validator passed with the part at ``path`` patched: the clauses
        that validator dropped hold everywhere else too."""
        return _dropped_hold_outside(self._root, event, path)


_ABSENT: Any = object()


def _dropped_hold_outside(node: _Node, value: Any, path: tuple[str, ...]) -> bool:
    if not node.lossy or value.__class__ is not dict:
        return True
    head, rest = path[0], path[1:]
    for name, member in node.lossy_members:
        item = value.get(name, _ABSENT)
        if item is _ABSENT:
            continue
        if name == head:
            if rest and not _dropped_hold_outside(member, item, rest):
                return False
        elif not _dropped_hold(member, item):
            return False
    return True


def _clean(node: _Node, value: Any) -> bool:
    """``value`` passes the part's closed validator (backed by its contract where the closed copy is lossy)."""
    closed = node.closed
    if closed is None or not closed.is_valid(value):
        return False
    return not node.lossy or _dropped_hold(node, value)


def _dropped_hold(node: _Node, value: Any) -> bool:
    """For a value a lossy part's closed copy passed: the ``if``/``then`` clauses that copy dropped hold too.

    A plain node holds no rule across its members, so only its lossy members
    are asked; a leaf is asked only the clauses its closed copy dropped,
    compiled apart (``dropped_clauses``): the shard map's ``if``/``then``
    rules, not its shards' devices and owners again. Measured: the shard
    map's whole contract cost ~30 µs a call, as much as the closed event.
    """
    if node.children and value.__class__ is dict:
        for name, member in node.lossy_members:
            item = value.get(name, _ABSENT)
            if item is not _ABSENT and not _dropped_hold(member, item):
                return False
        return True
    return (node.dropped or node.contract or node.validator).is_valid(value)


def _plan(node: Any, depth: int, name: str | None = None) -> _Node:
    if depth < _DEPTH and isinstance(node, dict) and node.get("type") == "object" and set(node) <= _PLAIN \
            and node.get("additionalProperties", True) is True:
        skeleton = {key: value for key, value in node.items() if key != "properties"}
        children = {child: _plan(schema, depth + 1, child) for child, schema in node.get("properties", {}).items()}
        # Below the root, the whole node is tried first (one call): when it passes, none of its parts is.
        lossy_members = tuple((child, plan) for child, plan in children.items() if plan.lossy)
        return _Node(_shared(skeleton), children,
                     closed=None if depth == 0 else _shared(closed_schema(node, field=name)),
                     lossy=bool(lossy_members), contract=None if depth == 0 else _shared(node),
                     lossy_members=lossy_members, required=frozenset(node.get("required", ())))
    schema = node if node is not True else {}
    dropped = dropped_clauses(schema)
    return _Node(_shared(schema), closed=_shared(closed_schema(schema, field=name)),
                 lossy=dropped != {}, dropped=_shared(dropped) if dropped else None, schema=schema)


def _shared(schema: Any) -> _Lazy:
    """One validator per distinct schema (the 24 types share their envelope, actors, users…), compiled
    when first asked: an explainer holds ~150 validators, most never asked in a run (a leaf's own
    validator only explains a failure of its closed copy). Compiling them all cost ~0.08 s a run."""
    return _lazy(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))


class _Lazy:
    """A jsonschema-rs validator compiled on the first call of ``is_valid`` or ``iter_errors``."""

    __slots__ = ("is_valid", "iter_errors", "text")

    def __init__(self, text: bytes) -> None:
        self.text = text
        self.is_valid: Callable[[Any], bool] = self._first_is_valid
        self.iter_errors: Callable[[Any], Any] = self._first_iter_errors

    def _compile(self) -> None:
        validator = _compile(orjson.loads(self.text), registry=None, fast_regex=True)
        self.is_valid, self.iter_errors = validator.is_valid, validator.iter_errors

    def _first_is_valid(self, instance: Any) -> bool:
        self._compile()
        return self.is_valid(instance)

    def _first_iter_errors(self, instance: Any) -> Any:
        self._compile()
        return self.iter_errors(instance)


@cache
def _lazy(text: bytes) -> _Lazy:
    return _Lazy(text)


def _explain(node: _Node, value: Any, path: tuple[str | int, ...], out: list[Failure],
             suspects: list[Suspect]) -> None:
    closed = node.closed
    if closed is not None and closed.is_valid(value):
        if not node.lossy or _dropped_hold(node, value):
            return  # a part that is valid, closed and clean
        if not node.children:
            _remember(node, value, path, out)
            return
    if not node.validator.is_valid(value):
        _remember(node, value, path, out)
    if not node.children:
        suspects.append((path, value, True))
    elif value.__class__ is dict:
        children = node.children
        for name, item in value.items():
            child = children.get(name)
            if child is None:
                suspects.append(((*path, name), item, False))
            else:
                _explain(child, item, (*path, name), out, suspects)
    else:
        suspects.append((path, value, True))


def _remember(node: _Node, value: Any, path: tuple[str | int, ...], out: list[Failure]) -> None:
    """Add the errors of a failing part to ``out``: from the memo, or asked once and remembered."""
    try:
        if node.children and value.__class__ is dict:
            key = b"names:" + orjson.dumps(sorted(value))  # a skeleton's errors depend on the names held
        else:
            key = orjson.dumps(value)
    except TypeError:  # an event built in Python may hold what JSON cannot (an int past 64 bits)
        key = b""
    found = node.memo.get(key) if key else None
    if found is None:
        found = tuple(_failure(error) for error in node.validator.iter_errors(value))
        if key and len(key) <= MEMO_KEY_BYTES:  # a big value is seldom met twice: not worth its memory
            if len(node.memo) >= MEMO_SIZE:
                node.memo.clear()
            node.memo[bytes(memoryview(key))] = found  # a copy: orjson's own buffer holds 4 KiB or more
    for failure in found:
        out.append(Failure((*path, *failure.path), failure.kind, failure.detail, failure.instance,
                           failure.message) if path else failure)


def _failure(error: Any) -> Failure:
    kind = error.kind
    detail = str(getattr(kind, "pattern", "")) + str(getattr(kind, "format", ""))
    return Failure(tuple(error.instance_path), kind.name, detail, error.instance, str(error.message))
