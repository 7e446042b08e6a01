"""Interop exports of the warehouse's event log: OCEL 2.0 (SQLite and JSON) for object-centric
tools and XES for case-centric ones, for all or some source systems and a time window.

    python -m l2c.export --format ocel-sqlite ocel-json xes [--system pipedrive]
                         [--since 2026-01-01] [--until 2026-04-01] --out warehouse/exports
"""

from __future__ import annotations

from pathlib import Path

from l2c.export.ocel import write_ocel_json, write_ocel_sqlite
from l2c.export.scope import ExportError, ExportScope, open_scope
from l2c.export.xes import write_xes

FORMATS: dict[str, str] = {
    "ocel-sqlite": "ocel2.sqlite",
    "ocel-json": "ocel2.json",
    "xes": "xes",
}

__all__ = ["FORMATS", "ExportError", "ExportScope", "export", "file_name"]


def file_name(fmt: str, scope: ExportScope) -> str:
    """lead2cash[-<systems>][-<since>_<until>].<extension>"""
    parts = ["lead2cash", *scope.systems]
    if scope.since or scope.until:
        since = f"{scope.since:%Y%m%d}" if scope.since else "start"
        until = f"{scope.until:%Y%m%d}" if scope.until else "end"
        parts.append(f"{since}_{until}")
    return "-".join(parts) + "." + FORMATS[fmt]


def export(
    duckdb_path: Path,
    out_dir: Path,
    formats: tuple[str, ...] = tuple(FORMATS),
    scope: ExportScope | None = None,
) -> dict[str, Path]:
    """Write the chosen formats of the scope's log into out_dir; returns format -> file.
    Raises ExportError when the warehouse lacks the marts or the scope has no event."""
    scope = scope or ExportScope()
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ExportError(
            f"unknown export format(s) {', '.join(unknown)}; known: {', '.join(FORMATS)}"
        )
    con = open_scope(duckdb_path, scope)
    try:
        events = con.execute("select count(*) from x_events").fetchone()
        if not events or not events[0]:
            raise ExportError(f"no event in the export scope ({scope.describe()})")
        writers = {"ocel-sqlite": write_ocel_sqlite, "ocel-json": write_ocel_json, "xes": write_xes}
        return {fmt: writers[fmt](con, Path(out_dir) / file_name(fmt, scope)) for fmt in formats}
    finally:
        con.close()
