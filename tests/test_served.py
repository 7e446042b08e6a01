"""The served warehouse: BI readers (DuckDB read-only, SQLAlchemy with duckdb-engine as Superset
connects, psycopg on a real local PostgreSQL) query in a loop while the refresh runs; a failed
refresh leaves every served copy as it was; two refreshes at once. (A refresh killed anywhere:
tests/test_served_crash.py.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from conftest import query, serving, table_counts
from served_postgres import postgres_server, served_state, working_counts

from l2c.dbt_runner import DBT_SYSTEMS_ENV
from l2c.lock import LockBusy, job_lock, lock_path
from l2c.publish import PublishTargets, publish
from l2c.refresh import EXIT_BUSY, EXIT_DBT, EXIT_OK, main, refresh
from l2c_demo.simulator import DemoCompany, SimConfig

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
READER = Path(__file__).with_name("served_reader.py")
# the company's two systems: dbt builds their event log, not the other systems' empty staging
# models and their tests (the refreshes these tests start inherit the variable)
SYSTEMS = "pipedrive,stripe"


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 for this module; yields its DSN."""
    with postgres_server() as dsn:
        yield dsn


def start_readers(
    serve: Path, dsn: str, work: Path
) -> list[tuple[str, subprocess.Popen[bytes], Path]]:
    served = str(serve / "lead2cash.duckdb")
    readers = []
    for kind, target in (("duckdb", served), ("sqlalchemy", served), ("postgres", dsn)):
        out = work / f"{kind}.jsonl"
        process = subprocess.Popen(
            [sys.executable, str(READER), kind, target, str(work / "stop"), str(out)]
        )
        readers.append((kind, process, out))
    return readers


def reads(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.endswith("}")]


