"""The prepared event log every mining function works on.

`prepare_log` takes any event relation with a case id, an activity, a timestamp and an explicit
tie-breaker column. It never trusts the input order: the events are ordered per case by
(timestamp in UTC, tie-breaker, activity) with one NumPy sort (`l2c.mining.ordering`); each
event's successor in that order is the directly-follows relation. Cases are numbered in case-id
order and activities in activity-name order.

Reading: DuckDB numbers the distinct case ids and activities and, when the tie-breaker is an
integer and the four keys fit 62 bits, packs each event into one int64 (`KeyLayout`), so a
single integer column crosses into NumPy and is sorted as plain values; the case ids cross once
per case. Otherwise the integer columns are read and ordered by `order_coded`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from l2c.mining._sql import Source, arrow_temp_table, ident, register
from l2c.mining.ordering import (
    KeyLayout,
    OrderedLog,
    events_table,
    order_coded,
    ordered_from_keys,
    tie_rank,
)

# Column types accepted for the timestamp and how each becomes UTC epoch microseconds.
# A timestamptz is an instant: epoch_us() of it does not depend on the session time zone.
# A timestamp without zone is taken to be UTC already (the warehouse convention).
_INSTANT_TYPES = ("TIMESTAMP WITH TIME ZONE",)
_NAIVE_TYPES = ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE")


@dataclass(frozen=True)
class EventLog:
    """A case-ordered event log: NumPy arrays (`ordered`) plus views of `con` over them.

    activities (registered on first use): act integer, activity varchar (codes in
        activity-name order, from 0).
    events (registered on first use): case_id varchar, seq bigint (1..n per case), act integer,
        ts bigint (UTC epoch microseconds), next_act / next_ts (the next event of the case,
        null for the last one).
    activity_count / longest_case: number of activities, events of the longest case.
    """

    con: duckdb.DuckDBPyConnection
    ordered: OrderedLog
    activity_count: int
    longest_case: int

    @cached_property
    def activities(self) -> str:
        return register(
            self.con,
            pa.table(
                {
                    "activity": pa.array(self.ordered.activities, pa.string()),
                    "act": pa.array(range(self.activity_count), pa.int32()),
                }
            ),
        )

    @cached_property
    def events(self) -> str:
        return register(self.con, events_table(self.ordered))

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        return self.con.sql(query)

    def activity_names(self) -> str:
        """SQL expression: the list of activity names indexed by code + 1."""
        return f"(select list(activity order by act) from {self.activities})"


def case_rows(log: EventLog, case_ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Per case of the log (in its case order): the index of the first of `case_ids` (strings)
    equal to its id, null where none is: `pyarrow.compute.index_in`, as a DuckDB hash join on
    the connection's threads (at 1.43M cases, index_in took 2.8 CPU s, the join 0.4)."""
    n = len(log.ordered.case_ids)
    left = register(
        log.con, pa.table({"case_id": log.ordered.case_ids, "code": np.arange(n, dtype=np.int64)})
    )
    right = register(
        log.con, pa.table({"case_id": case_ids, "row": np.arange(len(case_ids), dtype=np.int64)})
    )
    try:
        pairs = log.con.sql(
            f"select l.code, r.row from {left} as l inner join {right} as r using (case_id)"
        ).fetchnumpy()
    finally:
        log.con.unregister(left)
        log.con.unregister(right)
    code, row = pairs["code"].astype(np.int64), pairs["row"].astype(np.int64)
    first = np.full(n, -1, dtype=np.int64)
    if len(code) and int(np.bincount(code, minlength=n).max()) > 1:
        # a case id given more than once: its first row counts (the smallest index)
        none = np.iinfo(np.int64).max
        smallest = np.full(n, none, dtype=np.int64)
        np.minimum.at(smallest, code, row)
        first = np.where(smallest == none, -1, smallest)
    else:
        first[code] = row
    return pa.array(first, pa.int64(), mask=first < 0)


def utc_epoch_us(con: duckdb.DuckDBPyConnection, source: str, column: str) -> str:
    """SQL expression turning `column` of `source` into UTC epoch microseconds."""
    col_type = str(con.sql(f"select {ident(column)} from {source} limit 0").types[0])
    if col_type in _INSTANT_TYPES:
        return f"epoch_us({ident(column)})"
    if col_type in _NAIVE_TYPES:
        return f"epoch_us(cast({ident(column)} as timestamp))"
    raise TypeError(
        f"timestamp column {column!r} has type {col_type}; expected a timestamp or timestamptz "
        "(cast text to timestamptz first so its offset is honoured)"
    )


# Integer tie-breakers DuckDB can pack as they are (their order is their value's order).
_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER")
# Candidate steps of the timestamps (microseconds): the largest that divides every timestamp
# stores them in the fewest bits.
_STEPS = (86_400_000_000, 60_000_000, 1_000_000, 1_000, 1)


