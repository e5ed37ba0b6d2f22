"""The web inspector in a real browser: Debian's Chromium driven by Playwright, against a real
``chestsim listen`` process whose record file already holds 100,000 records, and the file that
``chestsim inspect --html`` writes. One browser for the module; each test opens its own page.

A missing Chromium fails (never skips) with one line saying how to install it: ``make browser``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inspector_helpers import fill
from listener_helpers import TOKEN, make_event, signed

from simulator.cli import main
from simulator.listener import VERDICTS
from simulator.listener._inspection import Filters, Inspection

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("CHESTSIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PREFILLED = 100_000
#: The listener tests' SECRET (the Standard Webhooks spec's public test secret), as text.
SECRET_TEXT = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WAIT_MS = 15_000  # longest wait for anything on a page (a bound, not a speed target)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: install it with `make browser` (as root: apt-get install -y "
                    "chromium), or point CHESTSIM_CHROMIUM at one", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Live:
    url: str
    base: str
    db: Path
    sent: list[str] = field(default_factory=list)

    def send(self, event: dict[str, Any], *, token: str | None = TOKEN) -> int:
        body, headers = signed(event, token=token)
        response = httpx.post(self.url, content=body, headers=headers, timeout=30)
        self.sent.append(event["id"])
        return response.status_code


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """``chestsim listen`` (secret, token, 30 ms injected latency) on a file of 100,000 records."""
    db = tmp_path_factory.mktemp("inspector") / "received.db"
    fill(db, PREFILLED)
    env = {**os.environ, "CHESTSIM_SECRET": SECRET_TEXT, "CHESTSIM_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "listen", "--port", "0", "--db", str(db),
                             "--view", "quiet", "--latency", "30ms"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("chestsim listen: http://"), first + proc.stderr.read() if proc.stderr else first
        url = first.split(": ", 1)[1].strip()
        yield Live(url=url, base=url.rsplit("/", 1)[0], db=db)
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err


@dataclass
class Opened:
    page: Page
    errors: list[str]
    bodies: list[str]


@pytest.fixture
def opened(browser: Browser) -> Iterator[Opened]:
    """A fresh page that collects console errors, page errors and every response body it reads."""
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    seen = Opened(page, [], [])
    page.on("console", lambda message: seen.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))

    def keep(response: Any) -> None:
        if "/_chestsim/api/feed" not in response.url:  # a stream never ends; its rows reach the DOM
            with contextlib.suppress(PlaywrightError):  # a body let go of by a navigation
                seen.bodies.append(response.text())

    page.on("response", keep)
    try:
        yield seen
    finally:
        context.close()


def _open_live(opened: Opened, live: Live) -> Page:
    page = opened.page
    page.goto(live.base + "/_chestsim/")
    page.locator("#status.live").wait_for()
    page.locator("#rows tr").first.wait_for()
    return page


def _row(page: Page, text: str) -> Any:
    return page.locator("#rows tr", has_text=text)


def _invalid_event() -> dict[str, Any]:
    event = make_event("secret.used", id=f"evt_{uuid.uuid4().hex}")
    event["data"]["shard_map"]["threshold"] = 99  # k > n: one semantic problem at a known pointer
    return event


def test_page_loads_with_no_console_errors(opened: Opened, live: Live) -> None:
    page = _open_live(opened, live)
    total = int(page.locator("#counters .counter b").first.inner_text())
    assert total >= PREFILLED
    assert page.locator("#rows tr").count() == 100  # one page, not 100,000 rows
    assert page.locator("#f-verdict option").all_inner_texts() == ["every verdict", *VERDICTS]
    assert opened.errors == []


def test_a_delivery_sent_now_appears_without_a_reload(opened: Opened, live: Live) -> None:
    page = _open_live(opened, live)
    page.evaluate("window.stillTheSamePage = true")
    before = int(page.locator("#counters .counter b").first.inner_text())
    event = make_event("user.created", id=f"evt_{uuid.uuid4().hex}")
    assert live.send(event) == 204
    row = _row(page, event["id"])
    row.wait_for()
    assert "user.created" in row.inner_text()
    assert "valid" in row.inner_text()
    assert "30.0 ms" in row.inner_text()  # the injected latency, beside the listener's own
    assert page.evaluate("window.stillTheSamePage") is True
    # Waits by locator, not wait_for_function: its polling evaluates a string, which the page's CSP (no
    # 'unsafe-eval') refuses whenever the first try is not already true (seen under load).
    from playwright.sync_api import expect

    counter = page.locator("#counters .counter b").first
    expect(counter).not_to_have_text(str(before), timeout=WAIT_MS)
    assert int(counter.inner_text()) > before
    assert page.locator("#chart rect").count() >= 1  # this second's bar
    assert opened.errors == []


def test_live_rows_push_old_ones_out_and_older_brings_them_back(opened: Opened, live: Live) -> None:
    opened.page.add_init_script("window.chestsimMaxRows = 5")
    page = _open_live(opened, live)
    event = make_event("group.created", id=f"evt_{uuid.uuid4().hex}")
    assert live.send(event) == 204
    _row(page, event["id"]).wait_for()
    assert page.locator("#rows tr").count() == 5
    page.click("#older")
    page.locator("#rows tr").nth(5).wait_for(timeout=WAIT_MS)  # a sixth row (see above: no wait_for_function)
    seqs = [int(s) for s in page.locator("#rows tr").evaluate_all("rows => rows.map(r => r.dataset.seq)")]
    assert seqs == list(range(seqs[0], seqs[0] - len(seqs), -1))  # nothing skipped at the seam
    assert opened.errors == []


def test_filters_narrow_the_list_on_the_server(opened: Opened, live: Live) -> None:
    page = _open_live(opened, live)
    with Inspection(live.db) as look:
        leaks = look.page(Filters(verdict="leak"), limit=1).matching
        narrow = look.page(Filters(verdict="leak", text="msg_0009999"), limit=10)
    with page.expect_request(lambda request: "api/records?" in request.url and "verdict=leak" in request.url):
        page.select_option("#f-verdict", "leak")
    page.locator("#matching", has_text=f"{leaks} matching").wait_for()
    verdicts = set(page.locator("#rows tr td:nth-child(3) .v").all_inner_texts())
    assert verdicts == {"leak"}
    with page.expect_request(lambda request: "q=msg_0009999" in request.url):
        page.fill("#f-text", "msg_0009999")
    page.locator("#matching", has_text=f"{narrow.matching} matching").wait_for()
    shown = page.locator("#rows tr td:nth-child(6)").all_inner_texts()
    assert shown == [row["webhook_id"] for row in narrow.rows]
    assert opened.errors == []


def test_detail_pane_highlights_a_problems_pointer(opened: Opened, live: Live) -> None:
    event = _invalid_event()
    assert live.send(event) == 204
    page = _open_live(opened, live)
    page.fill("#f-text", event["id"])
    _row(page, event["id"]).click()
    problem = page.locator("#d-problems li").first
    problem.wait_for()
    assert "/data/shard_map/threshold" in problem.inner_text()
    marked = page.locator('#d-body .hl[data-pointer="/data/shard_map/threshold"]')
    assert marked.inner_text() == "99"
    assert page.locator("#d-body .hl").count() == page.locator("#d-problems li").count()
    facts = page.locator("#d-facts").inner_text()
    assert "verified ✓" in facts
    assert "30.0 ms injected" in facts
    assert "handling by the listener" in facts
    problem.click()  # scrolls to the value and flashes it
    assert "flash" in (marked.get_attribute("class") or "")
    assert opened.errors == []


def test_the_token_never_reaches_the_page(opened: Opened, live: Live) -> None:
    event = make_event("secret.created", id=f"evt_{uuid.uuid4().hex}")
    assert live.send(event) == 204
    wrong = make_event("secret.created", id=f"evt_{uuid.uuid4().hex}")
    assert live.send(wrong, token=TOKEN[::-1]) == 401
    page = _open_live(opened, live)
    for sent in (event, wrong):
        page.fill("#f-text", sent["id"])
        _row(page, sent["id"]).click()
        page.locator("#d-facts", has_text=sent["id"]).wait_for()
        assert "token masked" in page.locator("#d-headers").inner_text()
    html = page.content()
    for text in [html, *opened.bodies]:
        assert TOKEN not in text
        assert TOKEN[::-1] not in text
        assert SECRET_TEXT not in text
    assert len(opened.bodies) >= 4  # the page, the summary, the pages and the records were read
    assert opened.errors == []


def test_a_hostile_body_is_shown_as_text_never_run(opened: Opened, live: Live) -> None:
    event = make_event("user.created", id=f"evt_{uuid.uuid4().hex}")
    event["data"]["note"] = '<img src=x onerror="window.pwned=1"></script><script>window.pwned=2</script>'
    live.send(event)
    page = _open_live(opened, live)
    page.fill("#f-text", event["id"])
    _row(page, event["id"]).click()
    page.locator("#d-body", has_text="onerror").wait_for()
    assert page.evaluate("window.pwned === undefined")
    assert page.locator("#d-body img").count() == 0
    assert opened.errors == []


def test_the_html_report_works_offline_in_the_browser(opened: Opened, live: Live, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    invalid = _invalid_event()
    hostile = make_event("user.created", id=f"evt_{uuid.uuid4().hex}")
    hostile["data"]["note"] = "</script><script>window.pwned=1</script>{{script}}"
    assert live.send(invalid) == 204
    assert live.send(hostile) == 204
    report = tmp_path / "report.html"
    assert main(["inspect", str(live.db), "--last", "0", "--html", str(report), "--html-limit", "300"]) == 0
    assert f"wrote {report} (300 of " in capsys.readouterr().err
    text = report.read_text()
    assert TOKEN not in text
    assert SECRET_TEXT not in text
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch: offline

    page = opened.page
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:") else route.continue_())
    page.goto(report.as_uri())
    page.locator("#rows tr").first.wait_for()
    assert page.locator("#rows tr").count() == 100  # pages of 100, then "older deliveries"
    page.click("#older")
    assert page.locator("#rows tr").count() == 200
    assert int(page.locator("#counters .counter b").first.inner_text()) >= PREFILLED
    assert page.evaluate("window.pwned === undefined")
    assert page.locator("#f-verdict option").all_inner_texts() == ["every verdict", *VERDICTS]
    page.select_option("#f-verdict", "invalid")
    verdicts = set(page.locator("#rows tr td:nth-child(3) .v").all_inner_texts())
    assert verdicts == {"invalid"}
    page.fill("#f-text", invalid["id"])
    _row(page, invalid["id"]).click()
    assert page.locator('#d-body .hl[data-pointer="/data/shard_map/threshold"]').inner_text() == "99"
    page.select_option("#f-verdict", "")
    page.fill("#f-text", hostile["id"])
    _row(page, hostile["id"]).click()
    page.locator("#d-body", has_text="</script>").wait_for()
    assert page.evaluate("window.pwned === undefined")
    assert opened.errors == []
