"""In process: an ASGI or WSGI app called through httpx, as a server would call it.

The one way chestsim posts into an app (``chestsim send --app``, ``Sender(app=…)`` and
the pytest plugin's ``chest_deliver``). An ASGI app is served as a server would serve it:
``open`` runs its lifespan startup before the first delivery, ``close`` its shutdown
after the last (an app without lifespan support gets its deliveries without them).
``post`` gives the ``httpx.Response`` itself (what ``chest_deliver`` returns); ``send``
the transport's ``Response``.

>>> HttpxTransport(app=lambda environ, start_response: [])
HttpxTransport(app=<function <lambda> at ...>)
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Mapping
from typing import Any

import httpx

from simulator._exceptions import DeliveryError, UsageError
from simulator._lifespan import Lifespan, Stage
from simulator.delivery._transports._base import Response

__all__ = ["HttpxTransport", "is_asgi", "load_app"]


class HttpxTransport:
    """httpx: an ASGI or WSGI app in process (``--app module:attr``), or any ``AsyncClient``
    (respx mocks this one in tests).

    An ASGI app's lifespan runs around the deliveries, each wait bounded by
    ``lifespan_timeout`` (60 s, Hypercorn's default); ``name`` is what messages call the
    app (``chestsim send`` gives ``--app='module:attr'``); ``lifespan`` is the class that
    runs it, which decides what a failed startup or shutdown raises (the pytest plugin's
    fails the test). ``serve_lifespan=False``: the caller runs the lifespan itself (the
    pytest plugin keeps an app started across several calls) and passes the app to call.
    """

    def __init__(self, *, app: Any = None, client: httpx.AsyncClient | None = None,
                 name: str | None = None, lifespan_timeout: float = 60.0,
                 lifespan: type[Lifespan] | None = None, serve_lifespan: bool = True) -> None:
        self.app = app
        self.serve_lifespan = serve_lifespan
        self.name = name
        self.lifespan_timeout = lifespan_timeout
        self._lifespan_class = lifespan or _AppLifespan
        self._given = client
        self._client: httpx.AsyncClient | None = client
        self._sync: httpx.Client | None = None
        self._lifespan: Lifespan | None = None

    def __repr__(self) -> str:
        return f"HttpxTransport(app={self.app!r})" if self.app is not None else "HttpxTransport(client=...)"

    def prepare_url(self, url: str) -> Any:
        return url

    async def open(self) -> None:
        if self._client is not None or self._sync is not None:
            return
        if self.app is None:
            self._client = httpx.AsyncClient()
        elif is_asgi(self.app) and not self.serve_lifespan:
            self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
        elif is_asgi(self.app):
            self._lifespan = self._lifespan_class(self.app, timeout=self.lifespan_timeout, name=self.name)
            await self._lifespan.startup()  # UsageError when it failed: nothing is sent
            self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self._lifespan.app_for_requests))
        else:
            # httpx runs WSGI apps synchronously; in process that is what the user asked for.
            self._sync = httpx.Client(transport=httpx.WSGITransport(app=self.app))

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> httpx.Response:
        """One POST; raises what httpx or the app raised."""
        if self._sync is not None:
            return self._sync.post(url, content=body, headers=headers, timeout=timeout,
                                   follow_redirects=False)
        assert self._client is not None, "open() the transport first"
        return await asyncio.wait_for(
            self._client.post(url, content=body, headers=headers, timeout=timeout,
                              follow_redirects=False), timeout)

    async def send(self, url: Any, body: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        try:
            resp = await self.post(url, body, headers, timeout)
        except (TimeoutError, httpx.TimeoutException):
            return Response(0, None, f"timeout after {timeout:g}s")
        except httpx.HTTPError as exc:
            return Response(0, None, f"{type(exc).__name__}: {exc}"[:200])
        except Exception as exc:
            return Response(0, None, f"the app raised {type(exc).__name__} instead of answering")
        return Response(resp.status_code, resp.headers.get("retry-after"))

    async def close(self) -> None:
        """Release the client, then shut a started ASGI app down (``DeliveryError`` if that fails)."""
        if self._client is not None and self._given is None:
            await self._client.aclose()
            self._client = None
        if self._sync is not None:
            self._sync.close()
            self._sync = None
        lifespan, self._lifespan = self._lifespan, None
        if lifespan is not None:
            await lifespan.shutdown()


class _AppLifespan(Lifespan):
    """The lifespan of a ``send --app`` ASGI app: a failed startup is a ``UsageError`` (exit 2,
    nothing sent), a failed shutdown a ``DeliveryError`` (every delivery before it stands)."""

    def failure(self, stage: Stage, reason: str) -> UsageError | DeliveryError:
        serve = ("chestsim runs the app's lifespan as a server does (startup before the first "
                 "delivery, shutdown when the run ends)")
        if stage == "shutdown":
            return DeliveryError(f"{self.name}: lifespan shutdown failed: {reason}; the deliveries before "
                                 f"it stand; {serve}: make its shutdown succeed (close what startup opened, once)")
        if reason.startswith("no lifespan."):  # it never answered: maybe an app that ignores the scope type
            fix = ("make its startup answer sooner, or, if the app has no lifespan support, make it "
                   "return or raise on a 'lifespan' scope")
        else:
            fix = "make its startup succeed (configure or start what it opens: settings, a database, a service)"
        return UsageError(f"{self.name}: lifespan startup failed: {reason}; nothing was sent; {serve}: {fix}")


def is_asgi(app: Any) -> bool:
    """ASGI apps are coroutine functions of (scope, receive, send); WSGI of (environ, start_response)."""
    target = app if inspect.isfunction(app) or inspect.ismethod(app) else getattr(app, "__call__", app)  # noqa: B004
    if inspect.iscoroutinefunction(target):
        return True
    try:
        params = [p for p in inspect.signature(target).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return False
    return len(params) == 3


def load_app(spec: str) -> Any:
    """The object named by ``module:attr`` (``--app``)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"--app={spec!r} must look like module:attr, like myservice.web:app")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"--app={spec!r}: cannot import {module_name!r} ({exc})") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"--app={spec!r}: {module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise UsageError(f"--app={spec!r} is not an ASGI or WSGI application (not callable)")
    return obj
