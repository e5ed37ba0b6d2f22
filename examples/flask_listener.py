"""A small Secret Chest webhook listener on Flask, the way we would write one for production.

It verifies the Standard Webhooks signature before anything else, refuses what it
cannot route, acknowledges a redelivery without processing it twice, and keeps
what it learnt in ``app.extensions["webhooks"]``. Run it with
``flask --app flask_listener run`` after setting ``SECRET_CHEST_WEBHOOK_SECRET``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any

from flask import Flask, request

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
    """What the listener learnt: processed deliveries and who joined the tenant."""

    def __init__(self) -> None:
        self.processed: dict[str, str] = {}  # webhook-id -> event type
        self.users: dict[str, str] = {}  # user id -> email

    def handle(self, event: dict[str, Any]) -> None:
        data = event["data"]
        if event["type"] == "user.created":
            user = data["user"]
            self.users[user["id"]] = user["email"].lower()
        elif event["type"] == "user.deleted":
            self.users.pop(data["user"]["id"], None)


def create_app(secret: str) -> Flask:
    """The listener, bound to the endpoint's ``whsec_…`` signing secret."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    store = app.extensions["webhooks"] = Store()

    @app.post("/webhooks")
    def webhook() -> tuple[dict[str, Any], int]:
        body = request.get_data()
        if not verify(secret, request.headers, body):
            return {"error": "bad signature"}, 401
        msg_id = request.headers["webhook-id"]
        if msg_id in store.processed:
            return {"duplicate": True}, 200
        try:
            event = json.loads(body)
        except (ValueError, RecursionError):
            return {"error": "body is not JSON"}, 400
        if not isinstance(event, dict) or not isinstance(event.get("type"), str) \
                or not isinstance(event.get("data"), dict):
            return {"error": "not a webhook event"}, 400
        try:
            store.handle(event)
        except (KeyError, TypeError, AttributeError):
            return {"error": "event is missing what we need"}, 422
        store.processed[msg_id] = event["type"]
        return {"ok": True}, 200

    return app


app = create_app(os.environ.get("SECRET_CHEST_WEBHOOK_SECRET", "whsec_" + "A" * 32))
