"""``chestsim send / replay / endpoints check / secret new``: exit codes, one-line errors, secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from delivery_sink import SECRET, TOKEN, UNSIGNED_NOTICE, Sink, make_events, write_jsonl

from simulator.cli import main

pytestmark = pytest.mark.integration


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_send_text_and_json(sink: Sink, events_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["send", str(events_file), "--to", sink.url, "--secret", SECRET], capsys)
    assert code == 0, err
    assert "delivered 60" in out
    code, out, _ = run(["send", str(events_file), "--to", sink.url, "--format", "json"], capsys)
    summary = json.loads(out)
    assert code == 0
    assert summary["delivered"] == 60
    assert set(summary["latency_ms"]) == {"p50", "p95", "p99"}


def test_dead_letters_exit_1(sink: Sink, events_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sink.script = {"evt_000000": [500, 500]}
    code, out, _ = run(["send", str(events_file), "--to", sink.url, "--retry", "1s", "--time-scale", "0.01"],
                       capsys)
    assert code == 1
    assert "dead-lettered 1: retries exhausted after 2 attempts (last: HTTP 500)" in out


def test_secrets_from_env_never_shown(sink: Sink, events_file: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHESTSIM_SECRET", SECRET)
    monkeypatch.setenv("CHESTSIM_TOKEN", TOKEN)
    journal = tmp_path / "run.db"
    sink.script = {"evt_000001": [500]}
    code, out, err = run(["send", str(events_file), "--to", sink.url, "--journal", str(journal),
                          "--retry", "1s", "--time-scale", "0.01", "--format", "json"], capsys)
    assert code == 0
    assert sink.received[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert "webhook-signature" in sink.received[0].headers
    code2, out2, err2 = run(["endpoints", "check", sink.url], capsys)
    code3, out3, err3 = run(["replay", str(journal), "--event-id", "evt_000001"], capsys)
    assert code2 == code3 == 0
    shown = out + err + out2 + err2 + out3 + err3
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("run.db*"))
    for needle in (SECRET, SECRET.removeprefix("whsec_"), TOKEN):
        assert needle not in shown
        assert needle.encode() not in raw


def test_secret_new(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["secret", "new"], capsys)
    assert code == 0
    assert out.startswith("whsec_")
    from simulator._signing import SigningSecret
    SigningSecret(out.strip())


def test_endpoints_check_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "endpoints.toml"
    path.write_text(f'[[endpoint]]\nname = "a"\nurl = "https://a.example.com/h"\nsecret = "{SECRET}"\n'
                    '[[endpoint]]\nname = "b"\nurl = "http://[::1]:9/h"\nevents = ["Secret Used"]\n')
    code, out, _ = run(["endpoints", "check", str(path), "--format", "json"], capsys)
    assert code == 0
    rows = json.loads(out)["endpoints"]
    assert [r["name"] for r in rows] == ["a", "b"]
    assert rows[1]["events"] == ["secret.used"]
    assert SECRET not in out


def test_stdin_and_resume_refusals(sink: Sink, tmp_path: Path) -> None:
    body = "".join(json.dumps(e) + "\n" for e in make_events(5))
    proc = subprocess.run([sys.executable, "-m", "simulator", "send", "-", "--to", sink.url, "--format", "json"],
                          input=body, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["delivered"] == 5


def bad_cases(tmp: Path, sink_url: str) -> list[tuple[str, list[str], str]]:
    events = write_jsonl(tmp / "ok.jsonl", make_events(3))
    broken = tmp / "broken.jsonl"
    broken.write_text('{"id": "evt_1", "type": "secret.used", "tenant_id": "t", "data": {}}\n{"id": \n')
    garbage = tmp / "garbage.db"
    garbage.write_bytes(b"this is not sqlite at all" * 40)
    existing = tmp / "existing.db"
    existing.write_bytes(b"x")
    endpoints = tmp / "bad.toml"
    endpoints.write_text('[[endpoint]]\nurl = "https://e.com/h"\nsecret = "whsec_!!!"\n')
    latin1 = tmp / "latin1.toml"
    latin1.write_bytes('[[endpoint]]\nname = "équipe"\nurl = "https://e.com/h"\n'.encode("latin-1"))
    e = str(events)
    return [
        ("bad-url", ["send", e, "--to", "http://example.com/h"], "scheme 'http' is allowed only for loopback"),
        ("bad-url-char", ["send", e, "--to", "https://example.com/a b"], "whitespace"),
        ("bad-secret", ["send", e, "--to", sink_url, "--secret", "whsec_###"], "--secret: signing secret"),
        ("secret-no-prefix", ["send", e, "--to", sink_url, "--secret", "abc"], "must start with 'whsec_'"),
        ("bad-endpoints-secret", ["send", e, "--endpoints", str(endpoints)], "not valid base64"),
        ("missing-file", ["send", str(tmp / "absent.jsonl"), "--to", sink_url], "no such file"),
        ("broken-line", ["send", str(broken), "--to", sink_url, "--secret", SECRET],
         "broken.jsonl:2: not valid JSON"),
        ("garbage-journal", ["send", "--resume", str(garbage), "--to", sink_url], "is not a chestsim journal"),
        ("missing-journal", ["send", "--resume", str(tmp / "none.db")], "no such journal file"),
        ("existing-journal", ["send", e, "--to", sink_url, "--journal", str(existing)], "already exists"),
        ("journal-folder", ["send", e, "--to", sink_url, "--journal", str(tmp)], "is a folder; give a file path"),
        ("resume-folder", ["send", "--resume", str(tmp)], "is a folder; give the journal file"),
        ("replay-garbage", ["replay", str(garbage)], "is not a chestsim journal"),
        ("journal-and-resume", ["send", e, "--journal", "a.db", "--resume", "b.db", "--to", sink_url],
         "cannot be used together"),
        ("no-input", ["send", "--to", sink_url], "give the events to send"),
        ("no-endpoint", ["send", e], "no endpoint"),
        ("unknown-type", ["send", e, "--to", sink_url, "--events", "secret.usd"], "did you mean"),
        ("bad-rate", ["send", e, "--to", sink_url, "--rate", "fast"], "--rate='fast'"),
        ("pace-rate", ["send", e, "--to", sink_url, "--pace", "rate"], "needs --rate"),
        ("bad-pace", ["send", e, "--to", sink_url, "--pace", "slowly"], "--pace='slowly'"),
        ("bad-concurrency", ["send", e, "--to", sink_url, "--concurrency", "0"], "--concurrency='0'"),
        ("bad-timeout", ["send", e, "--to", sink_url, "--timeout", "soon"], "--timeout='soon'"),
        # Found by a probe: a million took over 20 s and gigabytes before the first request; an
        # endless timeout dead-lettered every delivery with an OverflowError.
        ("huge-concurrency", ["send", e, "--to", sink_url, "--concurrency", "1000000"], "from 1 to 10,000"),
        ("replay-huge-concurrency", ["replay", str(garbage), "--to", sink_url, "--concurrency", "10001"],
         "from 1 to 10,000"),
        ("endless-timeout", ["send", e, "--to", sink_url, "--timeout", "inf"], "up to a day"),
        ("huge-timeout", ["send", e, "--to", sink_url, "--timeout", "1e300"], "up to a day"),
        ("timeout-over-a-day", ["send", e, "--to", sink_url, "--timeout", "25h"], "up to a day"),
        ("bad-skew", ["send", e, "--to", sink_url, "--clock-skew", "lots"], "--clock-skew"),
        ("bad-retry", ["send", e, "--to", sink_url, "--retry", "sometimes"], "--retry='sometimes'"),
        ("bad-app", ["send", e, "--app", "nomodule_xyz:app"], "cannot import"),
        ("bad-app-spec", ["send", e, "--app", "justmodule"], "module:attr"),
        ("bad-since", ["replay", str(garbage), "--since", "yesterday"], ""),
        ("check-bad-url", ["endpoints", "check", "https://exa mple.com/"], "whitespace"),
        ("endpoints-not-utf8", ["send", e, "--endpoints", str(latin1)], "not UTF-8 text"),
        ("check-not-utf8", ["endpoints", "check", str(latin1)], "not UTF-8 text"),
    ]


def test_bad_input_one_line_exit_2(sink: Sink, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHESTSIM_SECRET", raising=False)
    for case, args, fragment in bad_cases(tmp_path, sink.url):
        code, _, err = run(args, capsys)
        assert code == 2, (case, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1, (case, err)
        assert lines[0].startswith("chestsim: error: "), (case, err)
        assert fragment in lines[0], (case, lines[0])
        assert "Traceback" not in err
    assert os.listdir(tmp_path).count("a.db") == 0
    # Of all those, only the broken file's good first line was ever sent, once.
    assert sink.ids() == ["evt_1"]


def test_send_to_in_process_app(events_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from delivery_sink import APP_RECEIVED

    APP_RECEIVED.clear()
    code, out, _ = run(["send", str(events_file), "--app", "delivery_sink:asgi_app", "--secret", SECRET,
                        "--format", "json"], capsys)
    assert code == 0
    assert json.loads(out)["delivered"] == 60
    assert APP_RECEIVED[:2] == ["evt_000000", "evt_000001"]


def test_resume_of_signed_run_needs_the_secret_again(sink: Sink, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import simulator.delivery as delivery

    monkeypatch.delenv("CHESTSIM_SECRET", raising=False)
    monkeypatch.delenv("CHESTSIM_TOKEN", raising=False)
    journal = tmp_path / "run.db"
    delivery.send(make_events(2), to=[sink.url], secrets=[SECRET], token=TOKEN, journal=journal)
    code, _, err = run(["send", "--resume", str(journal)], capsys)
    assert code == 2
    assert "was signed in the original run; give the secret again" in err
    code, _, err = run(["replay", str(journal), "--secret", SECRET], capsys)
    assert code == 2
    assert "sent a bearer token in the original run" in err
    code, out, _ = run(["replay", str(journal), "--secret", SECRET, "--token", TOKEN, "--format", "json"], capsys)
    assert code == 0
    assert json.loads(out)["delivered"] == 2


def broken_run(sink: Sink, tmp_path: Path, capsys: pytest.CaptureFixture[str],
               *flags: str) -> tuple[list[dict[str, object]], Path, Path]:
    """A journalled run stopped by a broken line 21 (exit 2), then the line mended: 20 events
    are delivered and 20 are left for ``--resume``."""
    events = make_events(40)
    lines = [json.dumps(e) for e in events]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([*lines[:20], '{"id": "evt_broken", ', *lines[21:]]) + "\n")
    journal = tmp_path / "run.db"
    code, _, err = run(["send", str(path), "--to", sink.url, "--journal", str(journal), *flags], capsys)
    assert code == 2, err
    assert "--resume" in err
    path.write_text("\n".join(lines) + "\n")
    return events, path, journal


ORIGINAL = ("--retry", "1s,1s,1s", "--time-scale", "0.01", "--concurrency", "3", "--timeout", "5s",
            "--rate", "500", "--secret", SECRET, "--token", TOKEN)


def test_resume_uses_the_original_runs_options(sink: Sink, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHESTSIM_SECRET", raising=False)
    monkeypatch.delenv("CHESTSIM_TOKEN", raising=False)
    events, _, journal = broken_run(sink, tmp_path, capsys, *ORIGINAL)
    sink.script = {"evt_000030": [500, 500, 500]}  # delivered at the 4th attempt of 1s,1s,1s
    code, out, err = run(["send", "--resume", str(journal), "--secret", SECRET, "--token", TOKEN,
                          "--format", "json"], capsys)
    assert code == 0, err
    assert err.splitlines() == ["chestsim send: resuming with the original run's options (--retry 1s,1s,1s, "
                                "--rate 500/s, --concurrency 3, --timeout 5s)"]
    summary = json.loads(out)
    assert (summary["delivered"], summary["retried"], summary["attempts"]) == (20, 1, 23)
    assert sink.ids().count("evt_000030") == 4
    assert sorted(sink.ids(ok_only=True)) == [e["id"] for e in events]
    # The journal stores the options but never a secret or a token.
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("run.db*"))
    assert b'"retry":"1.0,1.0,1.0"' in raw
    for needle in (SECRET, SECRET.removeprefix("whsec_"), TOKEN):
        assert needle.encode() not in raw


def test_flags_given_on_resume_override_the_stored_ones(sink: Sink, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHESTSIM_SECRET", SECRET)
    _, _, journal = broken_run(sink, tmp_path, capsys, *ORIGINAL[:-4])
    sink.script = {"evt_000030": [500]}
    code, out, err = run(["send", "--resume", str(journal), "--retry", "none", "--rate", "1000",
                          "--concurrency", "3", "--format", "json"], capsys)
    assert code == 1, err  # --retry none: the one 500 dead-letters evt_000030
    # --concurrency 3 is the stored value: given, but nothing to override.
    assert err.splitlines() == ["chestsim send: resuming with the original run's options (--concurrency 3, "
                                "--timeout 5s); --rate 1000/s given overrides 500/s, --retry none given "
                                "overrides 1s,1s,1s"]
    summary = json.loads(out)
    assert (summary["delivered"], summary["dead_lettered"], summary["attempts"]) == (19, 1, 20)
    assert sink.ids().count("evt_000030") == 1
    # The stored options stay the original run's: a second resume has nothing left to send,
    # and says so with the original options.
    code, _, err = run(["send", "--resume", str(journal)], capsys)
    assert code == 0
    assert "(--retry 1s,1s,1s, --rate 500/s, --concurrency 3, --timeout 5s)" in err
    assert SECRET.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("run.db*"))


def test_journal_without_stored_options_resumes_with_the_command_line(
        sink: Sink, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    monkeypatch.delenv("CHESTSIM_SECRET", raising=False)
    events, _, journal = broken_run(sink, tmp_path, capsys, "--retry", "none")
    with sqlite3.connect(journal) as db:  # as a chestsim from before stored options wrote it
        db.execute("DELETE FROM meta WHERE key='options'")
    db.close()
    sink.script = {"evt_000030": [500]}
    code, out, err = run(["send", "--resume", str(journal), "--retry", "1s", "--time-scale", "0.01",
                          "--format", "json"], capsys)
    assert code == 0, err
    assert err.splitlines() == ["chestsim send: this journal stores no delivery options (an older chestsim "
                                "wrote it); resuming with this command line's", UNSIGNED_NOTICE]
    assert json.loads(out)["retried"] == 1
    assert sorted(sink.ids(ok_only=True)) == [e["id"] for e in events]


@pytest.mark.parametrize("other", ["another-file", "same-path-rewritten", "shorter"])
def test_resume_refuses_another_input(sink: Sink, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch, other: str) -> None:
    monkeypatch.delenv("CHESTSIM_SECRET", raising=False)
    events, path, journal = broken_run(sink, tmp_path, capsys, "--retry", "none")
    sent = len(sink.received)
    original = path.read_bytes()
    if other == "another-file":
        given = write_jsonl(tmp_path / "e16.jsonl", make_events(40, prefix="new"))
        args = [str(given)]
    elif other == "same-path-rewritten":
        write_jsonl(path, make_events(40, prefix="new"))
        args = []
    else:
        given = write_jsonl(tmp_path / "short.jsonl", events[:5])
        args = [str(given)]
    code, _, err = run(["send", *args, "--resume", str(journal)], capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("chestsim: error: ")
    assert "another input" in lines[-1]
    assert f"the journal {journal} was started on" in lines[-1]
    assert len(sink.received) == sent, "nothing may be sent when the input is refused"
    # The input the run started on still resumes (given again, or found through the journal).
    path.write_bytes(original)
    code, out, err = run(["send", str(path), "--resume", str(journal), "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["delivered"] == 20
    assert sorted(sink.ids(ok_only=True)) == [e["id"] for e in events]


def test_send_help_states_the_duplicate_bound(capsys: pytest.CaptureFixture[str]) -> None:
    from simulator.delivery._journal import OUTCOME_BATCH

    assert main(["send", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"at most --concurrency + {OUTCOME_BATCH} deliveries per crash" in text


def test_endpoints_check_url_uses_the_secret_and_token(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHESTSIM_SECRET", raising=False)
    monkeypatch.delenv("CHESTSIM_TOKEN", raising=False)
    code, out, _ = run(["endpoints", "check", "http://127.0.0.1:9/h"], capsys)
    assert code == 0
    assert "signed=no  token=no" in out
    code, out, err = run(["endpoints", "check", "http://127.0.0.1:9/h", "--secret", SECRET, "--token", TOKEN],
                         capsys)
    assert code == 0
    assert "signed=yes  token=yes" in out
    assert SECRET not in out + err
    assert TOKEN not in out + err


def test_the_documented_endpoints_files_check(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/endpoints.toml and the example in `endpoints check --help` are valid as shown."""
    monkeypatch.delenv("CHESTSIM_SECRET", raising=False)
    monkeypatch.delenv("CHESTSIM_TOKEN", raising=False)
    example = Path(__file__).resolve().parents[2] / "examples" / "endpoints.toml"
    code, out, err = run(["endpoints", "check", str(example)], capsys)
    assert code == 0, err
    assert out.splitlines()[-1] == "2 endpoints ok"
    assert main(["endpoints", "check", "--help"]) == 0
    help_text = capsys.readouterr().out
    lines = help_text.splitlines()
    first = lines.index("      [[endpoint]]")
    block = lines[first:lines.index("", first)]
    shown = tmp_path / "shown.toml"
    shown.write_text("\n".join(line.strip() for line in block) + "\n")
    monkeypatch.setenv("SIEM_SECRET", SECRET)
    monkeypatch.setenv("SIEM_TOKEN", TOKEN)
    code, out, err = run(["endpoints", "check", str(shown), "--format", "json"], capsys)
    assert code == 0, err
    (row,) = json.loads(out)["endpoints"]
    assert (row["name"], row["signed"], row["token"], row["headers"], row["rate"]) == (
        "siem", True, True, ["X-Team"], 50.0)


