"""Scenario scripts: load one by name (shipped in ``scenarios/``) or by path, and run it.

A scenario is a short Python file that drives a :class:`~simulator.model.Tenant`::

    \"\"\"Alice shares the production database password with Bob, who accepts.\"\"\"

    def run(t):
        alice, bob = t.users[:2]
        secret = alice.create_secret("Prod Postgres")
        share = alice.share(secret, to=[bob])
        bob.accept(share)

``run(t)`` is one episode; ``chestsim generate`` repeats it while ``--events`` or
``--duration`` ask for more. Optional: ``setup(t)`` runs once first;
``ENDLESS = True`` repeats ``run`` until stopped when no limit is given;
``DEFAULTS = {"users": 50}`` sets tenant options the command line did not.
Errors, from a syntax error to a refused action, point at the script's line.
"""

from __future__ import annotations

import difflib
import sys
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator._exceptions import ScenarioError
from simulator._resources import scenarios_dir

if TYPE_CHECKING:
    from simulator.model._tenant import Tenant

__all__ = ["Scenario", "list_scenarios", "load_scenario"]

Step = Callable[["Tenant"], object]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A loaded scenario script."""

    name: str
    path: Path
    doc: str
    run: Step = field(repr=False)
    setup: Step | None = field(default=None, repr=False)
    endless: bool = False
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def description(self) -> str:
        """The docstring's first line."""
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    def call(self, step: Step, tenant: Tenant) -> None:
        """Run ``setup`` or ``run`` on ``tenant``; errors point at this script's line."""
        try:
            step(tenant)
        except ScenarioError as exc:
            if exc.path is None:
                raise self._error(exc) from None
            raise
        except (Exception, SystemExit) as exc:
            # SystemExit too: a scenario that calls sys.exit() must not end chestsim with its code
            # (exit 0 and no events looked like success). KeyboardInterrupt passes through.
            raise self._error(exc) from None

    def _error(self, exc: BaseException) -> ScenarioError:
        line = _line_in(exc, self.path)
        where = f"{self.path}:{line}" if line else str(self.path)
        return ScenarioError(f"scenario {self.name!r} failed at {where}: {_explain(exc)}",
                             path=str(self.path), line=line)


def _explain(exc: BaseException) -> str:
    if isinstance(exc, ScenarioError):
        return str(exc)
    if isinstance(exc, SystemExit):
        return (f"it called sys.exit({exc.code!r}); a scenario returns from run(t) (or raises an "
                "exception) instead of exiting the process")
    if isinstance(exc, RecursionError):
        return (f"recursion deeper than Python's limit ({sys.getrecursionlimit()} frames); look for a "
                "function that calls itself without end")
    if isinstance(exc, MemoryError):
        return "it ran out of memory; ask for a smaller tenant or fewer events"
    return f"{type(exc).__name__}: {exc}"


def _line_in(exc: BaseException, path: Path) -> int | None:
    target = str(path.resolve())
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename and str(Path(frame.filename).resolve()) == target:
            line = frame.lineno
    return line


def _shipped() -> dict[str, Path]:
    return {p.stem.replace("_", "-"): p for p in sorted(scenarios_dir().glob("*.py"))
            if not p.stem.startswith("_")}


def list_scenarios() -> list[Scenario]:
    """The shipped scenarios, by name.

    >>> "tenant-day" in [s.name for s in list_scenarios()]
    True
    """
    return [load_scenario(name) for name in _shipped()]


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name (``scim-sync`` or ``scim_sync``) or a script by path.

    >>> load_scenario("onboarding").name
    'onboarding'
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    looks_like_path = isinstance(name_or_path, Path) or "/" in text or text.endswith(".py") or path.is_file()
    if looks_like_path:
        if not path.is_file():
            raise ScenarioError(f"scenario file {text!r} does not exist", path=text)
        return _load(path.stem.replace("_", "-"), path.resolve())
    shipped = _shipped()
    key = text.strip().lower().replace("_", "-")
    if key not in shipped:
        close = difflib.get_close_matches(key, list(shipped), n=3, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ScenarioError(f"unknown scenario {text!r}{hint} Run `chestsim scenarios list`, or give "
                            "the path of your own script")
    return _load_shipped(key, shipped[key])


@cache
def _load_shipped(name: str, path: Path) -> Scenario:
    return _load(name, path)


def _load(name: str, path: Path) -> Scenario:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario {str(path)!r}: {exc}", path=str(path)) from None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        line = exc.lineno
        raise ScenarioError(f"{path}:{line}: syntax error in scenario: {exc.msg}",
                            path=str(path), line=line) from None
    module = types.ModuleType(f"chestsim_scenario_{name.replace('-', '_')}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module
    try:
        exec(code, module.__dict__)
    except (Exception, SystemExit) as exc:
        line = _line_in(exc, path)
        raise ScenarioError(f"{path}:{line}: scenario failed to load: {_explain(exc)}",
                            path=str(path), line=line) from None
    finally:
        sys.modules.pop(module.__name__, None)
    run = module.__dict__.get("run")
    if not callable(run):
        raise ScenarioError(f"{path}: a scenario must define run(t), called with the tenant for each "
                            "episode", path=str(path))
    setup = module.__dict__.get("setup")
    defaults = module.__dict__.get("DEFAULTS", {})
    if not isinstance(defaults, dict):
        raise ScenarioError(f"{path}: DEFAULTS must be a dict like {{'users': 50}}", path=str(path))
    return Scenario(name=name, path=path, doc=module.__doc__ or "", run=run,
                    setup=setup if callable(setup) else None,
                    endless=bool(module.__dict__.get("ENDLESS", False)), defaults=dict(defaults))
