"""The lean HTTP/1.1 client against a raw asyncio server sending hand-made responses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from simulator.delivery._lean import LeanTransport

pytestmark = pytest.mark.integration


class RawServer:
    def __init__(self) -> None:
        self.responses: list[bytes] = []
        self.requests: list[bytes] = []
        self.connections = 0
        self.port = 0
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                answer = self.responses.pop(0)
                if answer == b"HANG":
                    await asyncio.sleep(0.6)
                    return
                if answer == b"RESET":
                    writer.transport.abort()
                    return
                close = answer.endswith(b"<close>")
                writer.write(answer.removesuffix(b"<close>"))
                await writer.drain()
                if close:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def raw() -> AsyncIterator[RawServer]:
    async with RawServer() as server:
        yield server


async def post(transport: LeanTransport, raw: RawServer, *, timeout: float = 2.0) -> tuple[int, str | None, str | None]:
    url = transport.prepare_url(f"http://127.0.0.1:{raw.port}/hook?x=1")
    resp = await transport.send(url, b'{"a":1}', {"webhook-id": "evt_1"}, timeout)
    return resp.status, resp.retry_after, resp.error


CASES = [
    pytest.param(b"HTTP/1.1 204 No Content\r\n\r\n", (204, None, None), True, id="204-keepalive"),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", (200, None, None), True, id="content-length"),
    pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
                 (200, None, None), True, id="chunked"),
    pytest.param(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
                 (202, None, None), True, id="100-continue"),
    pytest.param(b"HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n", (429, "7", None), True,
                 id="retry-after"),
    pytest.param(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok<close>", (200, None, None),
                 False, id="connection-close"),
    pytest.param(b"HTTP/1.0 200 OK\r\n\r\nuntil close<close>", (200, None, None), False, id="read-until-close"),
    pytest.param(b"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n", (302, None, None), True,
                 id="redirect-not-followed"),
]


@pytest.mark.parametrize(("answer", "expected", "reused"), CASES)
async def test_responses(raw: RawServer, answer: bytes, expected: tuple[int, str | None, str | None],
                         reused: bool) -> None:
    raw.responses = [answer, b"HTTP/1.1 204 No Content\r\n\r\n"]
    transport = LeanTransport()
    await transport.open()
    try:
        assert await post(transport, raw) == expected
        assert (await post(transport, raw))[0] == 204
    finally:
        await transport.close()
    assert raw.connections == (1 if reused else 2)
    first = raw.requests[0]
    assert first.startswith(b"POST /hook?x=1 HTTP/1.1\r\nhost: 127.0.0.1:")
    assert b"webhook-id: evt_1\r\n" in first
    assert first.endswith(b'content-length: 7\r\n\r\n{"a":1}')


@pytest.mark.parametrize(("answer", "fragment"), [
    pytest.param(b"HANG", "timeout after 0.3s", id="hang"),
    pytest.param(b"RESET", "connection", id="reset"),
    pytest.param(b"SMTP ready\r\n\r\n", "bad response", id="not-http"),
])
async def test_failures(raw: RawServer, answer: bytes, fragment: str) -> None:
    raw.responses = [answer]
    transport = LeanTransport()
    await transport.open()
    try:
        status, _, error = await post(transport, raw, timeout=0.3)
    finally:
        await transport.close()
    assert status == 0
    assert error is not None
    assert fragment in error.lower() or fragment in error


async def test_refused() -> None:
    transport = LeanTransport()
    await transport.open()
    url = transport.prepare_url("http://127.0.0.1:9/hook")
    resp = await transport.send(url, b"{}", {}, 1.0)
    await transport.close()
    assert resp.status == 0
    assert resp.error is not None
    assert "cannot connect" in resp.error
