"""The tenant's directory: users, groups, the IdP and SCIM runs (the page's "IdP settings
updated", "SCIM Updated", "User Created/Deleted", "Group Created/Deleted").

The directory owns who works here; it knows nothing of devices or secrets. Removing a
user who holds shards is the :class:`~simulator.model.Tenant`'s job (the vault lets go
of their shards first); the directory then drops them from groups and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from typing import TYPE_CHECKING, Any

from simulator._types import Event, JSONObject
from simulator.model._catalogs import GROUP_NAMES, IDP_PROVIDERS, OFFICES, REMOTE_OFFICES
from simulator.model._context import Context
from simulator.model._entities import Group, ModelError, Roster, User
from simulator.model._people import PersonPool

if TYPE_CHECKING:
    from simulator.model._tenant import Tenant

__all__ = ["Directory"]

_OKTA_ID = "0123456789abcdefghijklmnopqrstuvwxyz"
_IDP_SETTINGS = frozenset({"scim_enabled", "jit_provisioning", "default_role", "enforce_sso",
                           "certificate_expires_at", "sso_url", "issuer", "scim_base_url", "protocol"})


class Directory:
    """Users, groups, the IdP and SCIM of one tenant.

    >>> from simulator.model import Tenant
    >>> t = Tenant(seed=1, users=3)
    >>> len(t.users), t.directory.user_count()
    (3, 3)
    """

    def __init__(self, ctx: Context, people: PersonPool, *, tenant: Tenant, locale: str) -> None:
        self._ctx = ctx
        rng = ctx.rng
        main = rng.choice(OFFICES.get(locale, ("UTC",)))
        second = rng.choice([tz for tz in REMOTE_OFFICES if tz != main]) if rng.random() < 0.3 else None
        #: The time zones of the tenant's offices, the main office first.
        self.offices: tuple[str, ...] = (main, second) if second else (main,)
        self._tenant = tenant
        self.people = people
        self._users: Roster[User] = Roster()
        self._groups: Roster[Group] = Roster()
        self._admin_cache: User | None = None
        self._admins: list[User] | None = None
        self._idp: JSONObject | None = None

    # -- reading ---------------------------------------------------------------------------

    def users(self) -> list[User]:
        """Active users in roster order (a copy)."""
        return self._users.items()

    def user_count(self) -> int:
        return len(self._users)

    def random_user(self) -> User:
        """A random active user (one draw of the tenant's randomness)."""
        roster = self._users
        return roster[self._ctx.rng.randrange(len(roster))]

    def first_user(self) -> User:
        return self._users[0]

    def groups(self) -> list[Group]:
        """Live groups in roster order (a copy)."""
        return self._groups.items()

    def group_count(self) -> int:
        return len(self._groups)

    def random_group(self) -> Group:
        groups = self._groups
        return groups[self._ctx.rng.randrange(len(groups))]

    def groups_of(self, user: User, *, named: Container[str] | None = None) -> list[Group]:
        """The live groups ``user`` belongs to (only those with a name in ``named``, if given)."""
        groups = self._groups.live()
        if named is not None:
            return [g for g in groups if g.name in named and user in g.members]
        return [g for g in groups if user in g.members]

    def admins(self) -> list[User]:
        """Active users with admin (or owner) rights (read it, never change it)."""
        if self._admins is None:
            self._admins = [u for u in self._users.live() if "admin" in u.roles or "owner" in u.roles]
        return self._admins

    def first_group(self) -> Group:
        return self._groups[0]

    @property
    def idp(self) -> JSONObject | None:
        """The IdP settings as now configured (``None`` before the first configuration)."""
        return self._idp

    def admin(self) -> User:
        """An active administrator (the owner if still there); promotes someone if none is left."""
        cached = self._admin_cache
        if cached is not None and cached.active and ("admin" in cached.roles or "owner" in cached.roles):
            return cached
        for user in self._users.live():
            if "admin" in user.roles or "owner" in user.roles:
                self._admin_cache = user
                return user
        # Everyone with admin rights left: promote the longest-standing member.
        user = self._users[0]
        user.roles = ("admin", *user.roles)
        self._admin_cache = user
        self._admins = None
        return user

    def admin_actor(self) -> JSONObject:
        """The ``actor`` object of an admin acting now (or the system before anyone exists)."""
        admin = self.admin() if len(self._users) else None
        return {"kind": "admin", "user": admin.ref} if admin else {"kind": "system"}

    def other_admin(self, leaver: User) -> User:
        """Someone to act in place of ``leaver``: another admin, else anyone else."""
        for u in self._users.live():
            if u is not leaver and ("admin" in u.roles or "owner" in u.roles):
                return u
        for u in self._users.live():
            if u is not leaver:
                return u
        raise ModelError("no other user left to act")

    def check_user(self, user: User) -> None:
        if not user.active or user.tenant is not self._tenant:
            raise ModelError(f"{user.email} is not an active user of this tenant")

    # -- users -----------------------------------------------------------------------------

    def office_for_new_user(self) -> str:
        """The time zone a new user works in: mostly the main office."""
        offices = self.offices
        return offices[0] if len(offices) == 1 or self._ctx.rng.random() < 0.7 else offices[1]

    def new_user(self, *, source: str, roles: tuple[str, ...], by: JSONObject | None,
                 time_zone: str | None = None) -> User:
        """Add a user (``user.created``), working from ``time_zone`` (else an office of the tenant's)."""
        return self._add_user(source, roles, by, time_zone)[0]

    def _add_user(self, source: str, roles: tuple[str, ...], by: JSONObject | None,
                  time_zone: str | None = None) -> tuple[User, JSONObject]:
        """Add a user (``user.created``); returns the user and the document the event carries."""
        ctx = self._ctx
        person = self.people.draw()
        now = ctx.tick(200, 4000)
        external = None
        if source in ("scim", "jit") and self._idp is not None:
            external = "00u" + ctx.ids.token(_OKTA_ID, 17)
        user = User(
            id=ctx.ids.uuid(), email=person.email, given_name=person.given_name,
            family_name=person.family_name, source=source, roles=roles, external_id=external,
            created_at=now, tenant=self._tenant, ref={},
            time_zone=time_zone or self.office_for_new_user())
        user.ref = {"id": user.id, "email": user.email, "display_name": user.display_name}
        self._users.add(user)
        self._admins = None
        iso = ctx.iso(now)
        if by is None:
            by = {"kind": "scim"} if source == "scim" else (
                {"kind": "system"} if source == "jit" else self.admin_actor())
        doc = user.as_json(iso, iso)
        ctx.emit("user.created", {"user": doc, "created_by": by}, iso)
        return user, doc

    def remove_user(self, user: User, *, reason: str, actor: JSONObject) -> Event:
        """Drop a user from groups and the roster (``user.deleted``); shards are gone already."""
        for group in self._groups.items():
            if user in group.members:
                group.members.remove(user)
        self._users.remove(user)
        self._admins = None
        user.active = False
        self.people.release(user.email)
        ctx = self._ctx
        now = ctx.tick(100, 2000)
        iso = ctx.iso(now)
        return ctx.emit("user.deleted", {
            "user": user.as_json(ctx.iso(user.created_at), iso, status="deprovisioned"),
            "reason": reason, "deleted_by": actor, "deleted_at": iso}, iso)

    def scim_leavers(self, n: int, *, keep: Sequence[User] = ()) -> list[User]:
        """Up to ``n`` random users the IdP provisioned (never the owner or admin-made users)."""
        roster, rng = self._users, self._ctx.rng
        chosen: list[User] = []
        if n <= 0 or len(roster) < 2:
            return chosen
        for _ in range(20 * n):
            user = roster[rng.randrange(len(roster))]
            if "owner" not in user.roles and user.source != "admin" and user not in chosen and user not in keep:
                chosen.append(user)
                if len(chosen) == n:
                    break
        return chosen

    def scim_sync(self, hires: int, leavers: int, *, offboard: Callable[[User], Event]) -> list[User]:
        """One SCIM run: create ``hires`` users, prune ``leavers`` (through ``offboard``, which
        returns the ``user.deleted`` event), then ``scim.updated``; returns the users created."""
        if hires <= 0 and leavers <= 0:
            return []
        ctx = self._ctx
        started = ctx.clock.now
        created: list[JSONObject] = []
        pruned: list[JSONObject] = []
        hired: list[User] = []
        for _ in range(hires):
            user, doc = self._add_user("scim", ("member",), {"kind": "scim"})
            hired.append(user)
            created.append(doc)
        for user in self.scim_leavers(leavers, keep=hired):
            pruned.append(offboard(user)["data"]["user"])
        if not created and not pruned:
            return hired
        now = ctx.tick(200, 3000)
        iso = ctx.iso(now)
        ctx.emit("scim.updated", {
            "run_id": ctx.ids.uuid(), "provider": self._idp["provider"] if self._idp else "scim",
            "users_created": created, "users_pruned": pruned,
            "unchanged_count": len(self._users) - len(created),
            "time": {"initiated_at": ctx.iso(started), "completed_at": iso}}, iso)
        return hired

    # -- groups ----------------------------------------------------------------------------

    def default_group_name(self) -> tuple[str, str]:
        """A team name not yet taken, with its description."""
        taken = {g.name for g in self._groups.items()}
        free = [g for g in GROUP_NAMES if g[0] not in taken]
        return self._ctx.rng.choice(free) if free else (
            f"Project {self._ctx.ids.token('ABCDEFGHJKLMNPQRSTUVWXYZ', 4)}", "Project team")

    def create_group(self, name: str, description: str, *, source: str,
                     members: Sequence[User] | None, by: JSONObject | None) -> Group:
        """Add a group (``group.created``); without ``members``, a random team of live users."""
        ctx = self._ctx
        if members is None:
            pool = self._users.live()
            size = min(len(pool), max(2, min(40, int(ctx.rng.expovariate(1 / 8)) + 2)))
            members = ctx.rng.sample(pool, size)
        for m in members:
            self.check_user(m)
        now = ctx.tick(500, 5000)
        group = Group(id=ctx.ids.uuid(), name=name, description=description, source=source,
                      members=list(members), created_at=now, ref={})
        group.ref = {"id": group.id, "name": group.name}
        self._groups.add(group)
        iso = ctx.iso(now)
        actor = by or ({"kind": "scim"} if source == "scim" else self.admin_actor())
        ctx.emit("group.created", {"group": group.as_json(iso), "created_by": actor}, iso)
        return group

    def delete_group(self, group: Group, *, by: User | None) -> None:
        """Remove a group (``group.deleted``, with its members at that moment)."""
        if not group.active:
            raise ModelError(f"group {group.name!r} was already deleted")
        self._groups.remove(group)
        group.active = False
        ctx = self._ctx
        now = ctx.tick(500, 5000)
        iso = ctx.iso(now)
        actor = {"kind": "admin", "user": by.ref} if by else (
            {"kind": "scim"} if group.source == "scim" else self.admin_actor())
        ctx.emit("group.deleted", {"group": group.as_json(ctx.iso(group.created_at)),
                                   "deleted_by": actor, "deleted_at": iso}, iso)

    # -- identity: IdP ---------------------------------------------------------------------

    def configure_idp(self, by: User, provider: str | None = None) -> None:
        """Connect (or migrate to) an IdP: all its settings are new (``idp.settings_updated``)."""
        ctx = self._ctx
        rng = ctx.rng
        provider = provider or rng.choices(list(IDP_PROVIDERS), (0.45, 0.3, 0.15, 0.05, 0.05))[0]
        protocol, sso, issuer = IDP_PROVIDERS[provider]
        fill = {"sub": self.people.slug, "app": "exk" + ctx.ids.token(_OKTA_ID, 17), "tid": ctx.ids.uuid()}
        now = ctx.tick(1000, 60_000)
        settings: JSONObject = {
            "provider": provider, "protocol": protocol, "sso_url": sso.format(**fill),
            "issuer": issuer.format(**fill), "scim_enabled": True,
            "scim_base_url": "https://api.secretchest.example/scim/v2", "jit_provisioning": True,
            "default_role": "member", "enforce_sso": rng.random() < 0.7,
            "certificate_expires_at": ctx.iso(now + 3 * 365 * 86_400_000),
        }
        previous = self._idp
        changed = [k for k in settings if previous is None or previous.get(k) != settings[k]]
        self._idp = settings
        iso = ctx.iso(now)
        ctx.emit("idp.settings_updated", {
            "settings": settings, "previous": previous, "changed_fields": changed or ["provider"],
            "changed_by": {"kind": "admin", "user": by.ref}, "updated_at": iso}, iso)

    def update_idp(self, by: User, changes: dict[str, Any]) -> None:
        """Change IdP settings; with no ``changes``, rotate the signing certificate."""
        if self._idp is not None and changes.get("provider") == self._idp["provider"]:
            del changes["provider"]
        if self._idp is None or ("provider" in changes and changes["provider"] != self._idp["provider"]):
            self.configure_idp(by, changes.pop("provider", None))
            if not changes:
                return
        assert self._idp is not None
        ctx = self._ctx
        previous = self._idp
        settings = dict(previous)
        now = ctx.tick(1000, 30_000)
        if not changes:
            changes = {"certificate_expires_at": ctx.iso(now + 3 * 365 * 86_400_000)}
        unknown = set(changes) - _IDP_SETTINGS
        if unknown:
            raise ModelError(f"unknown IdP setting(s): {', '.join(sorted(unknown))}")
        settings.update(changes)
        changed = [k for k in settings if previous.get(k) != settings[k]]
        if not changed:
            raise ModelError("update_idp() changed nothing: give a setting with a new value")
        self._idp = settings
        iso = ctx.iso(now)
        ctx.emit("idp.settings_updated", {
            "settings": settings, "previous": previous, "changed_fields": changed,
            "changed_by": {"kind": "admin", "user": by.ref}, "updated_at": iso}, iso)
