"""What a check finds: one ``Problem`` per broken rule, at a JSON pointer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Code", "Problem", "Severity"]

#: Which layer found the problem.
Code = Literal["json", "envelope", "unknown-type", "schema", "semantic", "leak", "unknown-field", "sequence",
               "duplicate-key"]
Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an event.

    ``pointer`` is a JSON pointer into the event ("" is the whole event).

    >>> Problem("semantic", "error", "/data/shard_map/threshold", "threshold=3 exceeds total=2")
    Problem(code='semantic', severity='error', pointer='/data/shard_map/threshold', message='threshold=3 exceeds total=2')
    """

    code: Code
    severity: Severity
    pointer: str
    message: str
    #: The JSON Schema keyword that failed (``enum``, ``required``…), for schema problems; "" otherwise.
    keyword: str = field(default="", repr=False, compare=False)

    @property
    def is_error(self) -> bool:
        """True unless this is a warning (a lenient unknown field, a lenient sequence gap)."""
        return self.severity == "error"


def escape(name: str) -> str:
    """One JSON pointer reference token (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")


def pointer(path: list[str | int] | tuple[str | int, ...]) -> str:
    """A JSON pointer from a path of keys and indexes.

    The short pointers bulk failures repeat (``/data/region`` in every event)
    are remembered, up to 4,096 of at most 256 characters: memory stays
    bounded whatever names a hostile capture holds.
    """
    short = path.__class__ is tuple and len(path) <= 4
    if short:
        text = _POINTERS.get(path)  # type: ignore[arg-type]
        if text is not None:
            return text
    text = "".join(f"/{escape(str(part))}" for part in path)
    if short and len(text) <= 256:
        if len(_POINTERS) >= 4096:
            _POINTERS.clear()
        _POINTERS[path] = text  # type: ignore[index]
    return text


_POINTERS: dict[tuple[str | int, ...], str] = {}
