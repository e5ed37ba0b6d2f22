"""Write the 24 full examples (``schemas/examples/<type>/full.json``) from one seeded tenant story.

Every full example is an event the simulator made while one tenant lived one morning, so the
examples agree with each other: the group share that began is the one that completed, the
installation map posted when a secret was created is the one deleted when a share replaced it,
the SCIM-created user was created by SCIM. In the order below they form one stream that passes
``chestsim validate --sequence-strict --snapshot scripts/examples.snapshot.json``: every entity
an example mentions was introduced by an earlier example or exists in that snapshot (the tenant
as it stood when the story began, also written here).

    python scripts/make_examples.py            # rewrite the files
    python scripts/make_examples.py --out DIR  # write them under DIR instead (DIR/<type>/full.json)

The minimal examples are written by hand and left alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simulator.model import Tenant

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261216
#: The examples in the order they happened: a natural order for one stream.
ORDER = (
    "idp.settings_updated", "user.created", "scim.updated", "device.registered", "group.created",
    "secret.created", "installation_map.posted", "user_shards.posted", "user_shards.deleted",
    "secret.used", "secret.temp_stored.retrieved", "secret.share.began", "backend_message.posted",
    "pending_share.created", "pending_share.accepted", "installation_map.deleted",
    "secret.share.completed", "backend_message.archived", "pending_share.rejected",
    "secret.multi_share.began", "secret.multi_share.completed", "secret.deleted", "group.deleted",
    "user.deleted",
)


class Story:
    """Runs tenant actions and keeps, for each example type, the event the story names."""

    def __init__(self, tenant: Tenant) -> None:
        self.t = tenant
        self.picked: dict[str, dict[str, Any]] = {}

    @contextmanager
    def keep(self, *types: str) -> Iterator[None]:
        """Keep the first event of each of ``types`` emitted inside the block."""
        with self.t.record() as box:
            yield
        for type_ in types:
            event = next((e for e in box if e["type"] == type_), None)
            if event is None:
                raise SystemExit(f"make_examples: the story made no {type_} event")
            if type_ in self.picked:
                raise SystemExit(f"make_examples: {type_} was already kept")
            self.picked[type_] = json.loads(json.dumps(event))


def story(seed: int = SEED) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The snapshot the story starts from, and the 24 examples in the order they happened."""
    t = Tenant(seed=seed, users=8, groups=2, devices_per_user=3)
    for _ in t.drain():
        pass
    alice, bob, carol, dave, frank = t.users[:5]
    # Before the story: the secrets it uses exist, on their owners' devices, and Dave has offered
    # Carol a shard of one of his; she has not answered yet.
    root = t.create_secret(alice, "AWS production root")
    password = t.create_secret(bob, "Okta admin")
    old = t.create_secret(dave, "Office wifi")
    offered = t.create_secret(dave, "Snowflake analytics")
    t.think(7200)
    prelude = t.share(dave, offered, to=[carol])
    t.think(3600)
    for _ in t.drain():
        pass
    snapshot = t.snapshot()

    s = Story(t)
    with s.keep("idp.settings_updated"):
        t.update_idp(by=alice, enforce_sso=not (t.idp or {}).get("enforce_sso", False))
    t.think(1800)
    with s.keep("user.created", "scim.updated"):
        t.scim_sync(hires=1, leavers=0)
    erin = t.users[-1]
    t.think(900)
    with s.keep("device.registered"):
        t.register_device(erin, type="iphone")
    t.think(600)
    with s.keep("group.created"):
        oncall = t.create_group("On-call", members=[alice, bob, erin], description="Weekly on-call rotation")
    t.think(300)
    with s.keep("secret.created", "installation_map.posted", "user_shards.posted", "user_shards.deleted"):
        pager = t.create_secret(alice, "PagerDuty integration key")
    t.think(120)
    with s.keep("secret.used"):
        t.use(alice, pager, purpose="api")
    t.think(300)
    with s.keep("secret.temp_stored.retrieved"):
        t.autofill(password.owner, password)
    t.think(600)
    with s.keep("secret.share.began", "backend_message.posted", "pending_share.created"):
        share = t.share(alice, pager, to=oncall)
    t.think(900)
    with s.keep("pending_share.accepted", "installation_map.deleted", "secret.share.completed"):
        t.accept(next(p for p in share.pending if p.recipient is bob))
    t.think(1200)
    with s.keep("backend_message.archived"):
        t.reject(next(p for p in share.pending if p.recipient is erin), reason="Not on call this quarter")
    t.think(600)
    with s.keep("pending_share.rejected"):
        t.reject(prelude.pending[0], reason="Already have access")
    t.think(900)
    with s.keep("secret.multi_share.began"):
        multi = t.multi_share(alice, root, to=[carol, dave], threshold=2)
    t.think(600)
    with s.keep("secret.multi_share.completed"):
        t.accept(multi.pending[0])
    t.think(600)
    t.respond(multi, accept=1.0)
    t.think(1800)
    with s.keep("secret.deleted"):
        t.delete_secret(old, by=dave)
    t.think(1800)
    with s.keep("group.deleted"):
        t.delete_group(next(g for g in t.groups if g is not oncall), by=alice)
    t.think(3600)
    with s.keep("user.deleted"):
        t.offboard(frank, reason="admin", by=alice)
    return snapshot, [s.picked[key] for key in ORDER]


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="write DIR/<type>/full.json and DIR/examples.snapshot.json instead of the repo's")
    args = parser.parse_args(argv)
    snapshot, examples = story()
    examples_dir = args.out or ROOT / "schemas" / "examples"
    snapshot_path = (args.out or ROOT / "scripts") / "examples.snapshot.json"
    for event in examples:
        path = examples_dir / event["type"] / "full.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump(event), encoding="utf-8")
    snapshot_path.parent.mkdir(parents=True, exist_ok=True)
    snapshot_path.write_text(_dump(snapshot), encoding="utf-8")
    print(f"wrote {len(examples)} full examples to {examples_dir} and the snapshot to {snapshot_path}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
