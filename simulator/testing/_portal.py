"""``Portal``: an event loop in a thread of its own, for ASGI apps called from synchronous code.

An app's lifespan spans every delivery of a test, so the loop it runs on must outlive
each ``chest_deliver(app, ...)`` call; and a synchronous call may come from inside an
async test, whose own loop is busy running that test. Starlette's ``TestClient``
does the same with anyio's blocking portal.

>>> import asyncio
>>> async def answer():
...     await asyncio.sleep(0)
...     return 42
>>> portal = Portal()
>>> portal.call(answer())
42
>>> portal.close()
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["Portal"]

T = TypeVar("T")


class Portal:
    """A running event loop in a daemon thread; ``call`` runs a coroutine there and waits."""

    def __init__(self, *, name: str = "chestsim-asgi") -> None:
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    def __repr__(self) -> str:
        return f"Portal(thread={self._thread.name!r}, running={self._thread.is_alive()!r})"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    def _serve(self) -> None:
        # asyncio.Runner cancels what is left and closes async generators when the loop ends.
        with asyncio.Runner() as runner:
            runner.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._closing = asyncio.Event()
        self._ready.set()
        await self._closing.wait()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the portal's loop; return its result or raise its exception."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        """Stop the loop (tasks still running are cancelled) and wait for the thread."""
        if self._thread.is_alive() and self._closing is not None:
            self.loop.call_soon_threadsafe(self._closing.set)
            self._thread.join()
