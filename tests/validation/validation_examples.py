"""Fresh copies of the shipped examples, for the validation tests."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from simulator import lookup


def example(key: str, which: str = "full") -> dict[str, Any]:
    """A deep copy of a shipped example (``minimal`` or ``full``)."""
    chosen: dict[str, Any] = next(e for e, p in zip(lookup(key).examples, ("full", "minimal"), strict=True)
                                  if p == which)
    return copy.deepcopy(chosen)


def jsonl(*events: Any) -> bytes:
    """Events as JSON Lines."""
    return b"".join(orjson.dumps(e) + b"\n" for e in events)
