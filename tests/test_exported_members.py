"""The public surface: ``simulator.__all__`` is sorted and every name in it resolves and is documented."""

from __future__ import annotations

import simulator


def test_all_is_sorted_and_unique() -> None:
    assert list(simulator.__all__) == sorted(set(simulator.__all__))


def test_every_exported_name_resolves_with_docstring() -> None:
    for name in simulator.__all__:
        member = getattr(simulator, name)
        if name.startswith("__") or name.isupper():
            continue
        assert member.__doc__, f"simulator.{name} has no docstring"


def test_no_private_names_leak() -> None:
    public = {n for n in dir(simulator) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(simulator, n)).__name__ == "module"}
    assert public - modules <= set(simulator.__all__), public - modules - set(simulator.__all__)


def test_import_is_light() -> None:
    # Locust workers and the pytest plugin import simulator: it must not drag in the network stack.
    import subprocess
    import sys

    # The CLI too: `chestsim validate` should not pay for aiohttp, Faker or httpx, nor asyncio (~40 ms) and
    # Rich (~60 ms), which only the listener, `events list` and progress bars use.
    code = ("import sys, simulator, simulator.cli; "
            "print(sorted(m for m in ('aiohttp', 'faker', 'httpx', 'asyncio', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_validating_needs_neither_python_jsonschema_nor_every_schema_compiled() -> None:
    # `chestsim validate one.json` should start in about half a second: python-jsonschema (only a
    # second opinion for tests and benches) is not imported, and only the types met are compiled.
    import subprocess
    import sys

    code = ("import sys\n"
            "from simulator import lookup\n"
            "from simulator.validation import Validator, validate\n"
            "validator = Validator()\n"
            "assert validator.check(lookup('secret.used').examples[0]) == []\n"
            "print(sorted(validator.fast_paths), sorted(m for m in ('jsonschema', 'referencing') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "['secret.used'] []"
