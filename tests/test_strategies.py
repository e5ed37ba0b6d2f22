"""simulator.strategies and the pieces under it (simulator/testing/): valid, edge-case and
hostile data, judged by chestsim's own verifier and validator, and how it shrinks."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings

import simulator.strategies as cs
from simulator import HarnessAssertion, SignatureError, SigningSecret, lookup, verify
from simulator.testing import (
    EXPECTATIONS,
    HOSTILE_KINDS,
    TEST_SECRET,
    Delivery,
    events_of,
    hostile_suite,
)
from simulator.testing._edge import apply, errors, targets
from simulator.testing._settings import SecretText
from simulator.testing._slots import slots
from simulator.validation import Validator

SECRET = SigningSecret(TEST_SECRET)
FAST = settings(max_examples=20, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
# find() looks for the simplest example; derandomized so that every run finds the same one.
FIND = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def _errors(body: bytes) -> list[str]:
    _, problems = Validator().check_bytes(body)
    return [p.message for p in problems if p.is_error]


def _values(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [node, *(v for child in node.values() for v in _values(child))]
    if isinstance(node, list):
        return [node, *(v for child in node for v in _values(child))]
    return [node]


# -- valid events ---------------------------------------------------------------------------

@FAST
@given(cs.realistic_events())
def test_realistic_events_are_valid(event: dict[str, Any]) -> None:
    assert errors(event) == []


@FAST
@given(cs.edge_case_events())
def test_edge_case_events_are_valid(event: dict[str, Any]) -> None:
    assert errors(event) == []


def test_realistic_events_come_from_the_seeded_tenant() -> None:
    assert events_of("secret.used", 2, seed=9) == events_of("secret.used", 2, seed=9)
    assert events_of("secret.used", 1, seed=9) != events_of("secret.used", 1, seed=10)


@pytest.mark.parametrize(
    ("kind", "pointer", "drawn", "expected"),
    [
        pytest.param("longest-text", "/data/user/display_name", "漢", "漢" * 256, id="longest-text"),
        pytest.param("shortest-text", "/data/user/display_name", "a", "a", id="shortest-text"),
        pytest.param("unicode-text", "/data/user/display_name", "Zoë 🔐 אב", "Zoë 🔐 אב", id="unicode-text"),
        pytest.param("time-precision", "/timestamp", True, "2026-11-28T09:14:03Z", id="no-fraction"),
        pytest.param("time-precision", "/timestamp", False, "2026-11-28T09:14:03.120000Z", id="microseconds"),
        pytest.param("odd-email", "/data/user/email", "o'brien+webhooks", "o'brien+webhooks@", id="odd-email"),
    ],
)
def test_edge_changes_stay_valid(kind: str, pointer: str, drawn: Any, expected: str) -> None:
    event = dict(lookup("user.created").examples[1], timestamp="2026-11-28T09:14:03.120Z")
    [place] = [s for s in targets(event, kind) if s.pointer == pointer]
    changed = apply(event, kind, place, drawn)
    value = changed
    for part in place.path:
        value = value[part]
    assert str(value).startswith(expected)
    assert errors(changed) == []


def test_drop_optional_and_empty_list_only_touch_what_the_schema_allows() -> None:
    event = lookup("secret.used").examples[0]
    dropped = {s.pointer for s in targets(event, "drop-optional")}
    assert "/data/purpose" in dropped
    assert "/data/secret/id" not in dropped
    assert "/data/device_ids" not in {s.pointer for s in targets(event, "empty-list")}  # minItems 1


def test_slots_follow_refs_and_required() -> None:
    by_pointer = {s.pointer: s for s in slots(lookup("secret.used").examples[0])}
    assert by_pointer["/data/secret/id"].required
    assert by_pointer["/data/secret/id"].schema["format"] == "uuid"
    assert not by_pointer["/data/purpose"].required
    assert by_pointer["/data/shard_map/threshold"].schema["minimum"] == 1
    assert by_pointer["/data/secret/name"].free_text


def test_edge_cases_reach_unicode_names_and_empty_lists() -> None:
    found = find(cs.edge_case_events("user.created"),
                 lambda e: not e["data"]["user"]["display_name"].isascii(), settings=FIND)
    assert errors(found) == []
    empty = find(cs.edge_case_events(["secret.created", "device.registered"]),
                 lambda e: [] in _values(e), settings=FIND)
    assert errors(empty) == []


# -- deliveries ---------------------------------------------------------------------------

@FAST
@given(cs.valid_deliveries())
def test_valid_deliveries_verify_and_validate(delivery: Delivery) -> None:
    assert delivery.expect == "accept"
    assert verify(delivery.header_dict, delivery.body, [SECRET]) == delivery.webhook_id
    assert _errors(delivery.body) == []


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(cs.hostile_deliveries(strict=True, oversized=4096))
def test_hostile_labels_agree_with_chestsims_verifier_and_validator(delivery: Delivery) -> None:
    if delivery.expect == "reject-401":
        with pytest.raises(SignatureError):
            verify(delivery.header_dict, delivery.body, [SECRET])
        return
    verify(delivery.header_dict, delivery.body, [SECRET])
    if delivery.expect == "reject-400":
        assert _errors(delivery.body), delivery
    else:
        assert delivery.label in ("unknown-type", "oversized", "deep-nesting", "content-type")


def test_hostile_suite_has_every_kind_and_every_answer() -> None:
    suite = hostile_suite(events_of("secret.used", 1), secret=TEST_SECRET, now=1.8e9)
    assert {d.label for d in suite} >= set(HOSTILE_KINDS)
    assert {d.expect for d in suite} == set(EXPECTATIONS)
    accepted = [d.webhook_id for d in suite if d.expect != "reject-401"]
    assert len(accepted) == len(set(accepted)), "each variation must be a new delivery"


@FAST
@given(cs.hostile_deliveries(kinds=["wrong-secret", "stale-timestamp"], tolerance=60))
def test_kinds_narrow_the_draw(delivery: Delivery) -> None:
    assert delivery.label in ("wrong-secret", "stale-timestamp")
    with pytest.raises(SignatureError, match=r"(too old|no signature matches)"):
        verify(delivery.header_dict, delivery.body, [SECRET], tolerance=60)


@FAST
@given(cs.delivery_sequences())
def test_sequences_are_duplicates_or_reorderings(sequence: list[Delivery]) -> None:
    ids = [d.webhook_id for d in sequence]
    if sequence[-1].label == "duplicate":
        assert ids[-1] in ids[:-1]
        assert all(d.expect == "accept" for d in sequence)
    else:
        assert len(set(ids)) == len(ids)
        assert {d.label for d in sequence} == {"reordered"}
    for d in sequence:
        verify(d.header_dict, d.body, [SECRET])


# -- shrinking ------------------------------------------------------------------------------

def test_hostile_deliveries_shrink_to_a_readable_example() -> None:
    # Two types keep the search short; shrinking ends on the first kind and the first type.
    simplest = find(cs.hostile_deliveries(types=["secret.used", "user.created"]), lambda d: True,
                    settings=FIND)
    assert repr(simplest) == "Delivery(label='missing-signature', expect='reject-401', " \
                             f"event_type='secret.used', body={len(simplest.body)} bytes)"


@pytest.mark.parametrize(
    ("condition", "pattern"),
    [
        pytest.param(lambda d: d.label == "stale-timestamp",
                     r"Delivery\(label='stale-timestamp', expect='reject-401', detail='360s old', ", id="stale"),
        pytest.param(lambda d: d.expect == "reject-400",
                     r"Delivery\(label='not-json', expect='reject-400', detail='truncated', ", id="reject-400"),
        pytest.param(lambda d: d.label == "wrong-type",
                     r"Delivery\(label='wrong-type', expect='accept-or-reject', detail='/id', ", id="wrong-type"),
    ],
)
def test_shrunk_deliveries_say_what_is_wrong_and_where(condition: Any, pattern: str) -> None:
    found = find(cs.deliveries(types="secret.used"), condition, settings=FIND)
    assert re.match(pattern, repr(found)), repr(found)
    assert len(repr(found)) < 140


def test_draws_are_reproducible() -> None:
    def first(strategy: Any) -> Any:
        return find(strategy, lambda d: d.label == "extra-fields", settings=FIND)

    assert first(cs.valid_deliveries()).body == first(cs.valid_deliveries()).body


# -- Delivery ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("expect", "passed", "warned", "failed"),
    [
        # Only a real defect fails: a 2xx to a forged request, a crash, a redirect, no answer.
        pytest.param("accept", [200, 202, 204], [], [0, 301, 400, 401, 409, 500], id="accept"),
        pytest.param("reject-401", [401, 403], [400, 404, 422], [0, 200, 204, 302, 500], id="reject-401"),
        # 401 is what the official SDKs answer to a body their verify() cannot parse.
        pytest.param("reject-400", [400, 401, 403, 413, 415, 422], [200, 202], [0, 302, 500], id="reject-400"),
        pytest.param("accept-or-reject", [200, 204, 400, 401, 413], [], [0, 302, 500, 502], id="accept-or-reject"),
        pytest.param("acknowledge", [200, 202, 204], [400, 404, 422], [0, 302, 500], id="acknowledge"),
        pytest.param("accept-or-415", [200, 204, 415], [400, 422], [0, 302, 500], id="accept-or-415"),
    ],
)
def test_expectations(expect: Any, passed: list[int], warned: list[int], failed: list[int]) -> None:
    delivery = Delivery(label="x", expect=expect, body=b"{}", headers=())
    assert [delivery.grade(s).verdict for s in passed] == ["pass"] * len(passed)
    assert [delivery.grade(s).verdict for s in warned] == ["warn"] * len(warned)
    assert [delivery.grade(s).verdict for s in failed] == ["fail"] * len(failed)
    assert [delivery.allows(s) for s in passed + warned] == [True] * len(passed + warned)
    assert [delivery.allows(s) for s in failed] == [False] * len(failed)


def test_check_explains_and_never_shows_the_secret() -> None:
    [delivery] = [d for d in hostile_suite(events_of("user.created", 1), secret=TEST_SECRET)
                  if d.label == "stale-timestamp"]
    with pytest.raises(HarnessAssertion) as failure:
        delivery.check(200, seed=42)
    message = str(failure.value)
    assert message.startswith("delivery 'stale-timestamp' (3900s old) expects reject-401 (401 or 403); "
                              "the listener answered 200: verify webhook-signature")
    assert message.endswith("reproduce with seed=42")
    assert TEST_SECRET not in message
    with pytest.raises(HarnessAssertion, match="crashed"):
        delivery.check(500)


def test_secret_text_is_masked_in_repr() -> None:
    assert repr(SecretText(TEST_SECRET)) == "'whsec_…'"
    assert f"{SecretText(TEST_SECRET)}" == TEST_SECRET


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda: cs.hostile_deliveries(kinds=["nope"]), "kinds=\\['nope'\\]: use some of", id="kind"),
        pytest.param(lambda: cs.hostile_deliveries(kinds=[]), "kinds=\\[\\]: use some of", id="no-kinds"),
        pytest.param(lambda: cs.events(types=[]), "types=\\[\\] names no event type", id="no-types"),
        pytest.param(lambda: cs.events(types="secret.usd"), "did you mean 'secret.used'", id="type-typo"),
        pytest.param(lambda: cs.delivery_sequences(min_size=0), "need 1 <= min_size <= max_size", id="sizes"),
        pytest.param(lambda: cs.valid_deliveries(secret="hunter2"), "must start with 'whsec_'", id="secret"),
    ],
)
def test_bad_arguments_say_what_to_fix(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_without_hypothesis_the_import_error_says_what_to_install() -> None:
    code = "import sys; sys.modules['hypothesis'] = None; import simulator.strategies"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 1
    assert "pip install 'chestsim[testing]'" in out.stderr


@pytest.mark.parametrize("name", [
    "simulator.strategies", "simulator.testing", "simulator.testing._delivery", "simulator.testing._deliver",
    "simulator.testing._edge", "simulator.testing._events", "simulator.testing._hostile",
    "simulator.testing._lifespan", "simulator.testing._portal", "simulator.testing._settings",
    "simulator.testing._slots",
])
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_hypothesis_prints_the_short_repr() -> None:
    from hypothesis.vendor.pretty import pretty

    delivery = Delivery(label="wrong-type", expect="accept-or-reject", body=b"{}", headers=(),
                        event_type="user.created", detail="/data/user/email")
    assert pretty(delivery) == repr(delivery) == (
        "Delivery(label='wrong-type', expect='accept-or-reject', detail='/data/user/email', "
        "event_type='user.created', body=2 bytes)"
    )


def test_deliver_signs_with_the_test_secret_without_a_fixture() -> None:
    from simulator.testing import deliver

    seen: list[dict[str, str]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        headers = {k[5:].lower().replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        seen.append(headers)
        verify(headers, body, [SECRET])
        start_response("204 No Content", [])
        return [b""]

    [response] = deliver(app, events_of("user.created", 1), check=True)
    assert response.status_code == 204
    assert seen[0]["webhook-signature"].startswith("v1,")
