"""Publish what BI tools read, after a run whose every step passed.

The refresh builds in its working DuckDB file, which dlt and dbt lock while they write. BI tools
read served copies instead, which a run replaces whole, never in place:

- `<serve dir>/lead2cash.duckdb`: every table of the `marts` schema and the run log
  (`ops.run_log`), written to a new file beside the served one and swapped in with a rename.
  A reader connected to the old file keeps reading that file (a consistent old snapshot); a new
  connection opens the new one.
- `<serve dir>/parquet/<mart>.parquet`: one Parquet file per mart. `parquet` is a symlink to the
  folder of one publish (`parquet.<run id>`), switched with a rename; the folder before it stays
  for readers still in it, older ones are removed.
- optionally PostgreSQL (`--postgres DSN`): the marts and the run log written to a new schema and
  renamed to `marts` in the same transaction, so a Postgres reader sees the old marts or the new
  ones. The schema the rename replaced stays as `marts__previous` until the next publish.

Every copy is prepared first; the switches come last (Postgres commit, then the two renames), so
a publish that fails leaves every served copy as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

SERVED_FILE = "lead2cash.duckdb"
PUBLISHED_SCHEMAS = ("marts", "ops")
PG_NEW = "marts__new"
PG_PREVIOUS = "marts__previous"


class PublishError(RuntimeError):
    """A served copy could not be prepared or switched; what BI reads is unchanged."""


@dataclass(frozen=True)
class PublishTargets:
    serve_dir: Path
    postgres_dsn: str | None = None


@dataclass
class Published:
    duckdb_file: Path
    parquet_dir: Path
    tables: dict[str, int] = field(default_factory=dict)  # schema.table -> rows
    postgres: bool = False


def served_file(serve_dir: Path) -> Path:
    return serve_dir / SERVED_FILE


def _tables(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> list[tuple[str, str]]:
    """(schema, table) of the published schemas in `catalog` (default: the connection's)."""
    schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
    return [
        (schema, table)
        for schema, table in con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = coalesce(?, current_database()) "
            f"and schema_name in ({schemas}) order by 1, 2",
            [catalog],
        ).fetchall()
    ]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prepare_duckdb(working: Path, new_file: Path, run_id: str) -> dict[str, int]:
    """Copy the published schemas of the working warehouse into a new DuckDB file."""
    new_file.unlink(missing_ok=True)
    con = duckdb.connect(str(new_file))
    try:
        con.execute(f"attach '{working}' as working (read_only)")
        tables = _tables(con, "working")
        if not any(schema == "marts" for schema, _ in tables):
            raise PublishError(f"{working} has no marts to publish")
        counts: dict[str, int] = {}
        for schema in sorted({s for s, _ in tables}):
            con.execute(f'create schema if not exists "{schema}"')
        for schema, table in tables:
            con.execute(f'create table "{schema}"."{table}" as from working."{schema}"."{table}"')
            row = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            counts[f"{schema}.{table}"] = int(row[0]) if row else 0
        con.execute("detach working")
        if ("ops", "run_log") in tables:  # the publishing run is a success where it is served
            con.execute(
                "update ops.run_log set outcome = 'success', failed_step = null where run_id = ?",
                [run_id],
            )
        con.execute("checkpoint")
    finally:
        con.close()
    with new_file.open("rb") as handle:
        os.fsync(handle.fileno())
    return counts


def _prepare_parquet(new_file: Path, folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    con = duckdb.connect(str(new_file), read_only=True)
    try:
        for schema, table in _tables(con):
            if schema == "marts":
                target = folder / f"{table}.parquet"
                con.execute(f"copy marts.\"{table}\" to '{target}' (format parquet)")
    finally:
        con.close()


# DuckDB type (as information_schema names it) -> PostgreSQL type; anything else (lists,
# structs, maps) travels as JSON
_PG_TYPES = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "INTERVAL": "interval",
    "UUID": "uuid",
}


def _pg_column(name: str, duck_type: str) -> tuple[str, str]:
    """(PostgreSQL column type, DuckDB select expression) of one column."""
    quoted = f'"{name}"'
    if duck_type in _PG_TYPES:
        return _PG_TYPES[duck_type], quoted
    if duck_type.startswith("DECIMAL"):
        return duck_type.replace("DECIMAL", "numeric"), quoted
    return "jsonb", f"to_json({quoted})::varchar as {quoted}"


