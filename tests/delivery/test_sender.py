"""The engine against a real scripted sink on loopback: signing, routing, retries, 410,
ordering, pacing, journal contents."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import standardwebhooks
from delivery_sink import SECRET, TOKEN, Sink, make_events, write_jsonl

import simulator.delivery as delivery
from simulator._exceptions import EndpointConfigError, InputError, UsageError
from simulator._signing import SigningSecret, verify
from simulator._version import __version__
from simulator.delivery import Endpoint, Journal, Sender

pytestmark = pytest.mark.integration

FAST = {"retry": "1s,1s,1s", "time_scale": 0.01, "seed": 1}


def test_headers_body_and_signature(sink: Sink, tmp_path: Path) -> None:
    events = make_events(10)
    path = write_jsonl(tmp_path / "e.jsonl", events)
    lines = path.read_bytes().splitlines()
    report = delivery.send(str(path), to=[sink.url], secrets=[SECRET], token=TOKEN)
    assert report.delivered == 10
    assert report.ok
    wh = standardwebhooks.Webhook(SECRET)
    by_id = {r.id: r for r in sink.received}
    for event, line in zip(events, lines, strict=True):
        got = by_id[event["id"]]
        assert got.body == line
        assert got.headers["content-type"] == "application/json"
        assert got.headers["user-agent"] == f"chestsim/{__version__}"
        assert got.headers["authorization"] == f"Bearer {TOKEN}"
        assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
        assert wh.verify(got.body, got.headers) == event
        assert verify(got.headers, got.body, [SigningSecret(SECRET)]) == event["id"]


def test_rotation_sends_two_signatures(sink: Sink) -> None:
    other = SigningSecret.generate().reveal()
    delivery.send(make_events(1), to=[sink.url], secrets=[SECRET, other])
    signature = sink.received[0].headers["webhook-signature"].split()
    assert len(signature) == 2
    standardwebhooks.Webhook(other).verify(sink.received[0].body, sink.received[0].headers)


def test_unsigned_without_secret(sink: Sink) -> None:
    delivery.send(make_events(1), to=[sink.url])
    assert "webhook-signature" not in sink.received[0].headers
    assert "authorization" not in sink.received[0].headers


def test_bad_signature_and_clock_skew(sink: Sink) -> None:
    delivery.send(make_events(2), to=[sink.url], secrets=[SECRET], bad_signature=True, clock_skew=-600)
    for got in sink.received:
        with pytest.raises(standardwebhooks.WebhookVerificationError):
            standardwebhooks.Webhook(SECRET).verify(got.body, got.headers)
        assert int(got.headers["webhook-timestamp"]) < time.time() - 500


def test_routing_subscriptions_and_select_all(sink: Sink) -> None:
    base = f"http://127.0.0.1:{sink.port}"
    eps = [Endpoint.from_url(f"{base}/used", name="used", events=["Secret Used"]),
           Endpoint.from_url(f"{base}/all", name="all", events="Select all"),
           Endpoint.from_url(f"{base}/users", name="users", events=["user.created", "user.deleted"])]
    events = make_events(40)
    report = delivery.send(events, endpoints=eps, types=["secret.used", "user.created", "group.created"])
    paths: dict[str, set[str]] = {}
    for r in sink.received:
        paths.setdefault(r.path, set()).add(r.id)
    kinds = {e["id"]: e["type"] for e in events}
    assert {kinds[i] for i in paths["/used"]} == {"secret.used"}
    assert {kinds[i] for i in paths["/users"]} == {"user.created"}
    assert {kinds[i] for i in paths["/all"]} == {"secret.used", "user.created", "group.created"}
    assert report.skipped == 10
    assert report.deliveries == 30 + 10 + 10
    assert report.per_endpoint["used"]["delivered"] == 10


def test_unrouted_counted(sink: Sink) -> None:
    ep = Endpoint.from_url(sink.url, events=["scim.updated"])
    report = delivery.send(make_events(5), endpoints=[ep])
    assert report.unrouted == 5
    assert report.deliveries == 0
    assert not sink.received


def test_retries_500_429_reset_timeout(sink: Sink, tmp_path: Path) -> None:
    sink.hang_for = 2.0
    sink.script = {"evt_000000": [500, 502], "evt_000001": [(429, "1")], "evt_000002": ["reset"],
                   "evt_000003": ["hang"], "evt_000004": [(503, "2"), 500]}
    started = time.monotonic()
    report = delivery.send(make_events(6), to=[sink.url], journal=tmp_path / "j.db", timeout=0.5, **FAST)
    assert report.delivered == 6
    assert report.retried == 5
    assert report.attempts == 6 + 2 + 1 + 1 + 1 + 2
    assert time.monotonic() - started < 10
    ids = sink.ids()
    for msg_id, tries in {"evt_000000": 3, "evt_000001": 2, "evt_000002": 2, "evt_000003": 2, "evt_000004": 3}.items():
        assert ids.count(msg_id) == tries
    with sqlite3.connect(tmp_path / "j.db") as db:
        errors = [r[0] for r in db.execute("SELECT error FROM attempts WHERE outcome='retry' ORDER BY rowid")]
        assert any("timeout" in (e or "") for e in errors)
        assert any(e == "HTTP 429" for e in errors)


def test_retry_after_is_honoured(sink: Sink) -> None:
    sink.script = {"evt_000000": [(429, "30")]}
    delivery.send(make_events(1), to=[sink.url], retry="1s", time_scale=0.01, jitter=0.0)
    first, second = sink.received
    assert second.at - first.at >= 0.25  # 30 s × 0.01, not the 1 s schedule × 0.01


def test_exhausted_is_dead_lettered(sink: Sink, tmp_path: Path) -> None:
    sink.script = {"evt_000001": [500, 500, 500, 500, 500]}
    report = delivery.send(make_events(3), to=[sink.url], journal=tmp_path / "j.db", **FAST)
    assert report.delivered == 2
    assert report.dead_lettered == 1
    assert not report.ok
    assert list(report.dead_reasons) == ["retries exhausted after 4 attempts (last: HTTP 500)"]
    jr = Journal.open(tmp_path / "j.db")
    assert jr.counts() == {"events": 3, "delivered": 2, "dead": 1, "pending": 0}
    jr.close()


def test_redirect_is_a_failure_not_followed(sink: Sink) -> None:
    sink.script = {"evt_000000": [302]}
    report = delivery.send(make_events(1), to=[sink.url], **FAST)
    assert [r.path for r in sink.received] == ["/hook", "/hook"]
    assert report.retried == 1


def test_410_disables_endpoint_and_dead_letters_rest(sink: Sink, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{sink.port}"
    sink.script = {"evt_000005": [410]}
    sink.default = 204
    gone = Endpoint.from_url(f"{base}/gone", name="gone")
    ok = Endpoint.from_url(f"{base}/ok", name="ok")
    # Ordered with concurrency 1: everything after the 410 never reaches "gone".
    report = delivery.send(make_events(20), endpoints=[gone, ok], concurrency=1, journal=tmp_path / "j.db",
                           retry="1h", time_scale=1.0)
    to_gone = [r for r in sink.received if r.path == "/gone"]
    assert report.disabled_endpoints == {"gone": "410 Gone: the endpoint asked to be disabled"}
    assert report.per_endpoint["ok"]["delivered"] + sum(1 for r in to_gone if r.id == "evt_000005") >= 20
    assert report.dead_lettered == 20 - len([r for r in to_gone if r.answered == 204])
    jr = Journal.open(tmp_path / "j.db")
    assert jr.endpoint_rows()[0]["disabled"]
    assert jr.counts()["pending"] == 0
    jr.close()


def test_410_cuts_long_retry_waits_short(sink: Sink) -> None:
    sink.script = {"evt_000000": [500], "evt_000001": [410]}
    started = time.monotonic()
    report = delivery.send(make_events(2), to=[sink.url], concurrency=1, retry="1h")
    assert time.monotonic() - started < 10
    assert report.dead_lettered == 2


def test_ordered_fifo_per_tenant_despite_retries(sink: Sink) -> None:
    sink.script = {f"evt_{i:06d}": [500, 503] for i in range(0, 60, 7)}
    events = make_events(60)
    report = delivery.send(events, to=[sink.url], ordered=True, concurrency=16, **FAST)
    assert report.delivered == 60
    tenant = {e["id"]: (e["tenant_id"], e["data"]["seq"]) for e in events}
    seen: dict[str, list[int]] = {}
    for msg_id in sink.ids(ok_only=True):
        t, seq = tenant[msg_id]
        seen.setdefault(t, []).append(seq)
    for seqs in seen.values():
        assert seqs == sorted(seqs)


def test_ordered_by_secret_key(sink: Sink) -> None:
    events = make_events(30)
    delivery.send(events, to=[sink.url], ordered=True, order_key="secret", concurrency=8)
    secret_of = {e["id"]: e["data"]["secret_id"] for e in events}
    order: dict[str, list[str]] = {}
    for msg_id in sink.ids():
        order.setdefault(secret_of[msg_id], []).append(msg_id)
    assert all(ids == sorted(ids) for ids in order.values())


def test_rate_pacing(sink: Sink) -> None:
    started = time.monotonic()
    report = delivery.send(make_events(20), to=[sink.url], rate=100.0)
    assert time.monotonic() - started >= 0.15
    assert report.delivered == 20


def test_recorded_pacing_with_speed(sink: Sink) -> None:
    events = make_events(5, step=1.0)  # 4 s of recorded time: one event every 50 ms at speed 20
    started = time.monotonic()
    delivery.send(events, to=[sink.url], pace="recorded", speed=20.0, concurrency=1)
    # Lower bounds only: no event arrives before its place in the recorded time (a busy machine
    # may delay some and let the pacer catch up, so gaps between two arrivals prove nothing).
    offsets = [r.at - started for r in sink.received]
    assert len(offsets) == 5
    assert all(offset >= k * 0.05 - 0.005 for k, offset in enumerate(offsets))


def test_per_endpoint_concurrency(sink: Sink) -> None:
    sink.delay = 0.05
    ep = Endpoint.from_url(sink.url, concurrency=1)
    started = time.monotonic()
    delivery.send(make_events(6), endpoints=[ep], concurrency=16)
    assert time.monotonic() - started >= 0.3


def test_journal_holds_bodies_and_no_secrets(sink: Sink, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "e.jsonl", make_events(12))
    journal = tmp_path / "run.db"
    sink.script = {"evt_000002": [500]}
    report = delivery.send(str(path), to=[sink.url], secrets=[SECRET], token=TOKEN, journal=journal, **FAST)
    assert report.journal == str(journal)
    with sqlite3.connect(journal) as db:
        bodies = [r[0] for r in db.execute("SELECT body FROM events ORDER BY seq")]
        assert bodies == path.read_bytes().splitlines()
        assert db.execute("SELECT count(*) FROM attempts").fetchone()[0] == 13
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("run.db*"))
    for needle in (SECRET, SECRET.removeprefix("whsec_"), TOKEN):
        assert needle.encode() not in raw
    assert SECRET not in report.render()
    assert TOKEN not in orjson.dumps(report.to_dict()).decode()


def test_journal_refuses_overwrite(sink: Sink, tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    delivery.send(make_events(1), to=[sink.url], journal=journal)
    with pytest.raises(Exception, match="already exists"):
        delivery.send(make_events(1), to=[sink.url], journal=journal)


def test_broken_line_stops_and_resume_sends_nothing_twice(sink: Sink, tmp_path: Path) -> None:
    events = make_events(1200)
    lines = [orjson.dumps(e) for e in events]
    lines[1000] = b'{"id": "evt_broken", '
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    journal = tmp_path / "run.db"
    with pytest.raises(InputError, match=r"e\.jsonl:1001: not valid JSON") as info:
        delivery.send(str(path), to=[sink.url], journal=journal)
    assert info.value.line == 1001
    assert sorted(sink.ids()) == [e["id"] for e in events[:1000]]
    lines[1000] = orjson.dumps(events[1000])
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = Sender(to=[sink.url]).resume(journal)
    assert report.delivered == 200
    assert sorted(sink.ids()) == [e["id"] for e in events]


def test_unknown_type_line(tmp_path: Path, sink: Sink) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text('{"id": "a", "type": "secret.usd", "tenant_id": "t", "data": {}}\n')
    with pytest.raises(InputError, match=r"e\.jsonl:1: unknown event type 'secret\.usd'"):
        delivery.send(str(path), to=[sink.url])


@pytest.mark.parametrize(("kwargs", "fragment"), [
    pytest.param({}, "no endpoint", id="no-endpoint"),
    pytest.param({"to": [""], "concurrency": 0}, "URL", id="empty-url"),
    pytest.param({"to": ["http://127.0.0.1/h"], "concurrency": 0}, "--concurrency", id="zero-concurrency"),
    pytest.param({"to": ["http://127.0.0.1/h"], "pace": "rate"}, "needs --rate", id="rate-without-rate"),
    pytest.param({"to": ["http://127.0.0.1/h"], "speed": 0}, "--speed", id="zero-speed"),
    pytest.param({"to": ["http://127.0.0.1/h"], "secrets": ["nope"]}, "whsec_", id="bad-secret"),
    pytest.param({"to": ["http://127.0.0.1/h"], "retry": "sometimes"}, "--retry", id="bad-retry"),
    pytest.param({"to": ["http://127.0.0.1/h"], "timeout": 0}, "--timeout", id="zero-timeout"),
])
def test_bad_options(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises((UsageError, EndpointConfigError), match=fragment):
        delivery.send(make_events(1), **kwargs)


async def test_send_async_inside_loop(sink: Sink) -> None:
    report = await Sender(to=[sink.url]).send_async(make_events(3))
    assert report.delivered == 3
    with pytest.raises(UsageError, match="running event loop"):
        delivery.send(make_events(1), to=[sink.url])


def test_replay_failed_then_in_place(sink: Sink, tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    sink.script = {"evt_000003": [500, 500], "evt_000004": [500, 500]}
    first = delivery.send(make_events(8), to=[sink.url], journal=journal, retry="1s", time_scale=0.01)
    assert first.dead_lettered == 2
    before = len(sink.received)
    again = Sender(to=[sink.url]).replay(journal, failed=True)
    assert (again.delivered == 2 and sink.ids()[before:] == ["evt_000003", "evt_000004"]) or \
        sorted(sink.ids()[before:]) == ["evt_000003", "evt_000004"]
    jr = Journal.open(journal)
    assert jr.counts() == {"events": 8, "delivered": 8, "dead": 0, "pending": 0}
    jr.close()
    # Nothing failed any more; a replay by id and type goes through the journal's own endpoint.
    assert Sender().replay(journal, failed=True).deliveries == 0
    by_id = Sender().replay(journal, ids=["evt_000001"])
    assert by_id.delivered == 1
    assert sink.ids()[-1] == "evt_000001"
    by_type = Sender().replay(journal, types=["Secret Used"])
    assert by_type.delivered == 2


def test_replay_to_new_url_with_record(sink: Sink, tmp_path: Path) -> None:
    journal = tmp_path / "run.db"
    events = make_events(10, step=60.0)
    delivery.send(events, to=[sink.url], journal=journal)
    other = f"http://127.0.0.1:{sink.port}/other"
    since = events[3]["timestamp"]
    until = events[6]["timestamp"]
    from datetime import datetime
    report = Sender(to=[other]).replay(journal, since=datetime.fromisoformat(since).timestamp(),
                                       until=datetime.fromisoformat(until).timestamp(),
                                       record=tmp_path / "replay.db")
    assert report.delivered == 3
    assert [r.id for r in sink.received if r.path == "/other"] == ["evt_000003", "evt_000004", "evt_000005"]
    jr = Journal.open(tmp_path / "replay.db")
    assert jr.counts()["delivered"] == 3
    jr.close()


def test_progress_says_how_many_wait_to_retry_and_when(sink: Sink) -> None:
    from simulator.delivery import Progress

    seen: list[Progress] = []
    sink.script = {"evt_000000": [500]}
    report = delivery.send(make_events(3), to=[sink.url], retry="1s", jitter=0.0, progress=seen.append)
    assert report.delivered == 3
    waiting = [p for p in seen if p.waiting]
    assert waiting, seen
    assert all(p.waiting == 1 and p.next_retry_in is not None and p.next_retry_in <= 1.0 for p in waiting)
    assert waiting[0].describe().startswith("1 waiting to retry, next in ")
    assert seen[-1].waiting == 0 or seen[-1].done < 3


def test_a_file_is_read_on_the_loop_and_a_pipe_on_a_thread(
        sink: Sink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A regular file never makes the reader wait, so its batches are parsed on the loop; a pipe's
    writer may stall, so its batches are read on a thread and deliveries in flight go on."""
    import asyncio
    import os
    import threading

    from simulator.delivery._input import read_batches

    events = make_events(1300)  # three batches
    path = write_jsonl(tmp_path / "e.jsonl", events)
    handed: list[object] = []
    original = asyncio.BaseEventLoop.run_in_executor

    def counting(self: asyncio.BaseEventLoop, executor: Any, func: Any, *args: Any) -> Any:
        handed.append(func)
        return original(self, executor, func, *args)

    monkeypatch.setattr(asyncio.BaseEventLoop, "run_in_executor", counting)
    batches = read_batches(path)
    assert getattr(batches, "never_waits", None) is True
    batches.close()  # type: ignore[attr-defined]
    report = Sender(to=[sink.url], secrets=[SECRET], **FAST).send(path)
    assert report.delivered == 1300
    assert handed == []

    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(path.read_bytes()))
    writer.start()
    try:
        report = Sender(to=[sink.url], secrets=[SECRET], **FAST).send(fifo)
    finally:
        writer.join(10)
    assert report.delivered == 1300
    assert len(handed) >= 3  # each batch and the end of the input, from the thread


