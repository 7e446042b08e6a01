"""OCEL 2.0 exports of a scope (l2c.export.scope): the relational SQLite form and the JSON form
of the OCEL 2.0 specification (ocel-standard.org), read by pm4py, OCPA, Celonis and others.

Object attribute values carry the time 1970-01-01T00:00:00Z, the specification's time of an
initial value: the marts hold each object's current state, not its history of changes.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from l2c.export.attributes import (
    EVENT_ATTRIBUTES,
    EVENTS_SQL,
    Attribute,
    batches,
    event_types_in_scope,
    object_attributes,
    object_rows,
    object_types_in_scope,
)

INITIAL_TIME = datetime(1970, 1, 1)

_SQLITE_TYPES = {"string": "TEXT", "float": "REAL", "boolean": "INTEGER", "time": "TIMESTAMP"}


def type_map_names(types: list[str]) -> dict[str, str]:
    """A table-name-safe, unique name per type ('Stage Entered: Demo' -> 'StageEnteredDemo')."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for type_ in types:
        base = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", type_))
        name, n = base or "Type", 2
        while name.lower() in used:
            name, n = f"{base}{n}", n + 1
        used.add(name.lower())
        names[type_] = name
    return names


def _sqlite_time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(sep=" ")


def _sqlite_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "time":
        return _sqlite_time(value)
    if kind == "boolean":
        return int(bool(value))
    return value


def _columns(attributes: tuple[Attribute, ...]) -> str:
    return "".join(f', "{a.name}" {_SQLITE_TYPES[a.kind]}' for a in attributes)


