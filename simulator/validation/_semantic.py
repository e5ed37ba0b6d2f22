"""Rules on one event that JSON Schema cannot say (DESIGN.md, "Rules beyond JSON Schema").

- a shard map has ``threshold ≤ total``, ``len(shards) = total``, unique indexes
  no greater than ``total`` (the schema says the first three too, as one
  if/then per n, but the fast path skips those clauses and relies on this),
  and its ``secret_id`` is the event's secret where both appear;
- in any time object, ``completed_at ≥ initiated_at`` (and ``expires_at`` too);
- every time is UTC ending in ``Z`` (the schemas' timestamp pattern says so;
  this module restates it for schema-free callers);
- ``scim.updated`` created or pruned someone;
- a group's ``member_count`` is the length of its ``members``;
- ``secret.used``/``secret.deleted``: every device used holds a shard of the map;
- ``secret.used`` names at least ``threshold`` devices (k shards, one per device);
- nobody completes (or is offered, or accepts) their own share;
- a pending share's shard index is at most the ``total`` of the map it joins.

The rules run on schema-valid events, so fields have the right types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import Any

from simulator.validation._problem import Problem

__all__ = ["check_schema_valid", "check_semantic", "holds_schema_valid", "time_key"]


def _error(pointer: str, message: str) -> Problem:
    return Problem("semantic", "error", pointer, message)


def time_key(value: str) -> tuple[str, str]:
    """A sort key for a ``…Z`` timestamp: whole seconds, then the fraction padded.

    Plain string order is wrong for ``…:01Z`` against ``…:01.388Z``.
    """
    body = value[:-1] if value.endswith("Z") else value
    seconds, _, fraction = body.partition(".")
    return seconds, fraction.ljust(9, "0")


def _shard_map(shard_map: Any, where: str, secret_id: str | None) -> Iterator[Problem]:
    if not isinstance(shard_map, dict):
        return
    threshold, total, shards = _count(shard_map.get("threshold")), _count(shard_map.get("total")), \
        shard_map.get("shards")
    if isinstance(threshold, int) and isinstance(total, int) and threshold > total:
        yield _error(f"{where}/threshold", f"shard map threshold={threshold} exceeds total={total}; "
                     "k of n needs k ≤ n")
    if isinstance(shards, list):
        if isinstance(total, int) and len(shards) != total:
            yield _error(f"{where}/shards", f"shard map lists {len(shards)} shards but total={total}; "
                         "it needs one entry per shard")
        seen: set[Any] = set()
        for position, shard in enumerate(shards):
            index = _count(shard.get("index")) if isinstance(shard, dict) else None
            if not isinstance(index, int):
                continue
            if isinstance(total, int) and index > total:
                yield _error(f"{where}/shards/{position}/index", f"shard index={index} exceeds total={total}; "
                             "indexes run from 1 to n")
            if index in seen:
                yield _error(f"{where}/shards/{position}/index", f"shard index={index} appears twice; "
                             "indexes must be unique")
            seen.add(index)
    map_secret = shard_map.get("secret_id")
    if secret_id is not None and map_secret is not None and map_secret != secret_id:
        yield _error(f"{where}/secret_id", f"shard map secret_id={map_secret} is not the event's "
                     f"secret id={secret_id}")


def _time(time: Any, where: str) -> Iterator[Problem]:
    if not isinstance(time, dict):
        return
    for name, value in time.items():
        if isinstance(value, str) and not value.endswith("Z"):
            yield _error(f"{where}/{name}", f"{name}={value!r} is not UTC; write times as RFC 3339 ending in Z")
    initiated = time.get("initiated_at")
    if not isinstance(initiated, str):
        return
    for name in ("completed_at", "expires_at"):
        value = time.get(name)
        if isinstance(value, str) and time_key(value) < time_key(initiated):
            yield _error(f"{where}/{name}", f"{name}={value} is before initiated_at={initiated}")


def _devices(data: dict[str, Any]) -> Iterator[Problem]:
    shard_map = data.get("shard_map")
    device_ids = data.get("device_ids")
    if not isinstance(shard_map, dict) or not isinstance(device_ids, list):
        return
    holders = {s.get("device_id") for s in shard_map.get("shards", ()) if isinstance(s, dict)}
    for position, device_id in enumerate(device_ids):
        if device_id not in holders:
            yield _error(f"/data/device_ids/{position}", f"device {device_id} holds no shard of shard map "
                         f"{shard_map.get('id')}; devices used must come from the shard map")


def _secret_id(data: dict[str, Any]) -> str | None:
    secret = data.get("secret")
    if isinstance(secret, dict) and isinstance(secret.get("id"), str):
        return str(secret["id"])
    return None


def _scim(data: dict[str, Any]) -> Iterator[Problem]:
    created, pruned = data.get("users_created"), data.get("users_pruned")
    if not created and not pruned:
        yield _error("/data", "scim.updated is sent only when a SCIM run created or pruned someone; "
                     "users_created and users_pruned are both empty")


def _common(data: dict[str, Any]) -> Iterator[Problem]:
    if "time" in data:
        yield from _time(data["time"], "/data/time")
    if "shard_map" in data:
        yield from _shard_map(data["shard_map"], "/data/shard_map", _secret_id(data))


def _with_devices(data: dict[str, Any]) -> Iterator[Problem]:
    yield from _common(data)
    yield from _devices(data)


def _with_scim(data: dict[str, Any]) -> Iterator[Problem]:
    yield from _common(data)
    yield from _scim(data)


def _with_group(data: dict[str, Any]) -> Iterator[Problem]:
    yield from _common(data)
    group = data.get("group")
    if isinstance(group, dict) and isinstance(group.get("members"), list):
        count, members = _count(group.get("member_count")), group["members"]
        if isinstance(count, int) and count != len(members):
            yield _error("/data/group/member_count", f"group member_count={count} but members lists "
                         f"{len(members)}")


_RULES: dict[str, Callable[[dict[str, Any]], Iterator[Problem]]] = {
    "secret.used": _with_devices,
    "secret.deleted": _with_devices,
    "scim.updated": _with_scim,
    "group.created": _with_group,
    "group.deleted": _with_group,
}


def check_semantic(event: dict[str, Any]) -> list[Problem]:
    """The semantic problems of one event (empty when none).

    A cheap pass decides whether the event is fine; only when it is not do the
    rules run again to say where and why.

    >>> from simulator import lookup
    >>> check_semantic(lookup("secret.used").examples[0])
    []
    """
    data = event.get("data")
    if data.__class__ is not dict:
        return []
    assert isinstance(data, dict)
    timestamp = event.get("timestamp")
    if timestamp.__class__ is str and timestamp[-1:] != "Z":
        return _explain(event, data)
    time = data.get("time")
    if time is not None and not _time_ok(time):
        return _explain(event, data)
    shard_map = data.get("shard_map")
    if shard_map is not None and not _shard_map_ok(shard_map, data):
        return _explain(event, data)
    extra = _FAST.get(event.get("type"))  # type: ignore[arg-type]
    if extra is not None and not extra(data):
        return _explain(event, data)
    return []


def _explain(event: dict[str, Any], data: dict[str, Any]) -> list[Problem]:
    kind = event.get("type")
    problems = list(_RULES.get(kind, _common)(data) if isinstance(kind, str) else _common(data))
    timestamp = event.get("timestamp")
    if isinstance(timestamp, str) and not timestamp.endswith("Z"):
        problems.append(_error("/timestamp", f"timestamp={timestamp!r} is not UTC; end it in Z"))
    return problems


def _before(value: Any, initiated: str) -> bool:
    if value.__class__ is not str:
        return False
    # Same length means same shape (the schema pins the format): plain string order is time order.
    return bool(value < initiated) if len(value) == len(initiated) else time_key(value) < time_key(initiated)


def _time_ok(time: Any) -> bool:
    if time.__class__ is not dict:
        return True
    for value in time.values():
        if value.__class__ is str and value[-1:] != "Z":
            return False
    initiated = time.get("initiated_at")
    if initiated.__class__ is not str:
        return True
    return not (_before(time.get("completed_at"), initiated) or _before(time.get("expires_at"), initiated))


def _shard_map_ok(shard_map: Any, data: dict[str, Any]) -> bool:
    if shard_map.__class__ is not dict:
        return True
    total, threshold, shards = _count(shard_map.get("total")), _count(shard_map.get("threshold")), \
        shard_map.get("shards")
    if total.__class__ is int:
        if threshold.__class__ is int and threshold > total:
            return False
        if shards.__class__ is list:
            if len(shards) != total:
                return False
            try:
                indexes = {shard["index"] for shard in shards}
                if len(indexes) != len(shards) or max(indexes) > total:
                    return False
            except (TypeError, KeyError, ValueError):
                return False
    secret = data.get("secret")
    map_secret = shard_map.get("secret_id")
    if secret.__class__ is dict and map_secret is not None:
        secret_id = secret.get("id")
        if secret_id is not None and secret_id != map_secret:
            return False
    return True


def _devices_ok(data: dict[str, Any]) -> bool:
    shard_map, device_ids = data.get("shard_map"), data.get("device_ids")
    if shard_map.__class__ is not dict or device_ids.__class__ is not list:
        return True
    try:
        return set(device_ids) <= {shard.get("device_id") for shard in shard_map.get("shards") or ()}
    except (TypeError, AttributeError):
        return False


def _scim_ok(data: dict[str, Any]) -> bool:
    return bool(data.get("users_created") or data.get("users_pruned"))


def _group_ok(data: dict[str, Any]) -> bool:
    group = data.get("group")
    if group.__class__ is not dict:
        return True
    members, count = group.get("members"), _count(group.get("member_count"))
    return not (members.__class__ is list and count.__class__ is int and count != len(members))


_FAST: dict[str, Callable[[dict[str, Any]], bool]] = {
    "secret.used": _devices_ok,
    "secret.deleted": _devices_ok,
    "scim.updated": _scim_ok,
    "group.created": _group_ok,
    "group.deleted": _group_ok,
}


# --- the same rules, for events the closed schema has passed ----------------------------------------

_INDEX = itemgetter("index")


def _count(value: Any) -> Any:
    """A count as an int: JSON Schema's ``integer`` also admits ``4.0``, which the rules must read as 4."""
    if value.__class__ is float and value.is_integer():
        return int(value)
    return value
