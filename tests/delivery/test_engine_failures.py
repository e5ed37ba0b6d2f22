"""A delivery that raises never hangs the run: each stage of a delivery is made to raise in turn,
and the run must end, each delivery dead-lettered with a reason (found by a hostile-input probe:
a token the client could not encode left ``send --retry none`` waiting forever)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from delivery_sink import SECRET, TOKEN, Sink, make_events

import simulator.delivery._engine as engine_module
from simulator._exceptions import DeliveryError
from simulator._signing import Signer
from simulator.delivery import CurlTransport, Journal, Response, Sender
from simulator.delivery._report import Stats
from simulator.delivery._retry import RetryPolicy

pytestmark = pytest.mark.integration

N = 6


class Boom(RuntimeError):
    """What every patched stage raises; its text must never reach a report or a journal."""

    def __init__(self) -> None:
        super().__init__(f"secret-ish detail {TOKEN}")


def _raise(*args: Any, **kwargs: Any) -> Any:
    raise Boom


class RaisingTransport(CurlTransport):
    """The network client, but every ``send`` raises before anything is written."""

    async def send(self, url: Any, body: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        raise Boom


STAGES: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "sign": lambda mp: mp.setattr(Signer, "headers", _raise),
    "assemble-headers": lambda mp: mp.setattr(engine_module, "request_headers", _raise),
    "journal-delivered": lambda mp: mp.setattr(Journal, "delivered", _raise),
    "journal-attempt": lambda mp: mp.setattr(Journal, "attempt", _raise),
    "journal-outcome": lambda mp: mp.setattr(Journal, "outcome", _raise),
    "retry-schedule": lambda mp: mp.setattr(RetryPolicy, "delay", _raise),
    "count-delivered": lambda mp: mp.setattr(Stats, "delivered", _raise),
}


#: Stages a delivery reaches only after a failed attempt.
FAILED_ONLY = frozenset({"retry-schedule", "journal-attempt", "journal-outcome"})


async def _send(sender: Sender, journal: Path | None = None) -> Any:
    # Bounded: a hang fails here in seconds instead of stalling the suite.
    return await asyncio.wait_for(sender.send_async(make_events(N), journal=journal), 30)


@pytest.mark.parametrize("stage", list(STAGES))
async def test_every_stage_that_raises_dead_letters_and_the_run_ends(
        stage: str, sink: Sink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if stage in FAILED_ONLY:
        sink.default = 500  # asked only after a failed attempt (a delivered one is journalled at once)
    STAGES[stage](monkeypatch)
    report = await _send(Sender(to=[sink.url], secrets=[SECRET], token=TOKEN, retry="none"),
                         tmp_path / "run.db")
    assert report.deliveries == N
    assert report.dead_lettered == N
    assert report.delivered == 0
    (reason,) = report.dead_reasons
    # The dead-letter outcome itself failing to be journalled: the reason it was dead-lettered for stands.
    expected = "retries exhausted" if stage == "journal-outcome" else "chestsim could not deliver it (Boom"
    assert reason.startswith(expected)
    assert TOKEN not in str(report.to_dict())
    monkeypatch.undo()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("run.db*"))
    assert TOKEN.encode() not in raw


async def test_a_transport_that_raises(sink: Sink) -> None:
    report = await _send(Sender(to=[sink.url], retry="none", transport=RaisingTransport()))
    assert (report.deliveries, report.dead_lettered, report.delivered) == (N, N, 0)
    assert sink.received == []


async def test_only_the_raising_deliveries_fail(sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Signer.headers

    def flaky(self: Signer, msg_id: str, body: bytes, **kwargs: Any) -> dict[str, str]:
        if msg_id.endswith(("1", "3")):
            raise Boom
        return real(self, msg_id, body, **kwargs)

    monkeypatch.setattr(Signer, "headers", flaky)
    report = await _send(Sender(to=[sink.url], secrets=[SECRET], retry="none"))
    assert (report.delivered, report.dead_lettered) == (N - 2, 2)
    assert sorted(r.id for r in sink.received) == [f"evt_{i:06d}" for i in (0, 2, 4, 5)]


async def test_a_progress_display_that_raises_is_noted(sink: Sink) -> None:
    report = await _send(Sender(to=[sink.url], progress=_raise, rate=10.0))  # 0.6 s: the display is asked
    assert report.delivered == N
    assert any("progress display failed (Boom)" in note for note in report.notes)


async def test_a_journal_that_cannot_be_written_stops_the_run(
        sink: Sink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Journal, "flush", _raise)
    sink.delay = 0.3  # deliveries still in flight when the journal fails
    with pytest.raises(DeliveryError, match=r"cannot be written \(Boom\)"):
        await _send(Sender(to=[sink.url], concurrency=1), tmp_path / "run.db")


async def test_a_delivery_handed_to_a_worker_cancelled_before_it_ran_is_not_lost() -> None:
    ready = engine_module._Ready(asyncio.get_running_loop())
    first, second = asyncio.create_task(ready.wait()), asyncio.create_task(ready.wait())
    await asyncio.sleep(0)  # both workers wait
    job: Any = object()
    ready.put(job)  # handed to the first worker...
    first.cancel()  # ...which the run stops before it ran
    with pytest.raises(asyncio.CancelledError):
        await first
    assert ready.take() is job  # back among the ready ones, first in line
    assert ready.take() is None
    later: Any = object()
    ready.put(later)  # the second worker still waits and gets the next one
    assert await asyncio.wait_for(second, 5) is later
