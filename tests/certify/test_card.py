"""The card's pieces: the transport scheme rule, ``hostile_suite``'s selection (the same
vocabulary as ``--only``/``--skip``), the load profile, and the HTML card in a real browser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import Start

from simulator.certify import Case, CertifyReport, write_html
from simulator.certify._runner import scheme_grade
from simulator.testing import TEST_SECRET, certify, events_of, hostile_suite
from simulator.testing._hostile import ACCEPTED_VARIATIONS, HEADER_ATTACKS

CHROMIUM = os.environ.get("CHESTSIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.parametrize(
    ("url", "verdict"),
    [
        pytest.param("https://hooks.example.com/chest", "pass", id="https"),
        pytest.param("http://127.0.0.1:8080/webhooks", "pass", id="http-loopback"),
        pytest.param("http://[::1]:8080/webhooks", "pass", id="http-ipv6-loopback"),
        pytest.param("http://hooks.example.com/chest", "warn", id="http-elsewhere"),
        pytest.param("http://10.1.2.3/chest", "warn", id="http-private-address"),
    ],
)
def test_plain_http_off_loopback_is_a_warning(url: str, verdict: str) -> None:
    case = Case("transport/scheme", "transport", "https", "use https")
    assert scheme_grade(case, url).verdict == verdict


# -- hostile_suite selection ---------------------------------------------------------------------

EVENTS = events_of("user.created", 1)


def _labels(**selection: list[str]) -> set[str]:
    return {d.label for d in hostile_suite(EVENTS, secret=TEST_SECRET, now=1.8e9, **selection)}


def test_hostile_suite_selects_by_label_and_section() -> None:
    assert _labels(only=["authenticity"]) == set(HEADER_ATTACKS)
    assert _labels(only=["accepts"]) == set(ACCEPTED_VARIATIONS)
    assert _labels(only=["stale-timestamp", "not-json"]) == {"stale-timestamp", "not-json"}
    assert _labels(skip=["robustness", "accepts"]) == set(HEADER_ATTACKS)
    assert _labels(only=["authenticity"], skip=["wrong-secret"]) == set(HEADER_ATTACKS) - {"wrong-secret"}


@pytest.mark.parametrize("selection", [{"only": ["stale-timestamps"]}, {"skip": ["timing"]}],
                         ids=["misspelt-kind", "section-with-no-deliveries"])
def test_hostile_suite_refuses_a_selector_that_picks_nothing(selection: dict[str, list[str]]) -> None:
    with pytest.raises(ValueError, match="picks nothing"):
        hostile_suite(EVENTS, secret=TEST_SECRET, **selection)


# -- the load profile ----------------------------------------------------------------------------

@pytest.mark.integration
def test_load_profile_reports_a_firehose(start: Start) -> None:
    report = certify(start("correct"), secret=TEST_SECRET, profile="load", rate=400, duration=0.5,
                     only=["load"], seed=3)

    verdicts = report.verdicts()
    # Throughput and latency are timings on a shared machine: graded, but not asserted here.
    assert verdicts.pop("load/throughput") in ("pass", "warn")
    assert verdicts.pop("load/latency") in ("pass", "warn")
    assert verdicts == {"load/no-5xx": "pass", "load/no-errors": "pass"}
    load = report.facts["load"]
    assert load["throughput"] > 0
    assert (load["count"], load["ok"], load["statuses"]) == (200, 200, {"200": 200})
    assert report.planned == report.sent == 200
    assert "load: 200 requests at 400/s stated" in str(report)


# -- the HTML card in a browser ------------------------------------------------------------------

async def trusting_app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
    """Answers 200 to everything: every authenticity case fails."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):  # type: ignore[operator]
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]


@pytest.fixture(scope="module")
def card() -> CertifyReport:
    return certify(trusting_app, secret=TEST_SECRET, only=["authenticity", "accepts/rotation", "timing"],
                   rate=5000, burst=40)


def test_html_card_in_a_browser(card: CertifyReport, tmp_path: Path) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: install it with `make browser`, or point CHESTSIM_CHROMIUM "
                    "at one", pytrace=False)
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "card.html"
    write_html(card, page_file, max_latency=2.0)
    fetched: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda request: fetched.append(request.url))
            page.goto(page_file.as_uri())
            assert page.locator("#grade").inner_text() == "FAIL"
            rows = page.locator("#cases tbody tr")
            assert rows.count() == len(card.cases)
            assert page.locator("#cases tbody tr.fail").count() == len(HEADER_ATTACKS)
            assert page.locator("svg[aria-label='latency histogram'] rect.bin").count() == 20
            assert page.locator("svg[aria-label='cases per section'] rect.seg.fail").count() == 1
            assert page.locator("svg[aria-label='cases per section'] rect.seg.pass").count() == 2
            first = page.locator("#cases tbody tr.fail").first.inner_text()
            assert "verify webhook-signature" in first or "refuse" in first
        finally:
            browser.close()
    assert fetched == [page_file.as_uri()]  # offline: the page fetches nothing
