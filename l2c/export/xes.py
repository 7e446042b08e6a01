"""XES (IEEE 1849) export of a scope's case-centric log (l2c.export.scope): one trace per case,
its events in the log's order (event_at, then event_log.event_order), for Disco, ProM, Celonis,
pm4py and other case-centric tools. Written with the standard library's ElementTree."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from l2c.export.attributes import batches

EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
)

TRACE_ATTRIBUTES = (
    ("case_type", "string"),
    ("source_system", "string"),
    ("outcome", "string"),
    ("region", "string"),
    ("pipeline", "string"),
    ("deal_value_reporting", "float"),
)
EVENT_ATTRIBUTES = (
    ("org:resource", "string"),
    ("event_id", "string"),
    ("object_type", "string"),
    ("object_id", "string"),
    ("source_system", "string"),
    ("amount", "float"),
    ("currency", "string"),
    ("amount_reporting", "float"),
)

_TRACES_SQL = """
    select c.case_id, c.case_type, c.source_system, c.outcome, c.region, c.pipeline,
        c.deal_value_reporting
    from x_cases as c
    inner join (
        select case_id, min(event_at) as first_at from x_events group by case_id
    ) as f on c.case_id = f.case_id
    order by f.first_at, c.case_id
"""
_EVENTS_SQL = """
    select case_id, activity, event_at, resource, event_id, object_type, object_id,
        source_system, amount, currency, amount_reporting
    from x_events
    order by case_id, event_at, event_order
"""


def xes_time(value: datetime) -> str:
    # the marts hold naive UTC timestamps
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"


def _attribute(parent: ET.Element, kind: str, key: str, value: Any) -> None:
    if value is None:
        return
    if kind == "float":
        text = repr(float(value))
    elif kind == "date":
        text = xes_time(value)
    else:
        text = str(value)
    ET.SubElement(parent, kind, key=key, value=text)


def write_xes(con: duckdb.DuckDBPyConnection, path: Path, log_name: str = "Lead-to-Cash") -> Path:
    """The scope of `con` as an XES file at `path`; traces in the order of their first event."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    log = ET.Element(
        "log",
        {
            "xes.version": "1849-2016",
            "xes.features": "nested-attributes",
            "xmlns": "http://www.xes-standard.org/",
        },
    )
    for name, prefix, uri in EXTENSIONS:
        ET.SubElement(log, "extension", name=name, prefix=prefix, uri=uri)
    trace_global = ET.SubElement(log, "global", scope="trace")
    _attribute(trace_global, "string", "concept:name", "__INVALID__")
    event_global = ET.SubElement(log, "global", scope="event")
    _attribute(event_global, "string", "concept:name", "__INVALID__")
    _attribute(event_global, "date", "time:timestamp", datetime(1970, 1, 1))
    _attribute(event_global, "string", "lifecycle:transition", "complete")
    ET.SubElement(log, "classifier", name="Activity", keys="concept:name")
    _attribute(log, "string", "concept:name", log_name)

    traces: dict[str, ET.Element] = {}
    for rows in batches(con, _TRACES_SQL):
        for case_id, *values in rows:
            trace = ET.SubElement(log, "trace")
            _attribute(trace, "string", "concept:name", case_id)
            for (key, kind), value in zip(TRACE_ATTRIBUTES, values, strict=True):
                _attribute(trace, kind, key, value)
            traces[case_id] = trace
    for rows in batches(con, _EVENTS_SQL):
        for case_id, activity, event_at, *values in rows:
            event = ET.SubElement(traces[case_id], "event")
            _attribute(event, "string", "concept:name", activity)
            _attribute(event, "date", "time:timestamp", event_at)
            _attribute(event, "string", "lifecycle:transition", "complete")
            for (key, kind), value in zip(EVENT_ATTRIBUTES, values, strict=True):
                _attribute(event, kind, key, value)
    tree = ET.ElementTree(log)
    ET.indent(tree, space=" ")
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
