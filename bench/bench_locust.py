"""Locust firehose user vs a bare ``FastHttpUser`` posting a constant body (target ≥ 0.9×).

Both run as Locust subprocesses against the same bare aiohttp 204 sink (its own
process), with the same users and run length, one after the other, alternating
for each round; the figure is the median requests per second of each side. The
firehose user signs every request and gives it a fresh id; the bare user posts
one firehose body again and again (``bench/_locust_bare.py``).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench._harness import OUT, Result

ROOT = Path(__file__).resolve().parent.parent
FIREHOSE = ROOT / "loadtests" / "firehose.py"
BARE = Path(__file__).resolve().parent / "_locust_bare.py"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks spec's test secret

# A bare aiohttp sink: read the body, answer 204, nothing else.
_SINK = """
import sys
from aiohttp import web

async def receive(request):
    await request.read()
    return web.Response(status=204)

async def ready(request):
    return web.Response(status=204)

app = web.Application()
app.router.add_get("/_ready", ready)
app.router.add_post("/{tail:.*}", receive)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def run(quick: bool) -> list[Result]:
    users = 10
    seconds = 4 if quick else 8
    rounds = 1 if quick else 5
    work = Path(tempfile.mkdtemp(prefix="bench-locust-", dir=OUT if OUT.is_dir() else None))
    body_file = work / "body.json"
    body_file.write_bytes(_one_firehose_body())
    port = _free_port()
    sink = subprocess.Popen([sys.executable, "-c", _SINK, str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/_ready", sink)
        host = f"http://127.0.0.1:{port}"
        firehose: list[float] = []
        bare: list[float] = []
        for i in range(rounds):
            # Alternate who goes first, so drift on a shared machine hits both sides alike.
            order = [("firehose", firehose), ("bare", bare)]
            for name, figures in order if i % 2 == 0 else order[::-1]:
                figures.append(_locust_rps(name, host, users=users, seconds=seconds,
                                           work=work / f"{name}-{i}", body_file=body_file))
                print(f"   round {i + 1}: {name} {figures[-1]:,.0f} req/s", file=sys.stderr, flush=True)
    finally:
        sink.terminate()
        sink.wait(10)
    paired = sorted(f / b for f, b in zip(firehose, bare, strict=True) if b)
    note = (f"{users} users, {seconds}s × {rounds} rounds, medians; round ratios "
            f"{', '.join(f'{r:.2f}' for r in paired)}; firehose {', '.join(f'{x:,.0f}' for x in firehose)}"
            f" / bare {', '.join(f'{x:,.0f}' for x in bare)}")
    return [Result(name="locust firehose user (signed, fresh ids)", value=statistics.median(firehose),
                   unit="req/s", reference_name="bare FastHttpUser",
                   reference=statistics.median(bare), target=0.9, note=note)]


def _locust_rps(name: str, host: str, *, users: int, seconds: int, work: Path, body_file: Path) -> float:
    locustfile = FIREHOSE if name == "firehose" else BARE
    args = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "-H", host,
            "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--only-summary",
            "--json-file", str(work), "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    env = {**os.environ, "BARE_BODY_FILE": str(body_file), "PYTHONPATH": str(ROOT)}
    if name == "firehose":
        env["CHESTSIM_SECRET"] = SECRET
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 120,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"locust ({name}) exited {proc.returncode}: {proc.stderr[-1500:]}")
    return _rps(json.loads(work.with_suffix(".json").read_text()))


def _rps(entries: list[dict[str, object]]) -> float:
    """Successful requests per second over the span Locust measured."""
    ok = sum(int(e["num_requests"]) - int(e["num_failures"]) for e in entries)  # type: ignore[call-overload]
    start = min(float(e["start_time"]) for e in entries)  # type: ignore[arg-type]
    end = max(float(e["last_request_timestamp"]) for e in entries)  # type: ignore[arg-type]
    return ok / max(end - start, 1e-9)


def _one_firehose_body() -> bytes:
    # Importing the payload module is safe here: it never imports Locust.
    sys.path.insert(0, str(ROOT))
    from loadtests._payloads import build_pool

    _, body, _ = build_pool(pool_size=200).take()
    return body


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sink exited: {proc.stderr.read().decode()[-800:] if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError("sink did not start within 20 s")