def _prepare_postgres(new_file: Path, dsn: str, scratch: Path) -> Any:
    """Write the published tables into a new schema in an open transaction; returns the
    connection, whose commit switches the schema in."""
    import psycopg  # only when a Postgres target is configured

    source = duckdb.connect(str(new_file), read_only=True)
    try:
        pg = psycopg.connect(dsn, autocommit=False)
    except psycopg.Error as exc:
        source.close()
        raise PublishError(f"PostgreSQL: cannot connect ({exc})") from exc
    try:
        with pg.cursor() as cur:
            cur.execute(f"drop schema if exists {PG_NEW} cascade")
            cur.execute(f"create schema {PG_NEW}")
            for schema, table in _tables(source):
                columns = source.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                pg_table = table if schema == "marts" else f"{schema}__{table}"
                typed = [(name, *_pg_column(name, str(kind))) for name, kind in columns]
                ddl = ", ".join(f'"{name}" {pg_type}' for name, pg_type, _ in typed)
                cur.execute(f'create table {PG_NEW}."{pg_table}" ({ddl})')
                # DuckDB writes CSV fast and Postgres reads it with COPY: empty = NULL,
                # "" = empty string, in both
                csv_file = scratch / f"{pg_table}.csv"
                select = ", ".join(expr for _, _, expr in typed)
                source.execute(
                    f'copy (select {select} from "{schema}"."{table}") to \'{csv_file}\' '
                    "(format csv, header false)"
                )
                copy_sql = f'copy {PG_NEW}."{pg_table}" from stdin (format csv)'
                with cur.copy(copy_sql) as copy, csv_file.open("rb") as handle:
                    while chunk := handle.read(1 << 20):
                        copy.write(chunk)
                csv_file.unlink()
            cur.execute(f"drop schema if exists {PG_PREVIOUS} cascade")
            cur.execute("select 1 from pg_namespace where nspname = 'marts'")
            if cur.fetchone():
                cur.execute(f"alter schema marts rename to {PG_PREVIOUS}")
            cur.execute(f"alter schema {PG_NEW} rename to marts")
    except Exception as exc:
        pg.rollback()
        pg.close()
        raise PublishError(f"PostgreSQL: writing the new marts failed ({exc})") from exc
    finally:
        source.close()
    return pg


def _switch_parquet(serve_dir: Path, folder: Path) -> None:
    link = serve_dir / "parquet"
    previous = os.readlink(link) if link.is_symlink() else None
    new_link = serve_dir / f".parquet.{os.getpid()}.link"
    new_link.unlink(missing_ok=True)
    os.symlink(folder.name, new_link)
    os.replace(new_link, link)
    keep = {folder.name, previous}
    for old in serve_dir.glob("parquet.*"):
        if old.is_dir() and old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def publish(working: Path, targets: PublishTargets, run_id: str) -> Published:
    """Publish the marts and run log of `working` to every served copy; raises PublishError,
    leaving what BI reads unchanged, when any copy cannot be prepared."""
    serve_dir = targets.serve_dir
    serve_dir.mkdir(parents=True, exist_ok=True)
    served = served_file(serve_dir)
    link = serve_dir / "parquet"
    if link.exists() and not link.is_symlink():
        raise PublishError(f"{link} is a folder; move it away (it is now a symlink per publish)")
    new_file = serve_dir / f".{served.name}.{run_id}.new"
    # leftovers of a publish that was killed (we hold the job lock: no other publish runs)
    for stale in serve_dir.glob(f".{served.name}.*.new*"):
        stale.unlink(missing_ok=True)
    folder = serve_dir / f"parquet.{run_id}"
    pg = None
    try:
        try:
            counts = _prepare_duckdb(working.resolve(), new_file, run_id)
            _prepare_parquet(new_file, folder)
        except (duckdb.Error, OSError) as exc:
            raise PublishError(f"DuckDB/Parquet copy of {working}: {exc}") from exc
        if targets.postgres_dsn:
            with tempfile.TemporaryDirectory(dir=serve_dir, prefix=".pg.") as scratch:
                pg = _prepare_postgres(new_file, targets.postgres_dsn, Path(scratch))
            try:
                pg.commit()
            except Exception as exc:
                raise PublishError(f"PostgreSQL: commit failed ({exc})") from exc
        os.replace(new_file, served)
        _switch_parquet(serve_dir, folder)
        _fsync_dir(serve_dir)
    except BaseException:
        new_file.unlink(missing_ok=True)
        if (serve_dir / "parquet").resolve() != folder.resolve():
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        if pg is not None:
            pg.close()
    return Published(served, serve_dir / "parquet", counts, bool(targets.postgres_dsn))


def marts_of(served: Path) -> Sequence[str]:
    con = duckdb.connect(str(served), read_only=True)
    try:
        return [t for s, t in _tables(con) if s == "marts"]
    finally:
        con.close()
