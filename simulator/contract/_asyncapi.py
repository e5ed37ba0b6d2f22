"""The contract as an AsyncAPI 3.0 document: one channel, one message per event type.

The channel is the tenant's webhook endpoint (its address is whatever URL the
tenant configured, so it is left unknown); each event type is a message on it
and an operation the listener performs (``receive``), bound to HTTP ``POST``. The
bearer token is optional, so it is an optional header of the messages rather than a
security requirement of the operations.
Payload schemas sit in ``components.schemas`` under the bundle's names, with
the keywords every JSON Schema draft since 07 shares.
"""

from __future__ import annotations

from typing import Any

from simulator._catalog import CATALOG
from simulator._version import __version__
from simulator.contract._contract import Contract, map_refs
from simulator.contract._openapi import HEADERS, RESPONSES

__all__ = ["asyncapi"]

_CHANNEL = "webhooks"


def asyncapi(contract: Contract) -> dict[str, Any]:
    """An AsyncAPI 3.0 document for every event type of ``contract``.

    >>> from simulator.contract import load_contract
    >>> doc = asyncapi(load_contract())
    >>> doc["asyncapi"], len(doc["channels"]["webhooks"]["messages"]), len(doc["operations"])
    ('3.0.0', 24, 24)
    """
    labels = {t.key: t.label for t in CATALOG}
    schemas: dict[str, Any] = {name: map_refs(schema, _components_ref) for name, schema in contract.defs.items()}
    schemas["webhook_headers"] = {
        "type": "object",
        "description": "The HTTP headers of a delivery: the three Standard Webhooks headers always, "
                       "`authorization` only when the endpoint was given a token.",
        "properties": {
            **{header: {**schema, "description": text} for header, (text, schema) in HEADERS.items()},
            "authorization": {"type": "string", "pattern": "^Bearer [\\x21-\\x7e]+$",
                              "description": "`Bearer <token>`, when the endpoint has a token (the page's \"if "
                                             "needed, token\"); compare it in constant time."},
            "content-type": {"const": "application/json"},
            "user-agent": {"type": "string", "description": "The sender and its version."},
        },
        "required": list(HEADERS),
    }
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for key, name in contract.events.items():
        label = labels.get(key, key)
        message: dict[str, Any] = {
            "name": key,
            "title": label,
            "summary": f"{label} ({key})",
            "description": str(contract.defs[name].get("description") or label),
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/webhook_headers"},
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
        examples = contract.examples.get(key, {})
        if examples:
            message["examples"] = [{"name": example, "payload": event} for example, event in examples.items()]
        messages[name] = message
        operations[f"receive_{name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{_CHANNEL}"},
            "summary": f"A listener receives {key}.",
            "messages": [{"$ref": f"#/channels/{_CHANNEL}/messages/{name}"}],
            "bindings": {"http": {"method": "POST", "bindingVersion": "0.3.0"}},
        }
    answers = "\n".join(f"- **{code}**: {text}" for code, text in RESPONSES.items())
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Secret Chest webhooks",
            "version": __version__,
            "description": "Every event is an HTTP `POST` of one JSON object (the envelope: `id`, `type`, "
                           "`timestamp`, `tenant_id`, `data`) signed with Standard Webhooks. Payloads carry "
                           "metadata only: never a secret's value, a shard's content, a key, a token or a "
                           f"password.\n\nWhat a listener answers:\n{answers}\n\nMade by `chestsim schemas "
                           "export --format asyncapi`.",
        },
        "defaultContentType": "application/json",
        "channels": {
            _CHANNEL: {
                "address": None,
                "title": "A tenant's webhook endpoint",
                "description": "The URL the tenant configured (https, or http on loopback); one endpoint "
                               "receives the types it subscribed to, or all of them (\"Select all\").",
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            },
        },
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
        },
    }


def _components_ref(ref: str) -> str:
    return "#/components/schemas/" + ref.removeprefix("#/$defs/")
