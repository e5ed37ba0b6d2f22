"""The inspector's server side: filters and pages in SQLite (on 100k records, on indexes), its JSON
endpoints and their bounds, the live feed's bounds, and the page's escaping."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inspector_helpers import fill
from listener_helpers import SECRET, make_event, signed

from simulator._exceptions import InputError, UsageError
from simulator.cli import main
from simulator.listener import FaultRule, Latency, Listener, RunningListener, run_listener
from simulator.listener._inspection import Filters, Inspection, SeqIndex
from simulator.listener._stats import Stats
from simulator.listener._web import Inspector, render_page

BIG = 100_000


@pytest.fixture(scope="module")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100,000 records, written straight through SQLite (about a second)."""
    path = tmp_path_factory.mktemp("big") / "received.db"
    fill(path, BIG)
    return path


def test_the_memory_index_agrees_with_the_file(big_db: Path) -> None:
    index = SeqIndex()
    with Inspection(big_db, index=index) as look:
        look.page(Filters(verdict="leak"), limit=1)
    assert index.total == index.last == BIG
    with sqlite3.connect(big_db) as conn:
        for verdict, count in conn.execute("SELECT verdict, count(*) FROM records GROUP BY 1"):
            assert len(index.by_verdict[verdict]) == count
        pairs = conn.execute("SELECT event_type, verdict, count(*) FROM records GROUP BY 1, 2").fetchall()
    assert {(t, v): len(index.by_pair[(t, v)]) for t, v, _ in pairs} == {(t, v): n for t, v, n in pairs}
    assert all(list(numbers) == sorted(numbers) for numbers in index.by_type.values())


def test_the_memory_index_reads_only_rows_added_since(tmp_path: Path) -> None:
    db = tmp_path / "received.db"
    fill(db, 30)
    index = SeqIndex()
    with Inspection(db, index=index) as look:
        assert look.page(Filters(verdict="valid"), limit=5).matching == 22
    first = index.by_verdict["valid"]
    _append_copies(db, 12)  # another writer (the listener) appends rows 31..42, copies of 1..12
    with Inspection(db, index=index) as look:
        page = look.page(Filters(verdict="valid"), limit=5)
    assert page.matching == 22 + 8
    assert [r["seq"] for r in page.rows] == [38, 37, 36, 35, 34]
    assert index.total == index.last == 42
    assert index.by_verdict["valid"] is first  # topped up, not rebuilt


def test_reading_never_changes_the_file(tmp_path: Path) -> None:
    db = tmp_path / "received.db"
    fill(db, 50)
    before = db.read_bytes()
    with Inspection(db) as look, look.snapshot():
        look.page(Filters(type="secret.used", verdict="valid"), limit=5)
        look.page(Filters(text="msg_"), limit=5)
        look.counts()
        look.timeline()
        look.record(3)
    assert db.read_bytes() == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'"
                            ).fetchone()[0] == 0


def _append_copies(db: Path, count: int) -> None:
    with sqlite3.connect(db) as writer:
        writer.execute("INSERT INTO records SELECT NULL, received_at, method, path, remote, webhook_id, "
                       "event_id, event_type, tenant_id, event_time, status, verdict, signature, reason, "
                       "problems, fault, latency_ms, attempt, duplicate, out_of_order, headers, body, "
                       "body_size, handling_ms FROM records ORDER BY seq LIMIT ?", (count,))


def test_live_updates_read_only_the_new_rows(big_db: Path) -> None:
    with sqlite3.connect(big_db) as conn:
        plans = [row[3] for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT verdict, count(*) FROM records NOT INDEXED WHERE seq > ? GROUP BY 1",
            (BIG - 10,))]
    assert any("rowid>?" in p for p in plans), plans


