"""``chestsim listen`` (verify + validate + record) vs a bare aiohttp 204 sink, both under wrk.

wrk rotates ~60,000 distinct events of every type (a firehose tenant), each
signed on its own with its own ``webhook-id`` (wrk cannot compute HMACs: a Lua
script cycles through the pre-signed requests; the listener runs with
``--tolerance 1h`` so the signatures stay fresh). So the duplicate table grows
and every type's validator runs, as with a real sender. Same machine, same run,
same wrk settings, alternated so that noise hits both.

The bare sink runs on asyncio's own loop (aiohttp's default, what a user's
listener most likely is); a second bare sink on uvloop is shown for information.
After each listener run (SIGTERM), every request wrk saw acknowledged must be a
2xx record in the database: the bench says so, or fails.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson

from bench._harness import BARE_SINK, OUT, Result, free_port, wait_ready

_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's public test secret
_EVENTS = 60_000
#: wrk's warm-up starts at the first request, the measured run this far into the rotation.
_MEASURED_FROM = 12_000

_UVLOOP_SINK = BARE_SINK.replace("web.run_app(app,", "import uvloop\nweb.run_app(app, loop=uvloop.new_event_loop(),")

_LUA = """
local requests, n, i = {}, 0, 0
function init(args)
  local f = assert(io.open(%s, "rb"))
  local data = f:read("*a")
  f:close()
  local pos = 1
  while pos <= #data do
    local size = tonumber(data:sub(pos, pos + 9))
    n = n + 1
    requests[n] = data:sub(pos + 10, pos + 9 + size)
    pos = pos + 10 + size
  end
  i = (tonumber(args[1]) or 0) %% n
end
function request()
  i = i %% n + 1
  return requests[i]
