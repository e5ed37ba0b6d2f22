"""Signed webhook delivery: endpoints, subscriptions, retries, a journal, resume and replay.

``send`` is the one-call form of ``Sender(...).send(...)``, as ``httpx.get`` is of a ``Client``:

>>> import simulator.delivery as delivery
>>> report = delivery.send(  # doctest: +SKIP
...     "day.jsonl", to=["http://127.0.0.1:8080/webhooks"], secrets=["whsec_…"], journal="run.db")
>>> report.delivered, report.dead_lettered  # doctest: +SKIP
(1200, 0)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from simulator._signing import SigningSecret
from simulator.delivery._endpoints import Endpoint, Router, check_endpoints, load_endpoints
from simulator.delivery._engine import Progress
from simulator.delivery._input import Outbound, read_batches
from simulator.delivery._journal import Journal
from simulator.delivery._report import Report
from simulator.delivery._retry import PRESETS, RetryPolicy, parse_retry_after
from simulator.delivery._sender import USER_AGENT, EventSource, Sender
from simulator.delivery._transports import (
    CurlTransport,
    HttpxTransport,
    Response,
    Transport,
    transport_for,
)
from simulator.delivery._urls import check_url, is_loopback

__all__ = [
    "PRESETS",
    "USER_AGENT",
    "CurlTransport",
    "Endpoint",
    "HttpxTransport",
    "Journal",
    "Outbound",
    "Progress",
    "Report",
    "Response",
    "RetryPolicy",
    "Router",
    "Sender",
    "Transport",
    "check_endpoints",
    "check_url",
    "is_loopback",
    "load_endpoints",
    "parse_retry_after",
    "read_batches",
    "send",
    "transport_for",
]


def send(
    events: EventSource,
    *,
    to: Sequence[str] = (),
    endpoints: Sequence[Endpoint] = (),
    secrets: Iterable[str | SigningSecret] = (),
    token: str | None = None,
    journal: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Report:
    """Deliver events (a JSONL path, ``-``, or an iterable of envelopes) and return the ``Report``.

    ``options`` are ``Sender``'s: ``concurrency=32``, ``rate=None``, ``pace``, ``speed``,
    ``ordered``, ``order_key``, ``retry="standard-webhooks"``, ``time_scale``,
    ``timeout=15``, ``types`` (only these event types), ``app`` (an ASGI/WSGI app in process;
    an ASGI app's lifespan starts before the first delivery and shuts down at the end)…
    """
    sender = Sender(to=to, endpoints=endpoints, secrets=secrets, token=token, **options)
    return sender.send(events, journal=journal)
