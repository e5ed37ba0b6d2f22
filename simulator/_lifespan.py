"""``Lifespan``: the ASGI lifespan protocol, run for an app that chestsim posts into in process.

A server tells an ASGI app that it starts (``lifespan.startup``) before the first
request and that it stops (``lifespan.shutdown``) after the last one; the app opens
what its handlers need in between (a database pool, ``app.state``, or the lifespan
``state`` that each request's scope gets a copy of). httpx's ``ASGITransport``
sends neither, so chestsim runs the protocol itself wherever it posts into an app:
``chest_deliver`` in tests (``simulator.testing``) and ``chestsim send --app``
(``simulator.delivery``) (https://asgi.readthedocs.io/en/latest/specs/lifespan.html):

```
new ──startup()──▶ started ──shutdown()──▶ stopped
 ├──▶ unsupported   the app raised, returned, or sent something else: per the spec,
 │                  deliveries go to it without lifespan events
 └──▶ failed        lifespan.startup.failed, or no answer in time: ``failure()``
```

Each host words the failure for its users by overriding ``failure``: the pytest
plugin raises ``HarnessAssertion``, ``send --app`` a ``UsageError`` (exit code 2).

>>> import asyncio
>>> async def app(scope, receive, send):
...     assert scope["type"] == "lifespan"
...     await receive()                                   # lifespan.startup
...     scope["state"]["pool"] = "open"
...     await send({"type": "lifespan.startup.complete"})
...     await receive()                                   # lifespan.shutdown
...     await send({"type": "lifespan.shutdown.complete"})
>>> async def serve():
...     lifespan = Lifespan(app, timeout=5)
...     await lifespan.startup()
...     state = dict(lifespan.state)
...     await lifespan.shutdown()
...     return state, lifespan.phase
>>> asyncio.run(serve())
({'pool': 'open'}, 'stopped')
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

from simulator._exceptions import ChestsimError, DeliveryError

__all__ = ["Lifespan"]

Message = MutableMapping[str, Any]
ASGIApp = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Message]],
                    Callable[[Message], Awaitable[None]]], Awaitable[None]]
Phase = Literal["new", "starting", "started", "unsupported", "failed", "stopping", "stopped"]
Stage = Literal["startup", "shutdown"]

_EXPECTED: dict[str, tuple[str, str]] = {
    "starting": ("lifespan.startup.complete", "lifespan.startup.failed"),
    "stopping": ("lifespan.shutdown.complete", "lifespan.shutdown.failed"),
}


def _name(app: Any) -> str:
    return str(getattr(app, "__qualname__", None) or type(app).__qualname__)


def _reason(message: Message | None, exc: BaseException | None) -> str:
    """One line: the last line of the app's message (Starlette sends a whole traceback)."""
    text = str(message.get("message") or "") if message else ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines:
        return lines[-1]
    if exc is not None:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return "no reason given"


