"""What the pytest plugin and ``simulator.strategies`` are built from, for use without them.

```
ChestSettings   seed, secret and tenant size of one test (marker > options > defaults)
EventFactory    chest_events: n consistent events of a type, or a scenario's events
Deliverer       chest_deliver: signed POSTs to a URL, or into an ASGI/WSGI app in process
                (an ASGI app gets its lifespan: startup first, shutdown at close)
deliver         the same without a fixture, for Hypothesis tests
Delivery        one POST (headers, body) labelled with the answer a listener owes
hostile_suite   every hostile kind against given events: a deterministic table of Deliveries
certify         chest_certify: the report card of a URL or an app (``chestsim certify``)
TEST_SECRET     the signing secret tests use unless told otherwise (public: never in production)
```

>>> from simulator.testing import Delivery, TEST_SECRET
>>> TEST_SECRET.startswith("whsec_")
True
"""

from __future__ import annotations

from simulator.testing._certify import CertifyFixture, certify
from simulator.testing._deliver import Deliverer, deliver
from simulator.testing._delivery import EXPECTATIONS, Delivery, Expect, Grade, grade
from simulator.testing._events import EventFactory, events_of
from simulator.testing._hostile import HOSTILE_KINDS, hostile_suite
from simulator.testing._settings import DEFAULT_USERS, TEST_SECRET, ChestSettings

__all__ = [
    "DEFAULT_USERS",
    "EXPECTATIONS",
    "HOSTILE_KINDS",
    "TEST_SECRET",
    "CertifyFixture",
    "ChestSettings",
    "Deliverer",
    "Delivery",
    "EventFactory",
    "Expect",
    "Grade",
    "certify",
    "deliver",
    "events_of",
    "grade",
    "hostile_suite",
]
