"""Autofill: passwords and passkeys fill web forms; each fill is a use and a brief clear-text window.

Each autofill emits secret.used (purpose autofill or passkey) and
secret.temp_stored.retrieved: when the secret was available in clear text on
which device and for which origin, and when it was deleted. Never the text.
"""

DEFAULTS = {"users": 8}


def run(t):
    for _ in range(20):
        t.think(180)
        secret = t.pick_secret(kind=["password", "passkey", "totp", "credit_card"])
        user = t.rng.choice(t.holders(secret))
        user.autofill(secret)
