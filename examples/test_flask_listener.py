"""Testing the Flask listener with chestsim: fixtures for known cases, strategies for the rest.

Every delivery goes into the WSGI app in process (no server, no network). A listener
that skips signature checks fails ``test_answers_hostile_deliveries`` on a
``reject-401`` delivery; one that crashes on odd input fails it with that delivery.
"""

from __future__ import annotations

import pytest
from flask_listener import create_app
from hypothesis import given, settings

from simulator import strategies as cs
from simulator.testing import TEST_SECRET, deliver, hostile_suite

# Some deliveries carry 1 MiB bodies: more than Hypothesis's 200 ms default on a busy machine.
relaxed = settings(deadline=None)


def test_records_new_users(chest_deliver, chest_events, chest_secret):
    app = create_app(chest_secret)
    events = chest_events("user.created", n=3)

    chest_deliver(app, events, check=True)

    assert set(app.extensions["webhooks"].users) == {e["data"]["user"]["id"] for e in events}


@pytest.mark.chestsim(seed=11, users=3)
def test_follows_an_onboarding_scenario(chest_deliver, chest_events, chest_secret):
    app = create_app(chest_secret)
    events = chest_events("onboarding", n=20)

    responses = chest_deliver(app, events, check=True)

    assert len(responses) == len(events)


def test_refuses_unsigned_delivery(chest_deliver, chest_events):
    app = create_app(TEST_SECRET)
    [response] = chest_deliver(app, chest_events("user.created"), headers={"webhook-signature": ""})
    assert response.status_code == 401


def test_answers_every_hostile_kind(chest_deliver, chest_events, chest_secret):
    app = create_app(chest_secret)
    suite = hostile_suite(chest_events("user.created", n=2), secret=chest_secret)

    chest_deliver(app, suite, check=True)


# Hypothesis tests use ``deliver``, the fixture-free chest_deliver, and the same secret.
@relaxed
@given(delivery=cs.deliveries(secret=TEST_SECRET))
def test_answers_hostile_deliveries(delivery):
    app = create_app(TEST_SECRET)
    deliver(app, delivery, check=True)


@relaxed
@given(sequence=cs.delivery_sequences(secret=TEST_SECRET, types=["user.created", "user.deleted"]))
def test_survives_duplicates_and_reordering(sequence):
    app = create_app(TEST_SECRET)
    deliver(app, sequence, check=True)
    assert len(app.extensions["webhooks"].processed) == len({d.webhook_id for d in sequence})
