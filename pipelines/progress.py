"""Progress while loading: per system, records and requests so far, the request rate and, when
the total is known, the time left. On a terminal the line is redrawn in place; otherwise
(cron logs, CI) a plain line is written every `interval` seconds, with no control characters.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from pipelines.http import STATS

# where notify() and the progress lines go (tests may point it elsewhere)
OUTPUT: list[TextIO] = [sys.stdout]
ENABLED = [True]
# requests a source expects its run to make, when it can tell (Pipedrive, once it has read
# the list of changed deals): the progress line then says about how long is left
EXPECTED_REQUESTS: dict[str, int] = {}


def notify(system: str, message: str) -> None:
    """One plain line about a load, e.g. a source's cost estimate or a budget stop."""
    if ENABLED[0]:
        print(f"{system}: {message}", file=OUTPUT[0], flush=True)


def count_rows(item: Any) -> int:
    """Records in one item a resource yields (a row, a list of rows, an Arrow table)."""
    if isinstance(item, list):
        return len(item)
    rows = getattr(item, "num_rows", None)
    return int(rows) if isinstance(rows, int) else 1


class Progress:
    """Reports one system's load from a background thread until stopped."""

    def __init__(
        self,
        system: str,
        *,
        interval: float = 10.0,
        expected_requests: Callable[[], int | None] | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.system = system
        self.records = 0
        self.interval = interval
        self.expected_requests = expected_requests
        self.out = out or OUTPUT[0]
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.tty = bool(getattr(self.out, "isatty", lambda: False)())

    def add(self, item: Any) -> Any:
        """dlt `add_map` step: counts the records passing through, returns them unchanged."""
        with self._lock:
            self.records += count_rows(item)
        return item

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        stats = STATS.get(self.system)
        requests = stats.requests if stats else 0
        throttled = stats.throttled if stats else 0
        text = (
            f"{self.system}: {self.records:,} records, {requests:,} requests "
            f"({requests / elapsed:.1f}/s), {throttled} x 429, {elapsed:.0f} s"
        )
        if self.expected_requests is not None:
            expected = self.expected_requests()
        else:
            expected = EXPECTED_REQUESTS.get(self.system)
        if expected and requests:
            left = max(expected - requests, 0) * elapsed / requests
            text += f", about {left:.0f} s left"
        return text

    def _run(self) -> None:
        while not self._stop.wait(self.interval if not self.tty else 1.0):
            self._write(self.line())

    def _write(self, text: str) -> None:
        if not ENABLED[0]:
            return
        if self.tty:
            self.out.write("\r\x1b[K" + text)
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def start(self) -> Progress:
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.tty and ENABLED[0]:
            self.out.write("\r\x1b[K")
            self.out.flush()
