"""Sequence rules across a stream, the snapshot, and lenient vs strict unknown references."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from validation_examples import example, jsonl

from simulator import InputError
from simulator.validation import SequenceChecker, validate

ALICE = example("user.created")["data"]["user"]


def ident(n: int) -> str:
    return str(uuid.UUID(int=n, version=4))


def user(n: int) -> dict[str, Any]:
    return {"id": ident(n), "email": f"user{n}@northwind-labs.com", "display_name": f"User {n}"}


def event(kind: str, data: dict[str, Any], n: int = 0) -> dict[str, Any]:
    ev = example(kind)
    ev["id"] = f"evt_{n:020d}"
    ev["data"] = data
    return ev


def user_created(n: int) -> dict[str, Any]:
    full = copy.deepcopy(ALICE)
    full.update(user(n))
    return event("user.created", {"user": full, "created_by": {"kind": "admin"}}, n)


def user_deleted(n: int) -> dict[str, Any]:
    full = copy.deepcopy(ALICE)
    full.update(user(n))
    return event("user.deleted", {"user": full, "reason": "admin", "deleted_by": {"kind": "admin"},
                                  "deleted_at": "2026-11-28T12:00:00.000Z"}, n)


def device(n: int, owner: int) -> dict[str, Any]:
    ev = example("device.registered")
    ev["data"]["device"]["id"] = ident(n)
    ev["data"]["device"]["owner"] = user(owner)
    return ev


def secret_created(n: int, owner: int, devices: list[int]) -> dict[str, Any]:
    ev = example("secret.created")
    ev["data"]["secret"]["id"] = ident(n)
    ev["data"]["secret"]["owner"] = user(owner)
    ev["data"]["shard_map"] = shard_map(n, owner, devices)
    return ev


def shard_map(secret: int, owner: int, devices: list[int], map_id: int = 900) -> dict[str, Any]:
    return {"id": ident(map_id + secret), "secret_id": ident(secret), "threshold": 1, "total": len(devices),
            "shards": [{"index": i, "device_id": ident(d), "user_id": ident(owner)}
                       for i, d in enumerate(devices, 1)]}


def secret_used(secret: int, owner: int, devices: list[int], used: list[int]) -> dict[str, Any]:
    ev = example("secret.used")
    ev["data"]["secret"]["id"] = ident(secret)
    ev["data"]["used_by"] = user(owner)
    ev["data"]["shard_map"] = shard_map(secret, owner, devices)
    ev["data"]["device_ids"] = [ident(d) for d in used]
    return ev


def pending(kind: str, pending_id: int, share: int, secret: int, sender: int, recipient: int) -> dict[str, Any]:
    ev = example(kind)
    data = ev["data"]
    data.update(pending_share_id=ident(pending_id), share_id=ident(share), sender=user(sender),
                recipient=user(recipient))
    data["secret"]["id"] = ident(secret)
    data.pop("shard_map_id", None)
    data["shard"].pop("device_id", None)
    return ev


def share_began(share: int, secret: int, sender: int, recipients: list[int]) -> dict[str, Any]:
    ev = example("secret.share.began", "minimal")
    data = ev["data"]
    data.update(share_id=ident(share), sender=user(sender),
                recipients={"kind": "users", "users": [user(r) for r in recipients]})
    data["secret"]["id"] = ident(secret)
    data.pop("shard_map_id", None)
    return ev


def share_completed(share: int, secret: int, sender: int, recipient: int) -> dict[str, Any]:
    ev = example("secret.share.completed", "minimal")
    data = ev["data"]
    data.update(share_id=ident(share), sender=user(sender), recipient=user(recipient))
    data["secret"]["id"] = ident(secret)
    return ev


def base() -> list[dict[str, Any]]:
    """Two users, a device each, a secret of user 1 on both devices."""
    return [user_created(1), user_created(2), device(11, 1), device(12, 2), secret_created(21, 1, [11, 12])]


def rules(events: list[dict[str, Any]], **options: Any) -> list[tuple[int, str, str]]:
    checker = SequenceChecker(**options)
    return [(n, f.rule, f.problem.severity) for n, ev in enumerate(events, 1) for f in checker.feed(ev, f"s:{n}")]


def test_a_consistent_stream_breaks_no_rule() -> None:
    stream = [*base(), share_began(31, 21, 1, [2]), pending("pending_share.created", 41, 31, 21, 1, 2),
              pending("pending_share.accepted", 41, 31, 21, 1, 2), share_completed(31, 21, 1, 2),
              secret_used(21, 1, [11, 12], [11])]
    assert rules(stream, mode="strict") == []


@pytest.mark.parametrize(
    ("tail", "rule"),
    [
        pytest.param([user_deleted(2), share_began(31, 21, 1, [2])], "deleted-user-appears", id="deleted-user-appears"),
        pytest.param([user_deleted(2), device(13, 2)], "deleted-user-appears", id="deleted-user-registers-device"),
        pytest.param([user_created(1)], "user-introduced-twice", id="user-created-twice"),
        pytest.param([pending("pending_share.accepted", 41, 31, 21, 1, 2),
                      pending("pending_share.created", 41, 31, 21, 1, 2)],
                     "pending_share-introduced-after-end", id="pending-accepted-before-created"),
        pytest.param([share_began(31, 21, 1, [2]), pending("pending_share.created", 41, 31, 21, 1, 2),
                      pending("pending_share.accepted", 41, 31, 21, 1, 2),
                      pending("pending_share.rejected", 41, 31, 21, 1, 2)],
                     "pending_share-ended-twice", id="pending-accepted-then-rejected"),
        pytest.param([share_completed(31, 21, 1, 2), share_began(31, 21, 1, [2])],
                     "share-used-before-introduced", id="share-completed-before-began"),
        pytest.param([secret_used(21, 1, [11, 13], [13])], "device-not-in-current-shard-map",
                     id="used-device-not-in-current-map"),
    ],
)
def test_a_broken_rule_is_an_error_in_both_modes(tail: list[dict[str, Any]], rule: str) -> None:
    for mode in ("lenient", "strict"):
        found = rules([*base(), *tail], mode=mode)
        assert (rule, "error") in {(r, s) for _, r, s in found}, found


def test_deleted_secret_stops_appearing() -> None:
    deleted = example("secret.deleted")
    deleted["data"]["secret"]["id"] = ident(21)
    deleted["data"]["deleted_by"] = user(1)
    deleted["data"]["shard_map"] = shard_map(21, 1, [11, 12])
    deleted["data"]["device_ids"] = [ident(11)]
    found = rules([*base(), deleted, secret_used(21, 1, [11, 12], [11])], mode="strict")
    assert found[0][1] == "deleted-secret-appears"
    assert found[0][0] == 7


def test_references_to_never_introduced_entities_are_warnings_unless_strict() -> None:
    stream = [share_completed(31, 21, 1, 2)]
    lenient = rules(stream)
    assert {r for _, r, _ in lenient} == {"unknown-share", "unknown-secret", "unknown-user"}
    assert {s for _, _, s in lenient} == {"warning"}
    assert {s for _, _, s in rules(stream, mode="strict")} == {"error"}


def test_the_snapshot_introduces_entities(tmp_path: Path) -> None:
    snapshot = {"users": [ident(1), {"id": ident(2), "email": "b@x.io"}], "secrets": [ident(21)],
                "shares": [{"share_id": ident(31)}]}
    assert rules([share_completed(31, 21, 1, 2)], mode="strict", snapshot=snapshot) == []
    path = tmp_path / "snapshot.json"
    path.write_bytes(orjson.dumps(snapshot))
    assert rules([share_completed(31, 21, 1, 2)], mode="strict", snapshot=path) == []


def test_an_earlier_stream_can_be_the_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "before.jsonl"
    path.write_bytes(jsonl(*base()))
    assert rules([secret_used(21, 1, [11, 12], [12])], mode="strict", snapshot=str(path)) == []


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b"[1, 2", "not JSON", id="broken-json"),
        pytest.param(b"42", "JSON object of entity lists", id="a-number"),
    ],
)
def test_a_bad_snapshot_is_an_input_error(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "snap.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=fragment):
        SequenceChecker(snapshot=str(path))


def test_a_missing_snapshot_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot be read"):
        SequenceChecker(snapshot=str(tmp_path / "nope.json"))


def test_bad_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="lenient or strict"):
        SequenceChecker(mode="sloppy")  # type: ignore[arg-type]


def test_validate_reports_the_first_offending_event_per_rule_and_counts_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl"
    path.write_bytes(jsonl(*base(), user_deleted(2), share_began(31, 21, 1, [2]), share_began(32, 21, 1, [2]),
                           share_began(33, 21, 1, [2])))
    report = validate([path], sequence="lenient")
    sequence = [e for e in report.entries if e.problem.code == "sequence"]
    assert [(e.line, e.repeats) for e in sequence] == [(7, 2)]
    assert report.invalid == 3
    assert report.exit_code == 1


def test_validate_without_sequence_does_not_check_it(tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl"
    path.write_bytes(jsonl(share_completed(31, 21, 1, 2)))
    assert validate([path]).entries == []
    lenient = validate([path], sequence="lenient")
    assert lenient.exit_code == 0
    assert lenient.warnings == 3
    assert validate([path], sequence="strict").exit_code == 1


def scim(created: list[int], pruned: list[int]) -> dict[str, Any]:
    ev = example("scim.updated")
    template = ev["data"]["users_created"][0]
    ev["data"]["users_created"] = [dict(template, **user(n)) for n in created]
    ev["data"]["users_pruned"] = [dict(template, **user(n)) for n in pruned]
    return ev


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param([user_created(5), user_deleted(1), scim([5], [1])], id="summary-after-the-user-events"),
        pytest.param([scim([5], [1]), user_created(5), user_deleted(1)], id="summary-before-the-user-events"),
        pytest.param([scim([5], [1])], id="summary-alone"),
    ],
)
def test_a_scim_summary_is_idempotent_with_user_events(stream: list[dict[str, Any]]) -> None:
    assert rules([*base(), *stream], mode="strict") == []


def test_a_user_pruned_by_scim_stops_appearing() -> None:
    found = rules([*base(), scim([], [2]), share_began(31, 21, 1, [2])], mode="strict")
    assert [(n, r) for n, r, _ in found] == [(7, "deleted-user-appears")]
