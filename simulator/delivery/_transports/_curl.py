"""The network client: libcurl's multi interface (pycurl) driven by the asyncio loop.

One ``CurlMulti`` carries every request of a run, http and https alike, over a pool
of keep-alive connections. libcurl tells which sockets to watch (``M_SOCKETFUNCTION``)
and when to wake it (``M_TIMERFUNCTION``); ``socket_action`` is called back, and each
finished transfer resolves its request's future.

The sockets are watched by a poller of the transport's own (epoll itself on Linux,
the platform's selector elsewhere, kqueue on macOS), and the loop watches its one
descriptor: libcurl stops and starts watching a connection's socket around every
request, and a change to epoll is one system call, where one to the loop's watch list
costs a handle, a callback object and a deferred system call (in uvloop) each time.
(A platform whose selector has no descriptor of its own, Windows' select, is not
served.) Transfers added during one turn of the loop start together, in one
``socket_action`` on the next turn.
Chosen by measurement and by what it must accept (``bench/bench_send.py`` runs the
candidates inside the sender, same events, journal and sink, rounds alternated, with the
CPU time of each): it is ahead of aiohttp (3.3k against 2.7k req/s in the quietest round
of 2026-12-02; 2.5-2.8k against 1.2-1.5k, at 190-230 against 450-550 CPU µs per request,
in the full bench later that day at load 3). pyreqwest came out ahead of it on two shared
cores once (5.1k; its I/O runs on threads of its own); in that later full bench curl led
in two rounds of three and spent less CPU per request in all three (190-230 against
255-285 µs). Either way reqwest's TLS (rustls) refuses a self-signed certificate given as
``--ca-file``, the usual staging set-up that certify's TLS tests cover; libcurl on
OpenSSL takes it.

TLS certificates are verified against the system's trust store (or ``ca_file``);
``insecure=True`` turns verification off. Redirects are not followed, proxies from
the environment are ignored (chestsim sends only where it is told), and a response
body is read and dropped.

>>> CurlTransport(limit=8)
CurlTransport(limit=8)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import selectors
import ssl
from collections.abc import Mapping
from typing import Any, Protocol

import pycurl

from simulator._exceptions import UsageError
from simulator.delivery._transports._base import Response

__all__ = ["CurlTransport", "default_ca_file"]

# Headers libcurl would add on its own: "Accept: */*", and "Expect: 100-continue" for
# large bodies (a round trip most listeners do not expect).
_SUPPRESSED = (b"Accept:", b"Expect:")
_WEIRD_SERVER_REPLY = 8  # CURLE_WEIRD_SERVER_REPLY (pycurl names it after FTP)
_TLS_ERRORS = frozenset({pycurl.E_SSL_CONNECT_ERROR, pycurl.E_PEER_FAILED_VERIFICATION,
                         pycurl.E_SSL_CACERT_BADFILE, pycurl.E_SSL_CERTPROBLEM})


def default_ca_file() -> str | None:
    """The system's CA bundle (Debian's ``/etc/ssl/certs/ca-certificates.crt``), else certifi's."""
    found = ssl.get_default_verify_paths().cafile
    if found and os.path.exists(found):
        return found
    try:
        import certifi
    except ImportError:  # pragma: no cover - httpx depends on certifi
        return None
    return str(certifi.where())


def _discard(data: bytes) -> None:
    """A response body is not kept (listeners answer with little or nothing)."""


