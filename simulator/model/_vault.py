"""The tenant's vault: secrets with their shard maps and shares (the page's "Secret Created",
"Secret Used", "Secret Deleted", the shares and pending shares, installation maps and
user-shard queues that follow from them).

The vault owns the live secrets and the open pending shares; it reads the directory only
to check that a user still works here.
"""

from __future__ import annotations

from collections.abc import Sequence

from simulator._types import JSONObject
from simulator.model._catalogs import SECRET_TEMPLATES
from simulator.model._context import Context
from simulator.model._directory import Directory
from simulator.model._entities import (
    Device,
    Group,
    ModelError,
    PendingShare,
    Roster,
    Secret,
    ShardMap,
    Share,
    User,
)

__all__ = ["Vault"]



_WEEK_MS = 7 * 86_400_000
_PURPOSES = {
    "password": ("autofill", "autofill", "copy", "view"),
    "passkey": ("passkey",),
    "api_key": ("api", "copy", "api"),
    "ssh_key": ("ssh_agent",),
    "certificate": ("api", "view"),
    "secure_note": ("view",),
    "totp": ("copy", "autofill"),
    "credit_card": ("autofill", "view"),
    "database_credential": ("copy", "api"),
}
_REJECT_REASONS = ("Not expecting this share", "Already have access", "Wrong recipient", None, None)


