"""What the fake APIs derive from a view's lists (a sort, a filtered result set), kept while
the list stays the same object.

Views are rebuilt when the demo company moves on (a new as_of is a new view with new lists),
so a value derived from one list object stays right for as long as that object is the one a
request reads. Tests that change records in place keep the same list: endpoints that must see
such changes derive afresh where a real API would (a listing's first page); see the callers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from l2c_demo.simulator.views import Record

T = TypeVar("T")


class ViewMemo(Generic[T]):
    """Values keyed by a request's parameters, each remembered with the list it was derived
    from and returned only for that same list object. Holds at most `size` values (all are
    dropped when it is full: a load walks one listing at a time)."""

    def __init__(self, size: int = 64) -> None:
        self._lock = threading.Lock()
        self._size = size
        self._values: dict[Hashable, tuple[list[Record], T]] = {}

    def get(self, key: Hashable, rows: list[Record]) -> T | None:
        with self._lock:
            hit = self._values.get(key)
        return hit[1] if hit is not None and hit[0] is rows else None

    def put(self, key: Hashable, rows: list[Record], value: T) -> T:
        with self._lock:
            if len(self._values) >= self._size:
                self._values.clear()
            self._values[key] = (rows, value)
        return value

    def derive(self, key: Hashable, rows: list[Record], compute: Callable[[], T]) -> T:
        """The kept value for (key, rows), or `compute()` kept for the next request."""
        hit = self.get(key, rows)
        return hit if hit is not None else self.put(key, rows, compute())
