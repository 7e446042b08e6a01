"""Rework: repeated activities and backward moves between ordered stages.

Per activity (over all cases):
- events_count: occurrences; cases_count: cases with at least one;
- cases_with_rework: cases where it occurs more than once (pm4py's "rework cases");
- repeat_occurrences: occurrences beyond the first in each case (events_count - cases_count);
- immediate_repeats: occurrences directly following the same activity (self-loops);
- rework_rate = cases_with_rework / cases_count.
Backward stage moves: in each case's subsequence of stage activities (those with a stage
order), a move from stage s to stage t is backward when order(t) < order(s).
All counts are computed per distinct trace and weighted by its case count.
"""

from __future__ import annotations

import duckdb

from l2c.mining._sql import Source, register, temp_table
from l2c.mining.variants import Variants


def _positions_sql(v: Variants) -> str:
    """`variant_rank, cases_count, pos, act` for every position of every variant's trace."""
    return f"""
        select
            variant_rank,
            cases_count,
            unnest(range(1, len(trace) + 1)) as pos,
            unnest(trace) as act
        from {v.table}
    """


def _stage_codes(v: Variants, stage_order: Source) -> str:
    """Temp table `act, stage_order` for the stage activities present in the log."""
    con = v.log.con
    stages = register(con, stage_order)
    return temp_table(
        con,
        "stage_codes",
        f"""
        select a.act, cast(s.stage_order as integer) as stage_order
        from {v.log.activities} as a
        inner join {stages} as s on a.activity = cast(s.activity as varchar)
        """,
    )


def _stage_moves_table(v: Variants, stage_codes: str) -> str:
    """Temp table of backward moves per variant: variant_rank, cases_count, from/to act, pos."""
    return temp_table(
        v.log.con,
        "stage_moves",
        f"""
        with stage_positions as (
            select p.variant_rank, p.cases_count, p.pos, p.act, s.stage_order
            from ({_positions_sql(v)}) as p
            inner join {stage_codes} as s on p.act = s.act
        ),

        moves as (
            select
                *,
                lag(act) over w as prev_act,
                lag(stage_order) over w as prev_order
            from stage_positions
            window w as (partition by variant_rank order by pos)
        )

        select variant_rank, cases_count, prev_act as from_act, act as to_act, pos
        from moves
        where stage_order < prev_order
        """,
    )


def activity_rework(v: Variants, stage_order: Source | None = None) -> duckdb.DuckDBPyRelation:
    """One row per activity of the log. With `stage_order` (activity, stage_order) the stage
    activities also get backward_entries / cases_with_backward_entry (moves into the stage)."""
    if stage_order is None:
        backward = (
            "select null::integer as act, null::hugeint as backward_entries, "
            "null::hugeint as cases_with_backward_entry where false"
        )
    else:
        codes = _stage_codes(v, stage_order)
        backward = f"""
        select
            s.act,
            coalesce(sum(m.cases_count * m.moves), 0) as backward_entries,
            coalesce(sum(m.cases_count), 0) as cases_with_backward_entry
        from {codes} as s
        left join (
            select variant_rank, to_act, any_value(cases_count) as cases_count, count(*) as moves
            from {_stage_moves_table(v, codes)}
            group by variant_rank, to_act
        ) as m on s.act = m.to_act
        group by s.act
        """
    return v.log.sql(
        f"""
        with per_variant as (
            select
                variant_rank,
                act,
                any_value(cases_count) as cases_count,
                count(*) as occurrences
            from ({_positions_sql(v)})
            group by variant_rank, act
        ),

        self_loops as (
            select
                p.act,
                sum(p.cases_count) as immediate_repeats
            from ({_positions_sql(v)}) as p
            inner join {v.table} as v on p.variant_rank = v.variant_rank
            where p.pos > 1 and v.trace[p.pos - 1] = p.act
            group by p.act
        ),

        per_activity as (
            select
                act,
                sum(cases_count * occurrences) as events_count,
                sum(cases_count) as cases_count,
                coalesce(sum(cases_count) filter (where occurrences > 1), 0) as cases_with_rework,
                sum(cases_count * (occurrences - 1)) as repeat_occurrences
            from per_variant
            group by act
        ),

        backward as ({backward})

        select
            a.activity,
            cast(p.events_count as bigint) as events_count,
            cast(p.cases_count as bigint) as cases_count,
            cast(p.cases_with_rework as bigint) as cases_with_rework,
            cast(p.repeat_occurrences as bigint) as repeat_occurrences,
            cast(coalesce(s.immediate_repeats, 0) as bigint) as immediate_repeats,
            p.cases_with_rework / p.cases_count as rework_rate,
            cast(b.backward_entries as bigint) as backward_entries,
            cast(b.cases_with_backward_entry as bigint) as cases_with_backward_entry
        from per_activity as p
        inner join {v.log.activities} as a on p.act = a.act
        left join self_loops as s on p.act = s.act
        left join backward as b on p.act = b.act
        order by p.events_count desc, a.activity
        """
    )


def stage_backward_moves(v: Variants, stage_order: Source) -> duckdb.DuckDBPyRelation:
    """One row per backward (from_activity, to_activity) stage move: moves and cases."""
    moves = _stage_moves_table(v, _stage_codes(v, stage_order))
    return v.log.sql(
        f"""
        with per_variant as (
            select
                variant_rank,
                from_act,
                to_act,
                any_value(cases_count) as cases_count,
                count(*) as moves
            from {moves}
            group by variant_rank, from_act, to_act
        )

        select
            f.activity as from_activity,
            t.activity as to_activity,
            cast(sum(p.cases_count * p.moves) as bigint) as moves_count,
            cast(sum(p.cases_count) as bigint) as cases_count
        from per_variant as p
        inner join {v.log.activities} as f on p.from_act = f.act
        inner join {v.log.activities} as t on p.to_act = t.act
        group by f.activity, t.activity
        order by moves_count desc, from_activity, to_activity
        """
    )


def case_backward_moves(v: Variants, stage_order: Source) -> duckdb.DuckDBPyRelation:
    """One row per case: its number of backward stage moves (0 when none)."""
    moves = _stage_moves_table(v, _stage_codes(v, stage_order))
    return v.log.sql(
        f"""
        select t.case_id, cast(count(m.pos) as bigint) as backward_moves
        from {v.traces} as t
        left join {moves} as m on t.variant_rank = m.variant_rank
        group by t.case_id
        """
    )
