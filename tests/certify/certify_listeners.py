"""Webhook listeners on aiohttp for the certify tests: one correct, and each deliberately broken.

Run as a process of its own (``python certify_listeners.py BREAK``, secret in
``LISTENER_SECRET``, an optional bearer token in ``LISTENER_TOKEN``, https with the PEM files
in ``LISTENER_CERT`` and ``LISTENER_KEY``); it prints ``port=N`` once it listens on 127.0.0.1. ``BREAK`` is
``correct`` or one of ``BREAKS``; each break is one defect written the way it is met in
real listeners, and nothing else differs from ``correct``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import ssl
import sys
import time

from aiohttp import web

BREAKS = (
    "no-signature-check",   # trusts every body
    "no-timestamp-check",   # verifies the signature but never the timestamp
    "reserialized",         # verifies over json.dumps(json.loads(body)) instead of the raw body
    "crash-unknown-type",   # raises (500) on a type it does not handle
    "crash-non-json",       # lets the JSON parse error escape (500)
    "conflict-duplicate",   # answers 409 to a webhook-id it has seen
    "slow",                 # takes 3 s over every request
    "dies-after-hostile",   # exits after answering a body it cannot parse
    "hangs",                # never answers
)
TOLERANCE = 300
MAX_BODY = 512 * 1024
KNOWN = {"idp.settings_updated", "scim.updated", "secret.share.began", "secret.share.completed",
         "secret.multi_share.began", "secret.multi_share.completed", "secret.used", "secret.deleted",
         "user.created", "user.deleted", "group.created", "group.deleted", "secret.created",
         "secret.temp_stored.retrieved", "backend_message.archived", "backend_message.posted",
         "pending_share.rejected", "pending_share.accepted", "pending_share.created", "device.registered",
         "installation_map.deleted", "installation_map.posted", "user_shards.posted", "user_shards.deleted"}


def _signed_ok(key: bytes, headers: object, signed: bytes, *, check_time: bool) -> bool:
    get = headers.get  # type: ignore[attr-defined]
    msg_id, stamp, signatures = get("webhook-id"), get("webhook-timestamp"), get("webhook-signature")
    if not msg_id or not stamp or not signatures:
        return False
    try:
        timestamp = int(stamp)
    except ValueError:
        return False
    if check_time and abs(time.time() - timestamp) > TOLERANCE:
        return False
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{stamp}.".encode() + signed,
                                         hashlib.sha256).digest()).decode()
    return any(v == "v1" and hmac.compare_digest(expected, sig)
               for v, _, sig in (part.partition(",") for part in signatures.split()))


def make_app(secret: str, broken: str = "correct", token: str | None = None) -> web.Application:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    seen: set[str] = set()
    bearer = f"Bearer {token}".encode() if token else None

    async def webhook(request: web.Request) -> web.Response:
        if broken == "slow":
            await asyncio.sleep(3)
        if broken == "hangs":
            await asyncio.sleep(120)
        if bearer is not None and not hmac.compare_digest(request.headers.get("authorization", "").encode(),
                                                          bearer):
            return web.json_response({"error": "bad token"}, status=401)
        body = await request.read()
        if len(body) > MAX_BODY:
            return web.json_response({"error": "too large"}, status=413)
        if broken == "reserialized":
            try:
                signed = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()
            except (ValueError, RecursionError):
                return web.json_response({"error": "not JSON"}, status=400)
        else:
            signed = body
        if broken != "no-signature-check" and not _signed_ok(
                key, request.headers, signed, check_time=broken != "no-timestamp-check"):
            return web.json_response({"error": "bad signature"}, status=401)
        msg_id = request.headers.get("webhook-id", "")
        if msg_id in seen:
            if broken == "conflict-duplicate":
                return web.json_response({"error": "duplicate"}, status=409)
            return web.json_response({"duplicate": True})
        try:
            event = json.loads(body)
        except RecursionError:
            return web.json_response({"error": "too deep"}, status=400)
        except ValueError:
            if broken == "crash-non-json":
                raise
            answer = web.json_response({"error": "not JSON"}, status=400)
            if broken == "dies-after-hostile":  # answers, then the process is gone
                await answer.prepare(request)
                await answer.write_eof()
                os._exit(1)
            return answer
        if not isinstance(event, dict) or not isinstance(event.get("type"), str) \
                or not isinstance(event.get("data"), dict):
            return web.json_response({"error": "not an event"}, status=400)
        if event["type"] not in KNOWN and broken == "crash-unknown-type":
            raise KeyError(event["type"])
        seen.add(msg_id)
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=4 * MAX_BODY)
    app.router.add_post("/webhooks", webhook)
    return app


async def _serve(broken: str) -> None:
    app = make_app(os.environ["LISTENER_SECRET"], broken, os.environ.get("LISTENER_TOKEN"))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tls = None
    if os.environ.get("LISTENER_CERT"):
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(os.environ["LISTENER_CERT"], os.environ["LISTENER_KEY"])
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    print(f"port={port}", flush=True)
    await asyncio.sleep(120)  # bounded: a test that forgets it still ends it
    await runner.cleanup()


if __name__ == "__main__":
    which = sys.argv[1]
    assert which == "correct" or which in BREAKS, which
    asyncio.run(_serve(which))
