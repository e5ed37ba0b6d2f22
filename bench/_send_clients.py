"""The HTTP clients measured inside the sender, behind chestsim's ``Transport`` protocol.

``curl`` is chestsim's own network client (``CurlTransport``, libcurl multi via pycurl);
``reqwest`` (pyreqwest: Rust reqwest/hyper) and ``aiohttp`` are the candidates it was
chosen against. They live here, not in the package: the bench keeps the choice honest.
Run one as ``python -m bench._send_clients CLIENT EVENTS URL JOURNAL [CA_FILE]``: it sends
``EVENTS`` signed and journaled with ``Sender`` and prints the rate as JSON.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Mapping
from typing import Any

from simulator.delivery import CurlTransport, Response, Sender, Transport

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CLIENTS = ("curl", "reqwest", "aiohttp")


class ReqwestTransport:
    """pyreqwest's async client, set up as chestsim would ship it: ``limit`` connections,
    HTTP/1.1 with lower-case header names, no redirects, no proxies, private CA or insecure."""

    def __init__(self, *, limit: int, ca_file: str | None = None, insecure: bool = False) -> None:
        self.limit = limit
        self.ca_file = ca_file
        self.insecure = insecure
        self._client: Any = None
        self._spans: dict[float, datetime.timedelta] = {}

    def prepare_url(self, url: str) -> str:
        return url

    async def open(self) -> None:
        from pyreqwest.client import ClientBuilder

        builder = (ClientBuilder().max_connections(self.limit).http1_only().http1_lower_case_headers()
                   .error_for_status(False).follow_redirects(False).no_proxy()
                   .connect_timeout(datetime.timedelta(seconds=10)))
        if self.insecure:
            builder = builder.danger_accept_invalid_certs(True)
        elif self.ca_file:
            with open(self.ca_file, "rb") as fh:
                builder = builder.add_root_certificate_pem(fh.read())
        self._client = builder.build()
        await self._client.__aenter__()

    async def send(self, url: Any, body: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        span = self._spans.get(timeout)
        if span is None:
            span = self._spans[timeout] = datetime.timedelta(seconds=timeout)
        try:
            request = self._client.post(url).body_bytes(body).headers(headers).timeout(span).build()
            response = await request.send()
            await response.bytes()
        except Exception as exc:  # a candidate reports, never crashes the bench
            return Response(0, None, f"{type(exc).__name__}: {exc}"[:200])
        return Response(response.status, response.get_header("retry-after"))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None


class AiohttpTransport:
    """aiohttp's client session: ``limit`` connections, no redirects (chestsim's client until 2026-12)."""

    def __init__(self, *, limit: int, ca_file: str | None = None) -> None:
        self.limit = limit
        self.ca_file = ca_file
        self._session: Any = None
        self._timeouts: dict[float, Any] = {}

    def prepare_url(self, url: str) -> Any:
        from yarl import URL

        return URL(url)

    async def open(self) -> None:
        import ssl

        import aiohttp

        context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        connector = aiohttp.TCPConnector(limit=self.limit, limit_per_host=0, ssl=context or True)
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                              skip_auto_headers=("User-Agent",))

    async def send(self, url: Any, body: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        import aiohttp

        client_timeout = self._timeouts.get(timeout)
        if client_timeout is None:
            client_timeout = self._timeouts[timeout] = aiohttp.ClientTimeout(total=timeout)
        try:
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False,
                                          timeout=client_timeout) as resp:
                await resp.read()
                return Response(resp.status, resp.headers.get("Retry-After"))
        except Exception as exc:
            return Response(0, None, f"{type(exc).__name__}: {exc}"[:200])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def transport(name: str, *, limit: int, ca_file: str | None = None) -> Transport:
    if name == "curl":
        return CurlTransport(limit=limit, ca_file=ca_file)
    if name == "reqwest":
        return ReqwestTransport(limit=limit, ca_file=ca_file)
    if name == "aiohttp":
        return AiohttpTransport(limit=limit, ca_file=ca_file)
    raise SystemExit(f"unknown client {name!r}; one of {', '.join(CLIENTS)}")


def main(argv: list[str]) -> int:
    name, events, url, journal = argv[:4]
    ca_file = argv[4] if len(argv) > 4 else None
    sender = Sender(to=[url], secrets=[SECRET], concurrency=32, retry="none",
                    transport=transport(name, limit=32, ca_file=ca_file))
    report = sender.send(events, journal=journal)
    print(json.dumps({"client": name, "delivered": report.delivered, "seconds": report.seconds,
                      "rate": report.delivered / report.seconds}))
    return 0 if report.delivered == report.deliveries else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
