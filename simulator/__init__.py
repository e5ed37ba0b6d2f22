"""chestsim: a testing harness and mock event simulator for Secret Chest webhooks.

>>> import simulator
>>> simulator.lookup("Secret Used").key
'secret.used'
"""

from __future__ import annotations

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
from simulator._signing import SigningSecret, sign_headers, verify
from simulator._version import __version__

__all__ = [
    "CATALOG",
    "ChestsimError",
    "DeliveryError",
    "EndpointConfigError",
    "EventType",
    "HarnessAssertion",
    "InputError",
    "InvalidSecret",
    "InvalidURL",
    "JournalError",
    "ScenarioError",
    "SignatureError",
    "SigningSecret",
    "UnknownEventType",
    "UsageError",
    "__version__",
    "expand_event_types",
    "lookup",
    "sign_headers",
    "verify",
]
