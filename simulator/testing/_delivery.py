"""``Delivery``: one HTTP POST a listener may receive, labelled with how it should answer.

The answers a listener owes, graded pass / warn / fail by ``grade`` (the one table that
``Delivery.check``, ``hostile_suite`` and ``chestsim certify`` share):

```
expect           pass                         warn                   fail
accept           2xx                          -                      anything else
reject-401       401, 403                     another 4xx            2xx, 3xx, 5xx
reject-400       any 4xx (401: what the       2xx                    3xx, 5xx
                 official SDKs' verify() answers to a body that is not JSON)
accept-or-reject 2xx, 4xx                     -                      3xx, 5xx
acknowledge      2xx                          4xx                    3xx, 5xx
accept-or-415    2xx, 415                     another 4xx            3xx, 5xx
```

``accept``: a genuine delivery (also a duplicate, extra fields, one good signature among
several during a key rotation). ``reject-401``: the signature, its headers or its timestamp
do not verify. ``reject-400``: signed, but not something the listener can route (not JSON,
not an object, no string "type", no object "data"). ``accept-or-reject``: signed but odd
(oversized, deeply nested, a field missing deep in "data"). ``acknowledge``: an event type
the listener does not know (acknowledge and ignore it). ``accept-or-415``: a genuine event
under another content type. Where more than one answer is right, each passes; ``warn`` is
a right-but-costly answer, and only a real defect fails: a 2xx to a forged request, a
crash (an exception out of the app, or a 5xx), no answer at all.

>>> d = Delivery(label="valid", expect="accept", body=b"{}", headers=(("webhook-id", "evt_1"),))
>>> d.allows(204), d.allows(500)
(True, False)
>>> grade("reject-400", 401)
Grade(verdict='pass', note='401, as the official SDKs answer a body they cannot parse')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from simulator._exceptions import HarnessAssertion

__all__ = ["EXPECTATIONS", "Delivery", "Expect", "Grade", "Verdict", "grade"]

Expect = Literal["accept", "reject-400", "reject-401", "accept-or-reject", "acknowledge", "accept-or-415"]
Verdict = Literal["pass", "warn", "fail"]

#: What each expectation owes, in words for failure messages.
EXPECTATIONS: dict[str, str] = {
    "accept": "a 2xx answer",
    "reject-401": "401 or 403",
    "reject-400": "a 4xx answer",
    "accept-or-reject": "2xx or 4xx, never 5xx",
    "acknowledge": "2xx (acknowledge and ignore)",
    "accept-or-415": "2xx or 415",
}


@dataclass(frozen=True, slots=True)
class Grade:
    """The verdict on one answer, and a note: which right answer it was, or what is wrong."""

    verdict: Verdict
    note: str


def grade(expect: Expect, status: int) -> Grade:
    """Grade one answer (``status``; 0 when none came back) against ``expect``.

    >>> grade("reject-401", 400)
    Grade(verdict='warn', note='rejected with 400; answer 401 (or 403) to a request that does not verify')
    """
    if status == 0:
        return Grade("fail", "no answer (timeout or connection error)")
    if status >= 500:
        return Grade("fail", f"{status}: the listener crashed on it (and a sender retries a 5xx for days)")
    if not (200 <= status < 300 or 400 <= status < 500):
        return Grade("fail", f"{status}: a webhook answer is 2xx or 4xx; a sender does not follow redirects")
    ok = 200 <= status < 300
    if expect == "accept":
        if ok:
            return Grade("pass", f"{status}")
        return Grade("fail", f"{status}: a genuine delivery refused is retried for days, then dropped")
    if expect == "reject-401":
        if ok:
            return Grade("fail", f"{status}: a forged or replayed request was accepted")
        if status in (401, 403):
            return Grade("pass", f"{status}")
        return Grade("warn", f"rejected with {status}; answer 401 (or 403) to a request that does not verify")
    if expect == "reject-400":
        if ok:
            return Grade("warn", f"{status}: acknowledged a body it cannot route; answer 400 so the "
                                 "sender's logs show it")
        if status in (401, 403):
            return Grade("pass", f"{status}, as the official SDKs answer a body they cannot parse")
        return Grade("pass", f"{status}")
    if expect == "acknowledge":
        if ok:
            return Grade("pass", f"{status}")
        return Grade("warn", f"refused with {status}; acknowledge (2xx) types you do not handle, or "
                             "the sender retries them and may disable the endpoint")
    if expect == "accept-or-415":
        if ok or status == 415:
            return Grade("pass", f"{status}")
        return Grade("warn", f"{status}; a genuine event under another content type deserves 2xx or 415")
    return Grade("pass", f"{status}")

_WHY: dict[Expect, str] = {
    "accept": "a genuine delivery must be acknowledged with 2xx, or the sender retries it for days",
    "reject-401": ("verify webhook-signature over 'webhook-id.webhook-timestamp.body' with the "
                   "endpoint's secret, and the timestamp against a tolerance, before trusting the body"),
    "reject-400": "a signed body that is not a JSON object with a string 'type' and an object 'data' cannot be routed",
    "accept-or-reject": "hostile input must get a 2xx or a 4xx answer; a 5xx or an exception means the listener crashed",
    "acknowledge": "an unknown event type is acknowledged (2xx) and ignored",
    "accept-or-415": "a genuine event under another content type deserves 2xx or 415",
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

    def grade(self, status: int) -> Grade:
        """Pass, warn or fail for a listener answering ``status`` (see the module's table)."""
        return grade(self.expect, status)

    def allows(self, status: int) -> bool:
        """True unless answering ``status`` is a real defect (``grade`` fails it)."""
        return grade(self.expect, status).verdict != "fail"

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
