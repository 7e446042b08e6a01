"""What an export holds: the events, cases, objects and relations of the warehouse's marts for
a chosen set of source systems and time window, as temporary DuckDB tables that every export
format reads.

The scope, from the marts:

- cases: marts.cases of the chosen source systems (all when none is chosen);
- events: marts.event_log rows of those cases with since <= event_at < until;
- objects: each event's own object, the case object of each case with an event in scope (its
  deal, or its lead for a lead-only case), and every object one relation (marts.object_relations)
  away from those (so a deal's account and an invoice without events come along);
- event-to-object: each event to its own object (qualifier = the object type) and to its case
  object (qualifier 'case') when that is another object;
- object-to-object: the relations whose both ends are objects of the export (qualifier = the
  relation name, e.g. converted_to, billed_by).

Object ids are the warehouse keys prefixed by the object type ('deal:pipedrive:5'): the keys
are unique per type only, and OCEL needs ids unique across types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

# Every object type the warehouse knows, in the order exports list them.
OBJECT_TYPES: tuple[str, ...] = (
    "account",
    "lead",
    "deal",
    "quote",
    "activity",
    "order",
    "invoice",
    "payment",
    "subscription",
    "refund",
    "credit_note",
    "dispute",
)


class ExportError(RuntimeError):
    """The warehouse cannot be exported as asked (missing marts, unknown system, empty scope)."""


@dataclass(frozen=True)
class ExportScope:
    """Which part of the log to export: source systems of the cases (empty = all) and the
    half-open window since <= event_at < until (None = unbounded)."""

    systems: tuple[str, ...] = field(default_factory=tuple)
    since: datetime | None = None
    until: datetime | None = None

    def describe(self) -> str:
        systems = ", ".join(self.systems) if self.systems else "all source systems"
        since = f"{self.since:%Y-%m-%d %H:%M}" if self.since else "the first event"
        until = f"{self.until:%Y-%m-%d %H:%M}" if self.until else "the last event"
        return f"{systems}, events from {since} to {until}"


REQUIRED_MARTS = ("event_log", "cases", "object_relations", "invoices")


def open_scope(duckdb_path: Path, scope: ExportScope) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the warehouse attached read-only as `wh` and the
    scope's temporary tables x_cases, x_events, x_objects, x_e2o and x_o2o."""
    if not Path(duckdb_path).exists():
        raise ExportError(f"no warehouse at {duckdb_path}: run the build (make demo) first")
    con = duckdb.connect()
    path = str(Path(duckdb_path).resolve()).replace("'", "''")
    con.execute(f"attach '{path}' as wh (read_only)")
    present = {
        row[0]
        for row in con.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = 'wh' and table_schema = 'marts'"
        ).fetchall()
    }
    missing = [m for m in REQUIRED_MARTS if m not in present]
    if missing:
        con.close()
        raise ExportError(f"{duckdb_path}: marts {', '.join(missing)} missing; run dbt build first")
    if scope.systems:
        known = {
            row[0]
            for row in con.execute("select distinct source_system from wh.marts.cases").fetchall()
        }
        unknown = sorted(set(scope.systems) - known)
        if unknown:
            con.close()
            raise ExportError(
                f"source system(s) {', '.join(unknown)} have no cases in {duckdb_path} "
                f"(known: {', '.join(sorted(known))})"
            )
    _create_scope_tables(con, scope)
    return con


def _create_scope_tables(con: duckdb.DuckDBPyConnection, scope: ExportScope) -> None:
    systems = list(scope.systems)
    con.execute(
        "create temp table x_cases as select * from wh.marts.cases "
        "where len($systems) = 0 or list_contains($systems, source_system)",
        {"systems": systems},
    )
    con.execute(
        """
        create temp table x_events as
        select e.*
        from wh.marts.event_log as e
        semi join x_cases as c on e.case_id = c.case_id
        where ($since is null or e.event_at >= $since)
          and ($until is null or e.event_at < $until)
        """,
        {"since": scope.since, "until": scope.until},
    )
    # the case object: a deal case is its deal, a lead-only case its lead
    con.execute(
        """
        create temp table x_case_objects as
        select
            c.case_id,
            c.case_type as object_type,
            case when c.case_type = 'deal' then c.deal_key else c.lead_key end as object_id
        from x_cases as c
        where c.case_id in (select case_id from x_events)
        """
    )
    con.execute(
        """
        create temp table x_e2o as
        with own as (
            select event_id, object_type, object_id, object_type as qualifier from x_events
        ),
        of_case as (
            select e.event_id, co.object_type, co.object_id, 'case' as qualifier
            from x_events as e
            inner join x_case_objects as co on e.case_id = co.case_id
        ),
        both_kinds as (
            select *, 0 as preference from own
            union all
            select *, 1 as preference from of_case
        )
        select event_id, object_type, object_id, qualifier
        from both_kinds
        qualify row_number() over (
            partition by event_id, object_type, object_id order by preference
        ) = 1
        """
    )
    con.execute(
        """
        create temp table x_base_objects as
        select distinct object_type, object_id from x_e2o
        union
        select object_type, object_id from x_case_objects
        """
    )
    con.execute(
        """
        create temp table x_objects as
        with neighbours as (
            select r.to_object_type as object_type, r.to_object_id as object_id, r.source_system
            from wh.marts.object_relations as r
            semi join x_base_objects as b
                on r.from_object_type = b.object_type and r.from_object_id = b.object_id
            union all
            select r.from_object_type, r.from_object_id, r.source_system
            from wh.marts.object_relations as r
            semi join x_base_objects as b
                on r.to_object_type = b.object_type and r.to_object_id = b.object_id
        ),
        event_systems as (
            select object_type, object_id, min(source_system) as source_system
            from x_events
            group by all
        ),
        all_objects as (
            select object_type, object_id from x_base_objects
            union
            select object_type, object_id from neighbours
        )
        select
            a.object_type,
            a.object_id,
            a.object_type || ':' || a.object_id as ocel_id,
            coalesce(
                s.source_system,
                (select min(n.source_system) from neighbours as n
                 where n.object_type = a.object_type and n.object_id = a.object_id)
            ) as source_system
        from all_objects as a
        left join event_systems as s
            on a.object_type = s.object_type and a.object_id = s.object_id
        """
    )
    con.execute(
        """
        create temp table x_o2o as
        select distinct
            r.from_object_type || ':' || r.from_object_id as source_ocel_id,
            r.to_object_type || ':' || r.to_object_id as target_ocel_id,
            r.relation as qualifier
        from wh.marts.object_relations as r
        semi join x_objects as f
            on r.from_object_type = f.object_type and r.from_object_id = f.object_id
        semi join x_objects as t
            on r.to_object_type = t.object_type and r.to_object_id = t.object_id
        """
    )
    unknown = con.execute(
        "select distinct object_type from x_objects where not list_contains($types, object_type)",
        {"types": list(OBJECT_TYPES)},
    ).fetchall()
    if unknown:
        raise ExportError(
            "object types the exports do not know: " + ", ".join(str(r[0]) for r in unknown)
        )
