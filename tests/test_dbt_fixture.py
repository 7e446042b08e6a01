"""Build the dbt project on the hand-written raw fixture and check the planted facts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.fixtures.raw_fixture import L2, L3, build_raw_fixture

PROJECT_DIR = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _dbt_invoke(
    db_path: Path,
    args: list[str],
    target_path: Path,
    project_dir: Path = PROJECT_DIR,
    manifest: Any = None,
):
    """dbt in this process on `db_path`; with `manifest` (a parse of the same project and vars)
    dbt runs on it instead of parsing the project again (dbt's documented manifest reuse)."""
    from dbt.cli.main import dbtRunner

    old = os.environ.get("L2C_DUCKDB_PATH")
    os.environ["L2C_DUCKDB_PATH"] = str(db_path)
    try:
        return dbtRunner(manifest=manifest).invoke(
            [
                *args,
                "--project-dir",
                str(project_dir),
                "--profiles-dir",
                str(project_dir / "profiles"),
                "--target-path",
                str(target_path),
                "--log-path",
                str(target_path / "logs"),
                "--quiet",
            ]
        )
    finally:
        if old is None:
            os.environ.pop("L2C_DUCKDB_PATH", None)
        else:
            os.environ["L2C_DUCKDB_PATH"] = old


def _dbt_build(db_path: Path, target_path: Path, manifest: Any) -> None:
    result = _dbt_invoke(db_path, ["build", "--no-partial-parse"], target_path, manifest=manifest)
    assert result.success, result.exception
    statuses = [r.status for r in result.result]
    assert "error" not in statuses and "fail" not in statuses
    warned = sorted(r.node.name for r in result.result if r.status == "warn")
    # the fixture plants an unmapped stage, a currency without FX rates and an undated deal
    assert warned == [
        "assert_all_stages_mapped",
        "warn_case_without_start",
        "warn_fx_rate_missing",
    ]


def _event_log(db_path: Path) -> list[tuple]:
    with duckdb.connect(str(db_path)) as con:
        return con.execute("select * from marts.event_log order by event_id").fetchall()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("l2c_dbt")
    db_path = tmp / "fixture.duckdb"
    build_raw_fixture(str(db_path))
    # the project parsed once (without vars) for every build and test run of the module on this
    # warehouse and its copies (same file name, so the same catalog name in the manifest)
    parsed = _dbt_invoke(db_path, ["parse", "--no-partial-parse"], tmp / "target")
    assert parsed.success, parsed.exception
    _dbt_build(db_path, tmp / "target", parsed.result)
    return {
        "db_path": db_path,
        "tmp": tmp,
        "first_log": _event_log(db_path),
        "manifest": parsed.result,
    }


def _q(warehouse, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse["db_path"])) as con:
        return con.execute(sql).fetchall()


def test_cases_and_outcomes(warehouse):
    assert _q(warehouse, "select count(*) from marts.cases") == [(10,)]
    outcomes = dict(_q(warehouse, "select outcome, count(*) from marts.cases group by outcome"))
    assert outcomes == {"won": 5, "lost": 3, "open": 2}
    lead_cases = {
        row[0]: row[1]
        for row in _q(
            warehouse, "select lead_key, outcome from marts.cases where case_type = 'lead'"
        )
    }
    assert lead_cases == {f"pipedrive:{L2}": "lost", f"pipedrive:{L3}": "open"}


def test_the_summary_counts_every_case(warehouse, tmp_path):
    """The job's closing summary: deals by outcome, and the lead-only cases by theirs (the
    disqualified and the open lead), so no case is left out of the counts."""
    from l2c.summary import summarize

    # a copy: the in-process dbt build keeps its own connection to the fixture's file
    _q(warehouse, "checkpoint")
    copy = Path(shutil.copyfile(warehouse["db_path"], tmp_path / "copy.duckdb"))
    lines = summarize(copy).splitlines()
    assert any(line.split() == ["cases", "10", "(8", "deals,", "2", "lead-only)"] for line in lines)
    assert "deals        won 5 / lost 2 / open 1  (win rate 71.4% of closed deals)" in lines
    assert "lead-only    lost 1 / open 1" in lines


def test_converted_lead_is_in_deal_case(warehouse):
    rows = _q(
        warehouse,
        "select case_id, event_order from marts.event_log where activity = 'Lead Created' "
        "and case_id = 'pipedrive:101'",
    )
    assert rows == [("pipedrive:101", 1)]


