"""``chestsim certify``: grade a webhook listener at any URL (or an app in process) with a report card.

```
cases (realistic + hostile + timing) ──sign──▶ transport ──▶ grade ──▶ CertifyReport
                                                                       ├── str(report)   terminal card
                                                                       ├── as_dict()     --format json
                                                                       ├── junit         --junit FILE
                                                                       └── html          --html FILE
```

``certify`` is the one-call form of ``Certifier(...).run()``:

>>> report = certify("http://127.0.0.1:8080/webhooks", secret="whsec_…")  # doctest: +SKIP
>>> assert report.passed, report                                           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simulator._signing import SigningSecret
from simulator.certify._card import render_html, render_junit, render_text, write_html, write_junit
from simulator.certify._cases import (
    HARD_TIMEOUT,
    PROFILES,
    SECTIONS,
    Case,
    Plan,
    Profile,
    Settings,
    make_plan,
)
from simulator.certify._report import CaseResult, CertifyReport, Sent
from simulator.certify._runner import Certifier

__all__ = [
    "HARD_TIMEOUT",
    "PROFILES",
    "SECTIONS",
    "Case",
    "CaseResult",
    "Certifier",
    "CertifyReport",
    "Plan",
    "Profile",
    "Sent",
    "Settings",
    "acertify",
    "certify",
    "make_plan",
    "render_html",
    "render_junit",
    "render_text",
    "write_html",
    "write_junit",
]


def certify(target: Any, *, secret: str | SigningSecret | Sequence[str | SigningSecret],
            token: str | None = None, path: str = "/webhooks", **settings: Any) -> CertifyReport:
    """Certify ``target`` (a URL, a running listener, or an ASGI/WSGI app); return the card.

    ``settings`` are ``Settings`` fields: ``profile``, ``tolerance``, ``max_latency``,
    ``rate``, ``only``, ``skip``, ``pause``, ``burst``…
    """
    return Certifier(target, secret=secret, token=token, path=path, settings=_settings(settings)).run()


async def acertify(target: Any, *, secret: str | SigningSecret | Sequence[str | SigningSecret],
                   token: str | None = None, path: str = "/webhooks", **settings: Any) -> CertifyReport:
    """``certify`` for async code: runs on the caller's event loop."""
    certifier = Certifier(target, secret=secret, token=token, path=path, settings=_settings(settings))
    return await certifier.run_async()


def _settings(options: dict[str, Any]) -> Settings:
    for key in ("only", "skip"):
        if isinstance(options.get(key), str):
            options[key] = (options[key],)
        elif key in options:
            options[key] = tuple(options[key])
    try:
        return Settings(**options)
    except TypeError:
        known = ", ".join(Settings.__dataclass_fields__)
        raise TypeError(f"certify() takes the settings {known}; got {sorted(options)}") from None
