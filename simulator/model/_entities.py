"""The tenant's entities: mutable records owned by the :class:`~simulator.model.Tenant`.

Each record keeps a precomputed reference fragment (``ref``: the small JSONObject
object events embed, like ``{"id", "email", "display_name"}``) so that an
event is assembled from shared pieces instead of being rebuilt field by
field. Events share these fragments: treat events as read-only, or copy one
before changing it (the public ``generate()`` hands out independent copies).

Entities compare by identity. Scripts reach actions through them:
``alice.share(secret, to=[bob])`` is ``tenant.share(alice, secret, to=[bob])``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from simulator._exceptions import ScenarioError
from simulator._types import JSONObject

if TYPE_CHECKING:
    from simulator.model._tenant import Tenant

__all__ = [
    "Device",
    "Group",
    "ModelError",
    "PendingShare",
    "Secret",
    "ShardMap",
    "Share",
    "User",
]



class ModelError(ScenarioError):
    """An action the model refuses (sharing to someone who already holds a shard, using a
    deleted secret, …); the scenario runner adds the script's file and line."""


@dataclass(slots=True, eq=False)
class Device:
    """A personal device that holds shards; ``device.registered`` announces it."""

    id: str
    owner: User
    type: str
    model: str
    name: str
    os_name: str
    os_version: str
    #: None for a browser extension, which has no serial of its own.
    serial_number: str | None
    bluetooth_available: bool
    apns_enabled: bool
    entitlements: tuple[str, ...]
    app_version: str
    registered_at: int
    ref: JSONObject = field(repr=False)
    #: A browser extension's browser: (name, version).
    browser: tuple[str, str] | None = None

    def __repr__(self) -> str:
        return f"<Device {self.name!r} {self.type} {self.id}>"

    def as_json(self, iso: str) -> JSONObject:
        """The full ``device`` object of ``device.registered``."""
        doc: JSONObject = {
            "id": self.id,
            "owner": self.owner.ref,
            "type": self.type,
            "model": self.model,
            "name": self.name,
            "os": {"name": self.os_name, "version": self.os_version},
        }
        if self.serial_number is not None:
            doc["serial_number"] = self.serial_number
        if self.browser is not None:
            doc["browser"] = {"name": self.browser[0], "version": self.browser[1]}
        doc |= {
            "bluetooth_available": self.bluetooth_available,
            "apns_enabled": self.apns_enabled,
            "entitlements_present": bool(self.entitlements),
        }
        if self.entitlements:
            doc["entitlements"] = list(self.entitlements)
        doc["app_version"] = self.app_version
        doc["registered_at"] = iso
        return doc


@dataclass(slots=True, eq=False)
class User:
    """A member of the tenant. Methods are the actions a person takes."""

    id: str
    email: str
    given_name: str
    family_name: str
    source: str
    roles: tuple[str, ...]
    external_id: str | None
    created_at: int
    tenant: Tenant = field(repr=False)
    ref: JSONObject = field(repr=False)
    devices: list[Device] = field(default_factory=list, repr=False)
    #: Ids of the secrets whose current shard map has a shard on one of this user's devices.
    holdings: set[str] = field(default_factory=set, repr=False)
    active: bool = True
    #: The IANA time zone of the office the user works from (their office hours follow it).
    time_zone: str = "UTC"

    def __repr__(self) -> str:
        return f"<User {self.email} {self.id}>"

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    @property
    def first_name(self) -> str:
        return self.given_name

    def as_json(self, created_iso: str, updated_iso: str, *, status: str = "active") -> JSONObject:
        """The full ``user`` object (``user.created``, ``user.deleted``, ``scim.updated``)."""
        doc: JSONObject = {
            "id": self.id,
            "email": self.email,
            "display_name": self.display_name,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "source": self.source,
        }
        if self.external_id:
            doc["external_id"] = self.external_id
        doc["roles"] = list(self.roles)
        doc["status"] = status
        doc["created_at"] = created_iso
        doc["updated_at"] = updated_iso
        return doc

    # -- actions, in the words of a script -------------------------------------------------

    def register_device(self, type: str | None = None) -> Device:
        """Install Secret Chest on a new device (``device.registered``)."""
        return self.tenant.register_device(self, type=type)

    def create_secret(self, name: str | None = None, *, kind: str | None = None) -> Secret:
        """Create a secret sharded across this user's devices."""
        return self.tenant.create_secret(self, name, kind=kind)

    def share(self, secret: Secret, *, to: Sequence[User] | Group) -> Share:
        """Share a secret with users (standard share) or a group (group share)."""
        return self.tenant.share(self, secret, to=to)

    def multi_share(self, secret: Secret, *, to: Sequence[User], threshold: int = 2) -> Share:
        """Start a multi-peer share: each peer gets one shard, ``threshold`` of them deshard."""
        return self.tenant.multi_share(self, secret, to=to, threshold=threshold)

    def accept(self, share: Share | PendingShare) -> list[JSONObject]:
        """Accept the shard offered to this user."""
        return self.tenant.accept(self._pending(share))

    def reject(self, share: Share | PendingShare, *, reason: str | None = None) -> list[JSONObject]:
        """Turn down the shard offered to this user."""
        return self.tenant.reject(self._pending(share), reason=reason)

    def use(self, secret: Secret, *, purpose: str | None = None) -> list[JSONObject]:
        """Deshard a secret on devices holding its shards (``secret.used``)."""
        return self.tenant.use(self, secret, purpose=purpose)

    def autofill(self, secret: Secret, *, origin: str | None = None) -> list[JSONObject]:
        """Deshard and autofill (or present a passkey); the clear text is held briefly then deleted."""
        return self.tenant.autofill(self, secret, origin=origin)

    def delete(self, secret: Secret) -> list[JSONObject]:
        """Delete a secret this user owns."""
        return self.tenant.delete_secret(secret, by=self)

    def _pending(self, share: Share | PendingShare) -> PendingShare:
        if isinstance(share, PendingShare):
            return share
        for pending in share.pending:
            if pending.recipient is self and pending.status == "pending":
                return pending
        waiting = " yet (recipients are offered a shard one at a time, in order)" if self in share.waiting else ""
        raise ModelError(f"{self.email} has no open pending share in share {share.id}{waiting}")


