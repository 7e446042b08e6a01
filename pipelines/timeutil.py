"""Time values the sources share: the instant a first incremental load starts from, and the
UTC text forms the APIs' filters take."""

from __future__ import annotations

from datetime import datetime, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)  # a first load reads everything after it


def rfc3339(moment: datetime, utc_suffix: str = "Z") -> str:
    """`moment` in UTC to the second, e.g. 2026-06-30T12:00:00Z (Pipedrive's `updated_since`,
    SOQL datetimes); Oracle's `q` filter wants the suffix '+00:00'."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + utc_suffix
