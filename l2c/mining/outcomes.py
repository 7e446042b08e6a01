"""Outcomes of variants and deviations: lost deals, late payments, conformance by group.

Definitions
- Win rate = won / (won + lost), closed cases only; loss_rate = lost / (won + lost).
- An invoice is payment-evaluable when it is linked to a case, not void or draft, has a due
  date, and is either paid or past due at `as_of`. It is late when paid after its due date,
  or unpaid and past due at `as_of`. A case is paid late when any evaluable invoice is late;
  cases without an evaluable invoice are not in the late-payment denominator.
- Lift = the group's rate / the rate over all cases (same denominator definition).
- A rate is reliable when its denominator is at least `min_group_size`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import duckdb

from l2c.mining._sql import Source, ident, literal, register


def case_payment_lateness(
    con: duckdb.DuckDBPyConnection, invoices: Source, as_of: datetime | None
) -> duckdb.DuckDBPyRelation:
    """One row per case with a payment-evaluable invoice: counts and is_paid_late.
    `invoices`: case_id, status, due_at, paid_at (UTC timestamps). Without `as_of` (an empty
    warehouse) only paid invoices are evaluable."""
    name = register(con, invoices)
    past_due = (
        f"due_at < {literal(as_of.isoformat(sep=' '))}::timestamp" if as_of is not None else "false"
    )
    return con.sql(
        f"""
        with evaluable as (
            select
                cast(case_id as varchar) as case_id,
                paid_at is not null and paid_at > due_at
                or paid_at is null and {past_due} as is_late
            from {name}
            where
                case_id is not null
                and status not in ('void', 'draft')
                and due_at is not null
                and (paid_at is not null or {past_due})
        )

        select
            case_id,
            cast(count(*) as integer) as invoices_evaluable,
            cast(count(*) filter (where is_late) as integer) as invoices_late,
            bool_or(is_late) as is_paid_late
        from evaluable
        group by case_id
        """
    )


def conformance_summary(
    con: duckdb.DuckDBPyConnection,
    case_conformance: Source,
    cases: Source,
    dimensions: Mapping[str, str],
    min_group_size: int,
) -> duckdb.DuckDBPyRelation:
    """Conformance rate and outcomes of fitting vs deviating cases, overall ('all') and per
    dimension value. `dimensions` maps a dimension name to a column of `cases` (which also
    has case_id and outcome); a null value is '(none)'."""
    conf = register(con, case_conformance)
    attrs = register(con, cases)
    unpivot = "\nunion all\n".join(
        [
            "select 'all' as dimension, 'all' as dimension_value, * from per_case",
            *(
                f"select {literal(dim)}, coalesce(cast({ident(col)} as varchar), '(none)'), * "
                "from per_case"
                for dim, col in dimensions.items()
            ),
        ]
    )
    return con.sql(
        f"""
        with per_case as (
            select
                f.fits,
                f.skipped_count > 0 as has_skipped,
                f.extra_count > 0 as has_extra,
                f.out_of_order_count > 0 as has_out_of_order,
                f.repeated_count > 0 as has_repeated,
                c.*
            from {conf} as f
            inner join {attrs} as c on f.case_id = c.case_id
        ),

        unpivoted as ({unpivot}),

        grouped as (
            select
                dimension,
                dimension_value,
                count(*) as cases_count,
                count(*) filter (where fits) as fitting_cases,
                count(*) filter (where has_skipped) as cases_with_skipped,
                count(*) filter (where has_extra) as cases_with_extra,
                count(*) filter (where has_out_of_order) as cases_with_out_of_order,
                count(*) filter (where has_repeated) as cases_with_repeated,
                count(*) filter (where fits and outcome = 'won') as won_fitting,
                count(*) filter (where fits and outcome = 'lost') as lost_fitting,
                count(*) filter (where not fits and outcome = 'won') as won_deviating,
                count(*) filter (where not fits and outcome = 'lost') as lost_deviating
            from unpivoted
            group by dimension, dimension_value
        )

        select
            dimension,
            dimension_value,
            cases_count,
            fitting_cases,
            fitting_cases / cases_count as conformance_rate,
            cases_with_skipped,
            cases_with_extra,
            cases_with_out_of_order,
            cases_with_repeated,
            won_fitting,
            lost_fitting,
            won_fitting / nullif(won_fitting + lost_fitting, 0) as win_rate_fitting,
            won_deviating,
            lost_deviating,
            won_deviating / nullif(won_deviating + lost_deviating, 0) as win_rate_deviating,
            cases_count >= {int(min_group_size)} as meets_min_group_size
        from grouped
        order by dimension = 'all' desc, dimension, dimension_value
        """
    )


def variant_outcomes(
    con: duckdb.DuckDBPyConnection,
    *,
    variants: Source,
    case_variants: Source,
    case_conformance: Source,
    deviations: Source,
    cases: Source,
    lateness: Source,
    min_group_size: int,
) -> duckdb.DuckDBPyRelation:
    """Loss and late-payment rates per factor a case can have: its variant, fitting or
    deviating, each deviation kind, each (kind, activity) deviation."""
    var = register(con, variants)
    case_var = register(con, case_variants)
    conf = register(con, case_conformance)
    dev = register(con, deviations)
    attrs = register(con, cases)
    late = register(con, lateness)
    return con.sql(
        f"""
        with factors as (
            select
                cv.case_id,
                'variant' as factor_type,
                cv.variant_id as factor_value,
                '#' || v.variant_rank || ': ' || v.shortened_text as factor_label
            from {case_var} as cv
            inner join {var} as v on cv.variant_id = v.variant_id
            union all
            select
                case_id,
                'conformance',
                case when fits then 'fits' else 'deviates' end,
                case when fits then 'fits the ideal path' else 'deviates from the ideal path' end
            from {conf}
            union all
            select distinct case_id, 'deviation_kind', deviation_kind, deviation_kind
            from {dev}
            union all
            select distinct
                case_id,
                'deviation',
                deviation_kind || ': ' || activity,
                deviation_kind || ': ' || activity
            from {dev}
        ),

        per_case as (
            select
                cast(c.case_id as varchar) as case_id,
                c.outcome,
                l.is_paid_late
            from {attrs} as c
            left join {late} as l on cast(c.case_id as varchar) = l.case_id
        ),

        overall as (
            select
                count(*) filter (where outcome = 'lost')
                / nullif(count(*) filter (where outcome in ('won', 'lost')), 0) as loss_rate,
                count(*) filter (where is_paid_late)
                / nullif(count(is_paid_late), 0) as late_payment_rate
            from per_case
            where case_id in (select case_id from factors)
        ),

        grouped as (
            select
                f.factor_type,
                f.factor_value,
                any_value(f.factor_label) as factor_label,
                count(*) as cases_count,
                count(*) filter (where p.outcome in ('won', 'lost')) as closed_cases,
                count(*) filter (where p.outcome = 'lost') as lost_cases,
                count(p.is_paid_late) as payment_cases,
                count(*) filter (where p.is_paid_late) as late_cases
            from factors as f
            inner join per_case as p on f.case_id = p.case_id
            group by f.factor_type, f.factor_value
        )

        select
            g.factor_type,
            g.factor_value,
            g.factor_label,
            g.cases_count,
            g.closed_cases,
            g.lost_cases,
            g.lost_cases / nullif(g.closed_cases, 0) as loss_rate,
            g.lost_cases / nullif(g.closed_cases, 0) / nullif(o.loss_rate, 0) as loss_rate_lift,
            g.closed_cases >= {int(min_group_size)} as loss_rate_is_reliable,
            g.payment_cases,
            g.late_cases,
            g.late_cases / nullif(g.payment_cases, 0) as late_payment_rate,
            g.late_cases / nullif(g.payment_cases, 0) / nullif(o.late_payment_rate, 0)
                as late_payment_rate_lift,
            g.payment_cases >= {int(min_group_size)} as late_payment_rate_is_reliable
        from grouped as g
        cross join overall as o
        order by g.factor_type, g.cases_count desc, g.factor_value
        """
    )
