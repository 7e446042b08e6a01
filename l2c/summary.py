"""A short, human-readable account of what the warehouse holds."""

from __future__ import annotations

from pathlib import Path

import duckdb

from l2c.findings import findings_lines, process_lines


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    row = con.execute(sql).fetchone()
    return None if row is None else row[0]


def summarize(duckdb_path: Path) -> str:
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        cases = _scalar(con, "select count(*) from marts.cases")
        deal_cases = _scalar(con, "select count(*) from marts.cases where case_type = 'deal'")
        events = _scalar(con, "select count(*) from marts.event_log")
        activities = _scalar(con, "select count(distinct activity) from marts.event_log")
        outcomes = dict(
            con.execute(
                "select outcome, count(*) from marts.cases where case_type = 'deal' group by 1"
            ).fetchall()
        )
        # lead-only cases end converted (to an account, without a deal), lost or open
        lead_outcomes = con.execute(
            "select outcome, count(*) from marts.cases where case_type <> 'deal' "
            "group by 1 order by 2 desc, 1"
        ).fetchall()
        invoices, linked = con.execute(
            "select count(*), count(deal_key) from marts.invoices"
        ).fetchone() or (0, 0)
        by_method = con.execute(
            "select coalesce(link_method, 'unlinked'), count(*) from marts.invoices "
            "group by 1 order by 2 desc"
        ).fetchall()
        top = con.execute(
            "select activity, count(*) as n from marts.event_log group by 1 order by 2 desc limit 5"
        ).fetchall()
        reject_schemas = [
            row[0]
            for row in con.execute(
                "select table_schema from information_schema.tables "
                "where table_schema like 'raw\\_%' escape '\\' and table_name = 'rejects' "
                "order by 1"
            ).fetchall()
        ]
        reject_rows = sum(
            int(_scalar(con, f"select count(*) from {schema}.rejects") or 0)
            for schema in reject_schemas
        )
        findings = findings_lines(con)
        process = process_lines(con)
        schemas = [
            row[0]
            for row in con.execute(
                "select distinct schema_name from information_schema.schemata "
                "where schema_name not in ('main', 'information_schema', 'pg_catalog') "
                "and catalog_name = current_database() order by 1"
            ).fetchall()
        ]
    finally:
        con.close()
    won, lost, open_ = (outcomes.get(k, 0) for k in ("won", "lost", "open"))
    closed = won + lost
    share = (linked / invoices) if invoices else 0.0
    lines = [
        "",
        "Lead-to-Cash warehouse",
        "======================",
        f"cases        {cases:>8,}  ({deal_cases:,} deals, {cases - deal_cases:,} lead-only)",  # type: ignore[operator]
        "lead-only    " + (" / ".join(f"{o} {n:,}" for o, n in lead_outcomes) or "none"),
        f"events       {events:>8,}  across {activities} activities",
        f"deals        won {won:,} / lost {lost:,} / open {open_:,}"
        + (f"  (win rate {won / closed:.1%} of closed deals)" if closed else ""),
        f"invoices     {invoices:>8,}  linked to a deal: {linked:,} ({share:.1%}): "
        + ", ".join(f"{m} {n:,}" for m, n in by_method),
        f"rejected raw rows: {reject_rows:,} (see raw_<system>.rejects)",
        "most frequent activities: " + ", ".join(f"{a} ({n:,})" for a, n in top),
        "",
        "Process",
        "-------",
        *process,
        "",
        "Findings",
        "--------",
        *findings,
        "",
        f"DuckDB file: {duckdb_path.resolve()}",
        "Query it, e.g.:",
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{duckdb_path}', "
        "read_only=True).sql('select * from marts.cases limit 5'))\"",
        f"  (schemas: {', '.join(schemas)})",
    ]
    return "\n".join(lines)
