"""Parsing of the units users type: durations (``50ms``, ``8h``), rates (``200/s``), sizes.

Each parser takes the option's name so its error says ``--rate='fast'`` and how to fix it.

>>> parse_duration("1m30s", option="--duration")
90.0
>>> parse_rate("600/m", option="--rate")
10.0
"""

from __future__ import annotations

import re

from simulator._exceptions import UsageError

__all__ = ["parse_duration", "parse_fraction", "parse_positive_int", "parse_rate", "parse_size"]

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|min|s|m|h|d)")
_RATE_UNITS = {"s": 1.0, "sec": 1.0, "m": 1 / 60, "min": 1 / 60, "h": 1 / 3600}


def parse_duration(text: str | float | int, *, option: str) -> float:
    """Seconds from ``1.5``, ``250ms``, ``10s``, ``5m``, ``8h``, ``1h30m``; negative is refused."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        raw = text.strip().lower()
        try:
            value = float(raw)
        except ValueError:
            pos, value = 0, 0.0
            for match in _DURATION_PART.finditer(raw):
                if match.start() != pos:
                    break
                value += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
                pos = match.end()
            if pos != len(raw) or not raw:
                raise UsageError(
                    f"{option}={text!r} is not a duration; use seconds or units like 250ms, 10s, 5m, 8h, 1h30m"
                ) from None
    if value < 0:
        raise UsageError(f"{option}={text!r} must not be negative; use a duration like 10s")
    return value


def parse_rate(text: str | float | int, *, option: str) -> float:
    """Events per second from ``200``, ``200/s``, ``600/m``, ``36000/h``; must be positive."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        raw = text.strip().lower().replace(" ", "")
        number, _, unit = raw.partition("/")
        try:
            value = float(number) * _RATE_UNITS[unit or "s"]
        except (ValueError, KeyError):
            raise UsageError(
                f"{option}={text!r} must be a positive number of events per second, like 200 or 200/s"
            ) from None
    if not value > 0 or value != value or value == float("inf"):
        raise UsageError(f"{option}={text!r} must be a positive number of events per second, like 200 or 200/s")
    return value


def parse_fraction(text: str | float, *, option: str) -> float:
    """A probability in [0, 1] from ``0.2`` or ``20%``."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(f"{option}={text!r} must be a fraction between 0 and 1, like 0.2 or 20%") from None
    if not 0.0 <= value <= 1.0:
        raise UsageError(f"{option}={text!r} must be a fraction between 0 and 1, like 0.2 or 20%")
    return value


def parse_positive_int(value: int | str, *, option: str, minimum: int = 1) -> int:
    """An integer ≥ ``minimum``."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{option}={value!r} must be a whole number ≥ {minimum}") from None
    if number < minimum:
        raise UsageError(f"{option}={value!r} must be a whole number ≥ {minimum}")
    return number


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}


def parse_size(text: str | int, *, option: str) -> int:
    """Bytes from ``1048576``, ``1e8``, ``512k``, ``10MB``."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?(?:[eE]\d{1,2})?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise UsageError(f"{option}={text!r} is not a size; use bytes or units like 512k, 10MB")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