def test_filters_find_exactly_what_matches_in_100k_records(big_db: Path) -> None:
    with Inspection(big_db) as look:
        everything = look.page(Filters(), limit=50)
        assert everything.matching == BIG
        assert [r["seq"] for r in everything.rows] == list(range(BIG, BIG - 50, -1))
        leaks = look.page(Filters(verdict="leak"), limit=500)
        assert leaks.matching == BIG // 12 + (BIG % 12 > 9)
        assert {r["verdict"] for r in leaks.rows} == {"leak"}
        used_leaks = look.page(Filters(type="secret.used", verdict="leak"), limit=500)
        assert {(r["event_type"], r["verdict"]) for r in used_leaks.rows} <= {("secret.used", "leak")}
        text = look.page(Filters(text="msg_0009999"), limit=500)
        assert sorted(r["webhook_id"] for r in text.rows) == [f"msg_{i:08d}" for i in range(99990, 100000)]
        tenant = look.page(Filters(text="tenant-96"), limit=5)
        assert tenant.matching == len(range(96, BIG, 97))
        assert look.page(Filters(text="no such id"), limit=5).matching == 0


@pytest.mark.parametrize("filters", [
    pytest.param(Filters(verdict="leak"), id="verdict"),
    pytest.param(Filters(type="secret.used", verdict="valid"), id="type-and-verdict"),
    pytest.param(Filters(text="tenant-5"), id="text"),
    pytest.param(Filters(), id="none"),
])
def test_pages_walk_every_match_once_newest_first(big_db: Path, filters: Filters) -> None:
    with Inspection(big_db) as look:
        seen: list[int] = []
        before = None
        for _ in range(60):  # bounded: 100,000 records in pages of 2,000 take 50 pages
            page = look.page(filters, before=before, limit=2000)
            seen += [r["seq"] for r in page.rows]
            if page.older is None:
                break
            before = page.older
        assert seen == sorted(seen, reverse=True)
        assert len(seen) == len(set(seen)) == page.matching


def test_counts_and_timeline_add_up(big_db: Path) -> None:
    with Inspection(big_db) as look:
        counts = look.counts()
        assert counts["total"] == BIG == sum(counts["by_type"].values())
        newer = look.counts(after=BIG - 12)
        assert newer["total"] == 12
        assert newer["by_verdict"]["valid"] == 8
        timeline = look.timeline(buckets=60)
        assert sum(n for _, _, n in timeline["counts"]) == BIG
        assert max(i for i, _, _ in timeline["counts"]) < 60
        recent = look.timeline(since=1_790_000_000 + 150)  # fill() receives 500 a second from then
        assert sum(n for _, _, n in recent["counts"]) == BIG - 150 * 500
        assert recent["width"] == 1.0
        assert min(i for i, _, _ in recent["counts"]) == 0
        assert look.timeline(since=2e9)["counts"] == []
        record = look.record(10)
        assert record is not None
        assert record["body"]["data"] == {"n": 9}
        assert record["headers"]
        assert look.record(BIG + 1) is None


@pytest.mark.parametrize(("query", "names"), [
    pytest.param({"type": "secret.usd"}, "type=", id="unknown-type"),
    pytest.param({"verdict": "nice"}, "verdict=", id="unknown-verdict"),
    pytest.param({"q": "x" * 201}, "q must", id="long-text"),
    pytest.param({"q": "a\x00b"}, "q must", id="control-character"),
])
def test_bad_filters_name_the_parameter(query: dict[str, str], names: str) -> None:
    with pytest.raises(UsageError, match=re.escape(names)):
        Filters.parse(query)


def test_a_file_that_is_not_a_record_file_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    with pytest.raises(InputError, match="not a chestsim listener record file"):
        Inspection(other)
    with pytest.raises(InputError, match="no such record file"):
        Inspection(tmp_path / "missing.db")


# -- the HTTP side -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "status"), [
    pytest.param("/_chestsim/api/records?limit=0", 400, id="limit-zero"),
    pytest.param("/_chestsim/api/records?limit=" + "9" * 5000, 400, id="limit-5000-digits"),
    pytest.param("/_chestsim/api/records?before=-1", 400, id="before-negative"),
    pytest.param("/_chestsim/api/records?before=%EF%BC%91", 400, id="before-fullwidth-digit"),
    pytest.param("/_chestsim/api/records?type=nope", 400, id="type-unknown"),
    pytest.param("/_chestsim/api/records/abc", 400, id="seq-not-a-number"),
    pytest.param("/_chestsim/api/records/" + "9" * 40, 400, id="seq-huge"),
    pytest.param("/_chestsim/api/records/12345", 404, id="seq-missing"),
    pytest.param("/_chestsim/api/feed?after=x", 400, id="feed-after-bad"),
])
async def test_bad_queries_get_a_400_naming_the_parameter(listener: RunningListener, client: aiohttp.ClientSession,
                                                          path: str, status: int) -> None:
    async with client.get(listener.base_url + path) as response:
        assert response.status == status
        doc = await response.json()
        assert doc["error"]
        assert "Traceback" not in doc["error"]
    assert listener.records() == []  # control endpoints are never recorded as deliveries


