"""Lines for the demo summary: top variants with their share and the slowest edge of the map."""

from __future__ import annotations

import duckdb

MAX_STEPS = 8
_PREFIXES = ("Stage Entered: ",)
_SHORT = {"Follow-up Activity": "Follow-up"}


def abbreviate(activities: list[str], max_steps: int = MAX_STEPS) -> str:
    """Readable form of a (shortened) sequence: stage prefixes dropped, long middles elided."""
    names = [_SHORT.get(a, a) for a in activities]
    for prefix in _PREFIXES:
        names = [n.removeprefix(prefix) for n in names]
    if len(names) > max_steps:
        head, tail = max_steps // 2, max_steps // 2 - 1
        hidden = len(names) - head - tail
        names = [*names[:head], f"... {hidden} more ...", *names[-tail:]]
    return " > ".join(names)


def duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"


def _has_tables(con: duckdb.DuckDBPyConnection, *tables: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name in (select unnest(?))",
        [list(tables)],
    ).fetchone()
    return found is not None and found[0] == len(tables)


def summary_lines(con: duckdb.DuckDBPyConnection, top: int = 3) -> list[str]:
    """Top variants (shortened: immediate repeats collapsed) and the slowest DFG edge, read from
    marts.process_variants and marts.process_map_edges; [] when they are not built."""
    if not _has_tables(con, "process_variants", "process_map_edges"):
        return []
    n_variants, n_cases = con.execute(
        "select count(*), coalesce(sum(cases_count), 0) from marts.process_variants"
    ).fetchone() or (0, 0)
    rows = con.execute(
        """
        select share, shortened
        from marts.process_variants
        order by variant_rank
        limit ?
        """,
        [top],
    ).fetchall()
    covered = sum(share for share, _ in rows)
    lines = [
        f"variants     {n_variants:>8,}  top {len(rows)} cover {covered:.1%} of {n_cases:,} cases "
        "(repeats collapsed):"
    ]
    lines += [f"  {share:>6.1%}  {abbreviate(list(seq))}" for share, seq in rows]
    slowest = con.execute(
        """
        select from_activity, to_activity, wait_median_s, wait_p90_s, transitions_count
        from marts.process_map_edges
        where segment_type = 'all' and bottleneck_rank = 1
        """
    ).fetchone()
    if slowest:
        a, b, median, p90, n = slowest
        lines.append(
            f"slowest edge {abbreviate([a])} -> {abbreviate([b])}: median wait {duration(median)}"
            f", p90 {duration(p90)} ({n:,} transitions)"
        )
    return lines
