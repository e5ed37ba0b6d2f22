"""Sequence rules: what holds across a stream of events (``chestsim validate --sequence``).

- whatever an event refers to (users, devices, secrets, shard maps, shares,
  pending shares, groups, backend messages, installation maps) exists earlier
  in the stream or in the tenant snapshot, and is not yet deleted;
- a share completes only after it began; a pending share is accepted or
  rejected only after it was created, and only once; a backend message is
  archived, an installation map deleted, only after it was posted, and once;
- the devices of ``secret.used`` belong to the secret's current shard map;
- a deleted user, secret or group stops appearing.

A captured stream often starts mid-life, so a reference to something the
stream never introduced (and never deleted) is a **warning** by default
(``mode="lenient"``) and an **error** with ``mode="strict"``
(``--sequence-strict``). Everything the stream itself contradicts — a
reference after a deletion, a creation after a first use, a second
acceptance — is an error in both modes.

>>> checker = SequenceChecker()
>>> from simulator import lookup
>>> [f.rule for f in checker.feed(lookup("secret.share.completed").examples[0], "x.jsonl:1")]
['unknown-share', 'unknown-secret', 'unknown-user', 'unknown-user']
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from simulator._exceptions import InputError
from simulator.validation._problem import Problem, Severity

__all__ = ["KINDS", "Finding", "SequenceChecker", "SequenceMode"]

SequenceMode = Literal["lenient", "strict"]

#: The kinds of entity the rules track.
KINDS = ("user", "device", "secret", "shard_map", "share", "pending_share", "group", "message",
         "installation_map")

_PLURAL = {"user": "users", "device": "devices", "secret": "secrets", "shard_map": "shard_maps",
           "share": "shares", "pending_share": "pending_shares", "group": "groups",
           "message": "messages", "installation_map": "installation_maps"}

# Per kind, the event types that introduce, and those that end, an entity.
_INTRODUCES = {
    "user.created": "user", "device.registered": "device", "secret.created": "secret",
    "group.created": "group", "secret.share.began": "share", "secret.multi_share.began": "share",
    "pending_share.created": "pending_share", "backend_message.posted": "message",
    "installation_map.posted": "installation_map",
}
_ENDS = {
    "user.deleted": "user", "secret.deleted": "secret", "group.deleted": "group",
    "pending_share.accepted": "pending_share", "pending_share.rejected": "pending_share",
    "backend_message.archived": "message", "installation_map.deleted": "installation_map",
}
# Entities that can be deleted; a reference after that is an error. (A resolved pending share,
# an archived message or a removed installation map may still be mentioned; ending it twice may not.)
_DELETABLE = frozenset({"user", "secret", "group"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken sequence rule at one event."""

    rule: str
    problem: Problem
    where: str


@dataclass(slots=True)
class _State:
    live: dict[str, dict[str, str]] = field(default_factory=lambda: {k: {} for k in KINDS})
    ended: dict[str, dict[str, str]] = field(default_factory=lambda: {k: {} for k in KINDS})
    assumed: dict[str, dict[str, str]] = field(default_factory=lambda: {k: {} for k in KINDS})
    shard_maps: dict[str, set[str]] = field(default_factory=dict)  # secret id → devices of its map
    shard_map_ids: dict[str, str] = field(default_factory=dict)  # secret id → current map id
    soft: set[tuple[str, str]] = field(default_factory=set)  # introduced or ended by a scim.updated summary


