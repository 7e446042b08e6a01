"""The served warehouse when the refresh is killed (SIGKILL, the job and its dbt) anywhere:
mid-extract, mid-load, mid-dbt-build and mid-publish each leave every served copy (DuckDB file,
Parquet, PostgreSQL) as it was, and the next run lands all an uninterrupted run lands. (Its
own module beside tests/test_served.py: the two are the suite's longest, and pytest-xdist
spreads modules, not tests, over its workers.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import content_hashes, query, serving
from served_postgres import postgres_server, served_state

from l2c.dbt_runner import DBT_SYSTEMS_ENV
from l2c_demo.fake_api.faults import Fault
from l2c_demo.simulator import DemoCompany, SimConfig

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 for this module; yields its DSN."""
    with postgres_server() as dsn:
        yield dsn


def _refresh_killed_when(
    command: list[str], kill_now: Callable[[list[str]], bool], what: str
) -> list[str]:
    """Run a refresh in its own process group and SIGKILL the group (the job and its dbt) as
    soon as `kill_now(output lines so far)` holds (asked every 5 ms: keep it cheap)."""
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
    tmp_path: Path, postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = DemoCompany(SimConfig(seed=7, n_deals=120))
    # dbt builds the event log of the company's two systems, not the other systems' empty
    # staging models and their tests (the runs inherit the variable)
    monkeypatch.setenv(DBT_SYSTEMS_ENV, "pipedrive,stripe")
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
        with (
            psycopg.connect(postgres) as blocker,
            psycopg.connect(postgres, autocommit=True) as watcher,
        ):
            blocker.execute("create schema marts__new")

            def publish_waits(_: list[str]) -> bool:
                # (the Postgres part of the publish comes after the new DuckDB file: ask the
                # server only once that file is there)
                if not any(serve.glob(".lead2cash.duckdb.*.new")):
                    return False
                row = watcher.execute(
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
