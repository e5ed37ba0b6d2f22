"""Validate a JSONL file: chestsim vs python-jsonschema on the same file, in the same run.

The file replicates the shipped examples with fresh event ids (200k events;
20k with ``--quick``). chestsim runs ``simulator.validation.validate`` on the
whole file (reader, schemas, semantic rules, leak guard, report). The
baseline is python-jsonschema with a validator built once per type and
formats checked, fed by the same orjson parse; being ~50× slower, it reads the
first ``BASELINE_EVENTS`` lines of the same file (48 distinct examples, cycled)
and its rate is compared. A third row runs chestsim with one process per CPU.
Peak RSS is measured in child processes at two file sizes: it must stay flat.
"""

from __future__ import annotations

import json
import os
import random
import string
import sys
from pathlib import Path

import orjson

from bench._harness import OUT, Result, run_python

EVENTS = 200_000
QUICK_EVENTS = 20_000
BASELINE_EVENTS = 3_000
QUICK_BASELINE_EVENTS = 1_000

_CHILD_CHESTSIM = """
import json, resource, sys, time
from simulator.validation import Validator, validate
Validator()  # compile outside the timed region, as a long-lived process would
start = time.perf_counter()
report = validate([sys.argv[1]], jobs=int(sys.argv[2]))
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

    # Baseline between two chestsim runs, so that a change in machine load shows as a spread.
    ours = _child(_CHILD_CHESTSIM, str(big), "1")
    baseline = _child(_CHILD_BASELINE, str(big), str(QUICK_BASELINE_EVENTS if quick else BASELINE_EVENTS))
    again = _child(_CHILD_CHESTSIM, str(big), "1")
    ours_small = _child(_CHILD_CHESTSIM, str(small), "1")
    jobs = os.cpu_count() or 1
    parallel = _child(_CHILD_CHESTSIM, str(big), str(jobs)) if jobs > 1 else None

    rates = sorted(run["events"] / run["seconds"] for run in (ours, again))
    rate = rates[-1]
    base_rate = baseline["events"] / baseline["seconds"]
    print(f"   chestsim {ours['events']:,.0f} events: {rates[0]:,.0f} and {rates[1]:,.0f} ev/s; "
          f"python-jsonschema {baseline['events']:,.0f} events in {baseline['seconds']:.2f}s", file=sys.stderr)
    results = [
        Result(name=f"validate JSONL ({events // 1000}k events, 1 process)", value=rate, unit="ev/s",
               reference_name="python-jsonschema", reference=base_rate, target=25.0,
               note=f"best of 2 ({rates[0]:,.0f})"),
        Result(name="validate µs per event (1 process)", value=1e6 / rate, unit="µs", limit=1e6 / 150_000,
               note="the absolute target, ≥150k events/s, as a bound"),
        Result(name="validate peak RSS, 4× the file", value=ours["rss_mb"] / ours_small["rss_mb"], unit="×",
               limit=1.25, note=f"{ours_small['rss_mb']:.0f} MB at {events // 4:,} events, "
               f"{ours['rss_mb']:.0f} MB at {events:,}"),
    ]
    if parallel is not None:
        parallel_rate = parallel["events"] / parallel["seconds"]
        results.append(Result(name=f"validate JSONL --jobs {jobs}", value=parallel_rate, unit="ev/s",
                              reference_name="python-jsonschema", reference=base_rate,
                              note=f"absolute target ≥150k ev/s {'met' if parallel_rate >= 150_000 else 'NOT met'}; "
                              "includes spawning and compiling in each worker"))
    return results
