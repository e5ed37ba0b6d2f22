"""Shared checks: every event valid (schema, semantic, leak guard), the stream sequence-consistent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simulator.validation import SequenceChecker, Validator

# Strict: an unknown field is a problem too (the model emits exactly the contract).
_VALIDATOR = Validator(strict=True)

def problems(events: Iterable[dict[str, Any]], *, sequence: bool = True) -> list[str]:
    """Every problem found, as readable lines (empty when all is well)."""
    out: list[str] = []
    checker = SequenceChecker(mode="strict") if sequence else None
    for position, event in enumerate(events):
        out.extend(f"#{position} {event.get('type')}: {problem}" for problem in _VALIDATOR.check(event))
        if checker is not None:
            for finding in checker.feed(event, f"#{position}"):
                out.append(f"#{position} {event.get('type')}: {finding.rule}: {finding.problem.message}")
    return out
