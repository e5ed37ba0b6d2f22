"""A request's headers: checked where they enter, assembled in one function.

Values that go on the wire are refused, not cleaned, when they could change the
request's framing: a control character (CR, LF, NUL, DEL…) or a non-ASCII
character in a token or a header value, a header name that is not an HTTP token
(``X-Bad Name:``), or a header that sets the framing or the signature
(``Transfer-Encoding``, ``Content-Length``, ``webhook-signature``…). Each refusal
is one ``UsageError`` line naming where the value came from, without the value.

>>> fixed = fixed_headers(token="t0k", custom=[("X-Env", "staging")], where="--to")
>>> sorted(fixed)
['authorization', 'content-type', 'user-agent', 'x-env']
>>> parse_header("X-Team: security")
('X-Team', 'security')
>>> check_value("abc\\r\\nX-Injected: yes", where="CHESTSIM_TOKEN", what="token")
Traceback (most recent call last):
simulator._exceptions.UsageError: CHESTSIM_TOKEN: the token holds a control character (CR) at position 3; ...
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from simulator._exceptions import UsageError
from simulator._signing import Signer
from simulator._version import __version__

__all__ = ["RESERVED", "USER_AGENT", "check_name", "check_value", "fixed_headers", "parse_header",
           "request_headers"]

#: The ``user-agent`` of every delivery.
USER_AGENT = f"chestsim/{__version__}"

#: Headers chestsim sets itself (or the HTTP client does): never taken from a user.
RESERVED = frozenset({"webhook-id", "webhook-timestamp", "webhook-signature", "content-type",
                      "content-length", "transfer-encoding", "host", "authorization", "connection",
                      "keep-alive", "te", "trailer", "upgrade", "expect"})

# RFC 9110 token characters: what a header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NAMES = {"\r": "CR", "\n": "LF", "\0": "NUL", "\t": "TAB", "\x7f": "DEL"}


def check_value(value: str, *, where: str, what: str = "header value") -> str:
    """``value`` when it is printable ASCII (spaces and tabs inside allowed), else ``UsageError``."""
    for position, char in enumerate(value):
        code = ord(char)
        if code == 9 and what != "token":
            continue
        if code < 32 or code == 127:
            name = _NAMES.get(char, f"0x{code:02x}")
            raise UsageError(f"{where}: the {what} holds a control character ({name}) at position {position}; "
                             "it would change the request on the wire, so nothing was sent: remove it "
                             "(a line break copied with the value?)")
        if code > 126:
            raise UsageError(f"{where}: the {what} holds a non-ASCII character at position {position}; "
                             "HTTP header values must be ASCII, so nothing was sent: remove or encode it")
    if what == "token" and (not value or value != value.strip() or " " in value):
        raise UsageError(f"{where}: the token is empty or holds a space; a bearer token is one word")
    return value


def check_name(name: str, *, where: str) -> str:
    """``name`` when it is an HTTP token chestsim does not set itself, else ``UsageError``."""
    if not _TOKEN.fullmatch(name):
        shown = name if name.isprintable() and len(name) <= 40 else f"{name[:40]!r}"
        raise UsageError(f"{where}: header name {shown!r} is not a valid HTTP header name (letters, digits "
                         "and !#$%&'*+-.^_`|~ only, no spaces or colons): fix the name")
    if name.lower() in RESERVED:
        raise UsageError(f"{where}: header {name!r} is set by chestsim or the HTTP client, not by a "
                         "custom header; remove it (use --token, or token = … in endpoints.toml, for "
                         "Authorization)")
    return name


def parse_header(text: str, *, where: str = "--header") -> tuple[str, str]:
    """One ``Name: value`` (a ``--header`` flag) as a checked ``(name, value)`` pair; spaces
    around the value are dropped, as HTTP does. Never echoes the value (it may be a key)."""
    name, colon, value = text.partition(":")
    if not colon or not name:
        raise UsageError(f"{where}: give one header as 'Name: value', like --header 'X-Team: security' "
                         "(the text given has no name before a colon)")
    check_name(name, where=where)
    value = value.strip(" \t")
    return name, check_value(value, where=f"{where} {name!r}")


def fixed_headers(*, token: str | None = None, custom: Iterable[tuple[str, str]] | Mapping[str, str] = (),
                  where: str = "headers", user_agent: str = USER_AGENT) -> dict[str, str]:
    """The headers every delivery to one endpoint carries unchanged, each checked."""
    headers = {"content-type": "application/json", "user-agent": user_agent}
    pairs = custom.items() if isinstance(custom, Mapping) else custom
    for name, value in pairs:
        headers[check_name(name, where=where).lower()] = check_value(value, where=f"{where}: header {name!r}")
    if token:
        headers["authorization"] = f"Bearer {check_value(token, where=where, what='token')}"
    return headers


def request_headers(fixed: Mapping[str, str], signer: Signer, msg_id: str, body: bytes) -> dict[str, str]:
    """Every header of one delivery sent now: the endpoint's fixed ones plus the signed three.

    >>> from simulator._signing import Signer
    >>> h = request_headers(fixed_headers(), Signer(clock=lambda: 1.0), "evt_1", b"{}")
    >>> h["webhook-id"], h["webhook-timestamp"], "webhook-signature" in h
    ('evt_1', '1', False)
    """
    return signer.headers(msg_id, body, into=dict(fixed))
