"""``Deliverer``: signed POSTs to a URL, or straight into an ASGI or WSGI app in process.

The ``chest_deliver`` fixture is a ``Deliverer``. Events are signed when sent
(Standard Webhooks, with the test's secret); ``Delivery`` objects from
``simulator.strategies`` are sent exactly as drawn. An app that raises instead of
answering fails the test with ``HarnessAssertion``, naming the delivery.

>>> from simulator.testing import ChestSettings
>>> Deliverer(ChestSettings.resolve())
Deliverer(seed=0, path='/webhooks')
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, Literal, TypeVar

import httpx

from simulator._exceptions import HarnessAssertion, UsageError
from simulator._signing import SigningSecret
from simulator._types import Event
from simulator.testing._delivery import Delivery
from simulator.testing._hostile import valid
from simulator.testing._settings import ChestSettings

__all__ = ["Deliverer", "deliver"]

T = TypeVar("T")
Item = Event | Delivery
Kind = Literal["asgi", "wsgi", "url"]

# In-process requests need a host; nothing resolves it.
_IN_PROCESS_BASE = "http://testserver"


def _items(items: Item | Iterable[Item]) -> list[Item]:
    if isinstance(items, (dict, Delivery)):
        return [items]
    return list(items)


def _kind(target: Any, kind: Kind | None) -> Kind:
    if kind is not None:
        return kind
    if isinstance(target, str):
        return "url"
    if hasattr(target, "url") and isinstance(target.url, str):
        return "url"
    if not callable(target):
        raise UsageError(
            f"target={target!r} is neither a URL, a running chest_listener, nor an ASGI/WSGI app"
        )
    from simulator.delivery._transports import is_asgi

    return "asgi" if is_asgi(target) else "wsgi"


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code, even inside a running event loop."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is None:
        return asyncio.run(coro)
    # A sync call from an async test: the app gets its own loop in a helper thread.
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="chestsim-asgi") as pool:
        return pool.submit(asyncio.run, coro).result()


class Deliverer:
    """Sends events or ``Delivery`` objects and returns each ``httpx.Response``.

    ``target`` is a URL, a running ``chest_listener``, or an ASGI/WSGI app object
    (told apart by its signature; pass ``kind="asgi"`` or ``"wsgi"`` to be explicit).

    >>> responses = chest_deliver(app, chest_events("secret.used", n=3))   # doctest: +SKIP
    >>> [r.status_code for r in responses]                                 # doctest: +SKIP
    [204, 204, 204]
    """

    def __init__(self, settings: ChestSettings, *, path: str = "/webhooks",
                 now: Callable[[], float] = time.time, timeout: float = 30.0) -> None:
        self.settings = settings
        self.path = path
        self.now = now
        self.timeout = timeout
        #: Every (delivery, response) this deliverer has sent, in order.
        self.sent: list[tuple[Delivery, httpx.Response]] = []

    def __repr__(self) -> str:
        return f"Deliverer(seed={self.settings.seed!r}, path={self.path!r})"

    def sign(self, event: Event, *, secret: str | SigningSecret | None = None) -> Delivery:
        """The genuine ``Delivery`` of ``event``, signed now with ``secret`` (default: the test's)."""
        return valid(event, self._secret(secret), now=self.now())

    def _secret(self, secret: str | SigningSecret | None) -> SigningSecret:
        if secret is None:
            return self.settings.secret
        return secret if isinstance(secret, SigningSecret) else SigningSecret(secret)

    def _prepare(self, items: Item | Iterable[Item], secret: str | SigningSecret | None,
                 headers: Mapping[str, str] | None) -> list[Delivery]:
        key = self._secret(secret)
        out = []
        for item in _items(items):
            delivery = item if isinstance(item, Delivery) else valid(item, key, now=self.now())
            if headers:
                merged = {**delivery.header_dict, **{k.lower(): v for k, v in headers.items()}}
                delivery = Delivery(label=delivery.label, expect=delivery.expect, body=delivery.body,
                                    headers=tuple(merged.items()), event_type=delivery.event_type,
                                    detail=delivery.detail)
            out.append(delivery)
        return out

    def _url(self, target: Any, kind: Kind, path: str | None) -> str:
        if kind != "url":
            return _IN_PROCESS_BASE + (path or self.path)
        url = target if isinstance(target, str) else str(target.url)
        return url if path is None else url.rstrip("/") + path

    def _crashed(self, delivery: Delivery, exc: BaseException) -> HarnessAssertion:
        return HarnessAssertion(
            f"delivery {delivery.label!r}{f' ({delivery.detail})' if delivery.detail else ''}: "
            f"the listener raised {type(exc).__name__}, it crashed instead of answering; "
            f"a listener must answer every POST with 2xx or 4xx; {self.settings.reproduce()}"
        )

    def __call__(self, target: Any, items: Item | Iterable[Item], *,
                 secret: str | SigningSecret | None = None, path: str | None = None,
                 headers: Mapping[str, str] | None = None, kind: Kind | None = None,
                 check: bool = False) -> list[httpx.Response]:
        """Deliver ``items`` to ``target`` in order; return each response.

        ``check=True`` asserts each answer against its ``Delivery.expect`` (events: ``accept``).
        """
        how = _kind(target, kind)
        deliveries = self._prepare(items, secret, headers)
        if how == "asgi":
            return _run(self._send_async(target, deliveries, path, check))
        url = self._url(target, how, path)
        transport = httpx.WSGITransport(app=target) if how == "wsgi" else None
        with httpx.Client(transport=transport, timeout=self.timeout) as client:
            return [self._post(client, url, d, check) for d in deliveries]

    async def asend(self, target: Any, items: Item | Iterable[Item], *,
                    secret: str | SigningSecret | None = None, path: str | None = None,
                    headers: Mapping[str, str] | None = None, kind: Kind | None = None,
                    check: bool = False) -> list[httpx.Response]:
        """``__call__`` for async tests: ASGI apps and URLs run on the test's own loop."""
        how = _kind(target, kind)
        deliveries = self._prepare(items, secret, headers)
        if how == "wsgi":
            return self(target, deliveries, path=path, kind="wsgi", check=check)
        if how == "url":
            return await self._send_async(None, deliveries, path, check, url=self._url(target, how, path))
        return await self._send_async(target, deliveries, path, check)

    async def _send_async(self, app: Any, deliveries: list[Delivery], path: str | None,
                          check: bool, *, url: str | None = None) -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app) if app is not None else None
        target = url or _IN_PROCESS_BASE + (path or self.path)
        out = []
        async with httpx.AsyncClient(transport=transport, timeout=self.timeout) as client:
            for delivery in deliveries:
                try:
                    response = await client.post(target, content=delivery.body,
                                                 headers=delivery.header_dict)
                except httpx.HTTPError:
                    raise
                except Exception as exc:
                    raise self._crashed(delivery, exc) from exc
                out.append(self._record(delivery, response, check))
        return out

    def _post(self, client: httpx.Client, url: str, delivery: Delivery, check: bool) -> httpx.Response:
        try:
            response = client.post(url, content=delivery.body, headers=delivery.header_dict)
        except httpx.HTTPError:
            raise
        except Exception as exc:
            raise self._crashed(delivery, exc) from exc
        return self._record(delivery, response, check)

    def _record(self, delivery: Delivery, response: httpx.Response, check: bool) -> httpx.Response:
        self.sent.append((delivery, response))
        if check:
            delivery.check(response, seed=self.settings.seed)
        return response


def deliver(target: Any, items: Item | Iterable[Item], *, secret: str | SigningSecret | None = None,
            path: str | None = None, headers: Mapping[str, str] | None = None,
            kind: Kind | None = None, check: bool = False) -> list[httpx.Response]:
    """``chest_deliver`` without the fixture, for Hypothesis tests (no function-scoped fixture
    to reset between examples). Events are signed with ``secret`` (default ``TEST_SECRET``).

    >>> from hypothesis import given
    >>> from simulator import strategies as cs
    >>> @given(cs.deliveries())                                   # doctest: +SKIP
    ... def test_listener(delivery):
    ...     deliver(create_app(TEST_SECRET), delivery, check=True)
    """
    marker = {} if secret is None else {"secret": secret}
    return Deliverer(ChestSettings.resolve(marker=marker))(
        target, items, path=path, headers=headers, kind=kind, check=check)
