"""``Lifespan`` for ``chest_deliver``: an ASGI app's lifespan run around a test's deliveries.

The protocol itself lives in ``simulator._lifespan`` (``chestsim send --app`` runs it
too); here a failure is a ``HarnessAssertion``, so it fails the test in one line that
says how the app's startup or shutdown should be fixed.

>>> import asyncio
>>> async def app(scope, receive, send):
...     await receive()                                   # lifespan.startup
...     await send({"type": "lifespan.startup.failed", "message": "no database"})
>>> async def serve():
...     await Lifespan(app, timeout=5).startup()
>>> asyncio.run(serve())
Traceback (most recent call last):
simulator._exceptions.HarnessAssertion: ASGI app app: lifespan startup failed: no database; ...
"""

from __future__ import annotations

from simulator import _lifespan
from simulator._exceptions import HarnessAssertion

__all__ = ["Lifespan"]


class Lifespan(_lifespan.Lifespan):
    """Startup and shutdown of one ASGI app for ``chest_deliver``; failures fail the test."""

    def failure(self, stage: _lifespan.Stage, reason: str) -> HarnessAssertion:
        fix = ("make its startup succeed in the test (configure or replace what it opens)" if stage == "startup"
               else "make its shutdown succeed (close what startup opened, once)")
        return HarnessAssertion(
            f"{self.name}: lifespan {stage} failed: {reason}; chest_deliver runs the app's lifespan as a "
            f"server does (startup before the first delivery, shutdown at teardown): {fix}"
        )
