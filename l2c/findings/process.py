"""Process findings for the demo summary: how many cases follow the ideal path, and which of
its steps a source system cannot observe (never counted as deviations).

Reads marts.conformance_summary of a built warehouse; an empty mart gives no sentence.
"""

from __future__ import annotations

import duckdb

KINDS = {
    "cases_with_skipped": "skipped a required step",
    "cases_with_extra": "did a step not on the path",
    "cases_with_out_of_order": "did steps out of order",
    "cases_with_repeated": "repeated a step",
}


def _title(system: str) -> str:
    from pipelines.manifest import systems

    known = systems().get(system)
    return f"{known.title} ({system})" if known and known.title != "file drop" else system


def _conformance(con: duckdb.DuckDBPyConnection) -> str | None:
    cursor = con.execute(
        "select cases_count, fitting_cases, "
        + ", ".join(KINDS)
        + " from marts.conformance_summary where dimension = 'all'"
    )
    row = cursor.fetchone()
    if row is None or not row[0]:
        return None
    cases, fitting, *counts = row
    kind, most = max(zip(KINDS.values(), counts, strict=True), key=lambda kv: kv[1])
    sentence = f"{fitting:,} of {cases:,} cases ({fitting / cases:.1%}) follow the ideal path"
    if most:
        sentence += f"; the most common deviation: {most:,} cases {kind}"
    return sentence + "."


def _not_observable(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select dimension_value, cases_with_unobservable_steps, unobservable_steps "
        "from marts.conformance_summary "
        "where dimension = 'source_system' and unobservable_steps is not null "
        "order by dimension_value"
    ).fetchall()
    return [
        f"Not observable in {_title(system)}: {steps}. These steps are never counted as "
        f"skipped or extra for its {cases:,} cases."
        for system, cases, steps in rows
    ]


def findings(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Plain-words conformance findings (empty marts give no sentence)."""
    found = [_conformance(con), *_not_observable(con)]
    return [sentence for sentence in found if sentence]
