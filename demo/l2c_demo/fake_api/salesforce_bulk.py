"""Salesforce Bulk API 2.0 query jobs and the record-count resource, for the fake Salesforce API
(mounted by salesforce_api under /services/data/vXX.X).

- `POST /jobs/query` with `{"operation": "query"|"queryAll", "query": SOQL, "contentType":
  "CSV", "columnDelimiter": "COMMA", "lineEnding": "LF"}` creates a job (state
  `UploadComplete`). The query is evaluated when the job is created: its results are a snapshot,
  as a job's results do not change once it ran. Parent-to-child subqueries are refused, as
  Bulk API 2.0 refuses them (child-to-parent fields such as `Opportunity.RecordTypeId` work).
- `GET /jobs/query/<id>`: the job's info; its state goes `UploadComplete` -> `InProgress` ->
  `JobComplete` once `processing_seconds` have passed since it was created (0 by default:
  complete at the first poll), or `Failed` with an `errorMessage` (see `fail_next`).
- `GET /jobs/query/<id>/results[?locator=..&maxRecords=N]`: the next set of results as CSV
  (header row, every value quoted, a null value empty and unquoted, LF line ends, datetimes
  as `2025-01-02T10:11:12.000Z`), headers `Sforce-NumberOfRecords` and `Sforce-Locator`
  (an opaque string; the text `null` after the last set). A locator can be read again while
  the job exists. Without maxRecords a set holds DEFAULT_MAX_RECORDS records (real Salesforce:
  as many as fit its response size limit). Asked for before the job completed: 400; with
  another API version than the job's: 409.
- `DELETE /jobs/query/<id>` deletes the job (204).
- `GET /limits/recordCount?sObjects=A,B`: `{"sObjects": [{"count": n, "name": "A"}, ...]}`.
Docs: developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_create_job.htm,
query_get_job_info.htm, query_get_job_results.htm; api_rest resources_record_count.htm.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from l2c_demo.fake_api.responses import Response
from l2c_demo.fake_api.soql import SoqlError, parse
from l2c_demo.simulator.render_salesforce import SalesforceView
from l2c_demo.simulator.views import Record

if TYPE_CHECKING:
    from l2c_demo.fake_api.salesforce_api import Patcher, SalesforceApi

DEFAULT_MAX_RECORDS = 100_000
MAX_JOBS = 256
_JOB = re.compile(r"^/jobs/query/([A-Za-z0-9]+)(/results)?/?$")
_SF_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})\+0000$")


class BulkError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Job:
    id: str
    operation: str
    sobject: str
    version: str
    created: float
    records: list[Record]
    fields: list[str]
    error: str | None = None
    polled: bool = False
    locators: dict[str, int] = field(default_factory=dict)  # opaque locator -> offset


class BulkQueries:
    """The query jobs of one fake org."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self.processing_seconds = 0.0
        self.fail_next = 0  # the next N jobs end Failed (test helper)
        self.result_sets: list[tuple[str, int, int]] = []  # (object, offset, records) served
        self.jobs_created: list[tuple[str, str]] = []  # (object, SOQL)

    def handle(
        self,
        api: SalesforceApi,
        view: SalesforceView,
        version: str,
        method: str,
        rest: str,
        query: dict[str, str],
        body: bytes,
        patch: Patcher,
    ) -> Response:
        try:
            if rest.rstrip("/") == "/limits/recordCount":
                return _record_counts(view, query)
            if rest.rstrip("/") == "/jobs/query":
                if method != "POST":
                    raise BulkError(
                        405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed"
                    )
                return self._create(api, view, version, body)
            match = _JOB.match(rest)
            if match is None:
                raise BulkError(404, "NOT_FOUND", "The requested resource does not exist")
            job = self._job(match.group(1))
            if match.group(2):
                if method != "GET":
                    raise BulkError(
                        405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed"
                    )
                return self._results(job, version, query, patch)
            if method == "DELETE":
                with self._lock:
                    self._jobs.pop(job.id, None)
                return Response(204, b"")
            if method != "GET":
                raise BulkError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed")
            return Response(200, self._info(job))
        except BulkError as err:
            return Response(err.status, [{"errorCode": err.code, "message": err.message}])
        except SoqlError as err:
            return Response(400, [{"errorCode": err.code, "message": err.message}])

    # ---- jobs ---------------------------------------------------------------------------
    def _create(
        self, api: SalesforceApi, view: SalesforceView, version: str, body: bytes
    ) -> Response:
        from l2c_demo.fake_api.salesforce_api import _canonical_object, _evaluate

        try:
            spec = json.loads(body or b"{}")
        except ValueError:
            raise BulkError(400, "JSON_PARSER_ERROR", "the request body is not JSON") from None
        operation = spec.get("operation")
        if operation not in ("query", "queryAll"):
            raise BulkError(400, "INVALIDJOB", f"Invalid operation: {operation!r}")
        if spec.get("contentType", "CSV") != "CSV":
            raise BulkError(400, "INVALIDJOB", "contentType must be CSV")
        if spec.get("columnDelimiter", "COMMA") != "COMMA" or spec.get("lineEnding", "LF") != "LF":
            raise BulkError(
                400, "INVALIDJOB", "this org answers COMMA-delimited, LF-ended CSV only"
            )
        text = spec.get("query")
        if not isinstance(text, str) or not text.strip():
            raise BulkError(400, "INVALIDJOB", "a query is required")
        parsed = parse(text)
        if parsed.subqueries:
            raise BulkError(
                400,
                "INVALIDJOB",
                "Bulk API 2.0 does not support parent-to-child relationship queries",
            )
        sobject = _canonical_object(view, parsed.sobject)
        records = _evaluate(view, api._index(view), parsed, version)
        job = Job(
            id=f"750{secrets.token_hex(6).upper()}",
            operation=operation,
            sobject=sobject,
            version=version,
            created=time.monotonic(),
            records=records,
            fields=list(parsed.fields),
        )
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                job.error = "InvalidBatch : Failed to process query: the fake org failed this job"
            self._jobs[job.id] = job
            while len(self._jobs) > MAX_JOBS:
                self._jobs.popitem(last=False)
            self.jobs_created.append((sobject, text))
        info = self._info(job, state="UploadComplete")
        return Response(200, info)

    def _job(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise BulkError(404, "NOT_FOUND", f"Job {job_id} not found")
        return job

    def _state(self, job: Job) -> str:
        if not job.polled:
            job.polled = True
            if self.processing_seconds > 0:
                return "UploadComplete"
        if job.error:
            return "Failed"
        if time.monotonic() - job.created >= self.processing_seconds:
            return "JobComplete"
        return "InProgress"

    def _info(self, job: Job, state: str | None = None) -> dict[str, Any]:
        state = state or self._state(job)
        info: dict[str, Any] = {
            "id": job.id,
            "operation": job.operation,
            "object": job.sobject,
            "createdById": "005000000000001AAA",
            "createdDate": time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime()),
            "systemModstamp": time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime()),
            "state": state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(job.version),
            "jobType": "V2Query",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        }
        if state == "JobComplete":
            info["numberRecordsProcessed"] = len(job.records)
            info["retries"] = 0
            info["totalProcessingTime"] = 0
        if state == "Failed":
            info["errorMessage"] = job.error
        return info

    def _results(self, job: Job, version: str, query: dict[str, str], patch: Patcher) -> Response:
        if version != job.version:
            raise BulkError(409, "INVALIDJOB", "use the API version the job was created with")
        if job.error or time.monotonic() - job.created < self.processing_seconds:
            raise BulkError(400, "INVALIDJOB", f"Job {job.id} is not in state JobComplete")
        offset = 0
        locator = query.get("locator")
        if locator:
            with self._lock:
                found = job.locators.get(locator)
            if found is None:
                raise BulkError(400, "INVALID_LOCATOR", f"invalid locator: {locator!r}")
            offset = found
        try:
            size = int(query.get("maxRecords") or DEFAULT_MAX_RECORDS)
        except ValueError:
            raise BulkError(400, "INVALIDJOB", "maxRecords must be a number") from None
        if size < 1:
            raise BulkError(400, "INVALIDJOB", "maxRecords must be positive")
        chunk = patch(job.sobject, job.records[offset : offset + size], "Id")
        end = offset + len(chunk)
        next_locator = "null"
        if end < len(job.records):
            next_locator = secrets.token_urlsafe(9)
            with self._lock:
                job.locators[next_locator] = end
        with self._lock:
            self.result_sets.append((job.sobject, offset, len(chunk)))
        return Response(
            200,
            render_csv(job.fields, chunk),
            {
                "Content-Type": "text/csv",
                "Sforce-NumberOfRecords": str(len(chunk)),
                "Sforce-Locator": next_locator,
            },
        )


