"""The mock listener behind ``chestsim listen``: verify, validate, record, inject faults.

>>> from simulator.listener import Listener, ListenerThread
>>> with ListenerThread(Listener(port=0)) as listener:   # doctest: +SKIP
...     print(listener.url)
http://127.0.0.1:43127/webhooks
"""

from __future__ import annotations

from simulator.listener._config import Listener
from simulator.listener._faults import (
    FaultDecision,
    FaultInjector,
    FaultRule,
    Latency,
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
    "parse_statuses",
    "run_listener",
]
