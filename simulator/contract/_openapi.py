"""The contract as an OpenAPI 3.1 document: one ``webhooks`` entry per event type.

Each webhook is the ``POST`` a listener receives: the JSON body (the event's
schema), the three Standard Webhooks headers, the optional bearer token, and
the answers the listener owes and what chestsim's sender does with each.
The schemas sit in ``components.schemas`` under the bundle's names; OpenAPI
3.1 schemas are JSON Schema 2020-12, so they are the published ones unchanged.
"""

from __future__ import annotations

from typing import Any

from simulator._catalog import CATALOG
from simulator._version import __version__
from simulator.contract._contract import Contract, map_refs

__all__ = ["HEADERS", "RESPONSES", "openapi"]

#: The Standard Webhooks headers on every delivery: name → (description, schema).
HEADERS: dict[str, tuple[str, dict[str, Any]]] = {
    "webhook-id": (
        "The event's id (equals the body's `id`); the same on every redelivery, so a listener can "
        "drop duplicates by it.",
        {"type": "string", "minLength": 1, "maxLength": 256, "examples": ["evt_2ZJ4hq8PQn3mAvGmY8kq9f"]},
    ),
    "webhook-timestamp": (
        "When this attempt was signed, in unix seconds. Refuse a delivery whose timestamp is more than a "
        "few minutes from your clock (replay protection).",
        {"type": "string", "pattern": "^[0-9]{1,12}$", "examples": ["1764320043"]},
    ),
    "webhook-signature": (
        "`v1,<base64 HMAC-SHA256>` of `webhook-id.webhook-timestamp.body`, keyed with the base64-decoded part "
        "of the endpoint's `whsec_…` secret; during a secret rotation, several space-separated signatures, "
        "any one of which verifies.",
        {"type": "string", "pattern": "^v1,[A-Za-z0-9+/]+={0,2}( v1,[A-Za-z0-9+/]+={0,2})*$"},
    ),
}

#: What a listener answers, and what the sender does with it.
RESPONSES: dict[str, str] = {
    "2XX": "Accepted: the listener has recorded the event. Answer quickly (within a few seconds) and do "
           "slow work afterwards; any 2xx counts, 204 No Content is usual.",
    "400": "Malformed: the body is not JSON or not an event. Retried on the endpoint's schedule, then "
           "dead-lettered.",
    "401": "The signature, its timestamp or the bearer token did not verify. Say nothing more (never echo the "
           "signature or the token). Retried on the schedule: a rotated secret may make a later attempt pass.",
    "410": "Gone: the endpoint asks to be disabled. The sender stops delivering to it at once and "
           "dead-letters what is queued for it.",
    "413": "The body is larger than the listener accepts. Retried on the schedule, then dead-lettered.",
    "415": "The content type is not application/json. Retried on the schedule, then dead-lettered.",
    "422": "The event breaks the payload contract and the listener refuses it (optional: most listeners "
           "accept and report). Retried on the schedule, then dead-lettered.",
    "429": "Too many requests. The sender waits for `Retry-After` (seconds or an HTTP date) when given, "
           "else for the next step of the schedule.",
    "5XX": "The listener failed. Retried on the schedule (503 honours `Retry-After`); after the last "
           "attempt the event is dead-lettered with the reason.",
}

_RETRY_AFTER = {"description": "Seconds to wait, or an HTTP date, before the next attempt.",
                "schema": {"type": "string"}}


def openapi(contract: Contract) -> dict[str, Any]:
    """An OpenAPI 3.1 document whose ``webhooks`` hold every event type of ``contract``.

    >>> from simulator.contract import load_contract
    >>> doc = openapi(load_contract())
    >>> doc["openapi"], len(doc["webhooks"])
    ('3.1.0', 24)
    """
    labels = {t.key: t.label for t in CATALOG}
    schemas = {name: map_refs(schema, _components_ref) for name, schema in contract.defs.items()}
    webhooks = {}
    for key, name in contract.events.items():
        schema = contract.defs[name]
        label = labels.get(key, key)
        webhooks[key] = {"post": {
            "operationId": f"receive_{name}",
            "summary": f"{label} ({key})",
            "description": str(schema.get("description") or label),
            "tags": [key.partition(".")[0]],
            "parameters": [{"$ref": f"#/components/parameters/{header}"} for header in HEADERS],
            "requestBody": {
                "required": True,
                "description": f"The `{key}` event.",
                "content": {"application/json": _media(name, contract.examples.get(key, {}))},
            },
            "responses": {code: {"$ref": f"#/components/responses/{_response_name(code)}"} for code in RESPONSES},
            "security": [{}, {"bearerToken": []}],
        }}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Secret Chest webhooks",
            "version": __version__,
            "summary": "The events Secret Chest posts to a tenant's webhook endpoints.",
            "description": "Every event is a `POST` of one JSON object (the envelope: `id`, `type`, `timestamp`, "
                           "`tenant_id`, `data`) signed with Standard Webhooks. Payloads carry metadata only: "
                           "never a secret's value, a shard's content, a key, a token or a password. "
                           "Made by `chestsim schemas export --format openapi`.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "webhooks": webhooks,
        "components": {
            "schemas": schemas,
            "parameters": {
                header: {"name": header, "in": "header", "required": True, "description": text, "schema": schema}
                for header, (text, schema) in HEADERS.items()
            },
            "responses": {_response_name(code): _response(code, text) for code, text in RESPONSES.items()},
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Sent as `Authorization: Bearer <token>` only when the endpoint was given a "
                                   "token (the page's \"if needed, token\"); compare it in constant time.",
                },
            },
        },
    }


def _media(name: str, examples: dict[str, Any] | Any) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{name}"}}
    if examples:
        media["examples"] = {example: {"value": event} for example, event in examples.items()}
    return media


def _components_ref(ref: str) -> str:
    return "#/components/schemas/" + ref.removeprefix("#/$defs/")


def _response_name(code: str) -> str:
    return {"2XX": "accepted", "5XX": "failed"}.get(code, f"status{code}")


def _response(code: str, text: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": text}
    if code in ("429", "5XX"):
        response["headers"] = {"Retry-After": _RETRY_AFTER}
    return response
