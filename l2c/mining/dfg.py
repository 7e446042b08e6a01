"""The process map: directly-follows graph (DFG) with waiting times, start and end activities.

- An edge a -> b is one pair of consecutive events of a case (in the log's order).
  transitions_count = how many such pairs; cases_count = cases with at least one.
  Both are computed per distinct trace and weighted by its case count (exact, and cheap).
- Waiting time of a transition = event_at(b) - event_at(a) in seconds, from the successor
  columns of the single ordered window pass (`EventLog.events`); per edge its mean, median,
  p90 (continuous quantile), min, max and total.
- Bottlenecks, per segment: edges with transitions_count >= min_transitions ranked by median
  wait (then p90, then names); bottleneck_rank 1 is the slowest edge, and the first
  `bottlenecks` ranks are flagged is_bottleneck. Edges below the minimum have no rank.
- Segments: 'all' (segment_value 'all') plus one segmentation per requested case attribute
  (e.g. source_system, region, outcome); a null attribute is the value '(none)'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from l2c.mining._sql import Source, ident, literal, register, temp_table
from l2c.mining.variants import Variants


@dataclass(frozen=True)
class ProcessMap:
    edges: duckdb.DuckDBPyRelation
    endpoints: duckdb.DuckDBPyRelation


def _segment_cases(
    con: duckdb.DuckDBPyConnection, cases: Source | None, segments: Sequence[str]
) -> str | None:
    """Temp table `segment_type, segment_value, case_id` for each requested segmentation."""
    if not segments:
        return None
    if cases is None:
        raise ValueError("segments need the case attributes (cases)")
    name = register(con, cases)
    return temp_table(
        con,
        "segment_cases",
        "\nunion all\n".join(
            f"select {literal(seg)} as segment_type, "
            f"coalesce(cast({ident(seg)} as varchar), '(none)') as segment_value, "
            f"cast(case_id as varchar) as case_id from {name}"
            for seg in segments
        ),
    )


def _segment_variants_sql(v: Variants, seg_cases: str | None) -> str:
    """`segment_type, segment_value, variant_rank, cases_count`, incl. 'all'."""
    sql = f"""
        select 'all' as segment_type, 'all' as segment_value, variant_rank, cases_count
        from {v.table}
    """
    if seg_cases:
        sql += f"""
        union all
        select s.segment_type, s.segment_value, t.variant_rank, count(*) as cases_count
        from {v.traces} as t
        inner join {seg_cases} as s on t.case_id = s.case_id
        group by all
        """
    return sql


def _steps_sql(v: Variants, seg_cases: str | None) -> str:
    """`segment_type, segment_value, act, next_act, wait_s` per transition, incl. 'all'."""
    sql = f"""
        select
            'all' as segment_type,
            'all' as segment_value,
            act,
            next_act,
            (next_ts - ts) / 1000000.0 as wait_s
        from {v.log.events}
        where next_act is not null
    """
    if seg_cases:
        sql += f"""
        union all
        select s.segment_type, s.segment_value, e.act, e.next_act, (e.next_ts - e.ts) / 1000000.0
        from {v.log.events} as e
        inner join {seg_cases} as s on e.case_id = s.case_id
        where e.next_act is not null
        """
    return sql


def process_map(
    v: Variants,
    cases: Source | None = None,
    segments: Sequence[str] = (),
    *,
    min_transitions: int = 20,
    bottlenecks: int = 3,
) -> ProcessMap:
    """The DFG edges and the start / end activities, overall ('all') and per segment."""
    log = v.log
    seg_cases = _segment_cases(log.con, cases, segments)
    seg_variants = _segment_variants_sql(v, seg_cases)
    edges = log.sql(
        f"""
        with segment_variants as ({seg_variants}),

        pairs as (
            select
                s.segment_type,
                s.segment_value,
                s.variant_rank,
                s.cases_count,
                v.trace,
                unnest(range(1, len(v.trace))) as i
            from segment_variants as s
            inner join {v.table} as v on s.variant_rank = v.variant_rank
        ),

        per_variant as (
            select
                segment_type,
                segment_value,
                variant_rank,
                trace[i] as act,
                trace[i + 1] as next_act,
                any_value(cases_count) as cases_count,
                count(*) as occurrences
            from pairs
            group by segment_type, segment_value, variant_rank, act, next_act
        ),

        counts as (
            select
                segment_type,
                segment_value,
                act,
                next_act,
                sum(cases_count * occurrences) as transitions_count,
                sum(cases_count) as cases_count
            from per_variant
            group by segment_type, segment_value, act, next_act
        ),

        waits as (
            select
                segment_type,
                segment_value,
                act,
                next_act,
                avg(wait_s) as wait_mean_s,
                quantile_cont(wait_s, [0.5, 0.9]) as wait_q,
                min(wait_s) as wait_min_s,
                max(wait_s) as wait_max_s,
                sum(wait_s) as wait_total_s
            from ({_steps_sql(v, seg_cases)})
            group by segment_type, segment_value, act, next_act
        ),

        joined as (
            select
                c.segment_type,
                c.segment_value,
                a.activity as from_activity,
                b.activity as to_activity,
                cast(c.transitions_count as bigint) as transitions_count,
                cast(c.cases_count as bigint) as cases_count,
                w.wait_mean_s,
                w.wait_q[1] as wait_median_s,
                w.wait_q[2] as wait_p90_s,
                w.wait_min_s,
                w.wait_max_s,
                w.wait_total_s,
                c.transitions_count >= {int(min_transitions)} as is_ranked
            from counts as c
            inner join waits as w
                on
                    c.segment_type = w.segment_type
                    and c.segment_value = w.segment_value
                    and c.act = w.act
                    and c.next_act = w.next_act
            inner join {log.activities} as a on c.act = a.act
            inner join {log.activities} as b on c.next_act = b.act
        ),

        ranked as (
            select
                * exclude (is_ranked),
                case when is_ranked then cast(row_number() over (
                    partition by segment_type, segment_value, is_ranked
                    order by wait_median_s desc, wait_p90_s desc, from_activity, to_activity
                ) as integer) end as bottleneck_rank
            from joined
        )

        select
            *,
            coalesce(bottleneck_rank <= {int(bottlenecks)}, false) as is_bottleneck
        from ranked
        order by segment_type, segment_value, transitions_count desc, from_activity, to_activity
        """
    )
    endpoints = log.sql(
        f"""
        with segment_variants as ({seg_variants}),

        ends as (
            select
                s.segment_type,
                s.segment_value,
                s.cases_count,
                v.trace[1] as first_act,
                v.trace[-1] as last_act
            from segment_variants as s
            inner join {v.table} as v on s.variant_rank = v.variant_rank
        ),

        both_ends as (
            select segment_type, segment_value, 'start' as endpoint, first_act as act, cases_count
            from ends
            union all
            select segment_type, segment_value, 'end' as endpoint, last_act as act, cases_count
            from ends
        ),

        counted as (
            select segment_type, segment_value, endpoint, act, sum(cases_count) as cases_count
            from both_ends
            group by all
        )

        select
            c.segment_type,
            c.segment_value,
            c.endpoint,
            a.activity,
            cast(c.cases_count as bigint) as cases_count,
            c.cases_count / sum(c.cases_count) over (
                partition by c.segment_type, c.segment_value, c.endpoint
            ) as share
        from counted as c
        inner join {log.activities} as a on c.act = a.act
        order by c.segment_type, c.segment_value, c.endpoint desc, c.cases_count desc, a.activity
        """
    )
    return ProcessMap(edges, endpoints)
