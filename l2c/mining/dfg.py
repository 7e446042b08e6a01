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
The counting, naming and ranking are NumPy and Arrow over the ordered events
(`ordering.edge_waits`, `ordering.endpoints`); no SQL beyond reading the case attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from l2c.mining._sql import Source, ident, register
from l2c.mining.eventlog import EventLog, case_rows
from l2c.mining.ordering import Ints, edge_waits, endpoints, group_bounds, transitions
from l2c.mining.variants import Variants


@dataclass(frozen=True)
class ProcessMap:
    """The edges and the start / end activities as Arrow tables (`edges_table`,
    `endpoints_table`) and as relations of the log's connection (`edges`, `endpoints`)."""

    con: duckdb.DuckDBPyConnection
    edges_table: pa.Table
    endpoints_table: pa.Table

    @property
    def edges(self) -> duckdb.DuckDBPyRelation:
        return self.con.from_arrow(self.edges_table)

    @property
    def endpoints(self) -> duckdb.DuckDBPyRelation:
        return self.con.from_arrow(self.endpoints_table)


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
    values_sql = ", ".join(
        f"coalesce(cast({ident(seg)} as varchar), '(none)') as {ident(seg)}" for seg in segments
    )
    attrs = log.con.sql(
        f"select cast(case_id as varchar) as case_id, {values_sql} from {name}"
    ).to_arrow_table()
    log.con.unregister(name)
    # each case of the log matched to its attribute row once, for every segmentation
    row = case_rows(log, attrs["case_id"])
    matched = row.is_valid().to_numpy(zero_copy_only=False)
    rows = row.drop_null().to_numpy()
    for seg in segments:
        values = pc.dictionary_encode(attrs[seg].combine_chunks())
        codes = values.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        group = np.full(len(matched), -1, dtype=np.int64)
        group[matched] = codes[rows]
        result.append(Segmentation(seg, group, values.dictionary))
    return result


def _segment_columns(seg: Segmentation, group: Ints) -> dict[str, pa.Array]:
    return {
        "segment_type": pa.array([seg.segment_type] * len(group), pa.string()),
        "segment_value": seg.values.take(pa.array(group, pa.int64())).cast(pa.string()),
    }


def _sorted(table: pa.Table, keys: list[tuple[str, str]]) -> pa.Table:
    return table.take(pc.sort_indices(table, sort_keys=keys)) if table.num_rows else table


def _edge_table(
    v: Variants, segs: list[Segmentation], min_transitions: int, bottlenecks: int
) -> pa.Table:
    log = v.log
    names = pa.array(log.ordered.activities, pa.string())
    parts = []
    shared = transitions(log.ordered, v.groups)  # sorted once for every segmentation
    for seg in segs:
        w = edge_waits(log.ordered, seg.group, shared)
        # bottleneck ranks per segment value, among edges with enough transitions: median
        # wait desc, p90 desc, then the names (codes are in name order)
        ranked = np.flatnonzero(w.count >= min_transitions)
        order = ranked[
            np.lexsort(
                (
                    w.next_act[ranked],
                    w.act[ranked],
                    -w.p90[ranked],
                    -w.median[ranked],
                    w.group[ranked],
                )
            )
        ]
        rank = np.zeros(len(w.count), dtype=np.int64)  # 0: not ranked
        if len(order):
            begin, end = group_bounds(w.group[order])
            rank[order] = np.arange(len(order)) - np.repeat(begin, end - begin) + 1
        parts.append(
            pa.table(
                {
                    **_segment_columns(seg, w.group),
                    "from_activity": names.take(pa.array(w.act)),
                    "to_activity": names.take(pa.array(w.next_act)),
                    "transitions_count": pa.array(w.count),
                    "cases_count": pa.array(w.cases),
                    "wait_mean_s": pa.array(w.mean),
                    "wait_median_s": pa.array(w.median),
                    "wait_p90_s": pa.array(w.p90),
                    "wait_min_s": pa.array(w.low),
                    "wait_max_s": pa.array(w.high),
                    "wait_total_s": pa.array(w.total),
                    "bottleneck_rank": pa.array(rank.astype(np.int32), mask=rank == 0),
                    "is_bottleneck": pa.array((rank > 0) & (rank <= bottlenecks)),
                }
            )
        )
    return _sorted(
        pa.concat_tables(parts),
        [
            ("segment_type", "ascending"),
            ("segment_value", "ascending"),
            ("transitions_count", "descending"),
            ("from_activity", "ascending"),
            ("to_activity", "ascending"),
        ],
    )


def _endpoint_table(log: EventLog, segs: list[Segmentation]) -> pa.Table:
    names = pa.array(log.ordered.activities, pa.string())
    parts = []
    for seg in segs:
        e = endpoints(log.ordered, seg.group)
        for endpoint, counts in (("start", e.starts), ("end", e.ends)):
            used = counts > 0
            group, cases = e.group[used], counts[used]
            per_group = np.bincount(group, weights=cases)
            parts.append(
                pa.table(
                    {
                        **_segment_columns(seg, group),
                        "endpoint": pa.array([endpoint] * len(group), pa.string()),
                        "activity": names.take(pa.array(e.act[used])),
                        "cases_count": pa.array(cases),
                        "share": pa.array(cases / per_group[group] if len(group) else []),
                    }
                )
            )
    return _sorted(
        pa.concat_tables(parts),
        [
            ("segment_type", "ascending"),
            ("segment_value", "ascending"),
            ("endpoint", "descending"),
            ("cases_count", "descending"),
            ("activity", "ascending"),
        ],
    )


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
    return ProcessMap(
        log.con,
        _edge_table(v, segs, int(min_transitions), int(bottlenecks)),
        _endpoint_table(log, segs),
    )


def edge_table(
    v: Variants,
    segs: list[Segmentation],
    *,
    min_transitions: int = 20,
    bottlenecks: int = 3,
) -> pa.Table:
    """`process_map(...).edges_table` alone, for `segmentations(...)` computed already."""
    return _edge_table(v, segs, int(min_transitions), int(bottlenecks))


def endpoint_table(v: Variants, segs: list[Segmentation]) -> pa.Table:
    """`process_map(...).endpoints_table` alone, for `segmentations(...)` computed already."""
    return _endpoint_table(v.log, segs)
