"""The process map: directly-follows graph (DFG) with waiting times, start and end activities.

- An edge a -> b is one pair of consecutive events of a case (in the log's order).
  transitions_count = how many such pairs; cases_count = cases with at least one.
- Waiting time of a transition = event_at(b) - event_at(a) in seconds; per edge its mean,
  median, p90 (continuous quantile, as DuckDB's quantile_cont), min, max and total.
- Start / end activities: the first / last activity of each case, with the share of cases.
- Bottlenecks, per segment: edges with transitions_count >= min_transitions ranked by median
  wait (then p90, then names); bottleneck_rank 1 is the slowest edge, and the first
  `bottlenecks` ranks are flagged is_bottleneck. Edges below the minimum have no rank.
- Segments: 'all' (segment_value 'all') plus one segmentation per requested case attribute
  (e.g. source_system, region, outcome); a null attribute is the value '(none)', and a case
  without a row in the attributes is in no segment of that type.
The counting is NumPy over the ordered events (`ordering.edge_waits`, `ordering.endpoints`);
SQL names the activities and ranks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from l2c.mining._sql import Source, ident, register
from l2c.mining.eventlog import EventLog
from l2c.mining.ordering import Ints, edge_waits, endpoints
from l2c.mining.variants import Variants


@dataclass(frozen=True)
class ProcessMap:
    edges: duckdb.DuckDBPyRelation
    endpoints: duckdb.DuckDBPyRelation


@dataclass(frozen=True)
class Segmentation:
    """segment_type, a group number per case (-1: no row) and the value of each group."""

    segment_type: str
    group: Ints | None
    values: pa.Array


def segmentations(
    log: EventLog, cases: Source | None, segments: Sequence[str]
) -> list[Segmentation]:
    """'all' and one segmentation per requested case attribute."""
    result = [Segmentation("all", None, pa.array(["all"]))]
    if not segments:
        return result
    if cases is None:
        raise ValueError("segments need the case attributes (cases)")
    name = register(log.con, cases)
    case_ids = log.ordered.case_ids
    for seg in segments:
        attrs = log.con.sql(
            f"select cast(case_id as varchar) as case_id, "
            f"coalesce(cast({ident(seg)} as varchar), '(none)') as value from {name}"
        ).to_arrow_table()
        row = pc.index_in(case_ids, value_set=attrs["case_id"].combine_chunks())
        values = pc.dictionary_encode(attrs["value"].combine_chunks())
        codes = values.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        group = np.full(len(case_ids), -1, dtype=np.int64)
        group[row.is_valid().to_numpy(zero_copy_only=False)] = codes[row.drop_null().to_numpy()]
        result.append(Segmentation(seg, group, values.dictionary))
    log.con.unregister(name)
    return result


def _segment_columns(seg: Segmentation, group: Ints) -> dict[str, pa.Array]:
    return {
        "segment_type": pa.array([seg.segment_type] * len(group), pa.string()),
        "segment_value": seg.values.take(pa.array(group, pa.int64())).cast(pa.string()),
    }


def _edge_table(log: EventLog, segs: list[Segmentation]) -> pa.Table:
    parts = []
    for seg in segs:
        w = edge_waits(log.ordered, seg.group)
        parts.append(
            pa.table(
                {
                    **_segment_columns(seg, w.group),
                    "act": w.act.astype(np.int32),
                    "next_act": w.next_act.astype(np.int32),
                    "transitions_count": w.count,
                    "cases_count": w.cases,
                    "wait_mean_s": w.mean,
                    "wait_median_s": w.median,
                    "wait_p90_s": w.p90,
                    "wait_min_s": w.low,
                    "wait_max_s": w.high,
                    "wait_total_s": w.total,
                }
            )
        )
    return pa.concat_tables(parts)


def _endpoint_table(log: EventLog, segs: list[Segmentation]) -> pa.Table:
    parts = []
    for seg in segs:
        e = endpoints(log.ordered, seg.group)
        for endpoint, counts in (("start", e.starts), ("end", e.ends)):
            used = counts > 0
            parts.append(
                pa.table(
                    {
                        **_segment_columns(seg, e.group[used]),
                        "endpoint": pa.array([endpoint] * int(used.sum()), pa.string()),
                        "act": e.act[used].astype(np.int32),
                        "cases_count": counts[used],
                    }
                )
            )
    return pa.concat_tables(parts)


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
    segs = segmentations(log, cases, segments)
    edge_stats = register(log.con, _edge_table(log, segs))
    endpoint_counts = register(log.con, _endpoint_table(log, segs))
    edges = log.sql(
        f"""
        with joined as (
            select
                c.segment_type,
                c.segment_value,
                a.activity as from_activity,
                b.activity as to_activity,
                c.transitions_count,
                c.cases_count,
                c.wait_mean_s,
                c.wait_median_s,
                c.wait_p90_s,
                c.wait_min_s,
                c.wait_max_s,
                c.wait_total_s,
                c.transitions_count >= {int(min_transitions)} as is_ranked
            from {edge_stats} as c
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
    endpoint_rel = log.sql(
        f"""
        select
            c.segment_type,
            c.segment_value,
            c.endpoint,
            a.activity,
            c.cases_count,
            c.cases_count / sum(c.cases_count) over (
                partition by c.segment_type, c.segment_value, c.endpoint
            ) as share
        from {endpoint_counts} as c
        inner join {log.activities} as a on c.act = a.act
        order by c.segment_type, c.segment_value, c.endpoint desc, c.cases_count desc, a.activity
        """
    )
    return ProcessMap(edges, endpoint_rel)
