"""Build the dbt SQL layers on Spark and compare them with the DuckDB build, relation by relation.

    python -m l2c_demo.spark_check [--deals 300] [--seed 42] [--work warehouse/spark_check]
                                   [--base FILE [--as-of TS]]
    (or: make spark-check)

The project's SQL goes through dbt's cross-database macros and project macros dispatched per
adapter, so that the same staging, intermediate and mart SQL can build on Spark. This check
shows that it does, and that it computes the same thing:

1. the demo (all CRMs, Stripe, the ERP file drop) is loaded with dlt and built with dbt into
   a DuckDB file, as `make demo` does;
2. every raw table the loaders wrote is copied to parquet and registered as a table of the
   same schema and name in a local Spark session (Hive catalog and warehouse in the work
   folder);
3. `dbt build --target spark` runs in that session with the same vars: seeds, models, data
   tests and unit tests. The process-mining models are dbt Python models on DuckDB and are
   left out;
4. every relation both builds made in `staging`, `intermediate` and `marts` is compared row by
   row (floats to 6 decimal places, timestamps as UTC). A failed dbt node, or any relation
   that differs, fails the check.

Spark here is plain pyspark without Delta Lake, so the tables are parquet
(L2C_SPARK_FILE_FORMAT=parquet) and dbt-spark leaves out the marts' NOT NULL constraints, which
only Delta tables hold; the row-by-row equality with the DuckDB build, where they are enforced,
covers them. Needs Java 17 or newer; `make spark-check` installs dbt-spark and pyspark
(requirements-spark.txt).
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import logging
import math
import os
import shutil
import sys
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from l2c.dbt_runner import ROOT

SCHEMAS = ("staging", "intermediate", "marts")
PYTHON_MODELS = "path:models/marts/process"
RAW_SCHEMAS = """
    select table_schema, table_name
    from information_schema.tables
    where table_type = 'BASE TABLE'
      and starts_with(table_schema, 'raw_') and not ends_with(table_schema, '_staging')
    order by all
"""


class SparkCheckError(RuntimeError):
    """The check could not run (no Java, no pyspark) or dbt failed on Spark."""


@dataclass(frozen=True)
class Comparison:
    relation: str
    duckdb_rows: int
    spark_rows: int
    only_duckdb: list[tuple[Any, ...]]
    only_spark: list[tuple[Any, ...]]
    columns_differ: bool = False
    missing_on_spark: bool = False
    truncated: bool = False  # more rows differ than were read back

    @property
    def equal(self) -> bool:
        return not (
            self.columns_differ or self.missing_on_spark or self.only_duckdb or self.only_spark
        )


def normalise(value: Any) -> Any:
    """One value in a form both engines' results compare equal in: decimals and floats to 6
    decimal places, aware timestamps as naive UTC, lists as tuples."""
    if isinstance(value, decimal.Decimal):
        value = float(value)
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else round(value, 6) + 0.0  # + 0.0: no -0.0
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, list | tuple):
        return tuple(normalise(v) for v in value)
    return value


def _close(a: Any, b: Any) -> bool:
    """Equal, or floats that differ only where the engines' arithmetic may: by one unit in the
    6th decimal place (two values a hair apart rounded to either side of a boundary) or by a
    relative 1e-9 (sums in another order)."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= max(1.000001e-6, 1e-9 * max(abs(a), abs(b)))
    return bool(a == b)


def compare_rows(
    relation: str, duckdb_rows: Sequence[Sequence[Any]], spark_rows: Sequence[Sequence[Any]]
) -> Comparison:
    """The rows of one relation from both engines as multisets (order does not count); rows
    left over on both sides are paired once more value by value with `_close`."""
    ours = Counter(tuple(normalise(v) for v in row) for row in duckdb_rows)
    theirs = Counter(tuple(normalise(v) for v in row) for row in spark_rows)
    only_ours = sorted((ours - theirs).elements(), key=repr)
    only_theirs = sorted((theirs - ours).elements(), key=repr)
    unmatched: list[tuple[Any, ...]] = []
    for row in only_ours:
        match = next(
            (
                i
                for i, other in enumerate(only_theirs)
                if len(row) == len(other) and all(map(_close, row, other))
            ),
            None,
        )
        if match is None:
            unmatched.append(row)
        else:
            only_theirs.pop(match)
    return Comparison(relation, ours.total(), theirs.total(), unmatched, only_theirs)


