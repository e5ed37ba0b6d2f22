"""``Validator``: one event against the contract, fast when the event is valid.

The layers, in order: JSON parse (orjson) → envelope and event type → the
type's schema → unknown fields → semantic rules → leak guard. A valid event
costs one ``is_valid`` on the type's closed validator, one pass of the
semantic rules (the leak guard's prefilter runs inside that validator, in
Rust); the detailed errors are collected only for an event that fails.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import orjson

from simulator._catalog import CATALOG, lookup
from simulator._exceptions import UnknownEventType
from simulator.validation._duplicates import duplicate_problems, maybe_duplicates
from simulator.validation._explain import Explainer, Failure, Suspect
from simulator.validation._leakguard import REDACTED, is_secret_field, leaks, leaks_at, redact
from simulator.validation._problem import Code, Problem, Severity, pointer
from simulator.validation._registry import (
    Compiled,
    compiled_type,
    leak_prefilter,
    lookup_key,
)
from simulator.validation._semantic import check_schema_valid, check_semantic, holds_schema_valid

__all__ = ["Validator"]

CATALOG_KEYS = frozenset(t.key for t in CATALOG)
_SOME_TYPE = CATALOG[0].key
_ENVELOPE_FIELDS = frozenset({"id", "type", "timestamp", "tenant_id"})
_TIMESTAMP_HINT = "an RFC 3339 time in UTC ending in Z, like 2026-11-28T09:14:03.120Z"


class Validator:
    """Checks events against the payload contract; build it once, call it per event.

    ``strict=True`` makes unknown fields errors; by default they are warnings,
    so that a newer producer does not break an older validator.

    >>> from simulator import lookup
    >>> v = Validator()
    >>> v.check(lookup("secret.used").examples[0])
    []
    >>> event, problems = v.check_bytes(b'{"id": 1}')
    >>> problems[0].code
    'envelope'
    """

    __slots__ = ("_explainers", "_shortcuts", "_types", "_unknown", "fast_paths", "strict")

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        # Filled as event types show up: each type's validators are compiled on first use.
        self._types: dict[str, Compiled] = {}
        #: Event type → the closed validator's ``is_valid``: True means schema-valid, no unknown
        #: field and nothing that looks like secret material (the semantic rules remain). Holds
        #: the types met so far; ``fast_path`` adds the others.
        self.fast_paths: dict[str, Callable[[Any], bool]] = {}
        self._explainers: dict[str, Explainer] = {}
        #: Event type → the ways its events were seen to fail at one part only (see ``_Shortcut``).
        self._shortcuts: dict[str, list[_Shortcut]] = {}
        #: (event type, paths of unknown members) → the problems of an event with those and no other fault.
        self._unknown: dict[tuple[Any, ...], tuple[Problem, ...]] = {}

    def __repr__(self) -> str:
        return f"Validator(strict={self.strict!r})"

    def fast_path(self, name: str) -> Callable[[Any], bool] | None:
        """The closed validator's ``is_valid`` for an event type (None for an unknown type)."""
        schema = self._schema(name)
        return None if schema is None else schema.closed.is_valid

    def _explainer(self, name: str) -> Explainer:
        explainer = self._explainers.get(name)
        if explainer is None:
            explainer = self._explainers[name] = Explainer(name)
        return explainer

    def _schema(self, name: str) -> Compiled | None:
        schema = self._types.get(name)
        if schema is None and name in CATALOG_KEYS:
            schema = self._types[name] = compiled_type(name)
            self.fast_paths[name] = schema.closed.is_valid
        return schema

    def check_bytes(self, body: bytes | bytearray | memoryview | str) -> tuple[Any, list[Problem]]:
        """Parse one JSON body and check it; returns (event or None, problems)."""
        try:
            event = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return None, [Problem("json", "error", "", f"not JSON: {exc}")]
        return event, self.check_parsed(body, event)

    def check_parsed(self, raw: bytes | bytearray | memoryview | str, event: Any) -> list[Problem]:
        """The problems of ``event``, which orjson parsed from ``raw``: ``check`` plus duplicate member names.

        >>> Validator().check_parsed(b'{"type": 1, "type": 2}', {"type": 2})[0].code
        'duplicate-key'
        """
        if maybe_duplicates(raw, event):
            return duplicate_problems(raw, event, strict=self.strict) + self.check(event)
        return self.check(event)

    def check(self, event: Any) -> list[Problem]:
        """The problems of one parsed event (empty when it is valid)."""
        if not isinstance(event, dict):
            kind = type(event).__name__ if not isinstance(event, list) else "array"
            return [Problem("envelope", "error", "", f"an event must be a JSON object, got {kind}")]
        name = event.get("type")
        schema = (self._types.get(name) or self._schema(name)) if name.__class__ is str else None
        if schema is None:
            return self._untyped(event)
        if schema.closed.is_valid(event):
            return check_schema_valid(event)
        return self._refused(event, schema)

    def check_refused(self, event: dict[str, Any], name: str) -> list[Problem]:
        """``check`` for an event whose type's fast path (``fast_paths[name]``) refused it: skips that call."""
        schema = self._types.get(name) or self._schema(name)
        return self._untyped(event) if schema is None else self._refused(event, schema)

    def _refused(self, event: dict[str, Any], schema: Compiled) -> list[Problem]:
        shortcuts = self._shortcuts.get(schema.key)
        if shortcuts is not None:
            for position, shortcut in enumerate(shortcuts):
                found = shortcut.problems(self, event, schema)
                if found is not None:
                    if position:  # the way events fail now is tried first next time
                        shortcuts.insert(0, shortcuts.pop(position))
                    return found
        found = self._only_unknown(event, schema)
        if found is not None:
            return found
        failures, suspects = self._explainer(schema.key).explain(event)
        problems = self._problems(event, schema, failures, suspects)
        self._learn(event, schema, suspects, problems)
        return problems

    def _only_unknown(self, event: dict[str, Any], schema: Compiled) -> list[Problem] | None:
        """The problems of an event whose only fault is members no schema names; None when it has others.

        A release that adds fields adds them to every event, several at once
        and with values that differ each time, which no shortcut remembers.
        With those members taken out, the event must pass the type's closed
        validator and the rules it leaves out; then the unknown members are
        all there is to report (the semantic rules read named fields only).
        Measured on 20k events with two new fields each: ~7× a valid event's
        cost when explained part by part, ~3.5× this way.
        """
        suspects = self._explainer(schema.key).unknown_members(event)
        if not suspects:
            return None
        patched = dict(event)
        copies: dict[str, dict[str, Any]] = {}
        for path, _, _ in suspects:
            head, *rest = map(str, path)  # member names (unknown_members finds no list items)
            if not rest:
                del patched[head]
                continue
            holder = copies.get(head)
            if holder is None:
                holder = copies[head] = patched[head] = dict(event[head])
            del holder[rest[0]]
        if not schema.closed.is_valid(patched) or not holds_schema_valid(patched):
            return None
        # The problems depend on where the members are, not on their values, when no value leaks
        # (a member named like a secret is reported by its name alone): remembered by those places.
        where = (schema.key, *(path for path, _, _ in suspects))
        found = self._unknown.get(where)
        if found is not None and _values_unseen(suspects, found):
            return list(found)
        problems = self._problems(event, schema, [], suspects)
        by_name = {pointer(path) for path, _, _ in suspects if is_secret_field(str(path[-1]))}
        if all(p.code != "leak" or p.pointer in by_name for p in problems) \
                and not any(REDACTED in p.message for p in problems) \
                and sum(len(str(path[-1])) for path, _, _ in suspects) <= _UNKNOWN_NAMES_BYTES:
            if len(self._unknown) >= _UNKNOWN_SETS:
                self._unknown.clear()
            self._unknown[where] = tuple(problems)
        return problems

    def _learn(self, event: dict[str, Any], schema: Compiled, suspects: list[Suspect],
               problems: list[Problem]) -> None:
        """Remember how an event failed when it failed at one part only, for the next that fails there alike."""
        if len(suspects) == 1:
            path, value, known = suspects[0]
            kind = "leaf" if known else "unknown"
        elif not suspects and problems and len({p.pointer for p in problems}) == 1:
            # A member missing, and nothing else: the problem sits on the object that lacks it.
            holder = tuple(part.replace("~1", "/").replace("~0", "~") for part in problems[0].pointer.split("/")[1:])
            ok, required = self._explainer(schema.key).part(holder)
            node: Any = event
            for part in holder:
                node = node.get(part) if node.__class__ is dict else None
            missing = sorted(required.difference(node)) if ok and node.__class__ is dict else []
            if len(missing) != 1:
                return
            path, value, kind = (*holder, missing[0]), _ABSENT, "absent"
        else:
            return
        where = pointer(path)
        if not path or not all(part.__class__ is str for part in path) or path == ("type",) \
                or not all(p.pointer == where or p.pointer.startswith(where + "/") or kind == "absent"
                           for p in problems):
            return  # a problem lies outside the part
        shortcuts = self._shortcuts.setdefault(schema.key, [])
        shortcut = next((s for s in shortcuts if s.path == path and s.kind == kind), None)
        if shortcut is None:
            if len(shortcuts) >= _SHORTCUTS_PER_TYPE:
                return
            explainer = self._explainer(schema.key)
            if not explainer.part(path[:-1])[0]:  # type: ignore[arg-type]
                return
            patch = _MISSING if kind == "unknown" else _example_value(schema.key, path)  # type: ignore[arg-type]
            if patch is None:
                return
            shortcut = _Shortcut(path, kind, patch, explainer)  # type: ignore[arg-type]
            shortcuts.append(shortcut)
        if any(p.is_error for p in problems):  # else the semantic rules ran: they read the whole event
            shortcut.keep(value, problems)

    def _untyped(self, event: dict[str, Any]) -> list[Problem]:
        name = event.get("type")
        if isinstance(name, str):
            # Remembered for names of a sane length only: a 50 MB "type" must not be kept 1,024 times.
            message = _unknown_type(name) if len(name) <= 200 else \
                f"unknown event type {name[:40]!r}… ({len(name):,} characters; `chestsim events list` shows the " \
                f"{len(CATALOG)} keys)"
            problems = [Problem("unknown-type", "error", "/type", message)]
            # With a known type in its place, does the envelope hold? One call of its closed validator,
            # instead of the explainer's walk over its parts (cold: unknown types are rare in a capture).
            if not compiled_type("envelope").closed.is_valid({**event, "type": _SOME_TYPE}):
                problems.extend(p for p in _schema_problems(self._explainer("envelope"), event)
                                if p.pointer != "/type")
        else:
            problems = _schema_problems(self._explainer("envelope"), event)
        leaked = leaks(event) if not leak_prefilter().is_valid(event) else []
        return _shorten(redact(problems, event, leaked)) + leaked

    def _problems(self, event: dict[str, Any], schema: Compiled, failures: list[Failure],
                  suspects: list[Suspect]) -> list[Problem]:
        """The problems of an event from its schema failures and the parts to walk for unknown fields and leaks."""
        problems = _problems(failures)
        # Only the parts that failed their closed validators can hold unknown fields or leaks.
        unknown: list[str] = []
        leaked: list[Problem] = []
        for path, value, known in suspects:
            where = pointer(path)
            if known:
                shape = schema.shape.at(path)
                if shape is not None:
                    unknown.extend(shape.unknown(value, where))
                leaked.extend(leaks_at(value, where, path[-1] if path and isinstance(path[-1], str) else None))
            else:
                unknown.append(where)
                member = {path[-1]: value}
                if not leak_prefilter().is_valid(member):  # one Rust pass; the walk only where it may find
                    leaked.extend(leaks_at(member, pointer(path[:-1]), None))
        severity: Severity = "error" if self.strict else "warning"
        for where in unknown:
            name = where.rsplit("/", 1)[-1]
            problems.append(Problem("unknown-field", severity, where,
                                    f"field {name!r} is not in the {schema.key} schema"
                                    + ("" if self.strict else " (allowed; --strict refuses it)")))
        if not any(p.is_error for p in problems):
            problems.extend(check_semantic(event))
        # Schema messages quote the offending value: never echo secret material.
        return _shorten(redact(problems, event, leaked)) + leaked


