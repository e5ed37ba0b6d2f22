"""A lean HTTP/1.1 keep-alive client for plain-``http`` (loopback) endpoints.

The URL rule allows ``http`` only for loopback, so this client only ever talks to
a listener on the same machine, which is where a sender's own cost per request
decides the throughput: aiohttp spends about four times the CPU per request of
this protocol-level client. ``https`` endpoints always go through aiohttp.
It sends one request at a time per connection (no pipelining), reads
``Content-Length``, chunked, and read-until-close bodies, and never follows redirects.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from simulator.delivery._transports import Response

__all__ = ["LeanTransport"]

_MAX_HEAD = 64 * 1024
_MAX_BODY = 1024 * 1024


class _Target:
    __slots__ = ("host", "port", "request_line")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = (parts.hostname or "127.0.0.1")
        self.port = parts.port or 80
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc.rsplit("@", 1)[-1]
        self.request_line = f"POST {path} HTTP/1.1\r\nhost: {host_header}\r\n".encode("latin-1")


class _Conn(asyncio.Protocol):
    """One keep-alive connection; parses one response at a time."""

    __slots__ = ("_buf", "_chunked", "_head_done", "_need", "_until_close", "closed", "keep_alive",
                 "result", "retry_after", "status", "transport", "waiter")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False
        self._reset()

    def _reset(self) -> None:
        self._buf = bytearray()
        self._head_done = False
        self._need = 0
        self._chunked = False
        self._until_close = False
        self.status = 0
        self.retry_after: str | None = None
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            if self._until_close and self._head_done:
                waiter.set_result(None)
            else:
                waiter.set_exception(ConnectionResetError("connection closed by the endpoint before a response"))

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            # Bytes nobody asked for: the connection is out of step; drop it.
            self._abort()
            return
        self._buf += data
        try:
            if self._parse():
                self.waiter.set_result(None)
        except ValueError as exc:
            self.waiter.set_exception(exc)
            self._abort()

    def _abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _parse(self) -> bool:
        buf = self._buf
        while not self._head_done:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    raise ValueError("response headers too large")
                return False
            head = bytes(buf[:end]).decode("latin-1").split("\r\n")
            del buf[: end + 4]
            status_line = head[0].split(" ", 2)
            if len(status_line) < 2 or not status_line[0].startswith("HTTP/1."):
                raise ValueError(f"not an HTTP/1.x response: {head[0][:60]!r}")
            status = int(status_line[1])
            if 100 <= status < 200:
                continue  # 100 Continue and friends: the real answer follows
            self.status = status
            self.keep_alive = status_line[0] == "HTTP/1.1"
            length: int | None = None
            for line in head[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value.strip())
                elif name == "transfer-encoding" and "chunked" in value.lower():
                    self._chunked = True
                elif name == "connection":
                    token = value.strip().lower()
                    if token == "close":
                        self.keep_alive = False
                    elif token == "keep-alive":
                        self.keep_alive = True
                elif name == "retry-after":
                    self.retry_after = value.strip()
            self._head_done = True
            if status in (204, 304):
                self._need = 0
            elif self._chunked:
                self._need = -1
            elif length is not None:
                self._need = length
            else:
                self._until_close = True
                self.keep_alive = False
        if self._until_close:
            if len(buf) > _MAX_BODY:
                raise ValueError("response body too large")
            return False
        if self._chunked:
            return self._parse_chunks()
        if len(buf) >= self._need:
            if len(buf) > self._need:
                self.keep_alive = False  # more than one response's worth: do not reuse
            return True
        return False

    def _parse_chunks(self) -> bool:
        buf = self._buf
        while True:
            line_end = buf.find(b"\r\n")
            if line_end < 0:
                return False
            size = int(bytes(buf[:line_end]).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                trailer_end = buf.find(b"\r\n\r\n", line_end)
                if trailer_end < 0 and buf[line_end: line_end + 4] != b"\r\n\r\n":
                    # Trailers not complete yet (usually there are none: "0\r\n\r\n").
                    if len(buf) > _MAX_HEAD:
                        raise ValueError("chunk trailer too large")
                    return False
                return True
            if len(buf) < line_end + 2 + size + 2:
                if len(buf) > _MAX_BODY:
                    raise ValueError("response body too large")
                return False
            del buf[: line_end + 2 + size + 2]


class LeanTransport:
    """The plain-``http`` transport: a pool of keep-alive connections per host and port."""

    def __init__(self, *, limit: int = 32, connect_timeout: float = 10.0) -> None:
        self.limit = limit
        self.connect_timeout = connect_timeout
        self._idle: dict[tuple[str, int], collections.deque[_Conn]] = collections.defaultdict(collections.deque)
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"LeanTransport(limit={self.limit})"

    def prepare_url(self, url: str) -> Any:
        return _Target(url)

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def _connect(self, target: _Target, timeout: float) -> _Conn:
        loop = self._loop
        assert loop is not None, "open() the transport first"
        idle = self._idle[(target.host, target.port)]
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        _, conn = await asyncio.wait_for(
            loop.create_connection(_Conn, target.host, target.port), min(timeout, self.connect_timeout))
        return conn

    async def send(self, url: Any, body: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        target: _Target = url
        loop = self._loop
        assert loop is not None, "open() the transport first"
        try:
            conn = await self._connect(target, timeout)
        except TimeoutError:
            return Response(0, None, f"timeout after {timeout:g}s (connecting)")
        except OSError as exc:
            return Response(0, None, f"cannot connect ({exc.strerror or exc})")
        head = "".join([f"{k}: {v}\r\n" for k, v in headers.items()])
        request = b"".join((target.request_line, head.encode("latin-1"),
                            b"content-length: %d\r\n\r\n" % len(body), body))
        conn._reset()
        waiter: asyncio.Future[None] = loop.create_future()
        conn.waiter = waiter
        timer = loop.call_later(timeout, _expire, waiter)
        transport = conn.transport
        assert transport is not None
        try:
            transport.write(request)
            await waiter
        except TimeoutError:
            conn._abort()
            return Response(0, None, f"timeout after {timeout:g}s")
        except (ConnectionError, OSError) as exc:
            conn._abort()
            return Response(0, None, str(exc) or type(exc).__name__)
        except ValueError as exc:
            conn._abort()
            return Response(0, None, f"bad response: {exc}")
        except asyncio.CancelledError:
            conn._abort()
            raise
        finally:
            timer.cancel()
            conn.waiter = None
        if conn.keep_alive and not conn.closed:
            self._idle[(target.host, target.port)].append(conn)
        else:
            conn._abort()
        return Response(conn.status, conn.retry_after)

    async def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                if conn.transport is not None:
                    conn.transport.close()
        self._idle.clear()
        await asyncio.sleep(0)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())
