"""What the pytest plugin and ``simulator.strategies`` are built from, for use without them.

```
ChestSettings   seed, secret and tenant size of one test (marker > options > defaults)
EventFactory    chest_events: n consistent events of a type, or a scenario's events
Deliverer       chest_deliver: signed POSTs to a URL, or into an ASGI/WSGI app in process
                (an ASGI app gets its lifespan: startup first, shutdown at close)
deliver         the same without a fixture, for Hypothesis tests
Delivery        one POST (headers, body) labelled with the answer a listener owes
hostile_suite   every hostile kind against given events: a deterministic table of Deliveries
TEST_SECRET     the signing secret tests use unless told otherwise (public: never in production)
```

>>> from simulator.testing import Delivery, TEST_SECRET
>>> TEST_SECRET.startswith("whsec_")
True
"""

from __future__ import annotations

from simulator.testing._deliver import Deliverer, deliver
from simulator.testing._delivery import EXPECTATIONS, Delivery, Expect
from simulator.testing._events import EventFactory, events_of
from simulator.testing._hostile import HOSTILE_KINDS, hostile_suite
from simulator.testing._settings import DEFAULT_USERS, TEST_SECRET, ChestSettings

__all__ = [
    "DEFAULT_USERS",
    "EXPECTATIONS",
    "HOSTILE_KINDS",
    "TEST_SECRET",
    "ChestSettings",
    "Deliverer",
    "Delivery",
    "EventFactory",
    "Expect",
    "deliver",
    "events_of",
    "hostile_suite",
]
