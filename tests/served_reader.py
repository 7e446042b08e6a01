"""A BI reader for the served-warehouse tests, run as its own process: queries the served copy
in a loop, a new connection each time, until the stop file appears; writes one JSON line per
query to the out file: {"counts": [cases, events]} or {"error": "..."}.

    python tests/served_reader.py duckdb|sqlalchemy|postgres TARGET STOP_FILE OUT_FILE
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

QUERY = "select (select count(*) from marts.cases), (select count(*) from marts.event_log)"


def duckdb_reader(path: str) -> Callable[[], tuple[int, int]]:
    import duckdb

    def read() -> tuple[int, int]:
        con = duckdb.connect(path, read_only=True)  # as Metabase's DuckDB driver opens it
        try:
            row = con.execute(QUERY).fetchone()
        finally:
            con.close()
        assert row is not None
        return int(row[0]), int(row[1])

    return read


def sqlalchemy_reader(path: str) -> Callable[[], tuple[int, int]]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    # as Superset connects: SQLAlchemy URI with duckdb-engine, read-only
    engine = create_engine(
        f"duckdb:///{path}", connect_args={"read_only": True}, poolclass=NullPool
    )

    def read() -> tuple[int, int]:
        with engine.connect() as con:
            row = con.execute(text(QUERY)).one()
        return int(row[0]), int(row[1])

    return read


def postgres_reader(dsn: str) -> Callable[[], tuple[int, int]]:
    import psycopg

    def read() -> tuple[int, int]:
        with psycopg.connect(dsn) as con:
            row = con.execute(QUERY).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    return read


def main() -> None:
    kind, target, stop, out = sys.argv[1:5]
    read = {"duckdb": duckdb_reader, "sqlalchemy": sqlalchemy_reader, "postgres": postgres_reader}[
        kind
    ](target)
    with Path(out).open("a") as handle:
        while not Path(stop).exists():
            try:
                entry: dict[str, object] = {"counts": list(read())}
            except Exception as exc:  # every error is a finding of the test
                entry = {"error": f"{type(exc).__name__}: {exc}"}
            handle.write(json.dumps(entry) + "\n")
            handle.flush()
            time.sleep(0.2)


if __name__ == "__main__":
    main()
