"""What the report shows, read from the marts: one View for all systems, one per source system
and one per pipeline of a source system, plus the company-wide parts (DSO trend, findings).

A pipeline view scopes what the marts hold per pipeline (cases, win rate, process map, top
variants, funnel, cycle times); lead conversion and conformance have no pipeline grain (leads
belong to no pipeline; conformance_summary is per source system), so a pipeline view shows its
source system's figures for them and says so (View.per_system_only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

ALL = "all"
# shares of the cases the process map can be narrowed to (the most frequent variants first)
COVERAGE_LEVELS: tuple[float, ...] = (1.0, 0.8, 0.5)
CYCLE_SEGMENTS: tuple[str, ...] = ("sales_cycle", "lead_to_cash", "invoice_to_paid")


@dataclass
class Edge:
    source: str
    target: str
    count: int
    median_wait_s: float | None


@dataclass
class ProcessMap:
    level: float
    cases: int
    variants: int
    edges: list[Edge]
    starts: dict[str, int]
    ends: dict[str, int]


@dataclass
class View:
    """Everything the report shows for one source system (or ALL), or one pipeline of a
    source system."""

    system: str
    kpis: dict[str, Any]
    pipeline: str | None = None
    maps: list[ProcessMap] = field(default_factory=list)
    variants: list[tuple[str, int, float]] = field(default_factory=list)
    funnel: list[tuple[str, int, int]] = field(default_factory=list)
    cycle_times: dict[str, list[float]] = field(default_factory=dict)
    conformance: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        """The picker's value (and the view's data-key attribute)."""
        return self.system if self.pipeline is None else f"{self.system} / {self.pipeline}"

    @property
    def label(self) -> str:
        if self.system == ALL:
            return "All systems"
        return self.key

    @property
    def per_system_only(self) -> bool:
        """Lead conversion and conformance are shown for the whole source system."""
        return self.pipeline is not None


@dataclass
class CompanyData:
    views: list[View]
    dso_trend: list[tuple[date, float, float | None]]
    dso_latest: tuple[date, float, float | None] | None
    findings: list[str]
    as_of: str | None


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> tuple[Any, ...]:
    row = con.execute(sql, params).fetchone()
    return row if row is not None else ()


def _where(system: str, pipeline: str | None = None, prefix: str = "") -> tuple[str, list[Any]]:
    """The filter of a view on a mart with source_system (and pipeline) columns."""
    if system == ALL:
        return "true", []
    if pipeline is None:
        return f"{prefix}source_system = ?", [system]
    return f"{prefix}source_system = ? and {prefix}pipeline = ?", [system, pipeline]


def systems(con: duckdb.DuckDBPyConnection) -> list[str]:
    sql = "select distinct source_system from marts.cases order by 1"
    return [r[0] for r in con.execute(sql).fetchall()]


def pipelines(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(source_system, pipeline) of every case that has a pipeline (deals; leads have none)."""
    sql = (
        "select distinct source_system, pipeline from marts.cases "
        "where pipeline is not null order by 1, 2"
    )
    return [(s, p) for s, p in con.execute(sql).fetchall()]