_ONE_TO = [frozenset(range(1, n + 1)) for n in range(65)]
_MAX_ONE_TO = len(_ONE_TO)


def _one_to(n: int) -> frozenset[int]:
    return _ONE_TO[n] if n < len(_ONE_TO) else frozenset(range(1, n + 1))
_DEVICE = itemgetter("device_id")


def check_schema_valid(event: dict[str, Any]) -> list[Problem]:
    """``check_semantic`` for an event the closed schema accepted: same verdict, fewer steps.

    The schema already guarantees what the general rules re-check (every
    time ends in Z, a time object has ``initiated_at``, a shard map has its
    counts and each shard its index and device), so only the comparisons
    remain. Calling it on an event the schema refuses is a mistake.
    """
    return [] if holds_schema_valid(event) else _explain(event, event["data"])


def holds_schema_valid(event: dict[str, Any]) -> bool:
    """True when ``check_schema_valid(event)`` finds nothing; the same preconditions.

    With the closed validator, this is the whole verdict of the fast path:
    an event the closed validator passes and this holds for is valid against
    the contract, including the shard map's ``if``/``then`` clauses the closed
    copies drop (the comparisons below restate them).
    """
    data = event["data"]
    time = data.get("time")
    if time is not None:
        initiated = time["initiated_at"]
        value = time.get("completed_at")
        if value is not None and (value < initiated if len(value) == len(initiated) else _before(value, initiated)):
            return False
        value = time.get("expires_at")
        if value is not None and (value < initiated if len(value) == len(initiated) else _before(value, initiated)):
            return False
    shard_map = data.get("shard_map")
    if shard_map is not None:
        total, shards = shard_map["total"], shard_map["shards"]  # an integer: the schema said so
        if total.__class__ is not int:
            total = _count(total)
        # Indexes 1..n exactly (the schema says each is ≥ 1) covers n shards, unique, none past n.
        if shard_map["threshold"] > total or len(shards) != total \
                or set(map(_INDEX, shards)) != (_ONE_TO[total] if total < _MAX_ONE_TO else _one_to(total)):
            return False
        secret = data.get("secret")
        if secret is not None and secret.get("id", shard_map["secret_id"]) != shard_map["secret_id"]:
            return False
        device_ids = data.get("device_ids")
        if device_ids is not None:
            devices = set(device_ids)
            if not devices.issubset(map(_DEVICE, shards)):
                return False
            # secret.used names at least k devices (``_enough_devices``); k ≤ n held above.
            if len(devices) < shard_map["threshold"] and event["type"] == "secret.used":
                return False
    extra = _AFTER_SCHEMA.get(event["type"])
    return extra is None or extra(data)


