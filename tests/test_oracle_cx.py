"""Oracle CX Sales end to end: the simulator's rendering, the fake Fusion REST API (paging,
Basic auth, q filters, expand, errors), the dlt source over real HTTP (paging on every
resource, idempotent and incremental loads, retries, rejects, credentials) and the warehouse
built from Pipedrive + Oracle CX + Stripe checked against the ground truth."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lead_kpis
import pytest
import requests
from conftest import only_systems, query, serving, table_counts

from l2c.dbt_runner import EVENT_LOG_BUILD, ROOT, run_dbt
from l2c_demo.fake_api import FakeApiServer, Fault
from l2c_demo.fake_api.oracle_cx_api import BASE, OracleCxApi
from l2c_demo.simulator import DemoCompany, SimConfig
from l2c_demo.simulator.crms import CRMS
from l2c_demo.simulator.render_oracle_cx import ORACLE_STAGES, OracleCxView, resource_id, ts
from pipelines.load import LoadError, load_all, load_system

# the company's systems only: no other system's empty staging models and tests
dbt_systems = only_systems("pipedrive", "oracle_cx", "stripe")

SYSTEM = "oracle_cx"
API = f"/{SYSTEM}{BASE}"


def oracle_company(seed: int = 7, n_deals: int = 240) -> DemoCompany:
    return DemoCompany(
        SimConfig(seed=seed, n_deals=n_deals, crms=("pipedrive", SYSTEM), crm_weights=(0.5, 0.5))
    )


def oracle_api(server: FakeApiServer) -> OracleCxApi:
    api = server.app.systems[SYSTEM]
    assert isinstance(api, OracleCxApi)
    return api


def expected_counts(view: OracleCxView) -> dict[str, int]:
    return {
        "opportunities": len(view.opportunities),
        "revenue_items": sum(len(v) for v in view.revenue_items.values()),
        "stage_snapshots": sum(len(v) for v in view.stage_snapshots.values()),
        "opportunity_leads": sum(len(v) for v in view.opportunity_leads.values()),
        "opportunity_campaigns": sum(len(v) for v in view.opportunity_campaigns.values()),
        "campaigns": len(view.campaigns),
        "leads": len(view.leads),
        "lead_campaigns": sum(len(v) for v in view.lead_campaigns.values()),
        "activities": len(view.activities),
        "resources": len(view.resources),
        "sales_methods": len(view.sales_methods),
        "sales_stages": len(view.sales_stages),
    }


def raw_counts(db: Path) -> dict[str, int]:
    counts = table_counts(db, f"raw_{SYSTEM}")
    return {name: counts.get(name, 0) for name in expected_counts(OracleCxView(as_of=0))}


# ---- simulator ----------------------------------------------------------------------------------
def test_rendering_agrees_with_the_truth_and_stripe_ids() -> None:
    company = oracle_company(seed=3, n_deals=200)
    view, truth = company.oracle_cx_view(), company.ground_truth()
    deals = [d for d in truth["deals"] if d["crm"] == SYSTEM]
    assert deals and len(view.opportunities) == len(deals)
    by_id = {o["OptyId"]: o for o in view.opportunities}
    stages = {s["StgId"]: s["Name"] for s in view.sales_stages}
    abstract = {oracle: key for key, oracle in ORACLE_STAGES.items()}
    for deal in deals:
        opty = int(CRMS[SYSTEM].deal_ref(deal["id"]))
        assert deal["case_id"] == f"{SYSTEM}:{opty}"
        record = by_id[opty]
        assert record["StatusCode"] == deal["outcome"].upper()
        path = [abstract[stages[s["StgId"]]] for s in view.stage_snapshots[opty]]
        assert path == [(deal["pipeline"], s) for s in deal["stages_entered"]]
        revenue = sum(r["RevnAmount"] for r in view.revenue_items[opty])
        assert revenue == pytest.approx(record["Revenue"], abs=0.01)
    orgs = {o.id: o for o in company.world.orgs}
    deal_orgs = {d.id: d.org_id for d in company.world.deals}
    for deal in deals:
        party = int(CRMS[SYSTEM].account_ref(deal_orgs[deal["id"]]))
        assert by_id[int(CRMS[SYSTEM].deal_ref(deal["id"]))]["TargetPartyId"] == party
        assert orgs[deal_orgs[deal["id"]]].crm == SYSTEM
    converted = [r for r in view.leads if r["StatusCode"] == "CONVERTED"]
    assert len(converted) == truth["counts_by_crm"][SYSTEM]["leads_converted"]
    assert len(view.leads) == truth["counts_by_crm"][SYSTEM]["leads"]
    assert all(r["ConvertedOpportunityId"] in by_id for r in converted)
    # a lead's earliest LeadCampaigns row is the campaign it joined (truth: lead_phase)
    names = {c["CampaignId"]: c["CampaignName"] for c in view.campaigns}
    earliest = lead_kpis.oracle_cx_lead_campaigns(view.lead_campaigns)
    planted = {
        int(lead["lead_ref"]): lead["campaign"]
        for lead in truth["lead_phase"]["leads"]
        if lead["crm"] == SYSTEM
    }
    rendered = {
        r["LeadId"]: names[earliest[r["LeadId"]]] if r["LeadId"] in earliest else None
        for r in view.leads
    }
    assert rendered == planted and None in planted.values()
    members = [row for rows in view.lead_campaigns.values() for row in rows]
    assert sum(row["PrimaryFlag"] for row in members) == len(earliest)
    assert any(len(rows) > 1 for rows in view.lead_campaigns.values())  # some joined two


# ---- fake API -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def api_server() -> Iterator[FakeApiServer]:
    with FakeApiServer(oracle_company(seed=8, n_deals=300)) as srv:
        yield srv


@pytest.fixture()
def session(api_server: FakeApiServer) -> Iterator[requests.Session]:
    env = api_server.source_env()
    with requests.Session() as s:
        s.auth = (env["SOURCES__ORACLE_CX__USERNAME"], env["SOURCES__ORACLE_CX__PASSWORD"])
        s.headers["REST-Framework-Version"] = "4"
        yield s


def url(server: FakeApiServer, path: str) -> str:
    return f"{server.base_url}{API}/{path}"


def walk(session: requests.Session, address: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        response = session.get(address, params={**params, "offset": offset})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["count"] == len(body["items"]) and body["offset"] == offset
        rows.extend(body["items"])
        if not body["hasMore"]:
            return rows
        offset += body["limit"]


@pytest.mark.parametrize(
    ("collection", "attr", "key"),
    [
        ("opportunities", "opportunities", "OptyId"),
        ("leads", "leads", "LeadId"),
        ("resources", "resources", "PartyId"),
        ("activities", "activities", "ActivityId"),
        ("salesMethods", "sales_methods", "SalesMethodId"),
    ],
)
def test_paging_walks_every_record_once(
    api_server: FakeApiServer, session: requests.Session, collection: str, attr: str, key: str
) -> None:
    expected = sorted(r[key] for r in getattr(api_server.company.oracle_cx_view(), attr))
    rows = walk(session, url(api_server, collection), limit=1 if len(expected) < 10 else 7)
    assert [r[key] for r in rows] == expected
    assert all("links" in r for r in rows)  # onlyData not set: items carry their links
    first = session.get(url(api_server, collection), params={"limit": 2}).json()
    assert first["hasMore"] == (len(expected) > 2) and first["limit"] == 2
    assert session.get(url(api_server, collection), params={"limit": 501}).status_code == 400


def test_basic_auth_is_required(api_server: FakeApiServer) -> None:
    address = url(api_server, "opportunities")
    for auth in (None, ("l2c.integration", "wrong"), ("someone", "demo-oracle-password")):
        response = requests.get(address, auth=auth)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        body = response.json()
        assert body["status"] == "401" and body["o:errorDetails"][0]["o:errorCode"]
    bearer = requests.get(address, headers={"Authorization": "Bearer demo-oracle-password"})
    assert bearer.status_code == 401


def test_q_filters_order_and_errors(api_server: FakeApiServer, session: requests.Session) -> None:
    view = api_server.company.oracle_cx_view()
    address = url(api_server, "opportunities")
    stamps = sorted(o["LastUpdateDate"] for o in view.opportunities)
    bound = stamps[len(stamps) // 2]
    z_bound = bound.replace("+00:00", "Z")
    rows = walk(
        session,
        address,
        q=f"LastUpdateDate >= '{z_bound}'",
        orderBy="LastUpdateDate:asc,OptyId:asc",
        onlyData="true",
        limit=11,
    )
    assert {r["OptyId"] for r in rows} == {
        o["OptyId"] for o in view.opportunities if o["LastUpdateDate"] >= bound
    }
    assert [r["LastUpdateDate"] for r in rows] == sorted(r["LastUpdateDate"] for r in rows)
    assert not any("links" in r for r in rows)
    won = walk(session, address, q="StatusCode = 'WON' and Revenue > 20000", limit=50)
    assert won and {r["OptyId"] for r in won} == {
        o["OptyId"] for o in view.opportunities if o["StatusCode"] == "WON" and o["Revenue"] > 20000
    }
    desc = walk(session, address, orderBy="Revenue:desc", limit=100)
    assert [r["Revenue"] for r in desc] == sorted(
        (o["Revenue"] for o in view.opportunities), reverse=True
    )
    # framework version 1 (no header): query-by-example
    qbe = requests.get(
        address, auth=session.auth, params={"q": "StatusCode=LOST;SalesMethod=Expansion"}
    ).json()
    assert qbe["items"] and all(
        r["StatusCode"] == "LOST" and r["SalesMethod"] == "Expansion" for r in qbe["items"]
    )
    total = session.get(address, params={"totalResults": "true", "limit": 1}).json()
    assert total["totalResults"] == len(view.opportunities)
    for bad in (
        {"q": "Nonsense > 1"},
        {"q": "StatusCode = 'WON' or StatusCode = 'LOST'"},
        {"q": "(StatusCode = 'WON')"},
        {"q": "Name LIKE 'Acme%'"},
        {"q": "StatusCode = 'WON"},
        {"orderBy": "Nonsense:asc"},
        {"orderBy": "Revenue:sideways"},
        {"expand": "Nonsense"},
        {"offset": "-1"},
    ):
        response = session.get(address, params=bad)
        assert response.status_code == 400, bad
        body = response.json()
        assert body["title"] == "Bad Request" and body["status"] == "400"
        assert body["o:errorDetails"][0]["detail"]


def test_expand_inlines_children_and_child_endpoints_page(
    api_server: FakeApiServer, session: requests.Session
) -> None:
    view = api_server.company.oracle_cx_view()
    api = oracle_api(api_server)
    busiest = max(view.opportunities, key=lambda o: len(view.stage_snapshots[o["OptyId"]]))
    number, opty = busiest["OptyNumber"], busiest["OptyId"]
    snapshots = view.stage_snapshots[opty]
    assert len(snapshots) > 3
    item = session.get(
        url(api_server, f"opportunities/{number}"), params={"expand": "all", "onlyData": "true"}
    ).json()
    assert item["opportunityStageSnapshots"]["items"] == snapshots
    assert item["ChildRevenue"]["items"] == view.revenue_items[opty]
    assert item["opportunityStageSnapshots"]["hasMore"] is False
    api.expand_limit = 2
    try:
        cut = session.get(
            url(api_server, f"opportunities/{number}"),
            params={"expand": "opportunityStageSnapshots", "onlyData": "true"},
        ).json()["opportunityStageSnapshots"]
        assert cut["hasMore"] is True and cut["items"] == snapshots[:2]
    finally:
        api.expand_limit = 25
    child = url(api_server, f"opportunities/{number}/child/opportunityStageSnapshots")
    assert walk(session, child, limit=2, onlyData="true") == snapshots
    one = session.get(f"{child}/{snapshots[1]['OptyStgSnapshotId']}").json()
    assert one == snapshots[1]
    assert session.get(url(api_server, "opportunities/CDRM_0")).status_code == 404
    # a lead's campaign memberships: expanded on the leads list, and its child endpoint
    leads = walk(session, url(api_server, "leads"), expand="LeadCampaigns", onlyData="true")
    assert {r["LeadId"]: r["LeadCampaigns"]["items"] for r in leads} == view.lead_campaigns
    joined = next(lid for lid, rows in view.lead_campaigns.items() if len(rows) > 1)
    members = url(api_server, f"leads/{joined}/child/LeadCampaigns")
    assert walk(session, members, limit=1, onlyData="true") == view.lead_campaigns[joined]
    methods = walk(session, url(api_server, "salesMethods"), expand="SalesStage", onlyData="true")
    assert sum(len(m["SalesStage"]["items"]) for m in methods) == len(view.sales_stages)
    assert session.post(url(api_server, "opportunities")).status_code == 405


def test_faults_and_malformed_records_apply(
    api_server: FakeApiServer, session: requests.Session
) -> None:
    view = api_server.company.oracle_cx_view()
    address = url(api_server, "leads")
    api_server.add_fault(Fault(path_prefix=f"{API}/leads", status=429, retry_after=2, times=1))
    throttled = session.get(address)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert throttled.json()["title"] == "Too Many Requests"
    assert session.get(address).status_code == 200
    opty = view.opportunities[0]
    line = view.revenue_items[opty["OptyId"]][0]
    api_server.malform(f"{SYSTEM}.opportunities", opty["OptyId"], "Revenue", "lots")
    api_server.malform(f"{SYSTEM}.revenue_items", line["RevnId"], "UnitPrice", None)
    try:
        body = session.get(
            url(api_server, "opportunities"),
            params={"q": f"OptyId = {opty['OptyId']}", "expand": "ChildRevenue"},
        ).json()
        served = body["items"][0]
        assert served["Revenue"] == "lots" and "id" not in served
        assert served["ChildRevenue"]["items"][0]["UnitPrice"] is None
        assert view.opportunities[0]["Revenue"] != "lots"  # the view itself is untouched
    finally:  # put the original values back for the other tests of this module
        api_server.malform(f"{SYSTEM}.opportunities", opty["OptyId"], "Revenue", opty["Revenue"])
        api_server.malform(
            f"{SYSTEM}.revenue_items", line["RevnId"], "UnitPrice", line["UnitPrice"]
        )


# ---- dlt source ---------------------------------------------------------------------------------
@pytest.fixture
def company(request: pytest.FixtureRequest) -> DemoCompany:
    """The module's company; a test may ask for another size (indirect parametrization)."""
    return oracle_company(n_deals=getattr(request, "param", 240))


