"""The examples in simulator.model's docstrings run and say what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["simulator.model", "simulator.model._clock", "simulator.model._ids", "simulator.model._people",
           "simulator.model._overrides", "simulator.model._scenario", "simulator.model._tenant",
           "simulator.model._context", "simulator.model._directory", "simulator.model._devices",
           "simulator.model._vault",
           "simulator.model._writer", "simulator.model._generate", "simulator.model._guard"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
