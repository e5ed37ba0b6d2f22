"""The webhook lane: plain webhook requests answered without aiohttp's per-request machinery.

For each request aiohttp's web server makes a task, a request, a response and
a stream writer, and resolves a route: measured under wrk, about three times
the CPU of parsing the request with its own C parser and writing the answer.
Most deliveries are plain: one whole ``POST <path>`` in one read, HTTP/1.1,
kept alive, with a ``Content-Length``. For those, the lane parses with
aiohttp's parser (same llhttp, same limits), queues the request to the
recorder, and writes the answer once its batch is committed, in arrival
order on each connection.

Anything else on a connection — another path or method, a request split over
reads or several in one read, chunked or compressed bodies, HTTP/1.0,
``Connection: close``, bytes the parser refuses — goes to aiohttp, which keeps
that connection from then on (after the lane's answers on it are written), so
the page, its API and every unusual request take aiohttp's road
(``_server.py``). With fault injection on, the lane is off: latency, drops and
hangs need a task per request.

>>> lane = Lane(path="/webhooks", max_body=1024, submit=..., answered=...)   # doctest: +SKIP
"""

from __future__ import annotations

import email.utils
import functools
import http
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import orjson
from aiohttp import __version__ as _aiohttp_version
from aiohttp.http_parser import HttpRequestParser
from aiohttp.http_writer import HttpVersion11

from simulator.listener._limits import HANDLING
from simulator.listener._pipeline import Outcome, RawTuple

if TYPE_CHECKING:
    import asyncio

    from aiohttp.base_protocol import BaseProtocol

    from simulator.listener._limits import _Guarded

__all__ = ["UNRECORDED", "Lane", "answer_parts", "response_bytes"]

#: Why a request got a 500: its record could not be committed (so it is never acknowledged).
UNRECORDED = "could not record the request; see the listener's output"

_SERVER = f"Server: chestsim (aiohttp/{_aiohttp_version})\r\n".encode()


def answer_parts(status: int, verdict: str, reason: str | None, duplicate: bool,
                 retry_after: int | None) -> tuple[dict[str, str], bytes]:
    """The headers and body of the answer to a webhook: both roads answer through this.

    >>> answer_parts(204, "valid", None, True, None)
    ({'x-chestsim-verdict': 'valid', 'x-chestsim-duplicate': '1'}, b'')
    >>> answer_parts(401, "unverified", "no signature", False, None)[1]
    b'{"error":"no signature","verdict":"unverified"}'
    """
    headers = {"x-chestsim-verdict": verdict}
    if 200 <= status < 300:
        if duplicate:
            headers["x-chestsim-duplicate"] = "1"
        return headers, b""
    headers["Content-Type"] = "application/json"
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return headers, orjson.dumps({"error": reason or "", "verdict": verdict})


@functools.lru_cache(maxsize=64)
def _status_line(status: int) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode()


def response_bytes(status: int, headers: dict[str, str], body: bytes, date: bytes) -> bytes:
    """One HTTP/1.1 answer as it goes on the wire (``date`` is its whole ``Date:`` line)."""
    head = [_status_line(status)]
    head += [f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items()]
    if status != 204 and not 100 <= status < 200:
        head.append(b"Content-Length: %d\r\n" % len(body))
    head += [date, _SERVER, b"\r\n"]
    return b"".join(head) + body


class _NoFlow:
    """The parser's payloads ask to pause and resume reading; the lane only sees whole requests."""

    __slots__ = ()

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


