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
#: Shard policies a tenant sets for new secrets, (k, n), and how often tenants choose each.
TENANT_POLICIES: tuple[tuple[int, int], ...] = ((2, 2), (2, 3), (2, 4), (3, 5))
TENANT_POLICY_WEIGHTS = (0.2, 0.5, 0.15, 0.15)
#: Stricter policies some teams set for their members' secrets (by group name).
GROUP_POLICIES: dict[str, tuple[int, int]] = {
    "Security": (3, 5), "Leadership": (3, 5), "Finance": (2, 4), "Platform Engineering": (2, 3),
    "SRE": (2, 3),
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
        #: (k, n): the tenant's default shard policy for new secrets (groups may ask for more).
        self.policy = ctx.rng.choices(TENANT_POLICIES, TENANT_POLICY_WEIGHTS)[0]
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
            # Nobody is offered a shard by, or to, someone leaving.
            if pending.share.sender is user:
                pending.share.waiting.clear()
            elif user in pending.share.waiting:
                pending.share.waiting.remove(user)
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

    def create(self, owner: User, name: str | None, kind: str | None, *, peers: bool = True) -> Secret:
        """Create a secret (``secret.created``, ``installation_map.posted``, the holders' user shards).

        Its k-of-n follows the owner's policy; with ``peers``, shards beyond the owner's devices go
        to peers (their policy group, else admins); without, the owner's devices hold them all.
        """
        ctx = self._ctx
        rng = ctx.rng
        template = None
        if name is None:
            template = rng.choice(SECRET_TEMPLATES)
            name = template.name
        else:
            template = next((s for s in SECRET_TEMPLATES if s.name == name), None)
        kind = kind or (template.kind if template else "password")
        if not owner.devices:
            raise ModelError(f"{owner.email} has no device to hold shards; register one first")
        k, devices = self._placement(owner, peers=peers)
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
        for _, device in shards:
            device.owner.holdings.add(secret.id)
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
        for holder in dict.fromkeys(d.owner for _, d in shards):
            self._user_shards(holder, secret, [pair for pair in shards if pair[1].owner is holder], posted=True)
        return secret

    def policy_for(self, owner: User) -> tuple[int, int]:
        """(k, n) for a new secret of ``owner``: the strictest policy of their groups, else the tenant's."""
        best = self.policy
        for group in self._directory.groups_of(owner, named=GROUP_POLICIES):
            policy = GROUP_POLICIES[group.name]
            if policy > best:
                best = policy
        return best

    def device_joined(self, device: Device) -> None:
        """A new device of a secret's owner joins the shard maps of their secrets that hold fewer
        shards than their policy asks: a new installation map with one more shard, on it."""
        owner = device.owner
        k, n = self.policy_for(owner)
        for secret_id in sorted(owner.holdings):
            secret = self._secret_index[secret_id]
            shard_map = secret.shard_map
            if secret.owner is not owner or secret.open_shares or shard_map.total >= n:
                continue
            devices = [*(d for _, d in shard_map.shards), device]
            self._install(secret, devices, max(shard_map.threshold, min(k, len(devices))), share_id=None)
            self._user_shards(owner, secret, [secret.shard_map.shards[-1]], posted=True)

    def _placement(self, owner: User, *, peers: bool) -> tuple[int, list[Device]]:
        """k and the devices that hold a new secret's n shards: the owner's devices first, then
        one device each of peers (their policy group's members, else admins) until n."""
        k, n = self.policy_for(owner)
        devices = list(owner.devices[:n])
        if peers and len(devices) < n:
            groups = self._directory.groups_of(owner, named=GROUP_POLICIES)
            pool = list(dict.fromkeys(m for g in groups for m in g.members)) if groups else self._directory.admins()
            candidates = [u for u in pool if u is not owner and u.devices]
            rng = self._ctx.rng
            for peer in rng.sample(candidates, min(len(candidates), n - len(devices))):
                devices.append(peer.devices[0])
        return (1 if len(devices) == 1 else max(1, min(k, len(devices)))), devices

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
                pending.share.waiting.clear()
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
        if secret.open_shares:
            raise ModelError(f"a share of {secret.name!r} is still in progress; let its recipients answer "
                             "first (a secret is shared with one recipient at a time)")
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
        share.waiting = list(recipients)
        secret.open_shares += 1
        self._offer_next(share)
        return share

    def _offer_next(self, share: Share) -> None:
        """Offer the share to its next recipient who can still take a shard (``pending_share.created``).

        The backend offers one recipient at a time, so the index announced is the slot the shard
        takes when accepted: one past the current map. With nobody left to ask, the share ends.
        """
        ctx = self._ctx
        secret = share.secret
        while share.waiting:
            user = share.waiting.pop(0)
            if not (secret.active and share.sender.active and user.active and user.devices
                    and secret.id not in user.holdings):
                continue
            index = secret.shard_map.total + 1
            at = ctx.tick(10, 200)
            aiso = ctx.iso(at)
            pending = PendingShare(id=ctx.ids.uuid(), share=share, recipient=user, index=index,
                                   device=user.devices[0], created_at=at, created_iso=aiso)
            share.pending.append(pending)
            self._open[pending.id] = pending
            ctx.emit("pending_share.created", self._pending_json(pending, "pending", {
                "initiated_at": aiso, "expires_at": ctx.iso(at + _WEEK_MS)}), aiso)
            return
        share.waiting.clear()
        self._finish_share(share)

    def _pending_json(self, pending: PendingShare, status: str, time: JSONObject) -> JSONObject:
        share = pending.share
        return {
            "pending_share_id": pending.id, "share_id": share.id, "share_kind": share.kind,
            "secret": share.secret.ref, "shard_map_id": share.secret.shard_map.id,
            "shard": {"index": pending.index, "total": pending.index, "device_id": pending.device.id},
            "sender": share.sender.ref, "recipient": pending.recipient.ref, "status": status, "time": time,
        }

    def resolve(self, pending: PendingShare, *, accept: bool, reason: str | None) -> None:
        """The recipient answers (``pending_share.accepted`` or ``.rejected``); an accepted shard is
        installed at the index the offer announced, then the share goes on to its next recipient."""
        ctx = self._ctx
        if pending.status != "pending":
            raise ModelError(f"pending share {pending.id} was already {pending.status}")
        share, secret, user = pending.share, pending.share.secret, pending.recipient
        del self._open[pending.id]
        now = ctx.tick(2000, 120_000)
        iso = ctx.iso(now)
        time = {"initiated_at": pending.created_iso, "completed_at": iso}
        if accept and secret.active and user.active and pending.index != secret.shard_map.total + 1:
            # The map changed since the offer (a holder left): the slot offered no longer exists.
            accept, reason = False, "The shard map changed since the offer; share again"
        if accept and secret.active and user.active:
            pending.status = "accepted"
            share.accepted.append(user)
            ctx.emit("pending_share.accepted", self._pending_json(pending, "accepted", time), iso)
            devices = [*(d for _, d in secret.shard_map.shards), pending.device]
            k = secret.shard_map.threshold
            if share.kind == "multi_peer":
                k = min(len(devices), max(share.threshold, k))
            self._install(secret, devices, k, share_id=share.id)
            self._user_shards(user, secret, [secret.shard_map.shards[-1]], posted=True)
            done = ctx.tick(20, 300)
            diso = ctx.iso(done)
            if share.kind == "multi_peer":
                ctx.emit("secret.multi_share.completed", {
                    "share_id": share.id, "secret": secret.ref, "original_sender": share.sender.ref,
                    "recipients": [u.ref for u in share.recipients if u.active], "recipient": user.ref,
                    "accepted_by": [u.ref for u in share.accepted if u.active],
                    "time": {"initiated_at": share.began_iso, "completed_at": diso}}, diso)
            else:
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
        self._offer_next(share)

    def _finish_share(self, share: Share) -> None:
        ctx = self._ctx
        share.secret.open_shares -= 1
        now = ctx.tick(20, 500)
        iso = ctx.iso(now)
        ctx.emit("backend_message.archived", {"message": share.message, "time": {
            "initiated_at": share.posted_iso, "completed_at": iso}}, iso)
