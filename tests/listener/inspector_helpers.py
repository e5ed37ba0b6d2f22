"""Helpers for the inspector tests: a record file of many rows, written straight through SQLite."""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson

from simulator._catalog import CATALOG
from simulator.listener._records import BatchWriter

_VERDICTS = ("valid",) * 8 + ("invalid", "leak", "unverified", "rejected")


def fill(path: Path, count: int, *, start: float = 1_790_000_000.0, per_second: int = 500) -> None:
    """Append ``count`` plausible records (every type, mostly valid) in batches of 10,000.

    Row ``i`` has webhook-id ``msg_{i:08d}``, tenant ``tenant-{i % 97}`` and verdict
    ``_VERDICTS[i % 12]``: tests can count what a filter must find.
    """
    types = [t.key for t in CATALOG]
    headers = orjson.dumps({"content-type": "application/json", "user-agent": "chestsim-test"}).decode()
    writer = BatchWriter(path)
    try:
        numbers = iter(range(count))
        while batch := list(itertools.islice(numbers, 10_000)):
            rows = []
            for i in batch:
                verdict = _VERDICTS[i % len(_VERDICTS)]
                event = {"id": f"evt_{i:08d}", "type": types[i % len(types)], "tenant_id": f"tenant-{i % 97}",
                         "timestamp": "2026-11-28T09:14:03.120Z", "data": {"n": i}}
                problems = (orjson.dumps([{"code": "schema", "severity": "error", "pointer": "/data/n",
                                           "message": "not allowed"}]).decode()
                            if verdict == "invalid" else None)
                status = 401 if verdict == "unverified" else 400 if verdict == "rejected" else 204
                rows.append((start + i / per_second, "POST", "/webhooks", "127.0.0.1", f"msg_{i:08d}",
                             event["id"], event["type"], event["tenant_id"], event["timestamp"], status,
                             verdict, "ok", None, problems, None, None, 1, 0, 0, headers,
                             orjson.dumps(event), 120, 0.2))
            writer.write(rows)
    finally:
        writer.close()
