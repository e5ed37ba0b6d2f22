"""Fixtures of the contract tests: the AsyncAPI spec, the generated models; helpers live in ``contract_helpers.py``."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from simulator.contract import Contract, load_contract

# --import-mode=importlib does not put test folders on sys.path; the helpers module needs it.
sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def shipped() -> Contract:
    return load_contract()


@pytest.fixture(scope="session")
def asyncapi_spec() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 specification's JSON Schema, as `make specs` fetched it from @asyncapi/specs."""
    found = sorted(ROOT.glob(".cache/asyncapi-specs-*/schemas/3.0.0.json"))
    if not found:
        pytest.fail("the AsyncAPI 3.0 specification schema is missing: run `make specs` (it fetches the npm "
                    "package @asyncapi/specs); `make test` does it for you")
    spec: dict[str, Any] = json.loads(found[-1].read_text())
    assert spec["$id"] == "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
    return spec


@pytest.fixture(scope="session")
def generated_models(tmp_path_factory: pytest.TempPathFactory, shipped: Contract) -> Any:
    """Pydantic v2 models that datamodel-code-generator writes from the exported bundle, imported.

    Run once per session, as customers run it: the command line, in its own process.
    """
    folder = tmp_path_factory.mktemp("codegen")
    bundle = folder / "bundle.json"
    bundle.write_bytes(json.dumps(shipped.bundle()).encode())
    target = folder / "chestsim_events.py"
    done = subprocess.run(
        [sys.executable, "-m", "datamodel_code_generator", "--input", str(bundle), "--input-file-type",
         "jsonschema", "--output-model-type", "pydantic_v2.BaseModel", "--formatters", "builtin",
         "--output", str(target)],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    spec = importlib.util.spec_from_file_location("chestsim_events", target)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["chestsim_events"] = module  # pydantic looks generic models' module up by name
    spec.loader.exec_module(module)
    return module