def wait_until(predicate: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@dataclass
class FirstRefresh:
    """A new warehouse's first refresh, started twice at once as two scheduled jobs (the
    command line, publishing to the served folder beside the warehouse and to PostgreSQL):
    their exit codes and outputs, and what the warehouse held right after."""

    company: DemoCompany
    db: Path
    codes: list[int]
    outputs: list[str]
    runs: list[tuple[Any, ...]]
    raw_rows: int


@pytest.fixture(scope="module")
def first_refresh(
    tmp_path_factory: pytest.TempPathFactory, postgres: str
) -> Iterator[FirstRefresh]:
    """The module's one warehouse (the refreshes of a test that changes it come after)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DBT_SYSTEMS_ENV, SYSTEMS)
        company = DemoCompany(SimConfig(seed=7, n_deals=150))
        db = tmp_path_factory.mktemp("served") / "warehouse" / "l2c.duckdb"
        command = [
            *(sys.executable, "-m", "l2c.refresh", "--duckdb", str(db)),
            *("--postgres", postgres, "--selector", "event_log"),
        ]
        with serving(company):
            jobs = [
                subprocess.Popen(
                    command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
                )
                for _ in range(2)
            ]
            outputs = [job.communicate(timeout=600)[0].decode() for job in jobs]
        runs = query(db, "select outcome, rows_loaded from ops.run_log")
        raw = sum(
            sum(table_counts(db, schema).values()) for schema in ("raw_pipedrive", "raw_stripe")
        )
        yield FirstRefresh(company, db, [job.returncode for job in jobs], outputs, runs, raw)


def test_bi_readers_see_old_or_new_marts_during_a_refresh_and_a_failed_one_changes_nothing(
    first_refresh: FirstRefresh,
    tmp_path: Path,
    postgres: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(DBT_SYSTEMS_ENV, SYSTEMS)
    company, db = first_refresh.company, first_refresh.db
    serve = db.parent / "served"  # published by the first refresh
    targets = PublishTargets(serve, postgres)
    with serving(company) as server:
        old = working_counts(db)
        assert served_state(serve, postgres)["postgres"]  # what the readers start on

        readers = start_readers(serve, postgres, tmp_path)
        try:
            wait_until(lambda: all(len(reads(out)) >= 3 for _, _, out in readers), "readers")
            company.advance(days=30)  # new deals, invoices and payments to load
            # (no dbt vars, as the scheduled job runs it: the event log reads none of them,
            # and every refresh of the module reuses one parse of the project)
            result = refresh(db, targets=targets, selector="event_log")
            new = working_counts(db)
            assert new[0] > old[0] and new[1] > old[1]
            # every reader opens a new connection per query: each soon sees the new marts
            wait_until(
                lambda: all(reads(out)[-1].get("counts") == list(new) for _, _, out in readers),
                "the readers to see the new counts",
            )
        finally:
            (tmp_path / "stop").touch()
            for _, process, _ in readers:
                process.wait(timeout=30)

        for kind, _, out in readers:
            seen = reads(out)
            errors = [r["error"] for r in seen if "error" in r]
            assert errors == [], f"{kind} reader: {errors[:3]}"
            pairs = {tuple(r["counts"]) for r in seen}
            # one query sees one snapshot: the old marts or the new ones, never a mix
            assert pairs <= {old, new}, f"{kind} reader saw {pairs - {old, new}}"
            assert {old, new} <= pairs, f"{kind} reader did not see both publishes"

        # a new connection to each served copy sees the new counts and this run's log row
        served = duckdb.connect(str(result.served), read_only=True)
        try:
            assert working_counts(result.served) == new
            outcome = served.execute(
                "select outcome from ops.run_log where run_id = ?", [result.run.run_id]
            ).fetchone()
            assert outcome == ("success",)
        finally:
            served.close()
        parquet = serve / "parquet"
        cases = duckdb.sql(f"select count(*) from '{parquet / 'cases.parquet'}'").fetchone()
        assert cases == (new[0],)
        with psycopg.connect(postgres) as con:
            assert (
                con.execute(
                    "select (select count(*) from marts.cases), "
                    "(select count(*) from marts.event_log)"
                ).fetchone()
                == new
            )
            run_ids = con.execute("select run_id from marts.ops__run_log").fetchall()
            assert (result.run.run_id,) in run_ids

        # a refresh that fails its dbt tests: a stage of a pipeline that does not exist
        before = served_state(serve, postgres)
        stage = query(db, "select min(id) from raw_pipedrive.stages")[0][0]
        server.app.malform("pipedrive.stages", stage, "pipeline_id", 999_999)
        company.advance(days=10)  # and new data, which must not reach BI
        capsys.readouterr()
        code = main(
            [
                *("--duckdb", str(db), "--serve-dir", str(serve), "--postgres", postgres),
                *("--selector", "event_log"),
            ]
        )
        output = capsys.readouterr().out
        assert code == EXIT_DBT
        assert "relationships_stg_pipedrive__stages" in output and "FAILED (exit 4)" in output
        assert "BI file:" not in output
        assert served_state(serve, postgres) == before
        last = query(
            db, "select outcome, failed_step from ops.run_log order by started_at desc limit 1"
        )
        assert last == [("failed", "dbt")]


def test_two_refreshes_at_once_one_runs_the_other_stops_with_a_clear_message(
    first_refresh: FirstRefresh,
) -> None:
    codes, outputs, db = first_refresh.codes, first_refresh.outputs, first_refresh.db
    assert sorted(codes) == [EXIT_OK, EXIT_BUSY], outputs
    winner = outputs[codes.index(EXIT_OK)]
    loser = outputs[codes.index(EXIT_BUSY)]
    assert "another job holds the warehouse" in loser and "pid " in loser
    assert "credentials" not in loser and "Traceback" not in loser
    assert f"BI file: {db.parent / 'served' / 'lead2cash.duckdb'}" in winner
    # the winner's counts are its own: one run in the log, its rows are the rows in raw
    runs = first_refresh.runs
    assert len(runs) == 1 and runs[0][0] == "success"
    assert runs[0][1] == first_refresh.raw_rows


def test_the_job_lock_waits_then_stops_and_a_killed_holder_releases_it(tmp_path: Path) -> None:
    db = tmp_path / "l2c.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, pathlib; from l2c.lock import job_lock\n"
            f"with job_lock(pathlib.Path({str(db)!r})):\n"
            "    print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with (
            pytest.raises(LockBusy, match=rf"pid {holder.pid}.*after waiting 0.5s"),
            job_lock(db, wait_seconds=0.5),
        ):
            pass
        assert f"pid {holder.pid}" in lock_path(db).read_text()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the kernel released the killed holder's lock; re-entrant in one process (the demo calls
    # the refresh)
    with job_lock(db, wait_seconds=0), job_lock(db):
        pass


def test_publish_carries_every_column_type_to_duckdb_parquet_and_postgres(
    tmp_path: Path, postgres: str
) -> None:
    working = tmp_path / "working.duckdb"
    con = duckdb.connect(str(working))
    con.execute("create schema marts")
    con.execute(
        """
        create table marts.kinds as select * from (values
            (1, 'a', '', 1.5::double, 12.34::decimal(18, 2), true, date '2026-01-02',
             timestamp '2026-01-02 03:04:05', timestamptz '2026-01-02 03:04:05+00',
             interval 3 day, ['x', 'y, "z"'], {'k': 1}),
            (2, null, 'quote " and, comma', 'inf'::double, null, null, null, null, null, null,
             [], null)
        ) t(id, label, note, ratio, money, flag, on_day, stamp, stamp_tz, span, items, props)
        """
    )
    con.close()

    published = publish(working, PublishTargets(tmp_path / "served", postgres), "run1")

    served = duckdb.connect(str(published.duckdb_file), read_only=True)
    expected = served.execute("select * from marts.kinds order by id").fetchall()
    served.close()
    source = duckdb.connect(str(working), read_only=True)
    assert expected == source.execute("from marts.kinds order by id").fetchall()
    source.close()
    from_parquet = duckdb.sql(f"from '{published.parquet_dir / 'kinds.parquet'}' order by id")
    assert from_parquet.fetchall() == expected
    with psycopg.connect(postgres) as pg:
        rows = pg.execute("select * from marts.kinds order by id").fetchall()
        types = dict(
            pg.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'marts' and table_name = 'kinds'"
            ).fetchall()
        )
    assert rows[0][:9] == expected[0][:9] and rows[0][9] == expected[0][9]
    assert rows[0][10:] == (["x", 'y, "z"'], {"k": 1})  # lists and structs travel as jsonb
    assert rows[1][1:3] == (None, 'quote " and, comma')  # NULL stays NULL, '' stays ''
    assert rows[1][3] == float("inf") and rows[1][10] == []
    assert types["stamp_tz"] == "timestamp with time zone" and types["items"] == "jsonb"
    assert types["money"] == "numeric" and types["span"] == "interval"
