"""Which transport carries a run: an in-process app, or the network client for URLs.

>>> transport_for(None, limit=4)
CurlTransport(limit=4)
"""

from __future__ import annotations

import os
from typing import Any

from simulator.delivery._transports._app import HttpxTransport
from simulator.delivery._transports._base import Transport
from simulator.delivery._transports._curl import CurlTransport

__all__ = ["transport_for"]


def transport_for(app: Any = None, *, limit: int = 32, ca_file: str | os.PathLike[str] | None = None,
                  insecure: bool = False, name: str | None = None) -> Transport:
    """The transport for a run: ``app`` (an ASGI/WSGI app) in process, else the network client,
    which sends both ``http://`` and ``https://`` URLs (TLS verified unless ``insecure``)."""
    if app is not None:
        return HttpxTransport(app=app, name=name)
    return CurlTransport(limit=limit, ca_file=ca_file, insecure=insecure)
