"""The wheel ships schemas/ and scenarios/: install it in a fresh venv and run the CLI from /tmp.

Slow (builds a wheel, creates a venv): skipped by ``make test-fast``, run by ``make test`` and CI.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
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


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of one fresh venv with the wheel installed, shared by this module's tests."""
    return _installed(wheel, tmp_path_factory.mktemp("installed"))


def test_installed_cli_runs_outside_checkout(installed: Path, tmp_path: Path) -> None:
    python = installed
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


def test_wheel_ships_the_examples_and_they_pass_from_a_copy(wheel: Path, installed: Path, tmp_path: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith("simulator/_data/examples/")}
    assert shipped >= {p.name for p in (ROOT / "examples").iterdir() if p.is_file()}
    python = installed
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


def test_wheel_ships_the_load_tests(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.removeprefix("simulator/_data/loadtests/") for n in names
               if n.startswith("simulator/_data/loadtests/")}
    assert shipped == {p.name for p in (ROOT / "loadtests").iterdir() if p.suffix in (".py", ".md")}


@pytest.mark.locust
def test_loadtest_runs_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    """`chestsim loadtest` (the installed console script, from a folder far from any checkout)
    runs the wheel's firehose locustfile against the wheel's `chestsim listen`: every request
    Locust counts arrives signed and valid."""
    chestsim = installed.parent / "chestsim"
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1", "HOME": str(work),
           "CHESTSIM_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    listener = subprocess.Popen([str(chestsim), "listen", "--host", "127.0.0.1", "--port", str(port), "--path",
                                 "/webhooks", "--db", str(work / "received.db"), "--view", "quiet"],
                                cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/_chestsim/stats", timeout=2).close()
                break
            except OSError:
                assert listener.poll() is None, "chestsim listen exited"
                assert time.monotonic() < deadline, "chestsim listen did not answer within 30 s"
                time.sleep(0.1)
        run = subprocess.run([str(chestsim), "loadtest", "--headless", "-H", base, "-u", "2", "-r", "2", "-t", "3s",
                              "--webhook-path", "/webhooks", "--stop-timeout", "5", "--json-file",
                              str(work / "locust")], cwd=work, env=env, capture_output=True, text=True,
                             timeout=120, check=False)
        assert run.returncode == 0, run.stderr[-3000:]
        entries = json.loads((work / "locust.json").read_text())
        successes = sum(int(e["num_requests"]) - int(e["num_failures"]) for e in entries)
        assert successes > 0
        deadline = time.monotonic() + 10
        while True:
            with urllib.request.urlopen(f"{base}/_chestsim/stats", timeout=5) as response:
                stats = json.loads(response.read())
            if stats.get("committed", stats["requests"]) >= stats["requests"] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert stats["requests"] == successes
        assert stats["by_verdict"] == {"valid": successes}
        assert stats["signature_failures"] == {}
    finally:
        listener.terminate()
        listener.wait(30)


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


def test_schemas_export_and_diff_run_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"}
    bundle = tmp_path / "bundle.json"
    exported = subprocess.run([str(installed), "-m", "simulator", "schemas", "export", "--format", "bundle",
                               "--out", str(bundle)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                              check=False, env=env)
    assert exported.returncode == 0, exported.stderr
    asyncapi = subprocess.run([str(installed), "-m", "simulator", "schemas", "export", "--format", "asyncapi"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False, env=env)
    assert asyncapi.returncode == 0, asyncapi.stderr
    messages = json.loads(asyncapi.stdout)["components"]["messages"]
    assert len(messages) == 24
    assert all(len(m["examples"]) == 2 for m in messages.values())  # the wheel's examples/ are found
    diffed = subprocess.run([str(installed), "-m", "simulator", "schemas", "diff", str(bundle), str(bundle)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False, env=env)
    assert (diffed.returncode, diffed.stdout.strip()) == (0, f"{bundle} → {bundle}: no changes"), diffed.stderr
