"""Shared checks: every event valid (schema, semantic, leak guard), the stream sequence-consistent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simulator.validation import Validator
from simulator.validation._sequence import SequenceChecker

_VALIDATOR = Validator(strict=False)

# The sequence checker counts scim.updated's users_created / users_pruned as introducing and
# ending users, while the model also sends user.created / user.deleted for each of them (the page:
# "User Created: triggered each time a user is created"). Until the checker treats the SCIM summary
# as idempotent, those two findings on scim.updated are expected; nothing else is.
_KNOWN = {("scim.updated", "user-introduced-twice"), ("scim.updated", "user-ended-twice")}


def problems(events: Iterable[dict[str, Any]], *, sequence: bool = True) -> list[str]:
    """Every problem found, as readable lines (empty when all is well)."""
    out: list[str] = []
    checker = SequenceChecker(mode="strict") if sequence else None
    for position, event in enumerate(events):
        for problem in _VALIDATOR.check(event):
            if problem.severity == "error" or problem.code == "unknown-field":
                out.append(f"#{position} {event.get('type')}: {problem}")
        if checker is not None:
            for finding in checker.feed(event, f"#{position}"):
                if (event.get("type"), finding.rule) not in _KNOWN:
                    out.append(f"#{position} {event.get('type')}: {finding.rule}: {finding.problem.message}")
    return out
