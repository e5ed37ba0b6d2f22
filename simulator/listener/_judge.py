"""The verdict on a payload that passed authentication: valid, warning, invalid, leak or malformed.

Runs where the records are written (in the writer process by default), so the
event loop that answers requests never pays for schema validation.

>>> from simulator.validation import Validator
>>> judge(Validator(), b'{"type": "secret.used"}').verdict
'invalid'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

__all__ = ["Judgement", "ProblemLike", "Validates", "judge"]


class ProblemLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def pointer(self) -> str: ...
    @property
    def message(self) -> str: ...


class Validates(Protocol):
    def check_bytes(self, body: bytes, /) -> tuple[Any, Sequence[ProblemLike]]: ...


@dataclass(frozen=True, slots=True)
class Judgement:
    """A verdict, its first reason, every problem as JSON, the body safe to store, the event."""

    verdict: str
    reason: str | None
    problems: bytes | None
    body: bytes | None
    event: Any = None


def judge(validator: Validates, body: bytes) -> Judgement:
    """Validate ``body``; mask leaked values in the body that will be stored."""
    event, problems = validator.check_bytes(body)
    if not problems:
        return Judgement("valid", None, None, body, event)
    problem_json = orjson.dumps([_problem_dict(p) for p in problems])
    errors = [p for p in problems if p.severity == "error"]
    if event is None or any(p.code == "json" for p in errors):
        return Judgement("malformed", errors[0].message if errors else "not JSON", problem_json, body)
    if not errors:
        # A repeated member name is a parser differential: what was checked may not be what another
        # parser reads. Acknowledged (it is a warning), but flagged (an error with --strict).
        ambiguous = [p for p in problems if p.code == "duplicate-key"]
        if ambiguous:
            return Judgement("warning", f"{ambiguous[0].pointer}: {ambiguous[0].message}", problem_json, body, event)
        return Judgement("valid", None, problem_json, body, event)
    leaks = [p for p in errors if p.code == "leak"]
    if leaks:
        # The leak guard names the field and the kind of material, never the value.
        return Judgement("leak", f"{leaks[0].pointer or '/'}: {leaks[0].message}", problem_json,
                         mask_leaks(event, leaks), event)
    return Judgement("invalid", f"{errors[0].pointer or '/'}: {errors[0].message}", problem_json, body,
                     event)


def _problem_dict(problem: ProblemLike) -> dict[str, str]:
    return {"code": problem.code, "severity": problem.severity, "pointer": problem.pointer,
            "message": problem.message}


def mask_leaks(event: Any, leaks: Sequence[ProblemLike]) -> bytes | None:
    """``event`` re-encoded with each leaked value replaced; None (store no body) when a pointer
    does not resolve to a value, so that nothing secret is kept by mistake.

    >>> from types import SimpleNamespace as P
    >>> mask_leaks({"data": {"password": "hunter2"}}, [P(pointer="/data/password")])
    b'{"data":{"password":"[redacted: leak]"}}'
    """
    try:
        copy = orjson.loads(orjson.dumps(event))
    except TypeError:
        return None
    for problem in leaks:
        if not problem.pointer:
            return None
        parts = [p.replace("~1", "/").replace("~0", "~") for p in problem.pointer.split("/")[1:]]
        target = copy
        try:
            for part in parts[:-1]:
                target = target[int(part)] if isinstance(target, list) else target[part]
            last: Any = int(parts[-1]) if isinstance(target, list) else parts[-1]
            if isinstance(target, dict) and last not in target:
                return None
            target[last] = "[redacted: leak]"
        except (KeyError, IndexError, ValueError, TypeError):
            return None
    return orjson.dumps(copy)
