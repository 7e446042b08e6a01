"""The served warehouse: BI readers (DuckDB read-only, SQLAlchemy with duckdb-engine as Superset
connects, psycopg on a real local PostgreSQL) query in a loop while the refresh runs; a failed
refresh leaves every served copy as it was; two refreshes at once."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from conftest import content_hashes, query, serving, table_counts

from l2c.lock import LockBusy, job_lock, lock_path
from l2c.publish import PublishTargets, publish
from l2c.refresh import EXIT_BUSY, EXIT_DBT, EXIT_OK, main, refresh
from l2c_demo.fake_api.faults import Fault
from l2c_demo.job import dbt_vars
from l2c_demo.simulator import DemoCompany, SimConfig

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
READER = Path(__file__).with_name("served_reader.py")


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


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 for this module; yields its DSN."""
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


def test_bi_readers_see_old_or_new_marts_during_a_refresh_and_a_failed_one_changes_nothing(
    tmp_path: Path, postgres: str, capsys: pytest.CaptureFixture[str]
) -> None:
    company = DemoCompany(SimConfig(seed=7, n_deals=150))
    db = tmp_path / "warehouse" / "l2c.duckdb"
    serve = tmp_path / "served"
    targets = PublishTargets(serve, postgres)
    with serving(company) as server:
        refresh(db, dbt_vars=dbt_vars(company), targets=targets, selector="event_log")
        old = working_counts(db)

        readers = start_readers(serve, postgres, tmp_path)
        try:
            wait_until(lambda: all(len(reads(out)) >= 3 for _, _, out in readers), "readers")
            company.advance(days=30)  # new deals, invoices and payments to load
            result = refresh(db, dbt_vars=dbt_vars(company), targets=targets, selector="event_log")
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
    tmp_path: Path,
) -> None:
    company = DemoCompany(SimConfig(seed=7, n_deals=120))
    db = tmp_path / "warehouse" / "l2c.duckdb"
    command = [sys.executable, "-m", "l2c.refresh", "--duckdb", str(db), "--selector", "event_log"]
    with serving(company):
        jobs = [
            subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(2)
        ]
        outputs = [job.communicate(timeout=600)[0].decode() for job in jobs]
    codes = sorted(job.returncode for job in jobs)
    assert codes == [EXIT_OK, EXIT_BUSY], outputs
    winner = outputs[[job.returncode for job in jobs].index(EXIT_OK)]
    loser = outputs[[job.returncode for job in jobs].index(EXIT_BUSY)]
    assert "another job holds the warehouse" in loser and "pid " in loser
    assert "credentials" not in loser and "Traceback" not in loser
    assert f"BI file: {db.parent / 'served' / 'lead2cash.duckdb'}" in winner
    # the winner's counts are its own: one run in the log, its rows are the rows in raw
    runs = query(db, "select outcome, rows_loaded from ops.run_log")
    assert len(runs) == 1 and runs[0][0] == "success"
    raw = sum(sum(table_counts(db, schema).values()) for schema in ("raw_pipedrive", "raw_stripe"))
    assert runs[0][1] == raw


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


def _refresh_killed_when(
    command: list[str], kill_now: Callable[[list[str]], bool], what: str
) -> list[str]:
    """Run a refresh in its own process group and SIGKILL the group (the job and its dbt) as
    soon as `kill_now(output lines so far)` holds."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    deadline = time.monotonic() + 600
    while process.poll() is None and not kill_now(lines):
        assert time.monotonic() < deadline, f"no {what} within 600 s"
        time.sleep(0.005)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    reader.join(timeout=10)
    assert process.returncode == -signal.SIGKILL, f"the run ended before {what}: {lines[-20:]}"
    return lines


def test_a_refresh_killed_anywhere_leaves_the_served_copies_and_the_next_run_lands_all(
    tmp_path: Path, postgres: str
) -> None:
    company = DemoCompany(SimConfig(seed=7, n_deals=120))
    serve = tmp_path / "served"
    reference = tmp_path / "reference" / "l2c.duckdb"
    db = tmp_path / "warehouse" / "l2c.duckdb"

    def command(path: Path) -> list[str]:
        return [
            *(sys.executable, "-m", "l2c.refresh", "--duckdb", str(path)),
            *("--serve-dir", str(serve), "--postgres", postgres, "--selector", "event_log"),
        ]

    with serving(company) as server:
        # the uninterrupted run, whose publish BI reads while the other run crashes
        assert subprocess.run(command(reference), cwd=ROOT, capture_output=True).returncode == 0
        published = served_state(serve, postgres)

        # 1. mid-extract: while Stripe's invoice listing is on the wire
        server.clear_log()  # the reference run's requests are not this run's
        server.add_fault(Fault(path_prefix="/stripe/v1/invoices", delay_seconds=5.0, times=1))
        _refresh_killed_when(
            command(db),
            lambda _: any(p.startswith("/stripe/v1/invoices") for _, p, _ in server.request_log),
            "Stripe's extract",
        )
        server.clear_faults()
        # 2. mid-load: once a normalized load package waits in dlt's load folder
        packages = db.parent / "dlt_pipelines"
        waiting = set(packages.glob("*/load/normalized/*"))

        def loading(_: list[str]) -> bool:
            # a new package that normalize has finished with (gone from load/new and from
            # normalize/extracted): dlt's load step has it. (A kill inside normalize's own
            # hand-over, between those moves, is the loaders' part: tests/test_crash_recovery.py)
            fresh = set(packages.glob("*/load/normalized/*")) - waiting
            return any(
                not (p.parents[1] / "new" / p.name).exists()
                and not (p.parents[2] / "normalize" / "extracted" / p.name).exists()
                for p in fresh
            )

        _refresh_killed_when(command(db), loading, "dlt's load step")
        # 3. mid-dbt-build: once dbt builds its first models
        _refresh_killed_when(
            command(db), lambda lines: any("START sql" in line for line in lines), "dbt build"
        )
        assert served_state(serve, postgres) == published

        # 4. mid-publish: a Postgres session holds the name marts__new (uncommitted), so the
        # publish waits inside its transaction, after the new DuckDB file and Parquet exist
        with psycopg.connect(postgres) as blocker:
            blocker.execute("create schema marts__new")

            def publish_waits(_: list[str]) -> bool:
                with psycopg.connect(postgres, autocommit=True) as con:
                    row = con.execute(
                        "select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                        "and query like 'create schema marts__new%'"
                    ).fetchone()
                return bool(row and row[0])

            _refresh_killed_when(command(db), publish_waits, "the publish")
            assert any(serve.glob(".lead2cash.duckdb.*.new"))  # it was killed mid-publish
            blocker.rollback()
        assert served_state(serve, postgres) == published

        # the next run completes: raw tables and marts equal the uninterrupted run's
        final = subprocess.run(command(db), cwd=ROOT, capture_output=True, text=True)
        assert final.returncode == 0, final.stdout[-3000:]
    assert content_hashes(db, "raw") == content_hashes(reference, "raw")
    assert content_hashes(db, "marts") == content_hashes(reference, "marts")
    assert content_hashes(serve / "lead2cash.duckdb", "marts") == content_hashes(reference, "marts")
    assert not any(serve.glob(".lead2cash.duckdb.*.new"))
    outcomes = query(db, "select outcome from ops.run_log order by started_at")
    assert outcomes == [("running",)] * 3 + [("publishing",), ("success",)]


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
