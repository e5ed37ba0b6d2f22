"""The network client (libcurl multi via pycurl): http and https on loopback, TLS verification,
errors in the sender's words. The https listener's certificate is made here with ``trustme``."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import standardwebhooks
import trustme
from aiohttp import web
from delivery_sink import SECRET, Sink, make_events, write_jsonl

from simulator._exceptions import UsageError
from simulator.cli import main
from simulator.delivery import CurlTransport, Sender

pytestmark = pytest.mark.integration


class Listener:
    """An aiohttp server on 127.0.0.1 in the test's loop; ``answers`` scripts status and headers."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        status, headers = self.answers.pop(0) if self.answers else (204, {})
        if status == 599:
            await asyncio.sleep(1)
            status = 204
        return web.Response(status=status, headers=headers)


async def _serve(listener: Listener, context: ssl.SSLContext | None) -> AsyncIterator[Listener]:
    app = web.Application()
    app.router.add_post("/hook", listener.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    listener.url = f"{'https' if context else 'http'}://{'localhost' if context else '127.0.0.1'}:{port}/hook"
    try:
        yield listener
    finally:
        await runner.cleanup()
        # Let closed TLS transports run their connection_lost before the loop ends.
        await asyncio.sleep(0.1)


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
async def https(ca: trustme.CA) -> AsyncIterator[Listener]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    async for listener in _serve(Listener(), context):
        yield listener


@pytest.fixture
async def http() -> AsyncIterator[Listener]:
    async for listener in _serve(Listener(), None):
        yield listener


async def _post(transport: CurlTransport, url: str, body: bytes = b"{}", timeout: float = 5.0) -> tuple[int, str | None, str | None]:
    await transport.open()
    try:
        response = await transport.send(transport.prepare_url(url), body, {"content-type": "application/json"},
                                        timeout)
    finally:
        await transport.close()
    return response.status, response.retry_after, response.error


async def test_https_verified_against_the_given_ca(https: Listener, ca_file: Path) -> None:
    assert await _post(CurlTransport(ca_file=ca_file), https.url, b'{"a":1}') == (204, None, None)
    assert https.bodies == [b'{"a":1}']


async def test_https_with_an_untrusted_certificate_is_refused(https: Listener) -> None:
    status, _, error = await _post(CurlTransport(), https.url)
    assert status == 0
    assert error is not None
    assert "TLS failed" in error
    assert "--ca-file" in error
    assert https.bodies == []


async def test_insecure_skips_verification(https: Listener) -> None:
    assert (await _post(CurlTransport(insecure=True), https.url))[0] == 204


async def test_sender_signs_over_https(https: Listener, ca_file: Path) -> None:
    report = await Sender(to=[https.url], secrets=[SECRET], ca_file=ca_file).send_async(make_events(20))
    assert report.delivered == 20
    wh = standardwebhooks.Webhook(SECRET)
    for body, headers in zip(https.bodies, https.headers, strict=True):
        wh.verify(body, headers)


async def test_retry_after_and_statuses(http: Listener) -> None:
    http.answers = [(429, {"Retry-After": "7"}), (503, {}), (302, {"Location": "http://127.0.0.1:9/"})]
    transport = CurlTransport()
    assert await _post(transport, http.url) == (429, "7", None)
    assert await _post(transport, http.url) == (503, None, None)
    assert await _post(transport, http.url) == (302, None, None)  # redirects are not followed
    assert len(http.bodies) == 3


async def test_timeout_and_refused_in_the_senders_words(http: Listener) -> None:
    http.answers = [(599, {})]
    assert await _post(CurlTransport(), http.url, timeout=0.3) == (0, None, "timeout after 0.3s")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    status, _, error = await _post(CurlTransport(), f"http://127.0.0.1:{port}/hook")
    assert (status, error) == (0, "cannot connect (Connection refused)")


async def test_a_cancelled_request_frees_its_connection(http: Listener) -> None:
    http.answers = [(599, {})]
    transport = CurlTransport(limit=1)
    await transport.open()
    url = transport.prepare_url(http.url)
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(transport.send(url, b"{}", {}, 5.0), 0.2)
        response = await asyncio.wait_for(transport.send(url, b"{}", {}, 5.0), 5.0)
    finally:
        await transport.close()
    assert response.status == 204


@pytest.mark.parametrize("poller", ["_Epoll", "_Selector"])
async def test_many_in_flight_on_either_poller(http: Listener, poller: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """epoll itself on Linux, the platform's selector elsewhere: both carry a run. Transfers
    added in one turn of the loop start together, and a timeout still fires among them."""
    from simulator.delivery._transports import _curl

    if poller == "_Epoll" and not hasattr(_curl.select, "epoll"):
        pytest.skip("no epoll on this platform")
    monkeypatch.setattr(_curl, "_poller", getattr(_curl, poller))
    http.answers = [(204, {})] * 150 + [(599, {})]
    transport = CurlTransport(limit=8)
    await transport.open()
    url = transport.prepare_url(http.url)
    try:
        answers = await asyncio.wait_for(asyncio.gather(
            *(transport.send(url, b'{"n":%d}' % i, {"x-n": str(i)}, 5.0) for i in range(150))), 60)
        late = await transport.send(url, b"{}", {}, 0.3)
    finally:
        await transport.close()
    assert [a.status for a in answers] == [204] * 150
    assert sorted(http.bodies[:150]) == sorted(b'{"n":%d}' % i for i in range(150))
    assert (late.status, late.error) == (0, "timeout after 0.3s")


def test_bad_arguments() -> None:
    with pytest.raises(UsageError, match="--ca-file="):
        CurlTransport(ca_file="/nonexistent/ca.pem")
    with pytest.raises(UsageError, match="only http:// and https://"):
        CurlTransport().prepare_url("ftp://127.0.0.1/x")


@pytest.fixture
def tls_sink(ca: trustme.CA) -> Iterator[Sink]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server = Sink(ssl_context=context)
    server.start()
    yield server
    server.close()


def test_cli_https_with_ca_file_insecure_and_untrusted(tls_sink: Sink, ca_file: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    events = write_jsonl(tmp_path / "e.jsonl", make_events(3))
    send = ["send", str(events), "--to", tls_sink.url, "--secret", SECRET, "--retry", "none"]
    assert main([*send, "--ca-file", str(ca_file)]) == 0
    out, err = capsys.readouterr()
    assert "delivered 3" in out
    assert "warning" not in err
    # Not trusted: each delivery dead-lettered with a reason that says what to do.
    assert main(send) == 1
    out, _ = capsys.readouterr()
    assert "TLS failed" in out
    assert "--ca-file" in out
    assert main([*send, "--insecure"]) == 0
    out, err = capsys.readouterr()
    assert "delivered 3" in out
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert warnings == ["chestsim: warning: --insecure: https certificates are not verified; use it only "
                        "for a staging listener you trust"]
    assert len(tls_sink.received) == 6
    assert main([*send, "--ca-file", str(tmp_path / "missing.pem")]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("chestsim: error: --ca-file=")
    assert len(err.strip().splitlines()) == 1


def _stopped_run(tmp_path: Path, url: str, *flags: str) -> tuple[Path, Path]:
    """A journalled run stopped by a broken line 6 (exit 2), then the line mended: 5 events
    are delivered and 5 are left for ``--resume``."""
    lines = write_jsonl(tmp_path / "all.jsonl", make_events(10)).read_text().splitlines()
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([*lines[:5], '{"id": "evt_broken", ', *lines[6:]]) + "\n")
    journal = tmp_path / "run.db"
    assert main(["send", str(path), "--to", url, "--secret", SECRET, "--retry", "none", "--journal", str(journal),
                 *flags]) == 2
    path.write_text("\n".join(lines) + "\n")
    return path, journal


@pytest.mark.parametrize("given", ["--ca-file", "--insecure"])
def test_resume_keeps_ca_file_and_insecure(given: str, tls_sink: Sink, ca_file: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The journal stores --ca-file (its absolute path) and --insecure, so a resume reaches the
    same https listener without them; --insecure still says so."""
    flags = ["--ca-file", str(ca_file)] if given == "--ca-file" else ["--insecure"]
    _, journal = _stopped_run(tmp_path, tls_sink.url, *flags)
    assert len(tls_sink.received) == 5
    capsys.readouterr()
    assert main(["send", "--resume", str(journal), "--secret", SECRET, "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["delivered"] == 5
    assert len(tls_sink.received) == 10
    warned = "chestsim: warning: --insecure: https certificates are not verified" in err
    assert warned == (given == "--insecure")
    from simulator.delivery import Journal

    with Journal.open(journal) as jr:
        stored = jr.run_options()
    assert stored is not None
    assert (stored["ca_file"], stored["insecure"]) == (
        (os.path.abspath(ca_file), False) if given == "--ca-file" else (None, True))


def test_resume_with_a_stored_ca_file_that_is_gone(tls_sink: Sink, ca_file: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _, journal = _stopped_run(tmp_path, tls_sink.url, "--ca-file", str(ca_file))
    ca_file.unlink()
    capsys.readouterr()
    assert main(["send", "--resume", str(journal), "--secret", SECRET]) == 2
    _, err = capsys.readouterr()
    gone = os.path.abspath(ca_file)
    assert err.strip().splitlines()[-1].startswith(f"chestsim: error: --ca-file={gone!r} is not a file")
    assert len(tls_sink.received) == 5