def kpis(
    con: duckdb.DuckDBPyConnection, system: str, pipeline: str | None = None
) -> dict[str, Any]:
    where, params = _where(system, pipeline)
    cases, deals, won, lost, open_ = _one(
        con,
        "select count(*), count(*) filter (case_type = 'deal'), "
        "count(*) filter (case_type = 'deal' and outcome = 'won'), "
        "count(*) filter (case_type = 'deal' and outcome = 'lost'), "
        "count(*) filter (case_type = 'deal' and outcome = 'open') "
        f"from marts.cases where {where}",
        params,
    )
    if system == ALL:
        win = _one(con, "select win_rate from marts.win_rates where dimension = 'overall'", [])
    elif pipeline is not None:
        # win_rates' pipeline dimension groups by name across systems: pipeline_velocity has
        # the win rate per (source_system, pipeline)
        win = _one(
            con,
            "select win_rate from marts.pipeline_velocity where source_system = ? and pipeline = ?",
            [system, pipeline],
        )
    else:
        win = _one(
            con,
            "select win_rate from marts.win_rates "
            "where dimension = 'source_system' and group_value = ?",
            [system],
        )
    system_where, system_params = _where(system)  # leads have no pipeline
    created, converted = _one(
        con,
        "select sum(leads_created), sum(leads_converted) from marts.lead_conversion_cohorts "
        f"where {system_where}",
        system_params,
    )
    if pipeline is not None:
        # cycle_time_summary's pipeline dimension groups by name across systems: its
        # median_days is the median of the completed segments of case_cycle_times
        cycle = _one(
            con,
            "select median(duration_days) from marts.case_cycle_times "
            f"where segment = 'sales_cycle' and is_completed and {where}",
            params,
        )
    else:
        dimension = ("overall", []) if system == ALL else ("source_system", [system])
        cycle = _one(
            con,
            "select median_days from marts.cycle_time_summary where segment = 'sales_cycle' "
            "and dimension = ?" + ("" if system == ALL else " and group_value = ?"),
            [dimension[0], *dimension[1]],
        )
    return {
        "cases": cases,
        "deals": deals,
        "won": won,
        "lost": lost,
        "open": open_,
        "win_rate": win[0] if win else None,
        "lead_conversion": (converted / created) if created else None,
        "sales_cycle_median_days": cycle[0] if cycle else None,
    }


def _variant_scope(system: str, pipeline: str | None = None) -> tuple[str, list[Any]]:
    """Cases of the view with their variant and its rank within the view."""
    where, params = _where(system, pipeline, "c.")
    return (
        f"""
        with scoped as (
            select cv.case_id, cv.variant_id
            from marts.case_variants as cv
            inner join marts.cases as c on cv.case_id = c.case_id
            where {where}
        ),
        counted as (
            select s.variant_id, count(*) as n, any_value(pv.variant_rank) as global_rank
            from scoped as s
            inner join marts.process_variants as pv on s.variant_id = pv.variant_id
            group by s.variant_id
        ),
        ranked as (
            select
                variant_id,
                n,
                row_number() over (order by n desc, global_rank) as rank_in_scope,
                coalesce(
                    sum(n) over (
                        order by n desc, global_rank
                        rows between unbounded preceding and 1 preceding
                    ),
                    0
                ) / sum(n) over () as share_before
            from counted
        )
        """,
        params,
    )


def top_variants(
    con: duckdb.DuckDBPyConnection, system: str, pipeline: str | None = None, limit: int = 10
) -> list[tuple[str, int, float]]:
    scope, params = _variant_scope(system, pipeline)
    return [
        (text, n, share)
        for text, n, share in con.execute(
            f"""{scope}
            select pv.activities_text, r.n, r.n / sum(r.n) over ()
            from ranked as r
            inner join marts.process_variants as pv on r.variant_id = pv.variant_id
            order by r.rank_in_scope
            """,
            params,
        ).fetchall()[:limit]
    ]


def process_map(
    con: duckdb.DuckDBPyConnection, system: str, level: float, pipeline: str | None = None
) -> ProcessMap:
    """The directly-follows graph of the view's cases whose variant is among the most
    frequent ones that together cover `level` of its cases (the variant that crosses the
    level is included; 1.0 = every case)."""
    scope, params = _variant_scope(system, pipeline)
    con.execute(
        f"""create or replace temp table report_map_cases as
        {scope}
        select s.case_id from scoped as s
        inner join ranked as r on s.variant_id = r.variant_id
        where r.share_before < ?""",
        [*params, level],
    )
    cases, variants = _one(
        con,
        "select count(*), count(distinct cv.variant_id) from report_map_cases "
        "inner join marts.case_variants as cv using (case_id)",
        [],
    )
    steps = """
        select
            activity,
            lead(activity) over w as next_activity,
            epoch(lead(event_at) over w) - epoch(event_at) as wait_s,
            row_number() over w as position,
            row_number() over (partition by case_id order by event_at desc, event_order desc)
                as position_from_end
        from marts.event_log
        semi join report_map_cases using (case_id)
        window w as (partition by case_id order by event_at, event_order)
    """
    edges = [
        Edge(a, b, n, w)
        for a, b, n, w in con.execute(
            f"select activity, next_activity, count(*), median(wait_s) from ({steps}) "
            "where next_activity is not null group by all order by 3 desc, 1, 2"
        ).fetchall()
    ]
    starts = dict(
        con.execute(
            f"select activity, count(*) from ({steps}) where position = 1 group by 1"
        ).fetchall()
    )
    ends = dict(
        con.execute(
            f"select activity, count(*) from ({steps}) where position_from_end = 1 group by 1"
        ).fetchall()
    )
    return ProcessMap(level, cases, variants, edges, starts, ends)


