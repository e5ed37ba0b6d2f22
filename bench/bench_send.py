"""``chestsim send`` (signed, journaled) vs Locust ``FastHttpUser`` vs wrk, same sink, same concurrency.

The judged rates are taken in turns (``bench/_turns.py``): ``chestsim send`` (a
JSONL file of distinct events of every type, each signed with Standard Webhooks
headers and journaled in SQLite), Locust (one process, as a subprocess: it must
never share a process with asyncio, posting one constant body) and wrk (one
constant body: the sink's ceiling) run as live processes, each posting to its own
path on one aiohttp 204 sink with 32 connections, and take half-second windows in
turns, chestsim between wrk and Locust (forwards, then backwards), over sets of
fresh processes. Each ratio is the median of the rounds' ratios. Run one after
the other instead (the previous method: whole runs, three rounds), the round
ratios against Locust read 1.04, 1.61 and 1.35 in one bench and 1.59, 1.49, 1.14
in another: the machine's speed drifts by 10-40% within minutes. A second
chestsim process is measured like the others: its row shows how far from 1.00
the bench reads when nothing differs. Each window also gives the CPU time per
request of the client process and of the sink (on two cores they compete).

Beside them, whole runs one after the other, informational: the send of the
whole file start to end; the same send over https (a loopback TLS sink with a
certificate made here by trustme); and the HTTP clients chestsim chose among,
each inside the sender as users run it (``bench/_send_clients.py``: libcurl multi
via pycurl, which chestsim ships, pyreqwest and aiohttp), same events, same sink,
same run. Peak RSS is measured while sending a 1M-event file (100k with
``--quick``).
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import orjson

from bench._harness import OUT, Result, free_port, wait_ready
from bench._send_clients import CLIENTS
from bench._turns import Side, counting_sink, median_ratio, ratio_note, take_turns

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks spec's test secret
CONCURRENCY = 32


_LOCUSTFILE = """
import os
from pathlib import Path
from locust import FastHttpUser, task

_BODY = Path(os.environ["SEND_BENCH_BODY"]).read_bytes()
_HEADERS = {"content-type": "application/json"}
_PATH = os.environ.get("SEND_BENCH_PATH", "/webhooks")


class Bare(FastHttpUser):
    def wait_time(self):
        return 0.0

    @task
    def post(self):
        self.client.post(_PATH, data=_BODY, headers=_HEADERS, name="bare")
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


#: The sides taking turns, in the order of an even round (odd rounds run backwards): chestsim next to
#: each of the two references it is judged against; "chestsim again" is a second chestsim process,
#: the bench's own noise.
NAMES = ("wrk", "chestsim", "locust", "chestsim again")


