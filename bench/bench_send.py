"""``chestsim send`` (signed, journaled) vs Locust ``FastHttpUser`` vs wrk, same sink, same concurrency.

All post to one bare aiohttp 204 sink running in its own process, with 32
connections. chestsim sends a JSONL file of distinct events of every type, each
signed with Standard Webhooks headers and journaled in SQLite; Locust (one process,
as a subprocess: it must never share a process with asyncio) posts one constant
body; wrk posts one constant body and gives the ceiling of the sink. chestsim, wrk
and Locust run in every round, chestsim between wrk and Locust (forwards, then
backwards), and each ratio is the median of the rounds' ratios: the machine's
speed drifts by 10-40% within minutes, and a ratio of two medians could pair runs
minutes apart (one run: chestsim 16.4k, 11.7k, 9.8k req/s and Locust 10.3k, 7.8k,
8.6k, a ratio of medians of 1.36 where the rounds read 1.59, 1.49 and 1.14). Each
step also reports the CPU time per request of the client process and of the sink
(on two cores they compete for the same CPU).

Beside them: the same send over https (a loopback TLS sink with a certificate
made here by trustme), and the HTTP clients chestsim chose among, each inside the
sender as users run it (``bench/_send_clients.py``: libcurl multi via pycurl, which
chestsim ships, pyreqwest and aiohttp), same events, same sink, same run.
Peak RSS is measured while sending a 1M-event file (100k with ``--quick``).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench._harness import BARE_SINK, OUT, Result, free_port, wait_ready
from bench._send_clients import CLIENTS

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks spec's test secret
CONCURRENCY = 32


_LOCUSTFILE = """
import os
from pathlib import Path
from locust import FastHttpUser, task

_BODY = Path(os.environ["SEND_BENCH_BODY"]).read_bytes()
_HEADERS = {"content-type": "application/json"}


class Bare(FastHttpUser):
    def wait_time(self):
        return 0.0

    @task
    def post(self):
        self.client.post("/webhooks", data=_BODY, headers=_HEADERS, name="bare")
