"""Validate a capture: ``chestsim validate`` beside the loop a QA engineer would write, in one run.

The capture is made the way users meet them: simulated firehose traffic
(10k-user tenant, seed 1: 200k events; 20k with ``--quick``) with ~3% of the
events broken in five ways (a missing field, a wrong type, an unknown type, a
bad timestamp, a leaked secret-looking field), kept in ``bench/out``.

- **naive loop**: ``orjson.loads`` then a jsonschema-rs validator per type,
  built from the published schemas, ``is_valid`` only: ten lines, run as a
  script from start to exit;
- ``chestsim validate --jobs 1 FILE`` and ``chestsim validate FILE`` (one
  process per CPU), also timed from start to exit, as users run them;
- python-jsonschema (the slow, well-known second opinion), on an even sample;
- the invalid path: the first 20k events of the firehose, all with the
  timestamp ``2026-13-45``, against the same events valid (in-process, one
  process, best of 3 rounds that alternate the files); and the same events each with two new fields in
  ``data`` (drift after a release: warnings, shown without a target);
- what the duplicate-member check costs on the clean capture (shown, no target);
- peak RSS at two file sizes (the capture, and every fourth line of it): it
  must stay flat.

The naive loop runs between the chestsim runs, so that a change of machine
load shows as a spread; each figure is the best of 3 (with 2, one slow
moment of this machine kind's neighbours moved a ratio by ±10%).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from itertools import islice
from pathlib import Path

import orjson

from bench._harness import OUT, Result, run_python

EVENTS = 200_000
QUICK_EVENTS = 20_000
INVALID_EVENTS = 20_000
BASELINE_EVENTS = 2_000
QUICK_BASELINE_EVENTS = 500
BROKEN_SHARE = 0.03
ROUNDS = 3

_CHILD_NAIVE = """
import sys, orjson, jsonschema_rs
from pathlib import Path
folder = Path(sys.argv[2])
docs = [orjson.loads(p.read_bytes()) for p in (folder / "envelope.json", folder / "definitions.json",
                                               *sorted((folder / "events").glob("*.json")))]
registry = jsonschema_rs.Registry([(d["$id"], d) for d in docs])
validators = {d["$id"].rsplit("/", 1)[-1].removesuffix(".json"): jsonschema_rs.validator_for(
    d, registry=registry, validate_formats=True) for d in docs[2:]}
valid = invalid = 0
with open(sys.argv[1], "rb") as handle:
    for line in handle:
        event = orjson.loads(line)
        validator = validators.get(event.get("type"))
        if validator is not None and validator.is_valid(event):
            valid += 1
        else:
            invalid += 1
print(valid, invalid)
"""

_CHILD_IN_PROCESS = """
import json, resource, sys, time
from simulator.validation import validate
from simulator.validation._registry import compiled
compiled()  # outside the timed region, as in a long-lived process
# Rounds interleave the files (valid, invalid, valid, …): a slow moment of the machine then hits
# every file alike, instead of one file's runs back to back.
rates = [0.0] * (len(sys.argv) - 1)
for _ in range(3):
    for index, path in enumerate(sys.argv[1:]):
        start = time.perf_counter()
        report = validate([path], jobs=1)
        rates[index] = max(rates[index], report.events / (time.perf_counter() - start))