# the SQL side of the comparison: a relation of each engine as a multiset, in DuckDB
FLOATS = ("DOUBLE", "FLOAT", "REAL", "DECIMAL")
INTEGERS = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)
# leftover rows read back into Python for compare_rows' pairing of floats a hair apart
LEFTOVER_LIMIT = 5_000


def normalised(column: str, duckdb_type: str) -> str:
    """The SQL twin of `normalise` for one column, by its type on DuckDB (the Spark side may
    type it otherwise: decimal for double, int for bigint, timestamps read back with a zone)."""
    name = f'"{column}"'
    kind = duckdb_type.upper()
    if kind.startswith(FLOATS):
        return f"round(cast({name} as double), 6) + 0.0"  # + 0.0: no -0.0
    if kind in INTEGERS:
        return f"cast({name} as bigint)"
    if kind.startswith("TIMESTAMP"):
        return f"cast(cast({name} as timestamptz) as timestamp)"  # the session is in UTC
    if kind in ("VARCHAR", "BOOLEAN", "DATE"):
        return f"cast({name} as {kind.lower()})"
    return f"cast({name} as varchar)"  # lists and structs: their text, the same on both sides


def compare_in_duckdb(
    con: duckdb.DuckDBPyConnection, relation: str, ours: str, theirs: str
) -> Comparison:
    """One relation of both engines compared as multisets inside DuckDB (`except all` of the
    normalised rows both ways), so a build of millions of rows never passes through Python:
    `ours` is the DuckDB relation, `theirs` a relation over the Spark build's rows (its parquet
    files). Only rows left over on either side are read back and paired by `compare_rows`."""
    described = con.execute(f"describe select * from {ours}").fetchall()
    columns = ", ".join(normalised(name, kind) for name, kind, *_ in described)
    left, right = f"select {columns} from {ours}", f"select {columns} from {theirs}"
    (ours_count,) = con.execute(f"select count(*) from {ours}").fetchone() or (0,)
    (theirs_count,) = con.execute(f"select count(*) from {theirs}").fetchone() or (0,)
    only_ours = con.execute(f"{left} except all {right} limit {LEFTOVER_LIMIT}").fetchall()
    only_theirs = con.execute(f"{right} except all {left} limit {LEFTOVER_LIMIT}").fetchall()
    paired = compare_rows(relation, only_ours, only_theirs)
    return Comparison(
        relation,
        ours_count,
        theirs_count,
        paired.only_duckdb,
        paired.only_spark,
        truncated=LEFTOVER_LIMIT in (len(only_ours), len(only_theirs)),
    )


def export_raw(duckdb_path: Path, folder: Path) -> list[tuple[str, str]]:
    """Every raw table of the DuckDB file as parquet, folder/<schema>/<table>/data.parquet."""
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        tables = [(s, t) for s, t in con.execute(RAW_SCHEMAS).fetchall()]
        for schema, table in tables:
            target = folder / schema / table
            target.mkdir(parents=True, exist_ok=True)
            con.execute(
                f'copy (select * from "{schema}"."{table}") to \'{target / "data.parquet"}\' '
                "(format parquet)"
            )
    return tables


def require_spark() -> None:
    """Fail before any work when Spark cannot start here."""
    if shutil.which("java") is None:
        raise SparkCheckError("Spark needs Java 17 or newer: no `java` on PATH")
    # pyspark warns that it does not fully support pandas 3; the check uses no pandas
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    try:
        import dbt.adapters.spark  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise SparkCheckError(
            f"{exc.name} is not installed: run `make spark-check` (it installs "
            "requirements-spark.txt into .venv-spark)"
        ) from exc


