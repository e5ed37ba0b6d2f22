"""A small Secret Chest webhook listener on Starlette, the way we would write one for production.

It verifies the Standard Webhooks signature before anything else, refuses what it
cannot route, acknowledges a redelivery without processing it twice, and keeps
what it learnt in ``app.state.store``. Run it with ``uvicorn starlette_listener:app``
after setting ``SECRET_CHEST_WEBHOOK_SECRET``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOLERANCE = 300  # seconds between webhook-timestamp and our clock, as Standard Webhooks advises
MAX_BODY = 512 * 1024


def verify(secret: str, headers: Any, body: bytes, *, now: float | None = None) -> bool:
    """True when a ``v1`` signature in ``webhook-signature`` matches ``id.timestamp.body``."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not stamp or not signatures:
        return False
    try:
        timestamp = int(stamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    expected = base64.b64encode(mac.digest()).decode()
    return any(
        version == "v1" and hmac.compare_digest(expected, candidate)
        for version, _, candidate in (part.partition(",") for part in signatures.split())
    )


class Store:
    """What the listener learnt: processed deliveries and how often each secret was used."""

    def __init__(self) -> None:
        self.processed: dict[str, str] = {}  # webhook-id -> event type
        self.uses: dict[str, int] = {}

    def handle(self, event: dict[str, Any]) -> None:
        data = event["data"]
        if event["type"] == "secret.used":
            secret_id = data["secret"]["id"]
            self.uses[secret_id] = self.uses.get(secret_id, 0) + 1


def create_app(secret: str) -> Starlette:
    """The listener, bound to the endpoint's ``whsec_…`` signing secret."""
    store = Store()

    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "body too large"}, status_code=413)
        if not verify(secret, request.headers, body):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        msg_id = request.headers["webhook-id"]
        if msg_id in store.processed:
            return JSONResponse({"duplicate": True})
        try:
            event = json.loads(body)
        except (ValueError, RecursionError):
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(event, dict) or not isinstance(event.get("type"), str) \
                or not isinstance(event.get("data"), dict):
            return JSONResponse({"error": "not a webhook event"}, status_code=400)
        try:
            store.handle(event)
        except (KeyError, TypeError, IndexError):
            return JSONResponse({"error": "event is missing what we need"}, status_code=422)
        store.processed[msg_id] = event["type"]
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/webhooks", webhook, methods=["POST"])])
    app.state.store = store
    return app


app = create_app(os.environ.get("SECRET_CHEST_WEBHOOK_SECRET", "whsec_" + "A" * 32))
