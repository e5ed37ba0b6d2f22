"""The webhook lane (``_lane.py``) and aiohttp's road answer alike, and hand connections over cleanly.

A request written in one piece takes the lane; the same request with its head
and body written apart (two reads) takes aiohttp's road. Each case of the
table is sent both ways and must get the same status, verdict headers, body
and record.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from listener_helpers import SECRET, make_event, signed

from simulator.listener import Listener, RecordStore, RunningListener, run_listener
from simulator.listener._faults import FaultRule
from simulator.listener._limits import ConnectionGuard, Limits

pytestmark = pytest.mark.integration

Answer = tuple[int, dict[str, str], bytes]


def _request(url_path: str, body: bytes, headers: dict[str, str], *, method: str = "POST") -> tuple[bytes, bytes]:
    lines = [f"{method} {url_path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items()),
             f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), body


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    size = int(headers.get("content-length", "0"))
    body = await asyncio.wait_for(reader.readexactly(size), 10) if size else b""
    return int(status_line.split()[1]), headers, body


async def _exchange(running: RunningListener, writes: list[bytes], answers: int) -> list[Answer]:
    """Send ``writes`` on one connection, each as its own read, and read ``answers`` answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    try:
        for data in writes:
            writer.write(data)
            await writer.drain()
            await asyncio.sleep(0.05)  # the next write arrives as another read
        return [await _read_answer(reader) for _ in range(answers)]
    finally:
        writer.close()
        await writer.wait_closed()


def _lane_answers(running: RunningListener) -> int:
    return int(running.snapshot()["connections"]["lane_answers"])


def _seen(answer: Answer) -> tuple[int, dict[str, str], Any]:
    status, headers, body = answer
    kept = {k: v for k, v in headers.items() if k.startswith("x-chestsim") or k in ("content-type", "retry-after")}
    return status, kept, orjson.loads(body) if body else None


def _valid() -> tuple[bytes, dict[str, str]]:
    return signed(make_event())


def _bad_signature() -> tuple[bytes, dict[str, str]]:
    body, headers = signed(make_event())
    return body, {**headers, "webhook-signature": "v1,AAAA"}


def _wrong_type() -> tuple[bytes, dict[str, str]]:
    return signed(make_event(), content_type="text/plain")


def _malformed() -> tuple[bytes, dict[str, str]]:
    return signed(b"{not json")


def _invalid() -> tuple[bytes, dict[str, str]]:
    event = make_event()
    event["data"]["shard_map"]["threshold"] = 99
    return signed(event)


CASES = {"valid": _valid, "bad-signature": _bad_signature, "wrong-content-type": _wrong_type,
         "malformed": _malformed, "invalid": _invalid}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
async def test_the_lane_and_aiohttps_road_answer_and_record_alike(listener: RunningListener, case: str) -> None:
    sent = [CASES[case](), CASES[case]()]  # alike, with their own ids
    head, payload = _request("/webhooks?tenant=7", *sent[0])
    whole = (await _exchange(listener, [head + payload], 1))[0]
    assert _lane_answers(listener) == 1
    head, payload = _request("/webhooks?tenant=7", *sent[1])
    split = (await _exchange(listener, [head, payload], 1))[0]
    assert _lane_answers(listener) == 1
    assert _seen(whole) == _seen(split)
    records = listener.records()
    for record, (body, headers) in zip(records, sent, strict=True):
        assert (record.webhook_id, record.body) == (headers["webhook-id"], body)
        assert record.headers["webhook-signature"] == "[redacted]"
    for name in ("status", "verdict", "signature", "reason", "problems", "path", "attempt", "duplicate"):
        assert getattr(records[0], name) == getattr(records[1], name), name


async def test_a_redelivery_is_flagged_on_either_road(listener: RunningListener) -> None:
    head, payload = _request("/webhooks", *_valid())
    answers = [(await _exchange(listener, writes, 1))[0] for writes in ([head + payload], [head, payload])]
    assert "x-chestsim-duplicate" not in answers[0][1]
    assert answers[1][1]["x-chestsim-duplicate"] == "1"
    assert [r.duplicate for r in listener.records()] == [False, True]


async def test_a_lane_connection_is_handed_to_aiohttp_for_the_page_and_its_api(listener: RunningListener) -> None:
    webhook = b"".join(_request("/webhooks", *_valid()))
    health = _request("/_chestsim/health", b"", {}, method="GET")[0]
    answers = await _exchange(listener, [webhook, health, webhook], 3)
    assert [a[0] for a in answers] == [204, 200, 204]
    assert _lane_answers(listener) == 1  # aiohttp keeps the connection once it has it
    assert orjson.loads(answers[1][2])["ok"] is True
    assert answers[2][1]["x-chestsim-duplicate"] == "1"
    assert len(listener.records()) == 2


