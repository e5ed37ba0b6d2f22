"""Faker pools, built once per tenant: people's names, the company and its domain.

Faker makes about 14k names a second, far too slow to call per event (or per
user in a 10k-user tenant). A tenant asks Faker for given and family names once,
then combines them: 400 × 600 pairs make unique, plausible people at the speed
of ``random.choice``.

The pool is sized by the people the tenant employs (only users take names:
devices borrow their owner's, groups and secrets come from catalogs), so that a
5-user tenant, as Hypothesis draws by the hundred, asks Faker for 20 names
rather than hundreds. A tenant that hires far beyond its size grows its pool as
it goes, so names stay distinct.
"""

from __future__ import annotations

import difflib
import random
import re
import sys
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator._exceptions import UsageError

if TYPE_CHECKING:
    from faker import Faker

__all__ = ["Person", "PersonPool", "check_locale"]

DEFAULT_LOCALE = "en_US"


def check_locale(locale: str) -> str:
    """The locale if Faker knows it, else a ``UsageError`` naming close ones."""
    from faker.config import AVAILABLE_LOCALES

    if locale in AVAILABLE_LOCALES:
        return locale
    normalized = locale.replace("-", "_")
    for known in AVAILABLE_LOCALES:
        if known.lower() == normalized.lower():
            return str(known)
    close = difflib.get_close_matches(normalized, AVAILABLE_LOCALES, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UsageError(f"--locale={locale!r} is not a Faker locale{hint} (e.g. en_US, de_DE, ja_JP, fr_FR)")


@dataclass(frozen=True, slots=True)
class Person:
    """A person the tenant may employ: names as written, and an ASCII email."""

    given_name: str
    family_name: str
    email: str

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


_LEGAL_FORMS = {"and", "inc", "llc", "ltd", "plc", "group", "sons", "gmbh", "co", "ag", "kg", "ev", "sa",
                "sas", "sarl", "spa", "srl", "bv", "nv", "oy", "ab", "as", "mbh", "ohg", "kgaa"}


def _ascii_slug(text: str) -> str:
    from faker.decode import unidecode

    return re.sub(r"[^a-z0-9]+", "", unidecode(text).lower())


#: Names a pool holds: about one given and two family names a person (2·n² pairs for n
#: people, so a draw rarely repeats a pair), at least a few, and at most what makes a 10k-user
#: tenant varied (more would cost Faker time and add no realism).
_MIN_GIVEN, _MIN_FAMILY = 8, 12
_MAX_GIVEN, _MAX_FAMILY = 400, 600


def _pool_sizes(people: int) -> tuple[int, int]:
    """Given and family names for a pool serving ``people`` people."""
    return (max(_MIN_GIVEN, min(_MAX_GIVEN, people)), max(_MIN_FAMILY, min(_MAX_FAMILY, 2 * people)))


# One Faker per locale for the process: building one costs more than drawing a small pool's names.
# Every use reseeds it under the lock, so what a pool draws depends on its seed alone.
_FAKERS: dict[str, Faker] = {}
_FAKERS_LOCK = threading.Lock()


@contextmanager
def _seeded_faker(locale: str, seed: int | str) -> Iterator[Faker]:
    with _FAKERS_LOCK:
        fake = _FAKERS.get(locale)
        if fake is None:
            from faker import Faker

            fake = _FAKERS[locale] = Faker(locale)
        fake.seed_instance(seed)
        yield fake


class PersonPool:
    """Unique people for one tenant, from pools of Faker names drawn once.

    ``size_hint`` is how many people the tenant employs; the pool grows (from Faker,
    reseeded, so still determined by ``seed``) when far more are hired.

    >>> pool = PersonPool(seed=1, size_hint=5)
    >>> person = pool.draw()
    >>> person.email.endswith("@" + pool.domain)
    True
    >>> pool.names_drawn
    20
    """

    def __init__(self, *, seed: int, locale: str = DEFAULT_LOCALE, size_hint: int = 100) -> None:
        self.locale = locale
        self._seed = seed
        self._faker_locale = check_locale(locale)
        self._rng = random.Random(f"people:{seed}")
        self._given: list[tuple[str, str]] = []
        self._family: list[tuple[str, str]] = []
        self._capacity = max(1, size_hint)
        self._grow_at = self._next_growth()
        with _seeded_faker(self._faker_locale, seed) as fake:
            self._add_names(fake, *_pool_sizes(self._capacity))
            company = fake.company()
            # A company domain from the company name ("Hernandez-Scott" -> "hernandez-scott.com"), or
            # Faker's domain word where the name is not in Latin script.
            flat = unicodedata.normalize("NFKD", company).encode("ascii", "ignore").decode().lower()
            words = [w for w in re.split(r"[^a-z0-9]+", flat) if w] if len(flat) * 2 >= len(company) else []
            words = [w for w in words if w not in _LEGAL_FORMS]
            stem = "-".join(words[:2]) or _ascii_slug(fake.domain_word()) or "example-corp"
        self.company = company
        self.slug = stem
        self.domain = f"{stem}.{self._rng.choice(('com', 'com', 'com', 'io', 'dev', 'net'))}"
        self._used: set[str] = set()

    @property
    def names_drawn(self) -> int:
        """How many names this pool asked Faker for (what building it cost)."""
        return len(self._given) + len(self._family)

    def _add_names(self, fake: Faker, givens: int, families: int) -> None:
        # Names as written in the locale; emails from their romanized form (Faker's pairs where the
        # locale has them, as in ja_JP, else a transliteration: Сорокина -> sorokina).
        pairs = hasattr(fake, "first_name_pair") and hasattr(fake, "last_name_pair")
        for _ in range(givens - len(self._given)):
            if pairs:
                name, _kana, roman = fake.first_name_pair()
            else:
                name = roman = fake.first_name()
            self._given.append((name, _ascii_slug(roman) or "user"))
        for _ in range(families - len(self._family)):
            if pairs:
                name, _kana, roman = fake.last_name_pair()
            else:
                name = roman = fake.last_name()
            self._family.append((name, _ascii_slug(roman) or "member"))

    def _next_growth(self) -> int:
        # Twice the people the pool was sized for: a tenant near its size never grows its pool.
        full = _pool_sizes(self._capacity) == (_MAX_GIVEN, _MAX_FAMILY)
        return sys.maxsize if full else 2 * self._capacity

    def _grow(self) -> None:
        """Serve twice as many people: far more are employed than the pool was sized for."""
        self._capacity *= 2
        self._grow_at = self._next_growth()
        with _seeded_faker(self._faker_locale, f"{self._seed}:{self._capacity}") as fake:
            self._add_names(fake, *_pool_sizes(self._capacity))

    def draw(self) -> Person:
        """A person whose email no active user of the tenant has."""
        if len(self._used) >= self._grow_at:
            self._grow()
        rng = self._rng
        for attempt in range(50):
            given, given_slug = rng.choice(self._given)
            family, family_slug = rng.choice(self._family)
            local = f"{given_slug}.{family_slug}" if attempt < 10 else f"{given_slug}.{family_slug}{attempt}"
            email = f"{local}@{self.domain}"
            if email not in self._used:
                self._used.add(email)
                return Person(given, family, email)
        suffix = len(self._used)
        given, given_slug = rng.choice(self._given)
        family, family_slug = rng.choice(self._family)
        email = f"{given_slug}.{family_slug}{suffix}@{self.domain}"
        self._used.add(email)
        return Person(given, family, email)

    def release(self, email: str) -> None:
        """Free an email when its user leaves (someone new may be hired under it)."""
        self._used.discard(email)
