"""``/_chestsim/stats`` and ``/_chestsim/events``, the record store, and the thread/process modes."""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import httpx
import pytest
from listener_helpers import SECRET, Post, make_event, signed

from simulator._exceptions import InputError, UsageError
from simulator.listener import Listener, ListenerThread, RecordStore, RunningListener, run_listener

pytestmark = pytest.mark.integration


async def _fill(running: RunningListener, post: Post) -> None:
    await post(running.url, *signed(make_event("secret.used")))
    await post(running.url, *signed(make_event("user.created")))
    bad = make_event("secret.used")
    bad["data"]["shard_map"]["threshold"] = 99
    await post(running.url, *signed(bad))
    await post(running.url, *signed(make_event(), timestamp=1))


async def test_stats(listener: RunningListener, post: Post, client: aiohttp.ClientSession) -> None:
    await _fill(listener, post)
    async with client.get(listener.base_url + "/_chestsim/stats") as response:
        assert response.status == 200
        stats = await response.json()
    assert stats["requests"] == 4
    assert stats["by_verdict"] == {"valid": 2, "invalid": 1, "unverified": 1}
    assert stats["by_status"] == {"204": 3, "401": 1}
    assert stats["by_type"]["secret.used"] == 2
    assert stats["signature_failures"] == {"stale": 1}
    assert stats["committed"] == 4
    assert stats["url"] == listener.url
    assert set(stats["latency_ms"]) == {"mean", "p50", "p90", "p99", "max"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["unverified", "invalid", "valid", "valid"]),
        ("?verdict=valid", ["valid", "valid"]),
        ("?type=Secret%20Used", ["invalid", "valid"]),
        ("?type=secret.used&verdict=invalid", ["invalid"]),
        ("?limit=1", ["unverified"]),
    ],
    ids=["all", "verdict", "type-label", "both", "limit"],
)
async def test_events_filters(listener: RunningListener, post: Post, client: aiohttp.ClientSession,
                              query: str, expected: list[str]) -> None:
    await _fill(listener, post)
    async with client.get(listener.base_url + "/_chestsim/events" + query) as response:
        assert response.status == 200
        doc = await response.json()
    assert [e["verdict"] for e in doc["events"]] == expected
    assert doc["count"] == len(expected)
    first = doc["events"][-1]
    assert first["body"]["type"] in ("secret.used", "user.created")
    assert first["headers"]["webhook-signature"] == "[redacted]"


@pytest.mark.parametrize("query", ["?verdict=nice", "?type=secret.usd", "?limit=0", "?limit=abc",
                                   "?limit=5000"],
                         ids=["verdict", "type", "limit-0", "limit-word", "limit-big"])
async def test_events_bad_parameters(listener: RunningListener, client: aiohttp.ClientSession,
                                     query: str) -> None:
    async with client.get(listener.base_url + "/_chestsim/events" + query) as response:
        assert response.status == 400
        assert "error" in await response.json()


async def test_record_store_summary(listener: RunningListener, post: Post, db: Path) -> None:
    await _fill(listener, post)
    with RecordStore(db) as store:
        summary = store.summary()
        assert store.count() == 4
        assert store.count(verdict="valid") == 2
        assert len(store.acknowledged_ids()) == 3
        assert [r.seq for r in store] == [1, 2, 3, 4]
    assert summary.total == 4
    assert summary.by_verdict == {"valid": 2, "invalid": 1, "unverified": 1}
    assert any(key.startswith("semantic") for key in summary.problems)


def test_record_store_refuses_other_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such record file"):
        RecordStore(tmp_path / "missing.db")
    (tmp_path / "text.db").write_text("hello")
    with pytest.raises(InputError, match="not a chestsim listener record file"):
        RecordStore(tmp_path / "text.db")