def test_utc_normalisation(warehouse):
    rows = _q(
        warehouse,
        "select cast(deal_created_at as varchar) from marts.cases where case_id = 'pipedrive:101'",
    )
    assert rows == [("2024-01-10 09:00:00",)]


def test_backward_move_and_creation_stage(warehouse):
    stages = [
        r[0]
        for r in _q(
            warehouse,
            "select activity from marts.event_log where case_id = 'pipedrive:101' "
            "and activity_family = 'Stage Entered' order by event_order",
        )
    ]
    assert stages == [
        "Stage Entered: Prospecting",
        "Stage Entered: Qualification",
        "Stage Entered: Demo",
        "Stage Entered: Proposal",
        "Stage Entered: Demo",
        "Stage Entered: Proposal",
        "Stage Entered: Negotiation",
        "Stage Entered: Contract",
    ]
    # deal 103 never changed stage: creation entry is its current stage
    assert _q(
        warehouse,
        "select activity from marts.event_log where case_id = 'pipedrive:103' "
        "and activity_family = 'Stage Entered'",
    ) == [("Stage Entered: Qualification",)]
    assert _q(
        warehouse,
        "select count(*) from marts.event_log where case_id = 'pipedrive:101' and is_automated",
    ) == [(1,)]


def test_same_timestamp_events_follow_catalog_order(warehouse):
    rows = _q(
        warehouse,
        "select activity from marts.event_log where case_id = 'pipedrive:101' "
        "and event_at = timestamp '2024-02-20 10:00:00' order by event_order",
    )
    assert rows == [("Stage Entered: Contract",), ("Deal Won",)]
    rows = _q(
        warehouse,
        "select activity from marts.event_log where case_id = 'pipedrive:101' "
        "and event_at = timestamp '2024-01-10 09:00:00' order by event_order",
    )
    assert rows == [("Deal Created",), ("Stage Entered: Prospecting",)]


def test_invoice_link_methods(warehouse):
    links = dict(_q(warehouse, "select invoice_id, link_method from marts.invoices"))
    assert links == {
        "in_1": "metadata",
        "in_4": "metadata",
        "in_2": "rule",
        "in_3": None,
        "in_5": None,
    }
    assert _q(warehouse, "select deal_key from marts.invoices where invoice_id = 'in_2'") == [
        ("pipedrive:102",)
    ]
    summary = _q(
        warehouse,
        "select invoices_count, linked_by_metadata, linked_by_rule, unlinked, share_linked "
        "from marts.invoice_link_summary",
    )
    assert summary == [(5, 2, 1, 2, 0.6)]
    in_log = _q(
        warehouse,
        "select count(*) from marts.event_log where object_id in ('stripe:in_3', 'stripe:in_5')",
    )
    assert in_log == [(0,)]


def test_payments_and_paid_at(warehouse):
    rows = _q(
        warehouse,
        "select amount from marts.event_log where case_id = 'pipedrive:101' "
        "and activity = 'Payment Received' order by event_order",
    )
    assert rows == [(4000.0,), (5000.0,)]
    rows = _q(
        warehouse,
        "select invoices_count, amount_invoiced, amount_paid, cast(paid_at as varchar) "
        "from marts.cases where case_id = 'pipedrive:101'",
    )
    assert rows == [(1, 9000.0, 9000.0, "2024-03-15 12:00:00")]


def test_discount_and_reporting_currency(warehouse):
    assert _q(
        warehouse, "select discount_pct from marts.cases where case_id = 'pipedrive:101'"
    ) == [(pytest.approx(10.0),)]
    assert _q(
        warehouse, "select discount_pct from marts.cases where case_id = 'pipedrive:103'"
    ) == [(None,)]
    assert _q(
        warehouse,
        "select deal_value_reporting from marts.cases where case_id = 'pipedrive:102'",
    ) == [(pytest.approx(4600.0),)]
    assert _q(
        warehouse,
        "select amount, currency, amount_reporting from marts.event_log "
        "where case_id = 'pipedrive:102' and activity = 'Deal Won'",
    ) == [(5000.0, "USD", pytest.approx(4600.0))]


def _issues(warehouse) -> dict[tuple[str, str, str], tuple]:
    rows = _q(
        warehouse,
        "select issue, source_system, object_type, severity, affected_count, total_count, "
        "description from marts.data_quality_issues",
    )
    return {tuple(row[:3]): tuple(row[3:]) for row in rows}