"""

# Runs chestsim's own CLI and reports the child's peak RSS on stderr: its own (VmHWM), since ru_maxrss
# carries over the high-water mark of the bench process that started it (the full `make bench` read
# 148 MB here, the bench process's own peak, where this row alone reads 116 MB).
_CHESTSIM = """
import resource, sys
from simulator.cli import main
code = main(sys.argv[1:])
peak = next((int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")),
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.stderr.write(f"\\nPEAK_RSS_KB {peak}\\n")
sys.exit(code)
"""

# The bare sink over TLS: ``python -c HTTPS_SINK PORT CERT KEY``.
HTTPS_SINK = """
import ssl, sys
from aiohttp import web

async def receive(request):
    await request.read()
    return web.Response(status=204)

context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(sys.argv[2], sys.argv[3])
app = web.Application()
app.router.add_post("/{tail:.*}", receive)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), ssl_context=context, access_log=None, print=None)
"""

_WRK_LUA = """
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = io.open(os.getenv("SEND_BENCH_BODY"), "rb"):read("*a")
"""


def run(quick: bool) -> list[Result]:
    events = 20_000 if quick else 200_000
    rss_events = 100_000 if quick else 1_000_000
    rounds = 1 if quick else 3
    work = Path(tempfile.mkdtemp(prefix="bench-send-", dir=OUT if OUT.is_dir() else None))
    try:
        return _run(work, events=events, rss_events=rss_events, rounds=rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(work: Path, *, events: int, rss_events: int, rounds: int) -> list[Result]:
    stream = work / "events.jsonl"
    _write_events(stream, events)
    # The https row and the client candidates need a rate, not the whole run: a third of it.
    side = work / "side.jsonl"
    _write_events(side, max(events // 3, 5_000))
    body = work / "body.json"
    body.write_bytes(stream.open("rb").readline().strip())
    port, tls_port = free_port(), free_port()
    ca_file, cert, key = _certificate(work)
    sink = subprocess.Popen([sys.executable, "-c", BARE_SINK, str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    tls_sink = subprocess.Popen([sys.executable, "-c", HTTPS_SINK, str(tls_port), str(cert), str(key)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(f"http://127.0.0.1:{port}/_ready", sink)
        _wait_port(tls_port, tls_sink)
        url = f"http://127.0.0.1:{port}/webhooks"
        tls_url = f"https://localhost:{tls_port}/webhooks"
        # A warm-up send, not measured: the first send to a sink just started was the slowest of
        # its series in each of four trials (one bench run: 5.1k req/s, then 9.4k and 8.4k; loops of
        # four to six sends to one sink: the first 14-16% below the median of the rest).
        _chestsim(side, url, work / "warm-up.db")
        ours: list[float] = []
        locust: list[float] = []
        wrks: list[float] = []
        secure: list[float] = []
        clients: dict[str, list[float]] = {name: [] for name in CLIENTS}
        # CPU µs per request of the client process and of the sink, per step: on two shared
        # cores the sender and the sink compete for the same CPU, where wrk barely uses any.
        cpu: dict[str, list[tuple[float, float]]] = {}
        by_round: dict[int, dict[str, float]] = {}  # round -> step -> req/s
        for i in range(rounds):
            # wrk runs in every round beside chestsim, as Locust does: a ceiling measured once,
            # minutes away from the runs it is compared with, followed the machine's load instead.
            # chestsim next to each of its two references, which it is judged against round by round.
            steps = [("wrk", wrks), ("chestsim", ours), ("locust", locust), ("https", secure),
                     *((f"client:{name}", figures) for name, figures in clients.items())]
            for name, figures in steps if i % 2 == 0 else steps[::-1]:
                server = tls_sink if name == "https" else sink
                sink_before, client_before = _process_cpu(server.pid), _children_cpu()
                if name == "chestsim":
                    rate, requests, _ = _chestsim(stream, url, work / f"run-{i}.db")
                elif name == "https":
                    rate, requests, _ = _chestsim(side, tls_url, work / f"tls-{i}.db", "--ca-file", str(ca_file))
                elif name == "wrk":
                    ceiling = _wrk(url, body, seconds=10 if rounds > 1 else 5)
                    if ceiling is None:
                        continue
                    rate, requests = ceiling
                elif name.startswith("client:"):
                    rate, requests = _client(name.removeprefix("client:"), side, url, work / f"client-{i}.db")
                else:
                    # About as long as chestsim's run (a rate needs no more than a minute).
                    seconds = min(60, max(5, round(events / max(ours[-1] if ours else 5000.0, 1.0))))
                    rate, requests = _locust(url, body, work / f"locust-{i}", seconds=seconds)
                figures.append(rate)
                by_round.setdefault(i, {})[name] = rate
                sink_after = _process_cpu(server.pid)
                per_request = ((_children_cpu() - client_before) / max(requests, 1) * 1e6,
                               (sink_after - sink_before) / max(requests, 1) * 1e6
                               if sink_after is not None and sink_before is not None else 0.0)
                cpu.setdefault(name, []).append(per_request)
                print(f"   round {i + 1}: {name} {rate:,.0f} req/s, load {os.getloadavg()[0]:.1f}, CPU µs per "
                      f"request: client {per_request[0]:,.0f}, sink {per_request[1]:,.0f}", file=sys.stderr, flush=True)
        wrk = statistics.median(wrks) if wrks else None
        big = work / "big.jsonl"
        _write_events(big, rss_events)
        stream.unlink()
        _, _, rss_mb = _chestsim(big, url, work / "big.db")
        print(f"   peak RSS sending {rss_events:,} events: {rss_mb:,.0f} MB", file=sys.stderr, flush=True)
    finally:
        for process in (sink, tls_sink):
            process.terminate()
            process.wait(10)
    median = statistics.median

    def paired(reference: str) -> float | None:
        """The median over rounds of chestsim's rate / the reference's, each pair from one round."""
        ratios = [rates["chestsim"] / rates[reference] for rates in by_round.values()
                  if rates.get(reference) and "chestsim" in rates]
        return median(ratios) if ratios else None

    def per_round(reference: str) -> str:
        ratios = [rates["chestsim"] / rates[reference] for rates in by_round.values()
                  if rates.get(reference) and "chestsim" in rates]
        return f"round ratios {', '.join(f'{r:.2f}' for r in ratios)}" if ratios else "no round ratios"

    wrk_note = (f"wrk {', '.join(f'{x:,.0f}' for x in wrks)} req/s on the same sink" if wrk is not None
                else "wrk not available: apt-get install -y wrk (Debian) to measure the sink's ceiling")
    spent = "; ".join(f"{name} {median(c for c, _ in pairs):,.0f} + sink {median(k for _, k in pairs):,.0f}"
                      for name, pairs in cpu.items() if name in ("chestsim", "wrk", "locust"))
    note = (f"{CONCURRENCY} connections, {events:,} distinct events of every type × {rounds} rounds, medians; "
            f"chestsim {', '.join(f'{x:,.0f}' for x in ours)} / Locust {', '.join(f'{x:,.0f}' for x in locust)}; "
            f"{wrk_note}; CPU µs per request, client + sink: {spent}")
    measured = "; ".join(f"{name} {', '.join(f'{x:,.0f}' for x in figures)}" for name, figures in clients.items())
    results = [
        Result(name="send: signed + journaled, chestsim", value=median(ours), unit="req/s",
               reference_name="Locust FastHttpUser", reference=median(locust), target=1.5,
               note=f"{per_round('locust')}; {note}", paired=paired("locust")),
        Result(name="send: chestsim vs wrk (sink ceiling)", value=median(ours) if wrk is not None else 0.0,
               unit="req/s", reference_name="wrk", reference=wrk, target=0.6 if wrk is not None else None,
               note=(f"{per_round('wrk')}; wrk posts a constant body with no signing or journal, {CONCURRENCY} "
                     f"connections, {10 if rounds > 1 else 5} s in every round") if wrk is not None else wrk_note,
               paired=paired("wrk") if wrk is not None else None),
        Result(name="send over https (loopback TLS, trustme CA)", value=median(secure), unit="req/s",
               reference_name="chestsim over http", reference=median(ours),
               note=f"--ca-file with the test CA, {max(events // 3, 5_000):,} events; "
                    f"{', '.join(f'{x:,.0f}' for x in secure)}; no target"),
        *(Result(name=f"send client inside the sender: {name}", value=median(figures), unit="req/s",
                 reference_name="curl (chosen)", reference=median(clients["curl"]),
                 note=f"{max(events // 3, 5_000):,} events, same journal and sink; req/s per round: {measured}; "
                      "no target")
          for name, figures in clients.items() if name != "curl"),
        Result(name=f"send: peak RSS, {rss_events:,} events", value=rss_mb, unit="MB", limit=200.0,
               note="chestsim send --journal, whole process"),
    ]
    return results


def _certificate(work: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for localhost/127.0.0.1, made here (trustme), as PEM files."""
    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    paths = work / "ca.pem", work / "cert.pem", work / "key.pem"
    ca.cert_pem.write_to_path(str(paths[0]))
    issued.cert_chain_pems[0].write_to_path(str(paths[1]))
    issued.private_key_pem.write_to_path(str(paths[2]))
    return paths


