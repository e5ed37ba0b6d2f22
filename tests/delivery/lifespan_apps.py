"""ASGI apps for ``chestsim send --app lifespan_apps:…``: what each one's lifespan and handler
did is appended to the file named by ``$LIFESPAN_APPS_LOG``, one line a step, so that a test
sees it after an in-process run or a subprocess.

``listener`` needs what its lifespan opens (``app.state`` and the lifespan state): without
its startup every delivery would fail. ``$LIFESPAN_APPS_DELAY`` slows each delivery down.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

LOG_ENV = "LIFESPAN_APPS_LOG"
DELAY_ENV = "LIFESPAN_APPS_DELAY"


def log(line: str) -> None:
    with Path(os.environ[LOG_ENV]).open("a") as f:
        f.write(line + "\n")


def read_log(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def hook(request: Request) -> Response:
    seen: list[str] = request.state.seen  # in the lifespan state: AttributeError without startup
    assert request.app.state.pool == "open"
    seen.append(request.headers["webhook-id"])
    if delay := float(os.environ.get(DELAY_ENV) or 0):
        await asyncio.sleep(delay)
    log(f"delivered {request.headers['webhook-id']}")
    return Response(status_code=204)


def _starlette(*, fail: str | None = None) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if fail == "startup":
            raise RuntimeError("cannot connect to the database at db:5432")
        log("startup")
        app.state.pool = "open"
        seen: list[str] = []
        yield {"seen": seen}
        app.state.pool = "closed"
        log(f"shutdown after {len(seen)} deliveries")
        if fail == "shutdown":
            raise RuntimeError("the pool was already closed")

    return Starlette(routes=[Route("/", hook, methods=["POST"])], lifespan=lifespan)


listener = _starlette()
broken = _starlette(fail="startup")
shutdown_fails = _starlette(fail="shutdown")


async def no_lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app without lifespan support: it returns on anything but HTTP."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    log(f"delivered {dict(scope['headers'])[b'webhook-id'].decode()}")
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