class SequenceChecker:
    """Feeds events in stream order and reports the sequence rules each one breaks.

    ``snapshot`` is the tenant as it was before the stream: a JSON object of
    lists (``{"users": [...], "devices": [...], "secrets": [...], ...}``, items
    being ids or objects with an ``id``) or a path to one, or a path to an
    earlier JSON Lines stream, which is replayed silently.
    """

    def __init__(self, *, mode: SequenceMode = "lenient", snapshot: Any = None) -> None:
        if mode not in ("lenient", "strict"):
            raise ValueError(f"--sequence={mode!r} must be lenient or strict")
        self.mode = mode
        self._state = _State()
        if snapshot is not None:
            self._load_snapshot(snapshot)

    def __repr__(self) -> str:
        return f"SequenceChecker(mode={self.mode!r})"

    # --- snapshot ------------------------------------------------------------------------------

    def _load_snapshot(self, snapshot: Any) -> None:
        if isinstance(snapshot, str | os.PathLike):
            path = os.fspath(snapshot)
            try:
                with open(path, "rb") as handle:
                    text = handle.read()
            except OSError as exc:
                raise InputError(f"--snapshot={path!r} cannot be read: {exc.strerror or exc}", path=path) from None
            try:
                snapshot = orjson.loads(text)
            except orjson.JSONDecodeError:
                self._replay_lines(text, path)
                return
        if isinstance(snapshot, list):
            for event in snapshot:
                self.feed(event, "snapshot")
            return
        if not isinstance(snapshot, dict):
            raise InputError("--snapshot must be a JSON object of entity lists (users, devices, secrets, …) "
                             "or an earlier JSON Lines stream")
        if "type" in snapshot and "data" in snapshot:
            self.feed(snapshot, "snapshot")
            return
        for kind in KINDS:
            for item in snapshot.get(_PLURAL[kind], ()) or ():
                self._snapshot_item(kind, item)

    def _snapshot_item(self, kind: str, item: Any) -> None:
        if isinstance(item, str):
            self._state.live[kind][item] = "snapshot"
            return
        if not isinstance(item, dict):
            return
        ident = item.get("id") or item.get(f"{kind}_id")
        if isinstance(ident, str):
            self._state.live[kind][ident] = "snapshot"
        if kind == "shard_map" and isinstance(item.get("secret_id"), str):
            self._remember_map(item)
        if kind == "secret" and isinstance(item.get("shard_map"), dict):
            self._remember_map(item["shard_map"])

    def _replay_lines(self, text: bytes, path: str) -> None:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise InputError(f"--snapshot {path}:{number} is not JSON; a snapshot is a JSON object "
                                 "or a JSON Lines stream", path=path, line=number) from None
            self.feed(event, f"{path}:{number}")

    # --- the rules -----------------------------------------------------------------------------

    def feed(self, event: Any, where: str) -> list[Finding]:
        """The rules ``event`` breaks, given everything fed before it; then remember it."""
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
            return []
        kind_of_event = event.get("type")
        data = event["data"]
        out: list[Finding] = []
        state = self._state
        introduced = _introduced(kind_of_event, data)
        ended = _ended(kind_of_event, data)

        # scim.updated summarizes a run whose users also get user.created / user.deleted (before
        # or after it): its lists are idempotent, neither a second creation nor a second deletion.
        summary = kind_of_event == "scim.updated"
        skip = {(kind, ident) for kind, ident, _ in introduced} | {(kind, ident) for kind, ident, _ in ended}
        if summary:
            introduced = [r for r in introduced if r[1] not in state.live[r[0]] and r[1] not in state.ended[r[0]]]
            ended = [r for r in ended if r[1] not in state.ended[r[0]]]
            state.soft.update((kind, ident) for kind, ident, _ in (*introduced, *ended))
        for kind, ident, ptr in introduced:
            if (kind, ident) in state.soft and not summary:
                continue
            if ident in state.live[kind] and state.live[kind][ident] != "snapshot":
                out.append(self._error(f"{kind}-introduced-twice", ptr, where,
                                       f"{_label(kind)} {ident} was already introduced at "
                                       f"{state.live[kind][ident]}"))
            elif ident in state.ended[kind]:
                out.append(self._error(f"{kind}-introduced-after-end", ptr, where,
                                       f"{_label(kind)} {ident} appears as new but was "
                                       f"{_ended_word(kind)} at {state.ended[kind][ident]}"))
            elif ident in state.assumed[kind]:
                out.append(self._error(f"{kind}-used-before-introduced", ptr, where,
                                       f"{_label(kind)} {ident} is introduced here but was already "
                                       f"used at {state.assumed[kind][ident]}"))

        for kind, ident, ptr in _references(kind_of_event, data):
            if (kind, ident) in skip:
                continue
            out.extend(self._reference(kind, ident, ptr, where))

        for kind, ident, ptr in ended:
            if (kind, ident) in state.soft and not summary and ident in state.ended[kind]:
                continue
            if ident in state.ended[kind]:
                out.append(self._error(f"{kind}-ended-twice", ptr, where,
                                       f"{_label(kind)} {ident} was already {_ended_word(kind)} at "
                                       f"{state.ended[kind][ident]}"))
            elif ident not in state.live[kind]:
                out.extend(self._unknown(kind, ident, ptr, where, before=_ended_word(kind)))

        if kind_of_event == "secret.used":
            out.extend(self._devices_in_current_map(data, where))

        # Remember, after the checks.
        for kind, ident, _ in introduced:
            state.live[kind].setdefault(ident, where)
        for kind, ident, _ in ended:
            state.live[kind].pop(ident, None)
            state.ended[kind].setdefault(ident, where)
        shard_map = data.get("shard_map")
        if isinstance(shard_map, dict) and kind_of_event in ("secret.created", "installation_map.posted"):
            self._remember_map(shard_map)
            if isinstance(shard_map.get("id"), str):
                state.live["shard_map"].setdefault(shard_map["id"], where)
        return out

    def _reference(self, kind: str, ident: str, ptr: str, where: str) -> Iterator[Finding]:
        state = self._state
        if ident in state.live[kind]:
            return
        if kind in _DELETABLE and ident in state.ended[kind]:
            yield self._error(f"deleted-{kind}-appears", ptr, where,
                              f"{_label(kind)} {ident} was deleted at {state.ended[kind][ident]} and "
                              "must not appear after that")
            return
        if ident in state.ended[kind] or ident in state.assumed[kind]:
            return
        yield from self._unknown(kind, ident, ptr, where)

    def _unknown(self, kind: str, ident: str, ptr: str, where: str, before: str = "") -> Iterator[Finding]:
        state = self._state
        if ident in state.assumed[kind]:
            return
        state.assumed[kind][ident] = where
        severity: Severity = "error" if self.mode == "strict" else "warning"
        action = f" is {before} but" if before else ""
        origin = {"share": "never began", "pending_share": "was never created", "message": "was never posted",
                  "installation_map": "was never posted"}.get(kind, "never appeared")
        hint = "" if self.mode == "strict" else " (a warning: the stream may start mid-life; --snapshot " \
            "or --sequence-strict)"
        yield Finding(f"unknown-{kind}", Problem("sequence", severity, ptr,
                      f"{_label(kind)} {ident}{action} {origin} earlier in the stream or the "
                      f"snapshot{hint}"), where)

    def _devices_in_current_map(self, data: dict[str, Any], where: str) -> Iterator[Finding]:
        secret = data.get("secret")
        secret_id = secret.get("id") if isinstance(secret, dict) else None
        devices = self._state.shard_maps.get(secret_id) if isinstance(secret_id, str) else None
        if devices is None:
            return
        for position, device_id in enumerate(data.get("device_ids") or ()):
            if device_id not in devices:
                yield self._error("device-not-in-current-shard-map", f"/data/device_ids/{position}", where,
                                  f"device {device_id} holds no shard of secret {secret_id}'s current shard "
                                  f"map {self._state.shard_map_ids.get(str(secret_id))}")
                return

    def _remember_map(self, shard_map: dict[str, Any]) -> None:
        secret_id = shard_map.get("secret_id")
        if not isinstance(secret_id, str):
            return
        devices = {s.get("device_id") for s in shard_map.get("shards") or () if isinstance(s, dict)}
        self._state.shard_maps[secret_id] = {d for d in devices if isinstance(d, str)}
        if isinstance(shard_map.get("id"), str):
            self._state.shard_map_ids[secret_id] = shard_map["id"]

    def _error(self, rule: str, ptr: str, where: str, message: str) -> Finding:
        return Finding(rule, Problem("sequence", "error", ptr, message), where)


