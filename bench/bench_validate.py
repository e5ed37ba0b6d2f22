"""Validate a JSONL file: chestsim vs python-jsonschema on the same file, in the same run.

The file replicates the shipped examples with fresh event ids (200k events;
20k with ``--quick``). chestsim runs ``simulator.validation.validate`` on the
whole file (reader, schemas, semantic rules, leak guard, report). The
baseline is python-jsonschema with a validator built once per type and
formats checked, fed by the same orjson parse; being ~50× slower, it reads the
first ``BASELINE_EVENTS`` lines of the same file and its rate is compared.
Peak RSS is measured in child processes at two file sizes: it must stay flat.
"""

from __future__ import annotations

import json
import random
import string
import sys
from pathlib import Path

import orjson

from bench._harness import OUT, Result, run_python

EVENTS = 200_000
QUICK_EVENTS = 20_000
BASELINE_EVENTS = 6_000

_CHILD_CHESTSIM = """
import json, resource, sys, time
from simulator.validation import Validator, validate
Validator()  # compile outside the timed region, as a long-lived process would
start = time.perf_counter()
report = validate([sys.argv[1]])
seconds = time.perf_counter() - start
assert report.exit_code == 0, report.as_dict()["problems"][:3]
print(json.dumps({"events": report.events, "seconds": seconds,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_CHILD_BASELINE = """
import json, resource, sys, time
import orjson
from simulator import CATALOG
from simulator.validation._registry import reference_validator
validators = {t.key: reference_validator(t.key) for t in CATALOG}
limit = int(sys.argv[2])
count = 0
start = time.perf_counter()
with open(sys.argv[1], "rb") as handle:
    for line in handle:
        event = orjson.loads(line)
        assert validators[event["type"]].is_valid(event)
        count += 1
        if count == limit:
            break
seconds = time.perf_counter() - start
print(json.dumps({"events": count, "seconds": seconds,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_file(path: Path, events: int, *, seed: int = 0) -> Path:
    """Write ``events`` replicated examples with fresh event ids to ``path`` (kept between runs)."""
    if path.exists() and sum(1 for _ in path.open("rb")) == events:
        return path
    from simulator import CATALOG

    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits
    examples = [example for t in CATALOG for example in t.examples]
    with path.open("wb") as out:
        for index in range(events):
            event = dict(examples[index % len(examples)])
            event["id"] = "evt_" + "".join(rng.choices(alphabet, k=24))
            out.write(orjson.dumps(event) + b"\n")
    return path


def _child(code: str, *args: str) -> dict[str, float]:
    stdout, _ = run_python(["-c", code, *args])
    result: dict[str, float] = json.loads(stdout.strip().splitlines()[-1])
    return result


def run(quick: bool) -> list[Result]:
    OUT.mkdir(exist_ok=True)
    events = QUICK_EVENTS if quick else EVENTS
    big = make_file(OUT / f"validate-{events}.jsonl", events)
    small = make_file(OUT / f"validate-{events // 4}.jsonl", events // 4)

    ours = _child(_CHILD_CHESTSIM, str(big))
    baseline = _child(_CHILD_BASELINE, str(big), str(min(BASELINE_EVENTS, events)))
    ours_small = _child(_CHILD_CHESTSIM, str(small))

    rate = ours["events"] / ours["seconds"]
    base_rate = baseline["events"] / baseline["seconds"]
    print(f"   chestsim {ours['events']:,.0f} events in {ours['seconds']:.2f}s; python-jsonschema "
          f"{baseline['events']:,.0f} events in {baseline['seconds']:.2f}s", file=sys.stderr)
    return [
        Result(name=f"validate JSONL ({events // 1000}k events)", value=rate, unit="ev/s",
               reference_name="python-jsonschema", reference=base_rate, target=25.0,
               note=f"absolute target ≥150k ev/s: {'met' if rate >= 150_000 else 'NOT met'}"),
        Result(name="validate peak RSS, 4× the file", value=ours["rss_mb"] / ours_small["rss_mb"], unit="×",
               limit=1.25, note=f"{ours_small['rss_mb']:.0f} MB at {events // 4:,} events, "
               f"{ours['rss_mb']:.0f} MB at {events:,}"),
    ]
