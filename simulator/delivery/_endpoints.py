"""Endpoints, their subscriptions, and routing events to them.

An endpoint is a URL, the event types it subscribes to (or "select all"), an
optional bearer token, optional signing secrets (several during a rotation),
extra headers, and optional per-endpoint concurrency and rate. Endpoints come
from ``--to URL`` flags or an ``endpoints.toml`` file::

    [[endpoint]]
    name = "siem"
    url = "https://siem.example.com/chest"
    events = ["Secret Used", "secret.deleted"]   # or "all" / "Select all"
    secret_env = "SIEM_SECRET"                   # or secret = "whsec_…" (rotation: a list)
    token_env = "SIEM_TOKEN"                     # or token = "…"
    headers = { "X-Team" = "sec" }
    concurrency = 8
    rate = "50/s"

>>> ep = Endpoint.from_url("http://127.0.0.1:8080/hook", events=["Secret Used"])
>>> ep.accepts("secret.used"), ep.accepts("user.created")
(True, False)
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator._catalog import CATALOG, expand_event_types
from simulator._exceptions import EndpointConfigError, InvalidSecret, UsageError
from simulator._signing import SigningSecret, parse_secrets
from simulator._units import parse_positive_int, parse_rate
from simulator.delivery._transports._request import check_name, check_value
from simulator.delivery._urls import check_url

__all__ = ["Endpoint", "Router", "check_endpoints", "load_endpoints"]

_ALL_KEYS = frozenset(t.key for t in CATALOG)
_KNOWN_FIELDS = frozenset({"name", "url", "events", "secret", "secrets", "secret_env", "token",
                           "token_env", "headers", "concurrency", "rate"})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One webhook endpoint. ``events`` is ``None`` for "select all". Never shows its token.

    >>> Endpoint.from_url("https://example.com/h", token="t0k")
    Endpoint(name='https://example.com/h', url='https://example.com/h', events=None, ...)
    """

    url: str
    name: str = ""
    events: frozenset[str] | None = None
    secrets: tuple[SigningSecret, ...] = field(default=(), repr=False)
    token: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    concurrency: int | None = field(default=None, repr=False)
    rate: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check_url(self.url)
        if not self.name:
            object.__setattr__(self, "name", self.url)
        if self.token is not None:
            # Whatever brought the token here (a flag, the environment, a file), it goes on
            # the wire: refused before anything is sent, never cleaned.
            try:
                check_value(self.token, where=f"endpoint {self.name!r}", what="token")
            except UsageError as exc:
                raise EndpointConfigError(str(exc), endpoint=self.name) from None

    def __repr__(self) -> str:
        events = sorted(self.events) if self.events is not None else None
        return f"Endpoint(name={self.name!r}, url={self.url!r}, events={events!r}, ...)"

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        events: Iterable[str] | str | None = None,
        secrets: Iterable[str | SigningSecret] = (),
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        name: str = "",
        concurrency: int | None = None,
        rate: float | str | None = None,
    ) -> Endpoint:
        """An endpoint from a URL and options (event names may be keys or labels)."""
        return cls(
            url=check_url(url),
            name=name,
            events=_subscription(events),
            secrets=parse_secrets(secrets),
            token=token or None,
            headers=_headers(headers or {}, name or url),
            concurrency=concurrency,
            rate=parse_rate(rate, option="rate") if rate is not None else None,
        )

    def accepts(self, type_key: str) -> bool:
        """Whether this endpoint subscribes to events of ``type_key``."""
        return self.events is None or type_key in self.events

    def describe(self) -> dict[str, Any]:
        """What may be stored or printed about this endpoint: never secrets, tokens or header values."""
        return {
            "name": self.name,
            "url": self.url,
            "events": sorted(self.events) if self.events is not None else "all",
            "signed": bool(self.secrets),
            "secrets": len(self.secrets),
            "token": self.token is not None,
            "headers": [k for k, _ in self.headers],
            "concurrency": self.concurrency,
            "rate": self.rate,
        }


def _subscription(events: Iterable[str] | str | None) -> frozenset[str] | None:
    if events is None:
        return None
    keys = frozenset(t.key for t in expand_event_types(events))
    return None if keys == _ALL_KEYS else keys


def _headers(headers: Mapping[str, str], where: str) -> tuple[tuple[str, str], ...]:
    out = []
    for key, value in headers.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise EndpointConfigError(f"endpoint {where!r}: headers must map names to strings",
                                      endpoint=where)
        try:
            check_name(key, where=f"endpoint {where!r}")
            check_value(value, where=f"endpoint {where!r}: header {key!r}")
        except UsageError as exc:
            raise EndpointConfigError(str(exc), endpoint=where) from None
        out.append((key, value))
    return tuple(out)