def _label(kind: str) -> str:
    return kind.replace("_", " ")


def _ended_word(kind: str) -> str:
    return {"pending_share": "accepted or rejected", "message": "archived",
            "installation_map": "deleted"}.get(kind, "deleted")


Ref = tuple[str, str, str]  # kind, id, JSON pointer


def _id(node: Any, key: str = "id") -> str | None:
    if isinstance(node, dict):
        value = node.get(key)
        if isinstance(value, str):
            return value
    return None


def _introduced(event_type: Any, data: dict[str, Any]) -> list[Ref]:
    kind = _INTRODUCES.get(event_type) if isinstance(event_type, str) else None
    out: list[Ref] = []
    if kind in ("user", "device", "secret", "group"):
        ident = _id(data.get(kind))
        if ident:
            out.append((kind, ident, f"/data/{kind}/id"))
    elif kind == "share" and isinstance(data.get("share_id"), str):
        out.append(("share", data["share_id"], "/data/share_id"))
    elif kind == "pending_share" and isinstance(data.get("pending_share_id"), str):
        out.append(("pending_share", data["pending_share_id"], "/data/pending_share_id"))
    elif kind == "message":
        ident = _id(data.get("message"))
        if ident:
            out.append(("message", ident, "/data/message/id"))
    elif kind == "installation_map" and isinstance(data.get("installation_map_id"), str):
        out.append(("installation_map", data["installation_map_id"], "/data/installation_map_id"))
    if event_type == "scim.updated":
        for position, user in enumerate(data.get("users_created") or ()):
            ident = _id(user)
            if ident:
                out.append(("user", ident, f"/data/users_created/{position}/id"))
    if event_type == "secret.created":
        ident = _id(data.get("shard_map"))
        if ident:
            out.append(("shard_map", ident, "/data/shard_map/id"))
    return out


