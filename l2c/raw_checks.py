"""What the raw-data checks found in a dbt build.

The checks of a raw table are dbt data tests on its source (models/staging/<system>/
_<system>__sources.yml: keys unique and not null, not-null columns, timestamps within
2000-01-01 .. now + 1 day, amounts not negative, accepted values; generic tests in
macros/raw_checks.sql). `dbt build` runs them before the staging models that read the table and
skips everything downstream when one fails. This module reads a build's target folder
(run_results.json for the outcome, manifest.json for which source and column a test checks)
and says, per failed test, which system, table and column failed and on how many rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# what one row returned by each generic test stands for
_UNITS = {
    "unique": "duplicated value(s)",
    "unique_combination": "duplicated key(s)",
    "not_null": "row(s) with a null",
    "accepted_values": "value(s) not in {values}",
    "timestamp_in_range": "row(s) outside 2000-01-01 .. now + 1 day",
    "unix_timestamp_in_range": "row(s) outside 2000-01-01 .. now + 1 day",
    "non_negative": "row(s) below zero",
}


@dataclass(frozen=True)
class SourceTest:
    """One dbt data test on a raw table and its outcome in the build."""

    name: str  # the dbt test's name, e.g. source_unique_pipedrive_deals_id
    test: str  # the generic test: unique, not_null, timestamp_in_range, ...
    system: str  # the dbt source, i.e. the system
    relation: str  # raw_<system>.<table>
    column: str  # '' for a test on the whole table (unique_combination)
    status: str  # pass | fail | error | skipped
    failures: int | None  # rows the test returned (fail), else None
    message: str
    arguments: dict[str, Any]  # the test's arguments, e.g. accepted_values' values

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "error", "runtime error")

    def render(self) -> str:
        where = f"{self.relation}.{self.column}" if self.column else self.relation
        if self.status == "fail":
            unit = _UNITS.get(self.test, "failing row(s)")
            values = ", ".join(str(v) for v in self.arguments.get("values") or [])
            what = f"{self.failures} {unit.format(values=f'[{values}]')}"
        else:
            what = f"{self.status}: {self.message}"
        return f"{self.system}: {where}: {self.test} failed, {what} (dbt test {self.name})"


class RawCheckError(RuntimeError):
    """A dbt test on a raw table failed; the build skipped what reads that table."""

    def __init__(self, failed: list[SourceTest]) -> None:
        self.failed = failed
        lines = "\n".join(f"  x {test.render()}" for test in failed)
        super().__init__(
            f"raw-data checks failed ({len(failed)} dbt source tests; the models that read "
            f"those tables were skipped):\n{lines}"
        )


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def source_tests(target: Path) -> list[SourceTest]:
    """The build's data tests on sources (raw tables), from dbt's target folder; empty when
    the build wrote no run_results.json."""
    results = _json(target / "run_results.json").get("results", [])
    if not results:
        return []
    manifest = _json(target / "manifest.json")
    nodes, sources = manifest.get("nodes", {}), manifest.get("sources", {})
    tests = []
    for result in results:
        node = nodes.get(result.get("unique_id", ""), {})
        parents = [p for p in node.get("depends_on", {}).get("nodes", []) if p in sources]
        if node.get("resource_type") != "test" or not parents:
            continue
        source = sources[parents[0]]
        metadata = node.get("test_metadata") or {}
        tests.append(
            SourceTest(
                name=node["name"],
                test=metadata.get("name", "singular"),
                system=source["source_name"],
                relation=f"{source['schema']}.{source['identifier']}",
                column=node.get("column_name") or "",
                status=str(result.get("status")),
                failures=result.get("failures") if result.get("status") == "fail" else None,
                message=str(result.get("message") or ""),
                arguments=dict(metadata.get("kwargs") or {}),
            )
        )
    return sorted(tests, key=lambda t: (t.relation, t.column, t.name))
