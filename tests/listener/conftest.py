"""Fixtures for the mock listener tests: a loopback listener, a client, a poster."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

# --import-mode=importlib does not put test folders on sys.path; the helpers module needs it.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from listener_helpers import SECRET, Post

from simulator.listener import Listener, RunningListener, run_listener


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "received.db"


@pytest.fixture
async def listener(db: Path) -> AsyncIterator[RunningListener]:
    """A listener with the test secret, recording inline into ``db``."""
    async with run_listener(Listener(secrets=(SECRET,), db=db)) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session



@pytest.fixture
def post(client: aiohttp.ClientSession) -> Post:
    """``await post(url, body, headers) -> (status, headers, json-or-None)``."""

    async def do(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any, Any]:
        async with client.post(url, data=body, headers=headers) as response:
            text = await response.read()
            try:
                payload = orjson.loads(text) if text else None
            except orjson.JSONDecodeError:
                payload = text
            return response.status, response.headers, payload

    return do