def funnel(
    con: duckdb.DuckDBPyConnection, system: str, pipeline: str | None = None
) -> list[tuple[str, int, int]]:
    """Per canonical stage (in stage order): deals in pipelines with the stage, deals that
    reached it (any order), summed over the view's pipelines."""
    where, params = _where(system, pipeline)
    return [
        (stage, int(deals), int(reached))
        for stage, deals, reached in con.execute(
            "select canonical_stage, sum(deals_count), sum(reached_any_count) "
            f"from marts.stage_funnel where {where} "
            "group by canonical_stage, canonical_stage_order order by canonical_stage_order",
            params,
        ).fetchall()
    ]


def cycle_times(
    con: duckdb.DuckDBPyConnection, system: str, pipeline: str | None = None
) -> dict[str, list[float]]:
    where, params = _where(system, pipeline)
    out: dict[str, list[float]] = {}
    for segment in CYCLE_SEGMENTS:
        out[segment] = [
            r[0]
            for r in con.execute(
                "select duration_days from marts.case_cycle_times "
                f"where segment = ? and is_completed and {where} order by 1",
                [segment, *params],
            ).fetchall()
        ]
    return out


def conformance(con: duckdb.DuckDBPyConnection, system: str) -> dict[str, Any] | None:
    if system == ALL:
        sql, params = "select * from marts.conformance_summary where dimension = 'all'", []
    else:
        sql = (
            "select * from marts.conformance_summary "
            "where dimension = 'source_system' and dimension_value = ?"
        )
        params = [system]
    cursor = con.execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def dso_trend(con: duckdb.DuckDBPyConnection) -> list[tuple[date, float, float | None]]:
    return [
        (month, dso, best)
        for month, dso, best in con.execute(
            "select period_month, dso, best_possible_dso from marts.receivables_monthly "
            "where dimension = 'company' and dso is not null order by period_month"
        ).fetchall()
    ]


def read(con: duckdb.DuckDBPyConnection) -> CompanyData:
    from l2c.findings import findings_lines

    views = []
    scopes: list[tuple[str, str | None]] = [(ALL, None)]
    for system in systems(con):
        scopes += [(system, None), *[(s, p) for s, p in pipelines(con) if s == system]]
    for system, pipeline in scopes:
        view = View(system, kpis(con, system, pipeline), pipeline)
        view.maps = [process_map(con, system, level, pipeline) for level in COVERAGE_LEVELS]
        view.variants = top_variants(con, system, pipeline)
        view.funnel = funnel(con, system, pipeline)
        view.cycle_times = cycle_times(con, system, pipeline)
        view.conformance = conformance(con, system)  # no pipeline grain: the system's
        views.append(view)
    trend = dso_trend(con)
    as_of = _one(con, "select max(event_at) from marts.event_log", [])
    return CompanyData(
        views=views,
        dso_trend=trend,
        dso_latest=trend[-1] if trend else None,
        findings=[line.removeprefix("- ") for line in _sentences(findings_lines(con))],
        as_of=f"{as_of[0]:%Y-%m-%d %H:%M} UTC" if as_of and as_of[0] else None,
    )


def _sentences(lines: list[str]) -> list[str]:
    """findings_lines wraps each '- ' bullet over several lines: join them back."""
    out: list[str] = []
    for line in lines:
        if line.startswith("- ") or not out:
            out.append(line)
        else:
            out[-1] += " " + line.strip()
    return out
