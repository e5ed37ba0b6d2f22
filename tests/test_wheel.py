"""The wheel ships schemas/ and scenarios/: install it in a fresh venv and run the CLI from /tmp.

Slow (builds a wheel, creates a venv): skipped by ``make test-fast``, run by ``make test`` and CI.
"""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True, timeout=300)
    (found,) = out.glob("chestsim-*.whl")
    return found


def test_wheel_contains_schemas_and_scenarios(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "simulator/_data/schemas/envelope.json" in names
    assert sum(n.startswith("simulator/_data/schemas/events/") for n in names) == 24
    assert any(n.startswith("simulator/_data/schemas/examples/secret.used/") for n in names)
    assert any(n.startswith("simulator/_data/scenarios/") and n.endswith(".py") for n in names)
    for asset in ("page.html", "inspector.js", "inspector.css"):  # the web inspector works offline
        assert f"simulator/listener/_inspector/{asset}" in names


def test_installed_cli_runs_outside_checkout(wheel: Path, tmp_path: Path) -> None:
    python = _installed(wheel, tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    listing = subprocess.run([str(python), "-m", "simulator", "events", "list", "--format", "json"],
                             cwd=work, capture_output=True, text=True, timeout=120, check=False,
                             env={"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"})
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.count('"key"') == 24
    example = work / "event.json"
    example.write_bytes((ROOT / "schemas/examples/secret.used/full.json").read_bytes())
    checked = subprocess.run([str(python), "-m", "simulator", "validate", str(example)],
                             cwd=work, capture_output=True, text=True, timeout=120, check=False,
                             env={"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"})
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The installed package must be the wheel's, not the checkout's.
    where = subprocess.run([str(python), "-c", "import simulator, sys; print(simulator.__file__)"],
                           cwd=work, capture_output=True, text=True, timeout=60, check=True,
                           env={"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"})
    assert str(ROOT) not in where.stdout
    page = subprocess.run([str(python), "-c", "from simulator.listener._web import render_page; "
                           "print(render_page(data=None)[-20:])"], cwd=work, capture_output=True, text=True,
                          timeout=60, check=False, env={"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"})
    assert page.returncode == 0, page.stderr
    assert "</html>" in page.stdout


def test_wheel_ships_the_examples_and_they_pass_from_a_copy(wheel: Path, tmp_path: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith("simulator/_data/examples/")}
    assert shipped >= {p.name for p in (ROOT / "examples").iterdir() if p.is_file()}
    python = _installed(wheel, tmp_path)
    env = {"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"}
    version = subprocess.run([str(python), "-m", "simulator", "--version"], capture_output=True, text=True,
                             timeout=60, check=True, env=env)
    assert version.stdout.startswith("chestsim ")
    copy = tmp_path / "mine"
    subprocess.run([str(python), "-m", "simulator", "examples", "copy", str(copy)], cwd=tmp_path,
                   capture_output=True, text=True, timeout=60, check=True, env=env)
    tests = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(copy)], cwd=copy,
                           capture_output=True, text=True, timeout=240, check=False, env=env)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout


def _installed(wheel: Path, tmp_path: Path) -> Path:
    """A fresh venv with chestsim from the wheel; dependencies come from the test venv (offline, fast)."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True, system_site_packages=False)
    site = next((env_dir / "lib").glob("python*/site-packages"))
    deps = next(p for p in map(Path, sys.path) if p.name == "site-packages" and (p / "orjson").exists())
    (site / "chestsim-deps.pth").write_text(str(deps) + "\n")
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, timeout=300)
    return python
