"""``chestsim listen`` (verify + validate + record) vs a bare aiohttp 204 sink, both under wrk.

Same machine, same run, same wrk settings, alternated so that noise hits both.
wrk cannot compute HMACs, so its Lua script posts one event signed once, with a
timestamp that stays valid because the listener runs with ``--tolerance 1h``;
after the first request every delivery is flagged as a duplicate (same
``webhook-id``), which the listener records like any other.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from bench._harness import OUT, Result

_BARE_SINK = """
import sys
from aiohttp import web

async def sink(request):
    await request.read()
    return web.Response(status=204)

app = web.Application()
app.router.add_post("/webhooks", sink)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""

_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's public test secret


def _wrk() -> str | None:
    found = shutil.which("wrk")
    if found or not shutil.which("apt-get") or os.geteuid() != 0:
        return found
    print("   installing wrk with apt-get …", file=sys.stderr, flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True, check=False, timeout=300)
    return shutil.which("wrk")


def _lua(path: Path) -> None:
    from simulator._catalog import lookup
    from simulator._signing import SigningSecret, sign_headers

    event = lookup("secret.used").examples[-1]
    body = orjson.dumps(event)
    headers = sign_headers(event["id"], int(time.time()), body, [SigningSecret(_SECRET)])
    lines = ['wrk.method = "POST"', f"wrk.body = {_lua_string(body.decode())}",
             'wrk.headers["Content-Type"] = "application/json"']
    lines += [f'wrk.headers["{name}"] = {_lua_string(value)}' for name, value in headers.items()]
    path.write_text("\n".join(lines) + "\n")


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _wait(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-500:] if proc.stderr else ""
            raise RuntimeError(f"server exited early ({proc.returncode}): {err}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def _run_wrk(wrk: str, url: str, script: Path, seconds: int, connections: int) -> tuple[float, int]:
    out = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
                         capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if rate is None:
        raise RuntimeError(f"could not read wrk's output: {out[-500:]}")
    return float(rate.group(1)), int(bad.group(1)) if bad else 0


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


def _measure(wrk: str, port: int, proc: subprocess.Popen[bytes], script: Path, seconds: int,
             connections: int) -> tuple[float, int, float, float]:
    """(requests/s, non-2xx answers, CPU µs per request of the server, of its writer process)."""
    url = f"http://127.0.0.1:{port}/webhooks"
    _run_wrk(wrk, url, script, 1, connections)
    own, children = _cpu_seconds(proc.pid)
    rate, bad = _run_wrk(wrk, url, script, seconds, connections)
    own_after, children_after = _cpu_seconds(proc.pid)
    requests = max(rate * seconds, 1)
    return rate, bad, (own_after - own) / requests * 1e6, (children_after - children) / requests * 1e6


def _serve(args: list[str], port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    _wait(port, proc)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(quick: bool) -> list[Result]:
    wrk = _wrk()
    if wrk is None:
        return [Result(name="listen vs bare aiohttp sink (wrk)", value=0, unit="",
                       note="SKIPPED: wrk is not installed and could not be installed (apt-get install wrk)")]
    from simulator.listener import free_port

    seconds, rounds, connections = (3, 1, 64) if quick else (5, 3, 64)
    OUT.mkdir(exist_ok=True)
    script = OUT / "listen.lua"
    _lua(script)
    bare: list[tuple[float, float, float]] = []
    listen: dict[str, list[tuple[float, float, float]]] = {"offload": [], "inline": []}
    errors = 0
    for _ in range(rounds):
        port = free_port()
        proc = _serve(["-c", _BARE_SINK, str(port)], port)
        try:
            rate, _, cpu, _ = _measure(wrk, port, proc, script, seconds, connections)
            bare.append((rate, cpu, 0.0))
        finally:
            _stop(proc)
        for mode in listen:
            port = free_port()
            db = OUT / f"listen-{mode}.db"
            for leftover in OUT.glob(f"listen-{mode}.db*"):
                leftover.unlink()
            args = ["-m", "simulator", "listen", "--port", str(port), "--db", str(db), "--view", "quiet",
                    "--tolerance", "1h"] + (["--inline"] if mode == "inline" else [])
            proc = _serve(args, port, env={"CHESTSIM_SECRET": _SECRET})
            try:
                rate, bad, cpu, writer_cpu = _measure(wrk, port, proc, script, seconds, connections)
                listen[mode].append((rate, cpu, writer_cpu))
                errors += bad
            finally:
                _stop(proc)
    note = (f"wrk -t1 -c{connections} -d{seconds}s, best of {rounds}; one pre-signed body, --tolerance 1h"
            + (f"; {errors} non-2xx answers!" if errors else ""))
    best_bare, bare_cpu, _ = max(bare)
    offload, loop_cpu, writer_cpu = max(listen["offload"])
    inline, inline_cpu, _ = max(listen["inline"])
    offload_cpu = loop_cpu + writer_cpu
    cpu_note = (f"CPU µs per request: bare {bare_cpu:.0f}; listen loop {loop_cpu:.0f} + writer {writer_cpu:.0f}; "
                f"--inline {inline_cpu:.0f}")
    return [
        Result(name="listen (verify+validate+record, writer process)", value=offload, unit="req/s",
               reference_name="bare aiohttp 204", reference=best_bare, target=0.7, note=note),
        Result(name="listen --inline (all on the event loop)", value=inline, unit="req/s",
               reference_name="bare aiohttp 204", reference=best_bare, note="for information"),
        Result(name="listen CPU per request, lower is better", value=offload_cpu, unit="µs",
               reference_name="µs bare aiohttp 204", reference=bare_cpu, note=cpu_note),
    ]