# This process's own peak: ru_maxrss would carry over the high-water mark of the bench process that
# started it (measured: 148 MB at both file sizes after bench_generate, 53 MB when run alone).
peak = next((int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")),
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
print(json.dumps({"rates": rates, "rss_mb": peak / 1024}))
"""

_CHILD_NO_DUPLICATE_CHECK = """
import json, sys, time
import simulator.validation._run as run
import simulator.validation._validator as validator
from simulator.validation import validate
from simulator.validation._registry import compiled
compiled()
best = {}
original = run.maybe_duplicates
for _ in range(2):
    for label in ("with", "without"):
        check = (lambda raw, event: False) if label == "without" else original
        run.maybe_duplicates = validator.maybe_duplicates = check
        start = time.perf_counter()
        report = validate([sys.argv[1]], jobs=1)
        best[label] = max(best.get(label, 0.0), report.events / (time.perf_counter() - start))
print(json.dumps(best))
"""

_CHILD_BASELINE = """
import json, sys, time
import orjson
from simulator import CATALOG
from simulator.validation._registry import reference_validator
validators = {t.key: reference_validator(t.key) for t in CATALOG}
limit = int(sys.argv[2])
with open(sys.argv[1], "rb") as handle:
    lines = sum(1 for _ in handle)
step = max(1, lines // limit)  # an even sample of the file, so the baseline sees the same mix
count, seconds = 0, 0.0
with open(sys.argv[1], "rb") as handle:
    for index, line in enumerate(handle):
        if index % step:
            continue
        start = time.perf_counter()
        event = orjson.loads(line)
        validator = validators.get(event.get("type"))
        validator is not None and validator.is_valid(event)
        seconds += time.perf_counter() - start
        count += 1
        if count == limit:
            break
print(json.dumps({"events": count, "seconds": seconds}))
"""


def make_file(path: Path, events: int, *, seed: int = 1) -> Path:
    """A simulated firehose of ``events`` events at ``path`` (kept between runs while the model and schemas stay)."""
    root = Path(__file__).resolve().parent.parent
    sources = [*root.glob("schemas/**/*.json"), *root.glob("simulator/model/**/*.py"), *root.glob("scenarios/*.py")]
    newest = max((p.stat().st_mtime for p in sources), default=0.0)
    if path.exists() and path.stat().st_mtime >= newest and sum(1 for _ in path.open("rb")) == events:
        return path
    from simulator.model import iter_events, write_events

    with path.open("wb") as out:
        write_events(iter_events("firehose", seed=seed, users=10_000, events=events), out)
    return path


def _break(event: dict[str, object], how: int, rng: random.Random) -> None:
    data = event["data"]
    assert isinstance(data, dict)
    if how == 0:
        data.pop(next(iter(data)))  # a missing field
    elif how == 1:
        event["tenant_id"] = rng.randrange(10**6)  # a wrong type
    elif how == 2:
        event["type"] = "secret.teleported"  # an unknown type
    elif how == 3:
        event["timestamp"] = "2026-13-45"  # a bad timestamp
    else:
        data["client_secret"] = "".join(rng.choices("abcdefXYZ0123456789", k=32))  # a leak


def make_capture(source: Path, path: Path, *, share: float = BROKEN_SHARE, seed: int = 7) -> Path:
    """``source`` with about ``share`` of its events broken, each in one of five ways."""
    if path.exists() and path.stat().st_mtime >= source.stat().st_mtime:
        return path
    rng = random.Random(seed)
    with source.open("rb") as handle, path.open("wb") as out:
        for line in handle:
            if rng.random() < share:
                event = orjson.loads(line)
                _break(event, rng.randrange(5), rng)
                line = orjson.dumps(event) + b"\n"
            out.write(line)
    return path


def make_all_invalid(source: Path, path: Path, events: int) -> tuple[Path, Path]:
    """The first ``events`` of ``source`` as they are, and all with the timestamp ``2026-13-45``."""
    valid = path.with_name(path.name.replace("invalid", "valid"))
    with source.open("rb") as handle, path.open("wb") as bad, valid.open("wb") as good:
        for line in islice(handle, events):
            good.write(line)
            event = orjson.loads(line)
            event["timestamp"] = "2026-13-45"
            bad.write(orjson.dumps(event) + b"\n")
    return valid, path


def make_new_fields(valid: Path, path: Path, *, seed: int = 5) -> Path:
    """``valid`` with two members no schema names in every event's ``data`` (a release's new fields)."""
    rng = random.Random(seed)
    with valid.open("rb") as handle, path.open("wb") as out:
        for line in handle:
            event = orjson.loads(line)
            event["data"]["region"] = rng.choice(["eu-west-1", "us-east-1", "ap-south-1"])
            event["data"]["request_count"] = rng.randrange(1000)
            out.write(orjson.dumps(event) + b"\n")
    return path


def every(source: Path, path: Path, step: int) -> Path:
    """Every ``step``-th line of ``source`` at ``path``: the same mix of types and breakage, smaller.

    (Not the first lines: a tenant's day opens with onboarding, a handful of
    types, and the validator compiles each type's explainer when the type first
    breaks; memory bounded by the contract would then pass for growth with size.)
    """
    with source.open("rb") as handle, path.open("wb") as out:
        out.writelines(islice(handle, 0, None, step))
    return path


def _child(code: str, *args: str) -> dict[str, object]:
    stdout, _ = run_python(["-c", code, *args])
    result: dict[str, object] = json.loads(stdout.strip().splitlines()[-1])
    return result


_CPU: dict[str, list[float]] = {}  # the CPU seconds (user + system) of each timed child, by label


def _wall(args: list[str], *, expect: int | None = None, label: str = "") -> float:
    """Seconds a child takes from start to exit (its exit code checked when ``expect`` is given).

    Its CPU seconds are kept under ``label`` too: on a loaded machine, wall
    time swings with the other work, CPU time much less.
    """
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], capture_output=True, timeout=900, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    _CPU.setdefault(label, []).append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    if expect is not None and proc.returncode != expect:
        raise RuntimeError(f"{args[:3]} exited {proc.returncode}: {proc.stderr.decode()[-800:]}")
    return seconds


def _compile_bytecode() -> None:
    """Compile the package's bytecode, as ``pip install`` does for a wheel, before timing start to exit.

    With ``PYTHONDONTWRITEBYTECODE=1`` (set on this machine kind) a checkout
    never keeps its ``.pyc`` files, so every ``chestsim`` start compiled all
    its modules again: ~0.1 s a start here, which no installed copy pays and
    the ten-line naive script (two C extensions) never did.
    """
    import compileall

    import simulator

    compileall.compile_dir(str(Path(simulator.__file__).parent), quiet=1)


def run(quick: bool) -> list[Result]:
    from simulator._resources import schemas_dir

    OUT.mkdir(exist_ok=True)
    _compile_bytecode()
    events = QUICK_EVENTS if quick else EVENTS
    firehose = make_file(OUT / f"firehose-{events}.jsonl", events)
    capture = make_capture(firehose, OUT / f"capture-{events}.jsonl")
    small = every(capture, OUT / f"capture-every4-{events // 4}.jsonl", 4)
    valid, invalid = make_all_invalid(firehose, OUT / f"all-invalid-{INVALID_EVENTS}.jsonl", INVALID_EVENTS)
    schemas = str(schemas_dir())

    cli_one, cli_all, naive = [], [], []
    for _ in range(ROUNDS):
        cli_one.append(_wall(["-m", "simulator", "validate", "--jobs", "1", str(capture)], expect=1, label="one"))
        naive.append(_wall(["-c", _CHILD_NAIVE, str(capture), schemas], label="naive"))
        cli_all.append(_wall(["-m", "simulator", "validate", str(capture)], expect=1))
    naive_rate = events / min(naive)
    one_rate, all_rate = events / min(cli_one), events / min(cli_all)

    new_fields = make_new_fields(valid, OUT / f"new-fields-{INVALID_EVENTS}.jsonl")
    paths = _child(_CHILD_IN_PROCESS, str(valid), str(invalid), str(new_fields))
    valid_rate, invalid_rate, new_fields_rate = paths["rates"]  # type: ignore[misc]
    big = _child(_CHILD_IN_PROCESS, str(capture))
    little = _child(_CHILD_IN_PROCESS, str(small))
    duplicates = _child(_CHILD_NO_DUPLICATE_CHECK, str(firehose))
    baseline = _child(_CHILD_BASELINE, str(capture), str(QUICK_BASELINE_EVENTS if quick else BASELINE_EVENTS))
    base_rate = float(baseline["events"]) / float(baseline["seconds"])  # type: ignore[arg-type]
    ours_rate = big["rates"][0]  # type: ignore[index]
    cpus = len(os.sched_getaffinity(0))
    print(f"   capture {events:,} events: --jobs 1 {sorted(cli_one)}, default {sorted(cli_all)}, naive "
          f"{sorted(naive)} s", file=sys.stderr)
    return [
        Result(name=f"chestsim validate --jobs 1 ({events // 1000}k, 3% broken)", value=one_rate, unit="ev/s",
               reference_name="naive jsonschema-rs loop", reference=naive_rate, target=1.0,
               note="both timed from start to exit"),
        Result(name="  the same, by CPU seconds (user + system)", value=events / min(_CPU["one"]), unit="ev/CPU-s",
               reference_name="naive loop, by CPU seconds", reference=events / min(_CPU["naive"]),
               note="information: steadier than wall time when other work shares the machine"),
        Result(name=f"chestsim validate ({cpus} CPUs, default jobs)", value=all_rate, unit="ev/s",
               reference_name="naive jsonschema-rs loop", reference=naive_rate, target=1.6,
               note="both timed from start to exit"),
        Result(name="validate, 1 process, vs python-jsonschema", value=ours_rate, unit="ev/s",
               reference_name="python-jsonschema", reference=base_rate, target=25.0,
               note=f"python-jsonschema on {baseline['events']} events sampled evenly"),
        Result(name=f"validate all-invalid ({INVALID_EVENTS // 1000}k bad timestamps)", value=invalid_rate,
               unit="ev/s", reference_name="the same events valid", reference=valid_rate, target=0.5),
        Result(name="validate, two new fields in every event", value=new_fields_rate, unit="ev/s",
               reference_name="the same events without them", reference=valid_rate,
               note="warnings, not errors: shown (no target)"),
        Result(name="validate with the duplicate-member check", value=duplicates["with"], unit="ev/s",  # type: ignore[arg-type]
               reference_name="without it", reference=duplicates["without"],  # type: ignore[arg-type]
               note="its cost, shown (no target)"),
        Result(name="validate peak RSS, 4× the file", value=float(big["rss_mb"]) / float(little["rss_mb"]),  # type: ignore[arg-type]
               unit="×", limit=1.25, note=f"{little['rss_mb']:.0f} MB at {events // 4:,} events, "
               f"{big['rss_mb']:.0f} MB at {events:,}"),
    ]
