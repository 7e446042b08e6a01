"""The semantic layer (models/semantic): MetricFlow's `mf validate-configs` passes against a
built warehouse, and `mf query` for win rate, median sales cycle, lead conversion and DSO by
month (and by source system where the metric has one) equals the marts. Column descriptions
are persisted to the DuckDB tables (persist_docs)."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from analyst_warehouse import AnalystWarehouse, build_analyst_warehouse

from l2c.dbt_runner import ROOT, dbt_env

pytestmark = pytest.mark.slow

MF = str(Path(sys.executable).with_name("mf"))
DBT = str(Path(sys.executable).with_name("dbt"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> AnalystWarehouse:
    return build_analyst_warehouse(tmp_path_factory)


@pytest.fixture(scope="module")
def project(built: AnalystWarehouse) -> tuple[Path, dict[str, str]]:
    """A dbt project dir of its own for MetricFlow, which reads <project>/target/
    semantic_manifest.json and nothing else: this repo's files linked in, its own target."""
    project = built.work / "mf_project"
    project.mkdir()
    for name in ("dbt_project.yml", "models", "macros", "seeds", "tests", "analyses", "profiles"):
        (project / name).symlink_to(ROOT / name)
    # dbt-duckdb opens the file for writing: a copy of its own (same file name, the views'
    # catalog), so readers of the shared warehouse in other test workers never block it
    db = project / "warehouse" / built.db.name
    db.parent.mkdir()
    shutil.copyfile(built.db, db)
    env = {**dbt_env(db), "DBT_PROFILES_DIR": str(ROOT / "profiles")}
    env["DBT_PROJECT_DIR"] = str(project)
    subprocess.run(
        [DBT, "parse", "--project-dir", str(project), "--quiet"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return project, env


def mf(project: tuple[Path, dict[str, str]], *args: str) -> str:
    path, env = project
    done = subprocess.run(
        [MF, *args], cwd=path, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def mf_query(
    project: tuple[Path, dict[str, str]], metrics: str, group_by: str
) -> list[dict[str, str]]:
    out = project[0] / f"{metrics.replace(',', '_')}.csv"
    mf(project, "query", "--metrics", metrics, "--group-by", group_by, "--csv", str(out))
    with out.open() as handle:
        return list(csv.DictReader(handle))


def marts(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def month(text: str) -> date:
    return date.fromisoformat(text[:10])


def test_mf_validate_configs_passes_against_the_warehouse(
    project: tuple[Path, dict[str, str]],
) -> None:
    out = mf(project, "validate-configs")
    assert "Successfully validated metrics against data warehouse" in out
    assert "ERRORS: 0" in out and "ERRORS: 1" not in out


def test_win_rate_and_sales_cycle_by_month_and_source_system_equal_the_marts(
    built: AnalystWarehouse, project: tuple[Path, dict[str, str]]
) -> None:
    rows = mf_query(
        project, "win_rate,sales_cycle_median_days", "metric_time__month,case__source_system"
    )
    # months where only lead-only cases closed (disqualified leads) have no deal to rate
    ours = {
        (month(r["metric_time__month"]), r["case__source_system"]): (
            float(r["win_rate"]),
            float(r["sales_cycle_median_days"]),
        )
        for r in rows
        if r["metric_time__month"] and r["win_rate"]
    }
    expected = {
        (m, s): (won / closed, cycle)
        for m, s, won, closed, cycle in marts(
            built.db,
            "select cast(date_trunc('month', closed_at) as date), source_system, "
            "count(*) filter (outcome = 'won'), count(*), "
            "median((epoch(closed_at) - epoch(deal_created_at)) / 86400.0) "
            "from marts.cases where case_type = 'deal' and outcome in ('won', 'lost') "
            "group by all",
        )
    }
    assert len(expected) > 20
    assert ours.keys() == expected.keys()
    for key, (win_rate, cycle) in expected.items():
        assert ours[key] == pytest.approx((win_rate, cycle), rel=1e-9), key


def test_lead_conversion_by_month_and_source_system_equals_the_cohorts_mart(
    built: AnalystWarehouse, project: tuple[Path, dict[str, str]]
) -> None:
    rows = mf_query(project, "lead_conversion", "metric_time__month,lead_cohort__source_system")
    ours = {
        (month(r["metric_time__month"]), r["lead_cohort__source_system"]): float(
            r["lead_conversion"]
        )
        for r in rows
    }
    expected = {
        (m, s): rate
        for m, s, rate in marts(
            built.db,
            "select cast(cohort_month as date), source_system, conversion_rate "
            "from marts.lead_conversion_cohorts",
        )
    }
    assert len(expected) > 20
    assert ours == pytest.approx(expected, rel=1e-9)


def test_dso_by_month_equals_receivables_monthly(
    built: AnalystWarehouse, project: tuple[Path, dict[str, str]]
) -> None:
    rows = mf_query(project, "dso", "metric_time__month")
    ours = {month(r["metric_time__month"]): float(r["dso"]) for r in rows if r["dso"]}
    expected = dict(
        marts(
            built.db,
            "select cast(period_month as date), dso from marts.receivables_monthly "
            "where dimension = 'company' and dso is not null",
        )
    )
    assert len(expected) > 10
    assert ours == pytest.approx(expected, rel=1e-6)


def test_column_descriptions_are_persisted_to_duckdb(built: AnalystWarehouse) -> None:
    comments = dict(
        marts(
            built.db,
            "select table_name || '.' || column_name, comment from duckdb_columns() "
            "where schema_name = 'marts' and comment <> ''",
        )
    )
    assert comments["cases.current_stage"] == "Canonical stage of the deal's current stage."
    assert comments["process_variants.activities"] == "The sequence (varchar[]), in event order."
    tables = dict(
        marts(
            built.db, "select table_name, comment from duckdb_tables() where schema_name = 'marts'"
        )
    )
    assert tables["event_log"].startswith("The process-mining event log. Grain: one row per event")
