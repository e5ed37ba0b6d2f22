"""Share lifecycle: a standard share from start to end, accepted once and declined once.

Alice creates a secret and shares it with Bob: secret.share.began,
backend_message.posted, pending_share.created; Bob accepts:
pending_share.accepted, installation_map.posted/deleted (the shard map now
includes Bob's device), user_shards.posted/deleted, secret.share.completed,
backend_message.archived; Bob then uses it. Carol declines another share,
which Alice then deletes.
"""

DEFAULTS = {"users": 5}


def run(t):
    alice, bob, carol = t.pick(3)

    secret = alice.create_secret()
    share = alice.share(secret, to=[bob])
    t.think(900)
    bob.accept(share)
    t.think()
    bob.use(secret)

    other = alice.create_secret()
    declined = alice.share(other, to=[carol])
    t.think(900)
    carol.reject(declined, reason="Not expecting this share")
    alice.delete(other)
