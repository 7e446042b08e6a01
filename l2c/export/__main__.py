"""python -m l2c.export: write OCEL 2.0 / XES files of the warehouse's event log."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from l2c.export import FORMATS, ExportError, ExportScope, export


def _instant(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or timestamp (YYYY-MM-DD[ HH:MM[:SS]], UTC)"
        ) from exc
    # the marts hold naive UTC timestamps: an instant with an offset is converted to UTC
    if instant.tzinfo is not None:
        instant = instant.astimezone(timezone.utc).replace(tzinfo=None)
    return instant


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m l2c.export",
        description="Export the event log as OCEL 2.0 (SQLite, JSON) and XES files.",
    )
    parser.add_argument(
        "--format", nargs="+", choices=list(FORMATS), default=list(FORMATS), dest="formats"
    )
    parser.add_argument(
        "--system",
        nargs="+",
        default=[],
        dest="systems",
        help="source systems of the cases to export (default: all)",
    )
    parser.add_argument("--since", type=_instant, help="first instant (UTC, inclusive)")
    parser.add_argument("--until", type=_instant, help="last instant (UTC, exclusive)")
    parser.add_argument(
        "--duckdb",
        type=Path,
        default=Path(os.environ.get("L2C_DUCKDB_PATH", "warehouse/lead2cash.duckdb")),
    )
    parser.add_argument("--out", type=Path, default=Path("warehouse/exports"))
    args = parser.parse_args(argv)
    if args.since and args.until and args.since >= args.until:
        parser.error("--since must be before --until")
    scope = ExportScope(tuple(args.systems), args.since, args.until)
    try:
        written = export(args.duckdb, args.out, tuple(args.formats), scope)
    except ExportError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return 1
    print(f"exported {scope.describe()}:")
    for fmt, path in written.items():
        print(f"  {fmt:<12} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
