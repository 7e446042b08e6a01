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

import hashlib
from dataclasses import dataclass
from functools import cached_property

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from l2c.mining._sql import Source, register
from l2c.mining.eventlog import EventLog, case_rows
from l2c.mining.ordering import (
    Floats,
    Ints,
    TraceGroups,
    collapse_repeats,
    group_traces,
    grouped_quantiles,
    named,
    rank_by_count_then_sequence,
    traces_of,
)

_SEPARATOR = "\x1f"  # unit separator: joins activity names for the variant id


@dataclass(frozen=True)
class Variants:
    """Per-case traces and per-variant statistics as Arrow tables; `table` and `traces` are
    the same tables registered as views of the log's connection, for SQL that builds on them.

    case_table / traces: case_id, events_count, first_ts, last_ts (UTC epoch us),
        variant_rank, one row per case in the log's case order
    variant_table / table: variant_rank (1..n, in rank order), variant, variant_id,
        activities, shortened, trace (integer codes), cases_count, duration_median_s,
        duration_p90_s, cases_won, cases_lost, cases_open, deal_value_mean
    """

    log: EventLog
    case_table: pa.Table
    variant_table: pa.Table
    # the cases grouped by sequence, kept so that mining the same log with case facts does
    # not group its events again
    groups: TraceGroups | None = None

    @cached_property
    def table(self) -> str:
        return register(self.log.con, self.variant_table)

    @cached_property
    def traces(self) -> str:
        return register(self.log.con, self.case_table)


@dataclass(frozen=True)
class CaseFacts:
    """Per case of the log (in its case order): outcome and deal value, None when absent."""

    outcome: pa.Array
    deal_value: Floats  # NaN: no value


def _case_facts(log: EventLog, cases: Source) -> CaseFacts:
    """The `outcome` and `deal_value` columns of `cases`, aligned with the log's cases (the
    first row of a case id counts; a case without a row has neither)."""
    con = log.con
    name = register(con, cases)
    columns = set(con.table(name).columns)
    outcome = "cast(outcome as varchar)" if "outcome" in columns else "null::varchar"
    value = "cast(deal_value as double)" if "deal_value" in columns else "null::double"
    facts = con.sql(
        f"select cast(case_id as varchar) as case_id, {outcome} as outcome, "
        f"{value} as deal_value from {name}"
    ).to_arrow_table()
    con.unregister(name)
    row = case_rows(log, facts["case_id"])
    deal_value = facts["deal_value"].combine_chunks().take(row)
    return CaseFacts(
        outcome=facts["outcome"].combine_chunks().take(row),
        deal_value=deal_value.to_numpy(zero_copy_only=False).astype(np.float64),
    )


def _counts(variant: Ints, mask: np.ndarray, k: int) -> Ints:
    return np.bincount(variant[mask], minlength=k).astype(np.int64)


def _nullable(values: Floats) -> pa.Array:
    return pa.array(values, pa.float64(), mask=np.isnan(values))


def _variant_ids(activities: pa.ListArray) -> pa.Array:
    joined = pc.binary_join(activities, _SEPARATOR).to_pylist()
    return pa.array([hashlib.md5(s.encode()).hexdigest() for s in joined], pa.string())