def _wait_port(port: int, process: subprocess.Popen[bytes]) -> None:
    import socket

    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError(f"the https sink exited: {process.stderr.read().decode() if process.stderr else ''}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("the https sink did not start within 10 s")


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's children that have ended."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float | None:
    """CPU seconds a running process has used so far (Linux's /proc), else ``None``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client(name: str, stream: Path, url: str, journal: Path) -> tuple[float, int]:
    proc = subprocess.run([sys.executable, "-m", "bench._send_clients", name, str(stream), url, str(journal)],
                          cwd=ROOT, capture_output=True, text=True, timeout=3600, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    for suffix in ("", "-wal", "-shm"):
        Path(f"{journal}{suffix}").unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"client {name} exited {proc.returncode}: {proc.stderr[-1500:]}")
    answer = json.loads(proc.stdout)
    return float(answer["rate"]), int(answer["delivered"])


def _write_events(path: Path, n: int) -> None:
    """``n`` distinct events cycling through every type's examples, each with its own id and time."""
    from simulator._catalog import CATALOG

    examples = [example for event_type in CATALOG for example in event_type.examples]
    base = 1_795_000_000
    with path.open("wb") as fh:
        chunk = []
        for i in range(n):
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + i // 100)) + f".{i % 1000:03d}Z"
            event = {**examples[i % len(examples)], "id": f"evt_{i:020d}", "timestamp": ts}
            chunk.append(orjson.dumps(event))
            if len(chunk) >= 10_000:
                fh.write(b"\n".join(chunk) + b"\n")
                chunk = []
        if chunk:
            fh.write(b"\n".join(chunk) + b"\n")


def _chestsim(stream: Path, url: str, journal: Path, *extra: str) -> tuple[float, int, float]:
    """Rate, deliveries and peak RSS (MB) of one ``chestsim send``."""
    args = [sys.executable, "-c", _CHESTSIM, "send", str(stream), "--to", url, "--secret", SECRET,
            "--journal", str(journal), "--concurrency", str(CONCURRENCY), "--format", "json", *extra]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=3600, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise RuntimeError(f"chestsim send exited {proc.returncode}: {proc.stderr[-1500:]}")
    report = json.loads(proc.stdout)
    rss = re.search(r"PEAK_RSS_KB (\d+)", proc.stderr)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{journal}{suffix}").unlink(missing_ok=True)
    return (report["delivered"] / report["seconds"], int(report["delivered"]),
            int(rss.group(1)) / 1024 if rss else 0.0)


def _locust(url: str, body: Path, work: Path, *, seconds: int) -> tuple[float, int]:
    locustfile = work.parent / "locustfile_send_bench.py"
    locustfile.write_text(_LOCUSTFILE)
    host = url.rsplit("/", 1)[0]
    args = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-H", host,
            "-u", str(CONCURRENCY), "-r", str(CONCURRENCY), "-t", f"{seconds}s", "--only-summary",
            "--json-file", str(work), "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    proc = subprocess.run(args, cwd=work.parent, env={**os.environ, "SEND_BENCH_BODY": str(body)},
                          capture_output=True, text=True, timeout=seconds + 120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"locust exited {proc.returncode}: {proc.stderr[-1500:]}")
    entries = json.loads(work.with_suffix(".json").read_text())
    ok = sum(int(e["num_requests"]) - int(e["num_failures"]) for e in entries)
    start = min(float(e["start_time"]) for e in entries)
    end = max(float(e["last_request_timestamp"]) for e in entries)
    return ok / max(end - start, 1e-9), ok


def _wrk(url: str, body: Path, *, seconds: int) -> tuple[float, int] | None:
    """wrk's rate and request count, or ``None`` when wrk cannot be had."""
    wrk = shutil.which("wrk")
    if wrk is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, timeout=300, check=False)
        wrk = shutil.which("wrk")
    if wrk is None:
        return None
    script = body.parent / "post.lua"
    script.write_text(_WRK_LUA)
    proc = subprocess.run([wrk, "-t2", f"-c{CONCURRENCY}", f"-d{seconds}s", "-s", str(script), url],
                          capture_output=True, text=True, timeout=seconds + 60, check=False,
                          env={**os.environ, "SEND_BENCH_BODY": str(body)})
    rate = re.search(r"Requests/sec:\s+([\d.]+)", proc.stdout)
    count = re.search(r"(\d+) requests in", proc.stdout)
    return (float(rate.group(1)), int(count.group(1))) if rate and count else None

