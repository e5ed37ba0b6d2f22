"""The live view and the plain log render what the stats hold; they never show credentials."""

from __future__ import annotations

import asyncio
import io

from rich.console import Console

from simulator.listener import Stats
from simulator.listener._view import LiveView, PlainLog


def _stats(n: int, stats: Stats | None = None) -> Stats:
    stats = stats or Stats(clock=lambda: 100.0)
    for i in range(n):
        stats.observe(status=204 if i % 3 else 401, verdict="valid" if i % 3 else "unverified",
                      event_type="secret.used", webhook_id=f"evt_{i}", duplicate=i == 4,
                      out_of_order=i == 5, fault="fail" if i == 7 else None, seconds=0.001,
                      received_at=100.0 + i, signature="ok" if i % 3 else "mismatch")
    return stats


def test_plain_log_prints_one_line_per_request_then_summarizes() -> None:
    stats = Stats(clock=lambda: 100.0)
    out = io.StringIO()
    log = PlainLog(stats, out, interval=0.25, per_second=8)
    _stats(3, stats)
    log.emit()
    assert len(out.getvalue().splitlines()) == 3
    for i in range(3, 20):
        stats.observe(status=204, verdict="valid", event_type="user.created", webhook_id=f"evt_{i}",
                      duplicate=False, out_of_order=False, fault=None, seconds=0.002, received_at=200.0)
    log.emit()
    lines = out.getvalue().splitlines()[3:]
    assert len(lines) == 3
    assert lines[-1].startswith("… and 15 more")
    log.emit()
    assert len(out.getvalue().splitlines()) == 6


def test_plain_log_flags() -> None:
    out = io.StringIO()
    stats = Stats(clock=lambda: 100.0)
    log = PlainLog(stats, out)
    _stats(8, stats)
    log.emit()
    text = out.getvalue()
    assert "duplicate" in text
    assert "out-of-order" in text
    assert "fault=fail" in text


async def test_live_view_renders_and_stops() -> None:
    out = io.StringIO()
    view = LiveView(_stats(12), Console(file=out, width=140, force_terminal=True), url="http://127.0.0.1:1/webhooks",
                    db="received.db", interval=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(view.run(stop))
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, 5)
    text = out.getvalue()
    assert "secret.used" in text
    assert "unverified" in text
    assert "12 requests" in text
