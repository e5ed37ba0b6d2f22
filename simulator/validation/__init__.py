"""Validation of Secret Chest webhook payloads: schemas, semantic rules, leak guard, sequences.

>>> from simulator.validation import Validator
>>> v = Validator(strict=False)
>>> event, problems = v.check_bytes(b'{"type": "secret.usd"}')
>>> problems[0].code, problems[0].pointer
('unknown-type', '/type')
>>> "did you mean 'secret.used'?" in problems[0].message
True

``validate(paths, ...)`` checks whole files and returns a ``Report``;
``SequenceChecker`` checks the rules that span a stream; ``read_sources``
streams events from ``.json``/``.jsonl`` files and stdin in constant memory.
"""

from __future__ import annotations

from simulator.validation._leakguard import is_secret_field, leaks, looks_like_secret
from simulator.validation._problem import Problem
from simulator.validation._reader import DEFAULT_MAX_LINE_BYTES, Record, iter_events, read_sources
from simulator.validation._report import Entry, Report, TypeTotals
from simulator.validation._run import validate
from simulator.validation._semantic import check_semantic
from simulator.validation._sequence import Finding, SequenceChecker, SequenceMode
from simulator.validation._validator import Validator

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "Entry",
    "Finding",
    "Problem",
    "Record",
    "Report",
    "SequenceChecker",
    "SequenceMode",
    "TypeTotals",
    "Validator",
    "check_semantic",
    "is_secret_field",
    "iter_events",
    "leaks",
    "looks_like_secret",
    "read_sources",
    "validate",
]
