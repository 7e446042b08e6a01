"""Run the dlt sources into one DuckDB file: dataset `raw_<system>` per system.

    python -m pipelines.load [--duckdb PATH] [--systems pipedrive stripe]

--duckdb defaults to $L2C_DUCKDB_PATH, else warehouse/lead2cash.duckdb.

Credentials and base URLs come from dlt config / environment (see each source's docstring).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.file_drop import file_drop_source
from pipelines.oracle_cx import oracle_cx_source
from pipelines.pipedrive import pipedrive_source
from pipelines.resume import duplicate_keys, undo_unrecorded_copies
from pipelines.salesforce import salesforce_source
from pipelines.stripe import stripe_source
from pipelines.validation import rejects_table
from pipelines.zendesk_sell import zendesk_sell_source

SOURCES: dict[str, Callable[..., Any]] = {
    "pipedrive": pipedrive_source,
    "stripe": stripe_source,
    "salesforce": salesforce_source,
    "zendesk_sell": zendesk_sell_source,
    "erp": file_drop_source,
    "oracle_cx": oracle_cx_source,
}

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
    # load packages a crash had left unfinished, completed before this run fetched
    resumed_packages: list[str] = field(default_factory=list)

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


def make_pipeline(system: str, duckdb_path: Path, pipelines_dir: Path | None = None) -> Any:
    pipelines_dir = pipelines_dir or duckdb_path.parent / "dlt_pipelines"
    return dlt.pipeline(
        pipeline_name=f"l2c_{system}",
        destination=dlt.destinations.duckdb(str(duckdb_path)),
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
) -> LoadResult:
    if system not in SOURCES:
        raise LoadError(f"unknown system {system!r}; known: {', '.join(sorted(SOURCES))}")
    duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    pipeline = make_pipeline(system, duckdb_path, pipelines_dir)
    started = time.perf_counter()
    try:
        resumed = complete_interrupted_load(system, pipeline)
        source = SOURCES[system](**(source_kwargs or {}))
        source.resources.add(rejects_table())
        pipeline.run(source, loader_file_format=loader_file_format)
    except ConfigFieldMissingException as exc:
        raise LoadError(
            f"{system}: missing configuration: {', '.join(exc.fields)}. Set them in "
            f".dlt/secrets.toml under [sources.{system}] or as environment variables, "
            f"e.g. SOURCES__{system.upper()}__{exc.fields[0].upper()}."
        ) from exc
    except PipelineStepFailed as exc:
        raise LoadError(f"{system}: dlt step '{exc.step}' failed: {exc.exception}") from exc
    result = LoadResult(
        system, f"raw_{system}", seconds=time.perf_counter() - started, resumed_packages=resumed
    )
    normalize = pipeline.last_trace.last_normalize_info
    if normalize is not None:
        for table, count in normalize.row_counts.items():
            result.rows_by_table[table] = result.rows_by_table.get(table, 0) + count
    return result


def complete_interrupted_load(system: str, pipeline: Any) -> list[str]:
    """Finish the load packages a crash left behind, before anything new is fetched.

    dlt's run() would load them and return without extracting (saying so only in a log
    line). Their copy jobs that may have committed unrecorded are undone first, so no file
    loads twice (pipelines.resume); if keys are duplicated all the same, the run stops."""
    if not pipeline.has_pending_data:
        return []
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
) -> list[LoadResult]:
    return [
        load_system(
            system,
            duckdb_path,
            loader_file_format=loader_file_format,
            pipelines_dir=pipelines_dir,
        )
        for system in systems
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--duckdb",
        type=Path,
        default=Path(os.environ.get("L2C_DUCKDB_PATH") or "warehouse/lead2cash.duckdb"),
        help="the DuckDB file (default: $L2C_DUCKDB_PATH, else warehouse/lead2cash.duckdb)",
    )
    parser.add_argument("--systems", nargs="+", default=list(SOURCES))
    parser.add_argument(
        "--format", default="parquet", choices=["parquet", "jsonl", "insert_values"]
    )
    args = parser.parse_args(argv)
    try:
        for result in load_all(args.duckdb, args.systems, loader_file_format=args.format):
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