@pytest.mark.parametrize(
    "options",
    [{"path": "webhooks"}, {"path": "/_chestsim/x"}, {"port": 70000}, {"max_body": 0}, {"tolerance": -1},
     {"token": " "}, {"token": "a\nb"}],
    ids=["relative-path", "control-path", "port", "max-body", "tolerance", "blank-token", "newline-token"],
)
def test_listener_config_refuses(options: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        Listener(**options)  # type: ignore[arg-type]


def test_token_is_not_in_repr() -> None:
    assert "s3cr3t" not in repr(Listener(token="s3cr3t", secrets=(SECRET,)))


async def test_busy_port_is_a_usage_error(listener: RunningListener, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot listen"):
        async with run_listener(Listener(port=listener.port, db=tmp_path / "other.db")):
            pass


def test_listener_thread_for_synchronous_code(tmp_path: Path) -> None:
    with ListenerThread(Listener(secrets=(SECRET,), db=tmp_path / "r.db")) as running, httpx.Client() as http:
        body, headers = signed(make_event())
        response = http.post(running.url, content=body, headers=headers)
        assert response.status_code == 204
        assert running.snapshot()["requests"] == 1
        assert [r.verdict for r in running.records()] == ["valid"]
    assert RecordStore(tmp_path / "r.db").count() == 1


def test_temporary_record_file_is_removed() -> None:
    with ListenerThread() as running:
        db = running.db
        assert db.exists()
    assert not db.exists()


async def test_offloaded_writer_process_gives_the_same_answers(db: Path, post: Post) -> None:
    config = Listener(secrets=(SECRET,), db=db, offload=True, reject_invalid=True)
    async with run_listener(config) as running:
        leak = make_event()
        leak["data"]["password"] = "hunter2hunter2"
        bad = make_event()
        bad["data"]["shard_map"]["threshold"] = 99
        answers = [(await post(running.url, *signed(e)))[:2] for e in (make_event(), bad, leak)]
        assert [(status, h["x-chestsim-verdict"]) for status, h in answers] == [
            (204, "valid"), (422, "invalid"), (422, "leak")]
        assert (await post(running.url, *signed(b"nope")))[0] == 400
        records = running.records()
    assert [r.verdict for r in records] == ["valid", "invalid", "leak", "malformed"]
    assert b"hunter2hunter2" not in b"".join(p.read_bytes() for p in db.parent.glob("received.db*"))


async def test_fsync_mode_records_the_same(db: Path, post: Post) -> None:
    async with run_listener(Listener(secrets=(SECRET,), db=db, fsync=True)) as running:
        assert (await post(running.url, *signed(make_event())))[0] == 204
        assert [r.verdict for r in running.records()] == ["valid"]


async def test_offloaded_faults_match_inline_faults(tmp_path: Path, post: Post) -> None:
    from simulator.listener import FaultRule

    events = [make_event() for _ in range(20)]
    answers = []
    for offload in (False, True):
        config = Listener(secrets=(SECRET,), db=tmp_path / f"{offload}.db", offload=offload, seed=5,
                          faults=(FaultRule(fail_rate=0.5, fail_statuses=(502, 503)),))
        async with run_listener(config) as running:
            answers.append([(await post(running.url, *signed(e)))[0] for e in events])
    assert answers[0] == answers[1]


def _has_ipv6() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback here")
async def test_ipv6_loopback_url_has_brackets(tmp_path: Path, post: Post) -> None:
    async with run_listener(Listener(host="::1", secrets=(SECRET,), db=tmp_path / "r.db")) as running:
        assert running.url.startswith("http://[::1]:")
        assert (await post(running.url, *signed(make_event())))[0] == 204


@pytest.mark.skipif(not hasattr(os, "getpgid"), reason="process groups are POSIX")
async def test_the_writer_process_is_out_of_reach_of_a_terminal_ctrl_c(db: Path) -> None:
    # A terminal's Ctrl-C goes to its foreground process group: in a group of its own, the
    # writer cannot be killed by one while it starts, before it ignores SIGINT.
    async with run_listener(Listener(secrets=(SECRET,), db=db, offload=True)) as running:
        worker = running._server.recorder._proc  # type: ignore[attr-defined]
        assert os.getpgid(worker.pid) == worker.pid
        assert os.getpgid(worker.pid) != os.getpgrp()


async def test_a_dead_writer_process_means_500_never_a_false_acknowledgement(
        db: Path, post: Post, capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import signal

    async with run_listener(Listener(secrets=(SECRET,), db=db, offload=True)) as running:
        assert (await post(running.url, *signed(make_event())))[0] == 204
        worker = running._server.recorder._proc  # type: ignore[attr-defined]
        os.kill(worker.pid, signal.SIGKILL)
        await worker.wait()
        statuses = [(await post(running.url, *signed(make_event())))[0] for _ in range(3)]
        assert statuses == [500, 500, 500]
        assert running.snapshot()["by_verdict"]["error"] == 3
    assert "answering 500" in capsys.readouterr().err
    with RecordStore(db) as store:
        assert store.count() == 1
