"""Tenant day: a mixed business day in a mid-size company, every kind of event in proportion.

Morning SCIM sync (hires and leavers), then a day of desharding and autofill,
shares accepted and declined, new secrets and deletions, device registrations,
group changes and the odd IdP tweak; the clock follows business hours.
"""

DEFAULTS = {"users": 25}


def run(t):
    t.scim_sync(hires=t.rng.randint(1, 2), leavers=t.rng.randint(0, 1))
    for person in t.users:
        if not person.devices:
            t.think(900)
            person.register_device()
    t.random_activity(400, think=80)
