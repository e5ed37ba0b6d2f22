"""Group share: a secret is shared with a whole group; members accept or decline one by one.

Alice creates the on-call credentials and shares them with her team's group
(secret.share.began with kind "group"); the backend offers a shard to one member
at a time (pending_share.created, naming the index the shard will take), each
answers in turn; those who accepted get a shard at that index and can deshard it.
"""

DEFAULTS = {"users": 8, "groups": 2}


def run(t):
    team = t.pick_group(min_members=3)
    alice = t.rng.choice([m for m in team.members if m.devices] or t.pick(1))
    secret = alice.create_secret("PagerDuty integration key")
    share = alice.share(secret, to=team)
    t.respond(share, accept=0.8)
    for member in share.accepted:
        t.think()
        member.use(secret)
    if t.rng.random() < 0.5:
        alice.delete(secret)
