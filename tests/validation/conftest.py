"""Shared fixtures of the validation tests; helpers live in ``validation_examples.py`` beside this file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib does not put test folders on sys.path; the helpers module needs it.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from simulator.validation import Validator


@pytest.fixture(scope="session")
def validator() -> Validator:
    return Validator()


@pytest.fixture(scope="session")
def strict_validator() -> Validator:
    return Validator(strict=True)
