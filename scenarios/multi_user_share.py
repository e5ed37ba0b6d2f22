"""Multi-user share: a multi-peer share where several colleagues each hold one shard.

Alice starts a multi-peer share of the production root credentials to three
peers with a threshold of two (secret.multi_share.began); each peer's
pending share is accepted or declined; once all have answered, the new shard
map is installed and secret.multi_share.completed names who accepted.
"""

DEFAULTS = {"users": 6}


def run(t):
    alice, bob, carol, dave = t.pick(4)
    secret = alice.create_secret("AWS production root")
    share = alice.multi_share(secret, to=[bob, carol, dave], threshold=2)
    t.think(600)
    bob.accept(share)
    t.think(600)
    carol.accept(share)
    t.think(600)
    if t.rng.random() < 0.7:
        dave.accept(share)
    else:
        dave.reject(share, reason="Not on call this quarter")
    bob.use(secret)
