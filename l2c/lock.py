"""One job at a time per warehouse.

A refresh (or the demo) holds an exclusive `flock` on `<warehouse file>.lock` for its whole run:
dlt's pipeline state, the working DuckDB file and the served copies are then written by one job
only. A second job started meanwhile (a cron overlap) waits up to `wait_seconds` for the lock,
then stops with a message naming the job that holds it. The kernel drops the lock when its
holder exits, however it exits (even `kill -9`), so a crashed run never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

# lock files this process holds: the demo takes the lock, then calls the refresh, which takes it
# again (flock would refuse a second open file description of the same process)
_held: set[Path] = set()


class LockBusy(RuntimeError):
    """Another job holds the warehouse's lock."""


def lock_path(duckdb_path: Path) -> Path:
    return duckdb_path.with_name(duckdb_path.name + ".lock")


@contextmanager
def job_lock(duckdb_path: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the warehouse's job lock while the block runs; raises LockBusy when another job
    still holds it after `wait_seconds`."""
    path = lock_path(duckdb_path).resolve()
    if path in _held:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = path.read_text(errors="replace").strip() or "a job"
                    waited = f" after waiting {wait_seconds:g}s" if wait_seconds else ""
                    raise LockBusy(
                        f"another job holds the warehouse {duckdb_path} ({holder}); this one "
                        f"stops{waited} without touching it. Let the running job finish, or "
                        "pass --wait SECONDS to queue behind it."
                    ) from None
                time.sleep(0.2)
        started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        command = " ".join(os.path.basename(a) for a in sys.argv[:3])
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, {command}, started {started}\n".encode(), 0)
        _held.add(path)
        try:
            yield
        finally:
            _held.discard(path)
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the flock
