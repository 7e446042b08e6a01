"""Plain-words findings for the demo summary, one module per mart area."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import duckdb

Finder = Callable[[duckdb.DuckDBPyConnection], list[str]]


def _finders() -> list[tuple[str, Finder]]:
    from l2c.findings.process import findings as process
    from l2c.findings.revenue import findings as revenue
    from l2c.findings.sales import findings as sales

    return [("sales", sales), ("revenue", revenue), ("process", process)]


def process_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Top variants and the slowest edge of the process map (l2c.mining.summary)."""
    from l2c.mining.summary import summary_lines

    try:
        return summary_lines(con)
    except duckdb.Error as exc:
        return [f"(process-mining summary unavailable: {str(exc).splitlines()[0]})"]


def findings_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Each area's findings as wrapped bullet lines. An area whose marts are missing says so
    instead of failing the summary."""
    lines: list[str] = []
    for area, finder in _finders():
        try:
            sentences = finder(con)
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0]
            sentences = [f"({area} findings unavailable: {first})"]
        for sentence in sentences:
            lines += textwrap.wrap(sentence, width=96, initial_indent="- ", subsequent_indent="  ")
    return lines