def _record_counts(view: SalesforceView, query: dict[str, str]) -> Response:
    known = {name.lower(): name for name in view.describe()}
    wanted = [s.strip() for s in query.get("sObjects", "").split(",") if s.strip()]
    names = (
        [known[s.lower()] for s in wanted if s.lower() in known] if wanted else list(known.values())
    )
    counts = [{"count": len(view.objects.get(name, [])), "name": name} for name in names]
    return Response(200, {"sObjects": counts})


def _csv_value(value: Any) -> str:
    """One CSV field as Salesforce writes it: null empty and unquoted, the rest quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = json.dumps(value)
    elif isinstance(value, str):
        stamp = _SF_DATETIME.match(value)
        text = f"{stamp.group(1)}Z" if stamp else value
    else:
        text = json.dumps(value)
    return '"' + text.replace('"', '""') + '"'


def _field(record: Record, name: str) -> Any:
    """A field of an API record; `Rel.Field` reads the nested relationship record."""
    head, _, tail = name.partition(".")
    if not tail:
        return record.get(head)
    for key, value in record.items():  # relationship names are case-insensitive in SOQL
        if key.lower() == head.lower():
            return value.get(tail) if isinstance(value, dict) else None
    return None


def render_csv(fields: list[str], records: list[Record]) -> bytes:
    lines = [",".join(_csv_value(name) for name in fields)]
    lines.extend(",".join(_csv_value(_field(r, name)) for name in fields) for r in records)
    return ("\n".join(lines) + "\n").encode()
