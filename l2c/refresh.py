"""The scheduled job: load every configured source, check the sources' freshness, build the
models (`dbt build` runs the raw-data checks, dbt tests on the sources, before the models that
read them), check the event log, and, only when every step passed, publish the served copies BI
tools read (a DuckDB file swapped in whole, Parquet per mart, optionally PostgreSQL). `make
demo` runs the same steps against the local demo APIs.

    l2c refresh [--duckdb warehouse/lead2cash.duckdb] [--systems pipedrive stripe]
                          [--serve-dir warehouse/served] [--postgres DSN] [--selector NAME]
                          [--wait SECONDS] [--log-json]

Exit codes: 0 success (stale sources past warn_after are logged as warnings), 1 a load failed
(system and step named), 2 wrong arguments, 3 raw-data checks failed (a dbt test on a source,
named with its system, table, column and failing rows), 4 dbt build failed otherwise,
5 event-log checks failed, 6 a source is past its freshness error_after, 7 publishing failed,
8 the report or the exports failed, 75 another job holds the warehouse, or another process
holds the working file open (nothing was touched). A failed run leaves the served copies as
they were; the next run resumes from the last successful load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dlt
import duckdb

from l2c import log
from l2c.dbt_runner import DbtError, run_dbt, unit_test_args
from l2c.export import ExportError
from l2c.lock import LockBusy, job_lock
from l2c.publish import PublishError, PublishTargets, publish, served_file
from l2c.quality import QualityError, QualityReport, check, event_log_suites
from l2c.raw_checks import RawCheckError, source_tests
from l2c.report import ReportError
from l2c.report.outputs import RunOutputs, write_run_outputs
from l2c.runlog import Run, new_run_id, record
from l2c.summary import summarize
from pipelines.load import SOURCES, LoadError, load_all

EXIT_OK = 0
EXIT_LOAD = 1
EXIT_USAGE = 2
EXIT_RAW_CHECKS = 3
EXIT_DBT = 4
EXIT_EVENT_LOG_CHECKS = 5
EXIT_STALE = 6
EXIT_PUBLISH = 7
EXIT_REPORT = 8
EXIT_BUSY = 75  # EX_TEMPFAIL: try again later


class StaleSources(RuntimeError):
    """A raw source's last load is older than its freshness error_after."""

    def __init__(self, message: str, sources: Sequence[str]) -> None:
        super().__init__(message)
        self.sources = list(sources)


class EventLogCheckError(RuntimeError):
    """The Great Expectations suites on the event log failed (after a passing dbt build)."""


@dataclass
class RefreshResult:
    run: Run
    served: Path | None
    warnings: list[str] = field(default_factory=list)  # dbt nodes that warned
    outputs: RunOutputs | None = None  # the report and exports (full builds only)


# each failure kind of a job and its exit code (see the module docstring)
EXIT_CODES: tuple[tuple[type[Exception], int], ...] = (
    (LockBusy, EXIT_BUSY),
    (LoadError, EXIT_LOAD),
    (RawCheckError, EXIT_RAW_CHECKS),  # before DbtError: the build found them
    (DbtError, EXIT_DBT),
    (EventLogCheckError, EXIT_EVENT_LOG_CHECKS),
    (StaleSources, EXIT_STALE),
    (PublishError, EXIT_PUBLISH),
    (ReportError, EXIT_REPORT),
    (ExportError, EXIT_REPORT),
)
# what a job catches and turns into its exit code; anything else is a bug and shows its traceback
JOB_FAILURES: tuple[type[Exception], ...] = tuple(kind for kind, _ in EXIT_CODES)


def exit_code(exc: BaseException) -> int:
    """The job's exit code for the failure `exc` (see the module docstring)."""
    return next((code for kind, code in EXIT_CODES if isinstance(exc, kind)), 1)


def default_serve_dir(duckdb_path: Path) -> Path:
    return Path(os.environ.get("L2C_SERVE_DIR", duckdb_path.parent / "served"))


def dbt_target(duckdb_path: Path) -> Path:
    """dbt's target folder of a warehouse: beside it, so jobs on two warehouses never share
    one run_results.json."""
    return duckdb_path.parent / "dbt_target"


def read_run_results(target: Path) -> list[dict[str, Any]]:
    path = target / "run_results.json"
    if not path.exists():
        return []
    return list(json.loads(path.read_text()).get("results", []))


