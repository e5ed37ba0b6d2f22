"""``ChestSettings``: the seed, signing secret and tenant size one test runs with.

Each comes, first match wins, from the test's ``@pytest.mark.chestsim(...)``, then
the command line (``--chestsim-seed``, ``--chestsim-secret``, ``--chestsim-users``),
then the defaults: seed 0, ``TEST_SECRET``, 10 users. ``--chestsim-seed=random``
draws one seed for the session; a failing test prints the seed either way.

>>> ChestSettings.resolve()
ChestSettings(seed=0, secret=SigningSecret('whsec_…'), users=10)
>>> ChestSettings.resolve(marker={"seed": 7}, options={"seed": "3", "users": "50"}).seed
7
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulator._exceptions import UsageError
from simulator._signing import SigningSecret

__all__ = ["DEFAULT_USERS", "TEST_SECRET", "ChestSettings", "SecretText", "parse_seed"]

#: The signing secret tests use unless told otherwise. Public on purpose: never use it in production.
TEST_SECRET = "whsec_Y2hlc3RzaW0tdGVzdC1zZWNyZXQtdjEh"
#: Users in the simulated tenant unless told otherwise.
DEFAULT_USERS = 10

_MARKER_KEYS = frozenset({"seed", "secret", "users"})


class SecretText(str):
    """The ``whsec_…`` text of a secret: a ``str`` for the app under test, masked in ``repr``
    so that pytest's failure reports (which show fixture values) never print it.

    >>> text = SecretText("whsec_Y2hlc3RzaW0tdGVzdC1zZWNyZXQtdjEh")
    >>> text
    'whsec_…'
    >>> text.startswith("whsec_Y2")
    True
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'whsec_…'"


def parse_seed(value: str | int | None, *, rng: random.Random | None = None) -> int:
    """A seed from an option value: an integer, or ``random`` for a fresh one."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text == "random":
        return (rng or random.SystemRandom()).randrange(2**32)
    try:
        return int(text, 0)
    except ValueError:
        raise UsageError(f"--chestsim-seed={value!r} must be an integer like 1234, or 'random'") from None


def _secret(value: str | SigningSecret, *, where: str) -> SigningSecret:
    if isinstance(value, SigningSecret):
        return value
    if not isinstance(value, str):
        raise UsageError(f"{where} must be a 'whsec_…' string or a SigningSecret, not {type(value).__name__}")
    return SigningSecret(value)


def _users(value: Any, *, where: str) -> int:
    try:
        users = int(value)
    except (TypeError, ValueError):
        users = 0
    if users < 1 or isinstance(value, bool):
        raise UsageError(f"{where}={value!r} must be a positive number of tenant users, like 10")
    return users


@dataclass(frozen=True, slots=True)
class ChestSettings:
    """What the ``chest_*`` fixtures of one test use; ``repr`` never shows the secret."""

    seed: int
    secret: SigningSecret
    users: int

    @classmethod
    def resolve(cls, *, marker: Mapping[str, Any] | None = None,
                options: Mapping[str, Any] | None = None) -> ChestSettings:
        """Marker keyword arguments win over options (strings from the command line)."""
        marker = dict(marker or {})
        options = {k: v for k, v in (options or {}).items() if v is not None}
        unknown = sorted(set(marker) - _MARKER_KEYS)
        if unknown:
            raise UsageError(
                f"@pytest.mark.chestsim got {', '.join(unknown)}; it takes seed=, secret= and users="
            )
        if "seed" in marker:
            seed = marker["seed"]
            if not isinstance(seed, int) or isinstance(seed, bool):
                raise UsageError(f"@pytest.mark.chestsim(seed={seed!r}) must be an integer")
        else:
            seed = parse_seed(options.get("seed"))
        if "secret" in marker:
            secret = _secret(marker["secret"], where="@pytest.mark.chestsim(secret=...)")
        else:
            secret = _secret(options.get("secret", TEST_SECRET), where="--chestsim-secret")
        if "users" in marker:
            users = _users(marker["users"], where="@pytest.mark.chestsim(users)")
        else:
            users = _users(options.get("users", DEFAULT_USERS), where="--chestsim-users")
        return cls(seed=seed, secret=secret, users=users)

    def reproduce(self) -> str:
        """How to run a test again with the same settings."""
        return (f"chestsim seed={self.seed} users={self.users}: reproduce with "
                f"--chestsim-seed={self.seed} or @pytest.mark.chestsim(seed={self.seed})")
