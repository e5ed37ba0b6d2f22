"""The leak guard: payloads carry metadata only, never secret material.

Two kinds of evidence:

- a **field name** that carries material (``password``, ``secret_value``,
  ``value``, ``plaintext``, ``private_key``, ``token``, ``api_key``, …). The
  legitimate metadata names ``secret``, ``secret_id`` and the value
  ``"kind": "api_key"`` are not evidence: only keys are matched, whole;
- a **value shape**: a PEM block, a ``whsec_`` signing secret, a ``Bearer``
  credential, a JWT, an AWS access key id, GitHub/Slack/Stripe/Google tokens,
  credentials in a URL, and long high-entropy tokens in free-text fields
  (name, description, origin, reason, …).

The fast path runs in Rust: :func:`value_pattern`, a superset of the shapes, is compiled into each
type's closed jsonschema-rs validator on every free-form string (the closed
validator also refuses any field the schema does not name, and no schema
names a secret-ish field: a test checks it).
Only an event it refuses gets the precise Python walk, :func:`leaks`, which
names the JSON pointer.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from simulator.validation._problem import Problem, escape

__all__ = [
    "FREE_TEXT_FIELDS",
    "PREFILTER_PATTERN",
    "REDACTED",
    "is_secret_field",
    "leaks",
    "leaks_at",
    "looks_like_secret",
    "redact",
    "value_pattern",
]

# Matched against whole keys, case-insensitively, with an optional prefix: `client_secret`,
# `scim_token`, `db_password` are all evidence; `secret`, `secret_id`, `token_expires_at` are not.
SECRET_FIELD_PATTERN = (
    r"(?i)^(?:.*[_-])?(?:password|passwd|passphrase|pass_phrase|secret_value|secretvalue|value|plaintext|"
    r"plain_text|cleartext|clear_text|private_key|privatekey|client_secret|signing_secret|webhook_secret|"
    r"shared_secret|secret_key|access_key|token|access_token|refresh_token|id_token|api_key|apikey|"
    r"credential|credentials|mnemonic|seed_phrase|otp_seed|totp_secret|ciphertext|shard_content|"
    r"shard_data|cvv|cvc|card_number|pin)$"
)
_SECRET_FIELD = re.compile(SECRET_FIELD_PATTERN)

#: Fields that hold free text, where a long random token is suspicious.
FREE_TEXT_FIELDS = frozenset({
    "name", "display_name", "given_name", "family_name", "description", "origin", "reason", "folder",
    "model", "action", "message", "note", "notes", "comment", "title", "label", "tags",
})

# A URL's scheme and the rest, apart: the Python search looks for the literal ``://`` first and
# checks the scheme behind it, so that no search starts at every letter of a long field.
_URL_SCHEME = r"[a-z][a-z0-9+.-]{0,31}"
_URL_REST = r"://[^/\s:@\"]{1,256}:[^/\s@\"]{1,256}@"

# Written in the syntax Python's `re` and Rust's `regex` crate share: each is compiled here
# for the precise walk and, joined, into the closed jsonschema-rs validator as a prefilter.
# Beside each, the literals one of which every match contains (lower case: looked up in the
# lowered value): a value holding none of them is not searched at all, so a long field costs a
# few substring scans, not a backtracking search per pattern.
_SHAPE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"-----BEGIN [A-Z0-9 ]*-----", "a PEM block"),
    (r"whsec_[A-Za-z0-9+/=]{8,}", "a whsec_ signing secret"),
    (r"(?i:\bBearer\s+[A-Za-z0-9._~+/=-]{8,})", "a Bearer credential"),
    (r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", "a JWT"),
    (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", "an AWS access key id"),
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{30,}", "a GitHub token"),
    (r"\bxox[abposr]-[A-Za-z0-9-]{10,}", "a Slack token"),
    (r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}", "a Stripe key"),
    (r"\bAIza[0-9A-Za-z_-]{35}", "a Google API key"),
    # Bounded repeats: Python's backtracking `re` would go quadratic on a long unbroken field.
    (f"(?i:{_URL_SCHEME}{_URL_REST})", "a URL with credentials"),
)
_SHAPE_NEEDLES: tuple[tuple[str, ...], ...] = (
    ("-----begin ",), ("whsec_",), ("bearer",), ("eyj",), ("akia", "asia"),
    ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), ("xox",), ("k_live_", "k_test_"), ("aiza",),
    ("://",),
)
_URL_REST_SEARCH = re.compile(f"(?i:{_URL_REST})").search
_URL_SCHEME_AT_END = re.compile(f"(?i:{_URL_SCHEME})\\Z").search


def _url_with_credentials(value: str) -> bool:
    position = 0
    while (match := _URL_REST_SEARCH(value, position)) is not None:  # bounded: position only grows
        start = match.start()
        if _URL_SCHEME_AT_END(value, max(0, start - 32), start):
            return True
        position = start + 1
    return False


_SHAPES = tuple(
    (re.compile(pattern).search if what != "a URL with credentials" else _url_with_credentials, what, needles)
    for (pattern, what), needles in zip(_SHAPE_PATTERNS, _SHAPE_NEEDLES, strict=True)
)

#: A run of token characters long enough to be a key; the Rust prefilter for free text.
TOKEN_PATTERN = r"[A-Za-z0-9+/=_\-]{20,}"
_TOKEN = re.compile(TOKEN_PATTERN)
_ID_PREFIXES = ("evt_", "msg_")
_DIGIT = re.compile(r"[0-9]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def is_secret_field(name: str) -> bool:
    """True when a field name says it carries secret material.

    >>> is_secret_field("client_secret"), is_secret_field("secret_id"), is_secret_field("secret")
    (True, False, False)
    """
    return _SECRET_FIELD.fullmatch(name) is not None


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def _high_entropy_token(text: str) -> str | None:
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token.startswith(_ID_PREFIXES):
            continue  # chestsim's own event/message ids
        # Random base64/alphanumeric keys mix upper case, lower case and digits; words, UUIDs
        # (lower-case hex) and URL paths do not.
        if token.upper() == token or token.lower() == token or _DIGIT.search(token) is None:
            continue
        if _entropy(token) >= min(4.0, 0.8 * math.log2(len(token))):
            return token
    return None


def looks_like_secret(value: str, *, free_text: bool = False) -> str | None:
    """What kind of secret ``value`` looks like, or None.

    >>> looks_like_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    'a whsec_ signing secret'
    >>> looks_like_secret("alice@example.com") is None
    True
    """
    if (_PREFILTER_FREE if free_text else _PREFILTER)(value) is None:
        return None  # holds no shape's literal start, nor a long token: the usual case, in one search
    lowered = value.lower()
    for search, what, needles in _SHAPES:
        if any(needle in lowered for needle in needles) and search(value):
            return what
    if free_text and len(value) >= 20 and not _EMAIL.match(value) and _high_entropy_token(value) is not None:
        return "a long high-entropy token in a free-text field"
    return None


def leaks(event: Any) -> list[Problem]:
    """Every place in ``event`` that carries secret material, by field name or value shape."""
    return list(_walk(event, "", None))


def leaks_at(value: Any, where: str, field: str | None) -> list[Problem]:
    """The leaks inside one part of an event: ``value`` at pointer ``where``, held by member ``field``."""
    return list(_walk(value, where, field))


def _split(pointer: str) -> tuple[str, ...]:
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in pointer.split("/")[1:])


_tokens = lru_cache(maxsize=4096)(_split)  # the pointers of bulk failures repeat


#: What ``redact`` puts where a leaked value stood in a message.
REDACTED = "«redacted»"


def redact(problems: list[Problem], event: Any, leaked: list[Problem]) -> list[Problem]:
    """``problems`` with the leaked values cut out of their messages (schema errors quote values)."""
    values = [v for v in (_at(event, p.pointer) for p in leaked) if isinstance(v, str) and len(v) >= 4]
    if not values:
        return problems
    out = []
    for problem in problems:
        message = problem.message
        for value in values:
            for form in (value, repr(value), value.encode("unicode_escape").decode()):
                message = message.replace(form, REDACTED)
        out.append(problem if message == problem.message else
                   Problem(problem.code, problem.severity, problem.pointer, message, problem.keyword))
    return out


def _at(node: Any, pointer: str) -> Any:
    for token in _tokens(pointer) if len(pointer) <= 256 else _split(pointer):
        if isinstance(node, dict):
            node = node.get(token)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def _walk(node: Any, pointer: str, field: str | None) -> Iterator[Problem]:
    if isinstance(node, dict):
        for name, value in node.items():
            child = f"{pointer}/{escape(name)}"
            if is_secret_field(name):
                yield Problem("leak", "error", child, f"field {name!r} would carry secret material; "
                              "payloads carry metadata only: drop it")
                continue
            yield from _walk(value, child, name)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{pointer}/{index}", field)
    elif isinstance(node, str):
        what = looks_like_secret(node, free_text=field in FREE_TEXT_FIELDS)
        if what is not None:
            yield Problem("leak", "error", pointer, f"value looks like {what} (field {field!r}); "
                          "payloads carry metadata only: never a key, token or password")


#: What every value shape above contains: its literal start, or a URL's ``://user:password@``.
#: Counted repeats stay out: joined into one alternation they blow up the Rust lazy DFA, which
#: then thrashes on long alphanumeric values (an Okta id cost 10 µs to check, now 0.5 µs).
PREFILTER_PATTERN = (r"-----BEGIN|whsec_|(?i:bearer)|eyJ|AKIA|ASIA|gh[pousr]_|github_pat_|xox[abposr]-|"
                     r"[sr]k_(?:live|test)_|AIza|://[^/\s:@\"]+:[^/\s@\"]+@")


def value_pattern(*, free_text: bool) -> str:
    """One regex (Python and Rust syntax) matching any value the leak guard would look at, and more.

    The closed validator refuses a string matching it, which sends the event
    to the precise :func:`leaks` walk (that walk forgives a long but
    low-entropy token in free text, and a trigger without the rest of a shape).
    """
    return PREFILTER_PATTERN + (f"|{TOKEN_PATTERN}" if free_text else "")


_PREFILTER = re.compile(value_pattern(free_text=False)).search
_PREFILTER_FREE = re.compile(value_pattern(free_text=True)).search
