"""The reference for ``bench_locust``: a bare ``FastHttpUser`` posting one constant body.

It sends what the firehose user sends (one event envelope, JSON, same path)
but prepares nothing per request: no fresh id, no timestamp, no signature.
``BARE_BODY_FILE`` names the body to post (the bench writes one firehose body there).
"""

from __future__ import annotations

import os
from pathlib import Path

from locust import FastHttpUser, task

_BODY = Path(os.environ["BARE_BODY_FILE"]).read_bytes() if os.environ.get("BARE_BODY_FILE") else b"{}"
_HEADERS = {"content-type": "application/json"}


class BareUser(FastHttpUser):
    """Posts the same bytes again and again."""

    def wait_time(self) -> float:
        return 0.0

    @task
    def post(self) -> None:
        self.client.post("/webhooks", data=_BODY, headers=_HEADERS, name="bare")
