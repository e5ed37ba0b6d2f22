"""``chest_certify`` on apps in process: the examples' Starlette and Flask listeners and one
built on the ``standardwebhooks`` package pass every case; a failing test prints the card."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from sdk_listener import create_app as sdk_app

from simulator.testing import CertifyFixture

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _example(name: str) -> ModuleType:
    # Under a name of its own: the plugin tests import (broken) copies as ``starlette_listener``.
    spec = importlib.util.spec_from_file_location(f"certify_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


starlette_app = _example("starlette_listener").create_app
flask_app = _example("flask_listener").create_app

FAST = {"pause": 0.1, "rate": 5000}


@pytest.mark.parametrize("make", [starlette_app, flask_app, sdk_app], ids=["starlette", "flask", "standardwebhooks"])
def test_listener_passes_every_case(chest_certify: CertifyFixture, chest_secret: str, make: object) -> None:
    app = make(chest_secret)  # type: ignore[operator]
    report = chest_certify(app, **FAST)

    assert report.passed, report
    assert report.warnings == []
    assert report.case("transport/scheme").verdict == "skip"  # no network in process
    assert {c.section for c in report.cases if c.verdict == "pass"} == {
        "accepts", "authenticity", "robustness", "idempotency", "timing"}


def test_the_sdk_answer_to_a_body_it_cannot_parse_is_a_right_answer(chest_certify: CertifyFixture,
                                                                    chest_secret: str) -> None:
    report = chest_certify(sdk_app(chest_secret), only=["robustness/not-json"], **FAST)
    for case in report.cases:
        assert (case.verdict, case.got) == ("pass", "401")
        assert "as the official SDKs answer" in case.note
    assert "as the official SDKs answer a body they cannot parse" in str(report)


def test_catching_only_the_sdks_own_exception_is_caught_out(chest_certify: CertifyFixture,
                                                           chest_secret: str) -> None:
    from standardwebhooks.webhooks import WebhookVerificationError

    report = chest_certify(sdk_app(chest_secret, catch=WebhookVerificationError), **FAST)

    assert report.failing == ["authenticity/garbage-signature", "authenticity/unprefixed-signature",
                              "robustness/not-json/truncated", "robustness/not-json/empty",
                              "robustness/not-json/invalid-utf-8", "robustness/not-json/python-repr",
                              "robustness/deep-nesting"]
    assert {report.case(i).got for i in report.failing} == {"500"}
    assert "never a 500" in report.case("authenticity/garbage-signature").hint
    assert "never a 500" in report.case("robustness/not-json/empty").hint


def test_a_failing_certification_prints_the_whole_card(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naddopts = -p no:locust -p no:cacheprovider\n"
                     "asyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_card='''
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            while (await receive()).get("more_body"):
                pass
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        def test_trusts_everything(chest_certify):
            report = chest_certify(app, only=["authenticity/stale-timestamp", "robustness/unknown-type"])
            assert report.passed, report
    ''')
    result = pytester.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*failing=?'authenticity/stale-timestamp'?*",
        "*chestsim certify*",
        "*FAIL  authenticity/stale-timestamp*got 200*",
        "*fix: refuse webhook-timestamp more than the tolerance*",
        "*grade: FAIL*",
    ])


def test_chestsims_own_listener_passes_through_chest_certify(chest_certify: CertifyFixture,
                                                            chest_listener: object) -> None:
    # A URL target (a running ``chest_listener``): it records what it cannot route rather than
    # refusing it, which the card may warn about but never fails.
    report = chest_certify(chest_listener, **FAST)

    assert report.passed, report
    assert report.target == chest_listener.url  # type: ignore[attr-defined]
    assert {c.section for c in report.cases if c.verdict == "warn"} <= {"robustness"}