async def test_endpoints_serve_the_page_pages_and_one_record(listener: RunningListener,
                                                             client: aiohttp.ClientSession, post: object) -> None:
    bad = make_event("secret.used")
    bad["data"]["shard_map"]["threshold"] = 99
    for event in (make_event("user.created"), bad):
        body, headers = signed(event)
        async with client.post(listener.url, data=body, headers=headers) as response:
            assert response.status == 204
    async with client.get(listener.base_url + "/_chestsim") as response:  # redirected to the page
        assert response.status == 200
        assert response.content_type == "text/html"
        assert "chestsim inspector" in await response.text()
    async with client.get(listener.base_url + "/_chestsim/api/records?verdict=invalid") as response:
        page = await response.json()
    assert page["matching"] == 1
    assert page["records"][0]["webhook_id"] == bad["id"]
    async with client.get(listener.base_url + f"/_chestsim/api/records/{page['records'][0]['seq']}") as response:
        record = await response.json()
    assert record["problems"][0]["pointer"] == "/data/shard_map/threshold"
    assert record["body"]["data"]["shard_map"]["threshold"] == 99
    assert record["headers"]["webhook-signature"] == "[redacted]"
    assert record["signature"] == "ok"
    async with client.get(listener.base_url + "/_chestsim/api/summary") as response:
        summary = await response.json()
    assert summary["counts"]["by_verdict"] == {"valid": 1, "invalid": 1}
    assert summary["last"] == 2
    assert len(summary["types"]) == 24


@pytest.mark.parametrize(("host", "status"), [
    pytest.param("127.0.0.1:8080", 200, id="ipv4"),
    pytest.param("[::1]:8080", 200, id="ipv6"),
    pytest.param("localhost:8080", 200, id="localhost"),
    pytest.param("LOCALHOST", 200, id="localhost-upper-no-port"),
    pytest.param("rebound.example:8080", 403, id="dns-rebinding"),
    pytest.param("127.0.0.1.evil.example", 403, id="ip-looking-name"),
])
@pytest.mark.parametrize("path", ["/_chestsim/", "/_chestsim/api/records", "/_chestsim/api/feed?after=x",
                                  "/_chestsim/events", "/_chestsim/stats"])
async def test_the_inspector_answers_only_to_this_machines_names(
        listener: RunningListener, client: aiohttp.ClientSession, host: str, status: int, path: str) -> None:
    async with client.get(listener.base_url + path, headers={"Host": host}) as response:
        if status == 403:
            assert response.status == 403
            assert "not a name of this machine" in (await response.json())["error"]
        else:
            assert response.status in (200, 400)  # the feed's bad ``after`` is checked past the host


@pytest.fixture
async def inspector_server(tmp_path: Path) -> AsyncIterator[tuple[str, Path, Stats, asyncio.Event]]:
    """An Inspector alone on a loopback port, with short streams, over a record file of 5 rows."""
    db = tmp_path / "received.db"
    fill(db, 5)
    stats, stopping = Stats(), asyncio.Event()
    app = web.Application()
    Inspector(db, stats, stopping, feed_seconds=1.0, tick=0.05).register(app)
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", db, stats, stopping
    finally:
        stopping.set()
        await runner.cleanup()


async def _events(response: aiohttp.ClientResponse) -> list[dict[str, object]]:
    """Every ``update`` event until the server ends the stream."""
    text = (await response.read()).decode()
    return [orjson.loads(block.split("data: ", 1)[1]) for block in text.split("\n\n") if "event: update" in block]