class Lane:
    """Takes the plain webhook requests of lane connections (``_Guarded.data_received``).

    ``submit(raw)`` queues a request to the recorder and returns its batch's future and
    index (or raises); ``answered(connection, outcome or None, received_at, started)`` counts
    the answer (None: not recorded, a 500).
    """

    def __init__(self, *, path: str, max_body: int, loop: asyncio.AbstractEventLoop,
                 clock: Callable[[], float],
                 submit: Callable[[RawTuple], tuple[asyncio.Future[list[Outcome]], int]],
                 answered: Callable[[Outcome | None, float, float], None]) -> None:
        self.path = path
        self._prefix = f"POST {path}".encode()
        self._after = len(self._prefix)
        self.max_body = max_body
        self._loop = loop
        self._clock = clock
        self._submit = submit
        self._answered = answered
        self._parser = self._new_parser()
        self._answers: dict[tuple[int, str, bool], bytes] = {}
        self._date_second = -1
        self._date = b""
        #: Set while the listener stops: lane connections take no new request.
        self.closing = False
        #: Requests answered so far (``/_chestsim/stats`` shows it under ``connections``).
        self.answers = 0

    def _new_parser(self) -> Any:
        # auto_decompress off: a compressed body is not plain (aiohttp's road inflates it).
        # The parser only calls the two flow-control methods _NoFlow has.
        return HttpRequestParser(cast("BaseProtocol", _NoFlow()), self._loop, self.max_body + 1,
                                 auto_decompress=False)

    def take(self, connection: _Guarded, data: bytes) -> bool:
        """Answer ``data`` if it is one whole plain webhook request; False leaves it to aiohttp."""
        prefix = self._prefix
        if not data.startswith(prefix) or data[self._after:self._after + 1] not in (b" ", b"?"):
            return False
        if self.closing:
            if connection.transport is not None and not connection.pending:
                connection.transport.close()
            return True  # no answer: the sender sees the connection close, nothing acknowledged
        head_end = data.find(b"\r\n\r\n")
        if head_end < 0:
            return False
        try:
            messages, upgraded, _ = self._parser.feed_data(data)
        except Exception:  # aiohttp's road parses the same bytes again and answers 400
            messages, upgraded = (), True
        message, payload = messages[0] if len(messages) == 1 else (None, None)
        body = payload.read_nowait(-1) if payload is not None and payload.is_eof() else None
        if (message is None or body is None or upgraded or head_end + 4 + len(body) != len(data)
                or len(body) > self.max_body or message.version != HttpVersion11 or message.should_close
                or message.chunked or message.compression is not None or message.upgrade):
            # aiohttp parses these bytes again from the start; the lane's parser may be left
            # inside a message (this one, or the start of the next): it starts afresh.
            self._parser = self._new_parser()
            return False
        received_at = self._clock()
        started = time.perf_counter()
        remote = connection.remote
        if remote is None:
            assert connection.transport is not None
            peer = connection.transport.get_extra_info("peername")
            remote = connection.remote = str(peer[0]) if peer else None
        raw = (received_at, "POST", message.path, remote, message.raw_headers, body, len(body), None)
        try:
            done, index = self._submit(raw)
        except Exception:
            connection.pending += 1
            self._write(connection, None, 0, received_at, started)
            return True
        connection.pending += 1
        connection.phase = HANDLING
        done.add_done_callback(functools.partial(self._done, connection, index, received_at, started))
        return True

    def _done(self, connection: _Guarded, index: int, received_at: float, started: float,
              done: asyncio.Future[list[Outcome]]) -> None:
        if done.cancelled() or done.exception() is not None:
            self._write(connection, None, index, received_at, started)
        else:
            self._write(connection, done.result()[index], index, received_at, started)

    def _write(self, connection: _Guarded, outcome: Outcome | None, index: int, received_at: float,
               started: float) -> None:
        self._answered(outcome, received_at, started)
        self.answers += 1
        transport = connection.transport
        if transport is not None and not transport.is_closing():
            transport.write(self._answer(outcome))
        connection.answered()

    def _answer(self, outcome: Outcome | None) -> bytes:
        now = time.time()
        if int(now) != self._date_second:
            self._date_second = int(now)
            self._date = f"Date: {email.utils.formatdate(now, usegmt=True)}\r\n".encode()
        if outcome is None:
            headers, body = answer_parts(500, "error", UNRECORDED, False, None)
            return response_bytes(500, headers, body, self._date)
        # Positional: the writer process sends outcomes as plain tuples.
        status, verdict, reason, _, _, _, duplicate, _, _, _, retry_after = outcome
        if 200 <= status < 300:
            key = (status, verdict, duplicate)
            head = self._answers.get(key)
            if head is None:
                headers, _ = answer_parts(status, verdict, None, duplicate, None)
                whole = response_bytes(status, headers, b"", b"")
                head = self._answers[key] = whole[:-len(_SERVER) - 2]
            return head + self._date + _SERVER + b"\r\n"
        headers, body = answer_parts(status, verdict, reason, duplicate, retry_after)
        return response_bytes(status, headers, body, self._date)
