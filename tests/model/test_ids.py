from __future__ import annotations

import re

from simulator.model._ids import Ids

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
EVENT = re.compile(r"^evt_[0-9A-Za-z]{24}$")


def test_ids_are_uuid4_shaped_unique_and_seeded() -> None:
    ids = Ids(seed=5)
    made = [ids.uuid() for _ in range(2000)]
    assert all(UUID4.match(u) for u in made)
    assert len(set(made)) == len(made)
    again = Ids(seed=5)
    assert [again.uuid() for _ in range(2000)] == made
    assert Ids(seed=6).uuid() != made[0]


def test_event_ids_match_the_envelope_pattern() -> None:
    ids = Ids(seed=1)
    made = [ids.event_id() for _ in range(1000)]
    assert all(EVENT.match(e) for e in made)
    assert len(set(made)) == len(made)


def test_tokens_are_deterministic_and_do_not_disturb_uuids() -> None:
    a, b = Ids(seed=2), Ids(seed=2)
    a.token("abc", 10)
    assert a.uuid() == b.uuid()
