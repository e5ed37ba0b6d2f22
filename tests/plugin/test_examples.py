"""The example listeners' tests pass, and catch a listener that skips signatures or crashes.

Each example (a listener and its test file) is copied into a ``pytester`` project and
run as is, then against deliberately broken copies of the listener.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FRAMEWORKS = ["starlette", "flask"]

# Fewer examples and no shrinking inside these runs: a broken listener fails on its first
# bad answer, and a correct one still meets every hostile kind in the deterministic suite.
PROFILE = """
from hypothesis import Phase, settings

settings.register_profile("selftest", max_examples=15, derandomize=True, database=None,
                          phases=[Phase.explicit, Phase.generate])
settings.load_profile("selftest")
"""

# Each break replaces one line of the real listener; the test fails if that line moves.
BREAKS = {
    "skips-signatures": ("if not verify(secret, request.headers, body):", "if False:"),
    "crashes-on-bad-json": ("except (ValueError, RecursionError):", "except ():"),
    "crashes-on-missing-fields": ("except (KeyError, TypeError, ", "except (ZeroDivisionError, "),
}


def _copy_example(pytester: pytest.Pytester, framework: str, *, broken: str | None = None) -> None:
    source = (EXAMPLES / f"{framework}_listener.py").read_text()
    if broken is not None:
        old, new = BREAKS[broken]
        assert source.count(old) == 1, f"{framework}_listener.py changed: update BREAKS[{broken!r}]"
        source = source.replace(old, new)
    pytester.makepyfile(**{
        f"{framework}_listener": source,
        f"test_{framework}_listener": (EXAMPLES / f"test_{framework}_listener.py").read_text(),
    })
    pytester.makeconftest(PROFILE)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_example_passes(project: pytest.Pytester, framework: str) -> None:
    _copy_example(project, framework)
    result = project.runpytest_inprocess()
    result.assert_outcomes(passed=6)


@pytest.mark.parametrize("broken", list(BREAKS))
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_example_catches_a_broken_listener(project: pytest.Pytester, framework: str, broken: str) -> None:
    _copy_example(project, framework, broken=broken)
    result = project.runpytest_inprocess("-k", "hostile")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1, result.stdout.str()
    # The table of every hostile kind catches each break, whatever Hypothesis draws.
    result.stdout.fnmatch_lines(["FAILED test_*_listener.py::test_answers_every_hostile_kind*"])
    expected = {
        "skips-signatures": "*expects reject-401 (401 or 403); the listener answered 200*",
        # Starlette lets the exception out; Flask turns it into a 500.
        "crashes-on-bad-json": "*delivery 'not-json'*listener * crashed*",
        "crashes-on-missing-fields": "*delivery '*' (/data/*listener * crashed*",
    }[broken]
    result.stdout.fnmatch_lines([expected])
