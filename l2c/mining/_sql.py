"""Small SQL helpers shared by the mining modules: temporary names, quoting, registration."""

from __future__ import annotations

import uuid
from typing import TypeAlias

import duckdb
import pyarrow as pa

# What the public functions accept as a table: a DuckDB relation of the same connection, or an
# Arrow table (registered on the connection as a temporary view).
Source: TypeAlias = duckdb.DuckDBPyRelation | pa.Table


def temp_name(kind: str) -> str:
    """A fresh name for a temporary table or view of this connection."""
    return f"_l2c_pm_{kind}_{uuid.uuid4().hex[:12]}"


def ident(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def register(con: duckdb.DuckDBPyConnection, source: Source) -> str:
    """Register a relation or Arrow table as a temporary view and return its name.

    `con.register` creates a temporary view; `DuckDBPyRelation.create_view` would persist a view
    in the database file, which a dbt build must not leave behind.
    """
    name = temp_name("src")
    if isinstance(source, pa.Table):
        source = _batched(source)
    con.register(name, source)
    return name


# DuckDB's row-group size: it scans an Arrow table one batch per thread at a time.
_BATCH_ROWS = 122_880


def _batched(table: pa.Table) -> pa.Table:
    """The table in batches of at most _BATCH_ROWS rows (zero-copy slices). An Arrow array of
    1.43M case ids is one batch, which DuckDB scans on one thread: a join against it took two
    to three times the CPU it takes in batches."""
    if all(len(batch) <= _BATCH_ROWS for batch in table.to_batches()):
        return table
    return pa.Table.from_batches(table.to_batches(max_chunksize=_BATCH_ROWS), table.schema)


def arrow_temp_table(con: duckdb.DuckDBPyConnection, kind: str, table: pa.Table) -> str:
    """Copy an Arrow table into a temporary table and return its name. Joined to millions of
    rows, a registered Arrow table costs far more than a table (at 11.4M events, 2.4 CPU s
    against 1.1 for the join to 21 activity codes)."""
    view = register(con, table)
    try:
        return temp_table(con, kind, f"select * from {view}")
    finally:
        con.unregister(view)


def temp_table(con: duckdb.DuckDBPyConnection, kind: str, query: str) -> str:
    """Materialise a query as a temporary table (private to this connection) and return its name."""
    name = temp_name(kind)
    con.execute(f"create temp table {name} as {query}")
    return name
