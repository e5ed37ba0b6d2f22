"""The endpoint URL rule: what the product's webhook form would accept.

``https`` anywhere, ``http`` only for loopback; a host name, IPv4 or bracketed
IPv6; an optional port; path and query made only of ``A–Z a–z 0–9 - . _ ~ / = & %``;
no user info and no fragment. A refusal names the character or part that failed, and
never quotes user info: what could be ``user:password@`` shows as ``***@``.

>>> check_url("https://hooks.example.com/chest?tenant=a1")
'https://hooks.example.com/chest?tenant=a1'
>>> check_url("http://example.com/x")
Traceback (most recent call last):
simulator._exceptions.InvalidURL: URL 'http://example.com/x': scheme 'http' is allowed only for loopback hosts (localhost, 127.0.0.1, [::1]); use https
>>> check_url("https://alice:hunter2@example.com/x")
Traceback (most recent call last):
simulator._exceptions.InvalidURL: URL 'https://***@example.com/x': has user info ('user:password@'); put credentials in a token (--token, or token = … in endpoints.toml), not the URL
"""

from __future__ import annotations

import ipaddress
import re
import string

from simulator._exceptions import InvalidURL

__all__ = ["check_url", "is_loopback"]

_PATH_CHARS = frozenset(string.ascii_letters + string.digits + "-._~/=&%")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1`` (brackets allowed)."""
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _fail(url: str, part: str, message: str) -> InvalidURL:
    shown = _without_user_info(url)
    return InvalidURL(f"URL {shown!r}: {message}", url=shown, part=part)


def _without_user_info(url: str) -> str:
    """``url`` as a message may quote it: everything from the scheme to the last ``@`` (where
    ``user:password@`` would be, even with a ``/``, ``?`` or ``#`` in the password) becomes
    ``***``. Only refused URLs are quoted, and every URL holding an ``@`` is refused."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    at = rest.rfind("@")
    return url if at < 0 else f"{scheme}{sep}***{rest[at:]}"


def check_url(url: str) -> str:
    """Return ``url`` unchanged if the rule accepts it, else raise ``InvalidURL`` naming the part."""
    if not isinstance(url, str) or not url:
        raise _fail(str(url), "url", "is empty; give a URL like https://example.com/webhooks")
    for ch in url:
        if ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise _fail(url, "url", f"contains whitespace or a control character {ch!r}; remove it")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise _fail(url, "scheme", "has no scheme; start it with https://")
    scheme = scheme.lower()
    if scheme not in ("http", "https"):
        raise _fail(url, "scheme", f"scheme {scheme!r} is not allowed; use https (or http for loopback)")
    if "#" in rest:
        raise _fail(url, "fragment", "has a fragment ('#…'); remove everything from '#'")
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    if "@" in rest:
        # Refused before the host and port are read: none of what may be a password (one holding a
        # '/' or a '?') is quoted as a host, a port or a path character.
        if "@" in authority:
            raise _fail(url, "userinfo", "has user info ('user:password@'); put credentials in a token "
                        "(--token, or token = … in endpoints.toml), not the URL")
        part = "query" if "?" in tail and tail.index("@") > tail.index("?") else "path"
        raise _fail(url, part, f"has an '@' in the {part}: user info ('user:password@') is not allowed, "
                    f"and '@' is not a {part} character (percent-encode it as %40)")
    if not authority:
        raise _fail(url, "host", "has no host")
    host, port = _split_host_port(url, authority)
    _check_host(url, host)
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise _fail(url, "port", f"port {port!r} must be a number from 1 to 65535")
    for ch in tail:
        if ch == "?":
            continue
        if ch not in _PATH_CHARS:
            part = "query" if "?" in tail and tail.index(ch) > tail.index("?") else "path"
            raise _fail(url, part, f"character {ch!r} in the {part} is not allowed; use only "
                        "A-Z a-z 0-9 - . _ ~ / = & % (percent-encode others)")
    if tail.count("?") > 1:
        raise _fail(url, "query", "character '?' in the query is not allowed; use only "
                    "A-Z a-z 0-9 - . _ ~ / = & %")
    if scheme == "http" and not is_loopback(host):
        raise _fail(url, "scheme", "scheme 'http' is allowed only for loopback hosts (localhost, "
                    "127.0.0.1, [::1]); use https")
    return url


def _split_host_port(url: str, authority: str) -> tuple[str, str | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise _fail(url, "host", "IPv6 host is missing its closing ']'")
        host, after = authority[: end + 1], authority[end + 1:]
        if after and not after.startswith(":"):
            raise _fail(url, "host", f"unexpected {after!r} after the IPv6 host")
        return host, after[1:] if after else None
    host, colon, port = authority.partition(":")
    return host, port if colon else None


def _check_host(url: str, host: str) -> None:
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise _fail(url, "host", f"{host!r} is not a valid IPv6 address") from None
        return
    if not host:
        raise _fail(url, "host", "has no host")
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise _fail(url, "host", f"{host!r} is not a valid IPv4 address") from None
        return
    if ":" in host:
        raise _fail(url, "host", f"IPv6 host {host!r} must be in brackets, like [::1]")
    labels = host.rstrip(".").split(".")
    for label in labels:
        if not _HOST_LABEL.fullmatch(label):
            bad = next((c for c in label if not (c.isascii() and (c.isalnum() or c == "-"))), None)
            what = f"character {bad!r}" if bad else f"label {label!r}"
            raise _fail(url, "host", f"{what} in host {host!r} is not allowed; use letters, "
                        "digits, '-' and '.' (IDNA-encode international names)")