def test_uncovered_currency_is_null_not_zero_and_listed(warehouse):
    """Deal 107 is in CHF, which seed fx_rates does not cover: its reporting values are null
    (never 0), a sum that includes it is null, and data_quality_issues lists it."""
    assert _q(
        warehouse,
        "select deal_value, deal_value_reporting from marts.cases where case_id = 'pipedrive:107'",
    ) == [(1000.0, None)]
    assert _q(
        warehouse,
        "select activity, amount_reporting from marts.event_log where case_id = 'pipedrive:107' "
        "and amount is not null order by event_order",
    ) == [("Deal Created", None), ("Deal Won", None)]
    # the won value of a group holding deal 107 is unknown, not a partial sum, and so is the
    # lost value of a group holding deal 108 (no creation date, so no date for a rate); the
    # other sums of those groups are still known
    assert _q(
        warehouse,
        "select group_value, won_value_reporting, lost_value_reporting from marts.win_rates "
        "where dimension = 'rep' order by group_value",
    ) == [
        ("pipedrive:1", 10000.0, None),
        ("pipedrive:2", None, 0.0),
        ("pipedrive:3", 16000.0, 0.0),
    ]
    issues = _issues(warehouse)
    severity, affected, total, description = issues[("fx_rate_missing", "pipedrive", "deal")]
    assert (severity, affected, total) == ("warn", 2, 8)
    assert "CHF 2024-04-20..2024-04-20 (1)" in description
    assert "EUR (no date)..(no date) (1)" in description
    assert issues[("fx_rate_missing", "pipedrive", "event")][1] == 2
    assert not any(key[0] == "fx_rate_missing" and key[1] == "stripe" for key in issues)


def test_deal_without_creation_time_is_counted_and_listed(warehouse):
    """Deal 108 has no creation time. It stays a case, counts in win_rates (cohort '(none)')
    and the stage funnel, and data_quality_issues lists it."""
    assert _q(
        warehouse,
        "select outcome, deal_created_at, events_count from marts.cases "
        "where case_id = 'pipedrive:108'",
    ) == [("lost", None, 1)]
    assert _q(
        warehouse,
        "select deals_count, won_count, lost_count, open_count from marts.win_rates "
        "where dimension = 'overall'",
    ) == [(8, 5, 2, 1)]
    assert _q(
        warehouse,
        "select deals_count, lost_count from marts.win_rates "
        "where dimension = 'cohort_month' and group_value = '(none)'",
    ) == [(1, 1)]
    assert _q(
        warehouse,
        "select count(*) from marts.case_stage_progression where case_id = 'pipedrive:108'",
    ) == [(1,)]
    issues = _issues(warehouse)
    severity, affected, total, description = issues[("case_without_start", "pipedrive", "deal")]
    assert (severity, affected, total) == ("warn", 1, 8)
    assert "0 of them have no event" in description
    assert ("case_without_start", "pipedrive", "lead") not in issues


def test_as_of_is_per_system_and_registered_empty_systems_are_listed(warehouse):
    """Each system is measured to its own latest event; the registered systems with nothing
    loaded are listed (severity info), and no system is stale with the default threshold."""
    latest = dict(
        _q(warehouse, "select source_system, max(event_at) from marts.event_log group by 1")
    )
    as_of = {
        system: (at, behind)
        for system, at, behind in _q(
            warehouse,
            "select source_system, as_of, days_behind from intermediate.int_as_of_resolved",
        )
    }
    assert set(as_of) == {
        "pipedrive",
        "stripe",
        "salesforce",
        "zendesk_sell",
        "erp",
        "oracle_cx",
        "certinia",
    }
    assert as_of["pipedrive"][0] == latest["pipedrive"]
    assert as_of["stripe"][0] == latest["stripe"] < latest["pipedrive"]
    assert as_of["pipedrive"][1] == 0.0 and 0 < as_of["stripe"][1] < 90
    issues = _issues(warehouse)
    assert {key[1] for key in issues if key[0] == "system_without_data"} == {
        "salesforce",
        "zendesk_sell",
        "erp",
        "oracle_cx",
        "certinia",
    }
    assert all(issues[key][0] == "info" for key in issues if key[0] == "system_without_data")
    assert not any(key[0] == "system_data_stale" for key in issues)


