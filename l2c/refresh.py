"""The scheduled job: load every configured source, check the raw data, build the models,
check the event log, print the summary. `make demo` runs the same steps against the local
demo APIs; point the sources at the real APIs (see README) and run:

    python -m l2c.refresh [--duckdb warehouse/lead2cash.duckdb] [--systems pipedrive stripe]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from l2c.dbt_runner import DbtError, run_dbt
from l2c.quality import QualityError, check, event_log_suites, raw_suites
from l2c.summary import summarize
from pipelines.load import SOURCES, LoadError, load_all


def step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.perf_counter()


def refresh(
    duckdb_path: Path,
    systems: Sequence[str] = ("pipedrive", "stripe"),
    dbt_vars: dict[str, object] | None = None,
) -> None:
    """`dbt_vars` are passed to `dbt build --vars` (e.g. the demo's as_of).
    Raises LoadError, QualityError or DbtError with a message saying what failed where."""
    # dlt warns about every column that stayed empty in a load; keep the job's output short
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    started = step(f"dlt: load {', '.join(systems)} -> {duckdb_path}")
    for result in load_all(duckdb_path, systems):
        print(
            f"{result.system:<10} {result.rows:>9,} rows into {result.dataset:<14} "
            f"{result.rejects:,} rejected  ({result.seconds:.1f}s)"
        )
    print(f"loaded in {time.perf_counter() - started:.1f}s")

    step("Great Expectations: raw data")
    print(check(duckdb_path, raw_suites(systems)).render())

    started = step("dbt build (seeds, models, data tests, unit tests)")
    args = ["build"]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    completed = run_dbt(args, duckdb_path, quiet=True)
    for line in completed.stdout.splitlines():
        if "Done. PASS=" in line or " WARN " in line:
            print(line.split("  ", 1)[-1].strip())
    print(f"dbt build took {time.perf_counter() - started:.1f}s (full log: logs/dbt.log)")

    step("Great Expectations: event log")
    print(check(duckdb_path, event_log_suites()).render())

    print(summarize(duckdb_path))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duckdb",
        type=Path,
        default=Path(os.environ.get("L2C_DUCKDB_PATH", "warehouse/lead2cash.duckdb")),
    )
    parser.add_argument(
        "--systems",
        nargs="+",
        default=os.environ.get("L2C_SYSTEMS", "pipedrive,stripe").replace(",", " ").split(),
        choices=list(SOURCES),
        help="systems to load (default: env L2C_SYSTEMS, else pipedrive stripe)",
    )
    args = parser.parse_args(argv)
    try:
        refresh(args.duckdb, args.systems)
    except (LoadError, DbtError, QualityError) as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