def _dbt_line(line: str) -> None:
    # dbt prefixes its lines with its own clock time; ours carry the date and level
    text = line.split("  ", 1)[-1].strip() if line[:2].isdigit() else line.strip()
    # (a line of its own starts with HH:MM:SS and two spaces)
    if text:
        level = 30 if (" WARN " in line or text.startswith("Warning")) else 20
        log.get("dbt").log(level, text)


def export_pseudonymisation_key() -> None:
    """Give dbt the pseudonymisation key from dlt's secrets ([l2c] pseudonymisation_key in
    .dlt/secrets.toml, or env L2C__PSEUDONYMISATION_KEY); the staging macro pseudonymise
    reads it when var pseudonymise_personal_data or pseudonymise_rep_names is on."""
    key = dlt.secrets.get("l2c.pseudonymisation_key")
    if key:
        os.environ["L2C_PSEUDONYMISATION_KEY"] = str(key)


def _dbt_build(
    duckdb_path: Path, run: Run, dbt_vars: dict[str, object] | None, selector: str | None
) -> list[dict[str, Any]]:
    args = ["build", *unit_test_args()]
    if selector:
        args += ["--selector", selector]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    target = dbt_target(duckdb_path)
    (target / "run_results.json").unlink(missing_ok=True)
    os.environ.setdefault("DBT_USE_COLORS", "false")  # its lines go to our log, not a terminal
    export_pseudonymisation_key()
    try:
        run_dbt(args, duckdb_path, target_path=target, quiet=True, on_line=_dbt_line)
    finally:
        results = read_run_results(target)
        statuses = [r.get("status") for r in results]
        run.dbt_passed = sum(s in ("pass", "success") for s in statuses)
        run.dbt_warned = sum(s == "warn" for s in statuses)
        run.dbt_failed = sum(s in ("fail", "error") for s in statuses)
    return results


def landed_systems(duckdb_path: Path) -> list[str]:
    """The systems with dlt load records in the warehouse (loaded by this run or earlier)."""
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        schemas = {
            row[0]
            for row in con.execute(
                "select schema_name from duckdb_tables() where table_name = '_dlt_loads'"
            ).fetchall()
        }
    finally:
        con.close()
    return [system for system in SOURCES if f"raw_{system}" in schemas]


def check_freshness(
    duckdb_path: Path, systems: Sequence[str], dbt_vars: dict[str, object] | None = None
) -> tuple[list[str], list[str]]:
    """`dbt source freshness` on the systems' raw sources (age = the system's last successful
    dlt load; thresholds in dbt_project.yml): (sources past warn_after, past error_after).
    `dbt_vars` are the vars of the build that follows: with the same vars (and target folder)
    that build reuses this command's parse of the project (dbt's partial parsing) instead of
    parsing it again."""
    target = dbt_target(duckdb_path)
    select = ["--select", *(f"source:{system}" for system in systems)]
    if dbt_vars:
        select += ["--vars", json.dumps(dbt_vars)]
    (target / "sources.json").unlink(missing_ok=True)
    # dbt exits 1 when a source is past error_after; sources.json says which
    with contextlib.suppress(DbtError):
        run_dbt(["source", "freshness", *select], duckdb_path, target_path=target, quiet=True)
    path = target / "sources.json"
    if not path.exists():
        raise DbtError(f"dbt source freshness wrote no {path}")
    results = json.loads(path.read_text()).get("results", [])
    names = {r["status"]: set[str]() for r in results}
    for result in results:
        names[result["status"]].add(result["unique_id"].split(".")[2])  # source.l2c.<name>.x
    if "runtime error" in names:
        raise DbtError(
            f"dbt source freshness failed on: {', '.join(sorted(names['runtime error']))}"
        )
    return sorted(names.get("warn", set())), sorted(names.get("error", set()))


