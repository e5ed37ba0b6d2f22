"""Edge-case changes that keep an event valid: the schema's corners, one value at a time.

A change names a kind and a slot; ``apply`` makes it on a copy and keeps it only
when chestsim's own ``Validator`` still finds no error, so a strategy can draw
changes freely and still hand out valid events.

```
unicode-text    a free-text value (a name, a title) becomes drawn Unicode text
longest-text    a free-text value at its schema's maxLength
shortest-text   a free-text value at its minLength ("" when allowed)
odd-email       an address with a "+tag", an apostrophe, capitals or one letter
drop-optional   a property the schema does not require is left out
empty-list      an array without minItems becomes []
lowest-number   an integer at its schema's minimum
time-precision  a timestamp without fraction, or with microseconds (same second)
```

>>> from simulator import lookup
>>> event = lookup("user.created").examples[0]
>>> target = next(s for s in slots(event) if s.pointer == "/data/user/display_name")
>>> apply(event, "longest-text", target, "é")["data"]["user"]["display_name"] == "é" * 256
True
"""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any

from simulator._types import Event
from simulator.testing._slots import Slot, slots

__all__ = ["EDGE_KINDS", "apply", "errors", "targets"]

EDGE_KINDS = (
    "unicode-text",
    "longest-text",
    "shortest-text",
    "odd-email",
    "drop-optional",
    "empty-list",
    "lowest-number",
    "time-precision",
)

_STAMP = re.compile(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?Z$")


def _eligible(kind: str, slot: Slot) -> bool:
    schema = slot.schema
    if kind in ("unicode-text", "longest-text", "shortest-text"):
        return slot.free_text
    if kind == "odd-email":
        return schema.get("format") == "email"
    if kind == "drop-optional":
        return not slot.required and isinstance(slot.path[-1], str)
    if kind == "empty-list":
        return slot.kind == "array" and not schema.get("minItems")
    if kind == "lowest-number":
        return slot.kind == "integer" and "minimum" in schema
    if kind == "time-precision":
        return schema.get("format") == "date-time"
    raise ValueError(f"kind={kind!r} is not an edge-case kind; use one of {', '.join(EDGE_KINDS)}")


def targets(event: Event, kind: str) -> list[Slot]:
    """The slots of ``event`` that ``kind`` can change, in document order."""
    return [s for s in slots(event) if _eligible(kind, s)]


def _value(kind: str, slot: Slot, old: Any, drawn: Any) -> Any:
    schema = slot.schema
    if kind == "unicode-text":
        return str(drawn)
    if kind == "longest-text":
        return str(drawn)[:1] * int(schema["maxLength"])
    if kind == "shortest-text":
        return str(drawn)[:1] * int(schema.get("minLength", 0))
    if kind == "odd-email":
        domain = str(old).rpartition("@")[2] or "example.com"
        return f"{drawn}@{domain}"
    if kind == "empty-list":
        return []
    if kind == "lowest-number":
        return schema["minimum"]
    if kind == "time-precision":
        match = _STAMP.match(str(old))
        if not match:
            return old
        second, fraction = match.group(1), (match.group(2) or ".")[1:]
        return f"{second}Z" if drawn else f"{second}.{(fraction + '000000')[:6]}Z"
    raise ValueError(f"kind={kind!r} is not an edge-case kind")


def apply(event: Event, kind: str, slot: Slot, drawn: Any = None) -> Event:
    """A copy of ``event`` with one edge-case change at ``slot`` (no validity check)."""
    changed = copy.deepcopy(event)
    parent: Any = changed
    for part in slot.path[:-1]:
        parent = parent[part]
    last = slot.path[-1]
    if kind == "drop-optional":
        del parent[last]
    else:
        parent[last] = _value(kind, slot, parent[last], drawn)
    return changed


@cache
def _validator() -> Any:
    from simulator.validation import Validator

    return Validator()


def errors(event: Event) -> list[str]:
    """What chestsim's validator finds wrong with ``event`` (warnings left out)."""
    return [f"{p.pointer}: {p.message}" for p in _validator().check(event) if p.is_error]
