"""``chestsim generate firehose`` for a 10k-user tenant, 1M events to a JSONL file, beside a naive
generator that calls Faker for every event (what a schema-driven faker does), in the same run.

Both run in child processes so that each reports its own peak RSS.
"""

from __future__ import annotations

import json

from bench._harness import FAKER_YARDSTICK, OUT, Result, run_python

_CHESTSIM = """
import json, resource, sys, time
from simulator.model._generate import iter_events, write_events
users, events, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
""" + FAKER_YARDSTICK + """
start, cpu = time.perf_counter(), time.process_time()
with open(path, "wb") as out:
    count = write_events(iter_events("firehose", seed=1, users=users, events=events), out)
elapsed = time.perf_counter() - start
print(json.dumps({"count": count, "seconds": elapsed, "cpu": time.process_time() - cpu,
                  "faker_names": names_per_cpu_second,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

# The naive way: fill each event's fields with Faker calls and json.dumps it.
_NAIVE = """
import json, resource, sys, time
from faker import Faker
events, path = int(sys.argv[1]), sys.argv[2]
fake = Faker("en_US")
fake.seed_instance(1)
start, cpu = time.perf_counter(), time.process_time()
with open(path, "w") as out:
    for i in range(events):
        name = fake.name()
        event = {"id": "evt_" + fake.pystr(min_chars=24, max_chars=24), "type": "secret.used",
                 "timestamp": fake.iso8601() + "Z", "tenant_id": fake.uuid4(),
                 "data": {"secret": {"id": fake.uuid4(), "name": fake.catch_phrase(), "kind": "password"},
                          "used_by": {"id": fake.uuid4(), "email": fake.email(), "display_name": name},
                          "device_ids": [fake.uuid4(), fake.uuid4()],
                          "time": {"initiated_at": fake.iso8601() + "Z"}}}
        out.write(json.dumps(event) + "\\n")
elapsed = time.perf_counter() - start
print(json.dumps({"count": events, "seconds": elapsed, "cpu": time.process_time() - cpu,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(quick: bool) -> list[Result]:
    users, events = (2_000, 100_000) if quick else (10_000, 1_000_000)
    naive_events = 5_000 if quick else 30_000
    OUT.mkdir(exist_ok=True)
    ours_out, _ = run_python(["-c", _CHESTSIM, str(users), str(events), str(OUT / "firehose.jsonl")])
    ours = json.loads(ours_out)
    naive_out, _ = run_python(["-c", _NAIVE, str(naive_events), str(OUT / "naive.jsonl")])
    naive = json.loads(naive_out)
    rate = ours["count"] / ours["seconds"]
    naive_rate = naive["count"] / naive["seconds"]
    (OUT / "firehose.jsonl").unlink(missing_ok=True)
    (OUT / "naive.jsonl").unlink(missing_ok=True)
    label = f"generate firehose {users // 1000}k users, {events // 1000}k ev"
    cpu_rate = ours["count"] / ours["cpu"]
    naive_cpu_rate = naive["count"] / naive["cpu"]
    return [
        Result(name=label, value=rate, unit="ev/s", reference_name="naive Faker/event", reference=naive_rate,
               target=7.0, note=f"target ≥100k ev/s absolute (≈7× Faker's 14k names/s); per CPU-second "
                                f"{cpu_rate:,.0f} vs naive {naive_cpu_rate:,.0f}"),
        Result(name=f"{label}: per CPU-second", value=cpu_rate, unit="ev/s",
               reference_name="Faker names/CPU-s", reference=ours["faker_names"], target=100_000 / 14_000,
               note="the 100k ev/s target in machine-free terms: ≥ 7.1× Faker's name rate, same process"),
        Result(name=f"{label}: peak RSS", value=ours["rss_mb"], unit="MB", limit=200.0,
               note=f"naive baseline {naive['rss_mb']:.0f} MB"),
    ]
