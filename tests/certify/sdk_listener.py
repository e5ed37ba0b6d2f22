"""A Starlette listener that verifies with the ``standardwebhooks`` package as its README shows:
``Webhook(secret).verify(payload, headers)``, which checks the signature and timestamp and
returns the parsed JSON. Anything it raises (a bad signature, or a body it cannot decode or
parse, as the official SDKs do) is answered 401.

``create_app(secret, catch=WebhookVerificationError)`` is the listener that trusts the
package's own exception to be the only one: ``verify`` also raises ``binascii.Error``,
``ValueError``, ``UnicodeDecodeError`` and ``RecursionError``, which then escape as 500s."""

from __future__ import annotations

from typing import Any

from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create_app(secret: str, *, catch: type[Exception] = Exception) -> Starlette:
    wh = Webhook(secret)
    seen: set[str] = set()

    async def webhook(request: Request) -> Response:
        body = await request.body()
        try:
            event: Any = wh.verify(body, dict(request.headers))
        except catch:
            return Response(status_code=401)
        if not isinstance(event, dict) or not isinstance(event.get("type"), str) \
                or not isinstance(event.get("data"), dict):
            return Response(status_code=400)
        seen.add(request.headers["webhook-id"])  # processed once; a redelivery is acknowledged again
        return Response(status_code=204)

    return Starlette(routes=[Route("/webhooks", webhook, methods=["POST"])])
