"""Validation of Secret Chest webhook payloads: schemas, semantic rules, leak guard, sequences.

>>> from simulator.validation import Validator
>>> v = Validator(strict=False)
>>> event, problems = v.check_bytes(b'{"type": "secret.usd"}')
>>> problems[0].message.split(";")[1].strip()
"did you mean 'secret.used'?"
"""

from __future__ import annotations

from simulator.validation._problem import Problem
from simulator.validation._validator import Validator

__all__ = ["Problem", "Validator"]
