"""Finishing a load that a crash (kill -9, power loss) interrupted, without loading any file
twice.

dlt loads each file of a load package with one copy job (DuckDB: `INSERT INTO ... SELECT *
FROM read_parquet(file)`, committed at once). Only after the job's connection is closed does
dlt write the marker saying the job committed; a crash in between leaves the job "started",
and dlt runs it again when it resumes the package. For a merge table the second copy doubles
the rows in the staging table, and dlt's merge of a table with child tables picks the root
rows to insert by `_dlt_id` (`_dlt_id IN (deduplicated ids)`), which keeps both copies:
the records double in the warehouse (child tables are deduplicated by dlt, roots are not).

So before resuming, `undo_unrecorded_copies` deletes from the job's table (staging or final)
the rows whose `_dlt_id` is in the job's file: rows of that file only (dlt gives every row a
new `_dlt_id`). The re-run then inserts them once. `duplicate_keys` checks the result.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_READERS = {"parquet": "read_parquet", "jsonl": "read_json"}


@dataclass(frozen=True)
class Undone:
    table: str
    file: str
    rows: int | None  # None: the file's rows could not be identified (see warning)


def _existing_tables(client: Any, dataset: str) -> set[str]:
    rows = client.execute_sql(
        "select table_name from information_schema.tables where table_schema = %s", dataset
    )
    return {row[0] for row in rows or []}


def undo_unrecorded_copies(pipeline: Any, load_id: str) -> list[Undone]:
    """Delete what the package's started jobs may have committed (see the module docstring);
    jobs dlt recorded as committed (a pending transition) are left to dlt."""
    # dlt exposes started jobs (get_load_package_info) but not their pending transitions
    packages = pipeline._get_load_storage().normalized_packages
    started = pipeline.get_load_package_info(load_id).jobs.get("started_jobs", [])
    undone: list[Undone] = []
    if not started:
        return undone
    with pipeline.sql_client() as client:
        datasets = [client.dataset_name, client.staging_dataset_name]
        tables = {dataset: _existing_tables(client, dataset) for dataset in datasets}
        for job in started:
            file_name = os.path.basename(job.file_path)
            if packages.load_pending_transition(load_id, file_name) is not None:
                continue
            table = job.job_file_info.table_name
            file_format = job.job_file_info.file_format
            if file_format == "sql" or table.startswith("_dlt"):
                # a merge job runs in one transaction and rebuilds from staging (running it
                # again changes nothing); dlt's own tables are bookkeeping (the state table
                # is read by version), not records
                continue
            reader = _READERS.get(file_format)
            if reader is None:
                log.warning(
                    "%s: job %s (%s) may have committed before the crash and cannot be "
                    "undone; the keys are checked after the load",
                    pipeline.pipeline_name,
                    file_name,
                    job.job_file_info.file_format,
                )
                undone.append(Undone(table, file_name, None))
                continue
            path = job.file_path.replace("'", "''")
            deleted = 0
            for dataset in datasets:
                if table not in tables[dataset]:
                    continue
                qualified = f'"{dataset}"."{table}"'
                rows = client.execute_sql(
                    f"delete from {qualified} where _dlt_id in "
                    f"(select _dlt_id from {reader}('{path}'))"
                )
                deleted += int(rows[0][0]) if rows else 0
            undone.append(Undone(table, file_name, deleted))
    return undone


def duplicate_keys(pipeline: Any) -> dict[str, int]:
    """Per table of the pipeline's schema: rows whose key another row also has (the primary
    key for records, dlt's `_dlt_id` for child tables). Empty when every key is unique."""
    schema = pipeline.default_schema
    found: dict[str, int] = {}
    with pipeline.sql_client() as client:
        existing = _existing_tables(client, client.dataset_name)
        for table in schema.data_tables():
            name = table["name"]
            columns = table.get("columns", {})
            key = [c for c, spec in columns.items() if spec.get("primary_key")]
            if not key and "_dlt_id" in columns:
                key = ["_dlt_id"]
            if not key or name not in existing:
                continue
            cols = ", ".join(f'"{c}"' for c in key)
            rows = client.execute_sql(
                f"select coalesce(sum(n), 0) from (select count(*) as n from "
                f'"{client.dataset_name}"."{name}" group by {cols} having count(*) > 1)'
            )
            if rows and rows[0][0]:
                found[f"{name} ({', '.join(key)})"] = int(rows[0][0])
    return found
