"""Onboarding: new hires arrive through SCIM, install Secret Chest and get their first secrets.

Each episode: SCIM provisions two hires; each registers a phone and a laptop
(device.registered), creates a personal secret, and a teammate shares a team
credential with them, which they accept. The new hires then get a group.
"""

DEFAULTS = {"users": 6}


def run(t):
    t.think()
    t.scim_sync(hires=2)
    newcomers = [person for person in t.users if not person.devices]
    for person in newcomers:
        t.think(300)
        person.register_device("iphone" if t.rng.random() < 0.7 else "android_phone")
        person.register_device(t.rng.choice(["mac", "mac", "windows_pc", "linux_pc"]))
        person.create_secret("Office wifi")

    for person in newcomers:
        team_secret = t.pick_secret()
        mentor = team_secret.owner
        if mentor is person:
            continue
        share = mentor.share(team_secret, to=[person])
        t.think(600)
        person.accept(share)
        person.use(team_secret)

    t.create_group(f"New hires {t.clock.iso()[:10]}", members=[*newcomers, t.admin])
