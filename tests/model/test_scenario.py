from __future__ import annotations

from pathlib import Path

import pytest

from simulator._exceptions import ScenarioError
from simulator.model import generate, list_scenarios, load_scenario

SHIPPED = ["autofill", "desharding", "firehose", "group-share", "idp-change", "multi-user-share", "offboarding",
           "onboarding", "scim-sync", "share-lifecycle", "tenant-day"]


def test_shipped_scenarios_have_names_and_docstrings() -> None:
    scenarios = list_scenarios()
    assert [s.name for s in scenarios] == SHIPPED
    assert all(s.description and s.description.endswith(".") for s in scenarios)


@pytest.mark.parametrize("name", ["scim-sync", "scim_sync", "SCIM-Sync"])
def test_names_accept_hyphens_or_underscores(name: str) -> None:
    assert load_scenario(name).name == "scim-sync"


def test_unknown_scenario_suggests_the_closest() -> None:
    with pytest.raises(ScenarioError, match="did you mean 'onboarding'"):
        load_scenario("onbording")


def write(tmp_path: Path, text: str, name: str = "mine.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_users_script_runs_by_path(tmp_path: Path) -> None:
    path = write(tmp_path, '"""Bob uses Alice\'s secret."""\n\n\ndef run(t):\n    alice, bob = t.pick(2)\n'
                           "    secret = alice.create_secret('Prod Postgres')\n"
                           "    bob.accept(alice.share(secret, to=[bob]))\n    bob.use(secret)\n")
    scenario = load_scenario(str(path))
    assert scenario.description == "Bob uses Alice's secret."
    events = list(generate(str(path), seed=1, users=3))
    assert events[-1]["type"] == "secret.used"


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("def run(t):\n    x = (\n", 2, "syntax error"),
        ("import nothing_here_at_all\n\ndef run(t):\n    pass\n", 1, "failed to load: ModuleNotFoundError"),
        ("def run(t):\n    a, b = t.pick(2)\n    s = a.create_secret()\n    b.use(s)\n", 4, "holds no shard"),
        ("def run(t):\n    t.users[0].frobnicate()\n", 2, "AttributeError"),
    ],
    ids=["syntax-error", "import-error", "refused-action", "typo"],
)
def test_errors_point_at_the_users_line(tmp_path: Path, source: str, line: int, message: str) -> None:
    path = write(tmp_path, source)
    with pytest.raises(ScenarioError, match=message) as info:
        list(generate(str(path), seed=1, users=3))
    assert info.value.line == line
    assert info.value.path == str(path)
    assert f"{path}:{line}" in str(info.value)


def test_a_script_without_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"must define run\(t\)"):
        load_scenario(str(write(tmp_path, "x = 1\n")))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(str(tmp_path / "nope.py"))


def test_a_script_that_does_nothing_under_a_limit_stops_with_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "def run(t):\n    pass\n")
    with pytest.raises(ScenarioError, match="emitted no events"):
        list(generate(str(path), seed=1, users=2, events=10_000))


def test_setup_runs_once_and_defaults_apply(tmp_path: Path) -> None:
    path = write(tmp_path, "DEFAULTS = {'users': 3}\n\n"
                           "def setup(t):\n    t.create_group('Pilot', members=t.users)\n\n"
                           "def run(t):\n    a = t.users[0]\n    a.use(t.pick_secret(held_by=a))\n")
    events = list(generate(str(path), seed=2, events=200))
    assert sum(e["type"] == "group.created" and e["data"]["group"]["name"] == "Pilot" for e in events) == 1
    assert sum(e["type"] == "user.created" for e in events) == 3
