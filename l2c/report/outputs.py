"""What a run leaves for analysts beside its warehouse: the HTML report and the OCEL 2.0 / XES
exports. One call for the jobs (the demo, and the scheduled refresh after its build):

    write_run_outputs(duckdb_path, dbt_target=..., quality_reports=...)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from l2c.export import export
from l2c.quality import QualityReport
from l2c.report import write_report


@dataclass(frozen=True)
class RunOutputs:
    report: Path
    exports: dict[str, Path]


def write_run_outputs(
    duckdb_path: Path,
    *,
    dbt_target: Path | None = None,
    quality_reports: Sequence[QualityReport] | None = None,
) -> RunOutputs:
    """<dir of duckdb_path>/report.html and <dir>/exports/lead2cash.{ocel2.sqlite,ocel2.json,
    xes}. Raises ReportError or ExportError when the warehouse lacks the marts."""
    duckdb_path = Path(duckdb_path)
    report = write_report(
        duckdb_path,
        duckdb_path.parent / "report.html",
        dbt_target=dbt_target,
        quality_reports=quality_reports,
    )
    return RunOutputs(report, export(duckdb_path, duckdb_path.parent / "exports"))
