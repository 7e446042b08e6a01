"""What the served-warehouse tests (tests/test_served*.py) share: a throwaway PostgreSQL
server on 127.0.0.1 and the state a BI tool can read from the served copies."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from conftest import query


def _pg_binary(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(f"{name} not found: `make setup` installs Debian's postgresql package")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 while the block runs; yields its DSN."""
    root = Path(tempfile.mkdtemp(prefix="l2c-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: the package's postgres user runs it
        shutil.chown(root, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    subprocess.run(
        [*as_postgres, _pg_binary("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [*as_postgres, _pg_binary("pg_ctl"), "-D", str(data)]
    subprocess.run(
        [*pg_ctl, "-l", str(root / "server.log"), "-o", options, "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def working_counts(db: Path) -> tuple[int, int]:
    sql = "select (select count(*) from marts.cases), (select count(*) from marts.event_log)"
    row = query(db, sql)[0]
    return int(row[0]), int(row[1])


def served_state(serve: Path, dsn: str) -> dict[str, Any]:
    """Everything a BI tool can read: the DuckDB file's bytes, the Parquet files' bytes, the
    Postgres marts' rows."""

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    parquet = serve / "parquet"
    state: dict[str, Any] = {
        "duckdb": digest(serve / "lead2cash.duckdb"),
        "parquet": {p.name: digest(p) for p in sorted(parquet.glob("*.parquet"))},
    }
    with psycopg.connect(dsn) as con:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' "
                "order by 1"
            ).fetchall()
        ]
        state["postgres"] = {
            t: con.execute(
                f"select md5(string_agg(t::text, '|' order by t::text)) from marts.\"{t}\" t"
            ).fetchone()
            for t in tables
        }
    return state
