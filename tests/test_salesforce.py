"""Salesforce end to end: the fake REST API (OAuth, SOQL, nextRecordsUrl paging, errors), the
dlt source over real HTTP (paging on every resource, incremental loads, retries, re-auth,
rejects, CPQ discovery) and the warehouse built from pipedrive + salesforce + stripe, checked
against the simulator's ground truth."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import approval_kpis
import campaign_kpis
import duckdb
import lead_kpis
import pytest
import requests
from conftest import only_systems, query, serving, table_counts

from l2c.dbt_runner import EVENT_LOG_BUILD, ROOT, run_dbt
from l2c_demo.fake_api import FakeApiServer, Fault
from l2c_demo.fake_api.salesforce_api import SalesforceApi
from l2c_demo.simulator import DemoCompany, SimConfig
from l2c_demo.simulator.crms import salesforce_id
from l2c_demo.simulator.render_salesforce import RECORD_TYPES, SalesforceView
from l2c_demo.simulator.segments import BEST_CAMPAIGN, WORST_CAMPAIGN
from pipelines.load import LoadError, load_all, load_system

# the company's systems only: no other system's empty staging models and tests
dbt_systems = only_systems("pipedrive", "salesforce", "stripe")

API = "/services/data/v62.0"
QUERY_PATH = f"/salesforce{API}/query"
# raw table -> SObject it is loaded from
TABLES = {
    "users": "User",
    "user_roles": "UserRole",
    "record_types": "RecordType",
    "opportunity_stages": "OpportunityStage",
    "accounts": "Account",
    "contacts": "Contact",
    "leads": "Lead",
    "opportunities": "Opportunity",
    "opportunity_history": "OpportunityHistory",
    "opportunity_field_history": "OpportunityFieldHistory",
    "opportunity_line_items": "OpportunityLineItem",
    "quotes": "Quote",
    "quote_line_items": "QuoteLineItem",
    "orders": "Order",
    "tasks": "Task",
    "process_instances": "ProcessInstance",
    "process_instance_steps": "ProcessInstanceStep",
    "contracts": "Contract",
    "campaigns": "Campaign",
    "campaign_members": "CampaignMember",
    "products": "Product2",
}


def make_company(n_deals: int = 240, cpq: bool = False) -> DemoCompany:
    return DemoCompany(
        SimConfig(
            seed=7,
            n_deals=n_deals,
            crms=("pipedrive", "salesforce"),
            crm_weights=(0.5, 0.5),
            high_discount_rep_index=5,  # a Salesforce rep: approval requests even in small orgs
            extra={"salesforce_cpq": cpq},
        )
    )


def sf_api(server: FakeApiServer) -> SalesforceApi:
    api = server.app.systems["salesforce"]
    assert isinstance(api, SalesforceApi)
    return api


def sf_env(server: FakeApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in server.source_env().items():
        if key.startswith("SOURCES__SALESFORCE__"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("SOURCES__SALESFORCE__MAX_ATTEMPTS", "4")


def view_counts(view: SalesforceView) -> dict[str, int]:
    return {table: len(view.objects.get(sobject, [])) for table, sobject in TABLES.items()}


def raw_counts(path: Path) -> dict[str, int]:
    counts = table_counts(path, "raw_salesforce")
    return {table: counts.get(table, 0) for table in TABLES}


# ---- the fake API ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def api_server() -> Iterator[FakeApiServer]:
    with FakeApiServer(make_company(160)) as srv:
        yield srv


def _token(server: FakeApiServer, secret: str | None = None) -> requests.Response:
    api = sf_api(server)
    return requests.post(
        server.url_for("salesforce") + "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": api.client_id,
            "client_secret": secret or api.client_secret,
        },
        timeout=10,
    )


@pytest.fixture()
def sf(api_server: FakeApiServer) -> Iterator[requests.Session]:
    body = _token(api_server).json()
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {body['access_token']}"
        session.base_url = body["instance_url"]  # type: ignore[attr-defined]
        yield session


def _soql(session: requests.Session, soql: str, batch: int | None = None) -> requests.Response:
    headers = {"Sforce-Query-Options": f"batchSize={batch}"} if batch else {}
    base = session.base_url  # type: ignore[attr-defined]
    return session.get(f"{base}{API}/query", params={"q": soql}, headers=headers, timeout=10)


def _walk(session: requests.Session, soql: str, batch: int) -> tuple[list[dict[str, Any]], int]:
    body = _soql(session, soql, batch).json()
    rows, pages = list(body["records"]), 1
    total = body["totalSize"]
    while not body["done"]:
        url = session.base_url + body["nextRecordsUrl"]  # type: ignore[attr-defined]
        body = session.get(url, headers={"Sforce-Query-Options": f"batchSize={batch}"}).json()
        rows.extend(body["records"])
        pages += 1
        assert body["totalSize"] == total
    return rows, pages


def test_oauth_client_credentials_and_bearer_auth(api_server: FakeApiServer) -> None:
    ok = _token(api_server)
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"] == "Bearer" and body["instance_url"].endswith("/salesforce")
    bad = _token(api_server, secret="wrong")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client"

    url = f"{body['instance_url']}{API}/query"
    anonymous = requests.get(url, params={"q": "SELECT Id FROM Lead"}, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert requests.get(url, params={"q": "SELECT Id FROM Lead"}, headers=auth).status_code == 200
    sf_api(api_server).revoke_tokens()
    expired = requests.get(url, params={"q": "SELECT Id FROM Lead"}, headers=auth, timeout=10)
    assert expired.status_code == 401


def test_query_pages_with_next_records_url(api_server: FakeApiServer, sf: requests.Session) -> None:
    view = api_server.company.salesforce_view()
    expected = {r["Id"] for r in view.objects["OpportunityHistory"]}
    rows, pages = _walk(sf, "SELECT Id, StageName FROM OpportunityHistory", batch=100)
    assert {r["Id"] for r in rows} == expected and len(rows) == len(expected)
    assert pages == -(-len(expected) // 100)
    assert rows[0]["attributes"]["type"] == "OpportunityHistory"
    first = _soql(sf, "SELECT Id FROM OpportunityHistory", batch=100).json()
    assert first["nextRecordsUrl"].startswith(f"{API}/query/01g")
    assert first["nextRecordsUrl"].endswith("-100")
    # the default batch is 2000
    assert _soql(sf, "SELECT Id FROM OpportunityHistory").json()["done"] is (len(expected) <= 2000)
    gone = sf.get(sf.base_url + f"{API}/query/01gNOSUCHLOCATOR-100")  # type: ignore[attr-defined]
    assert gone.status_code == 400 and gone.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_soql_filters_order_relationships_and_subqueries(
    api_server: FakeApiServer, sf: requests.Session
) -> None:
    view = api_server.company.salesforce_view()
    opps = view.objects["Opportunity"]
    cut = sorted(o["SystemModstamp"] for o in opps)[len(opps) // 2]
    since = cut.replace(".000+0000", "Z")
    rows, _ = _walk(
        sf,
        f"SELECT Id, SystemModstamp FROM Opportunity WHERE SystemModstamp >= {since} "
        "ORDER BY SystemModstamp ASC, Id ASC",
        batch=25,
    )
    assert {r["Id"] for r in rows} == {o["Id"] for o in opps if o["SystemModstamp"] >= cut}
    assert [r["SystemModstamp"] for r in rows] == sorted(r["SystemModstamp"] for r in rows)
    strict, _ = _walk(sf, f"SELECT Id FROM Opportunity WHERE SystemModstamp > {since}", 500)
    assert len(strict) == sum(1 for o in opps if o["SystemModstamp"] > cut)

    history = _soql(
        sf, "SELECT Id, Opportunity.RecordTypeId FROM OpportunityHistory ORDER BY Id DESC LIMIT 3"
    ).json()["records"]
    assert len(history) == 3 and history[0]["Id"] > history[1]["Id"]
    assert history[0]["Opportunity"]["RecordTypeId"].startswith("012")

    closed = _soql(
        sf,
        "SELECT Id, StageName, (SELECT StageName FROM OpportunityHistories WHERE StageName "
        "NOT IN ('Closed Won', 'Closed Lost') ORDER BY CreatedDate DESC LIMIT 1) "
        "FROM Opportunity WHERE IsClosed = true LIMIT 20",
    ).json()["records"]
    assert closed and all(r["StageName"] in ("Closed Won", "Closed Lost") for r in closed)
    last_open = [r["OpportunityHistories"]["records"][0]["StageName"] for r in closed]
    assert not {"Closed Won", "Closed Lost"} & set(last_open)

    record_types = _soql(sf, "SELECT Id FROM RecordType WHERE SobjectType = 'Opportunity'")
    assert record_types.json()["totalSize"] == 2


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Opportunityy", "INVALID_TYPE"),
        ("SELECT Id, NoSuchField FROM Opportunity", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE IsConverted = true OR Status = 'x'", "MALFORMED_QUERY"),
        ("SELECT COUNT() FROM Lead", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity WHERE CreatedDate > yesterday", "MALFORMED_QUERY"),
    ],
)
def test_unsupported_or_wrong_soql_is_a_salesforce_400(
    sf: requests.Session, soql: str, code: str
) -> None:
    response = _soql(sf, soql)
    assert response.status_code == 400
    body = response.json()
    assert isinstance(body, list) and body[0]["errorCode"] == code and body[0]["message"]


def test_sobjects_and_stage_picklists(api_server: FakeApiServer, sf: requests.Session) -> None:
    base = sf.base_url + API  # type: ignore[attr-defined]
    names = {o["name"] for o in sf.get(base + "/sobjects").json()["sobjects"]}
    assert {"Opportunity", "OpportunityHistory", "Quote", "Order"} <= names
    assert "SBQQ__Quote__c" not in names
    with FakeApiServer(make_company(60, cpq=True)) as cpq_server:
        token = _token(cpq_server).json()
        cpq_names = {
            o["name"]
            for o in requests.get(
                f"{token['instance_url']}{API}/sobjects",
                headers={"Authorization": f"Bearer {token['access_token']}"},
                timeout=10,
            ).json()["sobjects"]
        }
    assert "SBQQ__Quote__c" in cpq_names
    expansion = salesforce_id("012", 2)
    values = sf.get(
        f"{base}/ui-api/object-info/Opportunity/picklist-values/{expansion}/StageName"
    ).json()["values"]
    assert [v["value"] for v in values if not v["attributes"]["closed"]] == [
        "Qualification",
        "Proposal/Price Quote",
        "Negotiation/Review",
    ]


def test_faults_and_malformed_records_use_the_salesforce_shape(
    api_server: FakeApiServer, sf: requests.Session
) -> None:
    api_server.add_fault(Fault(path_prefix=QUERY_PATH, status=429, retry_after=2, times=1))
    throttled = _soql(sf, "SELECT Id FROM Lead")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert throttled.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    lead = api_server.company.salesforce_view().objects["Lead"][0]["Id"]
    api_server.malform("salesforce.Lead", lead, "CreatedDate", "soon")
    rows = _soql(sf, "SELECT Id, CreatedDate FROM Lead").json()["records"]
    assert {r["Id"]: r["CreatedDate"] for r in rows}[lead] == "soon"
    assert all("id" not in r for r in rows)


# ---- the dlt source ----------------------------------------------------------------------------
@pytest.fixture
def company() -> DemoCompany:
    return make_company()


@pytest.fixture
def server(company: DemoCompany, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiServer]:
    with FakeApiServer(company, port=0) as srv:
        sf_env(srv, monkeypatch)
        yield srv


def _served(server: FakeApiServer, since: int = 0) -> Counter[str]:
    """Rows served per SObject from pages_served[since:]."""
    rows: Counter[str] = Counter()
    for sobject, _offset, n in sf_api(server).pages_served[since:]:
        rows[sobject] += n
    return rows


def test_every_resource_pages_and_loads_exactly_once(
    duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = make_company(40)  # small: every query is read one record per page
    view = company.salesforce_view()
    assert min(view_counts(view).values()) >= 2
    with FakeApiServer(company) as server:
        sf_env(server, monkeypatch)
        monkeypatch.setenv("SOURCES__SALESFORCE__PAGE_SIZE", "1")
        load_system("salesforce", duckdb_path)
    assert raw_counts(duckdb_path) == view_counts(view)
    paged = {sobject for sobject, offset, _n in sf_api(server).pages_served if offset > 0}
    assert set(TABLES.values()) <= paged, set(TABLES.values()) - paged
    assert all(q.get("q") is None for _m, p, q in server.request_log if "/query/01g" in p)
    for table in TABLES:
        dupes = query(
            duckdb_path, f"select count(*) - count(distinct id) from raw_salesforce.{table}"
        )
        assert dupes[0][0] == 0, table
    picklists = query(duckdb_path, "select count(*) from raw_salesforce.stage_picklist_values")
    assert picklists[0][0] == sum(len(v) for v in view.stage_picklists.values())


def test_second_load_fetches_only_the_boundary_and_changes_nothing(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    load_system("salesforce", duckdb_path)
    before = table_counts(duckdb_path, "raw_salesforce")
    mark = len(sf_api(server).pages_served)
    server.clear_log()
    load_system("salesforce", duckdb_path)
    assert table_counts(duckdb_path, "raw_salesforce") == before
    served = _served(server, mark)
    view = company.salesforce_view()
    # only the rows sitting exactly on the stored cursor are served again (>= is inclusive)
    for sobject, cursor in (
        ("Opportunity", "SystemModstamp"),
        ("OpportunityHistory", "CreatedDate"),
        ("ProcessInstanceStep", "CreatedDate"),
        ("Contract", "SystemModstamp"),
    ):
        newest = max(r[cursor] for r in view.objects[sobject])
        assert served[sobject] == sum(1 for r in view.objects[sobject] if r[cursor] == newest)
    queries = [q["q"] for _m, p, q in server.request_log if p == QUERY_PATH]
    assert any("FROM Opportunity WHERE SystemModstamp >= 20" in q for q in queries)


def test_incremental_load_after_the_company_moves_on(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    load_system("salesforce", duckdb_path)
    before = company.salesforce_view()
    first = {o["Id"]: o for o in before.objects["Opportunity"]}
    cursor = max(o["SystemModstamp"] for o in first.values())
    history_cursor = max(r["CreatedDate"] for r in before.objects["OpportunityHistory"])
    company.advance(days=45)
    mark = len(sf_api(server).pages_served)
    load_system("salesforce", duckdb_path)

    view = company.salesforce_view()
    assert raw_counts(duckdb_path) == view_counts(view)
    now = {o["Id"]: o for o in view.objects["Opportunity"]}
    changed = {i for i, o in now.items() if o["SystemModstamp"] >= cursor}
    assert set(now) - set(first), "the simulator should have created opportunities"
    assert changed - set(first) != changed, "the simulator should have changed opportunities"
    assert _served(server, mark)["Opportunity"] == len(changed)
    history = view.objects["OpportunityHistory"]
    new_history = [r for r in history if r["CreatedDate"] >= history_cursor]
    assert len(new_history) > 5, "the simulator should have added history"
    assert _served(server, mark)["OpportunityHistory"] == len(new_history)
    stored = dict(query(duckdb_path, "select id, stage_name from raw_salesforce.opportunities"))
    assert stored == {i: o["StageName"] for i, o in now.items()}


def test_recovers_from_429_500_and_an_expired_token(
    server: FakeApiServer,
    company: DemoCompany,
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server.add_fault(Fault(path_prefix=QUERY_PATH, status=429, retry_after=1, times=2))
    server.add_fault(Fault(path_prefix="/salesforce/services/oauth2/token", status=500, times=1))
    server.add_fault(Fault(path_prefix=f"/salesforce{API}/sobjects", status=503, times=1))
    server.add_fault(Fault(path_prefix=f"/salesforce{API}/ui-api", delay_seconds=0.3, times=1))
    # a stale ready-made token: the source renews it with the client credentials on 401
    monkeypatch.setenv("SOURCES__SALESFORCE__ACCESS_TOKEN", "00D000000000001!expired")
    monkeypatch.setenv("SOURCES__SALESFORCE__INSTANCE_URL", server.url_for("salesforce"))
    load_system("salesforce", duckdb_path)
    assert raw_counts(duckdb_path) == view_counts(company.salesforce_view())
    assert Counter(status for _m, _p, status in server.app.faults.fired) == {
        429: 2,
        500: 1,
        503: 1,
        None: 1,
    }
    tokens = [p for m, p, _q in server.request_log if m == "POST" and p.endswith("/token")]
    assert len(tokens) == 2  # the 500, then the renewal


def test_a_ready_access_token_is_enough(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = sf_api(server).issue_token()
    monkeypatch.delenv("SOURCES__SALESFORCE__CLIENT_ID")
    monkeypatch.delenv("SOURCES__SALESFORCE__CLIENT_SECRET")
    monkeypatch.delenv("SOURCES__SALESFORCE__LOGIN_URL")
    monkeypatch.setenv("SOURCES__SALESFORCE__ACCESS_TOKEN", token)
    monkeypatch.setenv("SOURCES__SALESFORCE__INSTANCE_URL", server.url_for("salesforce"))
    load_system("salesforce", duckdb_path)
    assert raw_counts(duckdb_path)["opportunities"] == len(
        company.salesforce_view().objects["Opportunity"]
    )
    assert not [p for m, p, _q in server.request_log if m == "POST"]


def test_gives_up_with_a_clear_error_when_the_api_keeps_failing(
    server: FakeApiServer, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__SALESFORCE__MAX_ATTEMPTS", "2")
    server.add_fault(Fault(path_prefix=QUERY_PATH, status=500, times=50))
    with pytest.raises(LoadError, match=r"salesforce.*500"):
        load_system("salesforce", duckdb_path)


def test_missing_or_wrong_credentials_fail_clearly(
    server: FakeApiServer, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__SALESFORCE__CLIENT_SECRET", "wrong")
    with pytest.raises(LoadError, match="invalid_client"):
        load_system("salesforce", duckdb_path)
    monkeypatch.delenv("SOURCES__SALESFORCE__CLIENT_SECRET")
    with pytest.raises(LoadError, match="SOURCES__SALESFORCE__CLIENT_SECRET"):
        load_system("salesforce", duckdb_path)


def test_malformed_records_go_to_rejects_with_their_reason(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    view = company.salesforce_view()
    opp = view.objects["Opportunity"][3]["Id"]
    history = view.objects["OpportunityHistory"][5]["Id"]
    server.malform("salesforce.Opportunity", opp, "CreatedDate", "yesterday")
    server.malform("salesforce.OpportunityHistory", history, "Amount", "12k")
    step = view.objects["ProcessInstanceStep"][1]["Id"]
    contract = next(c["Id"] for c in view.objects["Contract"] if c["ActivatedDate"])
    server.malform("salesforce.ProcessInstanceStep", step, "ActorId", None)
    server.malform("salesforce.Contract", contract, "ActivatedDate", "2025-13-45")
    load_system("salesforce", duckdb_path)

    rejects = query(
        duckdb_path,
        "select resource, record_id, reason, payload from raw_salesforce.rejects order by 1",
    )
    assert [(r[0], r[1]) for r in rejects] == [
        ("contracts", contract),
        ("opportunities", opp),
        ("opportunity_history", history),
        ("process_instance_steps", step),
    ]
    assert "ActivatedDate" in rejects[0][2] and "2025-13-45" in rejects[0][2]
    assert "CreatedDate" in rejects[1][2] and "yesterday" in rejects[1][2]
    assert "Amount" in rejects[2][2] and '"12k"' in rejects[2][3]
    assert "ActorId" in rejects[3][2]
    expected = view_counts(view)
    for table in ("opportunities", "opportunity_history", "process_instance_steps", "contracts"):
        expected[table] -= 1
    assert raw_counts(duckdb_path) == expected
    load_system("salesforce", duckdb_path)
    assert table_counts(duckdb_path, "raw_salesforce")["rejects"] == 4


def test_cpq_quotes_load_only_in_a_cpq_org(
    duckdb_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = make_company(160, cpq=True)
    with FakeApiServer(company) as srv:
        sf_env(srv, monkeypatch)
        load_system("salesforce", duckdb_path)
    cpq = company.salesforce_view().objects["SBQQ__Quote__c"]
    assert cpq and table_counts(duckdb_path, "raw_salesforce")["cpq_quotes"] == len(cpq)
    assert "quotes" not in table_counts(duckdb_path, "raw_salesforce")  # no standard quotes
    run_dbt(["run", "--select", "stg_salesforce__quotes"], duckdb_path, target_path=tmp_path / "t")
    staged = query(
        duckdb_path,
        "select count(*), count(quote_sent_at), count(quote_accepted_at), "
        "count(quote_rejected_at) from staging.stg_salesforce__quotes",
    )[0]
    statuses = Counter(q["SBQQ__Status__c"] for q in cpq)
    assert staged == (len(cpq), len(cpq), statuses["Accepted"], statuses["Rejected"])

    with FakeApiServer(make_company(160)) as plain:
        sf_env(plain, monkeypatch)
        load_system("salesforce", tmp_path / "plain.duckdb")
        asked = [q.get("q", "") for _m, _p, q in plain.request_log]
    assert not any("SBQQ__Quote__c" in q for q in asked)


# ---- the warehouse -----------------------------------------------------------------------------
@dataclass
class Built:
    company: DemoCompany
    truth: dict[str, Any]
    db: Path


APPROVAL_MARTS = ("+approval_performance", "+approval_win_effect", "+quote_to_signature")
LEAD_PHASE_MARTS = ("+lead_response_times", "+owner_change_effect")
DRIFTED = 3  # opportunities that arrive with a field the source has never seen


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    work = tmp_path_factory.mktemp("salesforce_e2e")
    # the high-discount rep sells with Salesforce: enough approvals in every band
    company = DemoCompany(
        SimConfig(
            seed=5,
            n_deals=600,
            crms=("pipedrive", "salesforce"),
            crm_weights=(0.5, 0.5),
            high_discount_rep_index=5,
        )
    )
    with serving(company) as server:
        # schema drift: the API starts sending a new custom field on a few opportunities
        for opp in company.salesforce_view().objects["Opportunity"][:DRIFTED]:
            server.malform("salesforce.Opportunity", opp["Id"], "Lead_Score__c", 87.5)
        for contract in company.salesforce_view().objects["Contract"][:DRIFTED]:
            server.malform("salesforce.Contract", contract["Id"], "Envelope_Id__c", "env-1")
        db = work / "l2c.duckdb"
        load_all(db, systems=["pipedrive", "salesforce", "stripe"])
    # a contract whose opportunity lookup is empty: reported, in no event
    with duckdb.connect(str(db)) as con:
        con.execute(
            "insert into raw_salesforce.contracts select * replace ('800UNLINKED' as id, "
            "null as opportunity__c, 'x' || _dlt_id as _dlt_id) from raw_salesforce.contracts "
            "where envelope_id__c is null order by id limit 1"
        )
    selection = [
        *EVENT_LOG_BUILD[:-2],
        *APPROVAL_MARTS,
        *LEAD_PHASE_MARTS,
        "+warn_not_linked_to_deal",
        "+campaign_performance",
        "+segment_performance",
        *EVENT_LOG_BUILD[-2:],
    ]
    # a small company: compare groups of 10 (the default guard is 20)
    small_groups = ["--vars", '{"min_group_size": 10}']
    run_dbt(["build", *selection, *small_groups], db, target_path=work / "target", quiet=True)
    yield Built(company, company.ground_truth(), db)


def _canonical_stage_of() -> dict[tuple[str, str], str]:
    with (ROOT / "seeds" / "stage_mapping.csv").open() as handle:
        return {
            (row["pipeline_name"], row["stage_name"]): row["canonical_stage"]
            for row in csv.DictReader(handle)
            if row["source_system"] == "pipedrive"
        }


def test_salesforce_stage_paths_are_the_planted_ones(built: Built) -> None:
    mapping = _canonical_stage_of()
    logged: dict[str, list[str]] = {}
    for case_id, activity in query(
        built.db,
        "select case_id, activity from marts.event_log where activity_family = 'Stage Entered' "
        "and source_system = 'salesforce' order by case_id, event_order",
    ):
        logged.setdefault(case_id, []).append(activity.removeprefix("Stage Entered: "))
    deals = [d for d in built.truth["deals"] if d["crm"] == "salesforce"]
    assert len(deals) > 200
    mismatches = [
        d["case_id"]
        for d in deals
        if logged.get(d["case_id"], [])
        != [mapping[(d["pipeline"], s)] for s in d["stages_entered"]]
    ]
    assert not mismatches, f"{len(mismatches)} cases differ, e.g. {mismatches[:5]}"
    assert set(logged) == {d["case_id"] for d in deals}


def test_outcomes_and_leads_per_system_match_the_truth(built: Built) -> None:
    rows = query(
        built.db,
        "select source_system, case_type, outcome, count(*) from marts.cases group by all",
    )
    for system, counts in built.truth["counts_by_crm"].items():
        outcomes = {o: n for s, t, o, n in rows if s == system and t == "deal"}
        assert outcomes == {k: counts[k] for k in ("won", "lost", "open") if counts[k]}, system
        lead_cases = sum(n for s, t, _o, n in rows if s == system and t == "lead")
        assert lead_cases == counts["leads"] - counts["leads_converted"], system
    converted = query(
        built.db,
        "select count(*) from intermediate.int_leads_classified "
        "where source_system = 'salesforce' and lead_status = 'converted'",
    )[0][0]
    assert converted == built.truth["counts_by_crm"]["salesforce"]["leads_converted"]


def test_invoices_of_salesforce_deals_link_to_the_right_case(built: Built) -> None:
    truth = {i["id"]: i for i in built.truth["invoices"]}
    rows = query(built.db, "select invoice_id, deal_key, link_method from marts.invoices")
    ours = [(i, d, m) for i, d, m in rows if truth[i]["deal_case_id"].startswith("salesforce:")]
    assert len(ours) > 50
    wrong = [(i, d) for i, d, _m in ours if d is not None and d != truth[i]["deal_case_id"]]
    assert not wrong, wrong[:5]
    by_metadata = sum(1 for _i, _d, m in ours if m == "metadata")
    assert by_metadata == sum(1 for i, *_r in ours if truth[i]["has_deal_metadata"])
    linked_by_rule = sum(1 for _i, _d, m in rows if m == "rule")
    assert linked_by_rule == built.truth["counts"]["invoices_linkable_by_rule"]


def test_orders_and_quotes_of_salesforce_deals_are_in_the_log(built: Built) -> None:
    orders = {
        o["deal_case_id"]: o
        for o in built.truth["orders"]
        if o["deal_case_id"].startswith("salesforce:")
    }
    events = query(
        built.db,
        "select case_id, activity, epoch(event_at) from marts.event_log "
        "where object_type = 'order' and source_system = 'salesforce'",
    )
    logged = {(c, a): int(t) for c, a, t in events}
    assert {c for c, _a in logged} == set(orders)
    for case_id, order in orders.items():
        assert logged[(case_id, "Sales Order Created")] == order["created"]
        assert logged.get((case_id, "Order Fulfilled")) == order["fulfilled"]
    quotes = dict(
        query(
            built.db,
            "select activity, count(*) from marts.event_log where source_system = 'salesforce' "
            "and activity_family = 'Quote' group by 1",
        )
    )
    deals = [d for d in built.truth["deals"] if d["crm"] == "salesforce"]
    assert quotes["Quote Sent"] == sum(d["quotes_sent"] for d in deals)
    assert quotes["Quote Accepted"] == sum(1 for d in deals if d["outcome"] == "won")
    # Quote Created: every quote of a live opportunity (drafts too), at its CreatedDate
    objects = built.company.salesforce_view().objects
    live = {o["Id"] for o in objects["Opportunity"] if not o.get("IsDeleted")}
    opportunity_of = {"Quote": "OpportunityId", "SBQQ__Quote__c": "SBQQ__Opportunity2__c"}
    created = {
        (f"salesforce:{q['Id']}", lead_kpis.unix(q["CreatedDate"]))
        for name, field in opportunity_of.items()
        for q in objects.get(name, [])
        if q[field] in live and not q.get("IsDeleted")
    }
    logged_created = {
        (o, int(t))
        for o, t in query(
            built.db,
            "select object_id, epoch(event_at) from marts.event_log "
            "where source_system = 'salesforce' and activity = 'Quote Created'",
        )
    }
    assert len(created) >= quotes["Quote Sent"] > 50
    assert logged_created == created


def test_a_new_field_in_the_api_does_not_break_staging(built: Built) -> None:
    scored = query(
        built.db, "select count(*) from raw_salesforce.opportunities where lead_score__c = 87.5"
    )[0][0]
    assert scored == DRIFTED
    staged = query(built.db, "select count(*) from staging.stg_salesforce__deals")[0][0]
    assert staged == built.truth["counts_by_crm"]["salesforce"]["deals"]
    enveloped = query(
        built.db, "select count(*) from raw_salesforce.contracts where envelope_id__c = 'env-1'"
    )[0][0]
    assert enveloped == DRIFTED
    contracts = query(built.db, "select count(*) from staging.stg_salesforce__contracts")[0][0]
    assert contracts == len(built.company.salesforce_view().objects["Contract"]) + 1  # unlinked


def test_a_contract_without_its_opportunity_is_reported(built: Built) -> None:
    issues = query(
        built.db,
        "select source_system, object_type, affected_count, total_count "
        "from marts.data_quality_issues where issue = 'not_linked_to_deal'",
    )
    total = len(built.company.salesforce_view().objects["Contract"]) + 1
    assert issues == [("salesforce", "contract", 1, total)]
    logged = query(
        built.db, "select count(*) from marts.event_log where source_row_id = '800UNLINKED'"
    )
    assert logged == [(0,)]


def test_source_env_configures_the_source_like_a_real_org(api_server: FakeApiServer) -> None:
    env = api_server.source_env()
    assert env["SOURCES__SALESFORCE__LOGIN_URL"] == api_server.url_for("salesforce")
    assert {"SOURCES__SALESFORCE__CLIENT_ID", "SOURCES__SALESFORCE__CLIENT_SECRET"} <= set(env)
    assert "SOURCES__SALESFORCE__ACCESS_TOKEN" not in env


# ---- approvals and contracts (the built warehouse) ---------------------------------------------
def _sf_user(rep_id: int | None) -> str | None:
    return None if rep_id is None else f"salesforce:{salesforce_id('005', rep_id)}"


def test_planted_approvals_and_signatures_are_in_the_log(built: Built) -> None:
    """Every approval step and contract of a Salesforce deal is an event at its exact time,
    with the acting user as resource; Pipedrive records neither (no such events there)."""
    expected: Counter[tuple[str, str, int, str | None]] = Counter()
    for a in built.truth["approvals"]:
        if a["crm"] != "salesforce":
            continue
        who = _sf_user(a["requested_by"])
        expected[(a["deal_case_id"], "Quote Approval Requested", a["requested"], who)] += 1
        if a["decided"] is not None:
            verdict = "Quote Approval Approved" if a["approved"] else "Quote Approval Rejected"
            expected[(a["deal_case_id"], verdict, a["decided"], _sf_user(a["approver"]))] += 1
    for c in built.truth["contracts"]:
        if c["crm"] != "salesforce":
            continue
        expected[(c["deal_case_id"], "Contract Sent", c["sent"], _sf_user(c["sent_by"]))] += 1
        if c["signed"] is not None:
            who = _sf_user(c["signed_by"])
            expected[(c["deal_case_id"], "Contract Signed", c["signed"], who)] += 1
    rows = query(
        built.db,
        "select case_id, activity, epoch(event_at)::bigint, resource_key, source_system "
        "from marts.event_log where activity_family in ('Approval', 'Contract')",
    )
    assert {r[4] for r in rows} == {"salesforce"}
    logged = Counter((c, a, t, r) for c, a, t, r, _s in rows)
    kinds = Counter(a for _c, a, _t, _r in expected.elements())
    assert kinds["Quote Approval Rejected"] > 10 and kinds["Contract Signed"] > 50
    assert logged == expected


def test_approval_and_signature_marts_report_the_planted_truths(built: Built) -> None:
    slowest = query(
        built.db,
        "select region, bottleneck_segment from marts.quote_to_signature "
        "where slowest_signature_rank = 1",
    )
    assert slowest == [(built.truth["params"]["slow_signature_region"], "contract sent -> signed")]
    # the planted effect: deals whose approvals took long (lost ones waited longer) win less
    win = dict(
        query(
            built.db,
            "select approval_group, win_rate from marts.approval_win_effect "
            "where source_system = 'salesforce' and not is_below_min_group_size",
        )
    )
    assert win["slow_approval"] < win["quick_approval"] - 0.3
    # and the groups are the truth's: total decided wait per closed deal, from the plant
    outcome = {d["case_id"]: d["outcome"] for d in built.truth["deals"]}
    waits: Counter[str] = Counter()
    for a in built.truth["approvals"]:
        if a["crm"] == "salesforce":
            waits[a["deal_case_id"]] += (a["decided"] or a["requested"]) - a["requested"]
    planted: Counter[tuple[str, str]] = Counter()
    for case, wait in waits.items():
        if outcome[case] in ("won", "lost"):
            group = "quick_approval" if wait < 2 * 86400 else "slow_approval"
            planted[(group, outcome[case])] += 1
    marts = query(
        built.db,
        "select approval_group, won_deals, lost_deals from marts.approval_win_effect "
        "where approval_group <> 'no_approval'",
    )
    assert {g: (w, n) for g, w, n in marts} == {
        g: (planted[(g, "won")], planted[(g, "lost")]) for g in ("quick_approval", "slow_approval")
    }


def test_approval_marts_equal_a_recomputation_from_the_payloads(built: Built) -> None:
    objects = built.company.salesforce_view().objects
    performance = approval_kpis.approval_performance(objects)
    columns = (
        "requests, deals, decided_requests, approved_requests, rejected_requests, "
        "approval_rate, median_wait_days, p90_wait_days"
    )
    rows = query(
        built.db,
        f"select dimension, group_name, {columns} from marts.approval_performance",
    )
    names = [c.strip() for c in columns.split(",")]
    ours = {(r[0], r[1]): dict(zip(names, r[2:], strict=True)) for r in rows}
    assert {d for d, _g in ours} == {"all", "discount_band", "rep"}
    assert settled_dict(ours) == settled_dict(performance)
    effect = approval_kpis.approval_win_effect(objects, slow_days=2)
    rows = query(
        built.db, "select approval_group, closed_deals, won_deals from marts.approval_win_effect"
    )
    assert {g: (c, w) for g, c, w in rows} == effect
    signature = approval_kpis.quote_to_signature(objects)
    rows = query(
        built.db,
        "select region, contracts_sent, contracts_signed, median_quote_to_contract_days, "
        "median_signature_days from marts.quote_to_signature",
    )
    keys = (
        "contracts_sent",
        "contracts_signed",
        "median_quote_to_contract_days",
        "median_signature_days",
    )
    assert settled_dict({r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}) == settled_dict(
        signature
    )


def settled_dict(rows: dict[Any, dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    """Floats to 12 significant digits (DuckDB sums doubles in thread order)."""
    return {
        key: {k: float(f"{v:.12g}") if isinstance(v, float) else v for k, v in row.items()}
        for key, row in rows.items()
    }


# ---- campaigns, product categories, deal types -------------------------------------------------
def test_campaign_and_segment_marts_report_the_planted_truths(built: Built) -> None:
    """Webinar leads were planted to convert and win most, search-ad leads least; Expansion
    deals (Opportunity.Type 'Existing Customer - Upgrade') pass fewer stages, each faster."""
    rows = query(
        built.db,
        "select campaign, leads_count, leads_converted, won_count, lost_count, "
        "conversion_rate, win_rate, is_conversion_below_min_group_size, "
        "is_win_rate_below_min_group_size from marts.campaign_performance "
        "where source_system = 'salesforce'",
    )
    mart = {r[0]: r[1:] for r in rows}
    truth = [t for t in built.truth["campaigns"] if t["crm"] == "salesforce"]
    for t in truth:
        name = t["campaign"] or "(none)"
        assert mart[name][:2] == (t["leads"], t["converted"]), name
        if t["campaign"] is not None:  # '(none)' deals also include deals from no lead
            assert mart[name][2:4] == (t["won"], t["lost"]), name
    named = {name: v for name, v in mart.items() if name != "(none)"}
    assert len(named) == 5 and not any(v[6] or v[7] for v in named.values())
    for metric in (4, 5):  # conversion rate, win rate
        ranked = sorted(named, key=lambda name: named[name][metric])
        assert (ranked[0], ranked[-1]) == (WORST_CAMPAIGN, BEST_CAMPAIGN), metric
    segments = {
        (d, v): r
        for d, v, *r in query(
            built.db,
            "select dimension, dimension_value, deals_count, won_count, lost_count, "
            "open_count, avg_won_cycle_days from marts.segment_performance "
            "where source_system = 'salesforce'",
        )
    }
    sf_type = {pipeline: info[2] for pipeline, info in RECORD_TYPES.items()}
    expected = {}
    for t in built.truth["segments"]:
        if t["crm"] == "salesforce":
            value = sf_type[t["value"]] if t["dimension"] == "deal_type" else t["value"]
            counts = [t["deals"], t["won"], t["lost"], t["open"]]
            expected[(t["dimension"], value)] = [*counts, pytest.approx(t["avg_won_cycle_days"])]
    assert segments == expected
    upgrade = segments[("deal_type", sf_type["Expansion"])][4]
    assert upgrade < 0.7 * segments[("deal_type", sf_type["New Business"])][4]


def test_campaign_and_segment_marts_equal_a_recomputation_from_the_payloads(
    built: Built,
) -> None:
    objects = built.company.salesforce_view().objects
    rows = query(
        built.db,
        "select campaign, leads_count, leads_converted, deals_count, won_count, lost_count, "
        "conversion_rate, win_rate from marts.campaign_performance "
        "where source_system = 'salesforce'",
    )
    assert {r[0]: r[1:6] for r in rows} == campaign_kpis.campaign_performance(objects)
    for _name, leads, converted, _deals, won, lost, conversion_rate, win_rate in rows:
        assert conversion_rate == (converted / leads if leads else None)
        assert win_rate == (won / (won + lost) if won + lost else None)
    rows = query(
        built.db,
        "select dimension, dimension_value, deals_count, won_count, lost_count, open_count, "
        "avg_won_cycle_days from marts.segment_performance where source_system = 'salesforce'",
    )
    expected = campaign_kpis.segment_performance(objects)
    assert {(d, v): tuple(r[:4]) for d, v, *r in rows} == {k: v[:4] for k, v in expected.items()}
    for d, v, *r in rows:
        assert r[4] == pytest.approx(expected[(d, v)][4]), (d, v)
    # every case carries the attributes the marts group by
    cases = query(
        built.db,
        "select count(*), count(deal_type), count(product_category) from marts.cases "
        "where source_system = 'salesforce' and case_type = 'deal'",
    )
    assert cases[0][0] == cases[0][1] == cases[0][2] > 0


# ---- the lead phase (tests/test_lead_phase.py checks Pipedrive on the session warehouse) ----
def _user_key(crm: str, rep: int) -> str:
    return f"salesforce:{salesforce_id('005', rep)}" if crm == "salesforce" else f"{crm}:{rep}"


def test_planted_lead_phase_events_are_in_the_log(built: Built) -> None:
    """Every planted first contact, qualification and owner change (deals and leads) is in the
    log at its time with its user, in both CRMs; nothing else is: Pipedrive records no lead
    status and no lead history."""
    phase = built.truth["lead_phase"]
    leads = [lead for lead in phase["leads"] if lead["crm"] in ("pipedrive", "salesforce")]
    expected: dict[str, set[tuple[str, str, int, str]]] = {
        "First Contact": {
            (
                lead["crm"],
                lead["case_id"],
                lead["first_contact"],
                _user_key(lead["crm"], lead["first_contact_by"]),
            )
            for lead in leads
            if lead["first_contact"] is not None
        },
        "Lead Qualified": {
            (
                lead["crm"],
                lead["case_id"],
                lead["qualified"],
                _user_key(lead["crm"], lead["qualified_by"]),
            )
            for lead in leads
            if lead["qualified"] is not None and lead["crm"] == "salesforce"
        },
        "Owner Changed": {
            (
                lead["crm"],
                lead["case_id"],
                lead["reassigned"],
                _user_key(lead["crm"], lead["reassigned_to"]),
            )
            for lead in leads
            if lead["reassigned"] is not None and lead["crm"] == "salesforce"
        }
        | {
            (
                change["crm"],
                change["case_id"],
                change["at"],
                _user_key(change["crm"], change["new"]),
            )
            for change in phase["deal_owner_changes"]
        },
    }
    for activity, planted in expected.items():
        logged = {
            (system, case_id, round(at), resource)
            for system, case_id, at, resource in query(
                built.db,
                "select source_system, case_id, epoch(event_at), resource_key "
                "from marts.event_log where activity = ?",
                [activity],
            )
        }
        assert {p[0] for p in planted} >= {"salesforce"}, activity
        assert logged == planted, activity


def test_lead_qualification_finds_the_slow_source_and_equals_a_recomputation(
    built: Built,
) -> None:
    """The planted slow-qualification source (Import, Salesforce LeadSource Other) has the
    slowest median qualification of the Salesforce sources; per source and per rep, the
    counts and medians equal a recomputation from Lead, LeadHistory and Task."""
    rows = query(
        built.db,
        "select dimension, group_key, leads_count, contacted_count, median_response_hours, "
        "qualified_count, median_qualification_days from marts.lead_response_times "
        "where source_system = 'salesforce'",
    )
    names = (
        "leads_count",
        "contacted_count",
        "median_response_hours",
        "qualified_count",
        "median_qualification_days",
    )
    mart = {(r[0], r[1]): dict(zip(names, r[2:], strict=True)) for r in rows}
    sources = {k[1]: v for k, v in mart.items() if k[0] == "lead_source"}
    assert max(sources, key=lambda s: sources[s]["median_qualification_days"]) == "Other"
    expected = lead_kpis.salesforce_lead_response(built.company.salesforce_view().objects)
    assert settled_dict(mart) == settled_dict(expected)
    # the campaign dimension: the planted campaigns, and leads without one under '(none)'
    campaigns = {k[1] for k in mart if k[0] == "campaign"}
    assert "(none)" in campaigns and len(campaigns) >= 3
    assert mart[("all", "all")]["qualified_count"] > 50
