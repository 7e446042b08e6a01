"""The run log: one row per refresh in the warehouse table `ops.run_log`, published with the
marts, so a dashboard can show when its data was loaded and whether the last run passed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

DDL = """
create schema if not exists ops;
create table if not exists ops.run_log (
    run_id varchar primary key,
    started_at timestamptz not null,
    ended_at timestamptz,
    systems varchar not null,
    rows_loaded bigint,
    rejects bigint,
    dbt_passed integer,
    dbt_warned integer,
    dbt_failed integer,
    stale_sources varchar,
    outcome varchar not null,
    failed_step varchar,
    message varchar
)
"""


@dataclass
class Run:
    """What one refresh did; `outcome` is running, publishing, success or failed."""

    run_id: str
    systems: Sequence[str]
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    ended_at: datetime | None = None
    rows_loaded: int | None = None
    rejects: int | None = None
    dbt_passed: int | None = None
    dbt_warned: int | None = None
    dbt_failed: int | None = None
    stale_sources: list[str] = field(default_factory=list)
    outcome: str = "running"
    failed_step: str | None = None
    message: str | None = None


def new_run_id(started: datetime) -> str:
    return started.strftime("%Y%m%dT%H%M%S%fZ")


def record(duckdb_path: Path, run: Run) -> None:
    """Insert or update the run's row in the working warehouse."""
    con = duckdb.connect(str(duckdb_path))
    try:
        con.execute(DDL)
        con.execute(
            "insert or replace into ops.run_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run.run_id,
                run.started_at,
                run.ended_at,
                ",".join(run.systems),
                run.rows_loaded,
                run.rejects,
                run.dbt_passed,
                run.dbt_warned,
                run.dbt_failed,
                ",".join(run.stale_sources) or None,
                run.outcome,
                run.failed_step,
                (run.message or "")[:2000] or None,
            ],
        )
    finally:
        con.close()