class Vault:
    """Secrets, shard maps, shares and pending shares of one tenant.

    >>> from simulator.model import Tenant
    >>> t = Tenant(seed=1, users=2)
    >>> secret = t.vault.create(t.users[0], "Prod Postgres", None)
    >>> t.vault.secret_count() == len(t.secrets)
    True
    """

    def __init__(self, ctx: Context, directory: Directory, *, domain: str) -> None:
        self._ctx = ctx
        self._directory = directory
        self.domain = domain
        self._secrets: Roster[Secret] = Roster()
        self._secret_index: dict[str, Secret] = {}
        self._open: dict[str, PendingShare] = {}

    # -- reading ---------------------------------------------------------------------------

    def secrets(self) -> list[Secret]:
        """Live secrets in roster order (a copy)."""
        return self._secrets.items()

    def secret_count(self) -> int:
        return len(self._secrets)

    def random_secret(self) -> Secret | None:
        """A random live secret (one draw of ``ctx.random``), or ``None`` when there is none."""
        roster = self._secrets
        n = len(roster)
        return roster[int(self._ctx.random() * n)] if n else None

    def open_pending(self) -> list[PendingShare]:
        """Pending shares not yet accepted or rejected, oldest first."""
        return list(self._open.values())

    def open_count(self) -> int:
        return len(self._open)

    def oldest_open(self) -> PendingShare | None:
        return next(iter(self._open.values()), None)

    def by_id(self, secret_id: str) -> Secret:
        return self._secret_index[secret_id]

    def release_user(self, user: User, *, deleter: User | None) -> None:
        """Let go of a leaving user: refuse their open pending shares (offered to or by them),
        delete the secrets they own (by ``deleter``, else another admin), and take their shards
        out of everyone else's shard maps."""
        for pending in list(self._open.values()):
            if pending.recipient is user:
                self.resolve(pending, accept=False, reason="Recipient left the organisation")
            elif pending.share.sender is user:
                self.resolve(pending, accept=False, reason="Sender left the organisation")
        for secret_id in sorted(user.holdings):
            secret = self._secret_index[secret_id]
            if secret.owner is user:
                self.delete(secret, deleter or self._directory.other_admin(user))
        for secret_id in sorted(user.holdings):
            secret = self._secret_index[secret_id]
            keep = [d for _, d in secret.shard_map.shards if d.owner is not user]
            removed = [(i, d) for i, d in secret.shard_map.shards if d.owner is user]
            self._user_shards(user, secret, removed, posted=False)
            self._install(secret, keep, min(secret.shard_map.threshold, len(keep)), share_id=None)

    # -- secrets --------------------------------------------------------------------------

    # -- secrets --------------------------------------------------------------------------

    def create(self, owner: User, name: str | None, kind: str | None) -> Secret:
        ctx = self._ctx
        rng = ctx.rng
        template = None
        if name is None:
            template = rng.choice(SECRET_TEMPLATES)
            name = template.name
        else:
            template = next((s for s in SECRET_TEMPLATES if s.name == name), None)
        kind = kind or (template.kind if template else "password")
        devices = owner.devices
        if not devices:
            raise ModelError(f"{owner.email} has no device to hold shards; register one first")
        n = len(devices)
        k = 1 if n == 1 else (2 if n <= 3 else n // 2 + 1)
        secret_id = ctx.ids.uuid()
        now = ctx.tick(300, 8000)
        iso = ctx.iso(now)
        shards = tuple((i + 1, d) for i, d in enumerate(devices))
        shard_map = self._shard_map(secret_id, k, shards, iso)
        folder = template.folder if template else "Personal"
        tags = template.tags if template else ()
        secret = Secret(
            id=secret_id, name=name, kind=kind, owner=owner, folder=folder, tags=tags,
            origin=template.origin if template else f"https://{self.domain}",
            created_at=now, shard_map=shard_map, installation_map_id=ctx.ids.uuid(), ref={})
        secret.ref = {"id": secret.id, "name": secret.name, "kind": secret.kind}
        self._secrets.add(secret)
        self._secret_index[secret.id] = secret
        owner.holdings.add(secret.id)
        doc: JSONObject = {"id": secret.id, "name": name, "kind": kind, "owner": owner.ref, "folder": folder}
        if tags:
            doc["tags"] = list(tags)
        doc["created_at"] = iso
        ctx.emit("secret.created", {"secret": doc, "shard_map": shard_map.json}, iso)
        posted = ctx.tick(50, 600)
        piso = ctx.iso(posted)
        ctx.emit("installation_map.posted", {
            "installation_map_id": secret.installation_map_id, "secret": secret.ref,
            "shard_map": shard_map.json, "share_id": None,
            "time": {"initiated_at": iso, "completed_at": piso}}, piso)
        self._user_shards(owner, secret, list(shards), posted=True)
        return secret

    def _shard_map(self, secret_id: str, k: int, shards: tuple[tuple[int, Device], ...], iso: str) -> ShardMap:
        ctx = self._ctx
        map_id = ctx.ids.uuid()
        doc = {
            "id": map_id, "secret_id": secret_id, "threshold": k, "total": len(shards),
            "shards": [{"index": i, "device_id": d.id, "user_id": d.owner.id} for i, d in shards],
            "created_at": iso,
        }
        return ShardMap(id=map_id, secret_id=secret_id, threshold=k, shards=shards, json=doc)

    def _user_shards(self, user: User, secret: Secret, shards: list[tuple[int, Device]], *, posted: bool) -> None:
        """Shards queued for a user's devices (posted then, once fetched, deleted), or removed."""
        ctx = self._ctx
        start = ctx.clock.now
        entries = [{"shard_id": ctx.ids.uuid(), "index": i, "device_id": d.id, "secret_id": secret.id,
                    "shard_map_id": secret.shard_map.id} for i, d in shards]
        siso = ctx.iso(start)
        if posted:
            now = ctx.tick(20, 400)
            iso = ctx.iso(now)
            ctx.emit("user_shards.posted", {"user": user.ref, "queue": "shards", "shards": entries,
                                              "time": {"initiated_at": siso, "completed_at": iso}}, iso)
            fetched = ctx.tick(200, 5000)
            fiso = ctx.iso(fetched)
            ctx.emit("user_shards.deleted", {"user": user.ref, "queue": "shards", "shards": entries,
                                               "time": {"initiated_at": iso, "completed_at": fiso}}, fiso)
        else:
            now = ctx.tick(20, 400)
            iso = ctx.iso(now)
            ctx.emit("user_shards.deleted", {"user": user.ref, "queue": "shards", "shards": entries,
                                               "time": {"initiated_at": siso, "completed_at": iso}}, iso)

    def _install(self, secret: Secret, devices: Sequence[Device], k: int, *,
                 share_id: str | None) -> None:
        """Replace a secret's shard map: post the new installation map, delete the old one.

        Shards are numbered 1..n in the new map (one shard per device).
        """
        ctx = self._ctx
        shards = tuple(enumerate(devices, 1))
        old_map, old_install = secret.shard_map, secret.installation_map_id
        started = ctx.iso(ctx.clock.now)
        now = ctx.tick(50, 800)
        iso = ctx.iso(now)
        new_map = self._shard_map(secret.id, max(1, k), shards, iso)
        secret.shard_map = new_map
        secret.installation_map_id = ctx.ids.uuid()
        ctx.emit("installation_map.posted", {
            "installation_map_id": secret.installation_map_id, "secret": secret.ref,
            "shard_map": new_map.json, "share_id": share_id,
            "time": {"initiated_at": started, "completed_at": iso}}, iso)
        done = ctx.tick(20, 300)
        diso = ctx.iso(done)
        ctx.emit("installation_map.deleted", {
            "installation_map_id": old_install, "secret": secret.ref, "shard_map": old_map.json,
            "share_id": share_id, "time": {"initiated_at": iso, "completed_at": diso}}, diso)
        old_holders = {d.owner for _, d in old_map.shards}
        new_holders = {d.owner for _, d in shards}
        for u in old_holders - new_holders:
            u.holdings.discard(secret.id)
        for u in new_holders:
            u.holdings.add(secret.id)

    def check_secret(self, secret: Secret) -> None:
        if not secret.active:
            raise ModelError(f"secret {secret.name!r} ({secret.id}) was deleted")

    def use(self, user: User, secret: Secret, purpose: str | None) -> list[str]:
        ctx = self._ctx
        if not secret.active:
            self.check_secret(secret)
        if not user.active:
            self._directory.check_user(user)
        shard_map = secret.shard_map
        if secret.id not in user.holdings:
            raise ModelError(f"{user.email} holds no shard of {secret.name!r}; share it with them first")
        k = shard_map.threshold
        chosen = shard_map.chosen.get(user.id)
        if chosen is None:
            chosen = [d.id for _, d in shard_map.shards if d.owner is user][:k]
            if len(chosen) < k:
                # Too few of the user's own devices: peers' devices take part (a different set each time).
                others = [d.id for _, d in shard_map.shards if d.owner is not user]
                chosen += ctx.rng.sample(others, k - len(chosen))
            else:
                shard_map.chosen[user.id] = chosen
        iso, clock = ctx.iso, ctx.clock
        started = iso(clock.now)
        done = iso(clock.tick(0 if clock.rate else clock.latency(150, 1500)))
        if purpose is None:
            purposes = _PURPOSES[secret.kind]
            purpose = purposes[int(ctx.random() * len(purposes))]
        ctx.emit("secret.used", {
            "secret": secret.ref, "used_by": user.ref, "device_ids": chosen, "shard_map": shard_map.json,
            "time": {"initiated_at": started, "completed_at": done}, "purpose": purpose}, done)
        return chosen

    def temp_stored(self, user: User, secret: Secret, chosen: list[str], purpose: str, origin: str | None) -> None:
        ctx = self._ctx
        device = next((d for d in user.devices if d.id in chosen), None) or next(
            d for _, d in secret.shard_map.shards if d.owner is user)
        available = ctx.clock.now
        now = ctx.tick(30, 2500)
        iso = ctx.iso(now)
        ctx.emit("secret.temp_stored.retrieved", {
            "secret": secret.ref, "user": user.ref, "device": device.ref, "purpose": purpose,
            "origin": origin or secret.origin,
            "time": {"initiated_at": ctx.iso(available), "completed_at": iso}}, iso)

    def delete(self, secret: Secret, by: User) -> None:
        ctx = self._ctx
        for pending in list(self._open.values()):
            if pending.share.secret is secret:
                self.resolve(pending, accept=False, reason="Secret was deleted")
        shard_map = secret.shard_map
        # The backend removes the installation map first; the deletion completes after it.
        started = ctx.clock.now
        removed = ctx.tick(50, 800)
        riso = ctx.iso(removed)
        ctx.emit("installation_map.deleted", {
            "installation_map_id": secret.installation_map_id, "secret": secret.ref, "shard_map": shard_map.json,
            "share_id": None, "time": {"initiated_at": ctx.iso(started), "completed_at": riso}}, riso)
        now = ctx.tick(100, 2000)
        iso = ctx.iso(now)
        ctx.emit("secret.deleted", {
            "secret": secret.ref, "deleted_by": by.ref,
            "device_ids": list(dict.fromkeys(d.id for _, d in shard_map.shards)),
            "shard_map": shard_map.json, "time": {"initiated_at": ctx.iso(started), "completed_at": iso}}, iso)
        for _, d in shard_map.shards:
            d.owner.holdings.discard(secret.id)
        secret.active = False
        self._secrets.remove(secret)
        del self._secret_index[secret.id]

    # -- shares ---------------------------------------------------------------------------

    def eligible_recipients(self, secret: Secret, candidates: Sequence[User]) -> list[User]:
        """Who among ``candidates`` can receive a shard of ``secret`` (active, has a device,
        not already holding or being offered one)."""
        # Everyone in a share of this secret that is still open (pending, or accepted but not yet
        # installed, as in a multi-peer share waiting for its other peers).
        offered = {u.id for p in self._open.values() if p.share.secret is secret for u in p.share.recipients}
        return [u for u in candidates if u.active and u.devices and secret.id not in u.holdings
                and u.id not in offered]

    def begin(self, sender: User, secret: Secret, users: list[User], *, group: Group | None,
               threshold: int) -> Share:
        ctx = self._ctx
        self._directory.check_user(sender)
        self.check_secret(secret)
        if secret.id not in sender.holdings:
            raise ModelError(f"{sender.email} holds no shard of {secret.name!r} and cannot share it")
        candidates = [u for u in users if u is not sender]
        recipients = self.eligible_recipients(secret, candidates)
        if group is None and len(recipients) != len(candidates):
            bad = [u.email for u in candidates if u not in recipients]
            raise ModelError(f"cannot share {secret.name!r} with {', '.join(bad)}: they already hold or "
                             "were offered a shard, have no device, or left")
        if not recipients:
            raise ModelError(f"nobody in {group.name if group else 'the recipients'!r} can receive "
                             f"a shard of {secret.name!r}")
        multi = threshold > 0
        kind = "multi_peer" if multi else ("group" if group is not None else "standard")
        now = ctx.tick(200, 3000)
        iso = ctx.iso(now)
        expires = ctx.iso(now + _WEEK_MS)
        share_id = ctx.ids.uuid()
        message: JSONObject = {"id": ctx.ids.uuid(), "queue": "shares", "object": {"type": "share", "id": share_id},
                         "action": "deliver_shard"}
        share = Share(id=share_id, kind=kind, secret=secret, sender=sender, recipients=recipients, group=group,
                      threshold=threshold, began_at=now, began_iso=iso, message_id=message["id"],
                      message=message)
        refs = [u.ref for u in recipients]
        if multi:
            ctx.emit("secret.multi_share.began", {
                "share_id": share_id, "secret": secret.ref, "sender": sender.ref, "recipients": refs,
                "threshold": min(threshold, secret.shard_map.total + len(recipients)),
                "shard_map_id": secret.shard_map.id,
                "time": {"initiated_at": iso, "expires_at": expires}}, iso)
        else:
            recip: JSONObject = {"kind": "group", "group": group.ref, "users": refs} if group is not None else {
                "kind": "users", "users": refs}
            ctx.emit("secret.share.began", {
                "share_id": share_id, "secret": secret.ref, "kind": kind, "sender": sender.ref,
                "recipients": recip, "shard_map_id": secret.shard_map.id,
                "time": {"initiated_at": iso, "expires_at": expires}}, iso)
        posted = ctx.tick(20, 300)
        piso = ctx.iso(posted)
        ctx.emit("backend_message.posted", {"message": message, "time": {
            "initiated_at": piso, "expires_at": ctx.iso(posted + _WEEK_MS)}}, piso)
        share.posted_at = posted
        share.posted_iso = piso
        for position, user in enumerate(recipients, 1):
            # The slot offered: after the current shards, in recipient order.
            index = secret.shard_map.total + position
            device = user.devices[0]
            at = ctx.tick(10, 200)
            pending = PendingShare(id=ctx.ids.uuid(), share=share, recipient=user, index=index,
                                   device=device, created_at=at, created_iso=ctx.iso(at))
            share.pending.append(pending)
            self._open[pending.id] = pending
            aiso = ctx.iso(at)
            ctx.emit("pending_share.created", self._pending_json(pending, "pending", {
                "initiated_at": aiso, "expires_at": ctx.iso(at + _WEEK_MS)}), aiso)
        secret.open_shares += 1
        return share

    def _pending_json(self, pending: PendingShare, status: str, time: JSONObject) -> JSONObject:
        share = pending.share
        return {
            "pending_share_id": pending.id, "share_id": share.id, "share_kind": share.kind,
            "secret": share.secret.ref, "shard_map_id": share.secret.shard_map.id,
            "shard": {"index": pending.index, "device_id": pending.device.id},
            "sender": share.sender.ref, "recipient": pending.recipient.ref, "status": status, "time": time,
        }

    def resolve(self, pending: PendingShare, *, accept: bool, reason: str | None) -> None:
        ctx = self._ctx
        if pending.status != "pending":
            raise ModelError(f"pending share {pending.id} was already {pending.status}")
        share, secret, user = pending.share, pending.share.secret, pending.recipient
        del self._open[pending.id]
        now = ctx.tick(2000, 120_000)
        iso = ctx.iso(now)
        time = {"initiated_at": pending.created_iso, "completed_at": iso}
        if accept and secret.active and user.active:
            pending.status = "accepted"
            share.accepted.append(user)
            ctx.emit("pending_share.accepted", self._pending_json(pending, "accepted", time), iso)
            if share.kind != "multi_peer":
                devices = [*(d for _, d in secret.shard_map.shards), pending.device]
                self._install(secret, devices, secret.shard_map.threshold, share_id=share.id)
                self._user_shards(user, secret, [secret.shard_map.shards[-1]], posted=True)
                done = ctx.tick(20, 300)
                diso = ctx.iso(done)
                ctx.emit("secret.share.completed", {
                    "share_id": share.id, "secret": secret.ref, "kind": share.kind, "sender": share.sender.ref,
                    "recipient": user.ref,
                    "time": {"initiated_at": share.began_iso, "completed_at": diso}}, diso)
        else:
            pending.status = "rejected"
            data = self._pending_json(pending, "rejected", time)
            why = reason if reason is not None else ctx.rng.choice(_REJECT_REASONS)
            if why:
                data["reason"] = why
            ctx.emit("pending_share.rejected", data, iso)
        if not share.open:
            self._finish_share(share)

    def _finish_share(self, share: Share) -> None:
        ctx = self._ctx
        secret = share.secret
        secret.open_shares -= 1
        if share.kind == "multi_peer" and share.accepted and secret.active:
            in_map = {d for _, d in secret.shard_map.shards}
            joined = [p for p in share.pending if p.status == "accepted" and p.recipient.active
                      and p.device not in in_map]
            if joined:
                devices = [*(d for _, d in secret.shard_map.shards), *(p.device for p in joined)]
                k = min(len(devices), max(share.threshold, secret.shard_map.threshold))
                self._install(secret, devices, k, share_id=share.id)
                for p in joined:
                    placed = next(pair for pair in secret.shard_map.shards if pair[1] is p.device)
                    self._user_shards(p.recipient, secret, [placed], posted=True)
                done = ctx.tick(20, 300)
                diso = ctx.iso(done)
                ctx.emit("secret.multi_share.completed", {
                    "share_id": share.id, "secret": secret.ref, "original_sender": share.sender.ref,
                    "recipients": [u.ref for u in share.recipients if u.active],
                    "accepted_by": [p.recipient.ref for p in joined],
                    "time": {"initiated_at": share.began_iso, "completed_at": diso}}, diso)
        now = ctx.tick(20, 500)
        iso = ctx.iso(now)
        ctx.emit("backend_message.archived", {"message": share.message, "time": {
            "initiated_at": share.posted_iso, "completed_at": iso}}, iso)

