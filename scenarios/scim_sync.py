"""SCIM sync: the IdP's SCIM process runs every few hours, creating hires and pruning leavers.

Each run that changes someone sends user.created / user.deleted for each
person and one scim.updated summary; pruned users' shares are declined, their
secrets deleted and their shards removed from colleagues' secrets first.
New hires register their devices after the run.
"""

DEFAULTS = {"users": 12}


def run(t):
    t.wait("4h")
    leavers = 1 if len(t.users) > 4 and t.rng.random() < 0.5 else 0
    t.scim_sync(hires=t.rng.randint(1, 3), leavers=leavers)
    for person in t.users:
        if not person.devices:
            t.think(900)
            person.register_device()
