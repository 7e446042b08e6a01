"""Scale benchmark: a loaded warehouse's raw tables tiled k times, then `dbt build` timed.

    python -m bench.scale [--base FILE | --deals 20000 --seed 42] [--copies 1 11 56]
                          [--work DIR] [--memory-limit 8GB] [--shift-days 1] [--keep] [--top 12]

`--base` is a warehouse loaded by the project's loaders and not yet built, e.g. one kept by
`python -m bench.run --deals 20000 --skip-insert-path --keep DIR` (DIR/l2c.duckdb); without
it the benchmark loads a Pipedrive + Stripe company of `--deals` first (as bench/run.py). For every
k in `--copies` the benchmark writes a new DuckDB file whose raw schemas hold k copies of the
base company (the default 20,000-deal company has 17,848 CRM deals: k=11 makes 196k, k=56 1.0M
deals and about 10M events), in DuckDB SQL:

- every business table (deals, leads, activities, stage history, quotes, orders, invoices,
  customers, ...) is copied k times. In copy c (0..k-1) each id column (`id`, `*_id`, `*_no`,
  `*_number`, Stripe's `customer` / `invoice` / ..., `metadata__*` links to CRM objects, dlt's
  row and parent ids) is made disjoint from the other copies the same way in every table:
  integers, and strings that are plain integers, get c * stride added (stride: the power of
  ten above the largest such id of the base), other strings get the suffix `-t<c>`. So joins,
  dlt child tables and Stripe metadata links still match, within their own copy only;
- every date and time (timestamps, dates, ISO date strings, Stripe's epoch seconds) of copy c
  moves c * shift-days earlier, so copies do not coincide and none lies after the base's
  latest instant (the build's `as_of`);
- reference data (users, teams, pipelines, stages, products, field and picklist definitions)
  and dlt's own bookkeeping tables are copied once, unchanged: a company of 1M deals has the
  same sales team and stages as the one of 20,000, and the columns pointing at them (owner,
  stage, pipeline, product, ...) keep their values.

Then, per size: `dbt parse` and `dbt build` in the steps of bench/run.py (event log + cases,
analytical marts, process mining), each with wall and CPU seconds and the peak resident memory
of the dbt process (os.wait4), every model's execution time from dbt's run_results.json, and
one DuckDB sort of the event log by (case, time) for comparison with the mining step. Last, it
checks the tiling: the marts of the k-copy build must hold exactly k times the base's cases,
events, won / lost / open cases, invoices and invoices linked to a case. Prints figures and
the check; the exit status is 1 when a count is not k-fold.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from bench.run import BUILD_STEPS, api_server, configure, require_complete, step_args
from l2c.dbt_runner import ROOT, DbtError, dbt_env
from l2c.mining import marts
from l2c_demo.simulator.config import DEFAULT_AS_OF
from pipelines.load import load_all

# Tables copied once: reference data shared by every deal, and dlt's bookkeeping.
REFERENCE_TABLES: dict[str, frozenset[str]] = {
    "raw_pipedrive": frozenset(
        {
            "users",
            "teams",
            "team_members",
            "pipelines",
            "stages",
            "products",
            "products__prices",
            "deal_fields",
            "deal_fields__options",
            "product_fields",
            "product_field_options",
        }
    ),
    "raw_salesforce": frozenset(
        {"users", "user_roles", "opportunity_stages", "record_types", "stage_picklist_values"}
    ),
    "raw_oracle_cx": frozenset({"resources", "sales_methods", "sales_stages"}),
    "raw_zendesk_sell": frozenset({"users", "pipelines", "stages", "loss_reasons", "lead_sources"}),
    "raw_erp": frozenset({"source_files"}),
}
# Id columns of business tables that point at reference data: kept as they are.
REFERENCE_ID_COLUMNS = frozenset(
    {
        "owner_id",
        "user_id",
        "stage_id",
        "pipeline_id",
        "product_id",
        "role_id",
        "manager_id",
        "team_id",
        "record_type_id",
        "opportunity__record_type_id",
        "created_by_id",
        "creator_id",
        "last_stage_change_by_id",
        "sales_method_id",
        "sales_stage_id",
        "stg_id",
        "owner_resource_party_id",
        "product2_id",
        "inventory_item_id",
        "prod_group_id",
        "source_id",
        "loss_reason_id",
        "unqualified_reason_id",
        "stage_pipeline_id",
        "forecast_user_id",
        "parent_role_id",
        "user_role_id",
        "group__id",
        "_dlt_load_id",
    }
)
# Stripe's references are bare object names
BARE_ID_COLUMNS = frozenset({"id", "customer", "invoice", "charge", "payment_intent", "number"})
DLT_ROW_IDS = frozenset({"_dlt_id", "_dlt_parent_id", "_dlt_root_id"})
TEMPORAL_TYPES = ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP", "DATE")
# BIGINT columns holding epoch seconds (Stripe): `created`, `*_at`, `*_date`
EPOCH_SUFFIXES = ("_at", "_date")
DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"
INT_PATTERN = r"0|[1-9][0-9]{0,17}"


def connect(path: Path, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """The benchmark's own DuckDB connection: the build's two threads, no progress bar."""
    config: dict[str, str | int] = {"threads": 2}
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
    con = duckdb.connect(str(path), config=config)
    con.execute("set enable_progress_bar = false")
    return con


def is_id_column(name: str) -> bool:
    if name in REFERENCE_ID_COLUMNS:
        return False
    return (
        name in BARE_ID_COLUMNS
        or name in DLT_ROW_IDS
        or name.endswith(("_id", "_no", "_number"))
        or name.startswith("metadata__")
    )


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Column:
    name: str
    type: str
    role: str = "plain"  # id | temporal | epoch | date_text | plain


@dataclass
class TiledTable:
    schema: str
    table: str
    columns: list[Column] = field(default_factory=list)
    tiled: bool = True


def raw_tables(con: duckdb.DuckDBPyConnection) -> list[TiledTable]:
    """The base's raw tables (schemas raw_*, not dlt's *_staging) with their columns' roles."""
    rows = con.execute(
        """
        select table_schema, table_name, column_name, data_type
        from information_schema.columns
        where table_catalog = 'base' and table_schema like 'raw\\_%' escape '\\'
            and table_schema not like '%\\_staging' escape '\\'
        order by table_schema, table_name, ordinal_position
        """
    ).fetchall()
    tables: dict[tuple[str, str], TiledTable] = {}
    for schema, table, column, data_type in rows:
        t = tables.setdefault((schema, table), TiledTable(schema, table))
        t.tiled = not table.startswith("_dlt") and table not in REFERENCE_TABLES.get(
            schema, frozenset()
        )
        t.columns.append(Column(column, data_type))
    for t in tables.values():
        if t.tiled:
            classify(con, t)
    return list(tables.values())