def write_ocel_sqlite(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """The scope of `con` as an OCEL 2.0 SQLite database at `path` (replaced if present)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    event_types = event_types_in_scope(con)
    object_types = object_types_in_scope(con)
    event_maps = type_map_names(event_types)
    object_maps = type_map_names(object_types)
    db = sqlite3.connect(path)
    try:
        db.executescript(
            """
            PRAGMA foreign_keys = ON;
            CREATE TABLE event_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT);
            CREATE TABLE object_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT);
            CREATE TABLE event (
                ocel_id TEXT PRIMARY KEY,
                ocel_type TEXT REFERENCES event_map_type (ocel_type)
            );
            CREATE TABLE object (
                ocel_id TEXT PRIMARY KEY,
                ocel_type TEXT REFERENCES object_map_type (ocel_type)
            );
            CREATE TABLE event_object (
                ocel_event_id TEXT REFERENCES event (ocel_id),
                ocel_object_id TEXT REFERENCES object (ocel_id),
                ocel_qualifier TEXT,
                PRIMARY KEY (ocel_event_id, ocel_object_id, ocel_qualifier)
            );
            CREATE TABLE object_object (
                ocel_source_id TEXT REFERENCES object (ocel_id),
                ocel_target_id TEXT REFERENCES object (ocel_id),
                ocel_qualifier TEXT,
                PRIMARY KEY (ocel_source_id, ocel_target_id, ocel_qualifier)
            );
            """
        )
        db.executemany("INSERT INTO event_map_type VALUES (?, ?)", list(event_maps.items()))
        db.executemany("INSERT INTO object_map_type VALUES (?, ?)", list(object_maps.items()))
        for name in event_maps.values():
            db.execute(
                f'CREATE TABLE "event_{name}" (ocel_id TEXT PRIMARY KEY '
                f"REFERENCES event (ocel_id), ocel_time TIMESTAMP{_columns(EVENT_ATTRIBUTES)})"
            )
        for type_, name in object_maps.items():
            db.execute(
                f'CREATE TABLE "object_{name}" (ocel_id TEXT REFERENCES object (ocel_id), '
                f"ocel_time TIMESTAMP, ocel_changed_field TEXT"
                f"{_columns(object_attributes(type_))})"
            )
        _insert_events(con, db, event_maps)
        _insert_objects(con, db, object_maps)
        for rows in batches(
            con,
            "select e.event_id, o.ocel_id, e.qualifier from x_e2o as e "
            "inner join x_objects as o using (object_type, object_id) order by 1, 2",
        ):
            db.executemany("INSERT INTO event_object VALUES (?, ?, ?)", rows)
        for rows in batches(con, "select * from x_o2o order by all"):
            db.executemany("INSERT INTO object_object VALUES (?, ?, ?)", rows)
        db.commit()
    finally:
        db.close()
    return path


def _insert_events(
    con: duckdb.DuckDBPyConnection, db: sqlite3.Connection, maps: dict[str, str]
) -> None:
    kinds = [a.kind for a in EVENT_ATTRIBUTES]
    marks = ", ".join("?" * (len(kinds) + 2))
    for rows in batches(con, EVENTS_SQL):
        db.executemany("INSERT INTO event VALUES (?, ?)", [(r[0], r[1]) for r in rows])
        by_type: dict[str, list[tuple[Any, ...]]] = {}
        for r in rows:
            values = [_sqlite_value(v, k) for v, k in zip(r[3:], kinds, strict=True)]
            by_type.setdefault(r[1], []).append((r[0], _sqlite_time(r[2]), *values))
        for type_, typed in by_type.items():
            db.executemany(f'INSERT INTO "event_{maps[type_]}" VALUES ({marks})', typed)


def _insert_objects(
    con: duckdb.DuckDBPyConnection, db: sqlite3.Connection, maps: dict[str, str]
) -> None:
    for type_, name in maps.items():
        kinds = [a.kind for a in object_attributes(type_)]
        rows = object_rows(con, type_)
        db.executemany("INSERT INTO object VALUES (?, ?)", [(r[0], type_) for r in rows])
        marks = ", ".join("?" * (len(kinds) + 3))
        db.executemany(
            f'INSERT INTO "object_{name}" VALUES ({marks})',
            [
                (
                    r[0],
                    _sqlite_time(INITIAL_TIME),
                    None,
                    *(_sqlite_value(v, k) for v, k in zip(r[1:], kinds, strict=True)),
                )
                for r in rows
            ],
        )


def _json_time(value: datetime) -> str:
    # the marts hold naive UTC timestamps
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _json_value(value: Any, kind: str) -> Any:
    return _json_time(value) if kind == "time" else value


def _type_entries(types: list[str], attrs_of: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": type_,
            "attributes": [{"name": a.name, "type": a.kind} for a in attrs_of(type_)],
        }
        for type_ in types
    ]


def write_ocel_json(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """The scope of `con` as an OCEL 2.0 JSON file at `path`. Null attribute values are left
    out of an event's or object's attribute list."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    object_types = object_types_in_scope(con)
    relationships: dict[str, list[dict[str, str]]] = {}
    for source, target, qualifier in con.execute("select * from x_o2o order by all").fetchall():
        relationships.setdefault(source, []).append({"objectId": target, "qualifier": qualifier})
    objects: list[dict[str, Any]] = []
    initial = _json_time(INITIAL_TIME)
    for type_ in object_types:
        attributes = object_attributes(type_)
        for row in object_rows(con, type_):
            objects.append(
                {
                    "id": row[0],
                    "type": type_,
                    "attributes": [
                        {"name": a.name, "time": initial, "value": _json_value(v, a.kind)}
                        for a, v in zip(attributes, row[1:], strict=True)
                        if v is not None
                    ],
                    "relationships": relationships.get(row[0], []),
                }
            )
    e2o: dict[str, list[dict[str, str]]] = {}
    for event_id, ocel_id, qualifier in con.execute(
        "select e.event_id, o.ocel_id, e.qualifier from x_e2o as e "
        "inner join x_objects as o using (object_type, object_id) order by 1, 2"
    ).fetchall():
        e2o.setdefault(event_id, []).append({"objectId": ocel_id, "qualifier": qualifier})
    events = [
        {
            "id": r[0],
            "type": r[1],
            "time": _json_time(r[2]),
            "attributes": [
                {"name": a.name, "value": _json_value(v, a.kind)}
                for a, v in zip(EVENT_ATTRIBUTES, r[3:], strict=True)
                if v is not None
            ],
            "relationships": e2o.get(r[0], []),
        }
        for rows in batches(con, EVENTS_SQL)
        for r in rows
    ]
    document = {
        "objectTypes": _type_entries(object_types, object_attributes),
        "eventTypes": _type_entries(event_types_in_scope(con), lambda _t: EVENT_ATTRIBUTES),
        "objects": objects,
        "events": events,
    }
    with path.open("w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False)
    return path
