"""dlt's minimum cost per load run: the same tables as each system's load, one row each, no HTTP.

    python -m bench.dlt_floor [--systems oracle_cx salesforce stripe] [--repeat 3]

For each system the real source is first run once, untimed, against the fake API (no latency,
no limits, `--sample-deals` deals per CRM) while a map step keeps the first record each
resource yields for each table (the rejects variant included, with its hints). The timed part
replays those records, one per table, through a pipeline made like pipelines.load's (same
dlt, DuckDB destination, pipeline and dataset names, parquet loader files, the source's schema
and each resource's hints, `rejects` declared), twice: a first run into a new DuckDB file and
a second run into the same one (existing tables, merges, state sync), as the first and the
incremental loads do. Each resource also writes its resource state, as the incremental
cursors do. What this costs is the part of every load that no loader on dlt avoids: the fixed
cost of extract, normalize and load per run and per table. Printed per system: wall and CPU
seconds (this process and its children), and per dlt step (pipeline.last_trace), best and
median of `--repeat` runs, each run in a fresh pipelines folder.
"""

from __future__ import annotations

import argparse
import copy
import resource as rusage
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
from dlt.extract.items import DataItemWithMeta
from dlt.extract.source import DltSource

from bench.api import SYSTEMS, api_server, configure
from pipelines.load import SOURCES, LoaderFormat, make_pipeline
from pipelines.validation import rejects_table

# (resource, table variant or None) -> the first record seen, and its meta (hints) if any
Samples = dict[tuple[str, str | None], tuple[Any, Any]]


def _one(item: Any) -> Any:
    if isinstance(item, pa.Table):
        return item.slice(0, 1)
    if isinstance(item, list):
        return item[:1]
    return item


