"""``Deliverer``: signed POSTs to a URL, or straight into an ASGI or WSGI app in process.

The ``chest_deliver`` fixture is a ``Deliverer``. Events are signed when sent
(Standard Webhooks, with the test's secret); ``Delivery`` objects from
``simulator.strategies`` are sent exactly as drawn. An app that raises instead of
answering fails the test with ``HarnessAssertion``, naming the delivery.

An ASGI app is served as a server would: its lifespan starts before the first
delivery into it and shuts down at ``close()`` (the fixture's teardown). Synchronous
calls run it on one event loop in a helper thread (``Portal``); ``asend`` on the
test's own loop.

>>> from simulator.testing import ChestSettings
>>> Deliverer(ChestSettings.resolve())
Deliverer(seed=0, path='/webhooks')
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx

from simulator._exceptions import HarnessAssertion, UsageError
from simulator._signing import SigningSecret
from simulator._types import Event
from simulator.delivery._transports import HttpxTransport, is_asgi
from simulator.testing._delivery import Delivery
from simulator.testing._hostile import valid
from simulator.testing._lifespan import Lifespan
from simulator.testing._portal import Portal
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
    return "asgi" if is_asgi(target) else "wsgi"


class Deliverer:
    """Sends events or ``Delivery`` objects and returns each ``httpx.Response``.

    ``target`` is a URL, a running ``chest_listener``, or an ASGI/WSGI app object
    (told apart by its signature; pass ``kind="asgi"`` or ``"wsgi"`` to be explicit).
    ASGI apps get their lifespan events; ``close()`` (or ``with``) shuts them down.

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
        self._lifespans: list[Lifespan] = []
        self._portal: Portal | None = None

    def __repr__(self) -> str:
        return f"Deliverer(seed={self.settings.seed!r}, path={self.path!r})"

    def __enter__(self) -> Deliverer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> Deliverer:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    def close(self) -> None:
        """Shut down every ASGI app whose lifespan started (``lifespan.shutdown``).

        Raises ``HarnessAssertion`` when an app's shutdown fails (after shutting down the rest).
        """
        lifespans, self._lifespans = self._lifespans, []
        failures: list[HarnessAssertion] = []
        try:
            for lifespan in lifespans:
                try:
                    self._shutdown(lifespan)
                except HarnessAssertion as exc:
                    failures.append(exc)
        finally:
            if self._portal is not None:
                self._portal.close()
                self._portal = None
        if failures:
            raise failures[0]

    async def aclose(self) -> None:
        """``close()`` from async code: apps on the running loop shut down on it."""
        loop = asyncio.get_running_loop()
        here = [lifespan for lifespan in self._lifespans if lifespan.loop is loop]
        self._lifespans = [lifespan for lifespan in self._lifespans if lifespan.loop is not loop]
        failure: HarnessAssertion | None = None
        for lifespan in here:
            try:
                await lifespan.shutdown()
            except HarnessAssertion as exc:
                failure = failure or exc
        try:
            self.close()
        except HarnessAssertion as exc:
            failure = failure or exc
        if failure is not None:
            raise failure

    def _shutdown(self, lifespan: Lifespan) -> None:
        loop = lifespan.loop
        if loop is None:
            return
        if self._portal is not None and loop is self._portal.loop:
            self._portal.call(lifespan.shutdown())
        elif loop.is_closed():
            # An async test's loop closes before this fixture's teardown; the app was shut
            # down as it closed (see Lifespan._receive): report how that went.
            lifespan.settle_after_loop_closed()
        elif not loop.is_running() and not _loop_running_here():
            loop.run_until_complete(lifespan.shutdown())
        else:
            raise UsageError(
                f"{lifespan!r} runs on an event loop that is busy: call `await deliverer.aclose()` "
                f"on that loop to shut the app down"
            )

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
        app = None if how == "url" else target
        return self._in_portal(self._send_async(app, deliveries, path, check, url=self._url(target, how, path)))

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

    def _in_portal(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._portal is None:
            self._portal = Portal()
        return self._portal.call(coro)

    async def _started(self, app: Any) -> Any:
        """``app`` after its lifespan startup on this loop (run once), as requests should see it."""
        loop = asyncio.get_running_loop()
        lifespan = next((ls for ls in self._lifespans if ls.app is app and ls.loop is loop), None)
        if lifespan is None:
            lifespan = Lifespan(app, timeout=self.timeout)
            self._lifespans.append(lifespan)
        await lifespan.startup()
        return lifespan.app_for_requests

    async def _send_async(self, app: Any, deliveries: list[Delivery], path: str | None,
                          check: bool, *, url: str | None = None) -> list[httpx.Response]:
        """Post through the transport package's in-process/httpx transport; an ASGI app is
        called as started by its lifespan (run here, once per loop, shut down at ``close``)."""
        if app is not None and is_asgi(app):
            app = await self._started(app)
        transport = HttpxTransport(app=app, serve_lifespan=False)
        target = url or _IN_PROCESS_BASE + (path or self.path)
        out = []
        await transport.open()
        try:
            for delivery in deliveries:
                try:
                    response = await transport.post(target, delivery.body, delivery.header_dict, self.timeout)
                except httpx.HTTPError:
                    raise
                except Exception as exc:
                    raise self._crashed(delivery, exc) from exc
                out.append(self._record(delivery, response, check))
        finally:
            await transport.close()
        return out

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
    deliverer = Deliverer(ChestSettings.resolve(marker=marker))
    # An ASGI app's lifespan starts and stops around this one call: on one loop of its own,
    # as ``asyncio.run`` gives, unless this thread runs a loop already (then the portal's).
    if _kind(target, kind) == "asgi" and not _loop_running_here():
        async def once() -> list[httpx.Response]:
            async with deliverer:
                return await deliverer.asend(target, items, path=path, headers=headers,
                                             kind="asgi", check=check)

        return asyncio.run(once())
    with deliverer:
        return deliverer(target, items, path=path, headers=headers, kind=kind, check=check)


def _loop_running_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