def _column_type(con: duckdb.DuckDBPyConnection, source: str, column: str) -> str:
    return str(con.sql(f"select {ident(column)} from {source} limit 0").types[0])


def _log_facts(
    con: duckdb.DuckDBPyConnection, events: str, order_type: str, n_cases: int
) -> tuple[list[str], KeyLayout | None]:
    """The activity names (sorted) and, in the same scan, how (case code, time, tie-breaker,
    activity code) pack into one 62-bit key: None when the tie-breaker is not an integer or
    the ranges need more bits."""
    integer = order_type in _INTEGER_TYPES
    steps = ", ".join(f"bool_and(ts % {s} = 0)" for s in _STEPS)
    ranges = f", count(*), min(ts), max(ts), min(tie), max(tie), count(tie), {steps}"
    row = con.sql(
        f"select list(distinct activity){ranges if integer else ''} from ({events})"
    ).fetchone()
    assert row is not None
    names = sorted(row[0] or [])
    if not integer:
        return names, None
    n, ts_min, ts_max, tie_min, tie_max, tie_count, *divides = row[1:]
    if not n:
        return names, None
    step = next(s for s, ok in zip(_STEPS, divides, strict=True) if ok)
    tie_min = 0 if tie_min is None else int(tie_min)
    tie_null = (0 if tie_max is None else int(tie_max)) + 1  # nulls last
    tie_max = tie_null if tie_count < n else int(tie_max)
    return names, KeyLayout.of(
        (
            n_cases - 1,
            (int(ts_max) - int(ts_min)) // step,
            tie_max - tie_min,
            len(names) - 1,
        ),
        step=step,
        ts_min=int(ts_min),
        tie_min=tie_min,
        tie_null=tie_null,
    )


def prepare_log(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    *,
    case_id: str = "case_id",
    activity: str = "activity",
    timestamp: str = "event_at",
    order: str = "event_order",
) -> EventLog:
    """Order and encode an event log.

    Events are ordered per case by the timestamp (normalised to UTC), then `order` (the
    deterministic tie-breaker, e.g. the catalog sort order or a precomputed event_order), then
    the activity name; rows equal in all of these are interchangeable for every result.
    Events with a null case id, activity or timestamp are dropped (as pm4py does).
    """
    src = register(con, source)
    ts_expr = utc_epoch_us(con, src, timestamp)
    case_sql, act_sql = f"cast({ident(case_id)} as varchar)", f"cast({ident(activity)} as varchar)"
    events = f"""
        select {case_sql} as case_id, {act_sql} as activity, {ts_expr} as ts, {ident(order)} as tie
        from {src}
        where
            {ident(case_id)} is not null
            and {ident(activity)} is not null
            and {ident(timestamp)} is not null
    """
    # The strings are encoded in DuckDB (hash joins against the distinct values, on all its
    # threads), and when the keys fit, DuckDB packs (case, time, tie-breaker, activity) into
    # one integer per event: a single int64 column crosses into NumPy, and each case id once.
    # The distinct case ids are sorted by Arrow, on one thread, in a third of the CPU DuckDB's
    # window (row_number() over (order by case_id)) took over the same 1.43M ids.
    distinct = con.sql(f"select distinct case_id from ({events})").to_arrow_table()["case_id"]
    case_ids = distinct.take(pc.sort_indices(distinct)).combine_chunks()
    names, layout = _log_facts(con, events, _column_type(con, src, order), len(case_ids))
    acts = arrow_temp_table(
        con,
        "acts",
        pa.table(
            {
                "activity": pa.array(names, pa.string()),
                "code": pa.array(range(len(names)), pa.int64()),
            }
        ),
    )
    cases = arrow_temp_table(
        con,
        "cases",
        pa.table({"case_id": case_ids, "code": np.arange(len(case_ids), dtype=np.int64)}),
    )
    coded = f"""
        select c.code as case_code, a.code as act, e.ts, e.tie
        from ({events}) as e
        inner join {cases} as c on e.case_id = c.case_id
        inner join {acts} as a on e.activity = a.activity
    """
    if layout is not None:
        keys = con.sql(f"select {layout.expression} as k from ({coded})").to_arrow_table()["k"]
        ordered = ordered_from_keys(
            keys.to_numpy() if keys.num_chunks == 1 else keys.combine_chunks().to_numpy(),
            layout,
            case_ids,
            names,
        )
    else:
        table = con.sql(coded).to_arrow_table()
        ordered = order_coded(
            table["case_code"].to_numpy().astype(np.int64),
            case_ids,
            table["act"].to_numpy().astype(np.int64),
            names,
            table["ts"].to_numpy().astype(np.int64),
            tie_rank(table["tie"]),
        )
    con.unregister(src)
    con.execute(f"drop table {acts}")
    con.execute(f"drop table {cases}")
    longest = int(ordered.lengths.max()) if len(ordered.starts) else 0
    return EventLog(con, ordered, len(ordered.activities), longest)
