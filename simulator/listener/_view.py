"""What ``chestsim listen`` shows while it runs: a Rich live view on a terminal, plain lines otherwise.

Both read the listener's ``Stats`` a few times a second, never per request, so
a flood of webhooks costs the view nothing but its refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import IO

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from simulator.listener._stats import Recent, Stats

__all__ = ["LiveView", "PlainLog", "format_line"]

_STYLE = {"valid": "green", "warning": "yellow", "invalid": "yellow", "leak": "bold red", "unverified": "red",
          "malformed": "magenta", "rejected": "magenta", "incomplete": "magenta", "error": "bold red"}


def format_line(item: Recent, *, injected_ms: float | None = None) -> str:
    """One request as a log line: time, status, verdict, type, id, latency, flags.

    Live, ``item.seconds`` is the whole time to the answer (injected latency included); from a
    record file it is the listener's own handling time, and ``injected_ms`` (what ``--latency``
    added) is shown beside it, named, so that 0.4ms is never mistaken for the answer time.

    >>> format_line(Recent(0.0, 204, "valid", "secret.used", "evt_1", 0.0004, True, False, None))[13:]
    '204 valid      secret.used                    evt_1  0.4ms  duplicate'
    >>> format_line(Recent(0.0, 204, "valid", "secret.used", "evt_1", 0.0004, False, False, None),
    ...             injected_ms=55.2)[13:]
    '204 valid      secret.used                    evt_1  own 0.4ms + 55.2ms injected'
    """
    stamp = time.strftime("%H:%M:%S", time.gmtime(item.received_at)) + f".{int(item.received_at % 1 * 1000):03d}"
    flags = []
    if item.duplicate:
        flags.append("duplicate")
    if item.out_of_order:
        flags.append("out-of-order")
    if item.fault:
        flags.append(f"fault={item.fault}")
    status = str(item.status) if item.status else "---"
    latency = f"{item.seconds * 1000:.1f}ms"
    if injected_ms:
        latency = f"own {latency} + {injected_ms:.1f}ms injected"
    line = f"{stamp} {status} {item.verdict:<10} {item.event_type or '-':<30} {item.webhook_id or '-'}  {latency}"
    return line + ("  " + " ".join(flags) if flags else "")


class PlainLog:
    """One line per request, at most ``per_second`` lines a second; the rest summarized."""

    def __init__(self, stats: Stats, stream: IO[str], *, interval: float = 0.25, per_second: int = 200) -> None:
        self.stats = stats
        self.stream = stream
        self.interval = interval
        self.per_tick = max(1, int(per_second * interval))
        self._printed = stats.requests

    def emit(self) -> None:
        """Print what arrived since the last call."""
        new = self.stats.requests - self._printed
        if new <= 0:
            return
        self._printed = self.stats.requests
        recent = list(self.stats.recent)[-min(new, len(self.stats.recent)):]
        shown = recent[:self.per_tick]
        lines = [format_line(item) for item in shown]
        if new > len(shown):
            lines.append(f"… and {new - len(shown)} more (see /_chestsim/events or `chestsim inspect`)")
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()

    async def run(self, stop: asyncio.Event) -> None:
        """Emit every ``interval`` until ``stop`` is set, then once more."""
        while not stop.is_set():
            self.emit()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
        self.emit()


class LiveView:
    """A Rich live panel: counts per type and verdict, faults, own latency, the last events."""

    def __init__(self, stats: Stats, console: Console, *, url: str, db: str, interval: float = 0.5,
                 last: int = 10) -> None:
        self.stats = stats
        self.console = console
        self.url = url
        self.db = db
        self.interval = interval
        self.last = last

    def render(self) -> Group:
        snap = self.stats.snapshot()
        latency = snap["latency_ms"]
        head = Text.assemble(
            ("chestsim listen ", "bold"), (self.url, "cyan"), f"  → {self.db}\n",
            f"{snap['requests']} requests  {snap['rate_per_s']}/s  "
            f"duplicates {snap['duplicates']}  out-of-order {snap['out_of_order']}  "
            f"own latency p50 {latency['p50']}ms p99 {latency['p99']}ms max {latency['max']}ms")
        verdicts = Table(title="verdicts", show_edge=False)
        verdicts.add_column("verdict")
        verdicts.add_column("count", justify="right")
        for verdict, count in snap["by_verdict"].items():
            verdicts.add_row(Text(verdict, style=_STYLE.get(verdict, "")), str(count))
        for status, count in snap["by_status"].items():
            verdicts.add_row(Text(f"HTTP {status}", style="dim"), str(count))
        for fault, count in snap["by_fault"].items():
            verdicts.add_row(Text(f"fault {fault}", style="yellow"), str(count))
        types = Table(title="event types", show_edge=False)
        types.add_column("type")
        types.add_column("count", justify="right")
        for event_type, count in list(snap["by_type"].items())[:24]:
            types.add_row(event_type, str(count))
        grid = Table.grid(padding=(0, 4))
        grid.add_row(verdicts, types)
        last = Table(title=f"last {self.last}", show_edge=False)
        for column in ("time", "status", "verdict", "type", "webhook-id", "ms", "flags"):
            last.add_column(column)
        for item in list(self.stats.recent)[-self.last:]:
            flags = " ".join(f for f, on in (("dup", item.duplicate), ("ooo", item.out_of_order)) if on)
            if item.fault:
                flags += f" {item.fault}"
            last.add_row(time.strftime("%H:%M:%S", time.gmtime(item.received_at)),
                         str(item.status or "---"), Text(item.verdict, style=_STYLE.get(item.verdict, "")),
                         item.event_type or "-", item.webhook_id or "-", f"{item.seconds * 1000:.1f}",
                         flags.strip())
        return Group(head, grid, last)

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh every ``interval`` until ``stop`` is set."""
        with Live(self.render(), console=self.console, auto_refresh=False, transient=False) as live:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval)
                live.update(self.render(), refresh=True)
