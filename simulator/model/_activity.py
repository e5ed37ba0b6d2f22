"""Random but consistent tenant activity: the mix behind ``tenant-day`` and ``firehose``,
and recipes that make events of one type on demand (``Tenant.events_of``).

Every step picks an action that makes sense in the current state (use a secret
someone holds, answer the oldest open pending share, …) and keeps the tenant's
size steady: hires balance leavers, new secrets balance deleted ones, open
shares are answered, so memory stays flat however long the stream runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simulator._catalog import lookup
from simulator._types import Event
from simulator.model._entities import ModelError, Secret, User

if TYPE_CHECKING:
    from simulator.model._tenant import Tenant

__all__ = ["events_of", "random_activity"]


# Relative weights of actions in a busy tenant (per action, not per event).
_MIX: tuple[tuple[str, float], ...] = (
    ("use", 44.0),
    ("autofill", 16.0),
    ("create_secret", 5.0),
    ("delete_secret", 4.0),
    ("share", 4.0),
    ("group_share", 1.0),
    ("multi_share", 1.5),
    ("respond", 7.0),
    ("register_device", 0.6),
    ("scim_sync", 0.6),
    ("hire", 0.3),
    ("offboard", 0.3),
    ("create_group", 0.25),
    ("delete_group", 0.25),
    ("update_idp", 0.02),
)
_NAMES = [name for name, _ in _MIX]
_CUM: list[float] = []
_total = 0.0
for _, _w in _MIX:
    _total += _w
    _CUM.append(_total)

_MAX_OPEN = 64
_MAX_SHARDS = 7


def random_activity(t: Tenant, actions: int = 100, *, think: float = 90.0) -> None:
    """Run ``actions`` random, state-consistent actions on ``t`` (events go to its queue)."""
    import bisect

    rand = t.rng.random
    vault = t.vault
    clock = t.clock
    paced = clock.rate is not None
    table = [_ACTIONS[name] for name in _NAMES]
    cum, total, pick = _CUM, _total, bisect.bisect
    for _ in range(actions):
        if not paced:
            clock.think(think)
        if vault.open_count() > _MAX_OPEN:
            _respond(t)
            continue
        if not table[pick(cum, rand() * total)](t):
            _use(t)


def _pick_secret(t: Tenant) -> Secret | None:
    return t.vault.random_secret()


def _pick_user(t: Tenant) -> User:
    """A random active user with at least one device (new SCIM users may have none yet)."""
    directory = t.directory
    for _ in range(20):
        user = directory.random_user()
        if user.devices:
            return user
    return secret_owner_fallback(t)


def secret_owner_fallback(t: Tenant) -> User:
    for user in t.directory.users():
        if user.devices:
            return user
    user = t.directory.first_user()
    t.device_registry.register(user, t.device_registry.plan()[0])
    return user


def _holder(t: Tenant, secret: Secret) -> User:
    shards = secret.shard_map.shards
    rand = t.rng.random
    if rand() < 0.7 or len(shards) == 1:
        return secret.owner
    return shards[int(rand() * len(shards))][1].owner


def _use(t: Tenant) -> bool:
    # The most frequent action: picks inlined.
    vault = t.vault
    secret = vault.random_secret()
    if secret is None:
        return _create_secret(t)
    rand = t.rng.random
    shards = secret.shard_map.shards
    user = secret.owner if rand() < 0.7 or len(shards) == 1 else shards[int(rand() * len(shards))][1].owner
    vault.use(user, secret, None)
    return True


def _autofill(t: Tenant) -> bool:
    secret = _pick_secret(t)
    if secret is None:
        return False
    with t.action():
        user = _holder(t, secret)
        purpose = "passkey" if secret.kind == "passkey" else "autofill"
        if secret.kind not in ("password", "passkey", "totp", "credit_card"):
            t.vault.use(user, secret, None)
            return True
        chosen = t.vault.use(user, secret, purpose)
        t.vault.temp_stored(user, secret, chosen, purpose, None)
    return True


def _create_secret(t: Tenant) -> bool:
    target = t.size * t.secrets_per_user
    if t.vault.secret_count() > target * 1.1 and t.rng.random() < 0.8:
        return _delete_secret(t)
    user = _pick_user(t)
    t.vault.create(user, None, None)
    return True


def _delete_secret(t: Tenant) -> bool:
    target = t.size * t.secrets_per_user
    if t.vault.secret_count() < max(2, target * 0.9) and t.rng.random() < 0.8:
        return False
    secret = _pick_secret(t)
    if secret is None or secret.open_shares:
        return False
    t.vault.delete(secret, secret.owner)
    return True


def _share(t: Tenant, *, multi: bool = False, group: bool = False) -> bool:
    secret = _pick_secret(t)
    if (secret is None or secret.open_shares or secret.shard_map.total >= _MAX_SHARDS
            or t.directory.user_count() < 2):
        return False
    sender = _holder(t, secret)
    if group:
        if not t.directory.group_count():
            return False
        g = t.directory.random_group()
        if not t.eligible_recipients(secret, [u for u in g.members if u is not sender]):
            return False
        t.vault.begin(sender, secret, list(g.members), group=g, threshold=0)
        return True
    wanted = 1 if not multi else t.rng.randint(2, 3)
    picks = [_pick_user(t) for _ in range(wanted + 2)]
    recipients = list(dict.fromkeys(t.eligible_recipients(secret, [u for u in picks if u is not sender])))
    recipients = recipients[:wanted]
    if not recipients or (multi and len(recipients) < 2):
        return False
    t.vault.begin(sender, secret, recipients, group=None, threshold=t.rng.randint(2, len(recipients) + 1) if multi else 0)
    return True


def _respond(t: Tenant) -> bool:
    pending = t.vault.oldest_open()
    if pending is None:
        return False
    t.vault.resolve(pending, accept=t.rng.random() < 0.85, reason=None)
    return True


def _register_device(t: Tenant) -> bool:
    user = _pick_user(t)
    # No event removes a device, so a user adds at most one beyond the usual count.
    if len(user.devices) > t.devices_per_user:
        return False
    device = t.device_registry.register(user, t.device_registry.plan()[-1])
    t.vault.device_joined(device)
    return True


def _balance(t: Tenant) -> tuple[int, int]:
    """How many to hire and to let go so the tenant stays near its size."""
    n, target = t.directory.user_count(), t.size
    rng = t.rng
    hires = rng.choice((0, 1, 1, 2))
    leavers = rng.choice((0, 1, 1, 2))
    if n < target:
        leavers = 0 if n < 3 else min(leavers, 1)
        hires = max(hires, 1)
    elif n > target:
        hires = min(hires, 1)
        leavers = max(leavers, 1)
    return hires, leavers


def _scim_sync(t: Tenant) -> bool:
    hires, leavers = _balance(t)
    if t.directory.user_count() < 3:
        leavers = 0
    with t.action():
        hired = t.run_scim(hires, leavers)
        # New hires install Secret Chest on their devices soon after.
        for user in hired:
            if user.active and not user.devices:
                t.clock.think(600)
                for dtype in t.device_registry.plan():
                    t.device_registry.register(user, dtype)
    return hires + leavers > 0


def _hire(t: Tenant) -> bool:
    if t.directory.user_count() > t.size:
        return _offboard(t)
    user = t.directory.new_user(source="admin", roles=("member",), by=None)
    for dtype in t.device_registry.plan():
        t.device_registry.register(user, dtype)
    return True


def _offboard(t: Tenant) -> bool:
    if t.directory.user_count() < max(3, t.size):
        return False
    user = _pick_user(t)
    if "owner" in user.roles:
        return False
    t.remove_user(user, reason="admin")
    return True


def _create_group(t: Tenant) -> bool:
    if t.directory.group_count() >= max(t.group_count + 2, 2) or t.directory.user_count() < 2:
        return _delete_group(t)
    t.create_group(source="admin" if t.rng.random() < 0.5 else "scim")
    return True


def _delete_group(t: Tenant) -> bool:
    if t.directory.group_count() <= max(1, t.group_count - 2):
        return False
    group = t.directory.random_group()
    t.delete_group(group)
    return True


def _update_idp(t: Tenant) -> bool:
    choice = t.rng.random()
    if choice < 0.5:
        t.update_idp()
    elif choice < 0.8 and t.idp is not None:
        t.update_idp(enforce_sso=not t.idp.get("enforce_sso", False))
    else:
        t.update_idp(jit_provisioning=not (t.idp or {}).get("jit_provisioning", True))
    return True


_ACTIONS: dict[str, Callable[[Tenant], bool]] = {
    "use": _use,
    "autofill": _autofill,
    "create_secret": _create_secret,
    "delete_secret": _delete_secret,
    "share": _share,
    "group_share": lambda t: _share(t, group=True),
    "multi_share": lambda t: _share(t, multi=True),
    "respond": _respond,
    "register_device": _register_device,
    "scim_sync": _scim_sync,
    "hire": _hire,
    "offboard": _offboard,
    "create_group": _create_group,
    "delete_group": _delete_group,
    "update_idp": _update_idp,
}

# What to do to make at least one event of a type (tried in order until one succeeds).
_RECIPES: dict[str, tuple[str, ...]] = {
    "secret.used": ("use",),
    "secret.temp_stored.retrieved": ("autofill_any",),
    "secret.created": ("create_any",),
    "user_shards.posted": ("create_any",),
    "user_shards.deleted": ("create_any",),
    "installation_map.posted": ("create_any",),
    "secret.deleted": ("delete_any",),
    "installation_map.deleted": ("delete_any",),
    "secret.share.began": ("share_any",),
    "backend_message.posted": ("share_any",),
    "pending_share.created": ("share_any",),
    "pending_share.accepted": ("share_accept",),
    "secret.share.completed": ("share_accept",),
    "backend_message.archived": ("share_accept",),
    "pending_share.rejected": ("share_reject",),
    "secret.multi_share.began": ("multi_any",),
    "secret.multi_share.completed": ("multi_accept",),
    "user.created": ("hire_any",),
    "device.registered": ("hire_any",),
    "user.deleted": ("offboard_any",),
    "scim.updated": ("scim_any",),
    "group.created": ("group_any",),
    "group.deleted": ("ungroup_any",),
    "idp.settings_updated": ("idp_any",),
}


def _ensure_users(t: Tenant, n: int) -> None:
    while t.directory.user_count() < n:
        _hire_any(t)


def _hire_any(t: Tenant) -> None:
    t.hire(source=t.rng.choice(("admin", "scim", "jit")))


def _create_any(t: Tenant) -> Secret:
    return t.create_secret(_pick_user(t))


def _fresh_share(t: Tenant, *, multi: bool) -> tuple[Secret, Any]:
    _ensure_users(t, 4 if multi else 2)
    for _ in range(20):
        secret = _pick_secret(t) or _create_any(t)
        if secret.shard_map.total >= _MAX_SHARDS or secret.open_shares:
            continue
        sender = _holder(t, secret)
        others = t.eligible_recipients(secret, [u for u in t.directory.users()[:200] if u is not sender])
        if len(others) >= (2 if multi else 1):
            to = t.rng.sample(others, 2 if multi else 1)
            share = (t.multi_share(sender, secret, to=to, threshold=2) if multi
                     else t.share(sender, secret, to=to))
            return secret, share
    secret = _create_any(t)
    _hire_any(t)
    _hire_any(t)
    to = t.eligible_recipients(secret, t.directory.users()[-2:])
    share = t.multi_share(secret.owner, secret, to=to, threshold=2) if multi else t.share(
        secret.owner, secret, to=to[:1])
    return secret, share


def _autofill_any(t: Tenant) -> None:
    for _ in range(50):
        secret = _pick_secret(t)
        if secret is not None and secret.kind in ("password", "passkey", "totp", "credit_card"):
            t.autofill(_holder(t, secret), secret)
            return
    secret = t.create_secret(_pick_user(t), "Okta admin")
    t.autofill(secret.owner, secret)


def _delete_any(t: Tenant) -> None:
    for _ in range(50):
        secret = _pick_secret(t)
        if secret is not None and not secret.open_shares:
            t.delete_secret(secret)
            return
    t.delete_secret(_create_any(t))


def _offboard_any(t: Tenant) -> None:
    _ensure_users(t, 3)
    for user in reversed(t.directory.users()):
        if "owner" not in user.roles:
            t.offboard(user)
            return


def _scim_any(t: Tenant) -> None:
    _ensure_users(t, 3)
    t.scim_sync(hires=1, leavers=1)


def _group_any(t: Tenant) -> None:
    _ensure_users(t, 2)
    t.create_group()


def _ungroup_any(t: Tenant) -> None:
    _ensure_users(t, 2)
    t.delete_group(t.directory.first_group() if t.directory.group_count() else t.create_group())


_SPECIAL: dict[str, Callable[[Tenant], object]] = {
    "use": _use,
    "autofill_any": _autofill_any,
    "create_any": _create_any,
    "delete_any": _delete_any,
    "share_any": lambda t: _fresh_share(t, multi=False),
    "share_accept": lambda t: t.respond(_fresh_share(t, multi=False)[1], accept=1.0),
    "share_reject": lambda t: t.respond(_fresh_share(t, multi=False)[1], accept=0.0),
    "multi_any": lambda t: _fresh_share(t, multi=True),
    "multi_accept": lambda t: t.respond(_fresh_share(t, multi=True)[1], accept=1.0),
    "hire_any": _hire_any,
    "offboard_any": _offboard_any,
    "scim_any": _scim_any,
    "group_any": _group_any,
    "ungroup_any": _ungroup_any,
    "idp_any": lambda t: t.update_idp(),
}


def events_of(t: Tenant, type_: str, n: int = 1) -> list[Event]:
    """``n`` events of one type, made by consistent actions (the other events they cause stay in
    the tenant's queue, so the tenant's full stream remains causally complete)."""
    key = lookup(type_).key
    found: list[Event] = []
    with t.record() as box:
        for _ in range(n * 50):
            if len(found) >= n:
                break
            before = len(box)
            for recipe in _RECIPES[key]:
                _SPECIAL[recipe](t)
            found.extend(e for e in box[before:] if e["type"] == key)
        else:
            raise ModelError(f"could not make {n} {key} events")
    return found[:n]