#: Sets of unknown members remembered (the memo starts over when full), each of names this long at most
#: (a hostile capture's megabyte-long member names are not kept a thousand times).
_UNKNOWN_SETS = 1024
_UNKNOWN_NAMES_BYTES = 1024

#: Parts of one event type remembered as failing alone; bounded, as are the values kept per part.
_SHORTCUTS_PER_TYPE = 8
_VALUES_PER_SHORTCUT = 1024
_VALUE_BYTES = 512


class _Shortcut:
    """The problems of events of one type that fail at one part only: by that part's JSON text.

    Captures are broken in bulk and alike: 20,000 events with the same bad
    timestamp, a field missing from every event of a release, a new field.
    The first is explained part by part. An event of the type that fails
    later is tried against each shortcut: with its part put right (a value
    from the type's shipped example; for an unknown member, the member
    taken out) it must pass the type's closed validator — the one every
    valid event keeps hot — and the clauses that validator drops. Then
    every other part is valid, closed and clean, and the problems lie in
    the part: remembered by its text, or worked out from the part alone
    (``Explainer.explain_part``), never by visiting the event's ~10 parts.
    """

    __slots__ = ("blind", "by_integer", "clean", "explainer", "integers", "kind", "memo", "patch", "path")

    def __init__(self, path: tuple[str, ...], kind: str, patch: Any, explainer: Explainer) -> None:
        self.path = path
        self.kind = kind  # "leaf" (a known part), "unknown" (a member no schema names), "absent" (required)
        self.patch = patch  # the value that puts the part right (_MISSING: take the member out)
        self.explainer = explainer
        #: For a known part: whether a value is valid, closed and clean there (then the event fails elsewhere).
        self.clean = explainer.clean_at(path) if kind == "leaf" else None
        self.memo: dict[bytes, tuple[Problem, ...]] = {}
        #: A string-only part refuses every integer alike, the number quoted aside: an ID written as a
        #: number is unique per event, and would miss the memo every time. ``integers`` holds one
        #: integer's problems and its text, to quote another's in its place.
        self.by_integer = kind == "leaf" and _strings_only(explainer.leaf_schema(path))
        self.integers: tuple[tuple[Problem, ...], str] | None = None
        #: A member no schema names, whose name is evidence of a leak (``client_secret``): it is
        #: reported by its name alone, its value never read (a leaked token is unique: a memo by value
        #: would never be met twice). Only redaction could bring the value into a message: see ``keep``.
        self.blind = kind == "unknown" and is_secret_field(path[-1])

    def _key(self, value: Any) -> bytes | None:
        return b"" if value is _ABSENT or self.blind else _text(value)

    def keep(self, value: Any, problems: list[Problem]) -> None:
        key = self._key(value)
        if key is None or len(key) > _VALUE_BYTES:
            return  # a big value is seldom met twice: not worth its memory
        if self.blind and any(REDACTED in p.message for p in problems):
            return  # this value was cut out of a message: another value would not be
        if len(self.memo) >= _VALUES_PER_SHORTCUT:
            self.memo.clear()
        self.memo[bytes(memoryview(key))] = tuple(problems)  # a copy: orjson's own buffer holds 4 KiB or more
        if self.by_integer and self.integers is None and value.__class__ is int:
            text = str(value)
            # Only the plain shape "<number> is not of type …": the number quoted once, first.
            if all(p.message.startswith(f"{text} ") and p.message.count(text) == 1 for p in problems):
                self.integers = tuple(problems), text

    def _for_integer(self, value: int) -> list[Problem] | None:
        """The problems of this part holding ``value``, from another integer's (None when none is known)."""
        if self.integers is None:
            return None
        problems, text = self.integers
        quoted = str(value)
        return _shorten([Problem(p.code, p.severity, p.pointer, p.message.replace(text, quoted, 1), p.keyword)
                         for p in problems])

    def problems(self, validator: Validator, event: dict[str, Any], schema: Compiled) -> list[Problem] | None:
        """The event's problems when it fails at this part only; else None."""
        path = self.path
        holder: Any = event
        for name in path[:-1]:
            holder = holder.get(name) if holder.__class__ is dict else None
        if holder.__class__ is not dict:
            return None
        value = holder.get(path[-1], _ABSENT)
        if (value is _ABSENT) != (self.kind == "absent"):
            return None
        if self.clean is not None and self.clean(value):
            return None
        patched = _patched(event, path, self.patch)
        if not schema.closed.is_valid(patched):
            return None
        # The fast path's verdict on the patched copy (closed, and the comparisons that restate the
        # clauses the closed copy drops) proves those clauses hold outside the part; when it does not
        # hold, ask the dropped clauses themselves (slower: ~25 µs for the shard map's 32).
        if not holds_schema_valid(patched) and not self.explainer.dropped_hold_outside(event, path):
            return None
        key = self._key(value)
        found = self.memo.get(key) if key is not None else None
        if found is not None and not (self.blind and _quoted(value, found)):
            return list(found)
        if self.by_integer and value.__class__ is int:
            made = self._for_integer(value)
            if made is not None:
                return made
        problems = validator._problems(event, schema, *self.explainer.explain_part(event, path))
        if any(p.is_error for p in problems):
            self.keep(value, problems)
        return problems