def refresh(
    duckdb_path: Path,
    systems: Sequence[str] = ("pipedrive", "stripe"),
    dbt_vars: dict[str, object] | None = None,
    *,
    targets: PublishTargets | None = None,
    selector: str | None = None,
    wait_seconds: float = 0.0,
) -> RefreshResult:
    """One refresh under the warehouse's job lock. `dbt_vars` go to `dbt build --vars` (e.g.
    the demo's as_of); `targets` default to the serve dir beside the warehouse. Raises
    LockBusy, LoadError, StaleSources, RawCheckError, DbtError, EventLogCheckError or
    PublishError, each with a message naming what failed where; on any failure the served
    copies are left as they were."""
    # dlt warns about every column that stayed empty in a load; keep the job's output short
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    targets = targets or PublishTargets(default_serve_dir(duckdb_path))
    duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with job_lock(duckdb_path, wait_seconds):
        run = Run(new_run_id(datetime.now(timezone.utc)), list(systems))
        try:
            record(duckdb_path, run)
        except duckdb.IOException as exc:  # e.g. a BI tool holding the working file open
            raise LockBusy(
                f"the working warehouse {duckdb_path} is open in another process ({exc}). "
                f"BI tools read the served copy {served_file(targets.serve_dir)}, never the "
                "working file; close the other process and run again."
            ) from exc
        try:
            result = _steps(duckdb_path, run, dbt_vars, targets, selector)
        except BaseException as exc:
            run.outcome = "failed"
            run.message = str(exc) or type(exc).__name__
            run.ended_at = datetime.now(timezone.utc)
            record(duckdb_path, run)
            log.get(run.failed_step or "refresh").error(
                "FAILED (exit %d): %s", exit_code(exc), run.message
            )
            raise
    return result


