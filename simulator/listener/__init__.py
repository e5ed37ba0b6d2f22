"""The mock listener behind ``chestsim listen``: verify, validate, record, inject faults.

Async code::

    async with run_listener(Listener(secrets=(secret,), db="received.db")) as running:
        await send_somehow(running.url)          # http://127.0.0.1:<port>/webhooks
        records = running.records()              # committed before any 2xx went out

Synchronous code (tests, the ``chest_listener`` fixture)::

    with ListenerThread(Listener(secrets=(secret,))) as running:
        requests.post(running.url, ...)
        assert running.acknowledged_ids() == {...}

After the fact: ``RecordStore("received.db").summary()`` or ``chestsim inspect``.
Faults: ``Listener(faults=(FaultRule(fail_rate=0.2, fail_statuses=(500, 503)),), seed=7)``.

>>> Listener(port=0).path
'/webhooks'
"""

from __future__ import annotations

from simulator.listener._config import Listener
from simulator.listener._faults import (
    FaultDecision,
    FaultInjector,
    FaultRule,
    Latency,
    load_rules,
    parse_statuses,
)
from simulator.listener._records import Record, RecordStore, Summary
from simulator.listener._server import (
    VERDICTS,
    ListenerThread,
    RunningListener,
    free_port,
    run_listener,
)
from simulator.listener._stats import Stats

__all__ = [
    "VERDICTS",
    "FaultDecision",
    "FaultInjector",
    "FaultRule",
    "Latency",
    "Listener",
    "ListenerThread",
    "Record",
    "RecordStore",
    "RunningListener",
    "Stats",
    "Summary",
    "free_port",
    "load_rules",
    "parse_statuses",
    "run_listener",
]