class CurlTransport:
    """Sends POSTs through one libcurl multi handle; ``limit`` connections at most.

    ``ca_file``: trust this PEM bundle instead of the system's (a staging listener's private CA).
    ``insecure``: do not verify certificates at all (the CLI says so in one warning line).
    """

    def __init__(self, *, limit: int = 32, ca_file: str | os.PathLike[str] | None = None,
                 insecure: bool = False) -> None:
        self.limit = limit
        self.ca_file = os.fspath(ca_file) if ca_file is not None else None
        self.insecure = insecure
        if self.ca_file is not None and not os.path.isfile(self.ca_file):
            raise UsageError(f"--ca-file={self.ca_file!r} is not a file; give the PEM file of the CA that "
                             "signed the listener's certificate")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._multi: Any = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None
        self._timer_at = 0.0
        self._poller: _Poller | None = None
        self._kick_due = False
        self._watched: dict[int, int] = {}  # what libcurl asked to watch, per socket
        self._pending: dict[Any, tuple[asyncio.Future[Response], float]] = {}  # and the timeout
        self._running = 0  # transfers libcurl said were running, at its last socket_action
        self._answers: dict[int, Response] = {}  # one Response per plain status, shared
        self._idle: list[Any] = []
        self._set: dict[Any, tuple[Any, float]] = {}  # the URL and timeout each handle was given

    def __repr__(self) -> str:
        extra = (f", ca_file={self.ca_file!r}" if self.ca_file else "") + (", insecure=True" if self.insecure else "")
        return f"CurlTransport(limit={self.limit}{extra})"

    def prepare_url(self, url: str) -> bytes:
        scheme = url.partition(":")[0].lower()
        if scheme not in ("http", "https"):
            raise UsageError(f"url={url!r}: the network client sends only http:// and https:// URLs")
        return url.encode("ascii")

    async def open(self) -> None:
        if self._multi is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._poller = _poller()
        self._loop.add_reader(self._poller.fileno(), self._ready)
        multi = pycurl.CurlMulti()
        multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        multi.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, self.limit)
        multi.setopt(pycurl.M_MAXCONNECTS, self.limit)
        self._multi = multi

    async def send(self, url: Any, body: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        multi, loop = self._multi, self._loop
        if multi is None or loop is None:
            raise RuntimeError("open() the transport first")
        lines = [f"{name}: {value}".encode("latin-1") for name, value in headers.items()]
        lines.extend(_SUPPRESSED)
        handle = self._idle.pop() if self._idle else self._new_handle()
        # A handle keeps its options from one request to the next: set only what changed.
        if self._set.get(handle) != (url, timeout):
            self._set[handle] = (url, timeout)
            handle.setopt(pycurl.URL, url)
            handle.setopt(pycurl.TIMEOUT_MS, max(1, int(timeout * 1000)))
        handle.setopt(pycurl.POSTFIELDSIZE, len(body))
        handle.setopt(pycurl.POSTFIELDS, body)
        handle.setopt(pycurl.HTTPHEADER, lines)
        future: asyncio.Future[Response] = loop.create_future()
        self._pending[handle] = (future, timeout)
        # libcurl asks for a timer of 0 ms (``_on_timer``): the transfers added in one loop
        # iteration start together, in one ``socket_action``.
        multi.add_handle(handle)
        try:
            response = await future
        except BaseException:
            if self._pending.pop(handle, None) is not None:
                # Cancelled while in flight (the run was interrupted): abandon the transfer.
                if self._multi is not None:
                    self._multi.remove_handle(handle)
                self._set.pop(handle, None)
                handle.close()
            raise
        # Only the request that used a handle gives it back, once its answer is read.
        self._idle.append(handle)
        return response

    async def close(self) -> None:
        multi, self._multi = self._multi, None
        if multi is None:
            return
        for handle, (future, _) in list(self._pending.items()):
            with contextlib.suppress(pycurl.error):
                multi.remove_handle(handle)
            if not future.done():
                future.set_result(Response(0, None, "the client closed before a response"))
        self._pending.clear()
        self._running = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for handle in self._idle:
            handle.close()
        self._idle.clear()
        self._set.clear()
        multi.close()
        poller, self._poller = self._poller, None
        if poller is not None:
            if self._loop is not None:
                self._loop.remove_reader(poller.fileno())
            poller.close()
        self._watched.clear()

    # -- libcurl's side -----------------------------------------------------------------------

    def _new_handle(self) -> Any:
        handle = pycurl.Curl()
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        handle.setopt(pycurl.FOLLOWLOCATION, 0)
        handle.setopt(pycurl.PROXY, "")
        handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, 10_000)
        handle.setopt(pycurl.WRITEFUNCTION, _discard)
        if self.insecure:
            handle.setopt(pycurl.SSL_VERIFYPEER, 0)
            handle.setopt(pycurl.SSL_VERIFYHOST, 0)
        else:
            ca_file = self.ca_file or default_ca_file()
            if ca_file is not None:
                handle.setopt(pycurl.CAINFO, ca_file)
        return handle

    def _on_socket(self, what: int, fd: int, multi: Any, data: Any) -> None:
        poller = self._poller
        if poller is None:
            return
        events = 0 if what == pycurl.POLL_REMOVE else what & _POLL_INOUT
        before = self._watched.get(fd, 0)
        if events == before:
            return
        if not events:
            del self._watched[fd]
            poller.unregister(fd)
        elif not before:
            poller.register(fd, events)
            self._watched[fd] = events
        else:
            poller.modify(fd, events)
            self._watched[fd] = events

    def _ready(self) -> None:
        """The loop saw the poller ready: hand each ready socket to libcurl."""
        poller = self._poller
        if poller is None:
            return
        act = self._act
        for fd, events in poller.ready():
            act(fd, events)
        self._collect()

    def _on_timer(self, ms: int) -> None:
        loop = self._loop
        if ms < 0 or loop is None:
            self._deadline = None
            return
        if ms == 0:
            # Due now: a transfer was added. Those added in one loop iteration start together,
            # in one socket_action, on the loop's next turn (libcurl calls again once it ran).
            self._deadline = None
            if not self._kick_due:
                self._kick_due = True
                loop.call_soon(self._kick)
            return
        # libcurl moves its deadline several times per request: keep one loop timer and move
        # it only when the deadline comes earlier (a later one is rechecked when it fires).
        deadline = loop.time() + ms / 1000
        self._deadline = deadline
        if self._timer is None or self._timer_at > deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = loop.call_at(deadline, self._on_timeout)

    def _kick(self) -> None:
        self._kick_due = False
        self._act(pycurl.SOCKET_TIMEOUT, 0)
        self._collect()

    def _on_timeout(self) -> None:
        self._timer = None
        deadline, loop = self._deadline, self._loop
        if deadline is None or loop is None:
            return
        if deadline > loop.time() + 0.001:
            self._timer_at = deadline
            self._timer = loop.call_at(deadline, self._on_timeout)
            return
        self._deadline = None
        self._act(pycurl.SOCKET_TIMEOUT, 0)
        self._collect()

    def _act(self, fd: int, events: int) -> None:
        multi = self._multi
        if multi is None:
            return
        try:
            _, self._running = multi.socket_action(fd, events)
        except pycurl.error as exc:  # libcurl itself failed: end every transfer rather than hang
            for handle in list(self._pending):
                self._finish(handle, int(exc.args[0]), str(exc.args[-1]))

    def _collect(self) -> None:
        """Read the transfers that finished (once per turn, after every ready socket was handed
        over), and resolve their requests."""
        multi = self._multi
        if multi is None or self._running >= len(self._pending):
            return  # every transfer still runs: nothing to read
        while True:
            queued, done, failed = multi.info_read()
            for handle in done:
                self._finish(handle, None, "")
            for handle, code, message in failed:
                self._finish(handle, code, message)
            if not queued:
                break

    def _finish(self, handle: Any, code: int | None, message: str) -> None:
        self._multi.remove_handle(handle)
        future, timeout = self._pending.pop(handle, (None, 0.0))
        if code is None:
            status = int(handle.getinfo(pycurl.RESPONSE_CODE))
            after = int(handle.getinfo(pycurl.RETRY_AFTER)) if status in (429, 503) else 0
            if after > 0:
                response = Response(status, str(after))
            else:  # the usual answer: a status alone, one shared (frozen) Response for each
                cached = self._answers.get(status)
                response = cached if cached is not None else self._answers.setdefault(status, Response(status))
        else:
            response = Response(0, None, _reason(handle, code, message, timeout))
        if future is not None and not future.done():
            future.set_result(response)


