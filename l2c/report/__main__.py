"""python -m l2c.report: write the HTML report of a built warehouse."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from l2c.report import ReportError, write_report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m l2c.report",
        description="Write the self-contained HTML report of a built warehouse.",
    )
    parser.add_argument(
        "--duckdb",
        type=Path,
        default=Path(os.environ.get("L2C_DUCKDB_PATH", "warehouse/lead2cash.duckdb")),
    )
    parser.add_argument(
        "--out", type=Path, help="HTML file (default: report.html beside the DuckDB file)"
    )
    parser.add_argument(
        "--dbt-target",
        type=Path,
        help="dbt target folder of the build (run_results.json, sources.json) for the "
        "data-quality section",
    )
    args = parser.parse_args(argv)
    out = args.out or args.duckdb.parent / "report.html"
    try:
        path = write_report(args.duckdb, out, dbt_target=args.dbt_target)
    except ReportError as exc:
        print(f"report failed: {exc}", file=sys.stderr)
        return 1
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
