"""The data-quality part of the report: what the run's checks found.

- Great Expectations: the event-log QualityReports the job produced, when the caller passes
  them; otherwise the same suites (l2c.quality) are evaluated on the built warehouse;
- raw-data checks: the build's dbt tests on the sources, per raw table (l2c.raw_checks);
- dbt: the data and unit tests of the build, from dbt's run_results.json;
- rejects: rows each loader quarantined (raw_<system>.rejects), by resource and reason;
- freshness: dbt's sources.json (`dbt source freshness`) and the run log (ops.run_log),
  where the job wrote them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from l2c.quality import QualityReport, event_log_suites, run_suites
from l2c.raw_checks import source_tests


@dataclass
class SuiteResult:
    name: str
    passed: int
    total: int
    failures: list[str]


@dataclass
class QualitySection:
    expectations: list[SuiteResult] = field(default_factory=list)
    expectations_source: str = ""
    raw_checks: list[SuiteResult] = field(default_factory=list)  # per raw table
    dbt_counts: dict[str, int] = field(default_factory=dict)
    dbt_problems: list[tuple[str, str, str]] = field(default_factory=list)
    dbt_source: str | None = None
    rejects: list[tuple[str, str, str, int]] = field(default_factory=list)
    freshness: list[tuple[str, str, str]] = field(default_factory=list)
    last_run: dict[str, Any] | None = None


def loaded_systems(con: duckdb.DuckDBPyConnection) -> list[str]:
    from pipelines.load import SOURCES

    schemas = {
        r[0] for r in con.execute("select schema_name from information_schema.schemata").fetchall()
    }
    return [s for s in SOURCES if f"raw_{s}" in schemas]


def _suites(reports: Sequence[QualityReport]) -> list[SuiteResult]:
    out = []
    for report in reports:
        names = sorted({r.suite for r in report.results})
        for name in names:
            rows = [r for r in report.results if r.suite == name]
            out.append(
                SuiteResult(
                    name,
                    sum(r.success for r in rows),
                    len(rows),
                    [f"{r.expectation}({r.column}): {r.detail}" for r in rows if not r.success],
                )
            )
        out += [SuiteResult(name, 0, 1, ["table not found"]) for name in report.missing]
    return out


def _raw_checks(dbt_target: Path) -> list[SuiteResult]:
    tests = source_tests(dbt_target)
    return [
        SuiteResult(
            relation,
            sum(t.status == "pass" for t in tests if t.relation == relation),
            sum(t.relation == relation for t in tests),
            [t.render() for t in tests if t.relation == relation and t.failed],
        )
        for relation in sorted({t.relation for t in tests})
    ]


def _dbt(run_results: Path | None, section: QualitySection) -> None:
    if run_results is None or not run_results.exists():
        return
    results = json.loads(run_results.read_text()).get("results", [])
    tests = [r for r in results if str(r.get("unique_id", "")).startswith(("test.", "unit_test."))]
    section.dbt_source = str(run_results)
    section.dbt_counts = dict(Counter(str(r.get("status")) for r in tests))
    section.dbt_problems = [
        (str(r["unique_id"]).split(".")[-1], str(r.get("status")), str(r.get("message") or ""))
        for r in tests
        if r.get("status") not in ("pass", "success")
    ]


def _freshness(sources_json: Path | None, section: QualitySection) -> None:
    if sources_json is None or not sources_json.exists():
        return
    for r in json.loads(sources_json.read_text()).get("results", []):
        name = ".".join(str(r.get("unique_id", "")).split(".")[-2:])
        section.freshness.append((name, str(r.get("status")), str(r.get("max_loaded_at") or "-")))


def _rejects(
    con: duckdb.DuckDBPyConnection, systems: Sequence[str]
) -> list[tuple[str, str, str, int]]:
    rows: list[tuple[str, str, str, int]] = []
    tables = {
        r[0]
        for r in con.execute(
            "select table_schema from information_schema.tables where table_name = 'rejects'"
        ).fetchall()
    }
    for system in systems:
        if f"raw_{system}" not in tables:
            continue
        columns = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = 'rejects'",
                [f"raw_{system}"],
            ).fetchall()
        }
        resource = "resource" if "resource" in columns else "'-'"
        reason = "reason" if "reason" in columns else "'-'"
        rows += [
            (system, str(res), str(why), int(n))
            for res, why, n in con.execute(
                f"select {resource}, {reason}, count(*) from raw_{system}.rejects "
                "group by all order by 3 desc"
            ).fetchall()
        ]
    return rows


def _last_run(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    present = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'ops' and table_name = 'run_log'"
    ).fetchone()
    if not present or not present[0]:
        return None
    cursor = con.execute("select * from ops.run_log order by started_at desc limit 1")
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))


def collect(
    duckdb_path: Path,
    con: duckdb.DuckDBPyConnection,
    reports: Sequence[QualityReport] | None,
    dbt_target: Path | None,
) -> QualitySection:
    """`con` has the warehouse as its default catalog; `reports` are the run's Great
    Expectations results (None: evaluate the suites now); `dbt_target` holds the build's
    run_results.json (and sources.json when freshness was checked)."""
    section = QualitySection()
    systems = loaded_systems(con)
    if reports is None:
        reports = [run_suites(duckdb_path, event_log_suites())]
        section.expectations_source = "the job's suites, evaluated on the built warehouse"
    else:
        section.expectations_source = "the run's results"
    section.expectations = _suites(reports)
    if dbt_target is not None:
        section.raw_checks = _raw_checks(dbt_target)
        _dbt(dbt_target / "run_results.json", section)
        _freshness(dbt_target / "sources.json", section)
    section.rejects = _rejects(con, systems)
    section.last_run = _last_run(con)
    return section
