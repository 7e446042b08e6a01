"""Salesforce Bulk API 2.0 query jobs for the large objects of the Salesforce source.

A query job reads a whole object in few requests: `POST /jobs/query` (the SOQL), `GET
/jobs/query/<id>` until the job's state is `JobComplete`, then `GET /jobs/query/<id>/results`
with `maxRecords`, following the `Sforce-Locator` response header (the text `null` after the
last set). REST `query` pages hold at most 2,000 records; a Bulk result set holds `maxRecords`
(50,000 here), so a 100,000-row object costs 4 requests instead of 50. Salesforce recommends
Bulk above about 2,000 records; a job costs at least three requests, so the default
`bulk_threshold` is 6,000 (where Bulk starts to save requests). `choose` reads the object's
record count (one `/limits/recordCount` request per run for every Bulk object) and takes Bulk
for an object above the threshold on a first load or full re-sync; an incremental run reads
the changes over REST (a few records; a Bulk job costs at least three requests and a poll
wait).

Results are CSV: untyped text, a null is an empty unquoted field. pyarrow's CSV reader parses
them (every column read as text, so nothing is guessed), then the columns the source declares
as numbers or flags are cast; relationship columns (`Opportunity.RecordTypeId`) become nested
records as REST returns them. The rows then take the same shaping, checks and rejects as REST
rows. Bulk API 2.0 refuses parent-to-child subqueries, so an object read with one (Opportunity
and its LastOpenStageName) stays on REST.
Docs: developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/
query_create_job.htm, query_get_job_info.htm, query_get_job_results.htm.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pa_csv
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import HeaderCursorPaginator
from requests import Response

from pipelines.http import stuck

if TYPE_CHECKING:
    from pipelines.salesforce import SalesforceConnection

# Salesforce advises Bulk API above about 2,000 records (one REST page). A job costs at least
# three requests (create, poll, one result set), as many as three REST pages: above 6,000
# records it costs fewer requests than REST, below it more, so that is the default.
DEFAULT_BULK_THRESHOLD = 6000
DEFAULT_MAX_RECORDS = 50_000
FINAL_STATES = ("JobComplete", "Failed", "Aborted")


@dataclass
class BulkStats:
    """Bulk requests of one source run (read by bench-api), besides RequestStats' totals."""

    objects: list[str] = field(default_factory=list)  # read through Bulk
    jobs: int = 0
    polls: int = 0
    result_sets: int = 0
    records: int = 0


# the stats of the latest source run
STATS = BulkStats()


class BulkJobFailed(RuntimeError):
    """A query job ended Failed or Aborted, or did not complete in time."""


class LocatorPaginator(HeaderCursorPaginator):
    """dlt's header cursor paginator on `Sforce-Locator` -> `locator`, where the text `null`
    means the last set, and a locator already followed stops the run (dlt's would loop)."""

    def __init__(self) -> None:
        super().__init__(cursor_key="Sforce-Locator", cursor_param="locator")
        self._seen: set[str] = set()

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        locator = response.headers.get(self.cursor_key)
        if not locator or locator == "null":
            self._next_reference = None
            return
        if locator in self._seen:
            raise stuck(response.url, f"Sforce-Locator {locator!r} was already followed")
        self._seen.add(locator)
        self._next_reference = locator


class CsvResultsClient(RESTClient):
    """dlt's RESTClient whose pages are CSV result sets (RESTClient decodes pages as JSON)."""

    def __init__(self, base: RESTClient, fields: Sequence[str], types: Mapping[str, pa.DataType]):
        super().__init__(
            base_url=base.base_url, headers=base.headers, auth=base.auth, session=base.session
        )
        self.fields = list(fields)
        self.types = types

    def extract_response(self, response: Response, data_selector: Any) -> list[Any]:
        return parse_csv(response.content, self.fields, self.types)


def parse_csv(
    body: bytes, fields: Sequence[str], types: Mapping[str, pa.DataType]
) -> list[dict[str, Any]]:
    """A Bulk result set as REST-shaped records: declared numbers and flags typed, a
    relationship field `Rel.Field` nested as {"Rel": {"Field": value}} (None when empty)."""
    if not body.strip():
        return []
    text_columns = {name: pa.string() for name in fields}
    table = pa_csv.read_csv(
        io.BytesIO(body),
        convert_options=pa_csv.ConvertOptions(
            column_types=text_columns,
            strings_can_be_null=True,  # an empty unquoted field is null
            quoted_strings_can_be_null=False,  # "" is an empty text
        ),
    )
    for index, name in enumerate(table.column_names):
        kind = types.get(name.replace(".", "__"))
        if kind is not None and (
            pa.types.is_boolean(kind) or pa.types.is_floating(kind) or pa.types.is_integer(kind)
        ):
            table = table.set_column(index, name, table.column(name).cast(kind))
    rows = table.to_pylist()
    nested = [name for name in table.column_names if "." in name]
    if nested:
        for row in rows:
            for name in nested:
                rel, _, sub = name.partition(".")
                value = row.pop(name)
                parent = row.get(rel)
                if value is None:
                    row.setdefault(rel, None)
                elif isinstance(parent, dict):
                    parent[sub] = value
                else:
                    row[rel] = {sub: value}
    return rows


