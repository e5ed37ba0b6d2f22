"""Testing the Starlette listener with chestsim: fixtures for known cases, strategies for the rest.

Every delivery goes into the app in process (no server, no network). A listener that
skips signature checks fails ``test_answers_hostile_deliveries`` on a ``reject-401``
delivery; one that crashes on odd input fails it with the delivery that crashed it.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from starlette_listener import create_app

from simulator import strategies as cs
from simulator.testing import TEST_SECRET, deliver, hostile_suite

# Some deliveries carry 1 MiB bodies: more than Hypothesis's 200 ms default on a busy machine.
relaxed = settings(deadline=None)


def test_accepts_realistic_events(chest_deliver, chest_events, chest_secret):
    app = create_app(chest_secret)
    events = chest_events("secret.used", n=5)

    responses = chest_deliver(app, events, check=True)

    assert [r.status_code for r in responses] == [200] * 5
    assert sum(app.state.store.uses.values()) == 5


def test_refuses_another_endpoints_secret(chest_deliver, chest_events):
    app = create_app(TEST_SECRET)
    [response] = chest_deliver(app, chest_events("user.created"), secret="whsec_" + "B" * 32)
    assert response.status_code == 401


@pytest.mark.chestsim(seed=7)
def test_processes_a_redelivery_once(chest_deliver, chest_events, chest_secret):
    app = create_app(chest_secret)
    event = chest_events("secret.used")[0]

    first, again = chest_deliver(app, [event, event], check=True)

    assert (first.json(), again.json()) == ({"ok": True}, {"duplicate": True})
    assert sum(app.state.store.uses.values()) == 1


def test_answers_every_hostile_kind(chest_deliver, chest_events, chest_secret):
    app = create_app(chest_secret)
    suite = hostile_suite(chest_events("secret.used", n=2), secret=chest_secret)

    chest_deliver(app, suite, check=True)


# Hypothesis tests use ``deliver``, the fixture-free chest_deliver, and the same secret.
@relaxed
@given(delivery=cs.deliveries(secret=TEST_SECRET))
def test_answers_hostile_deliveries(delivery):
    app = create_app(TEST_SECRET)
    deliver(app, delivery, check=True)


@relaxed
@given(sequence=cs.delivery_sequences(secret=TEST_SECRET))
def test_survives_duplicates_and_reordering(sequence):
    app = create_app(TEST_SECRET)
    deliver(app, sequence, check=True)
    assert len(app.state.store.processed) == len({d.webhook_id for d in sequence})
