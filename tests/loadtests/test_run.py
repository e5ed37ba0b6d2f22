"""``loadtests/run.py`` (``make loadtest``): the comparison, and one short end-to-end run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loadtests.run import compare
from tests.loadtests._helpers import ROOT, child_env


def entry(name: str, requests: int, failures: int = 0) -> dict[str, Any]:
    return {"name": name, "num_requests": requests, "num_failures": failures, "start_time": 100.0,
            "last_request_timestamp": 110.0}


def listener(received: int, *, valid: int | None = None, unverified: int = 0, duplicates: int = 0,
             distinct: int | None = None) -> dict[str, Any]:
    valid = received - unverified if valid is None else valid
    verdicts = {"valid": valid, "unverified": unverified, "invalid": received - valid - unverified}
    return {"requests": received, "by_status": {"204": received - unverified, "401": unverified},
            "by_verdict": {k: v for k, v in verdicts.items() if v},
            "signature_failures": {"mismatch": unverified} if unverified else {}, "duplicates": duplicates,
            "records": {"rows": received, "distinct_ids": received if distinct is None else distinct,
                        "signature_ok": received - unverified}}


def test_agreement_is_ok() -> None:
    c = compare([entry("secret.used", 60), entry("user.created", 40)], listener(100))
    assert c.ok, c.problems
    assert (c.locust_successes, c.received, c.verified, c.valid, c.locust_rps) == (100, 100, 100, 100, 10.0)


@pytest.mark.parametrize(
    ("entries", "stats", "fragment"),
    [
        pytest.param([entry("a.b", 100)], listener(98), "received 98 requests but Locust counted 100",
                     id="lost-at-sink"),
        pytest.param([entry("a.b", 100, failures=3)], listener(97), "Locust counted 3 failed", id="failures"),
        pytest.param([entry("a.b", 100)], listener(100, unverified=2), "verified 98 of 100", id="unverified"),
        pytest.param([entry("a.b", 100)], listener(100, valid=90), "90 of 100 payloads valid", id="invalid"),
        pytest.param([entry("a.b", 100)], listener(100, duplicates=1), "1 duplicate", id="duplicates"),
        pytest.param([entry("a.b", 100)], listener(100, distinct=99), "99 distinct event ids", id="same-ids"),
        pytest.param([], listener(0), "no successful request", id="nothing"),
    ],
)
def test_disagreement_is_named(entries: list[dict[str, Any]], stats: dict[str, Any], fragment: str) -> None:
    c = compare(entries, stats)
    assert not c.ok
    assert any(fragment in p for p in c.problems), c.problems


@pytest.mark.locust
@pytest.mark.slow
def test_make_loadtest_leaves_reports_and_agrees(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "loadtests.run", "--users", "4", "--run-time", "4s",
                           "--tenant-users", "200", "--out", str(out)], cwd=ROOT, env=child_env(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "OK: every success Locust counted arrived at the listener" in proc.stdout
    for name in ("report.html", "locust_stats.csv", "locust_failures.csv", "locust.json", "summary.json",
                 "listener-stats.json", "received.db"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] is True
    assert summary["locust_successes"] == summary["received"] == summary["verified"] == summary["valid"] > 0
    assert "whsec_" not in proc.stdout + proc.stderr
