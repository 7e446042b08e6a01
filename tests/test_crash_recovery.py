"""A real `kill -9` of a real load, at the worst moment of dlt's load step: a copy job has
committed its rows to DuckDB but dlt has not yet recorded that it did. The next run must
finish the interrupted load without loading that file twice, say so, and then fetch new
data; the warehouse must equal a clean load's, key for key."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import serving

from l2c.simulator import DemoCompany, SimConfig
from pipelines.load import load_system

REPO = Path(__file__).resolve().parents[1]

# Runs a load in a child process; right after the copy job of table argv[1] commits (inside
# dlt's worker, before dlt writes its "committed" marker), it signals the test through the
# file argv[2] and waits to be killed.
KILLABLE_LOAD = """
import sys, time
from pathlib import Path
from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob
from pipelines.load import load_system

table, committed, system, db = sys.argv[1], Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
copy = DuckDbCopyJob.run

def copy_then_wait(self):
    copy(self)
    if self.load_table_name == table:
        committed.write_text(self.file_name())
        time.sleep(600)

DuckDbCopyJob.run = copy_then_wait
load_system(system, db)
"""


def kill_after_copy(system: str, table: str, db: Path, signal_file: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_LOAD, table, str(signal_file), system, str(db)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180
        while not signal_file.exists():
            if child.poll() is not None:
                pytest.fail(f"the load ended before copying {table}: {child.stderr.read()!r}")
            assert time.monotonic() < deadline, f"no copy job for {table} within 180 s"
            time.sleep(0.05)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL


def raw_tables(db: Path, dataset: str) -> dict[str, list[str]]:
    """Table -> columns (without dlt's own columns) of every table of the dataset."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = ? and table_name not like '\\_dlt%' escape '\\' "
            "order by table_name, ordinal_position",
            [dataset],
        ).fetchall()
    finally:
        con.close()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, [])
        if not column.startswith("_dlt"):
            tables[table].append(column)
    return tables


def content(db: Path, dataset: str) -> dict[str, list[tuple]]:
    """Every table's rows without dlt's columns, sorted (a multiset: duplicates show)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table, columns in raw_tables(db, dataset).items():
            cols = ", ".join(f'"{c}"' for c in columns if c != "rejected_at")
            rows = con.execute(f'select {cols} from {dataset}."{table}"').fetchall()
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def duplicate_keys(db: Path, dataset: str) -> dict[str, int]:
    """Rows beyond the first per key, by table: `id` for tables that have one (records),
    dlt's `_dlt_id` for the others (child tables)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table, columns in raw_tables(db, dataset).items():
            key = "id" if "id" in columns else "_dlt_id"
            (extra,) = con.execute(
                f'select count(*) - count(distinct "{key}") from {dataset}."{table}"'
            ).fetchone()  # type: ignore[misc]
            out[table] = extra
        return out
    finally:
        con.close()


@pytest.mark.parametrize("table", ["invoices", "invoices__lines__data"])
def test_kill_9_after_a_copy_job_committed_leaves_no_duplicates(
    table: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    company = DemoCompany(SimConfig(seed=7, n_deals=200))
    crashed, clean = tmp_path / "crashed" / "l2c.duckdb", tmp_path / "clean" / "l2c.duckdb"
    with serving(company, SOURCES__STRIPE__MAX_ATTEMPTS="2") as server:
        kill_after_copy("stripe", table, crashed, tmp_path / "committed")
        server.clear_log()
        with caplog.at_level(logging.WARNING):
            resumed = load_system("stripe", crashed)
        # the run said it completed the interrupted load, then fetched as usual
        assert "completing an interrupted load" in caplog.text
        assert resumed.resumed_packages
        assert any(path.endswith("/v1/invoices") for _m, path, _q in server.request_log)
        load_system("stripe", clean)

    assert duplicate_keys(crashed, "raw_stripe") == dict.fromkeys(
        raw_tables(clean, "raw_stripe"), 0
    )
    assert content(crashed, "raw_stripe") == content(clean, "raw_stripe")
