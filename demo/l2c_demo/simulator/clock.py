"""Time helpers: the simulator keeps times as unix seconds (int, UTC)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from functools import lru_cache

DAY = 86400


@lru_cache(maxsize=8192)
def _day(day_number: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day_number * DAY))


def _split(ts: int) -> tuple[str, int, int, int]:
    day_number, secs = divmod(ts, DAY)
    hours, rest = divmod(secs, 3600)
    minutes, seconds = divmod(rest, 60)
    return _day(day_number), hours, minutes, seconds


def to_unix(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


def from_unix(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def v2(ts: int | None) -> str | None:
    """Pipedrive v2 RFC3339: 2025-01-02T10:11:12Z."""
    if ts is None:
        return None
    d, h, m, s = _split(ts)
    return f"{d}T{h:02d}:{m:02d}:{s:02d}Z"


def v1(ts: int | None) -> str | None:
    """Pipedrive v1: 2025-01-02 10:11:12 (UTC)."""
    if ts is None:
        return None
    d, h, m, s = _split(ts)
    return f"{d} {h:02d}:{m:02d}:{s:02d}"


def lead_time(ts: int | None) -> str | None:
    """Pipedrive lead timestamps: 2025-01-02T10:11:12.000Z."""
    if ts is None:
        return None
    d, h, m, s = _split(ts)
    return f"{d}T{h:02d}:{m:02d}:{s:02d}.000Z"


def date(ts: int | None) -> str | None:
    if ts is None:
        return None
    return _day(ts // DAY)


def hhmm(ts: int) -> str:
    _, h, m, _ = _split(ts)
    return f"{h:02d}:{m:02d}"


def parse_rfc3339(text: str) -> int:
    """Parse RFC3339 / ISO timestamps (Z or offset, optional fraction) into unix seconds."""
    cleaned = text.strip().replace("Z", "+00:00")
    if " " in cleaned and "T" not in cleaned:
        cleaned = cleaned.replace(" ", "T", 1)
    return to_unix(datetime.fromisoformat(cleaned))
