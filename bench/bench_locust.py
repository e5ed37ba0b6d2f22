"""Locust firehose user vs a bare ``FastHttpUser`` posting a constant body (target ≥ 0.9×).

All run as Locust subprocesses against the same bare aiohttp 204 sink (its own
process), with the same users and run length, one after the other; figures are
medians of requests per second, and each ratio the median of the seven rounds'
ratios (a round's sides run one after
the other; a ratio of two medians could pair runs minutes apart, and this
machine kind's speed drifts by ±10% over minutes). The firehose
user gives every request a fresh id and timestamp and signs it; the bare user
posts one firehose body again and again (``bench/_locust_bare.py``). A second
line puts the firehose beside the bare user carrying one firehose request's
three ``webhook-*`` headers as constants: what is left is chestsim's own cost
(ids, timestamps, signatures), apart from the HTTP client's cost of headers.

Throughput on a shared machine swings with its load, so a third line reports
Locust's CPU per request in the steady state, from a short and a long run of
each side (the difference cancels start-up: imports, the payload pool):
bare µs / firehose µs, contention-proof, informational.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._harness import BARE_SINK, OUT, Result, free_port, wait_ready

ROOT = Path(__file__).resolve().parent.parent
FIREHOSE = ROOT / "loadtests" / "firehose.py"
BARE = Path(__file__).resolve().parent / "_locust_bare.py"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks spec's test secret



def run(quick: bool) -> list[Result]:
    users = 10
    seconds = 4 if quick else 8
    short = 2
    rounds = 1 if quick else 7
    work = Path(tempfile.mkdtemp(prefix="bench-locust-", dir=OUT if OUT.is_dir() else None))
    body_file = work / "body.json"
    headers_file = work / "headers.json"
    body, headers = _one_firehose_request()
    body_file.write_bytes(body)
    headers_file.write_text(json.dumps(headers))
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", BARE_SINK, str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    names = ["firehose", "bare", "bare+headers"]
    rps: dict[str, list[float]] = {name: [] for name in names}
    cpu_us: dict[str, list[float]] = {name: [] for name in names}
    try:
        wait_ready(f"http://127.0.0.1:{port}/_ready", sink)
        host = f"http://127.0.0.1:{port}"
        for i in range(rounds):
            for name in _order(names, i):
                files = {"body_file": body_file, "headers_file": headers_file}
                n_short, cpu_short, _ = _locust(name, host, users=users, seconds=short,
                                                work=work / f"{name}-{i}-short", **files)
                n_long, cpu_long, long_rps = _locust(name, host, users=users, seconds=seconds,
                                                     work=work / f"{name}-{i}", **files)
                rps[name].append(long_rps)
                if n_long > n_short:
                    cpu_us[name].append((cpu_long - cpu_short) / (n_long - n_short) * 1e6)
                print(f"   round {i + 1}: {name} {long_rps:,.0f} req/s, "
                      f"{cpu_us[name][-1] if cpu_us[name] else float('nan'):,.0f} µs CPU/request",
                      file=sys.stderr, flush=True)
    finally:
        sink.terminate()
        sink.wait(10)

    def paired(reference: str) -> float:
        return statistics.median(f / b for f, b in zip(rps["firehose"], rps[reference], strict=True) if b)

    def note(reference: str) -> str:
        pairs = sorted(f / b for f, b in zip(rps["firehose"], rps[reference], strict=True) if b)
        return (f"{users} users, {seconds}s × {rounds} rounds; ratio: the median of the round ratios "
                f"{', '.join(f'{r:.2f}' for r in pairs)}; firehose "
                f"{', '.join(f'{x:,.0f}' for x in rps['firehose'])} / {reference} "
                f"{', '.join(f'{x:,.0f}' for x in rps[reference])}")

    firehose = statistics.median(rps["firehose"])
    results = [
        Result(name="locust firehose user (signed, fresh ids)", value=firehose, unit="req/s",
               reference_name="bare FastHttpUser", reference=statistics.median(rps["bare"]),
               target=0.9, note=note("bare"), paired=paired("bare")),
        Result(name="locust firehose user, chestsim's own cost", value=firehose, unit="req/s",
               reference_name="bare + same 3 headers", reference=statistics.median(rps["bare+headers"]),
               target=0.95, note=note("bare+headers"), paired=paired("bare+headers")),  # issue 11's target
    ]
    if all(cpu_us.values()):
        med = {name: statistics.median(values) for name, values in cpu_us.items()}
        # Requests per Locust CPU-second, so that the ratio reads like the throughput ratios.
        results.append(Result(
            name="locust firehose user, req per CPU-second", value=1e6 / med["firehose"], unit="req/s",
            reference_name="bare FastHttpUser", reference=1e6 / med["bare"],
            note=(f"steady-state CPU per request: firehose {med['firehose']:.0f} µs, bare {med['bare']:.0f} µs, "
                  f"bare + same headers {med['bare+headers']:.0f} µs")))
    return results


def _order(names: list[str], i: int) -> list[str]:
    """Round ``i``'s order: the firehose and the bare user with the same headers (the judged pair)
    always run next to each other, which goes first alternating (A B, B A), and the bare user
    before or after them. In a rotated order the pair sat a whole run apart in two rounds of five,
    and this machine kind's speed drifts by ±10% within a minute.

    >>> [_order(["firehose", "bare", "bare+headers"], i) for i in range(2)]
    [['bare', 'firehose', 'bare+headers'], ['bare+headers', 'firehose', 'bare']]
    """
    firehose, bare, with_headers = names
    pair = [firehose, with_headers] if i % 2 == 0 else [with_headers, firehose]
    return [bare, *pair] if i % 2 == 0 else [*pair, bare]


def _locust(name: str, host: str, *, users: int, seconds: int, work: Path, body_file: Path,
            headers_file: Path) -> tuple[int, float, float]:
    """One headless Locust run: (successful requests, CPU seconds of the process, req/s)."""
    locustfile = FIREHOSE if name == "firehose" else BARE
    args = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-H", host,
            "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--only-summary",
            "--json-file", str(work), "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    env = {**os.environ, "BARE_BODY_FILE": str(body_file), "PYTHONPATH": str(ROOT)}
    env.pop("BARE_HEADERS_FILE", None)
    if name == "bare+headers":
        env["BARE_HEADERS_FILE"] = str(headers_file)
    if name == "firehose":
        env["CHESTSIM_SECRET"] = SECRET
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        # wait4 gives this child's own CPU time (no locust --processes here: one process).
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"locust ({name}) exited {proc.returncode}: {err.read().decode()[-1500:]}")
    entries = json.loads(work.with_suffix(".json").read_text())
    ok = sum(int(e["num_requests"]) - int(e["num_failures"]) for e in entries)
    return ok, usage.ru_utime + usage.ru_stime, _rps(entries)


def _rps(entries: list[dict[str, object]]) -> float:
    """Successful requests per second over the span Locust measured."""
    ok = sum(int(e["num_requests"]) - int(e["num_failures"]) for e in entries)  # type: ignore[call-overload]
    start = min(float(e["start_time"]) for e in entries)  # type: ignore[arg-type]
    end = max(float(e["last_request_timestamp"]) for e in entries)  # type: ignore[arg-type]
    return ok / max(end - start, 1e-9)


def _one_firehose_request() -> tuple[bytes, dict[str, str]]:
    """One firehose body and its per-delivery headers (signed with ``SECRET``)."""
    # Importing the payload module is safe here: it never imports Locust.
    sys.path.insert(0, str(ROOT))
    from loadtests._payloads import build_pool
    from simulator._signing import SigningSecret

    _, body, headers = build_pool(pool_size=200, tenant_users=100, secrets=(SigningSecret(SECRET),)).take()
    return body, headers

