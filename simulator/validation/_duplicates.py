"""Duplicate member names in a JSON object: ``{"type": "bogus.type", …, "type": "user.created"}``.

RFC 8259 leaves duplicate names undefined: orjson (and Python's ``json``) keep
the last value, other parsers the first or refuse. What chestsim checked would
then not be what another consumer reads (a parser differential), so a
duplicate is a problem of its own.

Cost: one compact re-dump of the parsed event (orjson, under 1 µs for a
firehose event). When it equals the text, nothing was dropped. Otherwise the
re-dump holds exactly one ``":`` per member kept (unless a string in it holds
a quote or starts with a colon), while the text holds at least one ``"<ws>:``
per member written. Only when the text has more of those, or such a string
blurs the count, is the text parsed a second time, with
``json.loads(object_pairs_hook=…)``, to name the members.

Callers: ``Validator.check_bytes``/``check_parsed`` and ``validate`` already
include these problems; the listener gets them through ``check_bytes``.

>>> duplicate_members(b'{"type": "bogus.type", "data": {}, "type": "user.created"}')
['/type']
>>> duplicate_members(b'{"a": {"b": 1, "b": 2}, "c": "\\\\":"}')
['/a/b']
>>> duplicate_members(b'{"a": 1}')
[]
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from simulator.validation._problem import Problem, Severity, escape

__all__ = ["duplicate_members", "duplicate_problems", "events_are_lines", "maybe_duplicates"]

_KEY_END = re.compile(rb'"[ \t\r\n]*:')
_SPACED_COLON = (b" :", b"\t:", b"\n:", b"\r:")
# In compact JSON a '":' that ends no member name is a quote inside a string (written \\") or a
# string whose text starts with ':' — its opening quote follows one of `{ , : [`.
_STRING_STARTS_WITH_COLON = (b'{":', b',":', b'[":', b':":')
_NOTHING: Any = object()


def maybe_duplicates(raw: bytes | bytearray | memoryview | str, event: Any) -> bool:
    """False when ``raw`` (which orjson parsed into ``event``) surely has no duplicate member name.

    True means "look closer" (:func:`duplicate_members`): a duplicate, or a
    string holding a quote that makes the cheap count inexact.
    """
    if event.__class__ is not dict and event.__class__ is not list:
        return False
    text = raw.encode() if isinstance(raw, str) else raw
    dumped = orjson.dumps(event)
    if dumped == text:
        return False  # written compactly, as orjson writes: every member kept
    text = bytes(text)
    if b'\\"' in dumped or any(start in dumped for start in _STRING_STARTS_WITH_COLON):
        return True  # a '":' inside a string: the count below would be inexact
    written = text.count(b'":')
    if any(spaced in text for spaced in _SPACED_COLON):
        written = len(_KEY_END.findall(text))
    return written > dumped.count(b'":')


def events_are_lines(events: list[Any], lines: list[bytes]) -> bool:
    """True when ``lines`` are exactly orjson's compact dump of ``events``: no member was dropped.

    One C call for a whole block of lines instead of one per line; False only
    means "check the lines one by one".
    """
    try:
        dumped = orjson.dumps(events)
    except TypeError:
        return False  # a placeholder for a broken line
    return memoryview(dumped)[1:-1] == b",".join(lines)


def duplicate_members(raw: bytes | bytearray | memoryview | str, event: Any = _NOTHING) -> list[str]:
    """JSON pointers of the members whose name appears more than once in their object (once each).

    ``event`` is what orjson parsed from ``raw``, when the caller has it
    (saves a parse); the answer is the same without it. Text that is not JSON
    has no members: ``[]``.
    """
    if event is _NOTHING:
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return []
    if not maybe_duplicates(raw, event):
        return []
    found: dict[int, list[str]] = {}

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        repeated = []
        for name, value in items:
            if name in out and name not in repeated:
                repeated.append(name)
            out[name] = value
        if repeated:
            found[id(out)] = repeated
        return out

    text = bytes(raw).decode("utf-8", "surrogatepass") if not isinstance(raw, str) else raw
    try:
        tree = json.loads(text, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return []  # orjson read it, json did not: nothing more to say about members
    if not found:
        return []
    return _pointers(tree, found)


def _pointers(tree: Any, found: dict[int, list[str]]) -> list[str]:
    out: list[str] = []
    stack: list[tuple[Any, str]] = [(tree, "")]
    while stack:  # bounded: each node of the parsed tree is visited once
        node, where = stack.pop()
        if isinstance(node, dict):
            out.extend(f"{where}/{escape(name)}" for name in found.get(id(node), ()))
            stack.extend((value, f"{where}/{escape(name)}") for name, value in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((item, f"{where}/{index}") for index, item in reversed(list(enumerate(node))))
    return out


def duplicate_problems(raw: bytes | bytearray | memoryview | str, event: Any = _NOTHING, *,
                       strict: bool = False) -> list[Problem]:
    """One ``duplicate-key`` problem per repeated member: an error when ``strict``, else a warning."""
    severity: Severity = "error" if strict else "warning"
    return [Problem("duplicate-key", severity, where,
                    f"member {_last(where)!r} appears more than once in its object; parsers disagree on "
                    "which value counts (orjson keeps the last): send each name once"
                    + ("" if strict else " (--strict refuses it)"))
            for where in duplicate_members(raw, event)]


def _last(where: str) -> str:
    return where.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
