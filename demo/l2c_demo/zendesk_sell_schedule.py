"""Scheduled Zendesk Sell loads over a simulated past, so the demo has stage histories.

A Zendesk Sell deal shows only its current stage; the warehouse learns its stage path from
the scheduled loads that saw it (docs/zendesk-sell-history.md). A demo with one load would
show every Zendesk deal with one stage. To give it history:

    config = history_config(SimConfig(...), loads=8, every_days=7)
    company = DemoCompany(config)              # as_of is 8 weeks before the configured one
    with FakeApiServer(company) as server:
        os.environ.update(server.source_env())
        run_history_loads(company, duckdb_path, loads=8, every_days=7)
        # company.as_of is now the configured as_of: write the ground truth, then run the
        # normal (final) load of every system and dbt build

`history_config` moves as_of back and widens the simulated window by the same amount, so the
company is the same one: the same deals, stage moves, leads, invoices and outcomes at the
final as_of (only the numbering of accounts that never buy may differ, their creation date
being drawn relative to as_of).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from l2c_demo.simulator import DemoCompany, SimConfig
from pipelines.load import LoadResult, load_system


def history_days(loads: int, every_days: float) -> int:
    total = loads * every_days
    if loads < 0 or every_days <= 0 or total != int(total):
        raise ValueError(
            f"loads * every_days must be a whole, non-negative number of days "
            f"(got {loads} * {every_days})"
        )
    return int(total)


def history_config(config: SimConfig, loads: int, every_days: float) -> SimConfig:
    """`config` rewound by loads * every_days: the same company, seen that much earlier."""
    days = history_days(loads, every_days)
    if days >= config.history_days:
        raise ValueError(f"{days} days of scheduled loads exceed history_days")
    return replace(
        config,
        as_of=config.as_of - timedelta(days=days),
        history_days=config.history_days - days,
        future_days=config.future_days + days,
    )


def run_history_loads(
    company: DemoCompany,
    duckdb_path: Path,
    loads: int,
    every_days: float,
    *,
    systems: Sequence[str] = ("zendesk_sell",),
    pipelines_dir: Path | None = None,
) -> list[LoadResult]:
    """Load `systems` `loads` times, advancing the company `every_days` after each load (the
    sources must already point at a server for `company`). Returns every load's result."""
    history_days(loads, every_days)  # validates the schedule
    results = []
    for _ in range(loads):
        for system in systems:
            results.append(load_system(system, duckdb_path, pipelines_dir=pipelines_dir))
        company.advance(days=every_days)
    return results