class BulkReader:
    """Bulk API 2.0 queries over a Salesforce connection (its client, auth and limiter)."""

    def __init__(
        self,
        conn: SalesforceConnection,
        objects: Mapping[str, Mapping[str, pa.DataType]],
        threshold: int = DEFAULT_BULK_THRESHOLD,
        max_records: int = DEFAULT_MAX_RECORDS,
        poll_seconds: float = 0.5,
        max_poll_seconds: float = 10.0,
        timeout_seconds: float = 3600.0,
    ) -> None:
        self.conn = conn
        self.objects = objects  # object -> types of its non-text fields
        self.threshold = threshold
        self.max_records = max(1, max_records)
        self.poll_seconds = poll_seconds
        self.max_poll_seconds = max_poll_seconds
        self.timeout_seconds = timeout_seconds
        self._counts: dict[str, int] | None = None
        self._lock = threading.Lock()
        self.stats = BulkStats()
        global STATS
        STATS = self.stats

    def record_counts(self) -> dict[str, int]:
        """Records per Bulk object (`/limits/recordCount`, read once per run)."""
        with self._lock:
            if self._counts is None:
                names = sorted(o for o in self.objects if self.conn.has(o))
                body = (
                    self.conn.get(f"/limits/recordCount?sObjects={','.join(names)}")
                    if names
                    else {}
                )
                self._counts = {
                    str(item.get("name")): int(item.get("count") or 0)
                    for item in body.get("sObjects") or []
                }
            return self._counts

    def choose(self, sobject: str, first_load: bool) -> bool:
        """Bulk for a first load (or full re-sync) of a Bulk object with more records than the
        threshold (a negative threshold: never; 0: always, incremental runs too)."""
        if sobject not in self.objects or self.threshold < 0:
            return False
        if self.threshold == 0:
            return True
        return first_load and self.record_counts().get(sobject, 0) > self.threshold

    def query(
        self, soql: str, sobject: str, fields: Sequence[str]
    ) -> Iterator[list[dict[str, Any]]]:
        """Run `soql` as a query job and yield its result sets as REST-shaped records."""
        client = self.conn.client
        response = client.post(
            "/jobs/query",
            json={
                "operation": "query",
                "query": soql,
                "contentType": "CSV",
                "columnDelimiter": "COMMA",
                "lineEnding": "LF",
            },
        )
        response.raise_for_status()
        job_id = response.json()["id"]
        with self._lock:
            self.stats.objects.append(sobject)
            self.stats.jobs += 1
        self._wait(job_id, sobject)
        results = CsvResultsClient(client, fields, self.objects[sobject])
        for page in results.paginate(
            f"/jobs/query/{job_id}/results",
            params={"maxRecords": self.max_records},
            headers={"Accept": "text/csv"},
            paginator=LocatorPaginator(),
            data_selector="$",  # not detected from the body (CSV): extract_response parses it
        ):
            with self._lock:
                self.stats.result_sets += 1
                self.stats.records += len(page)
            yield page

    def _wait(self, job_id: str, sobject: str) -> None:
        deadline = time.monotonic() + self.timeout_seconds
        pause = self.poll_seconds
        while True:
            info = self.conn.get(f"/jobs/query/{job_id}")
            with self._lock:
                self.stats.polls += 1
            state = info.get("state")
            if state == "JobComplete":
                return
            if state in FINAL_STATES:
                raise BulkJobFailed(
                    f"salesforce: Bulk API query job {job_id} on {sobject} ended {state}: "
                    f"{info.get('errorMessage') or 'no error message'}"
                )
            if time.monotonic() + pause > deadline:
                raise BulkJobFailed(
                    f"salesforce: Bulk API query job {job_id} on {sobject} is still {state} "
                    f"after {self.timeout_seconds:.0f} s (BULK_TIMEOUT_SECONDS)"
                )
            time.sleep(pause)
            pause = min(pause * 1.5, self.max_poll_seconds)
