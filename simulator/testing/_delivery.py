"""``Delivery``: one HTTP POST a listener may receive, labelled with how it should answer.

The four answers a listener owes:

```
accept             2xx: a genuine, well-formed delivery (also a duplicate, extra fields,
                   one good signature among several during a key rotation)
reject-401         401 or 403: the signature, its headers or its timestamp do not verify
reject-400         another 4xx: signed, but not something the listener can route
                   (not JSON, not an object, no string "type", no object "data")
accept-or-reject   2xx or 4xx, never 5xx: signed but odd (unknown type, oversized,
                   a field missing or of the wrong type deep in "data")
```

A crash (an exception out of the app, or a 5xx) is never a right answer.

>>> d = Delivery(label="valid", expect="accept", body=b"{}", headers=(("webhook-id", "evt_1"),))
>>> d.allows(204), d.allows(500)
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from simulator._exceptions import HarnessAssertion

__all__ = ["EXPECTATIONS", "Delivery", "Expect"]

Expect = Literal["accept", "reject-400", "reject-401", "accept-or-reject"]

#: What each expectation allows, in words for failure messages.
EXPECTATIONS: dict[str, str] = {
    "accept": "a 2xx answer",
    "reject-401": "401 or 403",
    "reject-400": "a 4xx answer other than 401/403",
    "accept-or-reject": "2xx or 4xx, never 5xx",
}

_WHY: dict[str, str] = {
    "accept": "a genuine delivery must be acknowledged with 2xx, or the sender retries it for days",
    "reject-401": ("verify webhook-signature over 'webhook-id.webhook-timestamp.body' with the "
                   "endpoint's secret, and the timestamp against a tolerance, before trusting the body"),
    "reject-400": "a signed body that is not a JSON object with a string 'type' and an object 'data' cannot be routed",
    "accept-or-reject": "hostile input must get a 2xx or a 4xx answer; a 5xx or an exception means the listener crashed",
}
_CRASHED = "a 5xx answer means the listener crashed on it (and a sender retries a 5xx for days)"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST: headers, body, a ``label`` saying what is special about it, and ``expect``.

    Strategies in ``simulator.strategies`` build these; ``chest_deliver`` sends them
    unchanged, and ``check`` asserts the listener's answer.

    >>> d = Delivery(label="stale-timestamp", expect="reject-401", body=b"{}", headers=())
    >>> d
    Delivery(label='stale-timestamp', expect='reject-401', body=2 bytes)
    >>> d.check(200)
    Traceback (most recent call last):
    simulator._exceptions.HarnessAssertion: delivery 'stale-timestamp' expects reject-401 (401 or 403); the listener answered 200: ...
    """

    label: str
    expect: Expect
    body: bytes
    headers: tuple[tuple[str, str], ...]
    #: The event type inside, when there is one (for messages).
    event_type: str | None = None
    #: What was changed and where (``/data/secret/id``), for the hostile kinds.
    detail: str | None = None

    def __repr__(self) -> str:
        parts = [f"label={self.label!r}", f"expect={self.expect!r}"]
        if self.detail:
            parts.append(f"detail={self.detail!r}")
        if self.event_type:
            parts.append(f"event_type={self.event_type!r}")
        parts.append(f"body={len(self.body)} bytes")
        return f"Delivery({', '.join(parts)})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints failing examples with IPython's protocol, field by field for a
        # dataclass; the short repr reads better (the label and detail say what is wrong).
        printer.text(repr(self))

    @property
    def header_dict(self) -> dict[str, str]:
        """The headers as a plain dict (names are lower-case)."""
        return dict(self.headers)

    @property
    def webhook_id(self) -> str | None:
        """The ``webhook-id`` header, when there is one."""
        return self.header_dict.get("webhook-id")

    def allows(self, status: int) -> bool:
        """True when a listener answering ``status`` behaves as this delivery expects."""
        if self.expect == "accept":
            return 200 <= status < 300
        if self.expect == "reject-401":
            return status in (401, 403)
        if self.expect == "reject-400":
            return 400 <= status < 500 and status not in (401, 403)
        return 200 <= status < 300 or 400 <= status < 500

    def check(self, answer: Any, *, seed: int | None = None) -> None:
        """Raise ``HarnessAssertion`` unless ``answer`` (a status or a response) is allowed."""
        status = answer if isinstance(answer, int) else int(getattr(answer, "status_code",
                                                                     getattr(answer, "status", 0)))
        if self.allows(status):
            return
        where = f" ({self.detail})" if self.detail else ""
        again = f"; reproduce with seed={seed}" if seed is not None else ""
        why = _CRASHED if status >= 500 else _WHY[self.expect]
        raise HarnessAssertion(
            f"delivery {self.label!r}{where} expects {self.expect} ({EXPECTATIONS[self.expect]}); "
            f"the listener answered {status}: {why}{again}"
        )
