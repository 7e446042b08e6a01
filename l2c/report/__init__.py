"""A self-contained HTML report of one run: headline KPIs and findings, the process map
(frequency and performance views, narrowed to the top variants), top variants, the stage
funnel, cycle-time distributions, the DSO trend, the conformance summary and the run's data
quality, with a picker for the source system or pipeline. Everything is inline (SVG, CSS, a
few lines of JavaScript): the file opens without a network.

    python -m l2c.report [--duckdb warehouse/lead2cash.duckdb] [--out warehouse/report.html]
                         [--dbt-target target]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import duckdb
import jinja2

from l2c.quality import QualityReport
from l2c.report import charts, process_map
from l2c.report.data import ALL, COVERAGE_LEVELS, CYCLE_SEGMENTS, CompanyData, read
from l2c.report.quality import QualitySection, collect

__all__ = ["ReportError", "write_report"]

SEGMENT_TITLES = {
    "sales_cycle": "Sales cycle (deal created to won or lost)",
    "lead_to_cash": "Lead to cash (lead created to invoice paid)",
    "invoice_to_paid": "Invoice to paid",
}
# every mart the report reads (l2c.report.data)
# the process map opens on the top variants covering 80% of the cases (readable); the picker
# offers every level of COVERAGE_LEVELS
DEFAULT_LEVEL = 0.8 if 0.8 in COVERAGE_LEVELS else COVERAGE_LEVELS[0]
REQUIRED = (
    "cases",
    "event_log",
    "process_variants",
    "case_variants",
    "win_rates",
    "pipeline_velocity",
    "lead_conversion_cohorts",
    "cycle_time_summary",
    "case_cycle_times",
    "stage_funnel",
    "conformance_summary",
    "receivables_monthly",
)


class ReportError(RuntimeError):
    """The warehouse lacks what the report shows (not built, or built partially)."""


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} days"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: resources.files("l2c.report").joinpath(name).read_text("utf-8")
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pct=_pct, days=_days, num=_num, wait=process_map.format_wait)
    return env


def _charts(data: CompanyData) -> dict[str, dict[str, object]]:
    """Every picture of every view, rendered to SVG strings."""
    out: dict[str, dict[str, object]] = {}
    for view in data.views:
        maps = {
            (kind, f"{m.level:.0%}"): process_map.render(m, kind)
            for m in view.maps
            for kind in ("frequency", "performance")
        }
        variants = charts.hbars(
            [(text, n, f"{n:,} ({share:.1%})") for text, n, share in view.variants],
            "Top variants by cases",
        )
        funnel = charts.hbars(
            [
                (stage, reached, f"{reached:,} of {deals:,} ({reached / deals:.0%})")
                for stage, deals, reached in view.funnel
                if deals
            ],
            "Deals reaching each stage",
        )
        cycles = {
            segment: charts.histogram(view.cycle_times.get(segment, []), SEGMENT_TITLES[segment])
            for segment in CYCLE_SEGMENTS
        }
        out[view.key] = {"maps": maps, "variants": variants, "funnel": funnel, "cycles": cycles}
    return out


def _dso_chart(data: CompanyData) -> str:
    return charts.lines(
        [f"{m:%Y-%m}" for m, _, _ in data.dso_trend],
        [
            ("DSO", [d for _, d, _ in data.dso_trend], "#3182bd"),
            ("best possible DSO", [b for _, _, b in data.dso_trend], "#31a354"),
        ],
        "DSO by month",
    )


def render(data: CompanyData, quality: QualitySection, title: str) -> str:
    return (
        _environment()
        .get_template("template.html")
        .render(
            title=title,
            data=data,
            quality=quality,
            charts=_charts(data),
            dso_chart=_dso_chart(data),
            segment_titles=SEGMENT_TITLES,
            all_systems=ALL,
            default_level=DEFAULT_LEVEL,
            generated=f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        )
    )


def write_report(
    duckdb_path: Path,
    out_path: Path,
    *,
    dbt_target: Path | None = None,
    quality_reports: Sequence[QualityReport] | None = None,
    title: str = "Lead-to-Cash process report",
) -> Path:
    """Write the report of the warehouse at duckdb_path to out_path. dbt_target: the build's
    target folder (run_results.json, sources.json); quality_reports: the run's Great
    Expectations results (None: the suites are evaluated on the warehouse now)."""
    duckdb_path = Path(duckdb_path)
    if not duckdb_path.exists():
        raise ReportError(f"no warehouse at {duckdb_path}: run the build (make demo) first")
    con = duckdb.connect()
    try:
        path = str(duckdb_path.resolve()).replace("'", "''")
        con.execute(f"attach '{path}' as wh (read_only)")
        con.execute("use wh")
        present = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = 'wh' and table_schema = 'marts'"
            ).fetchall()
        }
        missing = [m for m in REQUIRED if m not in present]
        if missing:
            raise ReportError(
                f"{duckdb_path}: marts {', '.join(missing)} missing; run the full dbt build first"
            )
        quality = collect(duckdb_path, con, quality_reports, dbt_target)
        data = read(con)
    finally:
        con.close()
    html = render(data, quality, title)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(html, encoding="utf-8")
    return out_path
