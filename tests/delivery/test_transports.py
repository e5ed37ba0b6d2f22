"""The httpx transport: retries scripted with respx, and in-process ASGI / WSGI apps (``--app``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
import standardwebhooks
from delivery_sink import SECRET, make_events

import simulator.delivery as delivery
from simulator.delivery import HttpxTransport, Sender
from simulator.delivery._transports import is_asgi, load_app

URL = "https://hooks.example.com/chest"


def test_respx_scripted_retries() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(URL).mock(side_effect=[
            httpx.Response(500), httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(204),
        ])
        transport = HttpxTransport(client=httpx.AsyncClient())
        report = Sender(to=[URL], secrets=[SECRET], transport=transport, retry="1s,1s,1s,1s,1s",
                        time_scale=0.001).send(make_events(1))
    assert route.call_count == 5
    assert (report.delivered, report.retried, report.attempts) == (1, 1, 5)
    assert {call.request.headers["webhook-id"] for call in route.calls} == {"evt_000000"}
    first = route.calls[0].request
    standardwebhooks.Webhook(SECRET).verify(first.content, dict(first.headers))


def test_respx_410_disables() -> None:
    with respx.mock:
        route = respx.post(URL).mock(return_value=httpx.Response(410))
        report = Sender(to=[URL], transport=HttpxTransport(client=httpx.AsyncClient()),
                        concurrency=1).send(make_events(3))
    assert route.call_count == 1
    assert report.dead_lettered == 3
    assert report.dead_reasons["410 Gone: endpoint disabled"] == 1
    assert URL in report.disabled_endpoints


def test_respx_exhaustion() -> None:
    with respx.mock:
        respx.post(URL).mock(return_value=httpx.Response(503))
        report = Sender(to=[URL], transport=HttpxTransport(client=httpx.AsyncClient()), retry="exponential",
                        time_scale=0.0001).send(make_events(2))
    assert report.dead_lettered == 2
    assert report.attempts == 2 * 11


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = dict((k.decode(), v.decode()) for k, v in scope["headers"])
    RECEIVED.append((headers, body))
    status = 500 if len(RECEIVED) == 1 else 204
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    RECEIVED.append(({"webhook-id": environ.get("HTTP_WEBHOOK_ID", "")}, body))
    start_response("204 No Content", [])
    return []


RECEIVED: list[tuple[dict[str, str], bytes]] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    RECEIVED.clear()


def test_in_process_asgi() -> None:
    report = delivery.send(make_events(4), to=["http://localhost/hooks"], app=asgi_app, secrets=[SECRET],
                           retry="1s", time_scale=0.001)
    assert report.delivered == 4
    assert report.retried == 1
    headers, body = RECEIVED[-1]
    standardwebhooks.Webhook(SECRET).verify(body, headers)


def test_in_process_wsgi_flask_like() -> None:
    report = delivery.send(make_events(3), to=["http://localhost/hooks"], app=wsgi_app)
    assert report.delivered == 3
    assert [h["webhook-id"] for h, _ in RECEIVED] == ["evt_000000", "evt_000001", "evt_000002"]


def test_starlette_and_flask_detection() -> None:
    from flask import Flask
    from starlette.applications import Starlette

    assert is_asgi(Starlette())
    assert not is_asgi(Flask(__name__))
    assert is_asgi(asgi_app)
    assert not is_asgi(wsgi_app)


def test_load_app() -> None:
    assert load_app(f"{__name__}:wsgi_app") is wsgi_app if __name__ in __import__("sys").modules else True
    with pytest.raises(ValueError, match="module:attr"):
        load_app("nocolon")


def test_only_the_transport_package_builds_requests() -> None:
    """One way to put a request on the wire: HTTP clients are made only in ``_transports/``,
    and the Standard Webhooks headers are written only by the signer."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    client = re.compile(r"ASGITransport\(|WSGITransport\(|httpx\.(Async)?Client\(|import pycurl|ClientSession\(|"
                        r"FastHttpSession\(|ClientBuilder\(")
    signature = re.compile(r"""\[["']webhook-(signature|timestamp)["']\]\s*=""")
    clients, signers = [], []
    for folder in ("simulator", "loadtests"):
        for path in sorted((root / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            name = str(path.relative_to(root))
            if client.search(text) and "/_transports/" not in name and "/listener/" not in name:
                clients.append(name)
            if signature.search(text) and not name.endswith("_signing.py"):
                signers.append(name)
    assert clients == []
    assert signers == []