_AFTER_SCHEMA: dict[str, Callable[[dict[str, Any]], bool]] = {
    "scim.updated": _scim_ok,
    "group.created": _group_ok,
    "group.deleted": _group_ok,
}


# --- what the product page rules out (issue 15) -------------------------------------------------------
#
# Each rule is written once, as the generator that explains it; the fast paths ask the same
# generator whether it finds anything (these event types are not the hot ones, except
# secret.used, whose check is one set and one comparison).

def _enough_devices(data: dict[str, Any]) -> Iterator[Problem]:
    shard_map, device_ids = data.get("shard_map"), data.get("device_ids")
    if not isinstance(shard_map, dict) or not isinstance(device_ids, list):
        return
    threshold, total = _count(shard_map.get("threshold")), _count(shard_map.get("total"))
    if isinstance(total, int) and isinstance(threshold, int) and threshold > total:
        return  # the map itself is wrong (k > n): its own rule says so
    try:
        used = len(set(device_ids))
    except TypeError:
        return
    if isinstance(threshold, int) and used < threshold:
        yield _error("/data/device_ids", f"secret.used names {used} device(s) but the shard map needs "
                     f"threshold={threshold} shards to deshard; list one device per shard used")


def _not_own_sender(data: dict[str, Any]) -> Iterator[Problem]:
    sender = data.get("sender") if "sender" in data else data.get("original_sender")
    sender_id = sender.get("id") if isinstance(sender, dict) else None
    if not isinstance(sender_id, str):
        return
    field = "sender" if "sender" in data else "original_sender"
    recipient = data.get("recipient")
    if isinstance(recipient, dict) and recipient.get("id") == sender_id:
        yield _error("/data/recipient/id", f"the share's {field} {sender_id} is also its recipient; "
                     "a share goes to someone other than its sender")
    for position, user in enumerate(data.get("accepted_by") or ()):
        if isinstance(user, dict) and user.get("id") == sender_id:
            yield _error(f"/data/accepted_by/{position}/id", f"the share's {field} {sender_id} cannot accept "
                         "their own share")


