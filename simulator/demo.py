"""``make demo``: the whole pipeline on embedded defaults, with the commands it runs printed.

1. generate a small tenant's business day (``tenant-day``, 25 users, seed 7),
2. validate it: schemas, semantic rules, leak guard and sequence rules,
3. start ``chestsim listen`` on a free loopback port with a fresh signing secret,
4. ``chestsim send`` the day to it, signed and journaled,
5. ``chestsim inspect`` what the listener recorded.

Everything lands in ``demo-out/`` (``chestsim demo --out DIR`` to choose); nothing leaves the machine. The secret
travels through ``CHESTSIM_SECRET`` and is never printed.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from simulator._signing import SigningSecret
from simulator.listener import free_port

OUT = Path("demo-out")


def _chestsim(*args: str, env: dict[str, str] | None = None) -> None:
    print(f"\n$ chestsim {shlex.join(args)}", flush=True)
    proc = subprocess.run([sys.executable, "-m", "simulator", *args], env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"demo: `chestsim {args[0]}` exited {proc.returncode}")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"demo: the listener exited early ({proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("demo: the listener did not come up within 20 s")


def main(out: Path = OUT) -> int:
    """Run the demo, its files in ``out``; return the exit code."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("tenant-day.jsonl", "run.db", "received.db"):
        for path in out.glob(stale + "*"):
            path.unlink()
    day, journal, received = out / "tenant-day.jsonl", out / "run.db", out / "received.db"
    env = {**os.environ, "CHESTSIM_SECRET": SigningSecret.generate().reveal()}

    _chestsim("generate", "tenant-day", "--users", "25", "--seed", "7", "--out", str(day))
    _chestsim("validate", "--sequence", str(day))

    port = free_port()
    listen_args = ["listen", "--port", str(port), "--db", str(received)]
    print(f"\n$ chestsim {shlex.join(listen_args)} &", flush=True)
    listener = subprocess.Popen([sys.executable, "-m", "simulator", *listen_args], env=env,
                                stdout=subprocess.DEVNULL)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/_chestsim/stats", listener)
        _chestsim("send", str(day), "--to", f"http://127.0.0.1:{port}/webhooks",
                  "--journal", str(journal), env=env)
    finally:
        listener.send_signal(signal.SIGTERM)
        try:
            listener.wait(timeout=20)
        except subprocess.TimeoutExpired:
            listener.kill()
    _chestsim("inspect", str(received))
    print(f"\ndemo: files in {out}/ — the stream, the sender's journal and the listener's records.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
