"""The plugin's options, marker, settings and failure reports, seen from a user's pytest."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

SHOW_SETTINGS = """
import pytest

def test_settings(chest_settings, chest_secret):
    print("SETTINGS", chest_settings.seed, chest_settings.users, chest_secret[:12])
"""


def test_options_have_their_own_group(project: pytest.Pytester) -> None:
    result = project.runpytest_inprocess("--help")
    result.stdout.fnmatch_lines([
        "chestsim: simulated Secret Chest webhooks:",
        "*--chestsim-seed=N|random*",
        "*--chestsim-secret=WHSEC*",
        "*--chestsim-users=N*",
    ])


def test_marker_is_registered_for_strict_markers(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import pytest

        @pytest.mark.chestsim(seed=3)
        def test_marked(chest_settings):
            assert chest_settings.seed == 3
    """)
    project.runpytest_inprocess("--strict-markers").assert_outcomes(passed=1)
    project.runpytest_inprocess("--markers").stdout.fnmatch_lines(["@pytest.mark.chestsim(seed=None, secret=None, users=None)*"])


OTHER = "whsec_" + "Q" * 32


@pytest.mark.parametrize(
    ("marker", "args", "expected"),
    [
        pytest.param("", [], "SETTINGS 0 10 whsec_Y2hlc3", id="defaults"),
        pytest.param("", ["--chestsim-seed=42", "--chestsim-users=3"], "SETTINGS 42 3 whsec_Y2hlc3", id="options"),
        pytest.param("", ["--chestsim-seed=0x10"], "SETTINGS 16 10 whsec_Y2hlc3", id="hex-seed"),
        pytest.param("", [f"--chestsim-secret={OTHER}"], "SETTINGS 0 10 whsec_QQQQQQ", id="secret-option"),
        pytest.param(f"@pytest.mark.chestsim(seed=9, users=2, secret={OTHER!r})", ["--chestsim-seed=42"],
                     "SETTINGS 9 2 whsec_QQQQQQ", id="marker-wins"),
        pytest.param("@pytest.mark.chestsim(users=4)", ["--chestsim-seed=5"], "SETTINGS 5 4 whsec_Y2hlc3",
                     id="marker-and-option"),
    ],
)
def test_settings_come_from_marker_then_options_then_defaults(
    project: pytest.Pytester, marker: str, args: list[str], expected: str
) -> None:
    project.makepyfile(SHOW_SETTINGS.replace("def test_settings", f"{marker}\ndef test_settings"))
    result = project.runpytest_inprocess("-s", *args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*" + expected + "*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--chestsim-seed=abc"], "*--chestsim-seed='abc' must be an integer like 1234, or 'random'*", id="seed"),
    ],
)
def test_bad_options_stop_the_run_with_one_line(project: pytest.Pytester, args: list[str], message: str) -> None:
    project.makepyfile(SHOW_SETTINGS)
    result = project.runpytest_inprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.parametrize(
    ("marker", "args", "message"),
    [
        pytest.param("@pytest.mark.chestsim(sead=1)", [], "*got sead; it takes seed=, secret= and users=*", id="typo"),
        pytest.param("@pytest.mark.chestsim(7)", [], "*takes keywords only: seed=, secret=, users=*", id="positional"),
        pytest.param("@pytest.mark.chestsim(seed='7')", [], "*seed='7') must be an integer*", id="seed-type"),
        pytest.param("@pytest.mark.chestsim(users=0)", [], "*users)=0 must be a positive number of tenant users*", id="users"),
        pytest.param("@pytest.mark.chestsim(secret='hunter2')", [], "*must start with 'whsec_'*", id="secret"),
        pytest.param("", ["--chestsim-users=many"], "*--chestsim-users='many' must be a positive number*", id="users-option"),
    ],
)
def test_bad_settings_fail_the_test_saying_what_to_fix(
    project: pytest.Pytester, marker: str, args: list[str], message: str
) -> None:
    project.makepyfile(SHOW_SETTINGS.replace("def test_settings", f"{marker}\ndef test_settings"))
    result = project.runpytest_inprocess(*args)
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines([message])
    assert "hunter2" not in result.stdout.str()


def test_a_failing_test_prints_its_seed(project: pytest.Pytester) -> None:
    project.makepyfile("""
        import pytest

        @pytest.mark.chestsim(seed=1234)
        def test_fails(chest_events):
            assert len(chest_events("secret.used", n=2)) == 3

        def test_passes(chest_events):
            assert chest_events("user.created")
    """)
    result = project.runpytest_inprocess()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*- chestsim -*",
        "chestsim seed=1234 users=10: reproduce with --chestsim-seed=1234 or @pytest.mark.chestsim(seed=1234)",
    ])
    assert result.stdout.str().count("reproduce with") == 1


def test_tests_without_chestsim_fixtures_get_no_report(project: pytest.Pytester) -> None:
    project.makepyfile("def test_plain():\n    assert False\n")
    result = project.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    assert "chestsim seed=" not in result.stdout.str()


def test_random_seed_is_drawn_once_and_shown(project: pytest.Pytester) -> None:
    project.makepyfile("""
        seen = []

        def test_one(chest_settings):
            seen.append(chest_settings.seed)

        def test_two(chest_settings):
            seen.append(chest_settings.seed)
            assert seen[0] == seen[1]
            print("SEED", seen[0])
    """)
    result = project.runpytest_inprocess("-s", "--chestsim-seed=random")
    result.assert_outcomes(passed=2)
    header = next(line for line in result.stdout.lines if line.startswith("chestsim: --chestsim-seed="))
    seed = header.split("=", 1)[1]
    result.stdout.fnmatch_lines([f"*SEED {seed}"])


def test_plugin_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, simulator.pytest_plugin\n"
        "heavy = {'httpx', 'hypothesis', 'aiohttp', 'faker', 'simulator.model', 'simulator.listener',"
        " 'simulator.testing', 'locust', 'starlette', 'flask'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