def _ended(event_type: Any, data: dict[str, Any]) -> list[Ref]:
    kind = _ENDS.get(event_type) if isinstance(event_type, str) else None
    out: list[Ref] = []
    if kind in ("user", "secret", "group"):
        ident = _id(data.get(kind))
        if ident:
            out.append((kind, ident, f"/data/{kind}/id"))
    elif kind == "pending_share" and isinstance(data.get("pending_share_id"), str):
        out.append(("pending_share", data["pending_share_id"], "/data/pending_share_id"))
    elif kind == "message":
        ident = _id(data.get("message"))
        if ident:
            out.append(("message", ident, "/data/message/id"))
    elif kind == "installation_map" and isinstance(data.get("installation_map_id"), str):
        out.append(("installation_map", data["installation_map_id"], "/data/installation_map_id"))
    if event_type == "scim.updated":
        for position, user in enumerate(data.get("users_pruned") or ()):
            ident = _id(user)
            if ident:
                out.append(("user", ident, f"/data/users_pruned/{position}/id"))
    return out


_ID_KEYS = {"share_id": "share", "pending_share_id": "pending_share", "shard_map_id": "shard_map",
            "secret_id": "secret", "device_id": "device", "user_id": "user",
            "installation_map_id": "installation_map"}


def _references(event_type: Any, data: dict[str, Any]) -> list[Ref]:
    """Every entity ``data`` mentions, by walking it: user refs, ``*_id`` fields, secrets, groups."""
    out: list[Ref] = []

    def walk(node: Any, ptr: str, key: str | None) -> None:
        if isinstance(node, dict):
            ident = node.get("id")
            if isinstance(ident, str):
                if "email" in node:
                    out.append(("user", ident, f"{ptr}/id"))
                elif key == "secret":
                    out.append(("secret", ident, f"{ptr}/id"))
                elif key == "group":
                    out.append(("group", ident, f"{ptr}/id"))
                elif key == "device":
                    out.append(("device", ident, f"{ptr}/id"))
                elif key == "shard_map" and event_type not in ("secret.created", "installation_map.posted"):
                    out.append(("shard_map", ident, f"{ptr}/id"))
            for name, value in node.items():
                if name in _ID_KEYS and isinstance(value, str):
                    out.append((_ID_KEYS[name], value, f"{ptr}/{name}"))
                elif name == "device_ids" and isinstance(value, list):
                    out.extend(("device", d, f"{ptr}/device_ids/{i}") for i, d in enumerate(value)
                               if isinstance(d, str))
                elif isinstance(value, dict | list) and name not in ("message", "settings", "previous"):
                    walk(value, f"{ptr}/{name}", name)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{ptr}/{index}", key)

    walk(data, "/data", None)
    # A backend message's `object` is what the message is about, and may be created by processing
    # it (a pending share follows its message): it is not a reference.
    return out