async def test_feed_sends_what_is_new_then_ends_within_its_bound(
        inspector_server: tuple[str, Path, Stats, asyncio.Event], client: aiohttp.ClientSession) -> None:
    url, _db, _stats, _ = inspector_server
    async with client.get(url + "/_chestsim/api/feed?after=3&verdict=valid") as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        updates = await _events(response)  # returns: the stream ends after feed_seconds
    assert len(updates) == 1
    assert updates[0]["last"] == 5
    assert [r["seq"] for r in updates[0]["records"]] == [5, 4]  # type: ignore[index]
    assert updates[0]["counts"]["total"] == 2  # type: ignore[index]
    assert updates[0]["matched"] == 2


def test_a_live_updates_count_goes_past_its_rows(big_db: Path) -> None:
    with Inspection(big_db) as look:
        assert look.count_newer(Filters(verdict="valid"), BIG - 1200) == 800
        assert look.count_newer(Filters(text="msg_0009999"), BIG - 5) == 5


async def test_live_views_are_bounded(client: aiohttp.ClientSession, tmp_path: Path) -> None:
    db = tmp_path / "received.db"
    fill(db, 3)
    stopping = asyncio.Event()
    app = web.Application()
    Inspector(db, Stats(), stopping, feed_seconds=5.0, max_feeds=2).register(app)
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}/_chestsim/api/feed"
    try:
        first = await client.get(base)
        second = await client.get(base)
        async with client.get(base) as third:
            assert third.status == 503
            assert "live views are open already" in (await third.json())["error"]
        assert first.status == second.status == 200
        first.close()
        second.close()
    finally:
        stopping.set()
        await runner.cleanup()


async def test_an_unreadable_file_is_a_503_never_a_recorded_error(
        inspector_server: tuple[str, Path, Stats, asyncio.Event], client: aiohttp.ClientSession) -> None:
    url, db, _, _ = inspector_server
    db.unlink()
    for path in ("/_chestsim/api/records", "/_chestsim/api/summary", "/_chestsim/api/records/1",
                 "/_chestsim/api/feed"):
        async with client.get(url + path) as response:
            assert response.status == 503
            assert (await response.json())["error"].startswith("cannot read the record file (")


async def test_feed_resumes_from_last_event_id(inspector_server: tuple[str, Path, Stats, asyncio.Event],
                                               client: aiohttp.ClientSession) -> None:
    url, *_ = inspector_server
    async with client.get(url + "/_chestsim/api/feed?after=0", headers={"Last-Event-ID": "4"}) as response:
        updates = await _events(response)
    assert [r["seq"] for r in updates[0]["records"]] == [5]  # type: ignore[index]


async def test_feed_ends_when_the_listener_stops(inspector_server: tuple[str, Path, Stats, asyncio.Event],
                                                 client: aiohttp.ClientSession) -> None:
    url, _, _, stopping = inspector_server
    async with client.get(url + "/_chestsim/api/feed", timeout=aiohttp.ClientTimeout(total=30)) as response:
        await response.content.readuntil(b"\n\n")  # the retry line: the stream is open
        stopping.set()
        rest = await asyncio.wait_for(response.read(), 10)
    assert b"event: update" not in rest


@pytest.mark.parametrize("hostile", [
    pytest.param("</script><script>window.pwned=1</script>", id="closing-script"),
    pytest.param("{{script}}{{data}}", id="placeholders"),
    pytest.param("<!--", id="html-comment"),
    pytest.param("\u2028\u2029", id="line-separators"),
])
def test_embedded_data_cannot_leave_its_script_element(hostile: str) -> None:
    page = render_page(data={"mode": "report", "records": [{"body": {"note": hostile}}]})
    data = re.search(r'<script type="application/json" id="chestsim-data">(.*?)</script>', page, re.S)
    assert data is not None
    assert orjson.loads(data.group(1))["records"][0]["body"]["note"] == hostile
    assert page.count("<script") == 2
    assert page.count("</script>") == 2