def test_stale_system_is_warned_and_global_as_of_overrides(warehouse):
    """With var stale_system_days below the gap between Stripe's and Pipedrive's latest
    events, Stripe is stale: a warning and a data-quality row. The global var as_of sets every
    system's as-of instant (and the warehouse's)."""
    db_path = _copy_built(warehouse, "stale")
    selectors = ["int_as_of_resolved", "data_quality_issues", "warn_system_data_stale"]
    result = _dbt_invoke(
        db_path,
        ["build", "--select", *selectors, "--vars", "{stale_system_days: 7}"],
        db_path.parent / "target",
    )
    outcomes = {r.node.name: r.status for r in result.result}
    assert outcomes["warn_system_data_stale"] == "warn"
    with duckdb.connect(str(db_path)) as con:
        [(affected, description)] = con.execute(
            "select affected_count, description from marts.data_quality_issues "
            "where issue = 'system_data_stale' and source_system = 'stripe'"
        ).fetchall()
    assert affected == 1 and "var stale_system_days = 7" in description
    result = _dbt_invoke(
        db_path,
        ["build", "--select", "int_as_of_resolved", "--vars", "{as_of: '2025-01-01 00:00:00'}"],
        db_path.parent / "target",
    )
    assert result.success
    with duckdb.connect(str(db_path)) as con:
        rows = con.execute(
            "select cast(as_of as varchar), cast(warehouse_as_of as varchar), is_overridden "
            "from intermediate.int_as_of_resolved"
        ).fetchall()
    assert rows == [("2025-01-01 00:00:00", "2025-01-01 00:00:00", True)] * 7


def test_followups(warehouse):
    rows = _q(
        warehouse,
        "select object_id from marts.event_log where activity = 'Follow-up Activity' "
        "order by event_at",
    )
    assert rows == [("pipedrive:9003",), ("pipedrive:9005",)]


def test_object_relations(warehouse):
    rows = dict(
        _q(warehouse, "select relation, count(*) from marts.object_relations group by relation")
    )
    assert rows == {
        "has_deal": 8,  # deals 101-108 each name their organization
        "has_lead": 1,
        "converted_to": 1,
        "has_quote": 2,
        "billed_by": 3,
        "paid_by": 4,
        "attempted_by": 1,  # in_1's failed charge: a failed payment attempt of the invoice
    }


def test_second_build_is_identical(warehouse):
    """The event log and everything it is built from, built again over the first build's
    relations (with their data tests), come out the same."""
    result = _dbt_invoke(
        warehouse["db_path"],
        ["build", "--no-partial-parse", "--select", "+event_log"],
        warehouse["tmp"] / "target2",
        manifest=warehouse["manifest"],
    )
    assert result.success, result.exception
    statuses = {r.node.unique_id: r.status for r in result.result}
    assert "model.l2c.event_log" in statuses and "model.l2c.int_events_unioned" in statuses
    assert not {"error", "fail"} & set(statuses.values())
    assert _event_log(warehouse["db_path"]) == warehouse["first_log"]


def _copy_built(warehouse, name: str) -> Path:
    """A copy of the built fixture warehouse, under the same file name (views name the catalog)."""
    source = warehouse["db_path"]
    db_path = warehouse["tmp"] / name / source.name
    db_path.parent.mkdir()
    for suffix in ("", ".wal"):  # the in-process dbt may not have checkpointed yet
        if source.with_name(source.name + suffix).exists():
            shutil.copyfile(
                source.with_name(source.name + suffix), db_path.with_name(db_path.name + suffix)
            )
    return db_path


def _run_tests(warehouse, db_path: Path, *selectors: str):
    """`dbt test --select <selectors>` on a copy of the fixture: the run, and each test's
    (status, failures) by name."""
    result = _dbt_invoke(
        db_path,
        ["test", "--select", *selectors],
        db_path.parent / "target",
        manifest=warehouse["manifest"],
    )
    return result, {r.node.name: (r.status, r.failures) for r in result.result}


def test_primary_key_test_fails_on_a_duplicate_and_on_a_null(warehouse):
    """The project's generic test `primary_key` (unique + not_null in one query) fails on a
    duplicated key and on a null key. On a copy of the built fixture: users get one duplicated
    row, teams one row with a null key, pipelines stay as built."""
    db_path = _copy_built(warehouse, "primary_key")
    with duckdb.connect(str(db_path)) as con:
        for model, planted in (
            ("int_users_unioned", "select * from intermediate.kept limit 1"),
            (
                "int_teams_unioned",
                "select * replace (null as team_key) from intermediate.kept limit 1",
            ),
        ):
            relation = f"intermediate.{model}"
            assert con.execute(f"select count(*) from {relation}").fetchone()[0] > 0
            con.execute(f"create table intermediate.kept as select * from {relation}")
            con.execute(f"drop view {relation}")
            con.execute(
                f"create table {relation} as select * from intermediate.kept union all ({planted})"
            )
            con.execute("drop table intermediate.kept")

    _, outcomes = _run_tests(
        warehouse,
        db_path,
        "test_name:primary_key,int_users_unioned",
        "test_name:primary_key,int_teams_unioned",
        "test_name:primary_key,int_pipelines_unioned",
    )
    assert outcomes == {
        "primary_key_int_users_unioned_user_key": ("fail", 1),
        "primary_key_int_teams_unioned_team_key": ("fail", 1),
        "primary_key_int_pipelines_unioned_pipeline_key": ("pass", 0),
    }