def spark_session(work: Path) -> Any:
    """A local Spark session with its Hive catalog and warehouse in `work`, in UTC. dbt-spark's
    `session` method picks it up (SparkSession.builder.getOrCreate())."""
    require_spark()
    from pyspark.sql import SparkSession

    logging.getLogger("py4j").setLevel(logging.ERROR)
    # pyspark logs every failed query; dbt-spark asks for tables that may not exist (a raw
    # table no load has written yet) and handles the answer itself
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("l2c-spark-check")
        .config("spark.sql.warehouse.dir", str(work / "spark-warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={work}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        # the analyser of a mart over many views holds large plans (1 GB, the default, ran
        # out on the MRR marts)
        .config("spark.driver.memory", "3g")
        .config("spark.ui.enabled", "false")
        # timestamps written as plain microseconds, read back by DuckDB for the comparison
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .enableHiveSupport()
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def register_raw(spark: Any, tables: Sequence[tuple[str, str]], folder: Path) -> None:
    for schema in sorted({s for s, _ in tables}):
        spark.sql(f"create database if not exists {schema}")
    for schema, table in tables:
        spark.sql(f"drop table if exists {schema}.{table}")
        spark.sql(
            f"create table {schema}.{table} using parquet location '{folder / schema / table}'"
        )


def dbt_build_on_spark(
    work: Path, dbt_vars: dict[str, Any], select: Sequence[str] = ()
) -> set[str]:
    """`dbt build --target spark` (of the `select`ed nodes only, when given): the names of the
    models it built."""
    from dbt.cli.main import dbtRunner

    os.environ["L2C_SPARK_FILE_FORMAT"] = "parquet"
    args = [
        "build",
        "--target",
        "spark",
        # a part: its tests only where every parent is in it (a relationships test to a
        # model left out would fail on the missing relation)
        *(["--select", *select, "--indirect-selection", "cautious"] if select else []),
        "--exclude",
        PYTHON_MODELS,
        "--vars",
        json.dumps(dbt_vars),
        "--project-dir",
        str(ROOT),
        "--profiles-dir",
        str(ROOT / "profiles"),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    ]
    result = dbtRunner().invoke(args)
    if result.exception is not None:
        raise SparkCheckError(f"dbt build on Spark did not run: {result.exception}")
    failed = [
        f"{r.node.name} ({r.status})"
        for r in (result.result or [])
        if str(r.status) in ("error", "fail", "runtime error")
    ]
    if failed or not result.success:
        raise SparkCheckError(f"dbt build on Spark failed: {', '.join(failed) or 'see the log'}")
    return {r.node.name for r in (result.result or []) if r.node.resource_type == "model"}


def open_built(duckdb_path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB session in UTC with the built warehouse attached read-only under its
    own catalog name (the file's stem): its views name that catalog, so another alias would
    leave them unbound."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"attach '{duckdb_path}' as \"{duckdb_path.stem}\" (read_only)")
    return con


def compare_builds(
    duckdb_path: Path, spark: Any, work: Path, only: set[str] | None = None
) -> list[Comparison]:
    """Every SQL model of both builds (of `only`, when given), relation by relation: Spark's
    rows are written to parquet under `work` and compared with the DuckDB file's in DuckDB
    (compare_in_duckdb)."""
    comparisons: list[Comparison] = []
    # the process marts (dbt Python models and the SQL models built on them) are DuckDB-only
    process = ROOT / PYTHON_MODELS.removeprefix("path:")
    python_models = {p.stem for p in process.glob("*") if p.suffix in (".py", ".sql")}
    with open_built(duckdb_path) as con:
        catalog = duckdb_path.stem
        for schema in SCHEMAS:
            on_spark = {r.tableName for r in spark.sql(f"show tables in {schema}").collect()}
            names = [
                name
                for (name,) in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_catalog = ? and table_schema = ? order by table_name",
                    [catalog, schema],
                ).fetchall()
                if name not in python_models  # built on DuckDB only
                and (only is None or name in only)
            ]
            for name in names:
                relation = f"{schema}.{name}"
                if name not in on_spark:
                    comparisons.append(Comparison(relation, 0, 0, [], [], missing_on_spark=True))
                    continue
                ours = f'"{catalog}".{relation}'
                frame = spark.table(relation)
                described = con.execute(f"describe select * from {ours}").fetchall()
                if [c.lower() for c in frame.columns] != [d[0] for d in described]:
                    comparisons.append(Comparison(relation, 0, 0, [], [], columns_differ=True))
                    continue
                rows = work / "spark-rows" / relation
                frame.write.mode("overwrite").parquet(str(rows))
                # Spark writes no part file for an empty relation on some versions
                theirs = (
                    f"read_parquet('{rows}/*.parquet')"
                    if any(rows.glob("*.parquet"))
                    else f"(select * from {ours} limit 0)"
                )
                comparisons.append(compare_in_duckdb(con, relation, ours, theirs))
    return comparisons


def report(comparisons: Sequence[Comparison]) -> bool:
    for schema in SCHEMAS:
        of_schema = [c for c in comparisons if c.relation.startswith(f"{schema}.")]
        equal = [c for c in of_schema if c.equal]
        rows = sum(c.duckdb_rows for c in equal)
        print(
            f"{schema:<13} {len(equal):>3} of {len(of_schema):>3} relations equal ({rows:,} rows)"
        )
    different = [c for c in comparisons if not c.equal]
    for c in different:
        if c.columns_differ or c.missing_on_spark:
            problem = "the columns differ" if c.columns_differ else "not built on Spark"
            print(f"  DIFFERENT {c.relation}: {problem}")
            continue
        more = "+" if c.truncated else ""
        print(
            f"  DIFFERENT {c.relation}: {c.duckdb_rows:,} rows on DuckDB, {c.spark_rows:,} on "
            f"Spark; {len(c.only_duckdb):,}{more} only on DuckDB, {len(c.only_spark):,}{more} "
            "only on Spark"
        )
        for row in c.only_duckdb[:2]:
            print(f"    DuckDB: {row}")
        for row in c.only_spark[:2]:
            print(f"    Spark:  {row}")
    return bool(comparisons) and not different


def job_modules() -> tuple[Any, tuple[type[Exception], ...], Any]:
    """The jobs' modules, imported after require_spark (Great Expectations imports pyspark when
    it is installed): run_dbt, the job failure kinds, and the demo job."""
    from l2c.dbt_runner import run_dbt
    from l2c.refresh import JOB_FAILURES
    from l2c_demo import job

    return run_dbt, JOB_FAILURES, job


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deals", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", type=Path, default=Path("warehouse/spark_check"))
    parser.add_argument(
        "--base",
        type=Path,
        metavar="FILE",
        help="instead of the demo: a loaded, unbuilt warehouse (e.g. one tiled by bench.scale), "
        "built on DuckDB here first",
    )
    parser.add_argument("--as-of", help="with --base: the dbt var as_of of both builds")
    parser.add_argument(
        "--select",
        nargs="+",
        default=[],
        help="build only these dbt selectors on Spark (e.g. +mrr_movements) and compare the "
        "models they build; default: every SQL model",
    )
    args = parser.parse_args(argv)
    try:
        require_spark()
    except SparkCheckError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    run_dbt, job_failures, job = job_modules()
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    duckdb_path = work / "lead2cash.duckdb"
    try:
        if args.base is None:
            company, _ = job.run(args.deals, args.seed, duckdb_path, keep=False)
            dbt_vars = job.dbt_vars(company)
        else:
            shutil.copyfile(args.base, duckdb_path)
            dbt_vars = {"as_of": args.as_of} if args.as_of else {}
            print(f"== DuckDB: dbt build of a copy of {args.base}")
            run_dbt(["build", "--vars", json.dumps(dbt_vars)], duckdb_path, quiet=True)
        tables = export_raw(duckdb_path, work / "raw")
        print(f"\n== Spark: {len(tables)} raw tables copied to parquet and registered")
        spark = spark_session(work)
        register_raw(spark, tables, work / "raw")
        print("== dbt build --target spark (SQL models, seeds, data and unit tests)")
        built = dbt_build_on_spark(work, dbt_vars, args.select)
        print("\n== Spark build vs DuckDB build, row by row")
        ok = report(compare_builds(duckdb_path, spark, work, built if args.select else None))
    except (SparkCheckError, *job_failures) as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        return 1
    print("\nSpark check passed." if ok else "\nSpark check FAILED: the builds differ.")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