def _steps(
    duckdb_path: Path,
    run: Run,
    dbt_vars: dict[str, object] | None,
    targets: PublishTargets,
    selector: str | None,
) -> RefreshResult:
    systems = list(run.systems)
    run.failed_step = "load"
    logger = log.get("load")
    started = time.perf_counter()
    logger.info("run %s: dlt load %s -> %s", run.run_id, ", ".join(systems), duckdb_path)
    loaded = load_all(duckdb_path, systems)
    for item in loaded:
        logger.info(
            "%s: %s rows into %s, %s rejected (%.1fs)",
            item.system,
            f"{item.rows:,}",
            item.dataset,
            f"{item.rejects:,}",
            item.seconds,
        )
        if item.stopped_early:
            logger.warning(
                "%s: %s stopped before the end of what changed (token budget share): its raw "
                "tables and every mart built on them are partial until the next run continues",
                item.system,
                ", ".join(item.stopped_early),
            )
    run.rows_loaded = sum(item.rows for item in loaded)
    run.rejects = sum(item.rejects for item in loaded)
    logger.info("loaded in %.1fs", time.perf_counter() - started)

    # every system ever landed here, not only this run's: one dropped from the schedule, or
    # loaded by another job, goes stale too
    run.failed_step = "freshness"
    export_pseudonymisation_key()  # as for the build, whose parse this command's is
    warn, error = check_freshness(duckdb_path, landed_systems(duckdb_path), dbt_vars)
    run.stale_sources = sorted({*warn, *error})
    for name in warn:
        log.get("freshness").warning("source %s: last load is past its warn_after", name)
    if error:
        raise StaleSources(
            f"stale sources past their error_after: {', '.join(error)} (last successful "
            "dlt load too old; see dbt_target/sources.json); nothing was built or published",
            error,
        )

    run.failed_step = "dbt"
    started = time.perf_counter()
    log.get("dbt").info("dbt build%s", f" --selector {selector}" if selector else "")
    try:
        results = _dbt_build(duckdb_path, run, dbt_vars, selector)
    except DbtError as exc:
        # a failed test on a raw table is the raw-data checks' failure, not the models'
        failed = [test for test in source_tests(dbt_target(duckdb_path)) if test.failed]
        if failed:
            run.failed_step = "raw_checks"
            raise RawCheckError(failed) from exc
        raise
    raw_tests = source_tests(dbt_target(duckdb_path))
    log.get("raw_checks").info(
        "raw data: %d dbt source tests passed (tables not loaded have nothing to check)",
        sum(test.status == "pass" for test in raw_tests),
    )
    warnings = sorted(r["unique_id"] for r in results if r.get("status") == "warn")
    log.get("dbt").info(
        "dbt build: %s passed, %s warned, %s failed in %.1fs (log: %s)",
        run.dbt_passed,
        run.dbt_warned,
        run.dbt_failed,
        time.perf_counter() - started,
        dbt_target(duckdb_path) / "logs" / "dbt.log",
    )
    for name in warnings:
        log.get("dbt").warning("dbt warning: %s", name)
    built = {r["unique_id"] for r in results}

    quality_reports: list[QualityReport] = []
    if "model.l2c.event_log" in built:
        run.failed_step = "event_log_checks"
        try:
            report = check(duckdb_path, event_log_suites())
        except QualityError as exc:
            raise EventLogCheckError(str(exc)) from exc
        log.get("checks").info("Great Expectations on the event log:\n%s", report.render())
        quality_reports.append(report)

    outputs = None
    if not selector:
        log.get("summary").info("\n%s", summarize(duckdb_path))
        # what analysts take away, beside the working warehouse: the HTML report and the
        # OCEL 2.0 / XES exports (a partial --selector build has not every mart they read)
        run.failed_step = "report"
        outputs = write_run_outputs(
            duckdb_path, dbt_target=dbt_target(duckdb_path), quality_reports=quality_reports
        )
        log.get("report").info("report (open in a browser): %s", outputs.report.resolve())
        log.get("report").info(
            "exports: %s", ", ".join(str(path.resolve()) for path in outputs.exports.values())
        )

    # the run's row goes out with the marts, as a success (only the served copies say so until
    # the publish is through: a run killed while publishing stays `publishing` here)
    run.failed_step = "publish"
    run.outcome = "publishing"
    run.ended_at = datetime.now(timezone.utc)
    record(duckdb_path, run)
    published = publish(duckdb_path, targets, run.run_id)
    run.outcome = "success"
    tables = sum(1 for name in published.tables if name.startswith("marts."))
    log.get("publish").info(
        "published %d marts: %s, %s/<mart>.parquet%s",
        tables,
        published.duckdb_file,
        published.parquet_dir,
        ", PostgreSQL schema marts" if published.postgres else "",
    )
    run.failed_step = None
    record(duckdb_path, run)
    return RefreshResult(run, published.duckdb_file, warnings, outputs)


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """The options the refresh and the demo share: where to serve, locking, logging."""
    parser.add_argument(
        "--serve-dir",
        type=Path,
        default=None,
        help="where the served copies go (default: env L2C_SERVE_DIR, else served/ beside "
        "the warehouse file)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("L2C_PUBLISH_POSTGRES") or None,
        metavar="DSN",
        help="also publish the marts to this PostgreSQL database, in one transaction "
        "(default: env L2C_PUBLISH_POSTGRES)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=float(os.environ.get("L2C_LOCK_WAIT", "0")),
        metavar="SECONDS",
        help="when another job holds the warehouse, wait this long for it before stopping "
        "(default: env L2C_LOCK_WAIT, else 0: stop at once, exit 75)",
    )
    parser.add_argument(
        "--log-json", action="store_true", help="log one JSON object per line (default: plain)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duckdb",
        type=Path,
        default=Path(os.environ.get("L2C_DUCKDB_PATH", "warehouse/lead2cash.duckdb")),
        help="the working warehouse dlt and dbt write (default: env L2C_DUCKDB_PATH, else "
        "warehouse/lead2cash.duckdb)",
    )
    parser.add_argument(
        "--systems",
        nargs="+",
        default=os.environ.get("L2C_SYSTEMS", "pipedrive,stripe").replace(",", " ").split(),
        choices=list(SOURCES),
        help="systems to load (default: env L2C_SYSTEMS, else pipedrive stripe)",
    )
    parser.add_argument(
        "--selector",
        default=None,
        help="build only a dbt selector of selectors.yml (e.g. event_log hourly, mining "
        "nightly); default: everything",
    )
    add_job_arguments(parser)
    args = parser.parse_args(argv)
    log.setup_logging(args.log_json)
    serve_dir = args.serve_dir or default_serve_dir(args.duckdb)
    try:
        result = refresh(
            args.duckdb,
            args.systems,
            targets=PublishTargets(serve_dir, args.postgres),
            selector=args.selector,
            wait_seconds=args.wait,
        )
    except JOB_FAILURES as exc:
        return _failed(exc)
    print(f"BI file: {result.served}", flush=True)
    return EXIT_OK


def _failed(exc: BaseException) -> int:
    if isinstance(exc, LockBusy):  # the run never started: nothing was logged yet
        log.get("refresh").error("%s", exc)
    return exit_code(exc)


if __name__ == "__main__":
    raise SystemExit(main())
