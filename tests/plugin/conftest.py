"""Plugin tests run pytest inside pytest (``pytester``), the way respx tests its plugin.

Each module here says ``pytest_plugins = ["pytester"]``: pytest refuses that line in a
conftest below the root, and the repository keeps no root conftest.
"""

from __future__ import annotations

import hypothesis
import hypothesis.strategies  # noqa: F401
import pytest

# Inner in-process runs forget every module they import, and pytest rewrites the asserts of
# plugin distributions (all of Hypothesis) on each import: about 4 s per run. Modules loaded
# here, before any inner run, stay loaded.
import simulator.listener
import simulator.strategies
import simulator.testing  # noqa: F401

# What every inner run needs: Locust's pytest plugin imports locust, which monkey-patches
# the whole process with gevent; pytest-asyncio warns (an error here) without a loop scope.
INNER_INI = """\
[pytest]
addopts = -p no:locust -p no:cacheprovider
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A ``pytester`` project with an ini that keeps inner runs isolated and quiet."""
    pytester.makeini(INNER_INI)
    return pytester