def test_not_null_constraint_fails_the_mart_build(warehouse):
    """Mart columns declare not null as an enforced contract constraint instead of a not_null
    data test: a null fails the model's build and the mart keeps its last good rows. On a copy
    of the built fixture, one event of int_events_unioned loses its timestamp."""
    db_path = _copy_built(warehouse, "not_null_constraint")
    with duckdb.connect(str(db_path)) as con:
        before = con.execute("select count(*) from marts.event_log").fetchone()[0]
        con.execute(
            "update intermediate.int_events_unioned set event_at = null "
            "where event_id = (select min(event_id) from intermediate.int_events_unioned)"
        )
    result = _dbt_invoke(
        db_path,
        ["run", "--select", "event_log"],
        db_path.parent / "target",
        manifest=warehouse["manifest"],
    )
    assert not result.success
    [run] = result.result
    assert run.status == "error"
    assert "NOT NULL constraint failed" in run.message and "event_at" in run.message
    with duckdb.connect(str(db_path)) as con:
        assert con.execute("select count(*) from marts.event_log").fetchone()[0] == before
        assert (
            con.execute("select count(*) from marts.event_log where event_at is null").fetchone()[0]
            == 0
        )


def test_documented_columns_test_catches_a_python_mart_changing_shape(warehouse):
    """dbt does not enforce contracts on Python models; the project test `documented_columns`
    checks their built tables against the yml instead. On a copy of the built fixture,
    activity_rework loses a column, gains one and has a count narrowed to INTEGER;
    stage_backward_moves stays as built."""
    db_path = _copy_built(warehouse, "documented_columns")
    with duckdb.connect(str(db_path)) as con:
        con.execute("alter table marts.activity_rework drop column rework_rate")
        con.execute("alter table marts.activity_rework add column surprise integer")
        con.execute("alter table marts.activity_rework alter column cases_count type integer")

    result, outcomes = _run_tests(
        warehouse,
        db_path,
        "test_name:documented_columns,activity_rework",
        "test_name:documented_columns,stage_backward_moves",
    )
    assert outcomes == {
        "documented_columns_activity_rework_": ("fail", 3),
        "documented_columns_stage_backward_moves_": ("pass", 0),
    }
    [failed] = [r for r in result.result if r.status == "fail"]
    with duckdb.connect(str(db_path)) as con:
        mismatches = set(con.execute(failed.node.compiled_code).fetchall())
    assert mismatches == {
        ("rework_rate", "DOUBLE", "missing"),
        ("surprise", "not documented", "INTEGER"),
        ("cases_count", "BIGINT", "INTEGER"),
    }


def test_staging_row_test_covers_the_registry_and_fails_on_a_dropped_row(warehouse):
    """assert_staging_keeps_every_raw_row takes its (raw table, staging model) pairs from the
    registry: on a copy of the fixture, stg_pipedrive__users (never listed by hand) loses a raw
    row and the test names it; stg_pipedrive__stage_changes (keeps_raw_rows: false) filters
    deal_changes on purpose and is not checked."""
    db_path = _copy_built(warehouse, "staging_rows")
    with duckdb.connect(str(db_path)) as con:
        definition = "select * from raw_pipedrive.users where id <> 3"
        con.execute(f"create or replace view staging.stg_pipedrive__users as {definition}")
    result, outcomes = _run_tests(warehouse, db_path, "assert_staging_keeps_every_raw_row")
    assert outcomes == {"assert_staging_keeps_every_raw_row": ("fail", 1)}
    [run] = result.result
    compiled = run.node.compiled_code
    with duckdb.connect(str(db_path)) as con:
        assert con.execute(compiled).fetchall() == [("stg_pipedrive__users", 3, 2)]
    assert "'stg_pipedrive__deal_lines'" in compiled and "'stg_stripe__payments'" in compiled
    assert "'stg_pipedrive__stage_changes'" not in compiled