def classify(con: duckdb.DuckDBPyConnection, t: TiledTable) -> None:
    source = f"base.{q(t.schema)}.{q(t.table)}"
    for c in t.columns:
        if is_id_column(c.name) and (c.type in ("BIGINT", "INTEGER", "VARCHAR")):
            c.role = "id"
        elif c.type in TEMPORAL_TYPES:
            c.role = "temporal"
        elif c.type == "BIGINT" and (c.name == "created" or c.name.endswith(EPOCH_SUFFIXES)):
            c.role = "epoch"
        elif c.type == "VARCHAR":
            # a text column whose every value is an ISO date (e.g. Pipedrive's due_date)
            filled, dates = con.execute(
                f"select count({q(c.name)}), count({q(c.name)}) filter "
                f"(where regexp_full_match({q(c.name)}, '{DATE_PATTERN}')) from {source}"
            ).fetchone()  # type: ignore[misc]
            if filled and filled == dates:
                c.role = "date_text"


def id_stride(con: duckdb.DuckDBPyConnection, tables: Sequence[TiledTable]) -> int:
    """The power of ten above every integer id of the tiled tables (copy c adds c * stride)."""
    largest = 0
    for t in tables:
        source = f"base.{q(t.schema)}.{q(t.table)}"
        for c in t.columns:
            if c.role != "id":
                continue
            if c.type == "VARCHAR":
                expr = (
                    f"max(try_cast({q(c.name)} as bigint)) filter "
                    f"(where regexp_full_match({q(c.name)}, '{INT_PATTERN}'))"
                )
            else:
                expr = f"max(abs({q(c.name)}))"
            value = con.execute(f"select {expr} from {source}").fetchone()[0]  # type: ignore[index]
            largest = max(largest, int(value or 0))
    return 10 ** len(str(largest))


