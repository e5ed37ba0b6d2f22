"""Desharding: people use their secrets through the day (secret.used).

Each use names the devices that took part (k of the n devices in the
secret's shard map, the user's own first) and the shard map itself.
"""

DEFAULTS = {"users": 8}


def run(t):
    for _ in range(25):
        t.think(240)
        secret = t.pick_secret()
        user = t.rng.choice(t.holders(secret))
        user.use(secret)
