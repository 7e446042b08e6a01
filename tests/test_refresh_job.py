"""The refresh job as a scheduler runs it: a failed step names system and step and exits with its
code, publishing nothing; the next run resumes and lands exactly what a clean run lands; dbt
warnings are read from run_results.json and only listed ones are allowed; a stale source is
named by `dbt source freshness` and by the job; bad raw rows fail the build's raw checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import ALLOWED_DBT_WARNINGS, content_hashes, dbt_warnings, query, serving

from l2c.dbt_runner import DBT_SYSTEMS_ENV, UNIT_TESTS_ENV, unit_test_args
from l2c.refresh import (
    EXIT_BUSY,
    EXIT_LOAD,
    EXIT_OK,
    EXIT_RAW_CHECKS,
    EXIT_STALE,
    check_freshness,
    dbt_target,
    main,
)
from l2c_demo.fake_api.faults import Fault
from l2c_demo.simulator import DemoCompany, SimConfig
from pipelines.load import load_all

pytestmark = pytest.mark.slow


def test_a_failed_run_names_system_and_step_and_the_next_run_resumes_then_a_stale_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # dbt builds the event log of the company's two systems, not the other systems' empty
    # staging models and their tests
    monkeypatch.setenv(DBT_SYSTEMS_ENV, "pipedrive,stripe")
    company = DemoCompany(SimConfig(seed=7, n_deals=120))
    db = tmp_path / "warehouse" / "l2c.duckdb"
    serve = tmp_path / "served"
    job = ["--duckdb", str(db), "--serve-dir", str(serve), "--selector", "event_log"]
    with serving(company, SOURCES__STRIPE__MAX_ATTEMPTS="2") as server:
        clean = tmp_path / "clean" / "l2c.duckdb"
        load_all(clean)

        server.add_fault(Fault(path_prefix="/stripe/v1/invoices", status=500, times=1000))
        capsys.readouterr()
        assert main(job) == EXIT_LOAD
        output = capsys.readouterr().out
        assert "FAILED (exit 1): stripe: dlt step 'extract' failed" in output, output[-2000:]
        assert "/stripe/v1/invoices" in output
        assert not serve.exists()  # nothing was published
        assert query(db, "select outcome, failed_step from ops.run_log") == [("failed", "load")]

        server.clear_faults()
        assert main(job) == EXIT_OK
        output = capsys.readouterr().out
        assert f"BI file: {serve / 'lead2cash.duckdb'}" in output
    # the resumed run lands what one clean load lands: nothing lost, nothing twice
    assert content_hashes(db, "raw") == content_hashes(clean, "raw")
    assert dbt_warnings(dbt_target(db)) <= ALLOWED_DBT_WARNINGS
    # a scheduled build runs the data tests and leaves dbt's unit tests to CI
    ran = [
        r["unique_id"]
        for r in json.loads((dbt_target(db) / "run_results.json").read_text())["results"]
    ]
    assert any(node.startswith("test.") for node in ran)
    assert not [node for node in ran if node.startswith("unit_test.")]
    runs = query(db, "select outcome, failed_step from ops.run_log order by started_at")
    assert runs == [("failed", "load"), ("success", None)]
    # every event and case says when its system's data was loaded: dlt's last load of it
    last_loads = {
        system: query(
            db,
            f"select max(load_id), cast(max(inserted_at) as timestamp) from raw_{system}._dlt_loads"
            " where status = 0",
        )[0]
        for system in ("pipedrive", "stripe")
    }
    for mart in ("event_log", "cases"):
        lineage = query(
            db, f"select distinct source_system, load_id, loaded_at from marts.{mart} order by 1"
        )
        assert {system: (load_id, at) for system, load_id, at in lineage} == {
            system: last_loads[system] for system, *_ in lineage
        }
        assert {system for system, *_ in lineage} == (
            {"pipedrive", "stripe"} if mart == "event_log" else {"pipedrive"}
        )

    # a duplicated deal with a 1970 creation time in the raw table: the build's raw checks
    # (dbt tests on the sources) fail, naming system, table, column and rows; what reads the
    # table is skipped, the run says raw_checks and exits 3, and nothing is published
    served = (serve / "lead2cash.duckdb").read_bytes()
    with duckdb.connect(str(db)) as con:
        con.execute(
            "insert into raw_pipedrive.deals by name select * replace "
            "('1970-01-01 00:00:00+00'::timestamptz as add_time) from raw_pipedrive.deals "
            "where id = (select min(id) from raw_pipedrive.deals)"
        )
    with serving(company):
        assert main(job) == EXIT_RAW_CHECKS
    output = capsys.readouterr().out
    assert "raw_checks FAILED (exit 3): raw-data checks failed (2 dbt source tests" in output
    for line in (
        "pipedrive: raw_pipedrive.deals.add_time: timestamp_in_range failed, 1 row(s) outside "
        "2000-01-01 .. now + 1 day (dbt test source_timestamp_in_range_pipedrive_deals_add_time)",
        "pipedrive: raw_pipedrive.deals.id: unique failed, 1 duplicated value(s) "
        "(dbt test source_unique_pipedrive_deals_id)",
    ):
        assert line in output, output[-3000:]
    assert (serve / "lead2cash.duckdb").read_bytes() == served
    last = query(db, "select outcome, failed_step from ops.run_log order by started_at desc")
    assert last[0] == ("failed", "raw_checks")
    skipped = {
        r["unique_id"]
        for r in json.loads((dbt_target(db) / "run_results.json").read_text())["results"]
        if r["status"] == "skipped"
    }
    assert {"model.l2c.stg_pipedrive__deals", "model.l2c.event_log"} <= skipped
    with duckdb.connect(str(db)) as con:
        con.execute("delete from raw_pipedrive.deals where add_time < '2000-01-01'")

    # age the load records: pipedrive's last load 30 days ago (past error_after), stripe's
    # 2 days ago (past warn_after only)
    con = duckdb.connect(str(db))
    con.execute("update raw_pipedrive._dlt_loads set inserted_at = inserted_at - interval 30 day")
    con.execute("update raw_stripe._dlt_loads set inserted_at = inserted_at - interval 2 day")
    con.close()
    assert check_freshness(db, ["pipedrive", "stripe"]) == (["stripe"], ["pipedrive"])

    with serving(company):  # stripe alone is loaded (and so fresh again); pipedrive is stale
        assert main([*job, "--systems", "stripe"]) == EXIT_STALE
    output = capsys.readouterr().out
    assert "stale sources past their error_after: pipedrive" in output
    assert (serve / "lead2cash.duckdb").read_bytes() == served
    last = query(
        db,
        "select outcome, failed_step, stale_sources from ops.run_log "
        "order by started_at desc limit 1",
    )
    assert last == [("failed", "freshness", "pipedrive")]


def test_a_process_holding_the_working_file_stops_the_refresh_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "l2c.duckdb"
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; con = duckdb.connect({str(db)!r}, read_only=True); "
            "print('open', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"open\n"
        assert main(["--duckdb", str(db)]) == EXIT_BUSY
    finally:
        holder.kill()
        holder.wait()
    output = capsys.readouterr().out
    assert f"the working warehouse {db} is open in another process" in output
    assert "BI tools read the served copy" in output


def test_l2c_dbt_systems_narrows_the_registry_every_dbt_run_gets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from l2c.dbt_runner import with_registry

    monkeypatch.delenv(DBT_SYSTEMS_ENV, raising=False)
    assert "--vars" not in with_registry(["build"])  # dbt_project.yml's registry: all systems
    monkeypatch.setenv(DBT_SYSTEMS_ENV, "pipedrive, stripe")
    args = with_registry(["build", "--vars", json.dumps({"as_of": "2026-01-01"})])
    given = json.loads(args[args.index("--vars") + 1])
    assert given["as_of"] == "2026-01-01"
    assert list(given["l2c_systems"]) == ["pipedrive", "stripe"]
    assert given["l2c_systems"]["stripe"]["links_to"] == ["pipedrive"]
    monkeypatch.setenv(DBT_SYSTEMS_ENV, "pipedrive,nosuch")
    with pytest.raises(KeyError, match="unknown system 'nosuch'"):
        with_registry(["build"])


def test_l2c_dbt_systems_leaves_the_other_systems_nodes_out_of_selecting_commands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from l2c.dbt_runner import with_systems_excluded
    from pipelines.manifest import systems

    monkeypatch.delenv(DBT_SYSTEMS_ENV, raising=False)
    assert with_systems_excluded(["build"]) == ["build"]
    monkeypatch.setenv(DBT_SYSTEMS_ENV, "pipedrive,stripe")
    others = [f"source:{name}+" for name in systems() if name not in ("pipedrive", "stripe")]
    assert "source:salesforce+" in others
    assert with_systems_excluded(["build"]) == ["build", "--exclude", *others]
    # added to a command's own exclusions; a selector (the registry's parents) and a command
    # that selects nothing stay as they are
    assert with_systems_excluded(["test", "--exclude", "tag:x", "--vars", "{}"]) == [
        *("test", "--exclude", *others, "tag:x", "--vars", "{}")
    ]
    assert with_systems_excluded(["build", "--selector", "event_log"]) == [
        *("build", "--selector", "event_log")
    ]
    assert with_systems_excluded(["source", "freshness"]) == ["source", "freshness"]


def test_scheduled_builds_leave_unit_tests_out_unless_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(UNIT_TESTS_ENV, raising=False)
    assert unit_test_args() == ["--exclude-resource-type", "unit_test"]
    monkeypatch.setenv(UNIT_TESTS_ENV, "1")
    assert unit_test_args() == []
    monkeypatch.setenv(UNIT_TESTS_ENV, "0")
    assert unit_test_args() == ["--exclude-resource-type", "unit_test"]