_POLL_INOUT = pycurl.POLL_IN | pycurl.POLL_OUT


class _Poller(Protocol):
    """The sockets libcurl asked to watch, on a descriptor of their own. ``register`` and
    ``modify`` take libcurl's ``POLL_IN``/``POLL_OUT`` bits; ``ready`` gives ``(fd, CSELECT_*
    bits)`` pairs, a hang-up or an error reported as both readable and writable (as
    ``selectors`` does)."""

    def fileno(self) -> int: ...

    def register(self, fd: int, events: int) -> None: ...

    def modify(self, fd: int, events: int) -> None: ...

    def unregister(self, fd: int) -> None: ...

    def ready(self) -> list[tuple[int, int]]: ...

    def close(self) -> None: ...


class _Epoll:
    """Linux: epoll as is. ``selectors`` builds a key object per registration, as costly as the
    system call, and libcurl registers and unregisters a connection's socket around every
    request."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self.fileno = self._epoll.fileno
        self.unregister = self._epoll.unregister
        self.close = self._epoll.close

    def register(self, fd: int, events: int) -> None:
        self._epoll.register(fd, _TO_EPOLL[events])

    def modify(self, fd: int, events: int) -> None:
        self._epoll.modify(fd, _TO_EPOLL[events])

    def ready(self) -> list[tuple[int, int]]:
        return [(fd, (_IN if events & _NOT_EPOLLOUT else 0) | (_OUT if events & _NOT_EPOLLIN else 0))
                for fd, events in self._epoll.poll(0)]


class _Selector:
    """Elsewhere: the platform's selector (kqueue on macOS)."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self.fileno = self._selector.fileno
        self.close = self._selector.close

    def register(self, fd: int, events: int) -> None:
        self._selector.register(fd, _TO_SELECTOR[events])

    def modify(self, fd: int, events: int) -> None:
        self._selector.modify(fd, _TO_SELECTOR[events])

    def unregister(self, fd: int) -> None:
        self._selector.unregister(fd)

    def ready(self) -> list[tuple[int, int]]:
        return [(key.fd, (_IN if events & selectors.EVENT_READ else 0) | (_OUT if events & selectors.EVENT_WRITE else 0))
                for key, events in self._selector.select(0)]


