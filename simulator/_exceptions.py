"""The one exception tree of chestsim.

```
ChestsimError
├── UsageError (ValueError)          bad input from the user: exit code 2
│   ├── UnknownEventType             a name that is neither a key nor a label
│   ├── InvalidURL                   an endpoint URL the product's form would refuse
│   ├── InvalidSecret                a signing secret that is not ``whsec_<base64>``
│   ├── InputError                   unreadable input (file, line)
│   ├── ScenarioError                a scenario that cannot be loaded or run
│   │   └── ModelError               an action the tenant model refuses (simulator.model)
│   ├── EndpointConfigError          a bad endpoints file or endpoint option
│   └── JournalError                 a journal that cannot be opened or resumed
├── SignatureError                   a delivery whose signature or token does not verify
├── DeliveryError                    a delivery that could not be completed
└── HarnessAssertion (AssertionError) a failed expectation in the pytest plugin
```

Every exception carries what it is about (``.path``, ``.line``, ``.event``,
``.endpoint``) so that a caller can point at the place. Messages never
contain a secret, a token or a signature.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ChestsimError",
    "DeliveryError",
    "EndpointConfigError",
    "HarnessAssertion",
    "InputError",
    "InvalidSecret",
    "InvalidURL",
    "JournalError",
    "ScenarioError",
    "SignatureError",
    "UnknownEventType",
    "UsageError",
]


class ChestsimError(Exception):
    """Root of every error chestsim raises on purpose."""


class UsageError(ChestsimError, ValueError):
    """Bad input from the user; the CLI prints the message on one line and exits 2."""


class UnknownEventType(UsageError):
    """An event type name that matches no key or label.

    >>> from simulator import lookup
    >>> lookup("secret.usd")
    Traceback (most recent call last):
    simulator._exceptions.UnknownEventType: unknown event type 'secret.usd'; did you mean 'secret.used'? ...
    """

    def __init__(self, message: str, *, name: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.name = name
        self.suggestions = suggestions


class InvalidURL(UsageError):
    """An endpoint URL that the product's form validation would refuse."""

    def __init__(self, message: str, *, url: str, part: str) -> None:
        super().__init__(message)
        self.url = url
        self.part = part


class InvalidSecret(UsageError):
    """A signing secret that is not ``whsec_`` followed by base64; never echoes the secret."""


class InputError(UsageError):
    """Input that cannot be read: a missing file, a line that is not JSON, a binary file."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class ScenarioError(UsageError):
    """A scenario that cannot be found, loaded or run; points at the user's file and line."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class EndpointConfigError(UsageError):
    """A bad endpoints file or endpoint option."""

    def __init__(self, message: str, *, endpoint: str | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint


class JournalError(UsageError):
    """A journal file that cannot be opened, is not a chestsim journal, or cannot be resumed."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class SignatureError(ChestsimError):
    """A signature, timestamp or token that does not verify. Terse on purpose."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class DeliveryError(ChestsimError):
    """A delivery that could not be completed."""

    def __init__(self, message: str, *, event: Any = None, endpoint: str | None = None) -> None:
        super().__init__(message)
        self.event = event
        self.endpoint = endpoint


class HarnessAssertion(ChestsimError, AssertionError):
    """A failed expectation in the pytest plugin; the message carries the seed to reproduce."""