def run(quick: bool) -> list[Result]:
    events = 20_000 if quick else 200_000
    rss_events = 100_000 if quick else 1_000_000
    rounds = 1 if quick else 3
    work = Path(tempfile.mkdtemp(prefix="bench-send-", dir=OUT if OUT.is_dir() else None))
    try:
        return _run(work, events=events, rss_events=rss_events, rounds=rounds, quick=quick)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(work: Path, *, events: int, rss_events: int, rounds: int, quick: bool) -> list[Result]:
    stream = work / "events.jsonl"
    _write_events(stream, events)
    # Each chestsim process taking turns must not run out of events before its set ends: at 25k
    # req/s, its windows and the warm-up use about 150k in a set of 10 rounds.
    turns_stream, turns_events = (work / "turns.jsonl", 100_000) if quick else (stream, events)
    if quick:
        _write_events(turns_stream, turns_events)
    # The https row and the client candidates need a rate, not the whole run: a third of it.
    side = work / "side.jsonl"
    _write_events(side, max(events // 3, 5_000))
    body = work / "body.json"
    body.write_bytes(stream.open("rb").readline().strip())
    port, tls_port = free_port(), free_port()
    host = f"http://127.0.0.1:{port}"
    ca_file, cert, key = _certificate(work)
    sink = counting_sink(port)
    tls_sink = subprocess.Popen([sys.executable, "-c", HTTPS_SINK, str(tls_port), str(cert), str(key)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sets, turns = (1, 4) if quick else (4, 10)
    window = 0.5
    try:
        wait_ready(f"{host}/_ready", sink)
        _wait_port(tls_port, tls_sink)
        url = f"{host}/webhooks"
        tls_url = f"https://localhost:{tls_port}/webhooks"
        # A warm-up send, not measured: the first send to a sink just started was the slowest of
        # its series in each of four trials (one bench run: 5.1k req/s, then 9.4k and 8.4k; loops of
        # four to six sends to one sink: the first 14-16% below the median of the rest).
        _chestsim(side, url, work / "warm-up.db")

        wrk = _wrk_path()
        lifetime = int(60 + turns * len(NAMES) * (window + 0.1))  # every window of a set, and start-up
        numbers = itertools.count()
        starts = {
            "wrk": functools.partial(_start_wrk, wrk=wrk, host=host, body=body, seconds=lifetime),
            "chestsim": functools.partial(_start_chestsim, host=host, stream=turns_stream, work=work,
                                          numbers=numbers),
            "locust": functools.partial(_start_locust, host=host, body=body, work=work, seconds=lifetime),
        }
        sides = {name: Side(name, "/" + name.replace(" ", "-"), starts[name.removesuffix(" again")])
                 for name in NAMES if wrk is not None or name != "wrk"}
        take_turns(list(sides.values()), host, sink, sets=sets, rounds=turns, window=window,
                   after_set=lambda: _remove(work.glob("turns-*.db*")))  # about 100 MB each

        # Whole runs, one after the other (informational): the file start to end, https, clients.
        ours: list[float] = []
        secure: list[float] = []
        clients: dict[str, list[float]] = {name: [] for name in CLIENTS}
        for i in range(rounds):
            steps = [("chestsim", ours), ("https", secure),
                     *((f"client:{name}", figures) for name, figures in clients.items())]
            for name, figures in steps if i % 2 == 0 else steps[::-1]:
                if name == "chestsim":
                    rate, _, _ = _chestsim(stream, url, work / f"run-{i}.db")
                elif name == "https":
                    rate, _, _ = _chestsim(side, tls_url, work / f"tls-{i}.db", "--ca-file", str(ca_file))
                else:
                    rate, _ = _client(name.removeprefix("client:"), side, url, work / f"client-{i}.db")
                figures.append(rate)
                print(f"   round {i + 1}: {name} {rate:,.0f} req/s (whole run), load {os.getloadavg()[0]:.1f}",
                      file=sys.stderr, flush=True)
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
    ours_turns = sides["chestsim"]

    def note(reference: str) -> str:
        return ratio_note(ours_turns, sides[reference], sets=sets, rounds=turns, window=window)

    spent = "; ".join(f"{name} {median(side.cpu_us):,.0f} + sink {median(side.sink_us):,.0f}"
                      for name, side in sides.items() if side.cpu_us and side.sink_us)
    common = (f"{CONCURRENCY} connections, each chestsim process sending up to {turns_events:,} distinct "
              f"events of every type; CPU µs per request in the same windows, client + sink: {spent}")
    if ours_turns.cpu_us and ours_turns.sink_us:
        # chestsim posts from one thread: at its CPU per request it can go no faster than one CPU-second
        # allows, nor than the machine's CPUs allow it and the sink together.
        own, sink_us = median(ours_turns.cpu_us), median(ours_turns.sink_us)
        ceiling = min(1e6 / own, (os.cpu_count() or 1) * 1e6 / (own + sink_us))
        common += (f"; at {own:,.0f} µs per request chestsim can post at most {ceiling:,.0f} req/s here "
                   f"({ceiling / median(sides['locust'].rates):.2f}× Locust's median), and posted "
                   f"{median(ours_turns.rates) / ceiling:.0%} of that")
    wrk_missing = "wrk not available: apt-get install -y wrk (Debian) to measure the sink's ceiling"
    whole = f"whole runs of {events:,} events, one after the other: {', '.join(f'{x:,.0f}' for x in ours)} req/s"
    measured = "; ".join(f"{name} {', '.join(f'{x:,.0f}' for x in figures)}" for name, figures in clients.items())
    results = [
        Result(name="send: signed + journaled, chestsim", value=median(ours_turns.rates), unit="req/s",
               reference_name="Locust FastHttpUser", reference=median(sides["locust"].rates), target=1.5,
               note=f"{note('locust')}; {common}", paired=median_ratio(ours_turns, sides["locust"])),
        Result(name="send: chestsim vs wrk (sink ceiling)", value=median(ours_turns.rates), unit="req/s",
               reference_name="wrk", reference=median(sides["wrk"].rates) if "wrk" in sides else None,
               target=0.6 if "wrk" in sides else None,
               note=(f"{note('wrk')}; wrk posts a constant body with no signing or journal" if "wrk" in sides
                     else wrk_missing),
               paired=median_ratio(ours_turns, sides["wrk"]) if "wrk" in sides else None),
        Result(name="send: a second chestsim process, again", value=median(sides["chestsim again"].rates),
               unit="req/s", reference_name="chestsim", reference=median(ours_turns.rates),
               note="how far from 1.00 this bench reads when nothing differs; "
                    + ratio_note(sides["chestsim again"], ours_turns, sets=sets, rounds=turns, window=window),
               paired=median_ratio(sides["chestsim again"], ours_turns)),
        Result(name="send: whole run, start to end", value=median(ours), unit="req/s",
               reference_name="chestsim in turns", reference=median(ours_turns.rates),
               note=f"{whole}; start-up, the last answers and the machine's drift included; no target"),
        Result(name="send over https (loopback TLS, trustme CA)", value=median(secure), unit="req/s",
               reference_name="chestsim over http", reference=median(ours),
               note=f"--ca-file with the test CA, {max(events // 3, 5_000):,} events, whole runs; "
                    f"{', '.join(f'{x:,.0f}' for x in secure)}; no target"),
        *(Result(name=f"send client inside the sender: {name}", value=median(figures), unit="req/s",
                 reference_name="curl (chosen)", reference=median(clients["curl"]),
                 note=f"{max(events // 3, 5_000):,} events, same journal and sink, whole runs; req/s per round: "
                      f"{measured}; no target")
          for name, figures in clients.items() if name != "curl"),
        Result(name=f"send: peak RSS, {rss_events:,} events", value=rss_mb, unit="MB", limit=200.0,
               note="chestsim send --journal, whole process"),
    ]
    return results


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _start_chestsim(side: Side, *, host: str, stream: Path, work: Path,
                    numbers: itertools.count[int]) -> subprocess.Popen[bytes]:
    """``chestsim send`` of the whole file to ``side``'s path, with a journal of its own."""
    journal = work / f"turns-{next(numbers)}.db"
    args = [sys.executable, "-c", _CHESTSIM, "send", str(stream), "--to", host + side.path, "--secret", SECRET,
            "--journal", str(journal), "--concurrency", str(CONCURRENCY), "--format", "json"]
    return subprocess.Popen(args, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=(work / f"{side.name}.err").open("wb"))


def _start_locust(side: Side, *, host: str, body: Path, work: Path, seconds: int) -> subprocess.Popen[bytes]:
    locustfile = work / "locustfile_send_bench.py"
    locustfile.write_text(_LOCUSTFILE)
    args = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-H", host,
            "-u", str(CONCURRENCY), "-r", str(CONCURRENCY * 100), "-t", f"{seconds}s", "--only-summary",
            "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    return subprocess.Popen(args, cwd=work, env={**os.environ, "SEND_BENCH_BODY": str(body),
                                                 "SEND_BENCH_PATH": side.path},
                            stdout=subprocess.DEVNULL, stderr=(work / f"{side.name}.err").open("wb"))


def _start_wrk(side: Side, *, wrk: str | None, host: str, body: Path, seconds: int) -> subprocess.Popen[bytes]:
    assert wrk is not None
    script = body.parent / "post.lua"
    script.write_text(_WRK_LUA)
    return subprocess.Popen([wrk, "-t2", f"-c{CONCURRENCY}", f"-d{seconds}s", "-s", str(script), host + side.path],
                            env={**os.environ, "SEND_BENCH_BODY": str(body)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


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


def _wrk_path() -> str | None:
    """wrk's path, installed from Debian's package when missing and possible; else ``None``."""
    wrk = shutil.which("wrk")
    if wrk is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, timeout=300, check=False)
        wrk = shutil.which("wrk")
    return wrk
