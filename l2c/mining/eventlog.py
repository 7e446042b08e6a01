"""The prepared event log every mining function works on.

`prepare_log` takes any event relation with a case id, an activity, a timestamp and an explicit
tie-breaker column. It never trusts the input order: events are numbered per case by
(timestamp in UTC, tie-breaker, activity) in one window pass, which also yields each event's
successor (the directly-follows relation). Activities are stored as integer codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from l2c.mining._sql import Source, ident, register, temp_table

# Column types accepted for the timestamp and how each becomes UTC epoch microseconds.
# A timestamptz is an instant: epoch_us() of it does not depend on the session time zone.
# A timestamp without zone is taken to be UTC already (the warehouse convention).
_INSTANT_TYPES = ("TIMESTAMP WITH TIME ZONE",)
_NAIVE_TYPES = ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE")


@dataclass(frozen=True)
class EventLog:
    """A case-ordered event log held in temporary tables of `con`.

    events: case_id varchar, seq bigint (1..n per case), act integer (activity code),
        ts bigint (UTC epoch microseconds), next_act / next_ts (the next event of the case,
        null for the last one).
    activities: act integer, activity varchar (codes in activity-name order, from 0).
    activity_count / longest_case: number of activities, events of the longest case.
    """

    con: duckdb.DuckDBPyConnection
    events: str
    activities: str
    activity_count: int
    longest_case: int

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
    activities = temp_table(
        con,
        "activities",
        f"""
        select
            activity,
            cast(row_number() over (order by activity) - 1 as integer) as act
        from (
            select distinct cast({ident(activity)} as varchar) as activity
            from {src}
            where {ident(activity)} is not null
        )
        """,
    )
    events = temp_table(
        con,
        "events",
        f"""
        with source_events as (
            select
                cast(s.{ident(case_id)} as varchar) as case_id,
                a.act,
                {ts_expr} as ts,
                s.{ident(order)} as tie
            from {src} as s
            inner join {activities} as a
                on cast(s.{ident(activity)} as varchar) = a.activity
            where s.{ident(case_id)} is not null and s.{ident(timestamp)} is not null
        )

        select
            case_id,
            row_number() over w as seq,
            act,
            ts,
            lead(act) over w as next_act,
            lead(ts) over w as next_ts
        from source_events
        window w as (partition by case_id order by ts, tie nulls last, act)
        """,
    )
    con.unregister(src)
    counts = con.sql(
        f"select (select count(*) from {activities}), (select max(seq) from {events})"
    ).fetchone()
    assert counts is not None
    return EventLog(con, events, activities, int(counts[0]), int(counts[1] or 0))
