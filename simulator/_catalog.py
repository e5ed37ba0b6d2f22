"""The event catalog: the 24 webhook event types of Secret Chest.

Each type has a stable machine ``key`` and the product page's own ``label``;
both are accepted wherever an event type is asked for, and "Select all",
``all`` and ``*`` mean every type.

>>> from simulator import lookup, expand_event_types
>>> lookup("Secret Used").key
'secret.used'
>>> len(expand_event_types(["Select all"]))
24
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from simulator._exceptions import UnknownEventType
from simulator._resources import schemas_dir

__all__ = [
    "CATALOG",
    "SCHEMA_BASE",
    "SELECT_ALL",
    "EventType",
    "expand_event_types",
    "lookup",
]

#: The base of every schema's ``$id``. Identifiers only: nothing is ever fetched.
SCHEMA_BASE = "https://chestsim.dev/schemas/v1/"

#: Names that mean "every event type".
SELECT_ALL = frozenset({"select all", "all", "*"})


@dataclass(frozen=True, slots=True)
class EventType:
    """One webhook event type.

    >>> lookup("secret.used").label
    'Secret Used'
    """

    key: str
    label: str
    description: str

    @property
    def schema_id(self) -> str:
        """The ``$id`` of this type's JSON Schema."""
        return f"{SCHEMA_BASE}events/{self.key}.json"

    @property
    def schema_path(self) -> Path:
        """The file of this type's JSON Schema."""
        return schemas_dir() / "events" / f"{self.key}.json"

    @property
    def schema(self) -> dict[str, Any]:
        """This type's JSON Schema, parsed."""
        schema: dict[str, Any] = _load_json(self.schema_path)
        return schema

    @property
    def examples(self) -> list[dict[str, Any]]:
        """This type's shipped examples (``schemas/examples/<key>/*.json``), sorted by name."""
        folder = schemas_dir() / "examples" / self.key
        return [_load_json(p) for p in sorted(folder.glob("*.json"))]

    def __repr__(self) -> str:
        return f"lookup({self.key!r})"


@cache
def _load_json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def _t(key: str, label: str, description: str) -> EventType:
    return EventType(key=key, label=label, description=description)


