"""The references for ``bench_locust``: a bare ``FastHttpUser`` posting one constant body.

It posts what the firehose user posts (one event envelope, JSON, same path)
but prepares nothing per request: no fresh id, no timestamp, no signature.
``BARE_BODY_FILE`` names the body to post; ``BARE_HEADERS_FILE`` (optional, a
JSON object) adds constant headers, e.g. one firehose request's ``webhook-*``
headers, to price the HTTP client's handling of those headers on their own;
``BARE_PATH`` is the path posted to (default ``/webhooks``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from locust import FastHttpUser, task

_BODY = Path(os.environ["BARE_BODY_FILE"]).read_bytes() if os.environ.get("BARE_BODY_FILE") else b"{}"
_HEADERS = {"content-type": "application/json"}
if os.environ.get("BARE_HEADERS_FILE"):
    _HEADERS.update(json.loads(Path(os.environ["BARE_HEADERS_FILE"]).read_text()))
_PATH = os.environ.get("BARE_PATH", "/webhooks")


class BareUser(FastHttpUser):
    """Posts the same bytes, with the same headers, again and again."""

    def wait_time(self) -> float:
        return 0.0

    @task
    def post(self) -> None:
        self.client.post(_PATH, data=_BODY, headers=_HEADERS, name="bare")
