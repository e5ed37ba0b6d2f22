"""``certify``: grade a listener at a URL, or an ASGI/WSGI app in process, from a test.

The ``chest_certify`` fixture is a ``CertifyFixture``: it signs with the test's secret,
and when the test fails it prints the whole card of every report it made.

>>> report = certify(create_app(TEST_SECRET), secret=TEST_SECRET)   # doctest: +SKIP
>>> assert report.passed, report                                    # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from simulator._signing import SigningSecret
from simulator.testing._portal import Portal
from simulator.testing._settings import TEST_SECRET, ChestSettings

if TYPE_CHECKING:
    from simulator.certify import CertifyReport

__all__ = ["CertifyFixture", "certify"]


def certify(target: Any, *, secret: str | SigningSecret | Sequence[str | SigningSecret] = TEST_SECRET,
            token: str | None = None, path: str = "/webhooks", **settings: Any) -> CertifyReport:
    """The report card of ``target``: a URL, a running ``chest_listener`` or an ASGI/WSGI app.

    ``settings`` are ``simulator.certify.Settings`` fields (``profile="quick"``,
    ``max_latency=2.0``, ``only=["authenticity"]``, ``pause=0.2``…). Works from sync and
    async tests alike (from inside a running loop, the run gets a loop of its own in a thread).
    """
    import simulator.certify as certification

    run = certification.acertify(target, secret=secret, token=token, path=path, **settings)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run)
    portal = Portal(name="chestsim-certify")
    try:
        return portal.call(run)
    finally:
        portal.close()


class CertifyFixture:
    """``chest_certify(target, **settings)``: ``certify`` with the test's secret; remembers
    each report so that a failing test shows every card.

    >>> report = chest_certify(app, only=["authenticity"])   # doctest: +SKIP
    """

    def __init__(self, settings: ChestSettings) -> None:
        self.settings = settings
        #: Every report this fixture made, in order.
        self.reports: list[CertifyReport] = []

    def __repr__(self) -> str:
        return f"CertifyFixture(seed={self.settings.seed!r}, reports={len(self.reports)})"

    def __call__(self, target: Any, *, secret: str | SigningSecret | None = None, token: str | None = None,
                 path: str = "/webhooks", **settings: Any) -> CertifyReport:
        settings.setdefault("seed", self.settings.seed)
        report = certify(target, secret=secret or self.settings.secret, token=token, path=path, **settings)
        self.reports.append(report)
        return report