#: Every event type, in the product page's order.
CATALOG: tuple[EventType, ...] = (
    _t("idp.settings_updated", "IdP settings updated",
       "Sends json about what the Identity Provider (IdP) settings were configured to be. "
       "This should be rare, as once admins have an IdP setup, they rarely change it unless required to do so."),
    _t("scim.updated", "SCIM Updated",
       "Each time the SCIM process runs, if a user is created or pruned, will include that information to the endpoint."),
    _t("secret.share.began", "Secret Shared Began",
       "Triggered when a user goes to a secret and initiates a standard share or group share. "
       "Includes the standard time information as well as who (or whom) the shared object was sent to and the sender."),
    _t("secret.share.completed", "Secret Share Completed",
       "Triggered when a user accepts a share. Includes the standard time information as well as "
       "who the shared object was sent to and the sender."),
    _t("secret.multi_share.began", "Multi-User Secret Shared",
       "Triggered when a user goes to a secret and initiates a multi-peer share. Includes the standard "
       "time information as well as who the shared object was sent to and the sender."),
    _t("secret.multi_share.completed", "Multi-User Secret Shared Completed",
       "Triggered when a user accepts a multi-peer share. Includes the standard time information as well as "
       "who (or which users if there are more than 1) the shared object was sent to and the original sender."),
    _t("secret.used", "Secret Used",
       "Triggered every time a secret is desharded. Includes the GUID of each device used and the shard map."),
    _t("secret.deleted", "Secret Deleted",
       "Triggered each time a secret is deleted. The json includes the GUID of each device used and the shard map."),
    _t("user.created", "User Created",
       "Triggered each time a user is created. The json includes the user metadata."),
    _t("user.deleted", "User Deleted",
       "Triggered each time a user is removed from a tenant. The json includes the user metadata."),
    _t("group.created", "Group Created",
       "Triggered each time a group is created. The json includes the group metadata, including members."),
    _t("group.deleted", "Group Deleted",
       "Triggered each time a group is removed. The json includes the group metadata, including members."),
    _t("secret.created", "Secret Created",
       "Triggered each time a secret is created. The json includes the metadata from the shard map."),
    _t("secret.temp_stored.retrieved", "Get And Delete Temporarily Stored Secret",
       "Tracks each time a secret is available in clear text (e.g. when it's used to autofill a form "
       "or provide a passkey to a web form)."),
    _t("backend_message.archived", "Archive Backend Message",
       "Allows tracking the backend Secret Chest queuing service by seeing when messages to objects are cleared."),
    _t("backend_message.posted", "Post Backend Message",
       "Allows tracking the backend Secret Chest queuing service by exposing when messages to objects are substantiated."),
    _t("pending_share.rejected", "Reject Pending Shared Secret",
       "Triggered when a user chooses not to accept a shard that has been shared to them, "
       "whether via a multi-peer share or a standard share."),
    _t("pending_share.accepted", "Accept Pending Shared Secret",
       "Triggered when a user chooses to accept a shard that has been shared to them, "
       "whether via a multi-peer share or a standard share."),
    _t("pending_share.created", "Pending Shared Secret",
       "Triggered when a user chooses to share a shard but the request hasn't been fully processed."),
    _t("device.registered", "Post Meta Data Of Personal Device",
       "Triggered when a new device is added to Secret Chest. Includes the available metadata of a device "
       "(e.g. device type, OS, GUID, serial, if bluetooth is available, if APNs is enabled, "
       "if entitlements are present, etc)."),
    _t("installation_map.deleted", "Delete Installation Map",
       "The page reads 'Triggered when a shard map is created from the backend, and a share has been "
       "processed'; its Delete/Post descriptions read swapped, so chestsim follows the names: "
       "this event is sent when an installation map is removed from the backend, post-processing."),
    _t("installation_map.posted", "Post Installation Map",
       "The page reads 'Triggered when a shard map is removed from the backend, post-processing'; its "
       "Delete/Post descriptions read swapped, so chestsim follows the names: this event is sent when a "
       "shard map is created from the backend and a share has been processed."),
    _t("user_shards.posted", "User Shards(POST)",
       "Triggered when shards are posted to the queue."),
    _t("user_shards.deleted", "User Shards(DELETE)",
       "Triggered when shards are removed from the queue."),
)


def _normalize(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip().lower())


_BY_NAME: dict[str, EventType] = {}
for _event_type in CATALOG:
    _BY_NAME[_normalize(_event_type.key)] = _event_type
    _BY_NAME[_normalize(_event_type.label)] = _event_type
    _BY_NAME.setdefault(_normalize(_event_type.label).replace(" ", ""), _event_type)


def lookup(name: str) -> EventType:
    """The event type for a key or a label, case- and space-insensitive.

    >>> lookup("user shards(post)").key
    'user_shards.posted'
    """
    found = _BY_NAME.get(_normalize(name)) or _BY_NAME.get(_normalize(name).replace(" ", ""))
    if found is not None:
        return found
    suggestions = _suggest(name)
    hint = f"; did you mean {suggestions[0]!r}?" if suggestions else ""
    raise UnknownEventType(
        f"unknown event type {name!r}{hint} Run `chestsim events list` for the 24 keys and labels",
        name=name,
        suggestions=suggestions,
    )


def _suggest(name: str) -> tuple[str, ...]:
    keys = [t.key for t in CATALOG]
    labels = {_normalize(t.label): t.key for t in CATALOG}
    close = difflib.get_close_matches(_normalize(name), keys + list(labels), n=3, cutoff=0.5)
    return tuple(dict.fromkeys(labels.get(c, c) for c in close))


def expand_event_types(names: Iterable[str] | str) -> tuple[EventType, ...]:
    """Expand names (keys, labels, "Select all", ``all``, ``*``, comma lists) into event types.

    The result keeps catalog order and holds each type once.

    >>> [t.key for t in expand_event_types("secret.used, User Created")]
    ['secret.used', 'user.created']
    """
    if isinstance(names, str):
        names = [names]
    wanted: set[str] = set()
    for item in names:
        for part in _split(item):
            if _normalize(part) in SELECT_ALL:
                return CATALOG
            wanted.add(lookup(part).key)
    return tuple(t for t in CATALOG if t.key in wanted)


def _split(item: str) -> Iterator[str]:
    for part in item.split(","):
        if part.strip():
            yield part.strip()
