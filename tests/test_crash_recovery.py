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

from l2c_demo.simulator import DemoCompany, SimConfig
from pipelines.load import LoadError, load_system

REPO = Path(__file__).resolve().parents[1]

# Runs a load in a child process. With argv[5] "copy": right after the copy job of table
# argv[1] commits (inside dlt's worker, before dlt writes its "committed" marker); with
# "merge": just before the merge job of that table runs. There it signals the test through
# the file argv[2] and waits to be killed.
KILLABLE_LOAD = """
import sys, time
from pathlib import Path
from dlt.destinations.impl.duckdb.duck import DuckDbCopyJob
from dlt.destinations.job_client_impl import SqlLoadJob
from pipelines.load import LoadError, load_system

table, reached, system, db, where = sys.argv[1], Path(sys.argv[2]), *sys.argv[3:6]
job_class = DuckDbCopyJob if where == "copy" else SqlLoadJob
run = job_class.run

def wait_to_be_killed(job):
    if job.load_table_name == table:
        reached.write_text(job.file_name())
        time.sleep(600)

def run_then_wait(self):
    run(self)
    wait_to_be_killed(self)

def wait_then_run(self):
    wait_to_be_killed(self)
    run(self)

job_class.run = run_then_wait if where == "copy" else wait_then_run
load_system(system, Path(db))
"""


def kill_after_copy(
    system: str, table: str, db: Path, signal_file: Path, where: str = "copy"
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_LOAD, table, str(signal_file), system, str(db), where],
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


@pytest.mark.parametrize(
    ("system", "table", "where", "fetched"),
    [
        # Stripe's next run is incremental: it reads the events since the crashed run
        ("stripe", "invoices", "copy", "/stripe/v1/events"),  # a root with child tables
        ("stripe", "invoices__lines__data", "copy", "/stripe/v1/events"),  # a child table
        ("pipedrive", "persons", "copy", "/pipedrive/api/v2/persons"),
        ("stripe", "invoices", "merge", "/stripe/v1/events"),  # before the merge job
    ],
)
def test_kill_9_during_the_load_step_leaves_no_duplicates(
    system: str,
    table: str,
    where: str,
    fetched: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    company = DemoCompany(SimConfig(seed=7, n_deals=200 if system == "stripe" else 100))
    crashed, clean = tmp_path / "crashed" / "l2c.duckdb", tmp_path / "clean" / "l2c.duckdb"
    dataset = f"raw_{system}"
    with serving(company, **{f"SOURCES__{system.upper()}__MAX_ATTEMPTS": "2"}) as server:
        kill_after_copy(system, table, crashed, tmp_path / "reached", where=where)
        server.clear_log()
        with caplog.at_level(logging.WARNING):
            resumed = load_system(system, crashed)
        # the run said it completed the interrupted load, then fetched as usual
        assert f"{system}: completing an interrupted load" in caplog.text
        assert resumed.resumed_packages
        assert any(path == fetched for _m, path, _q in server.request_log)
        load_system(system, clean)

    assert duplicate_keys(crashed, dataset) == dict.fromkeys(raw_tables(clean, dataset), 0)
    assert content(crashed, dataset) == content(clean, dataset)


def test_keys_duplicated_all_the_same_stop_the_run_naming_the_table(tmp_path: Path) -> None:
    """The loud guard: should a staging table hold a record twice when the interrupted merge
    runs (a copy dlt recorded and ran again, which the loader cannot see), the run stops
    naming the table, rather than loading on top of duplicated keys."""
    company = DemoCompany(SimConfig(seed=7, n_deals=120))
    db = tmp_path / "crashed" / "l2c.duckdb"
    with serving(company, SOURCES__STRIPE__MAX_ATTEMPTS="2"):
        kill_after_copy("stripe", "invoices", db, tmp_path / "merging", where="merge")
        con = duckdb.connect(str(db))
        try:
            staged = "raw_stripe_staging.invoices"
            (rows,) = con.execute(f"select count(*) from {staged}").fetchone()  # type: ignore[misc]
            assert rows > 0
            con.execute(f"insert into {staged} select * from {staged}")
        finally:
            con.close()
        expected = rf"stripe: .*invoices \(id\): {2 * rows} rows share a key"
        with pytest.raises(LoadError, match=expected):
            load_system("stripe", db)


# Runs a load in a child process that stops dead right after dlt's normalize has committed the
# normalized package (renamed into place) and before it deletes the extracted one.
KILLABLE_NORMALIZE = """
import sys, time
from pathlib import Path
from dlt.common.storages.load_storage import LoadStorage
from pipelines.load import load_system

reached, system, db = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
commit = LoadStorage.commit_new_load_package

def commit_then_wait(self, load_id, *args, **kwargs):
    commit(self, load_id, *args, **kwargs)
    reached.write_text(load_id)
    time.sleep(600)

LoadStorage.commit_new_load_package = commit_then_wait
load_system(system, Path(db))
"""


def test_kill_9_between_normalize_commit_and_cleanup_resumes(tmp_path: Path) -> None:
    """dlt renames the normalized package into place, then deletes the extracted one: a kill
    in between left both, and every later run failed on the rename ('Directory not empty').
    The next run drops the extracted copy, finishes the load and equals a clean load."""
    company = DemoCompany(SimConfig(seed=7, n_deals=100))
    crashed, clean = tmp_path / "crashed" / "l2c.duckdb", tmp_path / "clean" / "l2c.duckdb"
    reached = tmp_path / "normalized"
    with serving(company, SOURCES__STRIPE__MAX_ATTEMPTS="2"):
        child = subprocess.Popen(
            [sys.executable, "-c", KILLABLE_NORMALIZE, str(reached), "stripe", str(crashed)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 180
            while not reached.exists():
                if child.poll() is not None:
                    pytest.fail(f"the load ended before normalizing: {child.stderr.read()!r}")
                assert time.monotonic() < deadline, "no normalize commit within 180 s"
                time.sleep(0.05)
        finally:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
            child.wait()
        pipelines = crashed.parent / "dlt_pipelines" / "l2c_stripe"
        load_id = reached.read_text()
        assert (pipelines / "normalize" / "extracted" / load_id).exists()
        assert (pipelines / "load" / "normalized" / load_id).exists()
        resumed = load_system("stripe", crashed)
        assert load_id in resumed.resumed_packages
        load_system("stripe", clean)
    assert duplicate_keys(crashed, "raw_stripe") == dict.fromkeys(
        raw_tables(clean, "raw_stripe"), 0
    )
    assert content(crashed, "raw_stripe") == content(clean, "raw_stripe")