def mine_variants(
    log: EventLog, cases: Source | None = None, groups: TraceGroups | None = None
) -> Variants:
    """Build traces and variant statistics. `cases` (optional): case_id, outcome
    ('won' | 'lost' | 'open'), deal_value. `groups`: `group_traces(log.ordered)`, when the
    caller has it already."""
    ordered = log.ordered
    groups = group_traces(ordered) if groups is None else groups
    k = len(groups.first_case)
    variant = groups.variant
    first_ts = ordered.ts[ordered.starts]
    last_ts = ordered.ts[ordered.ends - 1]
    n_cases = len(variant)

    if cases is None:
        closed = np.ones(n_cases, dtype=bool)
        won = lost = still_open = np.zeros(n_cases, dtype=bool)
        deal_value = np.full(n_cases, np.nan)
    else:
        facts = _case_facts(log, cases)

        def outcome_is(value: str) -> np.ndarray:
            hit = pc.equal(facts.outcome, value)
            return hit.fill_null(False).to_numpy(zero_copy_only=False)

        won, lost, still_open = outcome_is("won"), outcome_is("lost"), outcome_is("open")
        closed = won | lost  # an open case's duration is censored
        deal_value = facts.deal_value
    median, p90 = grouped_quantiles(
        variant[closed], (last_ts - first_ts)[closed], k, (0.5, 0.9), scale=1_000_000.0
    )
    has_value = ~np.isnan(deal_value)
    value_count = _counts(variant, has_value, k)
    value_sum = np.bincount(variant[has_value], weights=deal_value[has_value], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        value_mean = np.where(value_count > 0, value_sum / np.maximum(value_count, 1), np.nan)

    trace = traces_of(ordered, groups.first_case)
    order = rank_by_count_then_sequence(groups.cases, trace)
    rank_of = np.empty(k, dtype=np.int64)
    rank_of[order] = np.arange(1, k + 1)
    take = pa.array(order, pa.int64())
    trace = trace.take(take)
    activities = named(trace, ordered.activities)
    variant_table = pa.table(
        {
            "variant_rank": pa.array(np.arange(1, k + 1, dtype=np.int32)),
            "variant": pa.array(order),
            "variant_id": _variant_ids(activities),
            "activities": activities,
            "shortened": named(collapse_repeats(trace), ordered.activities),
            "trace": trace,
            "cases_count": pa.array(groups.cases[order]),
            "duration_median_s": _nullable(median[order]),
            "duration_p90_s": _nullable(p90[order]),
            "cases_won": pa.array(_counts(variant, won, k)[order]),
            "cases_lost": pa.array(_counts(variant, lost, k)[order]),
            "cases_open": pa.array(_counts(variant, still_open, k)[order]),
            "deal_value_mean": _nullable(value_mean[order]),
        }
    )
    case_table = pa.table(
        {
            "case_id": ordered.case_ids,
            "events_count": pa.array(ordered.lengths),
            "first_ts": pa.array(first_ts),
            "last_ts": pa.array(last_ts),
            "variant_rank": pa.array(rank_of[variant].astype(np.int32)),
        }
    )
    return Variants(log, case_table, variant_table, groups)


def variants_table(v: Variants) -> pa.Table:
    """One row per variant, ranked (see the module docstring for each definition)."""
    t = v.variant_table
    cases = t["cases_count"].to_numpy()
    won, lost = t["cases_won"].to_numpy(), t["cases_lost"].to_numpy()
    total = max(int(cases.sum()), 1)
    decided = won + lost
    with np.errstate(invalid="ignore", divide="ignore"):
        win_rate = np.where(decided > 0, won / np.maximum(decided, 1), np.nan)
    activities, shortened = t["activities"].combine_chunks(), t["shortened"].combine_chunks()
    return pa.table(
        {
            "variant_id": t["variant_id"],
            "variant_rank": t["variant_rank"],
            "activities": activities,
            "activities_text": pc.binary_join(activities, " > "),
            "events_count": pc.list_value_length(activities).cast(pa.int32()),
            "shortened": shortened,
            "shortened_text": pc.binary_join(shortened, " > "),
            "cases_count": t["cases_count"],
            "share": pa.array(cases / total),
            "cumulative_share": pa.array(np.cumsum(cases) / total),
            "duration_median_s": t["duration_median_s"],
            "duration_p90_s": t["duration_p90_s"],
            "cases_won": t["cases_won"],
            "cases_lost": t["cases_lost"],
            "cases_open": t["cases_open"],
            "win_rate": _nullable(win_rate),
            "deal_value_mean": t["deal_value_mean"],
        }
    )


def variants_relation(v: Variants) -> duckdb.DuckDBPyRelation:
    """`variants_table` as a relation of the log's connection."""
    return v.log.con.from_arrow(variants_table(v))


def case_variants_table(v: Variants) -> pa.Table:
    """One row per case: its variant, event count, first/last event time and duration."""
    t = v.case_table
    rank = t["variant_rank"].to_numpy()
    first_ts, last_ts = t["first_ts"].to_numpy(), t["last_ts"].to_numpy()
    ids = v.variant_table["variant_id"].combine_chunks()
    return pa.table(
        {
            "case_id": t["case_id"],
            "variant_id": ids.take(pa.array(rank.astype(np.int64) - 1)),
            "variant_rank": t["variant_rank"],
            "events_count": pa.array(t["events_count"].to_numpy().astype(np.int32)),
            "first_event_at": pa.array(first_ts, pa.timestamp("us")),
            "last_event_at": pa.array(last_ts, pa.timestamp("us")),
            "duration_s": pa.array((last_ts - first_ts) / 1_000_000.0),
        }
    )


def case_variants_relation(v: Variants) -> duckdb.DuckDBPyRelation:
    """`case_variants_table` as a relation of the log's connection."""
    return v.log.con.from_arrow(case_variants_table(v))
