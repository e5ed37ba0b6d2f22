"""SIGTERM while wrk floods ``chestsim listen`` with distinct signed events of every type: every
request wrk saw answered 2xx is a 2xx record in the database (the load of ``bench/bench_listen.py``)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from listener_helpers import SECRET, make_event, signed

from simulator._catalog import CATALOG
from simulator.listener import RecordStore, free_port

pytestmark = [pytest.mark.slow, pytest.mark.integration]

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
end
function request()
  i = i %% n + 1
  return requests[i]
end
"""


def test_sigterm_under_wrk_load_keeps_every_acknowledged_request(tmp_path: Path) -> None:
    wrk = shutil.which("wrk")
    if wrk is None:
        pytest.skip("wrk is not installed (apt-get install wrk)")
    requests = tmp_path / "requests.bin"
    with requests.open("wb") as out:
        for n in range(10_000):  # distinct ids; should wrk cycle through them, repeats are answered too
            body, headers = signed(make_event(CATALOG[n % len(CATALOG)].key))
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            raw = (f"POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}content-length: {len(body)}\r\n\r\n"
                   .encode() + body)
            out.write(b"%010d" % len(raw) + raw)
    script = tmp_path / "rotate.lua"
    script.write_text(_LUA % orjson.dumps(str(requests)).decode())
    db = tmp_path / "received.db"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "listen", "--port", str(port), "--db", str(db), "--view", "quiet"],
        env={**os.environ, "CHESTSIM_SECRET": SECRET.reveal()}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    load: subprocess.Popen[str] | None = None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/_chestsim/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        load = subprocess.Popen([wrk, "-t1", "-c64", "-d4s", "-s", str(script), f"http://127.0.0.1:{port}/webhooks"],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)  # while wrk still sends
        report, _ = load.communicate(timeout=60)
        _, err = proc.communicate(timeout=60)
    finally:
        for child in (proc, load):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()
    assert proc.returncode == 0, err
    total = int(re.search(r"(\d+) requests in", report).group(1))  # type: ignore[union-attr]
    found = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", report)
    acknowledged = total - (int(found.group(1)) if found else 0)
    assert acknowledged >= 500, report
    with RecordStore(db) as store:
        recorded = sum(1 for r in store if r.acknowledged)
    assert recorded >= acknowledged, f"wrk saw {acknowledged} acknowledged, {recorded} recorded\n{report}"