end
"""


def _wrk() -> str | None:
    found = shutil.which("wrk")
    if found or not shutil.which("apt-get") or os.geteuid() != 0:
        return found
    print("   installing wrk with apt-get …", file=sys.stderr, flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True, check=False, timeout=300)
    return shutil.which("wrk")


def _requests(path: Path, count: int) -> dict[str, int]:
    """Write ``count`` distinct signed raw requests (10-digit length prefix each); their types."""
    from simulator._signing import SigningSecret, sign_headers
    from simulator.model import generate

    secret = [SigningSecret(_SECRET)]
    stamp = int(time.time())
    types: dict[str, int] = {}
    with path.open("wb") as out:
        for event in generate("firehose", seed=1, users=2000, events=count):
            body = orjson.dumps(event)
            headers = sign_headers(event["id"], stamp, body, secret)
            head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            raw = (f"POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n{head}"
                   f"content-length: {len(body)}\r\n\r\n").encode() + body
            out.write(b"%010d" % len(raw) + raw)
            types[event["type"]] = types.get(event["type"], 0) + 1
    return types


def _run_wrk(wrk: str, url: str, script: Path, seconds: int, connections: int, start: int) -> tuple[float, int, int]:
    """(requests/s, requests answered, non-2xx answers)."""
    out = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url, "--", str(start)],
                         capture_output=True, text=True, check=True, timeout=seconds + 120).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if rate is None or total is None:
        raise RuntimeError(f"could not read wrk's output: {out[-500:]}")
    return float(rate.group(1)), int(total.group(1)), int(bad.group(1)) if bad else 0


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """User + system CPU seconds so far (Linux /proc) of a process, and of its children."""
    own = children = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        if one == pid:
            own += used
        else:
            children += used
    return own, children


class _Run:
    """One server under wrk: warm-up, then the measured run."""

    def __init__(self, wrk: str, script: Path, seconds: int, connections: int) -> None:
        self.wrk, self.script, self.seconds, self.connections = wrk, script, seconds, connections

    def measure(self, port: int, proc: subprocess.Popen[bytes]) -> tuple[float, float, float, int, int]:
        """(requests/s, CPU µs per request of the server, of its children, acknowledged, non-2xx)."""
        url = f"http://127.0.0.1:{port}/webhooks"
        _, warm, warm_bad = _run_wrk(self.wrk, url, self.script, 1, self.connections, 0)
        own, children = _cpu_seconds(proc.pid)
        rate, total, bad = _run_wrk(self.wrk, url, self.script, self.seconds, self.connections, _MEASURED_FROM)
        own_after, children_after = _cpu_seconds(proc.pid)
        requests = max(total, 1)
        return (rate, (own_after - own) / requests * 1e6, (children_after - children) / requests * 1e6,
                warm + total - warm_bad - bad, warm_bad + bad)


def _serve(args: list[str], port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    try:
        wait_ready(f"http://127.0.0.1:{port}/_ready" if args[0] == "-c" else
                   f"http://127.0.0.1:{port}/_chestsim/health", proc, timeout=60)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _acknowledged_records(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM records WHERE status BETWEEN 200 AND 299").fetchone()[0])


def run(quick: bool) -> list[Result]:
    wrk = _wrk()
    if wrk is None:
        return [Result(name="listen vs bare aiohttp sink (wrk)", value=0, unit="",
                       note="SKIPPED: wrk is not installed and could not be installed (apt-get install wrk)")]
    seconds, rounds, connections = (3, 1, 64) if quick else (5, 3, 64)
    OUT.mkdir(exist_ok=True)
    requests = OUT / "listen-requests.bin"
    types = _requests(requests, _EVENTS)
    script = OUT / "listen.lua"
    script.write_text(_LUA % _lua_string(str(requests)))
    runner = _Run(wrk, script, seconds, connections)
    uvloop = importlib.util.find_spec("uvloop") is not None
    sinks = {"bare": BARE_SINK, **({"bare-uvloop": _UVLOOP_SINK} if uvloop else {})}
    figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in (*sinks, "listen", "inline")}
    errors, lost = 0, []
    for _ in range(rounds):
        for name, code in sinks.items():
            port = free_port()
            proc = _serve(["-c", code, str(port)], port)
            try:
                rate, cpu, _, _, _ = runner.measure(port, proc)
                figures[name].append((rate, cpu, 0.0))
            finally:
                _stop(proc)
        for mode in ("listen", "inline"):
            port = free_port()
            db = OUT / f"listen-{mode}.db"
            for leftover in OUT.glob(f"listen-{mode}.db*"):
                leftover.unlink()
            args = ["-m", "simulator", "listen", "--port", str(port), "--db", str(db), "--view", "quiet",
                    "--tolerance", "1h"] + (["--inline"] if mode == "inline" else [])
            proc = _serve(args, port, env={"CHESTSIM_SECRET": _SECRET})
            try:
                rate, cpu, writer_cpu, acknowledged, bad = runner.measure(port, proc)
                figures[mode].append((rate, cpu, writer_cpu))
                errors += bad
            finally:
                code = _stop(proc)
            recorded = _acknowledged_records(db)
            if code != 0 or recorded < acknowledged:
                lost.append(f"{mode}: exit {code}, {acknowledged} acknowledged, {recorded} recorded")
    best = {name: max(values) for name, values in figures.items()}
    bare, bare_cpu, _ = best["bare"]
    listen, loop_cpu, writer_cpu = best["listen"]
    inline, inline_cpu, _ = best["inline"]
    note = (f"wrk -t1 -c{connections} -d{seconds}s, best of {rounds}; {_EVENTS:,} distinct signed events of "
            f"{len(types)} types, --tolerance 1h; every acknowledged request recorded after SIGTERM: "
            + ("yes" if not lost else "NO (" + "; ".join(lost) + ")")
            + (f"; {errors} non-2xx answers!" if errors else ""))
    results = [
        Result(name="listen (verify+validate+record)", value=listen if not lost else 0, unit="req/s",
               reference_name="bare aiohttp 204", reference=bare, target=0.9, note=note),
        Result(name="listen --inline (all on the event loop)", value=inline, unit="req/s",
               reference_name="bare aiohttp 204", reference=bare, note="for information"),
        Result(name="listen CPU per request, lower is better", value=loop_cpu + writer_cpu, unit="µs",
               reference_name="µs bare aiohttp 204", reference=bare_cpu,
               note=f"CPU µs per request: bare {bare_cpu:.0f}; listen loop {loop_cpu:.0f} + writer "
                    f"{writer_cpu:.0f}; --inline {inline_cpu:.0f}"),
    ]
    if uvloop:
        results.append(Result(name="bare aiohttp 204 on uvloop", value=best["bare-uvloop"][0], unit="req/s",
                              reference_name="bare aiohttp 204", reference=bare, note="for information"))
    requests.unlink(missing_ok=True)
    return results


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
