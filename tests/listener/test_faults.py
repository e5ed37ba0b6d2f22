"""Seeded fault injection: unit tests of the draws, then each fault on real loopback HTTP."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
from listener_helpers import SECRET, Post, make_event, signed

from simulator._exceptions import UsageError
from simulator.listener import (
    FaultInjector,
    FaultRule,
    Latency,
    Listener,
    parse_statuses,
    run_listener,
)


def _decisions(injector: FaultInjector, n: int = 400) -> list[str | None]:
    return [injector.decide(event_type="secret.used", key=f"evt_{i}", attempt=1).fault for i in range(n)]


def test_draws_are_reproducible_by_seed_and_independent_of_order() -> None:
    rule = FaultRule(fail_rate=0.2, drop_rate=0.05, hang_rate=0.05)
    first = _decisions(FaultInjector([rule], seed=42))
    assert first == _decisions(FaultInjector([rule], seed=42))
    assert first != _decisions(FaultInjector([rule], seed=43))
    backwards = FaultInjector([rule], seed=42)
    reordered = [backwards.decide(event_type="secret.used", key=f"evt_{i}", attempt=1).fault
                 for i in reversed(range(400))]
    assert list(reversed(reordered)) == first


def test_rates_are_roughly_honoured_and_retries_draw_again() -> None:
    injector = FaultInjector([FaultRule(fail_rate=0.2, drop_rate=0.05, hang_rate=0.05)], seed=1)
    faults = _decisions(injector, 4000)
    assert 0.17 < faults.count("fail") / 4000 < 0.23
    assert 0.03 < faults.count("drop") / 4000 < 0.07
    assert 0.03 < faults.count("hang") / 4000 < 0.07
    attempts = {injector.decide(event_type=None, key="evt_same", attempt=a).fault for a in range(1, 60)}
    assert None in attempts
    assert "fail" in attempts


def test_statuses_latency_and_scope() -> None:
    rule = FaultRule(fail_rate=1.0, fail_statuses=(500, 503), latency=Latency(0.01, 0.02),
                     event_types=frozenset({"Secret Used"}))
    assert rule.event_types == frozenset({"secret.used"})
    injector = FaultInjector([rule], seed=0)
    decisions = [injector.decide(event_type="secret.used", key=f"e{i}", attempt=1) for i in range(50)]
    assert {d.status for d in decisions} == {500, 503}
    assert all(0.01 <= d.latency <= 0.02 for d in decisions)
    untouched = injector.decide(event_type="user.created", key="e1", attempt=1)
    assert (untouched.fault, untouched.latency) == (None, 0.0)
    # Only answers that would have been 2xx are replaced.
    assert injector.decide(event_type="secret.used", key="e1", attempt=1, would_succeed=False).fault is None


def test_rate_limit_and_gone_after_use_the_injected_clock() -> None:
    now = [0.0]
    injector = FaultInjector([FaultRule(rate_limit=2.0)], clock=lambda: now[0])
    faults = [injector.decide(event_type=None, key=f"e{i}", attempt=1) for i in range(3)]
    assert [f.fault for f in faults] == [None, None, "rate-limit"]
    assert (faults[2].status, faults[2].retry_after) == (429, 1)
    now[0] = 1.0
    assert injector.decide(event_type=None, key="e9", attempt=1).fault is None
    gone = FaultInjector([FaultRule(gone_after=2)])
    assert [gone.decide(event_type=None, key=f"e{i}", attempt=1).status for i in range(4)] == [
        None, None, 410, 410]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("50ms", Latency(0.05, 0.05)), ("10ms..300ms", Latency(0.01, 0.3)), ("1..2", Latency(1.0, 2.0))],
    ids=["fixed", "range", "seconds"],
)
def test_latency_parse(text: str, expected: Latency) -> None:
    assert Latency.parse(text) == expected


@pytest.mark.parametrize("text", ["fast", "300ms..10ms", "..10ms", "10ms..", "-5ms"],
                         ids=["word", "reversed", "no-low", "no-high", "negative"])
def test_latency_parse_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="--latency"):
        Latency.parse(text)


@pytest.mark.parametrize("text", ["200", "abc", "", "500,600"], ids=["2xx", "word", "empty", "600"])
def test_parse_statuses_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="--fail-status"):
        parse_statuses(text)


@pytest.mark.parametrize(
    "options",
    [{"fail_rate": 1.5}, {"drop_rate": -0.1}, {"fail_rate": 0.6, "hang_rate": 0.6}, {"rate_limit": 0.0},
     {"gone_after": -1}],
    ids=["fail>1", "drop<0", "sum>1", "rate-0", "gone<0"],
)
def test_fault_rule_refuses(options: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        FaultRule(**options)  # type: ignore[arg-type]


# -- on the wire --------------------------------------------------------------------------------

pytest_integration = pytest.mark.integration


@pytest_integration
async def test_fail_rate_answers_the_configured_statuses(db: Path, post: Post) -> None:
    rule = FaultRule(fail_rate=1.0, fail_statuses=(503,))
    async with run_listener(Listener(secrets=(SECRET,), db=db, faults=(rule,))) as running:
        status, _, payload = await post(running.url, *signed(make_event()))
        assert status == 503
        assert payload["error"] == "injected fault: fail"
        # A bad signature is still a 401: faults only replace acknowledgements.
        assert (await post(running.url, *signed(make_event(), timestamp=1)))[0] == 401
        records = running.records()
    assert [(r.status, r.fault, r.verdict) for r in records] == [(503, "fail", "valid"), (401, None, "unverified")]


@pytest_integration
async def test_seeded_run_is_reproducible_on_the_wire(tmp_path: Path, post: Post) -> None:
    events = [make_event() for _ in range(30)]
    outcomes = []
    for run in range(2):
        rule = FaultRule(fail_rate=0.4, fail_statuses=(500, 503))
        config = Listener(secrets=(SECRET,), db=tmp_path / f"r{run}.db", faults=(rule,), seed=7)
        async with run_listener(config) as running:
            outcomes.append([(await post(running.url, *signed(e)))[0] for e in events])
    assert outcomes[0] == outcomes[1]
    assert {500, 503, 204} == set(outcomes[0])


@pytest_integration
async def test_drop_closes_without_an_answer(db: Path, client: aiohttp.ClientSession) -> None:
    async with run_listener(Listener(secrets=(SECRET,), db=db, faults=(FaultRule(drop_rate=1.0),))) as running:
        body, headers = signed(make_event())
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with client.post(running.url, data=body, headers=headers):
                pass
        [record] = running.records()
    assert (record.status, record.fault) == (0, "drop")


@pytest_integration
async def test_hang_never_answers_until_shutdown(db: Path, client: aiohttp.ClientSession) -> None:
    config = Listener(secrets=(SECRET,), db=db, faults=(FaultRule(hang_rate=1.0),), shutdown_timeout=5)
    async with run_listener(config) as running:
        body, headers = signed(make_event())
        with pytest.raises(asyncio.TimeoutError):
            async with client.post(running.url, data=body, headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=0.5)):
                pass
        [record] = running.records()
        started = time.monotonic()
    # Shutting down releases hung requests at once instead of waiting hang_max.
    assert time.monotonic() - started < 5
    assert (record.status, record.fault) == (0, "hang")


@pytest_integration
async def test_latency_is_added(db: Path, post: Post) -> None:
    config = Listener(secrets=(SECRET,), db=db, faults=(FaultRule(latency=Latency(0.2, 0.2)),))
    async with run_listener(config) as running:
        started = time.monotonic()
        assert (await post(running.url, *signed(make_event())))[0] == 204
        assert time.monotonic() - started >= 0.2
        assert running.records()[0].latency_ms == pytest.approx(200)


@pytest_integration
async def test_rate_limit_answers_429_with_retry_after(db: Path, post: Post) -> None:
    config = Listener(secrets=(SECRET,), db=db, faults=(FaultRule(rate_limit=1.0),))
    async with run_listener(config) as running:
        first = await post(running.url, *signed(make_event()))
        second = await post(running.url, *signed(make_event()))
    assert first[0] == 204
    assert second[0] == 429
    assert int(second[1]["Retry-After"]) >= 1


@pytest_integration
async def test_gone_after_answers_410(db: Path, post: Post) -> None:
    config = Listener(secrets=(SECRET,), db=db, faults=(FaultRule(gone_after=2),))
    async with run_listener(config) as running:
        statuses = [(await post(running.url, *signed(make_event())))[0] for _ in range(4)]
    assert statuses == [204, 204, 410, 410]


@pytest_integration
async def test_faults_scoped_to_event_types(db: Path, post: Post) -> None:
    rule = FaultRule(fail_rate=1.0, event_types=frozenset({"secret.used"}))
    async with run_listener(Listener(secrets=(SECRET,), db=db, faults=(rule,))) as running:
        assert (await post(running.url, *signed(make_event("secret.used"))))[0] == 500
        assert (await post(running.url, *signed(make_event("user.created"))))[0] == 204


def test_rules_file(tmp_path: Path) -> None:
    from simulator.listener import load_rules

    path = tmp_path / "faults.json"
    path.write_text('[{"fail_rate": 0.5, "fail_status": "502,503", "event_types": ["Secret Used"]},'
                    ' {"latency": "10ms..50ms", "rate_limit": "100/s", "gone_after": 9}]')
    first, second = load_rules(path)
    assert (first.fail_rate, first.fail_statuses, first.event_types) == (0.5, (502, 503), frozenset({"secret.used"}))
    assert (second.latency, second.rate_limit, second.gone_after, second.event_types) == (
        Latency(0.01, 0.05), 100.0, 9, None)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json", "is not JSON"),
        ('{"fail_rate": 1}', "JSON list of rule objects"),
        ('[{"fail_rte": 1}]', "rule 1: unknown key 'fail_rte'"),
        ('[{}, {"fail_rate": 3}]', "rule 2: fail_rate=3 must be"),
        ('[{"event_types": ["secret.usd"]}]', "did you mean 'secret.used'"),
        ('[{"rate_limit": [1]}]', "rule 1: values must be"),
        ('[{"gone_after": -1}]', "gone_after=-1"),
    ],
    ids=["not-json", "not-a-list", "unknown-key", "bad-rate", "bad-type", "bad-value", "bad-count"],
)
def test_rules_file_refuses(tmp_path: Path, text: str, fragment: str) -> None:
    from simulator.listener import load_rules

    path = tmp_path / "faults.json"
    path.write_text(text)
    with pytest.raises(UsageError, match="--faults=") as caught:
        load_rules(path)
    assert fragment in str(caught.value)
