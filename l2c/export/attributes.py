"""The attributes an export gives events and objects, and the queries that read them from the
marts for the objects of a scope (l2c.export.scope's temporary tables)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb

from l2c.export.scope import OBJECT_TYPES

# OCEL 2.0 attribute types used here: string, float, boolean, time
Kind = str


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: Kind


EVENT_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("case_id", "string"),
    Attribute("resource", "string"),
    Attribute("source_system", "string"),
    Attribute("is_automated", "boolean"),
    Attribute("amount", "float"),
    Attribute("currency", "string"),
    Attribute("amount_reporting", "float"),
)

# ordered by event time, then the log's own per-case order (event_order), then id
EVENTS_SQL = """
    select event_id, activity, event_at, case_id, resource, source_system, is_automated,
        amount, currency, amount_reporting
    from x_events
    order by event_at, case_id, event_order, event_id
"""

_AMOUNTS = (
    Attribute("source_system", "string"),
    Attribute("amount", "float"),
    Attribute("currency", "string"),
)

# per object type: its attributes and a query giving ocel_id + those columns for the scope's
# objects of that type (every object of the type gets exactly one row)
OBJECT_ATTRIBUTES: dict[str, tuple[tuple[Attribute, ...], str]] = {
    "account": (
        (Attribute("source_system", "string"),),
        "select o.ocel_id, o.source_system from x_objects as o where o.object_type = 'account'",
    ),
    "lead": (
        (
            Attribute("source_system", "string"),
            Attribute("title", "string"),
            Attribute("status", "string"),
        ),
        """
        select
            o.ocel_id,
            o.source_system,
            c.title,
            case
                when o.object_id in (
                    select from_object_id from wh.marts.object_relations
                    where relation = 'converted_to'
                ) then 'converted'
                when c.outcome = 'lost' then 'disqualified'
                else 'open'
            end as status
        from x_objects as o
        left join wh.marts.cases as c
            on c.case_type = 'lead' and c.lead_key = o.object_id
        where o.object_type = 'lead'
        """,
    ),
    "deal": (
        (
            Attribute("source_system", "string"),
            Attribute("title", "string"),
            Attribute("pipeline", "string"),
            Attribute("region", "string"),
            Attribute("owner", "string"),
            Attribute("current_stage", "string"),
            Attribute("outcome", "string"),
            Attribute("deal_value", "float"),
            Attribute("currency", "string"),
            Attribute("deal_value_reporting", "float"),
            Attribute("discount_pct", "float"),
        ),
        """
        select
            o.ocel_id, coalesce(c.source_system, o.source_system), c.title, c.pipeline,
            c.region, c.owner_name, c.current_stage, c.outcome, c.deal_value, c.currency,
            c.deal_value_reporting, c.discount_pct
        from x_objects as o
        left join wh.marts.cases as c
            on c.case_type = 'deal' and c.deal_key = o.object_id
        where o.object_type = 'deal'
        """,
    ),
    "invoice": (
        (
            Attribute("source_system", "string"),
            Attribute("invoice_number", "string"),
            Attribute("status", "string"),
            Attribute("total", "float"),
            Attribute("amount_paid", "float"),
            Attribute("currency", "string"),
            Attribute("due_at", "time"),
            Attribute("link_method", "string"),
        ),
        """
        select
            o.ocel_id, coalesce(i.source_system, o.source_system), i.invoice_number, i.status,
            i.total, i.amount_paid, i.currency, i.due_at, i.link_method
        from x_objects as o
        left join wh.marts.invoices as i on i.invoice_key = o.object_id
        where o.object_type = 'invoice'
        """,
    ),
}

# quotes, follow-up activities, orders and payments: the amount of their first event with one
_FIRST_AMOUNT_SQL = """
    with amounts as (
        select object_id, amount, currency
        from wh.marts.event_log
        where object_type = $object_type and amount is not null
        qualify row_number() over (
            partition by object_id order by event_at, event_order, event_id
        ) = 1
    )
    select o.ocel_id, o.source_system, a.amount, a.currency
    from x_objects as o
    left join amounts as a on a.object_id = o.object_id
    where o.object_type = $object_type
"""


def object_attributes(object_type: str) -> tuple[Attribute, ...]:
    return OBJECT_ATTRIBUTES.get(object_type, (_AMOUNTS, ""))[0]


def object_rows(con: duckdb.DuckDBPyConnection, object_type: str) -> list[tuple[Any, ...]]:
    """ocel_id and the attribute values of the scope's objects of one type, by ocel_id."""
    if object_type in OBJECT_ATTRIBUTES:
        sql = OBJECT_ATTRIBUTES[object_type][1]
        rows = con.execute(f"select * from ({sql}) order by 1").fetchall()
    else:
        rows = con.execute(
            f"select * from ({_FIRST_AMOUNT_SQL}) order by 1", {"object_type": object_type}
        ).fetchall()
    return rows


def object_types_in_scope(con: duckdb.DuckDBPyConnection) -> list[str]:
    present = {r[0] for r in con.execute("select distinct object_type from x_objects").fetchall()}
    return [t for t in OBJECT_TYPES if t in present]


def event_types_in_scope(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select activity from x_events group by activity order by min(event_at), activity"
        ).fetchall()
    ]


def batches(
    con: duckdb.DuckDBPyConnection, sql: str, size: int = 50_000
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of a query in batches (large logs are not held in Python at once)."""
    cursor = con.execute(sql)
    while rows := cursor.fetchmany(size):
        yield rows