def load_endpoints(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    default_secrets: Sequence[SigningSecret] = (),
    default_token: str | None = None,
) -> tuple[Endpoint, ...]:
    """Read ``[[endpoint]]`` tables from a TOML file; ``*_env`` fields read ``environ``."""
    env = os.environ if environ is None else environ
    where = str(path)
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise EndpointConfigError(f"--endpoints={where!r}: no such file") from None
    except OSError as exc:
        raise EndpointConfigError(f"--endpoints={where!r}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise EndpointConfigError(f"--endpoints={where!r}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise EndpointConfigError(f"--endpoints={where!r}: not UTF-8 text (byte {exc.start} is not UTF-8); "
                                  "TOML files are UTF-8: save it as UTF-8") from None
    tables = doc.get("endpoint", doc.get("endpoints"))
    if not isinstance(tables, list) or not tables:
        raise EndpointConfigError(
            f"--endpoints={where!r}: no endpoints; add [[endpoint]] tables with url = \"https://…\"")
    endpoints = []
    for number, table in enumerate(tables, 1):
        endpoints.append(_from_table(table, f"{where}: endpoint #{number}", env,
                                     default_secrets, default_token))
    names = [e.name for e in endpoints]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise EndpointConfigError(f"--endpoints={where!r}: endpoint name {dupes[0]!r} is used twice; "
                                  "give each a distinct name =", endpoint=dupes[0])
    return tuple(endpoints)


def _from_table(table: Any, where: str, env: Mapping[str, str],
                default_secrets: Sequence[SigningSecret], default_token: str | None) -> Endpoint:
    if not isinstance(table, dict):
        raise EndpointConfigError(f"{where}: must be a table with url = \"https://…\"")
    unknown = sorted(set(table) - _KNOWN_FIELDS)
    if unknown:
        raise EndpointConfigError(f"{where}: unknown field {unknown[0]!r}; known fields are "
                                  f"{', '.join(sorted(_KNOWN_FIELDS))}")
    url = table.get("url")
    if not isinstance(url, str):
        raise EndpointConfigError(f"{where}: url = \"https://…\" is required")
    label = f"{where} ({table.get('name') or url})"
    try:
        secrets: list[str | SigningSecret] = []
        for key in ("secret", "secrets"):
            value = table.get(key)
            if isinstance(value, str):
                secrets.append(value)
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                secrets.extend(value)
            elif value is not None:
                raise EndpointConfigError(f"{label}: {key} must be a whsec_… string or a list of them")
        if "secret_env" in table:
            var = str(table["secret_env"])
            if var not in env:
                raise EndpointConfigError(f"{label}: secret_env={var!r} is not set in the environment")
            secrets.append(env[var])
        if not secrets:
            secrets.extend(default_secrets)
        token = table.get("token")
        token_from = "token"
        if "token_env" in table:
            var = str(table["token_env"])
            if var not in env:
                raise EndpointConfigError(f"{label}: token_env={var!r} is not set in the environment")
            token, token_from = env[var], f"token_env={var!r}"
        if token is not None and not isinstance(token, str):
            raise EndpointConfigError(f"{label}: token must be a string")
        if token is not None:
            try:
                check_value(token, where=f"{label}: {token_from}", what="token")
            except UsageError as exc:
                raise EndpointConfigError(str(exc)) from None
        concurrency = table.get("concurrency")
        if concurrency is not None:
            concurrency = parse_positive_int(concurrency, option=f"{label}: concurrency")
        events = table.get("events")
        if events is not None and not isinstance(events, str | list):
            raise EndpointConfigError(f"{label}: events must be \"all\" or a list of event types")
        headers = table.get("headers") or {}
        if not isinstance(headers, dict):
            raise EndpointConfigError(f"{label}: headers must be a table of name = \"value\"")
        return Endpoint.from_url(
            url, name=str(table.get("name") or ""), events=events, secrets=secrets,
            token=token if token is not None else default_token, headers=headers,
            concurrency=concurrency, rate=table.get("rate"))
    except InvalidSecret as exc:
        raise EndpointConfigError(f"{label}: {exc}") from None
    except EndpointConfigError:
        raise
    except UsageError as exc:
        raise EndpointConfigError(f"{label}: {exc}") from None


def check_endpoints(target: str, *, environ: Mapping[str, str] | None = None,
                    default_secrets: Sequence[SigningSecret] = (),
                    default_token: str | None = None) -> tuple[Endpoint, ...]:
    """Validate an endpoints file, or a single URL, without sending anything; a URL gets the
    default secrets and token as ``send --to URL`` would.

    >>> [e.describe()["signed"] for e in check_endpoints("http://127.0.0.1:8080/h",
    ...                                                  default_secrets=parse_secrets(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]))]
    [True]
    """
    if "://" in target and not Path(target).exists():
        return (Endpoint.from_url(target, secrets=default_secrets, token=default_token),)
    return load_endpoints(target, environ=environ, default_secrets=default_secrets,
                          default_token=default_token)


class Router:
    """Which endpoints (by index) receive an event type; cached per type.

    >>> a = Endpoint.from_url("http://localhost/a", events=["secret.used"])
    >>> b = Endpoint.from_url("http://localhost/b")
    >>> Router([a, b]).targets("secret.used"), Router([a, b]).targets("user.created")
    ((0, 1), (1,))
    """

    __slots__ = ("_cache", "endpoints")

    def __init__(self, endpoints: Sequence[Endpoint]) -> None:
        self.endpoints = tuple(endpoints)
        self._cache: dict[str, tuple[int, ...]] = {}

    def targets(self, type_key: str) -> tuple[int, ...]:
        """Indexes of the endpoints subscribed to ``type_key``."""
        found = self._cache.get(type_key)
        if found is None:
            found = tuple(i for i, e in enumerate(self.endpoints) if e.accepts(type_key))
            self._cache[type_key] = found
        return found
