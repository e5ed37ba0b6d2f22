"""How a mock listener runs: one frozen dataclass, checked when built."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from simulator._exceptions import UsageError
from simulator._signing import DEFAULT_TOLERANCE, SigningSecret
from simulator.listener._faults import FaultRule

__all__ = ["Listener"]


@dataclass(frozen=True, slots=True)
class Listener:
    """How a mock listener runs. ``port=0`` picks a free port; ``db=None`` records into a
    temporary file removed when the listener stops. ``offload=True`` (what ``chestsim listen``
    does) validates and records in a writer process, so the event loop only verifies and
    answers; the default does it all on the loop and starts instantly.

    >>> Listener(port=8080, token="t0k3n")
    Listener(host='127.0.0.1', port=8080, path='/webhooks', secrets=(), tolerance=300.0, db=None, reject_invalid=False, strict=False, max_body=1048576, faults=(), seed=0, offload=False, fsync=False, header_timeout=10.0, body_timeout=30.0, idle_timeout=30.0, max_connections=1000)
    """

    host: str = "127.0.0.1"
    port: int = 0
    path: str = "/webhooks"
    secrets: tuple[SigningSecret, ...] = ()
    token: str | None = field(default=None, repr=False)
    tolerance: float = DEFAULT_TOLERANCE
    db: Path | None = None
    reject_invalid: bool = False
    strict: bool = False
    max_body: int = 1024 * 1024
    faults: tuple[FaultRule, ...] = ()
    seed: int = 0
    offload: bool = False
    fsync: bool = False
    #: Longest wait for a request's head once its first byte arrived (slowloris).
    header_timeout: float = 10.0
    #: Longest wait for a webhook's whole body once its head arrived.
    body_timeout: float = 30.0
    #: Longest a connection may wait for its next request (fresh or kept alive).
    idle_timeout: float = 30.0
    #: Open connections at most; past it, the one waiting longest without a request makes room.
    max_connections: int = 1000
    #: Longest a "hang" fault holds a connection before closing it unanswered.
    hang_max: float = field(default=300.0, repr=False)
    #: Longest shutdown waits for requests in flight.
    shutdown_timeout: float = field(default=10.0, repr=False)
    #: The wall clock (signature tolerance, receive times); inject one in tests.
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.path.startswith("/") or self.path.startswith("/_chestsim"):
            raise UsageError(f"--path={self.path!r} must start with / and not with /_chestsim, like /webhooks")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port={self.port!r} must be between 0 and 65535 (0 picks a free port)")
        if self.max_body < 1:
            raise UsageError(f"--max-body={self.max_body!r} must be a positive size, like 1MB")
        if self.tolerance < 0:
            raise UsageError(f"--tolerance={self.tolerance!r} must not be negative; use a duration like 5m")
        for name in ("header_timeout", "body_timeout", "idle_timeout"):
            value = getattr(self, name)
            if not 0 < value <= 86400:
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"{flag}={value!r} must be a duration from 1ms to 24h, like 10s")
        if not 1 <= self.max_connections <= 1_000_000:
            raise UsageError(f"--max-connections={self.max_connections!r} must be a whole number "
                             "from 1 to 1000000, like 1000")
        if self.token is not None and (not self.token.strip() or not self.token.isprintable()):
            raise UsageError("--token must be the printable bearer token the sender uses (it is empty "
                             "or holds control characters)")
        if isinstance(self.db, str):
            object.__setattr__(self, "db", Path(self.db))
        if isinstance(self.secrets, list):
            object.__setattr__(self, "secrets", tuple(self.secrets))
        if isinstance(self.faults, list | FaultRule):
            faults = (self.faults,) if isinstance(self.faults, FaultRule) else tuple(self.faults)
            object.__setattr__(self, "faults", faults)
