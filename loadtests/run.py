"""``make loadtest``: a short headless firehose against ``chestsim listen`` on loopback.

It starts the listener on a free loopback port (signing and a bearer token on,
both fresh, handed over in ``CHESTSIM_SECRET`` and ``CHESTSIM_TOKEN``, never on
a command line), runs Locust headless with HTML, CSV and JSON reports into
``loadtests/out/<UTC time>/``, then asks the listener what arrived and compares
what Locust counted as successes with what the sink received, verified and
found valid. Exit 0 when they agree, 1 when they do not, 2 for bad options or
a run that could not start::

    python -m loadtests.run --users 20 --run-time 10s
    python -m loadtests.run --processes 2 --scenario tenant-day -- --shape ramp

Arguments after ``--`` go to Locust unchanged.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FIREHOSE = HERE / "firehose.py"
DEFAULT_OUT = HERE / "out"
WEBHOOK_PATH = "/webhooks"
#: How the listener is started (``chestsim listen`` of this checkout).
LISTEN = (sys.executable, "-m", "simulator", "listen")

__all__ = ["Comparison", "compare", "main", "run"]


@dataclass(slots=True)
class Comparison:
    """Locust's counts beside the listener's, and whether they tell the same story."""

    locust_requests: int = 0
    locust_successes: int = 0
    locust_failures: int = 0
    locust_rps: float = 0.0
    locust_types: int = 0
    received: int = 0
    acknowledged: int = 0
    verified: int = 0
    valid: int = 0
    duplicates: int = 0
    distinct_ids: int | None = None
    by_verdict: dict[str, int] = field(default_factory=dict)
    signature_failures: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def compare(locust_entries: Sequence[dict[str, Any]], listener: dict[str, Any]) -> Comparison:
    """Put Locust's ``--json-file`` entries beside the listener's counts (``stats`` + record file)."""
    c = Comparison()
    c.locust_requests = sum(int(e["num_requests"]) for e in locust_entries)
    c.locust_failures = sum(int(e["num_failures"]) for e in locust_entries)
    c.locust_successes = c.locust_requests - c.locust_failures
    c.locust_types = len(locust_entries)
    if locust_entries:
        span = (max(float(e["last_request_timestamp"] or 0) for e in locust_entries)
                - min(float(e["start_time"]) for e in locust_entries))
        c.locust_rps = round(c.locust_successes / span, 1) if span > 0 else 0.0
    c.received = int(listener.get("requests", 0))
    c.acknowledged = sum(v for k, v in listener.get("by_status", {}).items() if 200 <= int(k) < 300)
    c.by_verdict = dict(listener.get("by_verdict", {}))
    c.signature_failures = dict(listener.get("signature_failures", {}))
    c.valid = int(c.by_verdict.get("valid", 0))
    c.duplicates = int(listener.get("duplicates", 0))
    records = listener.get("records") or {}
    if "signature_ok" in records:
        c.verified = int(records["signature_ok"])
    else:
        c.verified = c.received - sum(c.signature_failures.values()) - int(c.by_verdict.get("unverified", 0))
    c.distinct_ids = records.get("distinct_ids")

    if c.locust_successes == 0:
        c.problems.append("Locust counted no successful request")
    if c.locust_failures:
        c.problems.append(f"Locust counted {c.locust_failures} failed requests")
    if c.received != c.locust_successes:
        c.problems.append(f"the listener received {c.received} requests but Locust counted "
                          f"{c.locust_successes} successes")
    if c.acknowledged != c.received:
        c.problems.append(f"the listener acknowledged {c.acknowledged} of {c.received} requests")
    if c.verified != c.received:
        c.problems.append(f"the listener verified {c.verified} of {c.received} signatures "
                          f"({c.signature_failures or 'see by_verdict'})")
    if c.valid != c.received:
        c.problems.append(f"the listener found {c.valid} of {c.received} payloads valid ({c.by_verdict})")
    if c.duplicates:
        c.problems.append(f"the listener saw {c.duplicates} duplicate event ids")
    if c.distinct_ids is not None and c.distinct_ids != c.received:
        c.problems.append(f"{c.distinct_ids} distinct event ids for {c.received} requests")
    return c


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m loadtests.run [options] [-- locust options]``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in args:
        cut = args.index("--")
        args, extra = args[:cut], args[cut + 1:]
    parser = argparse.ArgumentParser(prog="make loadtest", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-u", "--users", type=int, default=20, help="peak Locust users (default 20)")
    parser.add_argument("-r", "--spawn-rate", type=float, default=None,
                        help="users started per second (default: all at once)")
    parser.add_argument("-t", "--run-time", default="10s", help="how long Locust sends (default 10s)")
    parser.add_argument("--processes", type=int, default=0,
                        help="Locust worker processes on this machine (default 0: one process)")
    parser.add_argument("--scenario", default="firehose", help="firehose, tenant-day or scim-sync")
    parser.add_argument("--shape", default=None, help="steady, ramp, burst or business-day")
    parser.add_argument("--tenant-users", type=int, default=None, help="simulated tenant size")
    parser.add_argument("--seed", type=int, default=None, help="seed of the event stream")
    parser.add_argument("--out", type=Path, default=None,
                        help="report folder (default loadtests/out/<UTC time>/)")
    options = parser.parse_args(args)
    if options.users < 1:
        parser.error(f"--users={options.users} must be at least 1")
    if options.processes < 0:
        parser.error(f"--processes={options.processes} must be 0 (one process) or more")
    locust_args = ["-u", str(options.users), "-r", str(options.spawn_rate or options.users),
                   "-t", options.run_time, "--scenario", options.scenario]
    if options.processes:
        locust_args += ["--processes", str(options.processes)]
    if options.shape:
        locust_args += ["--shape", options.shape]
    if options.tenant_users is not None:
        locust_args += ["--tenant-users", str(options.tenant_users)]
    if options.seed is not None:
        locust_args += ["--seed", str(options.seed)]
    out = options.out or DEFAULT_OUT / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        comparison = run(out, [*locust_args, *extra])
    except RunError as exc:
        print(f"chestsim: error: {exc}", file=sys.stderr)
        return 2
    _print(comparison, out)
    return 0 if comparison.ok else 1


class RunError(Exception):
    """The run could not start or finish (listener or Locust failed)."""


def run(out: Path, locust_args: Sequence[str], *, secret: str | None = None,
        timeout: float = 600.0) -> Comparison:
    """Listener up, Locust run, counts compared; every file lands in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    secret = secret or _new_secret()
    # Both sides get the secret and a bearer token from the environment, never from a command line.
    env = {**os.environ, "CHESTSIM_SECRET": secret, "CHESTSIM_TOKEN": _new_token(),
           "PYTHONPATH": _pythonpath()}
    db = out / "received.db"
    with _listener(db, env=env, log=out / "listener.log") as base_url:
        locust = [sys.executable, "-m", "locust", "-f", str(FIREHOSE), "--headless", "-H", base_url,
                  "--webhook-path", WEBHOOK_PATH, "--html", str(out / "report.html"),
                  "--csv", str(out / "locust"), "--json-file", str(out / "locust"),
                  "--stop-timeout", "10", *locust_args]
        print(f"chestsim loadtest: listener at {base_url}{WEBHOOK_PATH}, reports in {out}", file=sys.stderr,
              flush=True)
        try:
            proc = subprocess.run(locust, cwd=ROOT, env=env, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise RunError(f"Locust did not finish within {timeout:g} s") from None
        json_file = out / "locust.json"
        if not json_file.is_file():
            raise RunError(f"Locust exited {proc.returncode} without a report; see its messages above")
        stats = _settled_stats(base_url)
    entries = json.loads(json_file.read_text())
    stats["records"] = _record_counts(db)
    (out / "listener-stats.json").write_text(json.dumps(stats, indent=2))
    comparison = compare(entries, stats)
    (out / "summary.json").write_text(json.dumps(comparison.to_dict(), indent=2))
    return comparison


@contextlib.contextmanager
def _listener(db: Path, *, env: dict[str, str], log: Path) -> Any:
    port = _free_port()
    command = [*LISTEN, "--host", "127.0.0.1", "--port", str(port),
               "--path", WEBHOOK_PATH, "--db", str(db), "--view", "quiet"]
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=sink,
                                stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base_url, proc, log)
            yield base_url
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # the listener flushes its records on SIGTERM
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _wait_ready(base_url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise RunError(f"chestsim listen exited {proc.returncode}: {' | '.join(tail)}")
        try:
            _get_json(f"{base_url}/_chestsim/stats")
            return
        except (urllib.error.URLError, OSError, ValueError):
            time.sleep(0.1)
    raise RunError(f"chestsim listen did not answer within {timeout:g} s (see {log})")


def _settled_stats(base_url: str, timeout: float = 10.0) -> dict[str, Any]:
    """The listener's stats once every request it answered is committed to its record file."""
    deadline = time.monotonic() + timeout
    stats = _get_json(f"{base_url}/_chestsim/stats")
    while time.monotonic() < deadline:
        committed = stats.get("committed")
        if committed is None or committed >= stats.get("requests", 0):
            break
        time.sleep(0.1)
        stats = _get_json(f"{base_url}/_chestsim/stats")
    return stats


def _record_counts(db: Path) -> dict[str, int]:
    """Counts straight from the listener's SQLite record file (after it stopped)."""
    if not db.is_file():
        return {}
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            rows, distinct, ok = conn.execute(
                "SELECT count(*), count(DISTINCT webhook_id), "
                "coalesce(sum(signature = 'ok'), 0) FROM records").fetchone()
    except sqlite3.Error:
        return {}
    return {"rows": int(rows), "distinct_ids": int(distinct), "signature_ok": int(ok)}


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:
        data: dict[str, Any] = json.loads(response.read())
        return data


def _print(c: Comparison, out: Path) -> None:
    def fmt(value: object) -> str:
        return f"{value:,}" if isinstance(value, int) else str(value)

    def row(label: str, locust: object, listener: object) -> str:
        return f"  {label:<24}{fmt(locust):>12}{fmt(listener):>12}"

    lines = [
        f"chestsim loadtest: {c.locust_successes:,} events in {c.locust_types} types, "
        f"{c.locust_rps:,.0f} req/s; reports in {out}",
        f"  {'':<24}{'locust':>12}{'listener':>12}",
        row("sent / received", c.locust_requests, c.received),
        row("succeeded (2xx)", c.locust_successes, c.acknowledged),
        row("failed", c.locust_failures, c.received - c.acknowledged),
        row("signature verified", "-", c.verified),
        row("payload valid", "-", c.valid),
        row("distinct event ids", "-", "-" if c.distinct_ids is None else c.distinct_ids),
        row("duplicate ids", "-", c.duplicates),
    ]
    if c.ok:
        lines.append("  OK: every success Locust counted arrived at the listener, signed and valid")
    else:
        lines += [f"  MISMATCH: {problem}" for problem in c.problems]
    print("\n".join(lines))


def _new_secret() -> str:
    from simulator._signing import SigningSecret

    return SigningSecret.generate().reveal()


def _new_token() -> str:
    import secrets

    return secrets.token_urlsafe(24)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pythonpath() -> str:
    # Locust imports the locustfile by path; `loadtests` must be importable from the checkout.
    current = os.environ.get("PYTHONPATH")
    return f"{ROOT}{os.pathsep}{current}" if current else str(ROOT)


if __name__ == "__main__":
    sys.exit(main())
