"""Injected faults: rate limits, server errors, slow responses, redirects, raw bodies and
dropped connections."""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields
from typing import Any


@dataclass
class Fault:
    """Applies to requests whose path starts with path_prefix, `times` times.

    status=None with delay_seconds > 0 only slows the response down; otherwise the server
    answers `status` (with a Retry-After header when retry_after is set or status is 429).
    `location`: answer a redirect there (status 301 unless given). `body`: answer this text
    as the body (status 200 unless given), e.g. a truncated or non-JSON page.
    `drop_connection`: close the connection without answering.
    """

    path_prefix: str
    status: int | None = None
    retry_after: float | None = None
    times: int = 1
    delay_seconds: float = 0.0
    method: str | None = None
    location: str | None = None
    body: str | None = None
    drop_connection: bool = False

    @property
    def answers(self) -> bool:
        """Whether the fault replaces the answer (else it only delays the real one)."""
        return (
            self.status is not None
            or self.location is not None
            or self.body is not None
            or self.drop_connection
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)


class FaultBook:
    """Thread-safe list of pending faults; each match uses one of its `times`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.fired: list[tuple[str, str, int | None]] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times <= 0 or not path.startswith(fault.path_prefix):
                    continue
                if fault.method is not None and fault.method.upper() != method:
                    continue
                fault.times -= 1
                self.fired.append((method, path, fault.status))
                return fault
            return None

    def pending(self) -> int:
        with self._lock:
            return sum(f.times for f in self._faults if f.times > 0)