@pytest.fixture
def server(company: DemoCompany, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiServer]:
    with FakeApiServer(company, port=0) as srv:
        for key, value in srv.source_env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("SOURCES__ORACLE_CX__MAX_ATTEMPTS", "4")
        # exact request counts below: no look-back re-reads (tested in test_network.py)
        monkeypatch.setenv("SOURCES__ORACLE_CX__LOOKBACK_SECONDS", "0")
        yield srv


def paged_paths(server: FakeApiServer) -> Counter[str]:
    return Counter(p for _m, p, q in server.request_log if int(q.get("offset", 0)) > 0)


# one request per record: a smaller company (still some of every collection on page 2+)
@pytest.mark.parametrize("company", [60], indirect=True, ids=["60_deals"])
def test_every_resource_pages_and_loads_exactly_once(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__ORACLE_CX__PAGE_SIZE", "1")
    oracle_api(server).expand_limit = 2  # longer child collections come from child endpoints
    load_system(SYSTEM, duckdb_path)
    view = company.oracle_cx_view()
    assert raw_counts(duckdb_path) == expected_counts(view)
    paged = paged_paths(server)
    for collection in (
        "opportunities",
        "leads",
        "resources",
        "salesMethods",
        "activities",
        "campaigns",
    ):
        assert paged[f"{API}/{collection}"] > 0, f"{collection} was never asked for a page 2"
    for child in ("ChildRevenue", "opportunityStageSnapshots", "SalesStage"):
        assert any(p.endswith(f"/child/{child}") for p in paged), f"{child} never paged"
    # the children of opportunities whose expansion was complete were not requested again
    child_requests = {p.split("/")[-3] for _m, p, _q in server.request_log if "/child/" in p}
    short = {
        o["OptyNumber"]
        for o in view.opportunities
        if len(view.stage_snapshots[o["OptyId"]]) <= 2 and len(view.revenue_items[o["OptyId"]]) <= 2
    }
    assert short and not child_requests & short
    for table, key in (
        ("opportunities", "opty_id"),
        ("revenue_items", "revn_id"),
        ("stage_snapshots", "opty_stg_snapshot_id"),
        ("leads", "lead_id"),
        ("activities", "activity_id"),
        ("opportunity_campaigns", "opty_campaign_id"),
        ("campaigns", "campaign_id"),
        ("lead_campaigns", "lead_campaign_id"),
    ):
        dupes = query(
            duckdb_path, f"select count(*) - count(distinct {key}) from raw_{SYSTEM}.{table}"
        )[0][0]
        assert dupes == 0, table


def test_second_load_fetches_and_changes_nothing(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    load_system(SYSTEM, duckdb_path)
    before = raw_counts(duckdb_path)
    newest = max(o["LastUpdateDate"] for o in company.oracle_cx_view().opportunities)
    server.clear_log()
    result = load_system(SYSTEM, duckdb_path)
    assert raw_counts(duckdb_path) == before
    assert result.rows_by_table.get("opportunities", 0) == 0
    calls = [(p, q) for _m, p, q in server.request_log]
    assert not [p for p, _q in calls if "/opportunities/" in p]  # no per-opportunity calls
    opty_query = next(q for p, q in calls if p == f"{API}/opportunities")
    assert opty_query["q"] == f"LastUpdateDate >= '{newest}'"
    # the lists of the rest_api config start at their own incremental's cursor too
    newest_lead = max(r["LastUpdateDate"] for r in company.oracle_cx_view().leads)
    lead_query = next(q for p, q in calls if p == f"{API}/leads")
    assert lead_query["q"] == f"LastUpdateDate >= '{newest_lead}'"
    assert lead_query["orderBy"] == "LastUpdateDate:asc,LeadId:asc"
    assert lead_query["expand"] == "LeadCampaigns"  # memberships in the same pages
    assert opty_query["expand"] == (
        "ChildRevenue,opportunityStageSnapshots,OpportunityLead,OpportunityCampaigns"
    )


def test_incremental_load_after_the_company_moves_on(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    load_system(SYSTEM, duckdb_path)
    first = {o["OptyId"]: o for o in company.oracle_cx_view().opportunities}
    cursor = max(o["LastUpdateDate"] for o in first.values())

    company.advance(days=45)
    server.clear_log()
    result = load_system(SYSTEM, duckdb_path)

    view = company.oracle_cx_view()
    now = {o["OptyId"]: o for o in view.opportunities}
    changed = {i for i, o in now.items() if o["LastUpdateDate"] > cursor}
    new = set(now) - set(first)
    assert new and changed - new, "the simulator should create and change opportunities"
    # exactly the opportunities changed since the last run were loaded (and their children)
    assert result.rows_by_table["opportunities"] == len(changed)
    assert result.rows_by_table["stage_snapshots"] == sum(
        len(view.stage_snapshots[i]) for i in changed
    )
    assert raw_counts(duckdb_path) == expected_counts(view)
    stored = dict(
        query(duckdb_path, f"select opty_id, status_code from raw_{SYSTEM}.opportunities")
    )
    assert stored == {i: o["StatusCode"] for i, o in now.items()}
    exits = query(
        duckdb_path,
        f"select count(*) from raw_{SYSTEM}.stage_snapshots where stg_exit_date is null",
    )[0][0]
    assert exits == sum(1 for rows in view.stage_snapshots.values() if not rows[-1]["StgExitDate"])


def test_recovers_from_429_and_500(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    server.add_fault(Fault(path_prefix=f"{API}/opportunities", status=429, retry_after=1, times=2))
    server.add_fault(Fault(path_prefix=f"{API}/leads", status=500, times=2))
    server.add_fault(Fault(path_prefix=f"{API}/salesMethods", status=503, times=1))
    server.add_fault(Fault(path_prefix=f"{API}/resources", delay_seconds=0.3, times=1))
    load_system(SYSTEM, duckdb_path)
    assert raw_counts(duckdb_path) == expected_counts(company.oracle_cx_view())
    attempts = [p for _m, p, _q in server.request_log if p == f"{API}/opportunities"]
    assert len(attempts) >= 3  # two throttled attempts, then the real one
    assert server.app.faults.pending() == 0


def test_gives_up_with_a_clear_error(
    server: FakeApiServer, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__ORACLE_CX__MAX_ATTEMPTS", "2")
    server.add_fault(Fault(path_prefix=f"{API}/resources", status=500, times=50))
    with pytest.raises(LoadError, match=r"oracle_cx.*500"):
        load_system(SYSTEM, duckdb_path)


def test_malformed_records_go_to_rejects_with_their_reason(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    view = company.oracle_cx_view()
    opty = view.opportunities[3]["OptyId"]
    other = view.opportunities[5]["OptyId"]
    line = view.revenue_items[other][0]["RevnId"]
    server.malform(f"{SYSTEM}.opportunities", opty, "LastUpdateDate", "yesterday")
    server.malform(f"{SYSTEM}.revenue_items", line, "RevnAmount", "12,5")
    load_system(SYSTEM, duckdb_path)

    rejects = query(
        duckdb_path,
        f"select resource, record_id, reason, payload from raw_{SYSTEM}.rejects order by 1",
    )
    assert [(r[0], r[1]) for r in rejects] == [
        ("opportunities", str(opty)),
        ("revenue_items", str(line)),
    ]
    assert "LastUpdateDate" in rejects[0][2] and "yesterday" in rejects[0][2]
    assert '"yesterday"' in rejects[0][3]  # the whole payload is kept
    assert "RevnAmount" in rejects[1][2]
    expected = expected_counts(view)
    counts = raw_counts(duckdb_path)
    assert counts["opportunities"] == expected["opportunities"] - 1
    # the rejected opportunity's children are not loaded; the rest is complete
    assert counts["revenue_items"] == expected["revenue_items"] - 1 - len(view.revenue_items[opty])
    assert counts["leads"] == expected["leads"]

    load_system(SYSTEM, duckdb_path)  # a second run does not duplicate the rejects
    assert table_counts(duckdb_path, f"raw_{SYSTEM}")["rejects"] == 2


def primary_campaigns(view: OracleCxView) -> dict[int, str]:
    """Independent of the loader: OptyId -> name of the campaign with the largest
    RevenuePercentage in the payloads (ties: the smallest OptyCampaignId)."""
    names = {c["CampaignId"]: c["CampaignName"] for c in view.campaigns}
    out = {}
    for opty, rows in view.opportunity_campaigns.items():
        if rows:
            best = sorted(rows, key=lambda r: (-r["RevenuePercentage"], r["OptyCampaignId"]))[0]
            out[opty] = names[best["CampaignId"]]
    return out


def test_opportunity_campaigns_resolve_the_primary_one_and_reject_bad_rows(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    view = company.oracle_cx_view()
    # an expansion cut short (hasMore) is read from the child endpoint
    oracle_api(server).expand_limit = 1
    shared = [o for o, rows in view.opportunity_campaigns.items() if len(rows) > 1]
    ties = [
        o
        for o in shared
        if len({r["RevenuePercentage"] for r in view.opportunity_campaigns[o]}) == 1
    ]
    assert shared and ties
    bad_opty = shared[0]
    bad = view.opportunity_campaigns[bad_opty][1]["OptyCampaignId"]
    server.malform(f"{SYSTEM}.opportunity_campaigns", bad, "CampaignId", "twelve")
    load_system(SYSTEM, duckdb_path)
    rejects = query(duckdb_path, f"select resource, record_id, reason from raw_{SYSTEM}.rejects")
    assert [(r[0], r[1]) for r in rejects] == [("opportunity_campaigns", str(bad))]
    assert "CampaignId" in rejects[0][2]
    assert any(p.endswith("/child/OpportunityCampaigns") for _m, p, _q in server.request_log), (
        "a cut-short expansion was not completed from the child endpoint"
    )
    counts = raw_counts(duckdb_path)
    assert counts["opportunity_campaigns"] == expected_counts(view)["opportunity_campaigns"] - 1
    loaded = dict(
        query(
            duckdb_path,
            f"select o.opty_id, c.campaign_name from raw_{SYSTEM}.opportunities o "
            f"join raw_{SYSTEM}.campaigns c on o.primary_campaign_id = c.campaign_id",
        )
    )
    expected = primary_campaigns(view)
    # the malformed row is skipped when resolving: its opportunity keeps its other campaign
    assert {k: v for k, v in loaded.items() if k != bad_opty} == {
        k: v for k, v in expected.items() if k != bad_opty
    }
    assert bad_opty in loaded


def test_lead_campaigns_come_with_the_leads_and_reject_bad_rows(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    """A lead's LeadCampaigns arrive expanded on the leads list: no request per lead, except
    for the leads whose expansion was cut short (hasMore), completed from their child
    endpoint. Every membership loads with its lead, campaign and creation time (a loader that
    dropped the child fails here); a malformed one goes to rejects with its reason."""
    view = company.oracle_cx_view()
    oracle_api(server).expand_limit = 1
    two = [lead_id for lead_id, rows in view.lead_campaigns.items() if len(rows) > 1]
    assert two
    bad = view.lead_campaigns[two[0]][1]["LeadCampaignId"]
    server.malform(f"{SYSTEM}.lead_campaigns", bad, "CreationDate", "last spring")
    load_system(SYSTEM, duckdb_path)
    rejects = query(duckdb_path, f"select resource, record_id, reason from raw_{SYSTEM}.rejects")
    assert [(r[0], r[1]) for r in rejects] == [("lead_campaigns", str(bad))]
    assert "CreationDate" in rejects[0][2] and "last spring" in rejects[0][2]
    completed = {
        p.split("/")[-3] for _m, p, _q in server.request_log if p.endswith("/child/LeadCampaigns")
    }
    assert completed == {str(lead_id) for lead_id in two}
    loaded = set(
        query(
            duckdb_path,
            "select lead_campaign_id, lead_id, campaign_id, "
            f"cast(epoch(creation_date) as bigint) from raw_{SYSTEM}.lead_campaigns",
        )
    )
    expected = {
        (row["LeadCampaignId"], lead_id, row["CampaignId"], lead_kpis.unix(row["CreationDate"]))
        for lead_id, rows in view.lead_campaigns.items()
        for row in rows
        if row["LeadCampaignId"] != bad
    }
    assert loaded == expected and len(expected) > 20
    # the child left the lead row: no JSON column of memberships on leads
    columns = {
        r[0]
        for r in query(
            duckdb_path,
            "select column_name from information_schema.columns "
            f"where table_schema = 'raw_{SYSTEM}' and table_name = 'leads'",
        )
    }
    assert not {c for c in columns if c.startswith("lead_campaigns")}


def test_a_re_read_lead_keeps_its_older_memberships(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    """A lead re-read because it joined another campaign brings all its memberships again:
    the older one (LastUpdateDate before the leads' cursor) is neither filtered out by the
    leads' incremental nor deleted by the merge on LeadId."""
    load_system(SYSTEM, duckdb_path)
    view = company.oracle_cx_view()
    cursor = max(r["LastUpdateDate"] for r in view.leads)
    lead = next(
        r
        for r in view.leads
        if len(view.lead_campaigns[r["LeadId"]]) == 1 and r["LastUpdateDate"] < cursor
    )
    first = view.lead_campaigns[lead["LeadId"]][0]
    other = next(c["CampaignId"] for c in view.campaigns if c["CampaignId"] != first["CampaignId"])
    now = ts(view.as_of)
    joined = {
        **first,
        "LeadCampaignId": first["LeadCampaignId"] + 1,
        "CampaignId": other,
        "PrimaryFlag": False,
        "CreationDate": now,
        "LastUpdateDate": now,
    }
    view.lead_campaigns[lead["LeadId"]].append(joined)
    lead["LastUpdateDate"] = now
    load_system(SYSTEM, duckdb_path)
    stored = query(
        duckdb_path,
        f"select lead_campaign_id from raw_{SYSTEM}.lead_campaigns where lead_id = ? order by 1",
        [lead["LeadId"]],
    )
    assert [r[0] for r in stored] == [first["LeadCampaignId"], joined["LeadCampaignId"]]
    assert raw_counts(duckdb_path)["lead_campaigns"] == expected_counts(view)["lead_campaigns"]


def test_missing_and_wrong_credentials_fail_clearly(
    server: FakeApiServer, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__ORACLE_CX__PASSWORD", "wrong")
    with pytest.raises(LoadError, match="401"):
        load_system(SYSTEM, duckdb_path)
    monkeypatch.delenv("SOURCES__ORACLE_CX__PASSWORD")
    with pytest.raises(LoadError, match=r"password.*SOURCES__ORACLE_CX__"):
        load_system(SYSTEM, duckdb_path)


# ---- end to end ---------------------------------------------------------------------------------
@dataclass
class Built:
    company: DemoCompany
    server: FakeApiServer
    db: Path
    target: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    work = tmp_path_factory.mktemp("oracle_cx_e2e")
    company = oracle_company(seed=11, n_deals=300)
    with serving(company) as server:
        db = work / "l2c.duckdb"
        load_all(db, systems=["pipedrive", SYSTEM, "stripe"])
        # the lead phase and segment marts ride on the same build (no extra dbt run)
        selection = [
            *EVENT_LOG_BUILD[:-2],
            "+lead_response_times",
            "+campaign_performance",
            "+lead_disqualification_reasons",
            "+segment_performance",
            *EVENT_LOG_BUILD[-2:],
        ]
        run_dbt(["build", *selection], db, target_path=work / "target", quiet=True)
        yield Built(company, server, db, work / "target")


def canonical_stage_of() -> dict[tuple[str, str], str]:
    with (ROOT / "seeds" / "stage_mapping.csv").open() as handle:
        return {
            (row["pipeline_name"], row["stage_name"]): row["canonical_stage"]
            for row in csv.DictReader(handle)
            if row["source_system"] == "pipedrive"
        }


def test_stage_paths_in_the_event_log_are_the_planted_ones(built: Built) -> None:
    truth = built.company.ground_truth()
    mapping = canonical_stage_of()
    logged: dict[str, list[str]] = {}
    for case_id, activity in query(
        built.db,
        "select case_id, activity from marts.event_log where activity_family = 'Stage Entered' "
        "and source_system = ? order by case_id, event_order",
        [SYSTEM],
    ):
        logged.setdefault(case_id, []).append(activity.removeprefix("Stage Entered: "))
    deals = [d for d in truth["deals"] if d["crm"] == SYSTEM]
    assert len(deals) > 100
    mismatches = [
        d["case_id"]
        for d in deals
        if logged.get(d["case_id"], [])
        != [mapping[(d["pipeline"], s)] for s in d["stages_entered"]]
    ]
    assert not mismatches, f"{len(mismatches)} cases differ, e.g. {mismatches[:5]}"
    assert any(d["backward_moves"] for d in deals)  # the history covers backward moves too


def test_outcomes_per_system_match_the_truth(built: Built) -> None:
    truth = built.company.ground_truth()["counts_by_crm"]
    rows = query(
        built.db,
        "select source_system, case_type, outcome, count(*) from marts.cases group by all",
    )
    for system in ("pipedrive", SYSTEM):
        deals = {o: n for s, t, o, n in rows if s == system and t == "deal"}
        assert deals == {k: truth[system][k] for k in ("won", "lost", "open") if truth[system][k]}
        lead_cases = sum(n for s, t, _o, n in rows if s == system and t == "lead")
        assert lead_cases == truth[system]["leads"] - truth[system]["leads_converted"]
    converted = query(
        built.db,
        "select count(*) from intermediate.int_leads_classified "
        "where source_system = ? and lead_status = 'converted'",
        [SYSTEM],
    )[0][0]
    assert converted == truth[SYSTEM]["leads_converted"]


def test_close_times_and_discounts_match_the_truth(built: Built) -> None:
    truth = {d["case_id"]: d for d in built.company.ground_truth()["deals"]}
    rows = query(
        built.db,
        "select case_id, strftime(closed_at, '%Y-%m-%dT%H:%M:%SZ'), discount_pct, region, "
        "pipeline from marts.cases where source_system = ? and case_type = 'deal'",
        [SYSTEM],
    )
    assert rows
    for case_id, closed_at, discount_pct, region, pipeline in rows:
        deal = truth[case_id]
        assert closed_at == deal["close_time"], case_id
        assert discount_pct == pytest.approx(100 * deal["discount_pct_value_weighted"], abs=1e-3)
        assert (region, pipeline) == (deal["region"], deal["pipeline"])


def test_invoices_of_oracle_deals_link_to_the_right_case(built: Built) -> None:
    truth = built.company.ground_truth()
    ours = {i["id"]: i for i in truth["invoices"] if i["deal_case_id"].startswith(f"{SYSTEM}:")}
    assert ours
    rows = query(built.db, "select invoice_id, deal_key, link_method from marts.invoices")
    linked = {i: (d, m) for i, d, m in rows if i in ours}
    assert len(linked) == len(ours)
    wrong = [i for i, (d, _m) in linked.items() if d is not None and d != ours[i]["deal_case_id"]]
    assert not wrong, f"invoices linked to the wrong case: {wrong[:5]}"
    for invoice_id, invoice in ours.items():
        if invoice["has_deal_metadata"]:
            assert linked[invoice_id] == (invoice["deal_case_id"], "metadata")
    invoiced = query(
        built.db,
        "select count(*) from marts.event_log where source_system = 'stripe' "
        "and activity = 'Invoice Created' and case_id like 'oracle_cx:%'",
    )[0][0]
    assert invoiced == sum(1 for d, _m in linked.values() if d is not None)


def rep_key(rep: int) -> str:
    return f"{SYSTEM}:{resource_id(rep)}"


def _events(db: Path, activity: str) -> set[tuple[str, int, str]]:
    return {
        (case_id, round(at), resource)
        for case_id, at, resource in query(
            db,
            "select case_id, epoch(event_at), resource_key from marts.event_log "
            "where activity = ? and source_system = ?",
            [activity, SYSTEM],
        )
    }


def test_planted_first_contacts_are_in_the_log_at_their_time_with_their_rep(
    built: Built,
) -> None:
    phase = built.company.ground_truth()["lead_phase"]
    leads = [lead for lead in phase["leads"] if lead["crm"] == SYSTEM]
    contacts = {
        (lead["case_id"], lead["first_contact"], rep_key(lead["first_contact_by"]))
        for lead in leads
        if lead["first_contact"] is not None
    }
    assert len(contacts) > 50 and all(case for case, _at, _by in contacts)
    assert _events(built.db, "First Contact") == contacts
    # leads carry their current status and owner only: no qualification time, no reassignment
    assert any(lead["qualified"] for lead in leads) and any(lead["reassigned"] for lead in leads)
    assert _events(built.db, "Lead Qualified") == set()
    assert _events(built.db, "Owner Changed") == set()


def test_lead_response_equals_a_recomputation_from_the_payloads(built: Built) -> None:
    view = built.company.oracle_cx_view()
    expected = lead_kpis.oracle_cx_lead_response(view.leads, view.activities, view.lead_campaigns)
    # not observable in Oracle CX: qualification null, never 0
    lead_kpis.assert_response_without_history(
        query(built.db, lead_kpis.LEAD_RESPONSE_SQL, [SYSTEM]), expected
    )
    assert expected[("all", "all")]["contacted_count"] > 50


def _per_campaign(built: Built, columns: str, where: str) -> dict[str, tuple[int, int]]:
    """campaign -> two `columns` of this system's campaign_performance rows matching `where`."""
    rows = query(
        built.db,
        f"select campaign, {columns} from marts.campaign_performance "
        f"where source_system = ? and {where}",
        [SYSTEM],
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def test_opportunity_campaigns_reach_cases_and_campaign_performance(built: Built) -> None:
    view = built.company.oracle_cx_view()
    expected = primary_campaigns(view)
    rows = query(
        built.db,
        "select deal_key, campaign from marts.cases where source_system = ? and case_type = 'deal'",
        [SYSTEM],
    )
    campaigns = {int(r[0].split(":")[-1]): r[1] for r in rows if r[1] is not None}
    assert campaigns == expected
    assert len(set(expected.values())) >= 4
    # the planted win rates per campaign (truth: the lead's campaign is the primary one)
    truth = {
        row["campaign"]: (row["won"], row["lost"])
        for row in built.company.ground_truth()["campaigns"]
        if row["crm"] == SYSTEM and row["campaign"] is not None
    }
    assert _per_campaign(built, "won_count, lost_count", "campaign <> '(none)'") == truth
    rates = {c: w / (w + lo) for c, (w, lo) in truth.items() if w + lo >= 5}
    assert max(rates.values()) - min(rates.values()) > 0.2
    # the leads of each campaign (their earliest LeadCampaigns membership) and how many of
    # them converted, '(none)' for the leads without one: the planted ones
    leads_truth = {
        row["campaign"] or "(none)": (row["leads"], row["converted"])
        for row in built.company.ground_truth()["campaigns"]
        if row["crm"] == SYSTEM
    }
    leads_mart = _per_campaign(built, "leads_count, leads_converted", "leads_count > 0")
    assert leads_mart == leads_truth and len(leads_truth) >= 4


def test_lead_campaigns_reach_lead_response_times(built: Built) -> None:
    """The Oracle CX campaign rows of lead_response_times (a lead's campaign: its earliest
    LeadCampaigns membership, '(none)' without one) equal the planted truth: per campaign the
    leads, the contacted ones and the median response from each lead's campaign, creation and
    first contact (truth lead_phase). The recomputation from the payloads is
    test_lead_response_equals_a_recomputation_from_the_payloads."""
    rows = query(
        built.db,
        "select group_key, group_name, leads_count, contacted_count, median_response_hours "
        "from marts.lead_response_times where source_system = ? and dimension = 'campaign'",
        [SYSTEM],
    )
    mart = {r[1]: r[2:] for r in rows}
    planted: dict[str, list[tuple[int, int | None]]] = {}
    for lead in built.company.ground_truth()["lead_phase"]["leads"]:
        if lead["crm"] == SYSTEM:
            group = planted.setdefault(lead["campaign"] or "(none)", [])
            group.append((lead["created"], lead["first_contact"]))
    assert "(none)" in planted and len(planted) >= 4
    assert set(mart) == set(planted)
    for name, leads in planted.items():
        response = [contact - created for created, contact in leads if contact is not None]
        median = lead_kpis.median(response)
        assert mart[name][:2] == (len(leads), len(response)), name
        assert mart[name][2] == pytest.approx(None if median is None else median / 3600.0), name
    # group keys are the campaigns' keys (oracle_cx:<CampaignId>)
    ids = {c["CampaignName"]: c["CampaignId"] for c in built.company.oracle_cx_view().campaigns}
    assert {r[0] for r in rows if r[1] != "(none)"} == {
        f"{SYSTEM}:{ids[name]}" for name in planted if name != "(none)"
    }


def main_categories(view: OracleCxView) -> dict[int, str]:
    """OptyId -> the product group (ProdGroupName) of its revenue line with the largest list
    amount, UnitPrice x Quantity (ties: the group sorting first). Lines without an item or a
    positive list amount (the deal-level Discounts lines) are left out."""
    best: dict[int, tuple[float, str]] = {}
    for opty, lines in view.revenue_items.items():
        for line in lines:
            amount = round((line["UnitPrice"] or 0.0) * (line["Quantity"] or 1), 2)
            if line["InventoryItemId"] is None or amount <= 0 or not line["ProdGroupName"]:
                continue
            key = (-amount, line["ProdGroupName"])
            if opty not in best or key < best[opty]:
                best[opty] = key
    return {opty: name for opty, (_amount, name) in best.items()}


def test_product_groups_reach_cases_and_segment_performance(built: Built) -> None:
    """cases.product_category and the Oracle CX rows of segment_performance (product_category)
    against a recomputation from the revenue-item and opportunity payloads."""
    view = built.company.oracle_cx_view()
    expected = main_categories(view)
    rows = query(
        built.db,
        "select deal_key, product_category from marts.cases "
        "where source_system = ? and case_type = 'deal'",
        [SYSTEM],
    )
    cases = {int(r[0].split(":")[-1]): r[1] for r in rows}
    assert set(cases) == {o["OptyId"] for o in view.opportunities}
    assert {k: v for k, v in cases.items() if v is not None} == expected
    assert set(expected.values()) == {"Software", "Services", "Support"}
    assert "Discounts" not in cases.values()
    counts: dict[str, list[int]] = {}
    for opty in view.opportunities:
        row = counts.setdefault(expected.get(opty["OptyId"], "(none)"), [0, 0, 0, 0])
        row[0] += 1
        row[{"WON": 1, "LOST": 2, "OPEN": 3}[opty["StatusCode"]]] += 1
    mart = {
        r[0]: list(r[1:])
        for r in query(
            built.db,
            "select dimension_value, deals_count, won_count, lost_count, open_count "
            "from marts.segment_performance "
            "where source_system = ? and dimension = 'product_category'",
            [SYSTEM],
        )
    }
    assert mart == counts
    # and the planted truth (the family of the deal's main line) agrees
    truth = {
        t["value"] or "(none)": [t["deals"], t["won"], t["lost"], t["open"]]
        for t in built.company.ground_truth()["segments"]
        if t["crm"] == SYSTEM and t["dimension"] == "product_category"
    }
    assert mart == truth


def test_retired_leads_carry_their_retire_reason(built: Built) -> None:
    """lead_disqualification_reasons against the payloads: RETIRED leads per ChannelType and
    RetireReasonCode."""
    expected: dict[tuple[str, str], int] = {}
    for lead in built.company.oracle_cx_view().leads:
        if lead["StatusCode"] == "RETIRED":
            key = (lead["ChannelType"], lead["RetireReasonCode"] or "(unknown)")
            expected[key] = expected.get(key, 0) + 1
    rows = query(
        built.db,
        "select lead_source, disqualified_reason, disqualified_count "
        "from marts.lead_disqualification_reasons where source_system = ?",
        [SYSTEM],
    )
    assert {(r[0], r[1]): r[2] for r in rows} == expected
    assert sum(expected.values()) > 10


def test_a_new_field_does_not_break_staging(built: Built) -> None:
    """Runs last in this module: it changes the company the server shows."""
    view = built.company.oracle_cx_view()
    now = ts(view.as_of)
    touched = view.opportunities[:4]
    for opportunity in touched:
        opportunity["LeadScore_c"] = 87.5
        opportunity["LastUpdateDate"] = now
    load_system(SYSTEM, built.db)
    scored = query(
        built.db, f"select count(*) from raw_{SYSTEM}.opportunities where lead_score_c = 87.5"
    )[0][0]
    assert scored == len(touched)
    run_dbt(
        ["build", "--select", "path:models/staging/oracle_cx"],
        built.db,
        target_path=built.target,
        quiet=True,
    )
    deals = query(built.db, f"select count(*) from staging.stg_{SYSTEM}__deals")[0][0]
    assert deals == len(view.opportunities)
