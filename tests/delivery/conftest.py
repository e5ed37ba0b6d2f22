"""Fixtures for delivery tests; the helpers live in ``delivery_sink.py`` beside this file."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# --import-mode=importlib does not put test folders on sys.path; the helpers module needs it.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from delivery_sink import Sink, make_events, write_jsonl


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "events.jsonl", make_events(60))
