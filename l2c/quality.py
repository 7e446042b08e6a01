"""Great Expectations suites over the landed raw data and the event log.

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
EARLIEST_UNIX = int(EARLIEST.timestamp())


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


def _between_unix(column: str) -> Any:
    return gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=EARLIEST_UNIX, max_value=int(_latest().timestamp())
    )


def _key(column: str) -> list[Any]:
    return [
        gxe.ExpectColumnValuesToNotBeNull(column=column),
        gxe.ExpectColumnValuesToBeUnique(column=column),
    ]


def _timestamps(table: str, key: str, columns: Sequence[str], extra: str = "") -> str:
    """`select key, <timestamp columns as naive UTC>, extra from table` (session zone UTC)."""
    casts = ", ".join(f"cast({c} as timestamp) as {c}" for c in columns)
    return f"select {key}, {casts}{', ' + extra if extra else ''} from {table}"


def _pipedrive_suites() -> list[Suite]:
    return [
        Suite(
            "raw_pipedrive.deals",
            "select id, cast(add_time as timestamp) as add_time, "
            "cast(update_time as timestamp) as update_time, value, status "
            "from raw_pipedrive.deals",
            [
                *_key("id"),
                gxe.ExpectColumnValuesToNotBeNull(column="add_time"),
                _between_ts("add_time"),
                _between_ts("update_time"),
                gxe.ExpectColumnValuesToBeBetween(column="value", min_value=0),
                gxe.ExpectColumnValuesToBeInSet(
                    column="status", value_set=["open", "won", "lost", "deleted"]
                ),
            ],
        ),
        Suite(
            "raw_pipedrive.deal_changes",
            "select id, deal_id, cast(log_time as timestamp) as log_time "
            "from raw_pipedrive.deal_changes",
            [
                *_key("id"),
                gxe.ExpectColumnValuesToNotBeNull(column="deal_id"),
                _between_ts("log_time"),
            ],
        ),
        Suite(
            "raw_pipedrive.leads",
            "select id, cast(add_time as timestamp) as add_time from raw_pipedrive.leads",
            [*_key("id"), _between_ts("add_time")],
        ),
    ]


def _stripe_suites() -> list[Suite]:
    return [
        Suite(
            "raw_stripe.invoices",
            "select id, customer, created, amount_due, amount_paid, total, status "
            "from raw_stripe.invoices",
            [
                *_key("id"),
                gxe.ExpectColumnValuesToNotBeNull(column="customer"),
                _between_unix("created"),
                gxe.ExpectColumnValuesToBeBetween(column="amount_due", min_value=0),
                gxe.ExpectColumnValuesToBeBetween(column="amount_paid", min_value=0),
                gxe.ExpectColumnValuesToBeInSet(
                    column="status", value_set=["draft", "open", "paid", "void", "uncollectible"]
                ),
            ],
        ),
        Suite(
            "raw_stripe.charges",
            "select id, created, amount from raw_stripe.charges",
            [
                *_key("id"),
                _between_unix("created"),
                gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=0),
            ],
        ),
    ]


def _raw_suite(
    table: str, key: str, timestamps: Sequence[str], extra: str = "", checks: Sequence[Any] = ()
) -> Suite:
    """A raw table's suite: its key unique and not null, each timestamp column within range,
    plus `checks` on the key, the timestamps (as naive UTC) and the `extra` columns."""
    return Suite(
        table,
        _timestamps(table, key, timestamps, extra),
        [*_key(key), *checks, *(_between_ts(column) for column in timestamps)],
    )


def _not_null(*columns: str) -> list[Any]:
    return [gxe.ExpectColumnValuesToNotBeNull(column=column) for column in columns]


def _non_negative(column: str) -> Any:
    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0)


def _salesforce_suites() -> list[Suite]:
    return [
        _raw_suite(
            "raw_salesforce.opportunities",
            "id",
            ["created_date", "system_modstamp"],
            "amount, stage_name, is_closed, is_won",
            [*_not_null("created_date", "stage_name", "is_closed"), _non_negative("amount")],
        ),
        _raw_suite(
            "raw_salesforce.opportunity_history",
            "id",
            ["created_date"],
            "opportunity_id",
            _not_null("opportunity_id"),
        ),
        _raw_suite("raw_salesforce.leads", "id", ["created_date"]),
    ]


def _oracle_cx_suites() -> list[Suite]:
    return [
        _raw_suite(
            "raw_oracle_cx.opportunities",
            "opty_id",
            ["creation_date", "last_update_date"],
            "revenue, status_code",
            [
                *_not_null("creation_date"),
                _non_negative("revenue"),
                gxe.ExpectColumnValuesToBeInSet(
                    column="status_code", value_set=["OPEN", "WON", "LOST"]
                ),
            ],
        ),
        _raw_suite(
            "raw_oracle_cx.stage_snapshots",
            "opty_stg_snapshot_id",
            ["stg_enter_date"],
            "opty_id",
            _not_null("opty_id", "stg_enter_date"),
        ),
        _raw_suite("raw_oracle_cx.leads", "lead_id", ["creation_date"]),
    ]


def _zendesk_sell_suites() -> list[Suite]:
    return [
        _raw_suite(
            "raw_zendesk_sell.deals",
            "id",
            ["created_at", "updated_at"],
            "value, stage_id",
            [*_not_null("created_at", "stage_id"), _non_negative("value")],
        ),
        _raw_suite(
            "raw_zendesk_sell.deal_stage_snapshots",
            "snapshot_id",
            ["last_stage_change_at"],
            "deal_id, stage_id",
            _not_null("deal_id", "stage_id"),
        ),
        _raw_suite("raw_zendesk_sell.leads", "id", ["created_at"]),
    ]


def _erp_suites() -> list[Suite]:
    return [
        _raw_suite(
            "raw_erp.orders",
            "order_no",
            ["order_date", "fulfilment_date"],
            "cast(net_amount as double) as net_amount, status",
            [*_not_null("order_date"), _non_negative("net_amount")],
        ),
    ]


RAW_SUITES = {
    "pipedrive": _pipedrive_suites,
    "stripe": _stripe_suites,
    "salesforce": _salesforce_suites,
    "oracle_cx": _oracle_cx_suites,
    "zendesk_sell": _zendesk_sell_suites,
    "erp": _erp_suites,
}


def raw_suites(systems: Sequence[str] = ("pipedrive", "stripe")) -> list[Suite]:
    """The raw-data suites of the systems that were loaded (a system without suites has none)."""
    return [suite for system in systems for suite in RAW_SUITES.get(system, list)()]


def event_log_suites(min_link_share: float = 0.85) -> list[Suite]:
    return [
        Suite(
            "marts.event_log",
            "select event_id, case_id, event_order, activity, event_at, amount, "
            "amount_reporting from marts.event_log",
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