def _poller() -> _Poller:
    return _Epoll() if hasattr(select, "epoll") else _Selector()


_IN, _OUT = pycurl.CSELECT_IN, pycurl.CSELECT_OUT
_EPOLLIN, _EPOLLOUT = getattr(select, "EPOLLIN", 1), getattr(select, "EPOLLOUT", 4)
_NOT_EPOLLOUT, _NOT_EPOLLIN = ~_EPOLLOUT, ~_EPOLLIN
# libcurl's POLL_IN (1) / POLL_OUT (2) bits, as epoll's and as selectors' masks.
_TO_EPOLL = (0, _EPOLLIN, _EPOLLOUT, _EPOLLIN | _EPOLLOUT)
_TO_SELECTOR = (0, selectors.EVENT_READ, selectors.EVENT_WRITE, selectors.EVENT_READ | selectors.EVENT_WRITE)


def _reason(handle: Any, code: int, message: str, timeout: float) -> str:
    """The error text of a transfer without an HTTP answer, in the words the sender reports."""
    errno = int(handle.getinfo(pycurl.OS_ERRNO) or 0)
    cause = os.strerror(errno) if errno else message
    if code == pycurl.E_OPERATION_TIMEDOUT:
        return f"timeout after {timeout:g}s"
    if code == pycurl.E_GOT_NOTHING:
        return "connection closed by the endpoint before a response"
    if code == pycurl.E_COULDNT_CONNECT:
        return f"cannot connect ({cause})"
    if code == pycurl.E_COULDNT_RESOLVE_HOST:
        return f"cannot resolve the host ({message})"
    if code in _TLS_ERRORS:
        return (f"TLS failed ({message}); for a listener with a private certificate give --ca-file "
                "with its CA (or --insecure for a staging listener)")[:300]
    if code in (pycurl.E_RECV_ERROR, pycurl.E_SEND_ERROR):
        return f"connection error ({cause})"
    if code == _WEIRD_SERVER_REPLY:
        return f"the answer is not HTTP/1.1 ({message})"[:200]
    return f"curl error {code}: {message}"[:200]
