"""Salesforce Bulk API 2.0: the fake's query jobs (states, CSV, locator paging, errors) and the
source reading the large objects through them, checked against a REST-only load of the same
org: the same raw tables, row for row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
from conftest import serving, table_counts

from l2c_demo.fake_api import FakeApiServer, Fault
from l2c_demo.fake_api.salesforce_api import SalesforceApi
from l2c_demo.simulator import DemoCompany, SimConfig
from pipelines.load import LoadError, load_system
from pipelines.salesforce import BULK_TYPES, FIELDS
from pipelines.salesforce_bulk import parse_csv

API = "/services/data/v62.0"
JOBS_PATH = f"/salesforce{API}/jobs/query"
QUERY_PATH = f"/salesforce{API}/query"
BULK_TABLES = {
    "Account": "accounts",
    "Contact": "contacts",
    "Lead": "leads",
    "OpportunityHistory": "opportunity_history",
    "OpportunityFieldHistory": "opportunity_field_history",
    "OpportunityLineItem": "opportunity_line_items",
    "QuoteLineItem": "quote_line_items",
    "Task": "tasks",
}


def make_company(n_deals: int = 60) -> DemoCompany:
    return DemoCompany(
        SimConfig(seed=11, n_deals=n_deals, crms=("salesforce",), crm_weights=(1.0,))
    )


def bulk_api(server: FakeApiServer) -> SalesforceApi:
    api = server.app.systems["salesforce"]
    assert isinstance(api, SalesforceApi)
    return api


def rows_of(path: Path, table: str) -> list[tuple[Any, ...]]:
    """Every row of a raw table without dlt's own columns, in key order."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            f"select * exclude (_dlt_load_id, _dlt_id) from raw_salesforce.{table} order by id"
        ).fetchall()
    finally:
        con.close()


def columns_of(path: Path, table: str) -> dict[str, str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        found = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw_salesforce' and table_name = ?",
            [table],
        ).fetchall()
        return {name: kind for name, kind in found if not name.startswith("_dlt")}
    finally:
        con.close()


@pytest.fixture(scope="module")
def company() -> DemoCompany:
    return make_company()


@pytest.fixture(scope="module")
def loads(
    company: DemoCompany, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Path, FakeApiServer]]:
    """The same org loaded over REST only, then with every Bulk object through Bulk (result
    sets of 25 records, so every object pages by locator)."""
    work = tmp_path_factory.mktemp("bulk")
    rest, bulk = work / "rest.duckdb", work / "bulk.duckdb"
    with serving(company, SOURCES__SALESFORCE__BULK_THRESHOLD="-1"):
        load_system("salesforce", rest)
    with serving(
        company,
        SOURCES__SALESFORCE__BULK_THRESHOLD="0",
        SOURCES__SALESFORCE__BULK_MAX_RECORDS="25",
    ) as server:
        load_system("salesforce", bulk)
        yield rest, bulk, server


def test_bulk_and_rest_loads_give_the_same_raw_tables(
    loads: tuple[Path, Path, FakeApiServer],
) -> None:
    rest, bulk, server = loads
    assert table_counts(bulk, "raw_salesforce") == table_counts(rest, "raw_salesforce")
    for table in BULK_TABLES.values():
        assert columns_of(bulk, table) == columns_of(rest, table), table
        assert rows_of(bulk, table) == rows_of(rest, table), table
    jobs = bulk_api(server).bulk.jobs_created
    assert sorted(sobject for sobject, _soql in jobs) == sorted(BULK_TABLES)
    assert all("ORDER BY" not in soql for _sobject, soql in jobs)
    rest_queries = [q["q"] for _m, p, q in server.request_log if p == QUERY_PATH]
    for sobject in BULK_TABLES:
        assert not [q for q in rest_queries if f" FROM {sobject} " in q], sobject
    assert any(" FROM Opportunity " in q for q in rest_queries)  # its subquery needs REST