def _pending_index(data: dict[str, Any]) -> Iterator[Problem]:
    yield from _not_own_sender(data)
    shard = data.get("shard")
    if not isinstance(shard, dict):
        return
    index, total = _count(shard.get("index")), _count(shard.get("total"))
    if isinstance(index, int) and isinstance(total, int) and index > total:
        yield _error("/data/shard/index", f"pending share offers shard index={index} but the map it joins has "
                     f"total={total}; indexes run from 1 to n")


def _not_own_sender_ok(data: dict[str, Any]) -> bool:
    """``_not_own_sender`` finds nothing (the same reading, without a generator: ~4× cheaper)."""
    sender = data.get("sender") if "sender" in data else data.get("original_sender")
    sender_id = sender.get("id") if isinstance(sender, dict) else None
    if not isinstance(sender_id, str):
        return True
    recipient = data.get("recipient")
    if isinstance(recipient, dict) and recipient.get("id") == sender_id:
        return False
    for user in data.get("accepted_by") or ():
        if isinstance(user, dict) and user.get("id") == sender_id:
            return False
    return True


def _pending_index_ok(data: dict[str, Any]) -> bool:
    """``_pending_index`` finds nothing."""
    if not _not_own_sender_ok(data):
        return False
    shard = data.get("shard")
    if not isinstance(shard, dict):
        return True
    index, total = _count(shard.get("index")), _count(shard.get("total"))
    return not (isinstance(index, int) and isinstance(total, int) and index > total)


#: Each page rule's verdict alone, for the fast paths.
_PAGE_RULES_OK: dict[Callable[[dict[str, Any]], Iterator[Problem]], Callable[[dict[str, Any]], bool]] = {
    _not_own_sender: _not_own_sender_ok,
    _pending_index: _pending_index_ok,
}


def _and_common(rule: Callable[[dict[str, Any]], Iterator[Problem]],
                base: Callable[[dict[str, Any]], Iterator[Problem]] = _common,
                ) -> Callable[[dict[str, Any]], Iterator[Problem]]:
    def rules(data: dict[str, Any]) -> Iterator[Problem]:
        yield from base(data)
        yield from rule(data)
    return rules


def _enough_devices_ok(data: dict[str, Any]) -> bool:
    shard_map, device_ids = data.get("shard_map"), data.get("device_ids")
    if shard_map.__class__ is not dict or device_ids.__class__ is not list:
        return True
    threshold, total = _count(shard_map.get("threshold")), _count(shard_map.get("total"))
    if threshold.__class__ is not int or (total.__class__ is int and threshold > total):
        return True
    try:
        return len(set(device_ids)) >= threshold
    except TypeError:
        return True


def _all_ok(*checks: Callable[[dict[str, Any]], bool]) -> Callable[[dict[str, Any]], bool]:
    def ok(data: dict[str, Any]) -> bool:
        return all(check(data) for check in checks)
    return ok


_PAGE_RULES: dict[str, Callable[[dict[str, Any]], Iterator[Problem]]] = {
    "secret.share.completed": _not_own_sender,
    "secret.multi_share.completed": _not_own_sender,
    "pending_share.created": _pending_index,
    "pending_share.accepted": _pending_index,
    "pending_share.rejected": _pending_index,
}
for _type, _rule in _PAGE_RULES.items():
    _RULES[_type] = _and_common(_rule, _RULES.get(_type, _common))
    _ok = _PAGE_RULES_OK[_rule]
    _FAST[_type] = _ok if _type not in _FAST else _all_ok(_FAST[_type], _ok)
    _AFTER_SCHEMA[_type] = _ok if _type not in _AFTER_SCHEMA else _all_ok(_AFTER_SCHEMA[_type], _ok)
_RULES["secret.used"] = _and_common(_enough_devices, _RULES["secret.used"])
_FAST["secret.used"] = _all_ok(_FAST["secret.used"], _enough_devices_ok)
# (holds_schema_valid asks secret.used's device count itself, beside the devices it already reads.)