def test_a_file_read_on_the_loop_lets_deliveries_start_between_batches(
        sink: Sink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read on the loop, a file must not be parsed to its end before the first delivery goes out
    (three batches, all routed, fit in the pending window: nothing else makes the reader wait)."""
    from collections.abc import Iterator, Mapping

    import simulator.delivery._sender as sender_module
    from simulator.delivery import CurlTransport, Response
    from simulator.delivery._input import read_batches

    path = write_jsonl(tmp_path / "e.jsonl", make_events(1300))
    read: list[int] = []
    at_first_send: list[int] = []

    class Counted:
        def __init__(self, batches: Any) -> None:
            self._batches, self.never_waits = batches, batches.never_waits

        def __iter__(self) -> Iterator[Any]:
            return self

        def __next__(self) -> Any:
            batch = next(self._batches)
            read.append(len(batch))
            return batch

        def close(self) -> None:
            self._batches.close()

    class Watching(CurlTransport):
        async def send(self, url: Any, body: bytes, headers: Mapping[str, str], timeout: float) -> Response:
            if not at_first_send:
                at_first_send.append(len(read))
            return await super().send(url, body, headers, timeout)

    monkeypatch.setattr(sender_module, "read_batches", lambda *a, **k: Counted(read_batches(*a, **k)))
    report = Sender(to=[sink.url], transport=Watching(), **FAST).send(path)
    assert report.delivered == 1300
    assert len(read) == 3
    assert at_first_send == [1]