@dataclass(slots=True, eq=False)
class Group:
    """A group of users; ``members`` is current membership."""

    id: str
    name: str
    description: str
    source: str
    members: list[User]
    created_at: int
    ref: JSONObject = field(repr=False)
    active: bool = True

    def __repr__(self) -> str:
        return f"<Group {self.name!r} {len(self.members)} members>"

    def __iter__(self) -> Iterator[User]:
        return iter(self.members)

    def as_json(self, created_iso: str) -> JSONObject:
        """The full ``group`` object, with members as they are now."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "members": [m.ref for m in self.members],
            "member_count": len(self.members),
            "created_at": created_iso,
        }


@dataclass(slots=True, eq=False)
class ShardMap:
    """Where a secret's shards live: ``threshold`` (k) of ``len(shards)`` (n) needed to deshard."""

    id: str
    secret_id: str
    threshold: int
    #: (index, device) pairs with unique indexes.
    shards: tuple[tuple[int, Device], ...]
    json: JSONObject = field(repr=False)
    #: The devices a user deshards with when their own devices suffice (the same every time).
    chosen: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @property
    def total(self) -> int:
        """n: how many shards (one per device)."""
        return len(self.shards)

    def devices_of(self, user: User) -> list[Device]:
        return [d for _, d in self.shards if d.owner is user]

    def holders(self) -> list[User]:
        return list(dict.fromkeys(d.owner for _, d in self.shards))


@dataclass(slots=True, eq=False)
class Secret:
    """A secret's metadata (never a value) and its current shard and installation maps."""

    id: str
    name: str
    kind: str
    owner: User
    folder: str
    tags: tuple[str, ...]
    origin: str
    created_at: int
    shard_map: ShardMap
    installation_map_id: str
    ref: JSONObject = field(repr=False)
    open_shares: int = 0
    active: bool = True

    def __repr__(self) -> str:
        return f"<Secret {self.name!r} {self.kind} {self.id}>"

    @property
    def holders(self) -> list[User]:
        """Users with a shard of this secret on one of their devices."""
        return self.shard_map.holders()


@dataclass(slots=True, eq=False)
class PendingShare:
    """One shard offered to one recipient; resolved (accepted or rejected) exactly once."""

    id: str
    share: Share
    recipient: User
    index: int
    device: Device
    created_at: int
    created_iso: str = ""
    status: str = "pending"

    def __repr__(self) -> str:
        return f"<PendingShare {self.status} to {self.recipient.email} {self.id}>"


@dataclass(slots=True, eq=False)
class Share:
    """A standard, group or multi-peer share and its pending shares."""

    id: str
    kind: str
    secret: Secret
    sender: User
    recipients: list[User]
    group: Group | None
    threshold: int
    began_at: int
    message_id: str
    message: JSONObject = field(repr=False)
    began_iso: str = ""
    posted_at: int = 0
    posted_iso: str = ""
    pending: list[PendingShare] = field(default_factory=list)
    accepted: list[User] = field(default_factory=list)
    #: Recipients not yet offered a shard (the backend offers one recipient at a time).
    waiting: list[User] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<Share {self.kind} of {self.secret.name!r} to {len(self.recipients)} {self.id}>"

    @property
    def open(self) -> bool:
        return bool(self.waiting) or any(p.status == "pending" for p in self.pending)


T = TypeVar("T")


class Roster(Generic[T]):
    """A list with O(1) add, remove and seeded random choice (for 10k-user tenants)."""

    __slots__ = ("_index", "_items")

    def __init__(self) -> None:
        self._items: list[T] = []
        self._index: dict[int, int] = {}

    def add(self, item: T) -> None:
        self._index[id(item)] = len(self._items)
        self._items.append(item)

    def remove(self, item: T) -> None:
        pos = self._index.pop(id(item))
        last = self._items.pop()
        if last is not item:
            self._items[pos] = last
            self._index[id(last)] = pos

    def __contains__(self, item: object) -> bool:
        return id(item) in self._index

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items))

    def __getitem__(self, pos: int) -> T:
        return self._items[pos]

    def live(self) -> list[T]:
        """The roster's own list, not a copy: read it, never change it or keep it."""
        return self._items

    def items(self) -> list[T]:
        """A copy of the items, in roster order (deterministic for a seed)."""
        return list(self._items)
