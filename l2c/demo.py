"""The main job on the embedded demo company:

synthetic company -> local Pipedrive/Stripe API server -> dlt -> DuckDB -> Great Expectations on
raw data -> dbt build -> Great Expectations on the event log -> a summary.

    python -m l2c.demo [--deals 3000] [--seed 42] [--duckdb warehouse/lead2cash.duckdb] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from l2c.dbt_runner import DbtError, run_dbt
from l2c.fake_api import FakeApiServer
from l2c.quality import QualityError, check, event_log_suites, raw_suites
from l2c.simulator import DemoCompany, SimConfig
from l2c.summary import summarize
from pipelines.load import LoadError, load_all


def point_sources_at(server: FakeApiServer) -> None:
    """Configure the dlt sources for the local server exactly as a user would for the real
    APIs: through dlt's environment variables."""
    os.environ["SOURCES__PIPEDRIVE__BASE_URL"] = server.pipedrive_url
    os.environ["SOURCES__PIPEDRIVE__API_TOKEN"] = server.pipedrive_token
    os.environ["SOURCES__STRIPE__BASE_URL"] = server.stripe_url
    os.environ["SOURCES__STRIPE__API_KEY"] = server.stripe_key


def reset(duckdb_path: Path) -> None:
    for path in (duckdb_path, duckdb_path.with_suffix(".duckdb.wal")):
        path.unlink(missing_ok=True)
    shutil.rmtree(duckdb_path.parent / "dlt_pipelines", ignore_errors=True)


def step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.perf_counter()


def run(deals: int, seed: int, duckdb_path: Path, keep: bool) -> int:
    # dlt warns about every column that stayed empty in a load; the demo keeps its output short
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    if not keep:
        reset(duckdb_path)

    started = step(f"Demo company: {deals:,} deals, seed {seed}")
    company = DemoCompany(SimConfig(seed=seed, n_deals=deals))
    truth_path = duckdb_path.parent / "ground_truth.json"
    company.write_ground_truth(truth_path)
    print(
        f"simulated up to {company.as_of:%Y-%m-%d}; ground truth in {truth_path} "
        f"({time.perf_counter() - started:.1f}s)"
    )

    with FakeApiServer(company, port=0) as server:
        point_sources_at(server)
        started = step(f"dlt: Pipedrive and Stripe APIs at {server.base_url} -> {duckdb_path}")
        results = load_all(duckdb_path)
        for result in results:
            print(
                f"{result.system:<10} {result.rows:>9,} rows into {result.dataset:<14} "
                f"{result.rejects:,} rejected  ({result.seconds:.1f}s)"
            )

    started = step("Great Expectations: raw data")
    print(check(duckdb_path, raw_suites()).render())

    started = step("dbt build (models, seeds, data tests, unit tests)")
    completed = run_dbt(["build"], duckdb_path, quiet=True)
    for line in completed.stdout.splitlines():
        if "Done. PASS=" in line or " WARN " in line or "Warning in" in line:
            print(line.split("  ", 1)[-1].strip())
    print(
        f"dbt build took {time.perf_counter() - started:.1f}s "
        "(full log: logs/dbt.log; rerun with `.venv/bin/dbt build --profiles-dir profiles`)"
    )

    step("Great Expectations: event log")
    print(check(duckdb_path, event_log_suites()).render())

    print(summarize(duckdb_path))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deals", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--duckdb", type=Path, default=Path("warehouse/lead2cash.duckdb"))
    parser.add_argument(
        "--keep",
        action="store_true",
        help="load into the existing DuckDB file instead of starting fresh",
    )
    args = parser.parse_args(argv)
    try:
        return run(args.deals, args.seed, args.duckdb, args.keep)
    except (LoadError, DbtError, QualityError) as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