def column_expr(c: Column, stride: int, shift_days: int) -> str:
    col = q(c.name)
    if c.role == "id" and c.type == "VARCHAR":
        expr = (
            f"case when tiling.c = 0 or {col} is null then {col} "
            f"when regexp_full_match({col}, '{INT_PATTERN}') "
            f"then cast(try_cast({col} as bigint) + tiling.c * {stride} as varchar) "
            f"else {col} || '-t' || tiling.c end"
        )
    elif c.role == "id":
        expr = f"{col} + tiling.c * {stride}"
    elif c.role == "temporal":
        expr = f"{col} - to_days(cast(tiling.c * {shift_days} as integer))"
    elif c.role == "epoch":
        expr = f"{col} - tiling.c * {shift_days * 86400}"
    elif c.role == "date_text":
        expr = (
            f"strftime(try_cast({col} as date) - to_days(cast(tiling.c * {shift_days} as integer)),"
            " '%Y-%m-%d')"
        )
    else:
        return col
    return f"cast({expr} as {c.type}) as {col}"


def tile(base: Path, out: Path, copies: int, shift_days: int = 1) -> dict[str, int]:
    """Write `out`: the raw tables of `base` with k=`copies` copies of every business table.
    Returns the row count of every table written."""
    if copies < 1:
        raise ValueError(f"copies must be at least 1, got {copies}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    con = connect(out)
    counts: dict[str, int] = {}
    try:
        con.execute(f"attach '{base}' as base (read_only)")
        tables = raw_tables(con)
        stride = id_stride(con, [t for t in tables if t.tiled])
        if stride * copies >= 2**62:
            raise ValueError(f"ids up to {stride} leave no room for {copies} disjoint copies")
        for t in tables:
            con.execute(f"create schema if not exists {q(t.schema)}")
            source = f"base.{q(t.schema)}.{q(t.table)}"
            target = f"{q(t.schema)}.{q(t.table)}"
            if t.tiled:
                select = ", ".join(column_expr(c, stride, shift_days) for c in t.columns)
                con.execute(
                    f"create table {target} as select {select} "
                    f"from {source}, range({copies}) as tiling(c)"
                )
            else:
                con.execute(f"create table {target} as select * from {source}")
            name = f"{t.schema}.{t.table}"
            counts[name] = con.execute(f"select count(*) from {target}").fetchone()[0]  # type: ignore[index]
        con.execute("detach base")
    finally:
        con.close()
    return counts


# --- timing ----------------------------------------------------------------------------------


@dataclass
class StepResult:
    label: str
    seconds: float
    cpu: float
    peak_mb: float
    nodes: dict[str, float]  # unique_id -> execution seconds (models and tests)


def write_profile(directory: Path, memory_limit: str) -> Path:
    """The project's profile with DuckDB's memory_limit set (by default DuckDB takes 80% of
    the machine's memory, too much on a shared one)."""
    profile = yaml.safe_load((ROOT / "profiles" / "profiles.yml").read_text())
    profile["l2c"]["outputs"]["duckdb"].setdefault("settings", {})["memory_limit"] = memory_limit
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "profiles.yml").write_text(yaml.safe_dump(profile))
    return directory


def timed_dbt(
    label: str, args: Sequence[str], db: Path, target: Path, env: dict[str, str]
) -> StepResult:
    """One dbt command in its own process: wall and CPU seconds, its peak RSS (os.wait4 gives
    the rusage of that one child), and the per-node execution times of run_results.json."""
    dbt = Path(sys.executable).with_name("dbt")
    command = [
        str(dbt),
        *args,
        "--project-dir",
        str(ROOT),
        "--profiles-dir",
        env["L2C_BENCH_PROFILES_DIR"],
        "--target-path",
        str(target),
    ]
    log = target / f"{label.replace(' ', '_').replace(':', '')}.log"
    target.mkdir(parents=True, exist_ok=True)
    run_results = target / "run_results.json"
    run_results.unlink(missing_ok=True)
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise DbtError(f"dbt {' '.join(args[:1])} ({label}) failed:\n{tail}")
    nodes: dict[str, float] = {}
    if run_results.exists():
        for result in json.loads(run_results.read_text())["results"]:
            nodes[result["unique_id"]] = float(result["execution_time"])
    # ru_maxrss is in KiB on Linux
    return StepResult(
        label, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, nodes
    )