def _nested_lists(value: Any, path: str = "") -> set[str]:
    """The paths of the non-empty lists in a record: each becomes a child table in dlt."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            found |= _nested_lists(inner, f"{path}.{key}")
    elif isinstance(value, list) and value:
        found.add(path)
        for inner in value:
            found |= _nested_lists(inner, path)
    return found


def capture(systems: Sequence[str], deals: int, seed: int, work: Path) -> dict[str, Samples]:
    """Run the real sources once against the fake API; keep the first record per
    resource/table, and for a record with nested lists (dlt's child tables) as few records
    as cover every child table seen."""
    found: dict[str, Samples] = {}
    with api_server(deals, seed, work, 0.0, False) as url:
        configure(url, enforce=False)
        for system in systems:
            samples: Samples = found.setdefault(system, {})
            covered: dict[tuple[str, str | None], set[str]] = {}
            source = SOURCES[system]()
            for res in source.resources.values():

                def keep(
                    item: Any,
                    meta: Any = None,
                    name: str = res.name,
                    into: Samples = samples,
                    covered: dict[tuple[str, str | None], set[str]] = covered,
                ) -> Any:
                    table = getattr(meta, "table_name", None) if meta is not None else None
                    key = (name, table)
                    if key not in into:
                        into[key] = (copy.deepcopy(_one(item)), meta)
                        covered[key] = _nested_lists(item)
                    elif isinstance(item, dict) and not _nested_lists(item) <= covered[key]:
                        rows, _ = into[key]
                        rows = rows if isinstance(rows, list) else [rows]
                        into[key] = ([*rows, copy.deepcopy(item)], meta)
                        covered[key] |= _nested_lists(item)
                    return item

                res.add_map(keep)
            path = work / f"sample-{system}.duckdb"
            make_pipeline(system, path, work / "sample_pipes").run(
                source, loader_file_format="parquet"
            )
    return found


def replay_source(system: str, samples: Samples, run: int) -> DltSource:
    """The real source's schema and resource hints, each resource yielding its sampled rows."""
    real = SOURCES[system]()  # builds resources only; nothing is requested until iterated
    resources = []
    for res in real.resources.values():
        mine = [(t, i, m) for (n, t), (i, m) in samples.items() if n == res.name]

        def rows(mine: list[tuple[Any, Any, Any]] = mine, name: str = res.name) -> Iterator[Any]:
            dlt.current.resource_state()["replayed"] = run  # state changes every run
            for _table, item, meta in mine:
                yield DataItemWithMeta(meta, item) if meta is not None else item

        new = dlt.resource(rows(), name=res.name)
        hints = copy.deepcopy({k: v for k, v in (res._hints or {}).items() if k != "incremental"})
        new._hints = hints or None
        new._hints_variants = copy.deepcopy(getattr(res, "_hints_variants", {}))
        resources.append(new)
    resources.append(rejects_table())
    return DltSource(real.schema.clone(), real.section, resources)


@dataclass
class Timing:
    wall: float
    cpu: float
    steps: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # rows per table written


def _cpu() -> float:
    own = rusage.getrusage(rusage.RUSAGE_SELF)
    kids = rusage.getrusage(rusage.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed_run(
    system: str,
    samples: Samples,
    path: Path,
    pipes: Path,
    run: int,
    shared: bool,
    file_format: LoaderFormat = "parquet",
) -> Timing:
    """One run as pipelines.load_system makes it: `shared`, one DuckDB connection for the run
    (closed at its end, included); else dlt's own per-job-client connections."""
    source = replay_source(system, samples, run)
    wall, cpu = time.perf_counter(), _cpu()
    connection = duckdb.connect(str(path)) if shared else None
    pipeline = make_pipeline(system, path, pipes, connection)
    pipeline.run(source, loader_file_format=file_format)
    if connection is not None:
        connection.close()
    timing = Timing(time.perf_counter() - wall, _cpu() - cpu)
    normalized = pipeline.last_trace.last_normalize_info
    if normalized is not None:
        timing.rows = {t: n for t, n in normalized.row_counts.items() if not t.startswith("_dlt")}
    for step in pipeline.last_trace.steps:
        if step.finished_at is not None:
            timing.steps[step.step] = (step.finished_at - step.started_at).total_seconds()
    return timing


def summary(label: str, timings: list[Timing]) -> str:
    walls = [t.wall for t in timings]
    cpus = [t.cpu for t in timings]
    steps = sorted({s for t in timings for s in t.steps})
    parts = ", ".join(
        f"{s} {statistics.median(t.steps.get(s, 0.0) for t in timings):.2f}" for s in steps
    )
    return (
        f"{label}: wall {min(walls):.2f} s best, {statistics.median(walls):.2f} median; "
        f"CPU {min(cpus):.2f} s best, {statistics.median(cpus):.2f} median (steps, median: {parts})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--systems", nargs="+", default=["oracle_cx", "salesforce", "stripe"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample-deals", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--format", default="parquet", choices=["parquet", "jsonl", "insert_values"]
    )
    parser.add_argument(
        "--per-job-connections",
        action="store_true",
        help="let dlt open the DuckDB file per job client (dlt's default) instead of one "
        "connection per run (pipelines.load's)",
    )
    args = parser.parse_args(argv)
    bad = set(args.systems) - set(SYSTEMS)
    if bad:
        parser.error(f"unknown systems: {', '.join(sorted(bad))}")
    shared = not args.per_job_connections
    with tempfile.TemporaryDirectory(prefix="dlt-floor-") as tmp:
        work = Path(tmp)
        found = capture(args.systems, args.sample_deals, args.seed, work)
        for system in args.systems:
            samples = found[system]
            first: list[Timing] = []
            again: list[Timing] = []
            for run in range(args.repeat):
                folder = work / f"{system}-{run}"
                folder.mkdir()
                path, pipes = folder / "floor.duckdb", folder / "pipes"
                first.append(timed_run(system, samples, path, pipes, 2 * run, shared, args.format))
                again.append(
                    timed_run(system, samples, path, pipes, 2 * run + 1, shared, args.format)
                )
            how = "one connection per run" if shared else "dlt's connection per job client"
            how += f", {args.format} files"
            rows = first[0].rows
            print(
                f"{system}: {len(rows)} tables, {sum(rows.values())} rows ({how})",
                flush=True,
            )
            print("  " + summary("first run", first), flush=True)
            print("  " + summary("second run", again), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
