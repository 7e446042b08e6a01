"""Variants: the ordered activity sequence of each case, counted.

Each case's sequence is keyed once, exactly, from the ordered events (`ordering.group_traces`:
packed activity codes compared word by word); everything that only depends on a case's
sequence (variants, DFG frequencies, start/end activities, rework, conformance) is then
computed per distinct sequence (`Variants.table.trace`) and weighted by its case count.

Definitions
- variant_id: md5 of the activity names of the sequence joined by U+001F (unit separator),
  lower-case hex. It depends on the sequence only, so it is stable across builds.
- variant_rank: 1..n by case count descending, ties by the sequence (list order of names).
- share = cases / all cases; cumulative_share = running sum of cases in rank order / all cases.
- shortened: the sequence with immediate repeats collapsed (A A B A -> A B A).
- Durations: last event - first event of the case, in seconds. When case outcomes are given,
  only closed cases (won/lost) contribute: an open case's duration is censored, not short.
- win_rate = won / (won + lost); deal_value_mean = mean deal value of the variant's cases
  that have one.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from l2c.mining._sql import Source, register, temp_table
from l2c.mining.eventlog import EventLog
from l2c.mining.ordering import collapse_repeats, group_traces, named, traces_of


@dataclass(frozen=True)
class Variants:
    """Per-case traces and per-variant statistics, in temporary tables of the log's connection.

    traces: case_id, events_count, first_ts, last_ts (UTC epoch us), variant_rank
    table: variant_rank, variant_id, activities, shortened, trace (integer codes),
        cases_count and the statistics of `variants_relation`
    """

    log: EventLog
    traces: str
    table: str


def _case_facts(con: duckdb.DuckDBPyConnection, cases: Source | None) -> str:
    """A `case_id, outcome, deal_value` select over the case attributes (nulls when absent)."""
    if cases is None:
        return (
            "select null::varchar as case_id, null::varchar as outcome, null::double as deal_value"
        )
    name = register(con, cases)
    columns = set(con.table(name).columns)
    outcome = "cast(outcome as varchar)" if "outcome" in columns else "null::varchar"
    value = "cast(deal_value as double)" if "deal_value" in columns else "null::double"
    return (
        f"select cast(case_id as varchar) as case_id, {outcome} as outcome, "
        f"{value} as deal_value from {name}"
    )


def mine_variants(log: EventLog, cases: Source | None = None) -> Variants:
    """Build traces and variant statistics. `cases` (optional): case_id, outcome
    ('won' | 'lost' | 'open'), deal_value."""
    con = log.con
    ordered = log.ordered
    groups = group_traces(ordered)
    grouped = register(
        con,
        pa.table(
            {
                "case_id": ordered.case_ids,
                "events_count": ordered.lengths,
                "first_ts": ordered.ts[ordered.starts],
                "last_ts": ordered.ts[ordered.ends - 1],
                "variant": groups.variant,
            }
        ),
    )
    trace = traces_of(ordered, groups.first_case)
    sequences = register(
        con,
        pa.table(
            {
                "variant": pa.array(range(len(groups.first_case)), pa.int64()),
                "trace": trace,
                "activities": named(trace, ordered.activities),
                "shortened": named(collapse_repeats(trace), ordered.activities),
            }
        ),
    )
    if cases is None:
        per_case = f"select *, null::varchar as outcome, null::double as deal_value from {grouped}"
        censor = "true"
    else:
        per_case = f"""
            select t.*, f.outcome, f.deal_value
            from {grouped} as t
            left join ({_case_facts(con, cases)}) as f on t.case_id = f.case_id
        """
        censor = "outcome in ('won', 'lost')"
    table = temp_table(
        con,
        "variants",
        f"""
        with stats as (
            select
                variant,
                count(*) as cases_count,
                quantile_cont((last_ts - first_ts) / 1000000.0, [0.5, 0.9])
                    filter (where {censor}) as duration_q,
                count(*) filter (where outcome = 'won') as cases_won,
                count(*) filter (where outcome = 'lost') as cases_lost,
                count(*) filter (where outcome = 'open') as cases_open,
                avg(deal_value) as deal_value_mean
            from ({per_case})
            group by variant
        ),

        named as (
            select
                s.*,
                q.trace,
                q.activities,
                q.shortened
            from stats as s
            inner join {sequences} as q on s.variant = q.variant
        )

        select
            -- codes follow activity-name order, so this orders ties by the name sequence
            cast(row_number() over (order by cases_count desc, trace) as integer)
                as variant_rank,
            md5(array_to_string(activities, chr(31))) as variant_id,
            activities,
            shortened,
            duration_q[1] as duration_median_s,
            duration_q[2] as duration_p90_s,
            * exclude (activities, shortened, duration_q)
        from named
        """,
    )
    traces = temp_table(
        con,
        "case_traces",
        f"""
        select t.case_id, t.events_count, t.first_ts, t.last_ts, v.variant_rank
        from {grouped} as t
        inner join {table} as v on t.variant = v.variant
        """,
    )
    con.unregister(grouped)
    con.unregister(sequences)
    return Variants(log, traces, table)


def variants_relation(v: Variants) -> duckdb.DuckDBPyRelation:
    """One row per variant, ranked (see the module docstring for each definition)."""
    return v.log.sql(
        f"""
        select
            variant_id,
            variant_rank,
            activities,
            array_to_string(activities, ' > ') as activities_text,
            cast(len(activities) as integer) as events_count,
            shortened,
            array_to_string(shortened, ' > ') as shortened_text,
            cast(cases_count as bigint) as cases_count,
            cases_count / sum(cases_count) over () as share,
            sum(cases_count) over (order by variant_rank rows unbounded preceding)
                / sum(cases_count) over () as cumulative_share,
            duration_median_s,
            duration_p90_s,
            cast(cases_won as bigint) as cases_won,
            cast(cases_lost as bigint) as cases_lost,
            cast(cases_open as bigint) as cases_open,
            cases_won / nullif(cases_won + cases_lost, 0) as win_rate,
            deal_value_mean
        from {v.table}
        order by variant_rank
        """
    )


def case_variants_relation(v: Variants) -> duckdb.DuckDBPyRelation:
    """One row per case: its variant, event count, first/last event time and duration."""
    return v.log.sql(
        f"""
        select
            t.case_id,
            v.variant_id,
            t.variant_rank,
            cast(t.events_count as integer) as events_count,
            make_timestamp(t.first_ts) as first_event_at,
            make_timestamp(t.last_ts) as last_event_at,
            (t.last_ts - t.first_ts) / 1000000.0 as duration_s
        from {v.traces} as t
        inner join {v.table} as v on t.variant_rank = v.variant_rank
        """
    )