def build(db: Path, target: Path, dbt_vars: str, env: dict[str, str]) -> list[StepResult]:
    steps = [timed_dbt("dbt parse", ["parse", "--vars", dbt_vars], db, target, env)]
    done: list[str] = []
    for label, selection in BUILD_STEPS:
        args = step_args(selection, done, dbt_vars)
        steps.append(timed_dbt(label, args, db, target, env))
        done += selection.split()
    return steps


def sort_seconds(db: Path, memory_limit: str, repeat: int = 2) -> tuple[float, float]:
    """Wall and CPU seconds (the fastest of `repeat`) of one DuckDB sort of the event log by
    (case, time, tie-breaker), materialised: what bench/mining.py compares mining with."""
    con = connect(db, memory_limit)
    try:
        wall = cpu = float("inf")
        for _ in range(repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            con.execute(
                "create or replace temp table sorted_log as select * from marts.event_log "
                "order by case_id, event_at, event_order"
            )
            wall = min(wall, time.perf_counter() - started)
            cpu = min(cpu, time.process_time() - started_cpu)
            con.execute("drop table sorted_log")
        return wall, cpu
    finally:
        con.close()


def mining_seconds(
    db: Path, target: Path, memory_limit: str, repeat: int = 2
) -> tuple[float, float]:
    """Wall and CPU seconds (the fastest of `repeat`, as for the sort) of what the dbt Python
    process-mining models compute, run here one after another as dbt runs them in one process
    (the log ordered once: the memo of l2c.mining.marts, emptied before each run), each result
    materialised as a temporary table; their inputs are the built marts."""
    config = {
        node["name"]: node["config"]
        for node in json.loads((target / "manifest.json").read_text())["nodes"].values()
        if node["resource_type"] == "model"
    }
    con = connect(db, memory_limit)
    try:
        models = mining_models(con, config)
        wall = cpu = float("inf")
        for _ in range(repeat):
            marts._MEMO.clear()  # a fair start: the log is not ordered yet
            started, started_cpu = time.perf_counter(), time.process_time()
            for result in (build_model() for build_model in models.values()):
                con.register("mined", result)
                con.execute("create or replace temp table mined_result as select * from mined")
                con.unregister("mined")
            wall = min(wall, time.perf_counter() - started)
            cpu = min(cpu, time.process_time() - started_cpu)
        return wall, cpu
    finally:
        marts._MEMO.clear()
        con.close()


def mining_models(
    con: duckdb.DuckDBPyConnection, config: dict[str, dict[str, Any]]
) -> dict[str, Callable[[], Any]]:
    """What each dbt Python model of models/marts/process returns, as a call on the built marts
    (tests/test_bench_scale.py checks that every such model is here)."""

    def ref(name: str) -> duckdb.DuckDBPyRelation:
        return con.sql(f"select * from {name}")  # con.table() finds no view of another schema

    edges_config = config["process_map_edges"]

    def conformance_inputs() -> tuple[duckdb.DuckDBPyRelation, ...]:
        return (
            ref("marts.event_log"),
            ref("seeds.ideal_path"),
            ref("marts.cases"),
            ref("intermediate.int_observable_activities_resolved"),
        )

    return {
        "process_variants": lambda: marts.variants(con, ref("marts.event_log"), ref("marts.cases")),
        "case_variants": lambda: marts.case_variants(con, ref("marts.event_log")),
        "process_map_edges": lambda: marts.process_map_edges(
            con,
            ref("marts.event_log"),
            ref("marts.cases"),
            min_transitions=int(edges_config["bottleneck_min_transitions"]),
            bottlenecks=int(edges_config["bottlenecks"]),
        ),
        "process_map_endpoints": lambda: marts.process_map_endpoints(
            con, ref("marts.event_log"), ref("marts.cases")
        ),
        "activity_rework": lambda: marts.rework(
            con, ref("marts.event_log"), ref("seeds.canonical_stages")
        ),
        "stage_backward_moves": lambda: marts.backward_moves(
            con, ref("marts.event_log"), ref("seeds.canonical_stages")
        ),
        "case_conformance": lambda: marts.conformance(con, *conformance_inputs()).cases,
        "conformance_deviations": lambda: marts.conformance(con, *conformance_inputs()).deviations,
        "conformance_unobservable_steps": lambda: marts.unobservable(con, *conformance_inputs()),
    }


def cpu_profile(db: Path, target: Path, memory_limit: str) -> dict[str, float]:
    """CPU seconds (all DuckDB threads) of every SQL model's compiled query, materialised into
    a temporary table; the views a model reads are computed inline. Unlike the wall times of
    run_results.json, CPU seconds hardly change with the machine's other load."""
    con = connect(db, memory_limit)
    cpu: dict[str, float] = {}
    try:
        models = target / "compiled" / "l2c" / "models"
        for path in sorted(models.rglob("*.sql")):
            if any(part.endswith(".yml") for part in path.relative_to(models).parts):
                continue  # a data test
            started = time.process_time()
            con.execute(f"create or replace temp table profiled as {path.read_text()}")
            cpu[f"model.l2c.{path.stem}"] = time.process_time() - started
            con.execute("drop table profiled")
    finally:
        con.close()
    return cpu


# --- the tiling check ------------------------------------------------------------------------

COUNTS = {
    "cases": "select count(*) from marts.cases",
    "events": "select count(*) from marts.event_log",
    "won cases": "select count(*) from marts.cases where outcome = 'won'",
    "lost cases": "select count(*) from marts.cases where outcome = 'lost'",
    "open cases": "select count(*) from marts.cases where outcome = 'open'",
    "invoices": "select count(*) from marts.invoices",
    "invoices linked to a case": "select count(*) from marts.invoices where case_id is not null",
}


def mart_counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {name: con.execute(sql).fetchone()[0] for name, sql in COUNTS.items()}  # type: ignore[index]
    finally:
        con.close()


def check_k_fold(base: dict[str, int], tiled: dict[str, int], copies: int) -> list[str]:
    """The counts of `tiled` that are not exactly `copies` times those of `base`."""
    return [
        f"{name}: {tiled[name]:,} != {copies} x {base[name]:,}"
        for name in base
        if tiled[name] != copies * base[name]
    ]


# --- report ----------------------------------------------------------------------------------


def load_conditions() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f}"