def test_sending_unsigned_is_said_once_and_in_the_summary(sink: Sink, events_file: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHESTSIM_SECRET", raising=False)
    code, out, err = run(["send", str(events_file), "--to", sink.url], capsys)
    assert code == 0, err
    assert err.splitlines() == [UNSIGNED_NOTICE]
    assert out.splitlines()[-1] == UNSIGNED_NOTICE.removeprefix("chestsim send: ")
    assert "webhook-signature" not in sink.received[0].headers
    code, out, err = run(["send", str(events_file), "--to", sink.url, "--format", "json"], capsys)
    assert json.loads(out)["notes"] == [UNSIGNED_NOTICE.removeprefix("chestsim send: ")]
    # Signed (or deliberately mis-signed) runs say nothing of the kind.
    for flags in (["--secret", SECRET], ["--bad-signature"]):
        code, out, err = run(["send", str(events_file), "--to", sink.url, "--format", "json", *flags], capsys)
        assert code == 0, err
        assert err == ""
        assert json.loads(out)["notes"] == []
    assert "webhook-signature" in sink.received[-1].headers


APP_MODULE = '''
import os

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    with open(os.environ["APP_LOG"], "a") as log:
        log.write(dict(scope["headers"])[b"webhook-id"].decode() + "\\n")
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})
'''


def test_app_is_imported_from_the_current_folder(events_file: Path, tmp_path: Path) -> None:
    """As uvicorn does: the console script (whose sys.path[0] is its bin/ folder) finds ./webhooks_app.py."""
    console = Path(sys.executable).parent / "chestsim"
    work = tmp_path / "service"
    work.mkdir()
    (work / "webhooks_app.py").write_text(APP_MODULE)
    (work / "broken_app.py").write_text("raise RuntimeError('no DATABASE_URL')\n")
    env = {**os.environ, "APP_LOG": str(tmp_path / "app.log"), "CHESTSIM_SECRET": SECRET}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(console), "send", str(events_file), "--app", "webhooks_app:app", "--format", "json"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["delivered"] == 60
    assert len((tmp_path / "app.log").read_text().splitlines()) == 60
    done = subprocess.run([str(console), "send", str(events_file), "--app", "broken_app:app"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["chestsim: error: --app='broken_app:app': importing 'broken_app' failed: "
                                        "RuntimeError: no DATABASE_URL; fix the module so that it imports"]
    (work / "exiting_app.py").write_text("import sys\nsys.exit(3)\n")
    done = subprocess.run([str(console), "send", str(events_file), "--app", "exiting_app:app"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["chestsim: error: --app='exiting_app:app': importing 'exiting_app' failed: "
                                        "sys.exit(3); fix the module so that it imports"]


def test_replay_with_nothing_to_replay_says_so(sink: Sink, events_file: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    journal = tmp_path / "run.db"
    code, _, err = run(["send", str(events_file), "--to", sink.url, "--journal", str(journal), "--secret", SECRET],
                       capsys)
    assert code == 0, err
    received = len(sink.received)
    code, out, _ = run(["replay", str(journal), "--failed", "--secret", SECRET], capsys)
    assert (code, out) == (0, f"nothing to replay from {journal}: no delivery in it was dead-lettered\n")
    code, out, _ = run(["replay", str(journal), "--type", "idp.settings_updated", "--secret", SECRET], capsys)
    assert out == f"nothing to replay from {journal}: no event in it matches --type\n"
    code, out, _ = run(["replay", str(journal), "--failed", "--secret", SECRET, "--format", "json"], capsys)
    assert json.loads(out)["notes"] == ["nothing to replay: no delivery in it was dead-lettered"]
    assert len(sink.received) == received
    # With something to replay, the summary as before.
    code, out, _ = run(["replay", str(journal), "--event-id", "evt_000003", "--secret", SECRET], capsys)
    assert code == 0
    assert "delivered 1" in out
    assert sink.ids()[-1] == "evt_000003"


def test_a_run_waiting_on_retries_says_so(sink: Sink, events_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sink.script = {"evt_000000": [500]}
    code, _, err = run(["send", str(events_file), "--to", sink.url, "--retry", "1s", "--jitter", "0"], capsys)
    assert code == 0, err
    assert "chestsim: 59/60 ended; 1 waiting to retry, next in " in err
    assert len(err.strip().splitlines()) <= 3  # said when it moves, not as the countdown ticks


def test_resume_refuses_another_input_after_the_whole_input_was_read(
        sink: Sink, events_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    monkeypatch.delenv("CHESTSIM_SECRET", raising=False)
    journal = tmp_path / "run.db"
    code, _, err = run(["send", str(events_file), "--to", sink.url, "--journal", str(journal)], capsys)
    assert code == 0, err
    # As a crash leaves it after reading all of the input: the last 10 deliveries not recorded.
    with sqlite3.connect(journal) as db:
        assert db.execute("SELECT value FROM meta WHERE key='input_done'").fetchone() == ("1",)
        db.execute("DELETE FROM outcomes WHERE seq > 50")
    db.close()
    other = write_jsonl(tmp_path / "other.jsonl", make_events(60, prefix="new"))
    code, _, err = run(["send", str(other), "--resume", str(journal)], capsys)
    assert code == 2
    assert "another input" in err.splitlines()[-1]
    code, out, err = run(["send", str(events_file), "--resume", str(journal), "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["delivered"] == 10


def test_resume_needs_the_header_values_again(sink: Sink, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """--header values may be keys: the journal keeps the names only, and a resume refuses to
    go on without them rather than send requests the original run did not."""
    monkeypatch.setenv("CHESTSIM_SECRET", SECRET)
    value = "team-key-31337"
    events, _, journal = broken_run(sink, tmp_path, capsys, "--header", f"X-Team: {value}")
    assert {r.headers["x-team"] for r in sink.received} == {value}
    code, _, err = run(["send", "--resume", str(journal)], capsys)
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        f"chestsim: error: endpoint {sink.url!r} sent the header X-Team in the original run; give it again "
        "with --header 'Name: value' or the same --endpoints file (journals never store header values)")
    code, out, err = run(["send", "--resume", str(journal), "--header", f"X-Team: {value}", "--format", "json"],
                         capsys)
    assert code == 0, err
    assert json.loads(out)["delivered"] == 20
    assert sorted(sink.ids(ok_only=True)) == [e["id"] for e in events]
    assert {r.headers["x-team"] for r in sink.received} == {value}
    assert value.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("run.db*"))


def test_a_url_with_a_password_is_refused_without_quoting_it(events_file: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    password = "pw-0f-alice"
    url = f"http://alice:{password}@127.0.0.1:9/hook"
    toml = tmp_path / "endpoints.toml"
    toml.write_text(f'[[endpoint]]\nname = "a"\nurl = "{url}"\n')
    for args in (["send", str(events_file), "--to", url, "--secret", SECRET],
                 ["send", str(events_file), "--endpoints", str(toml)],
                 ["endpoints", "check", url],
                 ["endpoints", "check", str(toml)],
                 ["certify", url, "--secret", SECRET]):
        code, out, err = run(args, capsys)
        assert code == 2, (args, err)
        assert "user info" in err, err
        assert "***@127.0.0.1:9/hook" in err, err
        assert password not in out + err, args
        assert "alice" not in out + err, args