async def test_requests_in_one_read_are_answered_in_order(listener: RunningListener) -> None:
    valid = b"".join(_request("/webhooks", *_valid()))
    bad = b"".join(_request("/webhooks", *_bad_signature()))
    answers = await _exchange(listener, [valid + bad + valid], 3)
    assert [a[0] for a in answers] == [204, 401, 204]
    assert _lane_answers(listener) == 0
    assert [r.status for r in listener.records()] == [204, 401, 204]


async def test_a_read_holding_a_request_and_the_start_of_the_next_goes_to_aiohttp(listener: RunningListener) -> None:
    first, second, third = (b"".join(_request("/webhooks", *_valid())) for _ in range(3))
    answers = await _exchange(listener, [first + second[:40], second[40:]], 2)
    assert [a[0] for a in answers] == [204, 204]
    assert _lane_answers(listener) == 0
    # The lane's parser starts afresh: the next plain request, on another connection, is read whole.
    assert (await _exchange(listener, [third], 1))[0][0] == 204
    assert _lane_answers(listener) == 1
    assert [r.headers["host"] for r in listener.records()] == ["127.0.0.1"] * 3


class _Transport:
    def __init__(self) -> None:
        self.paused = False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def is_closing(self) -> bool:
        return False


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.paused = False

    def pause_writing(self) -> None:
        self.paused = True

    def data_received(self, data: bytes) -> None:
        self.received.append(data)


class _Lane:
    """Takes what starts with POST, and owes its answer until told."""

    def take(self, connection: Any, data: bytes) -> bool:
        if data.startswith(b"POST"):
            connection.pending += 1
            return True
        return False


async def test_what_arrives_while_the_lane_owes_an_answer_waits_for_it() -> None:
    inner = _Protocol()
    guard = ConnectionGuard(Limits(10, 10, 10, 10), on_expired=lambda *_: None, lane=_Lane())  # type: ignore[arg-type]
    connection = guard.protocol_factory(lambda: inner)()
    transport = _Transport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    connection.data_received(b"POST /webhooks")
    connection.data_received(b"GET /_chestsim/ ")
    connection.data_received(b"HTTP/1.1")
    assert (inner.received, transport.paused) == ([], True)
    connection.answered()  # type: ignore[attr-defined]
    assert (inner.received, transport.paused) == ([b"GET /_chestsim/ ", b"HTTP/1.1"], False)
    connection.data_received(b"POST /webhooks")  # aiohttp keeps the connection
    assert inner.received[-1] == b"POST /webhooks"


async def test_a_sender_that_does_not_read_its_answers_is_not_read_either() -> None:
    inner = _Protocol()
    guard = ConnectionGuard(Limits(10, 10, 10, 10), on_expired=lambda *_: None, lane=_Lane())  # type: ignore[arg-type]
    connection = guard.protocol_factory(lambda: inner)()
    transport = _Transport()
    connection.connection_made(transport)  # type: ignore[arg-type]
    connection.pause_writing()
    assert transport.paused
    connection.resume_writing()
    assert not transport.paused
    # Full while an answer is owed and a request for aiohttp waits: reading resumes with aiohttp.
    connection.data_received(b"POST /webhooks")
    connection.data_received(b"GET /_chestsim/ HTTP/1.1")
    connection.pause_writing()
    connection.resume_writing()
    assert transport.paused  # still waiting for the lane's answer
    connection.pause_writing()
    connection.answered()  # type: ignore[attr-defined]
    assert (inner.received, inner.paused, transport.paused) == ([b"GET /_chestsim/ HTTP/1.1"], True, False)


async def test_other_methods_paths_and_http_versions_take_aiohttps_road(listener: RunningListener) -> None:
    body, headers = _valid()
    closing = b"".join(_request("/webhooks", body, {**headers, "Connection": "close"}))
    answers = await _exchange(listener, [b"".join(_request("/webhooks/x", body, headers))], 1)
    assert answers[0][0] == 404
    answers = await _exchange(listener, [b"".join(_request("/webhooks", b"", {}, method="PUT"))], 1)
    assert answers[0][0] == 405
    old = b"".join(_request("/webhooks", *_valid())).replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    assert (await _exchange(listener, [old], 1))[0][0] == 204
    assert (await _exchange(listener, [closing], 1))[0][0] == 204
    assert [r.verdict for r in listener.records()] == ["valid", "valid"]
    assert _lane_answers(listener) == 0


async def test_with_faults_every_request_takes_aiohttps_road(db: Path) -> None:
    config = Listener(secrets=(SECRET,), db=db, faults=(FaultRule(fail_rate=1.0),))
    async with run_listener(config) as running:
        answers = await _exchange(running, [b"".join(_request("/webhooks", *_valid()))], 1)
        assert answers[0][0] == 500
        assert _lane_answers(running) == 0
        with RecordStore(db) as store:
            assert [r.fault for r in store.records()] == ["fail"]
