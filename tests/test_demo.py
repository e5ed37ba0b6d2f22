"""``make demo`` end to end: generate, validate, listen, send, inspect — in a scratch folder."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.integration
def test_demo_delivers_every_generated_event(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "simulator", "demo", "--out", "out/demo"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = tmp_path / "out" / "demo"
    generated = (out / "tenant-day.jsonl").read_bytes().count(b"\n")
    assert generated > 100
    db = sqlite3.connect(out / "received.db")
    try:
        tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    finally:
        db.close()
    assert tables, "listener wrote no records"
    assert f"{generated} valid" in proc.stdout
    assert f"{generated} distinct" in proc.stdout
    assert "whsec_" not in proc.stdout + proc.stderr
