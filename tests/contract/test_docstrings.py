"""The examples in the contract modules' docstrings run and say what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", [
    "simulator.contract", "simulator.contract._contract", "simulator.contract._diff",
    "simulator.contract._openapi", "simulator.contract._asyncapi",
])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
