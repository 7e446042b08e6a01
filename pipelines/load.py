"""Run the dlt sources into one DuckDB file: dataset `raw_<system>` per system.

    python -m pipelines.load [--duckdb PATH] [--systems pipedrive stripe] [--full-resync]

--duckdb defaults to $L2C_DUCKDB_PATH, else warehouse/lead2cash.duckdb.

Credentials and base URLs come from dlt config / environment (see each source's docstring).
Each run is incremental (with each source's look-back); `--full-resync` drops the system's
raw tables and load state and reads everything again. While a system loads, a progress line
(records, requests, rate) is printed every 10 s (redrawn in place on a terminal).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dlt
import duckdb
import pyarrow as pa
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.extract.exceptions import DataItemRequiredForDynamicTableHints
from dlt.pipeline.exceptions import PipelineStepFailed

from l2c.paths import default_duckdb_path
from pipelines.manifest import systems as manifest_systems
from pipelines.progress import EXPECTED_REQUESTS, Progress
from pipelines.resume import (
    drop_extracted_already_normalized,
    duplicate_keys,
    undo_unrecorded_copies,
)
from pipelines.validation import rejects_table


class _Sources(Mapping[str, Callable[..., Any]]):
    """The dlt source of each system of the manifest, imported on first use."""

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return manifest_systems()[name].source_factory()

    def __iter__(self) -> Iterator[str]:
        return iter(manifest_systems())

    def __len__(self) -> int:
        return len(manifest_systems())


SOURCES: Mapping[str, Callable[..., Any]] = _Sources()

LoaderFormat = Literal["parquet", "jsonl", "insert_values"]
log = logging.getLogger(__name__)


class LoadError(RuntimeError):
    """A load failed; the message says which system, which step and why."""


@dataclass
class LoadResult:
    system: str
    dataset: str
    rows_by_table: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    extract_seconds: float = 0.0  # of which reading the API (dlt's extract step)
    # CPU seconds of this process (all its threads) during the run, and each dlt step's seconds
    cpu_seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)
    # load packages a crash had left unfinished, completed before this run fetched
    resumed_packages: list[str] = field(default_factory=list)
    # resources that stopped before the end of what changed (e.g. Pipedrive's token budget
    # share): the next run continues them, but until then the raw tables are partial
    stopped_early: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(n for t, n in self.rows_by_table.items() if not t.startswith("_dlt"))

    @property
    def rejects(self) -> int:
        return self.rows_by_table.get("rejects", 0)


# Arrow pages of one table may differ in optional columns; let dlt merge such safe differences.
os.environ.setdefault("DATA_WRITER__ARROW_CONCAT_PROMOTE_OPTIONS", "default")
# Arrow tables get dlt's _dlt_load_id and _dlt_id columns like dict rows do: a table may get
# both kinds of page (validation.arrow_or_rows), and a table a dict-row loader created has
# them NOT NULL.
os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID", "true")


def not_null_columns(resource: Any) -> frozenset[str]:
    """The columns dlt's hints make NOT NULL for a resource (its primary key, merge key and
    columns declared not nullable); none when its hints depend on the item."""
    try:
        columns = resource.compute_table_schema().get("columns", {})
    except DataItemRequiredForDynamicTableHints:  # hints computed per item: none to add
        return frozenset()
    return frozenset(name for name, hints in columns.items() if hints.get("nullable") is False)


def keys_not_null(names: frozenset[str]) -> Callable[[Any], Any]:
    """A map step that marks those columns NOT NULL in an Arrow page's schema where the page
    has no null in them. pyarrow makes every column nullable, and dlt warns on every page
    whose schema disagrees with its hints (dlt keeps its hints either way)."""

    def mark(item: Any) -> Any:
        if not names or not isinstance(item, pa.Table):
            return item
        fields = [
            field.with_nullable(False)
            if field.name in names and field.nullable and item.column(field.name).null_count == 0
            else field
            for field in item.schema
        ]
        if fields == list(item.schema):
            return item
        return item.cast(pa.schema(fields, metadata=item.schema.metadata))

    return mark


def make_pipeline(
    system: str,
    duckdb_path: Path,
    pipelines_dir: Path | None = None,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> Any:
    """The system's pipeline. With `connection` (open on `duckdb_path`), dlt's load jobs share
    it: without one, dlt opens the file for each job client and closes (checkpoints) it after,
    which cost a third of the CPU of a small load (bench.dlt_floor)."""
    pipelines_dir = pipelines_dir or duckdb_path.parent / "dlt_pipelines"
    return dlt.pipeline(
        pipeline_name=f"l2c_{system}",
        destination=dlt.destinations.duckdb(connection or str(duckdb_path)),
        dataset_name=f"raw_{system}",
        pipelines_dir=str(pipelines_dir),
    )


def load_system(
    system: str,
    duckdb_path: Path,
    *,
    loader_file_format: LoaderFormat = "parquet",
    pipelines_dir: Path | None = None,
    source_kwargs: dict[str, Any] | None = None,
    full_resync: bool = False,
    progress_interval: float = 10.0,
) -> LoadResult:
    """Load one system. `full_resync`: drop its raw tables and state first (dlt refresh
    "drop_sources") and read everything again."""
    if system not in SOURCES:
        raise LoadError(f"unknown system {system!r}; known: {', '.join(sorted(SOURCES))}")
    duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    started = (time.perf_counter(), time.process_time())
    # one connection for the whole run, closed (checkpointed) when the run ends
    with duckdb.connect(str(duckdb_path)) as connection:
        result = _load_system(
            system,
            make_pipeline(system, duckdb_path, pipelines_dir, connection),
            started,
            loader_file_format=loader_file_format,
            source_kwargs=source_kwargs,
            full_resync=full_resync,
            progress_interval=progress_interval,
        )
    result.seconds = time.perf_counter() - started[0]  # the closing checkpoint included
    result.cpu_seconds = time.process_time() - started[1]
    return result


def _load_system(
    system: str,
    pipeline: Any,
    clocks: tuple[float, float],
    *,
    loader_file_format: LoaderFormat,
    source_kwargs: dict[str, Any] | None,
    full_resync: bool,
    progress_interval: float,
) -> LoadResult:
    started, cpu_started = clocks
    progress = Progress(system, interval=progress_interval)
    EXPECTED_REQUESTS.pop(system, None)
    try:
        resumed = complete_interrupted_load(system, pipeline)
        source = SOURCES[system](**(source_kwargs or {}))
        source.resources.add(rejects_table())
        for resource in source.resources.values():
            resource.add_map(progress.add)
            resource.add_map(keys_not_null(not_null_columns(resource)))
        progress.start()
        pipeline.run(
            source,
            loader_file_format=loader_file_format,
            refresh="drop_sources" if full_resync else None,
        )
    except ConfigFieldMissingException as exc:
        raise LoadError(
            f"{system}: missing configuration: {', '.join(exc.fields)}. Set them in "
            f".dlt/secrets.toml under [sources.{system}] or as environment variables, "
            f"e.g. SOURCES__{system.upper()}__{exc.fields[0].upper()}."
        ) from exc
    except PipelineStepFailed as exc:
        raise LoadError(f"{system}: dlt step '{exc.step}' failed: {exc.exception}") from exc
    finally:
        progress.stop()
    result = LoadResult(
        system,
        f"raw_{system}",
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
        resumed_packages=resumed,
    )
    for step in pipeline.last_trace.steps:
        if step.finished_at is not None:
            seconds = (step.finished_at - step.started_at).total_seconds()
            result.step_seconds[step.step] = seconds
            if step.step == "extract":
                result.extract_seconds = seconds
    result.stopped_early = stopped_resources(pipeline.state, system)
    normalize = pipeline.last_trace.last_normalize_info
    if normalize is not None:
        for table, count in normalize.row_counts.items():
            result.rows_by_table[table] = result.rows_by_table.get(table, 0) + count
    return result


def stopped_resources(state: Any, system: str) -> list[str]:
    """Resources whose state says the last run stopped before the end (`stopped_on_budget`)."""
    resources = state.get("sources", {}).get(system, {}).get("resources", {})
    return sorted(name for name, res in resources.items() if res.get("stopped_on_budget"))


def complete_interrupted_load(system: str, pipeline: Any) -> list[str]:
    """Finish the load packages a crash left behind, before anything new is fetched.

    dlt's run() would load them and return without extracting (saying so only in a log
    line). Their copy jobs that may have committed unrecorded are undone first, so no file
    loads twice (pipelines.resume); if keys are duplicated all the same, the run stops."""
    if not pipeline.has_pending_data:
        return []
    drop_extracted_already_normalized(pipeline)
    packages = [*pipeline.list_extracted_load_packages(), *pipeline.list_normalized_load_packages()]
    log.warning(
        "%s: completing an interrupted load (package %s) before fetching new data",
        system,
        ", ".join(packages),
    )
    pipeline.normalize()  # an extracted package keeps the file format it was extracted with
    for load_id in pipeline.list_normalized_load_packages():
        for undone in undo_unrecorded_copies(pipeline, load_id):
            if undone.rows:
                log.warning(
                    "%s: %d row(s) of %s committed before the crash were taken out of %s to "
                    "be loaded once",
                    system,
                    undone.rows,
                    undone.file,
                    undone.table,
                )
    pipeline.load()
    duplicates = duplicate_keys(pipeline)
    if duplicates:
        listed = "; ".join(f"{table}: {n} rows share a key" for table, n in duplicates.items())
        raise LoadError(
            f"{system}: after completing the interrupted load, keys are duplicated in "
            f"raw_{system}: {listed}. Nothing new was loaded; the tables need repair "
            "(a full reload: drop the dataset and its pipeline folder)."
        )
    return packages


def load_all(
    duckdb_path: Path,
    systems: Sequence[str] = ("pipedrive", "stripe"),
    *,
    loader_file_format: LoaderFormat = "parquet",
    pipelines_dir: Path | None = None,
    full_resync: bool = False,
) -> list[LoadResult]:
    return [
        load_system(
            system,
            duckdb_path,
            loader_file_format=loader_file_format,
            pipelines_dir=pipelines_dir,
            full_resync=full_resync,
        )
        for system in systems
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--duckdb",
        type=Path,
        default=default_duckdb_path(),
        help="the DuckDB file (default: $L2C_DUCKDB_PATH, else warehouse/lead2cash.duckdb)",
    )
    parser.add_argument("--systems", nargs="+", default=list(SOURCES))
    parser.add_argument(
        "--format", default="parquet", choices=["parquet", "jsonl", "insert_values"]
    )
    parser.add_argument(
        "--full-resync",
        action="store_true",
        help="drop each system's raw tables and load state, then read everything again",
    )
    args = parser.parse_args(argv)
    try:
        for result in load_all(
            args.duckdb, args.systems, loader_file_format=args.format, full_resync=args.full_resync
        ):
            if result.resumed_packages:
                print(f"{result.system}: first completed a load a crash had interrupted")
            print(
                f"{result.system}: {result.rows} rows into {result.dataset} "
                f"({result.rejects} rejected) in {result.seconds:.1f}s"
            )
    except LoadError as exc:
        print(f"load failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
