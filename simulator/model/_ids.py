"""Identifiers from a seeded ``random.Random``: UUIDs and ``evt_…`` event ids.

``uuid.uuid4()`` reads the operating system's randomness, which would make
runs irreproducible; these are uuid4-shaped (version and variant bits set)
but come from the tenant's seed.

>>> ids = Ids(seed=7)
>>> len(ids.uuid()), ids.uuid()[14]
(36, '4')
>>> ids.event_id().startswith("evt_")
True
"""

from __future__ import annotations

import base64
import random

__all__ = ["Ids"]

_VERSION_MASK = ~(0xF000 << 64) & ((1 << 128) - 1)
_VERSION_4 = 0x4000 << 64
_VARIANT_MASK = ~(0xC000 << 48) & ((1 << 128) - 1)
_VARIANT_RFC = 0x8000 << 48
# base64 without its two symbols: event ids must be alphanumeric.
_ALNUM = bytes.maketrans(b"+/", b"Kq")


class Ids:
    """Seeded id factory; two instances with the same seed give the same ids."""

    __slots__ = ("_event_bits", "_uuid_bits")

    def __init__(self, *, seed: int | str) -> None:
        self._uuid_bits = random.Random(f"uuid:{seed}").getrandbits
        self._event_bits = random.Random(f"evt:{seed}").getrandbits

    def uuid(self) -> str:
        """A lower-case hyphenated uuid4-shaped id."""
        n = (self._uuid_bits(128) & _VERSION_MASK & _VARIANT_MASK) | _VERSION_4 | _VARIANT_RFC
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def event_id(self) -> str:
        """``evt_`` and 24 alphanumeric characters."""
        raw = self._event_bits(144).to_bytes(18, "big")
        return "evt_" + base64.b64encode(raw).translate(_ALNUM).decode()

    def token(self, alphabet: str, length: int) -> str:
        """A deterministic string over ``alphabet`` (external ids, app ids)."""
        bits = self._uuid_bits
        size = len(alphabet)
        return "".join(alphabet[bits(32) % size] for _ in range(length))