_MISSING: Any = object()  # a patch that takes the member out


def _patched(event: dict[str, Any], path: tuple[str, ...], patch: Any) -> dict[str, Any]:
    """A copy of ``event`` with the part at ``path`` replaced (copies only the objects on the way)."""
    out = dict(event)
    node = out
    for name in path[:-1]:
        node[name] = node = dict(node[name])
    if patch is _MISSING:
        del node[path[-1]]
    else:
        node[path[-1]] = patch
    return out


#: Keywords that leave any integer refused alike when the schema is for strings only.
_STRING_KEYWORDS = frozenset({"type", "pattern", "format", "minLength", "maxLength", "description", "title",
                              "$comment", "examples", "deprecated", "readOnly", "writeOnly"})


def _strings_only(schema: Any) -> bool:
    """Whether ``schema`` takes strings only, held to string keywords only: every integer fails it alike."""
    return isinstance(schema, dict) and schema.get("type") == "string" and set(schema) <= _STRING_KEYWORDS


def _example_value(key: str, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in one of the type's shipped examples (None when none has it)."""
    for example in lookup_key(key).examples:
        node: Any = example
        for name in path:
            node = node.get(name, _ABSENT) if node.__class__ is dict else _ABSENT
        if node is not _ABSENT and node is not None:
            return node
    return None


_ABSENT: Any = object()


def _values_unseen(suspects: list[Suspect], problems: tuple[Problem, ...]) -> bool:
    """Whether remembered problems hold for these unknown members: no value a leak, nor quoted in them.

    A member named like a secret is reported by its name, its value never
    read; its value must only not stand in a message (``redact`` would cut it).
    """
    prefilter = leak_prefilter().is_valid
    for path, value, _ in suspects:
        name = path[-1]
        if is_secret_field(str(name)):
            if _quoted(value, problems):
                return False
        elif not prefilter({name: value}):
            return False
    return True


def _quoted(value: Any, problems: tuple[Problem, ...]) -> bool:
    """Whether ``redact`` would cut ``value`` out of one of these messages (the forms it looks for)."""
    if not isinstance(value, str) or len(value) < 4:
        return False
    forms = (value, repr(value), value.encode("unicode_escape").decode())
    return any(form in problem.message for problem in problems for form in forms)


def _text(value: Any) -> bytes | None:
    try:
        return orjson.dumps(value)
    except TypeError:  # an event built in Python may hold what JSON cannot
        return None


@lru_cache(maxsize=1024)
def _unknown_type(name: str) -> str:
    """The message for a type the catalog does not hold (remembered: its suggestion costs ~0.5 ms)."""
    try:
        hint = f"; write the key {lookup(name).key!r}, not the label"
    except UnknownEventType as exc:
        hint = f"; did you mean {exc.suggestions[0]!r}?" if exc.suggestions else ""
    return f"unknown event type {name!r}{hint} (`chestsim events list` shows the {len(CATALOG)} keys)"


#: Messages quote values; a 50 MB field must not make a 50 MB line of output.
_LONGEST_MESSAGE = 400


def _shorten(problems: list[Problem]) -> list[Problem]:
    """Problems with overlong messages cut (after redaction, so no cut leaves part of a secret)."""
    return [p if len(p.message) <= _LONGEST_MESSAGE else
            Problem(p.code, p.severity, p.pointer,
                    f"{p.message[:200]} …[{len(p.message) - 320:,} characters cut]… {p.message[-120:]}", p.keyword)
            for p in problems]


def _schema_problems(explainer: Explainer, event: dict[str, Any]) -> list[Problem]:
    return _problems(explainer.failures(event))


def _problems(failures: list[Failure]) -> list[Problem]:
    out: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for failure in failures:
        path = failure.path
        where = pointer(path)
        code: Code = "schema" if path and path[0] == "data" else "envelope"
        if code == "envelope" and path and path[0] not in _ENVELOPE_FIELDS:
            code = "schema"
        message = _message(failure, where)
        if (where, message) in seen:
            continue
        seen.add((where, message))
        out.append(Problem(code, "error", where, message, failure.kind))
    return out


def _message(failure: Failure, where: str) -> str:
    instance = failure.instance
    if failure.kind in ("pattern", "format") and isinstance(instance, str):
        if "T([01]" in failure.detail or "date-time" in failure.detail:
            return f"{where or 'value'}={instance!r} is not {_TIMESTAMP_HINT}"
        if "[0-9a-f]{8}" in failure.detail or failure.detail == "uuid":
            return f"{where or 'value'}={instance!r} is not a lower-case hyphenated UUID"
    return failure.message
