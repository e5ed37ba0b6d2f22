"""Offboarding: an employee leaves and an administrator removes them.

Before user.deleted: shares waiting on them are declined, the secrets they
own are deleted (secret.deleted, installation_map.deleted), and their shards
are taken out of colleagues' secrets (a new installation map without their
devices, user_shards.deleted). Afterwards they never appear again. A
replacement is hired so the team keeps its size.
"""

DEFAULTS = {"users": 6}


def run(t):
    leaver, colleague = t.pick(2)
    if "owner" in leaver.roles:
        leaver, colleague = colleague, leaver

    # The leaver holds a shard of a colleague's secret and has a share waiting for them.
    shared = colleague.create_secret()
    leaver.accept(colleague.share(shared, to=[leaver]))
    colleague.share(colleague.create_secret(), to=[leaver])

    t.think(3600)
    t.offboard(leaver, reason="admin")
    colleague.use(shared)

    t.think(1800)
    t.hire(source="admin")
