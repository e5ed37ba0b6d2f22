"""Real listeners on loopback, each graded exactly: a correct one passes every case, and each
deliberately broken one fails the cases its defect should fail, and no other."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from certify_listeners import BREAKS
from conftest import Start

from simulator.certify import CertifyReport
from simulator.testing import TEST_SECRET, certify

pytestmark = pytest.mark.integration

# Quick, and fast where the cases allow: a short idempotency pause, a high rate cap.
FAST = {"profile": "quick", "pause": 0.2, "rate": 2000, "seed": 7, "max_latency": 5.0}


def _ids(report: CertifyReport, verdict: str) -> set[str]:
    return {c.id for c in report.cases if c.verdict == verdict}


def test_a_correct_listener_passes_every_case(start: Start) -> None:
    report = certify(start("correct"), secret=TEST_SECRET, **FAST)

    assert report.passed, report
    assert report.grade == "pass"
    assert _ids(report, "warn") == set()
    assert _ids(report, "skip") == set()
    assert report.sent == report.planned
    assert len(report.cases) == 87
    assert {c.section for c in report.cases} == {"accepts", "authenticity", "robustness", "idempotency",
                                                 "timing", "transport"}
    assert all(c.alive for c in report.cases if c.section in ("authenticity", "robustness"))


def _authenticity(ids: set[str]) -> set[str]:
    return {i for i in ids if i.startswith("authenticity/")}


# Each break, and the cases its defect must fail (computed from the correct run's case ids).
EXPECTED: dict[str, Callable[[set[str]], set[str]]] = {
    "no-signature-check": _authenticity,
    "no-timestamp-check": lambda ids: {"authenticity/stale-timestamp", "authenticity/future-timestamp"},
    "reserialized": lambda ids: {"accepts/reformatted"},
    "crash-unknown-type": lambda ids: {"robustness/unknown-type"},
    "crash-non-json": lambda ids: {i for i in ids if i.startswith("robustness/not-json/")},
    "conflict-duplicate": lambda ids: {"idempotency/at-once", "idempotency/after-pause"},
}


@pytest.mark.parametrize("broken", list(EXPECTED))
def test_a_broken_listener_fails_exactly_its_cases(start: Start, broken: str) -> None:
    report = certify(start(broken), secret=TEST_SECRET, **FAST)

    ids = {c.id for c in report.cases}
    assert _ids(report, "fail") == EXPECTED[broken](ids), report
    assert _ids(report, "warn") == set()
    assert _ids(report, "skip") == set()
    assert not report.passed
    for case in report.cases:
        if case.verdict == "fail":
            assert case.hint, case
            assert case.note, case


def test_not_json_crash_is_named_in_each_case(start: Start) -> None:
    report = certify(start("crash-non-json"), secret=TEST_SECRET, only=["robustness/not-json"], **FAST)
    case = report.case("robustness/not-json/truncated")
    assert (case.got, case.alive) == ("500", True)
    assert "crashed" in case.note
    assert "never a 500" in case.hint


def test_a_slow_listener_fails_on_latency_only(start: Start) -> None:
    # 3 s an answer, --max-latency 1s: valid traffic is graded by the burst's percentiles, a hostile
    # case must be answered in time; a 16-event burst at concurrency 16 takes one 3 s round.
    report = certify(start("slow"), secret=TEST_SECRET, burst=16,
                     only=["authenticity/wrong-secret", "timing"],
                     **{**FAST, "max_latency": 1.0})

    assert report.verdicts() == {
        "authenticity/wrong-secret": "fail",
        "timing/acknowledged": "pass",
        "timing/p50": "fail",
        "timing/p95": "fail",
        "timing/p99": "warn",
    }
    assert "past --max-latency=1s" in report.case("authenticity/wrong-secret").note


def test_a_listener_that_dies_stops_the_run_at_the_case_that_killed_it(start: Start) -> None:
    report = certify(start("dies-after-hostile"), secret=TEST_SECRET, **FAST)

    order = [c.id for c in report.cases]
    killer = "robustness/not-json/truncated"
    after = set(order[order.index(killer) + 1:])
    assert _ids(report, "fail") == {killer}
    assert _ids(report, "skip") == after
    assert report.case(killer).alive is False
    assert report.stopped == f"the listener stopped answering after {killer}"
    assert report.sent < report.planned
    assert f"stopped: the listener stopped answering after {killer}" in str(report)


def test_a_listener_that_never_answers_ends_the_run_after_three_silent_cases(start: Start) -> None:
    # Senders wait 15 s an answer; a short timeout meets the same rule in a second or two.
    report = certify(start("hangs"), secret=TEST_SECRET, timeout=0.3, **FAST)

    order = [c.id for c in report.cases]
    assert _ids(report, "fail") == set(order[:3])
    assert _ids(report, "skip") == set(order[3:])
    assert report.stopped == f"the listener answered none of 3 cases in a row (up to {order[2]})"
    assert report.sent == 3
    assert report.case(order[0]).note == "no answer: timeout after 0.3s"


def test_every_broken_listener_is_covered() -> None:
    assert set(EXPECTED) | {"slow", "dies-after-hostile", "hangs"} == set(BREAKS)