class Lifespan:
    """Startup and shutdown of one ASGI app on the running event loop.

    ``app_for_requests`` is what to post into after ``startup()``: the app itself,
    or, when its lifespan ran, the app given a copy of the lifespan ``state`` in
    each request's scope (as the spec asks of a server).
    """

    def __init__(self, app: Any, *, timeout: float, name: str | None = None) -> None:
        self.app = app
        self.timeout = timeout
        #: What messages call the app: ``name``, else ``ASGI app <its class or function>``.
        self.name = name or f"ASGI app {_name(app)}"
        self.state: dict[str, Any] = {}
        self.phase: Phase = "new"
        self.loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._replies: asyncio.Queue[Message] = asyncio.Queue()
        self._failure: ChestsimError | None = None

    def __repr__(self) -> str:
        return f"Lifespan({_name(self.app)}, phase={self.phase!r})"

    @property
    def app_for_requests(self) -> Any:
        if self.phase != "started":
            return self.app
        app, state = self.app, self.state

        async def with_state(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
            await app({**scope, "state": dict(state)}, receive, send)

        return with_state

    # -- the server's side of the protocol ---------------------------------------------------

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the answer (once, however many callers)."""
        if self._starting is None:
            self.loop = asyncio.get_running_loop()
            self._starting = asyncio.ensure_future(self._startup())
        await asyncio.shield(self._starting)
        if self.phase == "failed" and self._failure is not None:
            raise self._failure

    async def _startup(self) -> None:
        self.phase = "starting"
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        self._task = asyncio.ensure_future(self._call(scope))
        self._inbox.put_nowait({"type": "lifespan.startup"})
        try:
            reply = await self._reply()
        except TimeoutError:
            self._fail("startup", f"no lifespan.startup.complete within timeout={self.timeout:g}s", None)
            self._task.cancel()
            return
        if reply is None:
            # It raised or returned instead of answering: an app without lifespan support.
            self.phase = "unsupported"
            if not self._task.cancelled():
                self._task.exception()  # seen: asyncio would log it as never retrieved
        elif reply["type"] == "lifespan.startup.complete":
            self.phase = "started"
        else:
            self._fail("startup", _reason(reply, None), await self._outcome())

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` to a started app and wait for it to finish.

        Raises ``failure("shutdown", …)`` when it reports a failure, raises, or does not answer.
        """
        if self.phase != "started":
            return
        self.phase = "stopping"
        self._inbox.put_nowait({"type": "lifespan.shutdown"})
        try:
            reply = await self._reply()
        except TimeoutError:
            assert self._task is not None
            self._task.cancel()
            self._fail("shutdown", f"no lifespan.shutdown.complete within timeout={self.timeout:g}s", None)
        else:
            self.judge_shutdown(reply, await self._outcome())
        if self._failure is not None:
            raise self._failure

    def judge_shutdown(self, reply: Message | None, exc: BaseException | None) -> None:
        """Record how shutdown ended: complete (or the app returned), or a failure."""
        self.phase = "stopped"
        if reply is not None and reply["type"] == "lifespan.shutdown.failed":
            self._fail("shutdown", _reason(reply, exc), exc)
        elif exc is not None:
            self._fail("shutdown", _reason(None, exc), exc)

    def settle_after_loop_closed(self) -> None:
        """Judge a shutdown that ran while the app's event loop closed (see ``_receive``).

        Raises ``failure("shutdown", …)`` when it failed or never ran.
        """
        if self.phase == "stopping" and self._task is not None and self._task.done():
            reply = self._replies.get_nowait() if not self._replies.empty() else None
            exc = None if self._task.cancelled() else self._task.exception()
            self.judge_shutdown(reply, exc)
        elif self.phase in ("started", "stopping"):
            self._fail("shutdown", "its event loop closed before the lifespan shutdown finished", None)
        if self._failure is not None and self.phase == "stopped":
            raise self._failure

    def failure(self, stage: Stage, reason: str) -> ChestsimError:
        """The exception a failed ``stage`` raises; hosts override it to say how to fix it in
        their own terms (its ``__cause__`` is set to the app's own exception, if any)."""
        return DeliveryError(f"{self.name}: lifespan {stage} failed: {reason}")

    def _fail(self, stage: Stage, reason: str, exc: BaseException | None) -> None:
        self.phase = "failed" if stage == "startup" else "stopped"
        failure = self.failure(stage, reason)
        failure.__cause__ = exc  # the app's own traceback, when it raised
        failure.__suppress_context__ = True
        self._failure = failure

    async def _reply(self) -> Message | None:
        """The app's next message, or ``None`` when its lifespan call ended without one."""
        assert self._task is not None
        getter = asyncio.ensure_future(self._replies.get())
        done, _ = await asyncio.wait({getter, self._task}, timeout=self.timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        if not self._replies.empty():  # it answered, then ended before the getter woke
            return self._replies.get_nowait()
        if not done:
            raise TimeoutError
        return None

    async def _outcome(self) -> BaseException | None:
        """The exception the app's lifespan call ends with, if it ends soon (Starlette re-raises)."""
        assert self._task is not None
        done, _ = await asyncio.wait({self._task}, timeout=min(self.timeout, 1.0))
        if not done or self._task.cancelled():
            return None
        return self._task.exception()

    # -- the app's side: what it calls -------------------------------------------------------

    async def _call(self, scope: dict[str, Any]) -> None:
        await self.app(scope, self._receive, self._send)

    async def _receive(self) -> Message:
        try:
            return await self._inbox.get()
        except asyncio.CancelledError:
            if self.phase != "started":
                raise
            # The loop is closing with the app still up (an async test's event loop ends before
            # the fixture's teardown; asyncio.run cancels what is left of an interrupted run).
            # Shut the app down now, as a server on its way out would.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            self.phase = "stopping"
            return {"type": "lifespan.shutdown"}

    async def _send(self, message: Message) -> None:
        expected = _EXPECTED.get(self.phase, ())
        if message.get("type") not in expected:
            # As uvicorn does: the app is not speaking lifespan (a bare app answering as if
            # to HTTP); raising ends its lifespan call, and it runs without one.
            raise RuntimeError(f"unexpected ASGI message {message.get('type')!r} in lifespan phase "
                               f"{self.phase!r}; expected {' or '.join(expected) or 'nothing'}")
        self._replies.put_nowait(message)