def machine() -> str:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return f"{os.cpu_count()} cores, {pages / 2**30:.1f} GiB memory"


def short(unique_id: str) -> str:
    return unique_id.split(".", 2)[-1] if unique_id.startswith("model.") else unique_id


def print_growth(times: dict[int, dict[str, float]], top: int, what: str) -> None:
    """The models taking most time at the largest size, with their time at every size and the
    growth per copy (time(k) / (k * time(smallest))): near 1 is linear."""
    sizes = sorted(times)
    largest, smallest = sizes[-1], sizes[0]
    ranked = sorted(times[largest].items(), key=lambda item: -item[1])[:top]
    header = " ".join(f"{f'k={k}':>9}" for k in sizes)
    print(f"\n{what} at k={largest} (seconds per size; growth = t(k) / (k/k0 * t(k0))):")
    print(f"{'model':<44} {header} {'growth':>7}")
    for node, _ in ranked:
        row = " ".join(f"{times[k].get(node, float('nan')):>9.2f}" for k in sizes)
        base = times[smallest].get(node, 0.0)
        growth = times[largest][node] / (base * largest / smallest) if base > 0 else float("nan")
        print(f"{short(node):<44} {row} {growth:>7.2f}")


def load_base(directory: Path, deals: int, seed: int) -> Path:
    """A Pipedrive + Stripe demo company loaded over local HTTP, as bench/run.py loads it."""
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "l2c.duckdb"
    with api_server(deals, seed, ["pipedrive"], directory) as base_url:
        configure(base_url)
        started = time.perf_counter()
        require_complete(load_all(db, ["pipedrive", "stripe"]))
    print(f"loaded a {deals:,}-deal company in {time.perf_counter() - started:.0f} s: {db}")
    return db


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, help="a loaded, unbuilt warehouse (else: load one)")
    parser.add_argument("--deals", type=int, default=20_000, help="company loaded without --base")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 11, 56])
    parser.add_argument("--work", type=Path, help="where the tiled warehouses go (default: tmp)")
    parser.add_argument("--memory-limit", default="8GB", help="DuckDB memory_limit of the build")
    parser.add_argument("--shift-days", type=int, default=1)
    parser.add_argument("--as-of", default=f"{DEFAULT_AS_OF:%Y-%m-%d %H:%M:%S}")
    parser.add_argument("--keep", action="store_true", help="keep the tiled warehouses")
    parser.add_argument(
        "--no-cpu-profile",
        dest="cpu_profile",
        action="store_false",
        help="skip re-running every SQL model's query alone to measure its CPU seconds",
    )
    parser.add_argument("--top", type=int, default=12, help="models listed in the growth table")
    args = parser.parse_args(argv)
    copies = sorted(set(args.copies) | {1})  # k=1 is the base the k-fold check compares with
    dbt_vars = json.dumps({"as_of": args.as_of})
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

    work = args.work or Path(tempfile.mkdtemp(prefix="l2c-scale-"))
    if args.base is None:
        args.base = load_base(work / "base", args.deals, args.seed)
    print(f"scale benchmark on {machine()}; base {args.base}; copies {copies}")
    print(f"DuckDB memory_limit {args.memory_limit}, threads 2; {load_conditions()}")
    results: dict[int, list[StepResult]] = {}
    cpu: dict[int, dict[str, float]] = {}
    base_counts: dict[str, int] = {}
    failures: list[str] = []
    for k in copies:
        db = work / f"k{k}" / "l2c.duckdb"
        started = time.perf_counter()
        counts = tile(args.base, db, k, args.shift_days)
        deals = sum(n for name, n in counts.items() if name.endswith((".deals", ".opportunities")))
        print(
            f"\n== k={k}: {deals:,} deals, {sum(counts.values()):,} raw rows, "
            f"tiled in {time.perf_counter() - started:.1f} s ({load_conditions()})"
        )
        env = dbt_env(db)
        env["L2C_BENCH_PROFILES_DIR"] = str(write_profile(work / "profiles", args.memory_limit))
        steps = build(db, work / f"k{k}" / "target", dbt_vars, env)
        results[k] = steps
        for s in steps:
            models = sum(t for n, t in s.nodes.items() if n.startswith("model."))
            tests = sum(t for n, t in s.nodes.items() if n.startswith("test."))
            split = f"  (models {models:.1f} s, tests {tests:.1f} s)" if s.nodes else ""
            print(
                f"{s.label:<40} {s.seconds:>7.1f} s cpu {s.cpu:>6.1f} s  peak {s.peak_mb:>6,.0f} MB"
                + split
            )
        total = sum(s.seconds for s in steps[1:])
        print(f"{'dbt build, all steps':<40} {total:>8.1f} s  ({load_conditions()})")
        if args.cpu_profile:
            cpu[k] = cpu_profile(db, work / f"k{k}" / "target", args.memory_limit)
            print(f"SQL models' queries re-run alone: {sum(cpu[k].values()):.1f} CPU s")
        mining_models = sum(t for n, t in steps[-1].nodes.items() if n.startswith("model."))
        sort_wall, sort_cpu = sort_seconds(db, args.memory_limit)
        mined_wall, mined_cpu = mining_seconds(db, work / f"k{k}" / "target", args.memory_limit)
        tiled = mart_counts(db)
        print(
            f"one sort of the {tiled['events']:,}-event log: {sort_wall:.2f} s, cpu {sort_cpu:.2f}"
            f" s; the mining models' work in one process: {mined_wall:.2f} s, cpu "
            f"{mined_cpu:.2f} s ({mined_cpu / sort_cpu:.2f}x the sort's CPU; each the fastest of "
            f"two runs); in the dbt build {mining_models:.1f} s (sum of the models' execution "
            "times)"
        )
        if k == 1:
            base_counts = tiled
        else:
            wrong = check_k_fold(base_counts, tiled, k)
            failures += [f"k={k}: {w}" for w in wrong]
            verdict = "ok" if not wrong else "WRONG: " + "; ".join(wrong)
            print(f"tiling check, marts hold {k} x the base's {', '.join(COUNTS)}: {verdict}")
        if not args.keep and k != copies[-1]:
            shutil.rmtree(db.parent)
    if len(results) > 1:
        wall = {
            k: {n: t for step in steps for n, t in step.nodes.items() if n.startswith("model.")}
            for k, steps in results.items()
        }
        print_growth(wall, args.top, "slowest models, wall seconds in the dbt build,")
        if cpu:
            print_growth(cpu, args.top, "costliest SQL models, CPU seconds of their query,")
    (work / "results.json").write_text(
        json.dumps({k: [s.__dict__ for s in steps] for k, steps in results.items()} | {"cpu": cpu})
    )
    peak = max(s.peak_mb for r in results.values() for s in r)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory of any dbt process: {peak:,.0f} MB (this process, tiling: {own:,.0f} MB)")
    if args.work is None and not args.keep:
        shutil.rmtree(work)
    if failures:
        print("tiling check failed:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
