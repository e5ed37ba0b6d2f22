"""``chestsim certify``: the stated request count, the card in text, JSON, JUnit and HTML,
exit codes, and bad input as one line with exit code 2. No secret or token in any output."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Start
from junitparser import Failure, JUnitXml, Skipped

from simulator.cli import main
from simulator.testing import TEST_SECRET

pytestmark = pytest.mark.integration

TOKEN = "tok_certify_9f8e7d6c5b4a"
FAST = ["--pause", "0.1", "--rate", "2000"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_card_in_every_form_names_the_failing_case(start: Start, capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    url = start("crash-unknown-type", token=TOKEN)
    junit, page = tmp_path / "certify.xml", tmp_path / "certify.html"

    code, out, err = run(capsys, "certify", url, "--secret", TEST_SECRET, "--token", TOKEN, *FAST,
                         "--format", "json", "--junit", str(junit), "--html", str(page))

    assert code == 1
    [announce] = err.strip().splitlines()
    stated = int(re.search(r"sends at most (\d+) requests to (\S+) and nowhere else", announce)[1])  # type: ignore[index]
    assert url in announce
    card = json.loads(out)
    assert card["requests"] == {"planned": stated, "sent": stated}
    failing = [c["id"] for c in card["cases"] if c["verdict"] == "fail"]
    assert failing == ["robustness/unknown-type"]
    [unknown] = [c for c in card["cases"] if c["id"] == "robustness/unknown-type"]
    assert unknown["requests"][0]["status"] == 500
    assert unknown["requests"][0]["request"]["event_type"] == "secret.exploded"
    assert {"authenticity/missing-token", "authenticity/wrong-token"} <= {c["id"] for c in card["cases"]}

    xml = JUnitXml.fromfile(str(junit))
    cases = [(suite.name, case) for suite in xml for case in suite]
    assert len(cases) == len(card["cases"])
    failed = [case.name for _, case in cases if any(isinstance(r, Failure) for r in case.result)]
    assert failed == ["robustness/unknown-type"]
    assert not any(isinstance(r, Skipped) for _, case in cases for r in case.result)
    assert {name for name, _ in cases} == {f"certify.{s}" for s in card["sections"]}

    html = page.read_text()
    assert html.count("<svg") == 2
    assert "robustness/unknown-type" in html
    # One self-contained file: nothing to fetch, nothing to run.
    assert not re.search(r"<script|<link|\bsrc=|\bhref=|url\(|@import", html)

    for text in (out, err, junit.read_text(), html):
        assert TEST_SECRET not in text
        assert TEST_SECRET.removeprefix("whsec_") not in text
        assert TOKEN not in text


def test_a_correct_listener_with_a_token_passes_and_exits_0(start: Start, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    url = start("correct", token=TOKEN)
    monkeypatch.setenv("CHESTSIM_SECRET", TEST_SECRET)
    monkeypatch.setenv("CHESTSIM_TOKEN", TOKEN)

    code, out, err = run(capsys, "certify", url, *FAST, "--skip", "timing", "--skip", "accepts")

    assert code == 0, out
    assert "PASS  authenticity/missing-token" in out
    assert "PASS  authenticity/wrong-token" in out
    assert "[timing]" not in out
    assert "[accepts]" not in out
    assert out.rstrip().splitlines()[-1].startswith("grade: PASS")
    assert TOKEN not in out + err
    assert TEST_SECRET not in out + err


def test_the_text_card_lists_every_failure_with_a_hint(start: Start, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "certify", start("no-timestamp-check"), "--secret", TEST_SECRET, *FAST,
                       "--only", "authenticity")
    assert code == 1
    lines = out.splitlines()
    for case in ("stale-timestamp", "future-timestamp"):
        at = next(i for i, line in enumerate(lines) if f"FAIL  authenticity/{case}" in line)
        assert "got 200" in lines[at]
        assert lines[at + 2].strip().startswith("fix: refuse webhook-timestamp more than the tolerance")
    assert "authenticity FAIL" in out


_UNUSED = "http://127.0.0.1:9/webhooks"  # validation fails before anything is contacted


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param([_UNUSED], "give the endpoint's secret with --secret", id="no-secret"),
        pytest.param([_UNUSED, "--secret", "whsec_!!"], "not valid base64", id="bad-secret"),
        pytest.param([_UNUSED, "--secret", TEST_SECRET, "--profile", "huge"], "--profile='huge'", id="bad-profile"),
        pytest.param([_UNUSED, "--secret", TEST_SECRET, "--only", "authenticty"], "--only='authenticty' picks nothing",
                     id="only-picks-nothing"),
        pytest.param([_UNUSED, "--secret", TEST_SECRET, "--skip", "nope/x"], "--skip='nope/x' picks nothing",
                     id="skip-picks-nothing"),
        pytest.param([_UNUSED, "--secret", TEST_SECRET, "--max-latency", "fast"], "--max-latency='fast'",
                     id="bad-max-latency"),
        pytest.param([_UNUSED, "--secret", TEST_SECRET, "--max-latency", "0"], "more than zero", id="zero-latency"),
        pytest.param([_UNUSED, "--secret", TEST_SECRET, "--rate", "0"], "--rate='0'", id="zero-rate"),
        pytest.param([_UNUSED, "--secret", TEST_SECRET, "--tolerance", "1s"], "too small", id="tiny-tolerance"),
        pytest.param([_UNUSED, "--secret", TEST_SECRET, "--token", "abc\r\nX-Injected: yes"], "control",
                     id="token-with-crlf"),
        pytest.param([_UNUSED, "--secret", TEST_SECRET, "--ca-file", "/nonexistent.pem"], "--ca-file",
                     id="missing-ca-file"),
        pytest.param([_UNUSED, "--secret", TEST_SECRET, "--ca-file", __file__, "--insecure"], "contradict",
                     id="ca-file-and-insecure"),
        pytest.param([_UNUSED, "--secret", TEST_SECRET, "--junit", "/nonexistent/dir/x.xml"], "does not exist",
                     id="junit-folder-missing"),
        pytest.param(["ftp://127.0.0.1/x", "--secret", TEST_SECRET], "scheme 'ftp'", id="bad-scheme"),
        pytest.param(["http://127.0.0.1:9/w h", "--secret", TEST_SECRET], "whitespace", id="bad-url"),
        pytest.param([_UNUSED, "--secret", TEST_SECRET], "cannot reach http://127.0.0.1:9/webhooks",
                     id="unreachable"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], args: list[str],
                                          fragment: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHESTSIM_SECRET", raising=False)
    monkeypatch.delenv("CHESTSIM_TOKEN", raising=False)
    code, out, err = run(capsys, "certify", *args)
    assert code == 2
    assert out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("chestsim: error: ")
    assert fragment in line
    assert TEST_SECRET not in err
    assert "X-Injected" not in err


def test_console_script_exit_code_for_an_unreachable_url() -> None:
    done = subprocess.run([sys.executable, "-m", "simulator", "certify", _UNUSED], capture_output=True,
                          text=True, timeout=60, env={"CHESTSIM_SECRET": TEST_SECRET, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert done.stderr.startswith("chestsim: error: cannot reach")
    assert "Traceback" not in done.stderr
