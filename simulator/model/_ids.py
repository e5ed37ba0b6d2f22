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

# base64 without its two symbols: event ids must be alphanumeric.
_ALNUM = bytes.maketrans(b"+/", b"Kq")


_BATCH = 256


class Ids:
    """Seeded id factory; two instances with the same seed give the same ids.

    Ids are made in batches of 256 from one big random number: one call into
    the random generator and one hex or base64 conversion serve many ids.
    """

    __slots__ = ("_event_bits", "_events", "_token_bits", "_uuid_bits", "_uuids")

    def __init__(self, *, seed: int | str) -> None:
        self._uuid_bits = random.Random(f"uuid:{seed}").getrandbits
        self._event_bits = random.Random(f"evt:{seed}").getrandbits
        self._token_bits = random.Random(f"token:{seed}").getrandbits
        self._uuids: list[str] = []
        self._events: list[str] = []

    def uuid(self) -> str:
        """A lower-case hyphenated uuid4-shaped id."""
        if not self._uuids:
            self._uuids = self._uuid_batch()
        return self._uuids.pop()

    def _uuid_batch(self) -> list[str]:
        h = f"{self._uuid_bits(128 * _BATCH):0{32 * _BATCH}x}"
        out = []
        for i in range(0, 32 * _BATCH, 32):
            variant = "89ab"[int(h[i + 16], 16) & 3]
            out.append(f"{h[i:i + 8]}-{h[i + 8:i + 12]}-4{h[i + 13:i + 16]}-{variant}{h[i + 17:i + 20]}-"
                       f"{h[i + 20:i + 32]}")
        return out

    def event_id(self) -> str:
        """``evt_`` and 24 alphanumeric characters."""
        if not self._events:
            raw = self._event_bits(144 * _BATCH).to_bytes(18 * _BATCH, "big")
            text = base64.b64encode(raw).translate(_ALNUM).decode()
            self._events = ["evt_" + text[i:i + 24] for i in range(0, 24 * _BATCH, 24)]
        return self._events.pop()

    def token(self, alphabet: str, length: int) -> str:
        """A deterministic string over ``alphabet`` (external ids, app ids)."""
        bits = self._token_bits
        size = len(alphabet)
        return "".join(alphabet[bits(32) % size] for _ in range(length))
