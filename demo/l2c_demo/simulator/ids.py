"""Deterministic identifiers drawn from the simulation's own random generator."""

from __future__ import annotations

import base64
import random
import uuid

_TRANSLATE = bytes.maketrans(b"-_", b"xQ")


class IdMaker:
    """Builds Stripe-style, UUID and hash ids from a dedicated Random."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._seen: set[str] = set()

    def stripe(self, prefix: str, length: int = 24) -> str:
        n_bytes = (length * 3 + 3) // 4
        while True:
            raw = self._rng.getrandbits(8 * n_bytes).to_bytes(n_bytes, "big")
            body = base64.urlsafe_b64encode(raw).translate(_TRANSLATE).decode()[:length]
            out = f"{prefix}_{body}"
            if out not in self._seen:
                self._seen.add(out)
                return out

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def hash40(self) -> str:
        return f"{self._rng.getrandbits(160):040x}"
