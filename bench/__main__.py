"""``python -m bench [--quick] [NAME ...]``: run the side-by-side benchmarks and print a table."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path

from bench._harness import OUT, Result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="only these benchmarks (module names without bench_)")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    args = parser.parse_args(argv)
    folder = Path(__file__).resolve().parent
    modules = sorted(m.name for m in pkgutil.iter_modules([str(folder)]) if m.name.startswith("bench_"))
    if args.names:
        modules = [m for m in modules if m.removeprefix("bench_") in args.names]
    OUT.mkdir(exist_ok=True)
    results: list[Result] = []
    for name in modules:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            results.extend(module.run(quick=args.quick))
        except Exception as exc:  # a broken benchmark must not hide the others
            print(f"   {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            results.append(Result(name=name, value=0, unit="", note=f"FAILED: {exc}"))
    _print(results)
    (OUT / "results.json").write_text(json.dumps([
        {"name": r.name, "value": r.value, "unit": r.unit, "reference_name": r.reference_name,
         "reference": r.reference, "ratio": r.ratio, "target": r.target, "limit": r.limit,
         "ok": r.ok, "note": r.note} for r in results], indent=2))
    return 0 if all(r.ok is not False for r in results) else 1


def _print(results: list[Result]) -> None:
    header = f"{'benchmark':44} {'value':>14} {'reference':>30} {'ratio':>8} {'target':>9}  ok"
    print(header)
    print("-" * len(header))
    for r in results:
        ref = f"{r.reference:,.0f} {r.reference_name}" if r.reference is not None else ""
        ratio = f"{r.ratio:.2f}×" if r.ratio is not None else ""
        target = f"≥{r.target:g}×" if r.target is not None else (f"≤{r.limit:g}" if r.limit is not None else "")
        ok = {True: "yes", False: "NO", None: ""}[r.ok]
        print(f"{r.name:44} {r.value:>10,.1f} {r.unit:<3} {ref:>30} {ratio:>8} {target:>9}  {ok} {r.note}")


if __name__ == "__main__":
    sys.exit(main())
