"""What every transport is: ``Transport`` sends one POST and returns a ``Response``.

A transport's ``send`` never raises for what the endpoint did: it returns a
``Response`` with the status (``0`` when no HTTP answer came back), the
``Retry-After`` header and an error text (timeout, connection reset…).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Response", "Transport"]


@dataclass(frozen=True, slots=True)
class Response:
    """What one attempt got back.

    >>> Response(503, retry_after="2")
    Response(status=503, retry_after='2', error=None)
    """

    status: int
    retry_after: str | None = None
    error: str | None = None


class Transport(Protocol):
    """Sends one POST; ``open`` before the first, ``close`` after the last.

    ``prepare_url`` turns a URL into what ``send`` takes (done once per endpoint).
    ``open`` raises ``UsageError`` when the endpoint cannot be served at all (an in-process
    app whose startup failed); ``close`` raises ``DeliveryError`` when, after it released
    everything, an in-process app's shutdown failed.
    """

    async def open(self) -> None: ...

    async def send(self, url: Any, body: bytes, headers: Mapping[str, str], timeout: float) -> Response: ...

    async def close(self) -> None: ...

    def prepare_url(self, url: str) -> Any: ...