def test_result_sets_page_by_locator(loads: tuple[Path, Path, FakeApiServer]) -> None:
    _rest, _bulk, server = loads
    api = bulk_api(server)
    sets = api.bulk.result_sets
    served = Counter[str]()
    for sobject, _offset, n in sets:
        served[sobject] += n
    view = server.app.company.salesforce_view()
    assert served == {s: len(view.objects[s]) for s in BULK_TABLES}
    assert all(n <= 25 for _s, _o, n in sets)
    paged = {sobject for sobject, offset, _n in sets if offset > 0}
    assert paged == {s for s in BULK_TABLES if len(view.objects[s]) > 25}
    results = [q for _m, p, q in server.request_log if p.endswith("/results")]
    assert all(q.get("maxRecords") == "25" for q in results)
    assert sum(1 for q in results if "locator" in q) == sum(1 for _s, o, _n in sets if o > 0)


def test_threshold_picks_bulk_for_large_objects_on_the_first_load_only(
    duckdb_path: Path,
) -> None:
    company = make_company(50)
    view = company.salesforce_view()
    sizes = {s: len(view.objects[s]) for s in BULK_TABLES}
    threshold = sorted(sizes.values())[len(sizes) // 2]
    with serving(company, SOURCES__SALESFORCE__BULK_THRESHOLD=str(threshold)) as server:
        load_system("salesforce", duckdb_path)
        api = bulk_api(server)
        chosen = {sobject for sobject, _soql in api.bulk.jobs_created}
        assert chosen == {s for s, n in sizes.items() if n > threshold}
        assert chosen and chosen != set(BULK_TABLES)
        counts = [p for _m, p, _q in server.request_log if p.endswith("/limits/recordCount")]
        assert len(counts) == 1  # one request sizes every object
        company.advance(days=20)
        before = len(api.bulk.jobs_created)
        load_system("salesforce", duckdb_path)
        assert len(api.bulk.jobs_created) == before  # the changes come over REST
    now = company.salesforce_view()
    counts_now = table_counts(duckdb_path, "raw_salesforce")
    for sobject, table in BULK_TABLES.items():
        assert counts_now[table] == len(now.objects[sobject]), table


def test_a_failed_job_stops_the_load_with_its_message(duckdb_path: Path) -> None:
    with serving(make_company(40), SOURCES__SALESFORCE__BULK_THRESHOLD="0") as server:
        bulk_api(server).bulk.fail_next = 1
        with pytest.raises(LoadError, match=r"Bulk API query job 750\w+ on \w+ ended Failed"):
            load_system("salesforce", duckdb_path)


def test_429_and_500_on_bulk_requests_are_retried(duckdb_path: Path) -> None:
    company = make_company(40)
    with serving(
        company,
        SOURCES__SALESFORCE__BULK_THRESHOLD="0",
        SOURCES__SALESFORCE__MAX_ATTEMPTS="4",
    ) as server:
        # on creating a job, then on polling it or reading its results
        server.add_fault(
            Fault(path_prefix=JOBS_PATH, method="POST", status=429, retry_after=1, times=2)
        )
        server.add_fault(Fault(path_prefix=JOBS_PATH, method="GET", status=500, times=2))
        load_system("salesforce", duckdb_path)
        fired = Counter(status for _m, _p, status in server.app.faults.fired)
    assert fired == {429: 2, 500: 2}
    counts = table_counts(duckdb_path, "raw_salesforce")
    view = company.salesforce_view()
    for sobject, table in BULK_TABLES.items():
        assert counts[table] == len(view.objects[sobject]), table


# ---- the fake's query jobs ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def session() -> Iterator[tuple[requests.Session, FakeApiServer]]:
    with FakeApiServer(make_company(40)) as server:
        api = bulk_api(server)
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {api.issue_token()}"
            yield s, server


def test_fake_job_states_csv_and_locators(
    session: tuple[requests.Session, FakeApiServer],
) -> None:
    s, server = session
    base = server.url_for("salesforce") + API
    api = bulk_api(server)
    api.bulk.processing_seconds = 0.5
    fields = FIELDS["OpportunityHistory"]
    soql = f"SELECT {', '.join(fields)} FROM OpportunityHistory"
    job = s.post(f"{base}/jobs/query", json={"operation": "query", "query": soql}).json()
    assert job["state"] == "UploadComplete" and job["id"].startswith("750")
    assert s.get(f"{base}/jobs/query/{job['id']}").json()["state"] == "UploadComplete"
    early = s.get(f"{base}/jobs/query/{job['id']}/results")
    assert early.status_code == 400
    api.bulk.processing_seconds = 0.0
    info = s.get(f"{base}/jobs/query/{job['id']}").json()
    view = server.app.company.salesforce_view()
    total = len(view.objects["OpportunityHistory"])
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == total
    rows: list[dict[str, Any]] = []
    locator, first_set = None, b""
    while True:
        params: dict[str, Any] = {"maxRecords": 7, **({"locator": locator} if locator else {})}
        page = s.get(f"{base}/jobs/query/{job['id']}/results", params=params)
        assert page.status_code == 200 and page.headers["Content-Type"] == "text/csv"
        first_set = first_set or page.content
        got = parse_csv(page.content, fields, BULK_TYPES["OpportunityHistory"])
        assert int(page.headers["Sforce-NumberOfRecords"]) == len(got) <= 7
        rows.extend(got)
        locator = page.headers["Sforce-Locator"]
        if locator == "null":
            break
    assert sorted(r["Id"] for r in rows) == sorted(
        r["Id"] for r in view.objects["OpportunityHistory"]
    )
    assert page.content.splitlines()[0].startswith(b'"Id","OpportunityId"')
    assert any(r["Opportunity"] and r["Opportunity"]["RecordTypeId"] for r in rows)
    assert all(isinstance(r["Amount"], float | None) for r in rows)
    again = s.get(f"{base}/jobs/query/{job['id']}/results", params={"maxRecords": 7})
    assert again.content == first_set  # a set can be read again while the job exists
    other = s.get(
        server.url_for("salesforce") + f"/services/data/v61.0/jobs/query/{job['id']}/results"
    )
    assert other.status_code == 409
    assert s.delete(f"{base}/jobs/query/{job['id']}").status_code == 204
    assert s.get(f"{base}/jobs/query/{job['id']}").status_code == 404


def test_fake_refuses_what_bulk_refuses(session: tuple[requests.Session, FakeApiServer]) -> None:
    s, server = session
    base = server.url_for("salesforce") + API
    sub = "SELECT Id, (SELECT StageName FROM OpportunityHistories) FROM Opportunity"
    answer = s.post(f"{base}/jobs/query", json={"operation": "query", "query": sub})
    assert answer.status_code == 400 and "parent-to-child" in answer.json()[0]["message"]
    wrong = s.post(
        f"{base}/jobs/query", json={"operation": "delete", "query": "SELECT Id FROM Lead"}
    )
    assert wrong.status_code == 400
    counts = s.get(f"{base}/limits/recordCount", params={"sObjects": "Lead,Task"}).json()
    view = server.app.company.salesforce_view()
    assert {c["name"]: c["count"] for c in counts["sObjects"]} == {
        "Lead": len(view.objects["Lead"]),
        "Task": len(view.objects["Task"]),
    }


def test_csv_values_keep_nulls_empty_texts_quotes_and_types() -> None:
    body = (
        b'"Id","Name","IsClosed","Amount","Opportunity.RecordTypeId"\n'
        b'"1","say ""hi"", then, go",,"1000.5","012A"\n'
        b'"2","","false",,\n'
    )
    types = {
        "IsClosed": BULK_TYPES["Task"]["IsClosed"],
        "Amount": BULK_TYPES["OpportunityHistory"]["Amount"],
    }
    fields = ["Id", "Name", "IsClosed", "Amount", "Opportunity.RecordTypeId"]
    assert parse_csv(body, fields, types) == [
        {
            "Id": "1",
            "Name": 'say "hi", then, go',
            "IsClosed": None,
            "Amount": 1000.5,
            "Opportunity": {"RecordTypeId": "012A"},
        },
        {"Id": "2", "Name": "", "IsClosed": False, "Amount": None, "Opportunity": None},
    ]
    assert parse_csv(b"", fields, types) == []
