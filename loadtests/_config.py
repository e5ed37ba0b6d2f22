"""The firehose locustfile's own options, checked before any user starts.

Locust parses them (``--scenario``, ``--signing-secret`` …); this module turns
the parsed namespace into a ``FirehoseConfig`` or raises ``UsageError`` with one
line that names the option, what is wrong and the fix. It never imports Locust.

>>> from types import SimpleNamespace
>>> FirehoseConfig.from_options(SimpleNamespace(scenario="firehose"), environ={})
FirehoseConfig(scenario='firehose', tenant_users=1000, seed=1, events_file=None, signing='off', token='off', webhook_path='/webhooks', shape=None, pool_size=2000, user_rate=0.0)
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator._exceptions import InvalidSecret, UsageError
from simulator._signing import SigningSecret, parse_secrets

__all__ = [
    "DEFAULTS",
    "SHAPE_NAMES",
    "FirehoseConfig",
    "secret_from_env",
    "token_from_env",
]

#: The defaults of the custom options, shared by the parser and by ``from_options``.
DEFAULTS: dict[str, Any] = {
    "scenario": "firehose",
    "tenant_users": 1000,
    "seed": 1,
    "events_file": None,
    "signing_secret": None,
    "token": None,
    "webhook_path": "/webhooks",
    "shape": None,
    "pool_size": 2000,
    "user_rate": 0.0,
}

#: The load shapes ``--shape`` accepts (``loadtests/shapes.py``).
SHAPE_NAMES = ("steady", "ramp", "burst", "business-day")

# The product's URL rule for the path and query of an endpoint (DESIGN.md, "Endpoints").
_PATH = re.compile(r"/[A-Za-z0-9\-._~/=&%?]*")


def secret_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    """``CHESTSIM_SECRET``, the chestsim-wide fallback for ``--signing-secret``."""
    return environ.get("CHESTSIM_SECRET") or None


def token_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    """``CHESTSIM_TOKEN``, the chestsim-wide fallback for ``--token``."""
    return environ.get("CHESTSIM_TOKEN") or None


@dataclass(frozen=True, slots=True)
class FirehoseConfig:
    """What one firehose run sends; ``repr`` says whether signing is on, never the secret.

    Build it with ``FirehoseConfig.from_options(parsed_options)``.
    """

    scenario: str
    tenant_users: int
    seed: int
    events_file: Path | None
    secrets: tuple[SigningSecret, ...] = field(repr=False)
    token: str | None = field(repr=False)
    webhook_path: str
    shape: str | None
    pool_size: int
    user_rate: float

    @classmethod
    def from_options(cls, options: Any, *, environ: Mapping[str, str] = os.environ) -> FirehoseConfig:
        """Check Locust's parsed options (any object with the attributes; missing ones take defaults)."""

        def get(name: str) -> Any:
            value = getattr(options, name, None)
            return DEFAULTS[name] if value is None else value

        from loadtests._payloads import available_scenarios

        scenario = str(get("scenario")).strip()
        events_file = get("events_file")
        if events_file:
            path = Path(str(events_file)).expanduser()
            if not path.is_file():
                raise UsageError(
                    f"--events-file={str(events_file)!r} does not exist or is not a file; pass a JSONL "
                    "file of events (one envelope per line), like the output of `chestsim generate`"
                )
            events_path: Path | None = path
        else:
            events_path = None
            names = available_scenarios()
            own_script = scenario.endswith(".py") and Path(scenario).expanduser().is_file()
            if scenario not in names and not own_script:
                close = difflib.get_close_matches(scenario, names, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise UsageError(
                    f"--scenario={scenario!r} is not a shipped scenario; {hint}pick one of "
                    f"{', '.join(names)}, a scenario script (.py), or --events-file FILE.jsonl"
                )
        tenant_users = _int(get("tenant_users"), "--tenant-users", "a positive number of users, like 1000",
                            low=1)
        seed = _int(get("seed"), "--seed", "an integer, like 1")
        pool_size = _int(get("pool_size"), "--pool-size", "a positive number of events, like 2000", low=1)
        user_rate = _float(get("user_rate"), "--user-rate",
                           "events per second per user, or 0 for as fast as possible")
        secret_text = get("signing_secret") or secret_from_env(environ)
        try:
            secrets = parse_secrets([secret_text]) if secret_text else ()
        except InvalidSecret as exc:
            # SigningSecret's messages never echo the secret; say which option carried it.
            raise UsageError(f"--signing-secret (or CHESTSIM_SECRET): {exc}") from None
        token = get("token") or token_from_env(environ)
        if token is not None:
            token = str(token).strip()
            if not token or any(c.isspace() or not c.isprintable() for c in token):
                raise UsageError("--token (or CHESTSIM_TOKEN) must be one printable word without spaces; "
                                 "copy it again from the endpoint settings")
        path_text = str(get("webhook_path")).strip()
        if not _PATH.fullmatch(path_text):
            bad = next((c for c in path_text if not re.fullmatch(r"[A-Za-z0-9\-._~/=&%?]", c)), None)
            what = f"character {bad!r} is not allowed" if bad else "it must start with '/'"
            raise UsageError(f"--webhook-path={path_text!r}: {what}; use a path like /webhooks "
                             "made of A-Z a-z 0-9 - . _ ~ / = & %")
        shape = getattr(options, "shape", None) or None
        if shape is not None and shape not in SHAPE_NAMES:
            close = difflib.get_close_matches(str(shape), SHAPE_NAMES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(f"--shape={shape!r} is not a load shape; {hint}pick one of "
                             f"{', '.join(SHAPE_NAMES)}, or leave it out for -u/-r/-t")
        return cls(scenario=scenario, tenant_users=tenant_users, seed=seed, events_file=events_path,
                   secrets=secrets, token=token, webhook_path=path_text, shape=shape,
                   pool_size=pool_size, user_rate=user_rate)

    @property
    def signing(self) -> str:
        """``"off"`` or how many secrets sign each delivery, for logs."""
        return f"{len(self.secrets)} secret{'s' if len(self.secrets) > 1 else ''}" if self.secrets else "off"

    def describe(self) -> str:
        """One log line about the run; no secret, no token."""
        source = f"events_file={self.events_file}" if self.events_file else (
            f"scenario={self.scenario} tenant_users={self.tenant_users} seed={self.seed}")
        return (f"chestsim firehose: {source} path={self.webhook_path} signing={self.signing} "
                f"token={'on' if self.token else 'off'} shape={self.shape or 'none'} pool={self.pool_size}")

    def __repr__(self) -> str:
        return (f"FirehoseConfig(scenario={self.scenario!r}, tenant_users={self.tenant_users}, "
                f"seed={self.seed}, events_file={self.events_file!r}, signing={self.signing!r}, "
                f"token={'on' if self.token else 'off'!r}, webhook_path={self.webhook_path!r}, "
                f"shape={self.shape!r}, pool_size={self.pool_size}, user_rate={self.user_rate})")


def _int(value: Any, flag: str, fix: str, *, low: int | None = None) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise UsageError(f"{flag}={value!r} is not an integer; pass {fix}") from None
    if low is not None and number < low:
        raise UsageError(f"{flag}={number} is too small; pass {fix}")
    return number


def _float(value: Any, flag: str, fix: str) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise UsageError(f"{flag}={value!r} is not a number; pass {fix}") from None
    if not number >= 0 or number == float("inf"):
        raise UsageError(f"{flag}={number!r} is out of range; pass {fix}")
    return number
