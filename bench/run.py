"""Load and build benchmark for a demo company (default 20,000 deals).

    python -m bench.run [--deals 20000] [--seed 42] [--crms pipedrive ...] [--skip-insert-path]
                        [--keep DIR] [--reuse FILE]

Starts the local API server in its own process, loads every CRM of the company + Stripe with
dlt's fast loader-file path (parquet) and, for comparison, with dlt's default insert-statement
path, then times `dbt parse` and `dbt build` in three steps: the event log and everything under
it, the analytical marts on top of it, and the process-mining models. Prints figures; asserts
nothing.

The parse is its own step: a scheduled `dbt build` on a machine that keeps its target directory
reuses the parsed project (target/partial_parse.msgpack) while no project file, var or profile
setting changed, so the build steps are timed against the warm target the parse left behind.
A first run on a fresh machine pays the parse once on top of the build.
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
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from l2c.dbt_runner import run_dbt
from l2c_demo.simulator import SimConfig
from pipelines.load import LoadResult, load_all

# dbt build steps: (label, selection); each step builds what its selection needs that the
# earlier steps did not build, and runs the tests of those models
BUILD_STEPS = (
    ("dbt build: event log + cases", "+event_log +cases +invoices +object_relations"),
    ("dbt build: analytical marts", "+path:models/marts/sales +path:models/marts/revenue"),
    ("dbt build: process mining", "+path:models/marts/process"),
)


def step_args(selection: str, done: Sequence[str], dbt_vars: str) -> list[str]:
    """`dbt build` args of one timed step: its selection without what earlier steps built,
    data tests only (unit tests are not part of a scheduled build's time)."""
    exclude = ["--exclude", *done] if done else []
    return [
        "build",
        "--exclude",
        "resource_type:unit_test",
        "--indirect-selection",
        "cautious",
        "--vars",
        dbt_vars,
        "--select",
        *selection.split(),
        *exclude,
    ]


@contextmanager
def api_server(deals: int, seed: int, crms: Sequence[str], workdir: Path) -> Iterator[str]:
    port_file = workdir / "port"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "l2c_demo.fake_api",
            "--deals",
            str(deals),
            "--seed",
            str(seed),
            "--crms",
            *crms,
            "--port",
            "0",
            "--port-file",
            str(port_file),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while not port_file.exists() or not port_file.read_text().strip():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{int(port_file.read_text().strip())}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def configure(base_url: str) -> None:
    """Point the sources at the server the way a user configures them: dlt env vars."""
    with urllib.request.urlopen(f"{base_url}/__admin/source_env", timeout=30) as response:
        os.environ.update(json.load(response))
    # This server enforces no limits and this benchmark times the loaders' own work: a first
    # load of a large company must not stop at the default half of Pipedrive's daily budget.
    os.environ["SOURCES__PIPEDRIVE__DAILY_TOKEN_BUDGET"] = str(10**12)
    os.environ["SOURCES__PIPEDRIVE__BUDGET_SHARE"] = "1.0"


def require_complete(results: Sequence[LoadResult]) -> None:
    """A benchmark of a partial load would time less data than it says: stop instead."""
    stopped = [f"{r.system} ({', '.join(r.stopped_early)})" for r in results if r.stopped_early]
    if stopped:
        raise SystemExit(f"the load stopped before the end: {'; '.join(stopped)}")


def timed_load(path: Path, fmt: str, systems: Sequence[str]) -> tuple[float, list[LoadResult]]:
    started = time.perf_counter()
    results = load_all(path, systems, loader_file_format=fmt)  # type: ignore[arg-type]
    require_complete(results)
    return time.perf_counter() - started, results


def report(label: str, seconds: float, results: list[LoadResult]) -> None:
    rows = sum(r.rows for r in results)
    print(f"{label:<34} {rows:>10,} records {seconds:>8.1f} s {rows / seconds:>10,.0f} records/s")


def timed_dbt(args: Sequence[str], duckdb_path: Path, target_path: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, dbt and its children) of one dbt command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run_dbt(args, duckdb_path, quiet=True, target_path=target_path)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu


def print_step(label: str, seconds: float, cpu: float) -> None:
    print(f"{label:<56} {seconds:>8.1f} s  (cpu {cpu:.1f} s)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--crms", nargs="+", default=["pipedrive"])
    parser.add_argument("--skip-insert-path", action="store_true")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="copy the loaded warehouse (before dbt) to DIR/l2c.duckdb, to time dbt on it again",
    )
    parser.add_argument(
        "--reuse",
        type=Path,
        metavar="FILE",
        help="skip the load: time dbt on a copy of a warehouse kept with --keep (same company)",
    )
    args = parser.parse_args(argv)
    systems = [*args.crms, "stripe"]
    # dlt warns about every column that stayed empty in a load; keep the figures readable
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")

    with tempfile.TemporaryDirectory(prefix="l2c-bench-") as tmp:
        work = Path(tmp)
        print(
            f"benchmark: {args.deals:,} deals, seed {args.seed}, CRMs {', '.join(args.crms)}, "
            f"{os.cpu_count()} cores"
        )
        fast_db = work / "fast" / "l2c.duckdb"
        if args.reuse is not None:
            fast_db.parent.mkdir(parents=True)
            shutil.copyfile(args.reuse, fast_db)
            print(f"no load: dbt runs on a copy of {args.reuse}")
        else:
            with api_server(args.deals, args.seed, args.crms, work) as base_url:
                configure(base_url)
                seconds, results = timed_load(fast_db, "parquet", systems)
                report("dlt load, parquet files (fast path)", seconds, results)
                for r in results:
                    report(f"  {r.system}", r.seconds, [r])
                if not args.skip_insert_path:
                    slow_db = work / "insert" / "l2c.duckdb"
                    seconds, results = timed_load(slow_db, "insert_values", systems)
                    report("dlt load, insert statements (default)", seconds, results)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fast_db, args.keep / "l2c.duckdb")
            print(f"loaded warehouse kept in {args.keep / 'l2c.duckdb'}")

        as_of = SimConfig().as_of  # the simulated 'now' (the server's company uses the default)
        dbt_vars = json.dumps({"as_of": f"{as_of:%Y-%m-%d %H:%M:%S}"})
        seconds, cpu = timed_dbt(["parse", "--vars", dbt_vars], fast_db, work / "target")
        print_step("dbt parse (cold target; once per project change)", seconds, cpu)
        total = 0.0
        done: list[str] = []
        for label, selection in BUILD_STEPS:
            seconds, cpu = timed_dbt(
                step_args(selection, done, dbt_vars),
                fast_db,
                work / "target",
            )
            done += selection.split()
            total += seconds
            print_step(f"{label} (models + data tests)", seconds, cpu)
        print(f"{'dbt build, all steps (warm parse)':<56} {total:>8.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
