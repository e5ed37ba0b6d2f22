"""How a signed request reaches an endpoint: one package, one module per transport.

```
_base     Transport (the protocol) and Response (what one attempt got back)
_request  a request's headers: checked where they enter, assembled in one function
_curl     CurlTransport: the network client (libcurl multi via pycurl), http and https
_app      HttpxTransport: an ASGI/WSGI app in process (with its lifespan), or an httpx client
_choice   transport_for: an app in process, else the network client
```

The sender, the pytest plugin's ``chest_deliver``, certify and the Locust payloads
build their requests here; nothing else writes a request.
"""

from __future__ import annotations

from simulator.delivery._transports._app import HttpxTransport, is_asgi, load_app
from simulator.delivery._transports._base import Response, Transport
from simulator.delivery._transports._choice import transport_for
from simulator.delivery._transports._curl import CurlTransport
from simulator.delivery._transports._request import (
    USER_AGENT,
    check_name,
    check_value,
    fixed_headers,
    parse_header,
    request_headers,
)

__all__ = [
    "USER_AGENT",
    "CurlTransport",
    "HttpxTransport",
    "Response",
    "Transport",
    "check_name",
    "check_value",
    "fixed_headers",
    "is_asgi",
    "load_app",
    "parse_header",
    "request_headers",
    "transport_for",
]