def test_a_snapshot_does_not_see_rows_committed_during_it(tmp_path: Path) -> None:
    db = tmp_path / "received.db"
    fill(db, 10)
    with Inspection(db) as look, look.snapshot():
        last = look.last_seq()
        _append_copies(db, 5)  # another writer commits meanwhile
        assert look.counts(after=0)["total"] == last == 10
        assert look.newer(Filters(), 8, limit=100)[0]["seq"] == 10
    with Inspection(db) as look:
        assert look.last_seq() == 15


# -- chestsim inspect ----------------------------------------------------------------------------------


async def test_inspect_names_both_latencies(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rule = FaultRule(latency=Latency.parse("40ms"))
    async with run_listener(Listener(secrets=(SECRET,), db=db, faults=(rule,))) as running, \
            aiohttp.ClientSession() as session:
        body, headers = signed(make_event("secret.used"))
        async with session.post(running.url, data=body, headers=headers) as response:
            assert response.status == 204
    assert main(["inspect", str(db), "--last", "1"]) == 0
    out = capsys.readouterr().out
    assert "the listener's own handling time, + what --latency injected" in out
    assert re.search(r"own \d+\.\dms \+ 40\.0ms injected", out), out


@pytest.mark.parametrize(("args", "names"), [
    pytest.param(["--html", "{tmp}/missing/report.html"], "--html=", id="missing-folder"),
    pytest.param(["--html", "{tmp}"], "--html=", id="a-folder"),
    pytest.param(["--html", "{tmp}/r.html", "--html-limit", "0"], "--html-limit=0", id="limit-zero"),
    pytest.param(["--html", "{tmp}/r.html", "--html-limit", "100001"], "--html-limit=100001", id="limit-huge"),
])
def test_inspect_html_refuses_bad_flags_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     args: list[str], names: str) -> None:
    db = tmp_path / "received.db"
    fill(db, 3)
    assert main(["inspect", str(db), *[a.format(tmp=tmp_path) for a in args]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("chestsim: error: ")
    assert names in err
    assert not (tmp_path / "r.html").exists()


def test_inspect_html_writes_the_filtered_view(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, out = tmp_path / "received.db", tmp_path / "report.html"
    fill(db, 120)
    assert main(["inspect", str(db), "--verdict", "invalid", "--last", "0", "--html", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err
    data = re.search(r'id="chestsim-data">(.*?)</script>', out.read_text(), re.S)
    assert data is not None
    doc = orjson.loads(data.group(1))
    assert doc["mode"] == "report"
    assert doc["matching"] == 10 == len(doc["records"])
    assert {r["verdict"] for r in doc["records"]} == {"invalid"}
    assert doc["counts"]["total"] == 120
    assert doc["filters"]["verdict"] == "invalid"
    assert not list(tmp_path.glob(".report.html.*"))  # written whole, then renamed


def test_a_live_update_looks_for_text_in_the_new_rows_only(big_db: Path) -> None:
    clauses, params = Filters(text="tenant-5").where()
    with sqlite3.connect(big_db) as conn:
        plans = [row[3] for row in conn.execute(
            f"EXPLAIN QUERY PLAN SELECT seq FROM records WHERE {clauses[0]} AND seq > ? ORDER BY seq DESC",
            [*params, BIG - 50])]
    assert plans == ["SEARCH records USING INTEGER PRIMARY KEY (rowid>?)"]
    with Inspection(big_db) as look:
        rows = look.newer(Filters(text="tenant-5"), BIG - 200, limit=100)
    assert rows
    assert all("tenant-5" in r["tenant_id"] for r in rows)
    assert all(r["seq"] > BIG - 200 for r in rows)


def test_browser_tests_fail_in_one_line_without_chromium(tmp_path: Path) -> None:
    here = Path(__file__).resolve().parent
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"{here / 'test_inspector_browser.py'}::test_page_loads_with_no_console_errors"],
        env={**os.environ, "CHESTSIM_CHROMIUM": str(tmp_path / "no-chromium")}, cwd=here.parent.parent,
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert f"no Chromium at {tmp_path / 'no-chromium'}: install it with `make browser`" in proc.stdout
    assert "skipped" not in proc.stdout
    assert "Traceback" not in proc.stdout
