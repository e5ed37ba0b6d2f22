"""chestsim: a testing harness and mock event simulator for Secret Chest webhooks.

The pipeline, one name per stage:

>>> import simulator
>>> simulator.lookup("Secret Used").key                         # the catalog
'secret.used'
>>> events = list(simulator.generate("share-lifecycle", seed=7))  # a tenant model drives scenarios
>>> report = simulator.validate(events)                         # schemas, rules, leak guard  # doctest: +SKIP
>>> with simulator.ListenerThread(simulator.Listener()) as sink:  # a contract-checking listener  # doctest: +SKIP
...     simulator.send(events, to=[sink.url], secrets=["whsec_…"])  # signed, retried, journaled

Heavy stages (the model with Faker, the network with aiohttp) load on first use,
so ``import simulator`` stays cheap — a Locust worker or a pytest plugin pays only
for what it touches.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from simulator._catalog import CATALOG, EventType, expand_event_types, lookup
from simulator._exceptions import (
    ChestsimError,
    DeliveryError,
    EndpointConfigError,
    HarnessAssertion,
    InputError,
    InvalidSecret,
    InvalidURL,
    JournalError,
    ScenarioError,
    SignatureError,
    UnknownEventType,
    UsageError,
)
from simulator._signing import Signer, SigningSecret, sign_headers, verify
from simulator._version import __version__

if _typing.TYPE_CHECKING:
    from simulator.contract import Contract, ContractDiff, diff_contracts, load_contract
    from simulator.delivery import Endpoint, Journal, RetryPolicy, Sender, send
    from simulator.listener import Listener, ListenerThread, RecordStore, run_listener
    from simulator.model import Tenant, VirtualClock, generate
    from simulator.validation import Problem, SequenceChecker, Validator, validate

_LAZY = {
    "Contract": "simulator.contract",
    "ContractDiff": "simulator.contract",
    "diff_contracts": "simulator.contract",
    "load_contract": "simulator.contract",
    "Endpoint": "simulator.delivery",
    "Journal": "simulator.delivery",
    "Listener": "simulator.listener",
    "ListenerThread": "simulator.listener",
    "Problem": "simulator.validation",
    "RecordStore": "simulator.listener",
    "RetryPolicy": "simulator.delivery",
    "Sender": "simulator.delivery",
    "SequenceChecker": "simulator.validation",
    "Tenant": "simulator.model",
    "Validator": "simulator.validation",
    "VirtualClock": "simulator.model",
    "generate": "simulator.model",
    "run_listener": "simulator.listener",
    "send": "simulator.delivery",
    "validate": "simulator.validation",
}

__all__ = [
    "CATALOG",
    "ChestsimError",
    "Contract",
    "ContractDiff",
    "DeliveryError",
    "Endpoint",
    "EndpointConfigError",
    "EventType",
    "HarnessAssertion",
    "InputError",
    "InvalidSecret",
    "InvalidURL",
    "Journal",
    "JournalError",
    "Listener",
    "ListenerThread",
    "Problem",
    "RecordStore",
    "RetryPolicy",
    "ScenarioError",
    "Sender",
    "SequenceChecker",
    "SignatureError",
    "Signer",
    "SigningSecret",
    "Tenant",
    "UnknownEventType",
    "UsageError",
    "Validator",
    "VirtualClock",
    "__version__",
    "diff_contracts",
    "expand_event_types",
    "generate",
    "load_contract",
    "lookup",
    "run_listener",
    "send",
    "sign_headers",
    "validate",
    "verify",
]


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(n for n in set(globals()) | set(__all__) if not n.startswith("_") or n == "__version__")
