"""Great Expectations suites over the event log (and the invoices' link to a deal).

The raw tables' checks are dbt source tests, run by `dbt build` before the models that read
them (models/staging/<system>/_<system>__sources.yml; their outcome: l2c.raw_checks).

Each suite reads one table (or query) from the DuckDB file into a DataFrame and validates it
with GX expectations. `run_suites` returns a readable report; `QualityError` is raised by
`check` when any expectation fails, naming the suite, the expectation and what was seen.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx
import great_expectations.expectations as gxe

EARLIEST = pd.Timestamp("2000-01-01")


def _latest() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=1))


@dataclass(frozen=True)
class Suite:
    name: str
    query: str
    expectations: Sequence[Any]
    required: bool = True  # a missing table fails the suite (False: skipped and reported)


@dataclass
class CheckResult:
    suite: str
    expectation: str
    column: str
    success: bool
    detail: str


@dataclass
class QualityReport:
    results: list[CheckResult] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results) and not self.missing

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success]

    def render(self) -> str:
        lines = []
        suites = sorted({r.suite for r in self.results})
        for suite in suites:
            rows = [r for r in self.results if r.suite == suite]
            passed = sum(r.success for r in rows)
            lines.append(
                f"  {'ok  ' if passed == len(rows) else 'FAIL'} {suite}: "
                f"{passed}/{len(rows)} expectations met"
            )
            for r in rows:
                if not r.success:
                    lines.append(f"       x {r.expectation}({r.column}): {r.detail}")
        for name in self.missing:
            lines.append(f"  FAIL {name}: table not found")
        return "\n".join(lines)


class QualityError(RuntimeError):
    def __init__(self, report: QualityReport) -> None:
        self.report = report
        super().__init__("data quality checks failed:\n" + report.render())


def _between_ts(column: str) -> Any:
    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=EARLIEST, max_value=_latest())


def _key(column: str) -> list[Any]:
    return [
        gxe.ExpectColumnValuesToNotBeNull(column=column),
        gxe.ExpectColumnValuesToBeUnique(column=column),
    ]


def event_log_suites(min_link_share: float = 0.85) -> list[Suite]:
    return [
        Suite(
            "marts.event_log",
            # amounts are never negative, except Subscription Changed's: the signed MRR change
            # (a contraction is negative), left out of the two amount checks
            "select event_id, case_id, event_order, activity, event_at, "
            "case when activity <> 'Subscription Changed' then amount end as amount, "
            "case when activity <> 'Subscription Changed' then amount_reporting end "
            "as amount_reporting from marts.event_log",
            [
                *_key("event_id"),
                gxe.ExpectColumnValuesToNotBeNull(column="case_id"),
                gxe.ExpectColumnValuesToNotBeNull(column="activity"),
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["case_id", "event_order"]),
                gxe.ExpectColumnValuesToNotBeNull(column="event_at"),
                _between_ts("event_at"),
                gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=0),
                gxe.ExpectColumnValuesToBeBetween(column="amount_reporting", min_value=0),
            ],
        ),
        Suite(
            "marts.invoices (link to a CRM deal)",
            "select invoice_key, deal_key from marts.invoices",
            [
                *_key("invoice_key"),
                gxe.ExpectColumnValuesToNotBeNull(column="deal_key", mostly=min_link_share),
            ],
        ),
    ]


def _detail(result: Any) -> str:
    res = result.result or {}
    if "unexpected_count" in res:
        sample = res.get("partial_unexpected_list") or []
        text = (
            f"{res.get('unexpected_count')} of {res.get('element_count')} rows "
            f"({res.get('unexpected_percent') or 0:.1f}%) unexpected"
        )
        return text + (f", e.g. {sample[:3]}" if sample else "")
    if "observed_value" in res:
        return f"observed {res['observed_value']}"
    return str(result.exception_info or res)[:200]


def run_suites(duckdb_path: Path, suites: Sequence[Suite]) -> QualityReport:
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = gx.data_context.types.base.ProgressBarsConfig(globally=False)
    # GX's SQL data source cannot read DuckDB here: through duckdb-engine 0.17 its metric
    # queries come back empty (IndexError in resolve_metric_bundle; GX 1.24.1 with SQLAlchemy
    # 2.0 and 2.1), so each suite reads only its checked columns into a DataFrame.
    source = context.data_sources.add_pandas(name="l2c")
    report = QualityReport()
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        for index, suite in enumerate(suites):
            try:
                frame = con.execute(suite.query).df()
            except duckdb.CatalogException:
                if suite.required:
                    report.missing.append(suite.name)
                continue
            asset = source.add_dataframe_asset(name=f"asset_{index}")
            batch = asset.add_batch_definition_whole_dataframe("all")
            gx_suite = context.suites.add(
                gx.ExpectationSuite(name=suite.name, expectations=list(suite.expectations))
            )
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(name=f"validate_{index}", data=batch, suite=gx_suite)
            )
            outcome = definition.run(batch_parameters={"dataframe": frame})
            for item in outcome.results:
                kwargs = item.expectation_config.kwargs
                column = kwargs.get("column") or ",".join(kwargs.get("column_list") or [])
                report.results.append(
                    CheckResult(
                        suite.name,
                        item.expectation_config.type,
                        column,
                        bool(item.success),
                        "" if item.success else _detail(item),
                    )
                )
    finally:
        con.close()
    return report


def check(duckdb_path: Path, suites: Sequence[Suite]) -> QualityReport:
    report = run_suites(duckdb_path, suites)
    if not report.success:
        raise QualityError(report)
    return report
