"""The prepared event log every mining function works on.

`prepare_log` takes any event relation with a case id, an activity, a timestamp and an explicit
tie-breaker column. It never trusts the input order: the events are read once into Arrow and
ordered per case by (timestamp in UTC, tie-breaker, activity) with one NumPy lexsort
(`l2c.mining.ordering`); each event's successor in that order is the directly-follows relation.
Activities are stored as integer codes in activity-name order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import duckdb
import pyarrow as pa

from l2c.mining._sql import Source, ident, register
from l2c.mining.ordering import OrderedLog, events_table, order_events

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
    table = con.sql(
        f"""
        select
            cast({ident(case_id)} as varchar) as case_id,
            cast({ident(activity)} as varchar) as activity,
            {ts_expr} as ts,
            {ident(order)} as tie
        from {src}
        where
            {ident(case_id)} is not null
            and {ident(activity)} is not null
            and {ident(timestamp)} is not null
        """
    ).to_arrow_table()
    con.unregister(src)
    ordered = order_events(table)
    longest = int(ordered.lengths.max()) if len(ordered.starts) else 0
    return EventLog(con, ordered, len(ordered.activities), longest)
