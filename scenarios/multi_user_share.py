"""Multi-user share: a multi-peer share where several colleagues each hold one shard.

Alice starts a multi-peer share of the production root credentials to three
peers with a threshold of two (secret.multi_share.began); the peers are offered
a shard one at a time; each acceptance installs a new shard map with that peer's
shard and sends secret.multi_share.completed naming who has accepted so far; a
peer who declines (pending_share.rejected) completes nothing.
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
