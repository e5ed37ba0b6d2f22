"""Hostile and broken requests: each gets a 4xx, is recorded, and the server stays up."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import aiohttp
import pytest
from listener_helpers import SECRET, Post, make_event, signed

from simulator.listener import Listener, RunningListener, run_listener

pytestmark = pytest.mark.integration


async def _alive(client: aiohttp.ClientSession, running: RunningListener, post: Post) -> None:
    async with client.get(running.base_url + "/_chestsim/health") as response:
        assert response.status == 200
    assert (await post(running.url, *signed(make_event())))[0] == 204


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json at all", id="text"),
        pytest.param(b'{"id": "evt_1", "type": ', id="truncated"),
        pytest.param(b"\xff\xfe\x00garbage", id="binary"),
        pytest.param(b"", id="empty"),
    ],
)
async def test_non_json_bodies_get_400_malformed(listener: RunningListener, post: Post,
                                                 client: aiohttp.ClientSession, body: bytes) -> None:
    status, _, payload = await post(listener.url, *signed(body))
    assert status == 400
    assert payload["verdict"] == "malformed"
    [record] = listener.records()
    assert (record.status, record.verdict, record.body) == (400, "malformed", body)
    assert record.problems[0]["code"] == "json"
    await _alive(client, listener, post)


async def test_json_that_is_not_an_object_is_invalid(listener: RunningListener, post: Post) -> None:
    status, headers, _ = await post(listener.url, *signed(b"[1, 2, 3]"))
    assert (status, headers["x-chestsim-verdict"]) == (204, "invalid")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_ten_megabyte_body_gets_413(listener: RunningListener, post: Post,
                                          client: aiohttp.ClientSession, chunked: bool) -> None:
    body = b'{"pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    _, headers = signed(b"{}")

    async def chunks() -> object:
        for start in range(0, len(body), 1 << 20):
            yield body[start:start + (1 << 20)]

    data = chunks() if chunked else io.BytesIO(body)
    async with client.post(listener.url, data=data, headers=headers) as response:
        assert response.status == 413
        assert (await response.json())["verdict"] == "rejected"
    [record] = listener.records()
    assert (record.status, record.verdict, record.body) == (413, "rejected", None)
    await _alive(client, listener, post)


async def test_max_body_is_configurable(db: Path, post: Post) -> None:
    async with run_listener(Listener(secrets=(SECRET,), db=db, max_body=2048)) as running:
        event = make_event()
        event["data"]["padding"] = "x" * 4096
        assert (await post(running.url, *signed(event)))[0] == 413
        assert (await post(running.url, *signed(make_event())))[0] == 204


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""],
    ids=["text", "form", "multipart", "none"],
)
async def test_wrong_content_type_gets_415(listener: RunningListener, post: Post,
                                           client: aiohttp.ClientSession, content_type: str) -> None:
    body, headers = signed(make_event(), content_type=content_type)
    if not content_type:
        del headers["content-type"]
    async with client.post(listener.url, data=body, headers=headers,
                           skip_auto_headers=["Content-Type"]) as response:
        assert response.status == 415
    [record] = listener.records()
    assert (record.status, record.verdict) == (415, "rejected")
    await _alive(client, listener, post)


async def test_json_with_charset_is_fine(listener: RunningListener, post: Post) -> None:
    body, headers = signed(make_event(), content_type="application/json; charset=utf-8")
    assert (await post(listener.url, body, headers))[0] == 204


async def _raw(running: RunningListener, request: bytes) -> bytes:
    """Send raw bytes on a fresh connection; return what came back (bounded in time)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(b"X-Huge: " + b"a" * 100_000 + b"\r\n", id="100kB-header-value"),
        pytest.param(b"".join(b"X-H%d: v\r\n" % i for i in range(500)), id="500-headers"),
        pytest.param(b"X-" + b"n" * 20_000 + b": v\r\n", id="20kB-header-name"),
        pytest.param(b"Bad Header Without Colon\r\n", id="no-colon"),
    ],
)
async def test_absurd_headers_get_400_and_are_recorded(listener: RunningListener, post: Post,
                                                       client: aiohttp.ClientSession, headers: bytes) -> None:
    request = (b"POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               + headers + b"Content-Length: 2\r\n\r\n{}")
    answer = await _raw(listener, request)
    assert answer[:9] in (b"HTTP/1.1 ", b"HTTP/1.0 ")
    assert answer[9:10] == b"4"
    await _alive(client, listener, post)
    records = listener.records()
    assert records[0].status == 400
    assert records[0].verdict == "rejected"
    assert records[0].reason
    assert "bad HTTP request" in records[0].reason


@pytest.mark.parametrize(
    ("name", "value", "status"),
    [
        pytest.param("webhook-id", "evt_" + "x" * 5000, 400, id="5k-webhook-id"),
        pytest.param("webhook-timestamp", "9" * 40, 401, id="huge-timestamp"),
        pytest.param("webhook-timestamp", "-1", 401, id="negative-timestamp"),
        pytest.param("webhook-signature", "v1," + "A" * 6000, 401, id="huge-signature"),
        pytest.param("webhook-signature", " ".join(["v1,AAAA"] * 300), 401, id="300-signatures"),
    ],
)
async def test_absurd_webhook_headers(listener: RunningListener, post: Post, client: aiohttp.ClientSession,
                                      name: str, value: str, status: int) -> None:
    body, headers = signed(make_event())
    headers[name] = value
    assert (await post(listener.url, body, headers))[0] == status
    [record] = listener.records()
    assert record.status == status
    await _alive(client, listener, post)


async def test_undecodable_header_bytes_are_stored_replaced(listener: RunningListener, post: Post,
                                                            client: aiohttp.ClientSession) -> None:
    body, headers = signed(make_event())
    head = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
    request = (b"POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\n" + head + b"X-Odd: caf\xe9\xff\r\n"
               + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    answer = await _raw(listener, request)
    assert answer.startswith(b"HTTP/1.1 ")
    await _alive(client, listener, post)
    assert len(listener.records()) == 2


async def test_other_methods_and_paths_are_not_webhooks(listener: RunningListener,
                                                        client: aiohttp.ClientSession) -> None:
    async with client.get(listener.url) as response:
        assert response.status == 405
    async with client.post(listener.base_url + "/elsewhere", data=b"{}") as response:
        assert response.status == 404
    assert listener.records() == []
