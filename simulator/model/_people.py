"""Faker pools, built once per tenant: people's names, the company and its domain.

Faker makes about 14k names a second, far too slow to call per event (or per
user in a 10k-user tenant). A tenant asks Faker for a few hundred given and
family names once, then combines them: 400 × 600 pairs make unique, plausible
people at the speed of ``random.choice``.
"""

from __future__ import annotations

import difflib
import random
import re
import unicodedata
from dataclasses import dataclass

from simulator._exceptions import UsageError

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


class PersonPool:
    """Unique people for one tenant, from pools of Faker names drawn once.

    >>> pool = PersonPool(seed=1)
    >>> person = pool.draw()
    >>> person.email.endswith("@" + pool.domain)
    True
    """

    def __init__(self, *, seed: int, locale: str = DEFAULT_LOCALE, size_hint: int = 100) -> None:
        from faker import Faker

        fake = Faker(check_locale(locale))
        fake.seed_instance(seed)
        self.locale = locale
        self._rng = random.Random(f"people:{seed}")
        givens = max(40, min(400, size_hint))
        families = max(60, min(600, size_hint * 2))
        # Names as written in the locale; emails from their romanized form (Faker's pairs where the
        # locale has them, as in ja_JP, else a transliteration: Сорокина -> sorokina).
        pairs = hasattr(fake, "first_name_pair") and hasattr(fake, "last_name_pair")
        self._given: list[tuple[str, str]] = []
        self._family: list[tuple[str, str]] = []
        for _ in range(givens):
            if pairs:
                name, _kana, roman = fake.first_name_pair()
            else:
                name = roman = fake.first_name()
            self._given.append((name, _ascii_slug(roman) or "user"))
        for _ in range(families):
            if pairs:
                name, _kana, roman = fake.last_name_pair()
            else:
                name = roman = fake.last_name()
            self._family.append((name, _ascii_slug(roman) or "member"))
        company = fake.company()
        self.company = company
        # A company domain from the company name ("Hernandez-Scott" -> "hernandez-scott.com"), or
        # Faker's domain word where the name is not in Latin script.
        flat = unicodedata.normalize("NFKD", company).encode("ascii", "ignore").decode().lower()
        words = [w for w in re.split(r"[^a-z0-9]+", flat) if w] if len(flat) * 2 >= len(company) else []
        words = [w for w in words if w not in _LEGAL_FORMS]
        stem = "-".join(words[:2]) or _ascii_slug(fake.domain_word()) or "example-corp"
        self.slug = stem
        self.domain = f"{stem}.{self._rng.choice(('com', 'com', 'com', 'io', 'dev', 'net'))}"
        self._used: set[str] = set()

    def draw(self) -> Person:
        """A person whose email no active user of the tenant has."""
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
