"""Zendesk Sell end to end: the rendered API, the fake server, the dlt source, the stage
history reconstructed from scheduled loads, and the canonical warehouse against the truth."""

from __future__ import annotations

import csv
import json
import logging
from calendar import monthrange
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any

import lead_kpis
import pytest
import requests
import retention_kpis
from conftest import only_systems, query, serving, settled, table_counts, vars_of
from test_kpis_independent import Fx, _round

from l2c.dbt_runner import EVENT_LOG_BUILD, ROOT, run_dbt
from l2c_demo.fake_api import FakeApiServer, Fault
from l2c_demo.simulator import DemoCompany, SimConfig
from l2c_demo.simulator.catalog import STAGE_NAMES
from l2c_demo.simulator.crms import CRMS
from l2c_demo.simulator.model import Deal
from l2c_demo.simulator.render_zendesk_sell import UNQUALIFIED_REASONS
from l2c_demo.simulator.state import deal_state
from l2c_demo.zendesk_sell_schedule import history_config, run_history_loads
from pipelines.load import LoadError, load_all, load_system, make_pipeline

# the company's systems only: no other system's empty staging models and tests
dbt_systems = only_systems("pipedrive", "zendesk_sell", "stripe")

SYSTEM = "zendesk_sell"
UNIT = CRMS[SYSTEM]
DAY = 86400
LISTS = [
    "deals",
    "leads",
    "lead_conversions",
    "stages",
    "pipelines",
    "loss_reasons",
    "deal_unqualified_reasons",
    "lead_sources",
    "lead_unqualified_reasons",
    "orders",
    "users",
    "calls",
]

logging.getLogger("dlt").setLevel(logging.ERROR)


def two_unit_config(**kwargs: Any) -> SimConfig:
    return SimConfig(crms=("pipedrive", SYSTEM), crm_weights=(0.5, 0.5), **kwargs)


# ---- the fake API ---------------------------------------------------------------


@pytest.fixture(scope="module")
def api() -> Iterator[FakeApiServer]:
    with FakeApiServer(DemoCompany(two_unit_config(seed=8, n_deals=300))) as srv:
        yield srv


@pytest.fixture()
def sell(api: FakeApiServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = "Bearer demo-zendesk-sell-token"
        yield session


def walk(session: requests.Session, url: str, **params: Any) -> list[dict[str, Any]]:
    """Follow meta.links.next_page to the end; check the envelope on the way."""
    rows: list[dict[str, Any]] = []
    next_url: str | None = url
    query_params: dict[str, Any] | None = params
    while next_url:
        response = session.get(next_url, params=query_params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["meta"]["type"] == "collection"
        assert body["meta"]["count"] == len(body["items"])
        rows.extend(item["data"] for item in body["items"])
        assert all(set(item) == {"data", "meta"} for item in body["items"])
        next_url, query_params = body["meta"]["links"].get("next_page"), None
    return rows


@pytest.mark.parametrize("name", LISTS)
def test_every_list_pages_through_every_record_once(
    api: FakeApiServer, sell: requests.Session, name: str
) -> None:
    expected = getattr(api.company.zendesk_sell_view(), name)
    rows = walk(sell, f"{api.url_for(SYSTEM)}/v2/{name}", per_page=3)
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in expected)
    assert len(rows) == len(expected) > 0


def test_auth_is_required_and_errors_have_the_zendesk_shape(api: FakeApiServer) -> None:
    url = f"{api.url_for(SYSTEM)}/v2/deals"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Token x"}):
        response = requests.get(url, headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body["errors"][0]["error"]["code"] == "unauthorized"
        assert body["meta"]["type"] == "errors" and body["meta"]["http_status"].startswith("401")
        assert body["meta"]["logref"]


def test_paging_parameters_sorting_and_filters(api: FakeApiServer, sell: requests.Session) -> None:
    view = api.company.zendesk_sell_view()
    base = api.url_for(SYSTEM)
    assert sell.get(f"{base}/v2/deals", params={"per_page": 101}).status_code == 400
    assert sell.get(f"{base}/v2/deals", params={"page": 0}).status_code == 400
    assert sell.get(f"{base}/v2/deals", params={"sort_by": "colour"}).status_code == 400
    bad = sell.get(f"{base}/v2/deals", params={"updated_since": "2026-01-01"})
    assert bad.status_code == 400 and "updated_since" in bad.json()["errors"][0]["error"]["message"]

    newest_first = walk(sell, f"{base}/v2/deals", sort_by="updated_at:desc", per_page=40)
    stamps = [r["updated_at"] for r in newest_first]
    assert stamps == sorted(stamps, reverse=True)
    first = sell.get(f"{base}/v2/deals").json()
    assert first["meta"]["count"] == 25 and "page=2" in first["meta"]["links"]["next_page"]

    stage_id = view.deals[0]["stage_id"]
    in_stage = walk(sell, f"{base}/v2/deals", stage_id=stage_id)
    assert {r["id"] for r in in_stage} == {d["id"] for d in view.deals if d["stage_id"] == stage_id}
    some = [d["id"] for d in view.deals[:4]]
    by_ids = walk(sell, f"{base}/v2/deals", ids=",".join(map(str, some)))
    assert sorted(r["id"] for r in by_ids) == sorted(some)
    conversion = view.lead_conversions[5]
    found = walk(sell, f"{base}/v2/lead_conversions", lead_id=conversion["lead_id"])
    assert found == [conversion]
    order = view.orders[0]
    items = walk(sell, f"{base}/v2/orders/{order['id']}/line_items", per_page=1)
    assert items == view.line_items[order["id"]]
    assert sell.get(f"{base}/v2/orders/1/line_items").status_code == 404
    assert sell.get(f"{base}/v2/deals/{some[0]}").json()["data"]["id"] == some[0]


def test_lead_conversions_switch_to_a_cursor_after_page_50(
    api: FakeApiServer, sell: requests.Session
) -> None:
    url = f"{api.url_for(SYSTEM)}/v2/lead_conversions"
    expected = sorted(
        (r["id"] for r in api.company.zendesk_sell_view().lead_conversions), reverse=True
    )
    assert len(expected) > 50
    assert sell.get(url, params={"per_page": 1, "page": 51}).status_code == 400
    page50 = sell.get(url, params={"per_page": 1, "page": 50}).json()
    assert "cursor=" in page50["meta"]["links"]["next_page"]
    assert [r["id"] for r in walk(sell, url, per_page=1)] == expected


def test_faults_and_malformed_records_apply_to_zendesk_paths(
    api: FakeApiServer, sell: requests.Session
) -> None:
    url = f"{api.url_for(SYSTEM)}/v2/deals"
    api.add_fault(Fault(path_prefix=f"/{SYSTEM}/v2/deals", status=429, retry_after=2, times=1))
    throttled = sell.get(url)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert throttled.json()["errors"][0]["error"]["code"] == "rate_limit_exceeded"
    assert sell.get(url).status_code == 200
    deal_id = api.company.zendesk_sell_view().deals[0]["id"]
    api.malform(f"{SYSTEM}.deals", deal_id, "value", "lots")
    rows = walk(sell, url, ids=deal_id)
    assert rows[0]["value"] == "lots"
    api.app._malformed.clear()


def test_rendering_uses_zendesk_ids_stages_and_outcomes() -> None:
    company = DemoCompany(two_unit_config(seed=3, n_deals=200))
    view = company.zendesk_sell_view()
    states = company.deal_states()
    stages = {s["id"]: s for s in view.stages}
    deals = {d.id: d for d in company.world.deals}
    orgs = {o.id: o for o in company.world.orgs}
    mine = [d for d in deals.values() if d.crm == SYSTEM and d.id in states]
    assert [r["id"] for r in view.deals] == sorted(int(UNIT.deal_ref(d.id)) for d in mine)
    reasons = {r["id"]: r["name"] for r in view.loss_reasons}
    unqualified = {r["id"]: r["name"] for r in view.deal_unqualified_reasons}
    closed_unqualified = 0
    for record in view.deals:
        deal, st = deals[record["id"]], states[record["id"]]
        stage = stages[record["stage_id"]]
        assert record["contact_id"] == int(UNIT.account_ref(orgs[deal.org_id].id))
        assert orgs[deal.org_id].crm == SYSTEM
        if st.status == "open":
            assert stage["category"] in ("incoming", "in_progress")
        elif st.status == "lost" and st.lost_reason in UNQUALIFIED_REASONS:
            # a deal that never qualified closes in the Unqualified stage with its reason
            assert (stage["category"], stage["name"]) == ("unqualified", "Unqualified")
            assert record["loss_reason_id"] is None
            assert unqualified[record["unqualified_reason_id"]] == st.lost_reason
            closed_unqualified += 1
        else:
            assert stage["category"] == st.status and stage["name"] == st.status.title()
            assert record["unqualified_reason_id"] is None
            if st.status == "lost":
                assert reasons[record["loss_reason_id"]] == st.lost_reason
        if st.status != "open":
            assert st.close_time is not None
            assert record["last_stage_change_at"] == _rfc(st.close_time)
    assert closed_unqualified > 0
    assert {o["deal_id"] for o in view.orders} <= {r["id"] for r in view.deals}
    assert all(deals[o["deal_id"]].crm == SYSTEM for o in view.orders)
    leads = [lead for lead in company.world.leads if lead.crm == SYSTEM]
    assert len(view.leads) == sum(1 for lead in leads if lead.add_time <= company.as_of_unix)


def _rfc(ts: int) -> str:
    from l2c_demo.simulator.clock import v2

    return v2(ts) or ""


# ---- the dlt source -------------------------------------------------------------


@pytest.fixture
def company() -> DemoCompany:
    return DemoCompany(two_unit_config(seed=7, n_deals=240))


@pytest.fixture
def server(company: DemoCompany, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiServer]:
    with FakeApiServer(company, port=0) as srv:
        for key, value in srv.source_env().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("SOURCES__ZENDESK_SELL__MAX_ATTEMPTS", "4")
        yield srv


def raw(path: Path, sql: str) -> list[tuple[Any, ...]]:
    return query(path, sql.replace("raw.", "raw_zendesk_sell."))


def assert_raw_matches_view(path: Path, company: DemoCompany) -> None:
    view = company.zendesk_sell_view()
    counts = table_counts(path, "raw_zendesk_sell")
    for name in LISTS:
        assert counts[name] == len(getattr(view, name)), name
    assert counts["order_line_items"] == sum(len(v) for v in view.line_items.values())
    stored = dict(raw(path, "select id, stage_id from raw.deals"))
    assert stored == {d["id"]: d["stage_id"] for d in view.deals}
    for table, key in (("deals", "id"), ("leads", "id"), ("deal_stage_snapshots", "snapshot_id")):
        dupes = raw(path, f"select count(*) - count(distinct {key}) from raw.{table}")[0][0]
        assert dupes == 0, table


def test_every_resource_pages_and_loads_exactly_once(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__ZENDESK_SELL__PAGE_SIZE", "1")
    load_system(SYSTEM, duckdb_path)
    assert_raw_matches_view(duckdb_path, company)
    paged: dict[str, int] = {}
    for _method, path, params in server.request_log:
        if int(params.get("page", 1)) > 1 or "cursor" in params:
            key = "/v2/orders/*/line_items" if path.endswith("/line_items") else path
            paged[key] = paged.get(key, 0) + 1
    for name in LISTS:
        assert paged.get(f"/{SYSTEM}/v2/{name}", 0) > 0, f"{name} was never paged"
    assert paged.get("/v2/orders/*/line_items", 0) > 0
    cursor_pages = [p for _m, p, q in server.request_log if "cursor" in q]
    assert cursor_pages, "lead conversions past page 50 are read through the cursor"
    # the conversion the loader attached to each lead is the API's
    view = company.zendesk_sell_view()
    attached = dict(raw(duckdb_path, "select id, converted_deal_id from raw.leads"))
    truth = {r["lead_id"]: r["deal_id"] for r in view.lead_conversions}
    assert attached == {r["id"]: truth.get(r["id"]) for r in view.leads}
    # and the name of its unqualified reason
    names = {r["id"]: r["name"] for r in view.lead_unqualified_reasons}
    reasons = dict(raw(duckdb_path, "select id, unqualified_reason_name from raw.leads"))
    expected = {r["id"]: names.get(r["unqualified_reason_id"]) for r in view.leads}
    assert reasons == expected
    assert sum(1 for v in expected.values() if v) > 10


def test_a_malformed_lead_unqualified_reason_goes_to_rejects(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    view = company.zendesk_sell_view()
    reason_id = view.lead_unqualified_reasons[1]["id"]
    server.malform(f"{SYSTEM}.lead_unqualified_reasons", reason_id, "updated_at", "soon")
    load_system(SYSTEM, duckdb_path)
    rejects = raw(duckdb_path, "select resource, record_id, reason from raw.rejects")
    assert [(r[0], r[1]) for r in rejects] == [("lead_unqualified_reasons", str(reason_id))]
    assert "updated_at" in rejects[0][2]
    stored = {r[0] for r in raw(duckdb_path, "select id from raw.lead_unqualified_reasons")}
    assert stored == {r["id"] for r in view.lead_unqualified_reasons} - {reason_id}
    load_system(SYSTEM, duckdb_path)  # re-read in full: no duplicate row, no duplicate reject
    assert table_counts(duckdb_path, "raw_zendesk_sell")["rejects"] == 1
    assert table_counts(duckdb_path, "raw_zendesk_sell")["lead_unqualified_reasons"] == len(stored)


def test_second_load_changes_nothing_and_reads_only_the_newest_page(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    load_system(SYSTEM, duckdb_path)
    before = table_counts(duckdb_path, "raw_zendesk_sell")
    server.clear_log()
    load_system(SYSTEM, duckdb_path)
    assert table_counts(duckdb_path, "raw_zendesk_sell") == before
    for name in ("deals", "leads", "orders", "lead_conversions", "calls"):
        pages = [
            q
            for _m, p, q in server.request_log
            if p == f"/{SYSTEM}/v2/{name}" and "lead_id" not in q
        ]
        assert len(pages) == 1, f"{name}: {pages}"
    lookups = [q for _m, _p, q in server.request_log if "lead_id" in q]
    assert len(lookups) <= 1  # at most the lead sitting on the cursor
    assert not [p for _m, p, _q in server.request_log if p.endswith("/line_items")][1:]


def test_incremental_load_fetches_only_changed_records_and_updates_them_in_place(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    load_system(SYSTEM, duckdb_path)
    first = company.zendesk_sell_view()
    cursors = {
        name: max(r["updated_at"] for r in getattr(first, name))
        for name in ("deals", "leads", "orders", "calls")
    }
    snapshots_before = {(d["id"], d["stage_id"], d["last_stage_change_at"]) for d in first.deals}
    company.advance(days=30)
    load_system(SYSTEM, duckdb_path)
    now = company.zendesk_sell_view()
    assert_raw_matches_view(duckdb_path, company)
    last_load = "(select max(load_id) from raw_zendesk_sell._dlt_loads)"
    for name, cursor in cursors.items():
        # dlt's incremental skips the rows at the cursor it loaded last time (same key)
        seen = {r["id"] for r in getattr(first, name) if r["updated_at"] == cursor}
        changed = {
            r["id"]
            for r in getattr(now, name)
            if r["updated_at"] > cursor or (r["updated_at"] == cursor and r["id"] not in seen)
        }
        loaded = {
            r[0]
            for r in raw(duckdb_path, f"select id from raw.{name} where _dlt_load_id = {last_load}")
        }
        assert loaded == changed, name
        assert len(changed) < len(getattr(now, name))
    new_deals = {d["id"] for d in now.deals} - {d["id"] for d in first.deals}
    moved = {
        d["id"]
        for d in now.deals
        if d["id"] not in new_deals
        and (d["id"], d["stage_id"], d["last_stage_change_at"]) not in snapshots_before
    }
    assert new_deals and moved, "the simulation should create and move deals in 30 days"
    entries = {(d["id"], d["stage_id"], d["last_stage_change_at"]) for d in now.deals}
    expected_snapshots = len(snapshots_before | entries)
    assert (
        table_counts(duckdb_path, "raw_zendesk_sell")["deal_stage_snapshots"] == expected_snapshots
    )
    # a moved deal keeps its earlier stage entry and gains the new one
    deal_id = sorted(moved)[0]
    kept = raw(
        duckdb_path, f"select count(*) from raw.deal_stage_snapshots where deal_id = {deal_id}"
    )
    assert kept[0][0] == 2


def test_the_look_back_catches_an_update_older_than_the_last_cursor(
    server: FakeApiServer,
    company: DemoCompany,
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deal changed after the last load but stamped a minute before its cursor (a late
    write): without a look-back the newest-first read stops above it; with one (the
    incremental's `lag`) it is read again and its change lands."""
    load_system(SYSTEM, duckdb_path)
    deals = sorted(company.zendesk_sell_view().deals, key=lambda d: d["updated_at"])
    cursor = datetime.fromisoformat(deals[-1]["updated_at"].replace("Z", "+00:00"))
    late = deals[-2]  # on the first page of the newest-first read
    stamp = (cursor - timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    server.malform(f"{SYSTEM}.deals", late["id"], "updated_at", stamp)
    server.malform(f"{SYSTEM}.deals", late["id"], "value", 4321.0)
    value = f"select value from raw.deals where id = {late['id']}"
    load_system(SYSTEM, duckdb_path)
    assert raw(duckdb_path, value) == [(late["value"],)]
    monkeypatch.setenv("SOURCES__ZENDESK_SELL__LOOKBACK_SECONDS", "120")
    server.clear_log()
    load_system(SYSTEM, duckdb_path)
    assert raw(duckdb_path, value) == [(4321.0,)]
    pages = [p for _m, p, _q in server.request_log if p == f"/{SYSTEM}/v2/deals"]
    assert len(pages) == 1  # the look-back re-reads two minutes, not the list


def test_a_cursor_kept_by_the_former_hand_written_cursor_is_resumed(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    """A pipeline state written before dlt.sources.incremental kept each newest-first list's
    cursor at resource_state()[<field>]: the next run resumes from it (and stores it the
    incremental's way) instead of reading every list again."""
    load_system(SYSTEM, duckdb_path)
    pipeline = make_pipeline(SYSTEM, duckdb_path)
    old_keys = {
        "deals": {"updated_at": "updated_at"},
        "orders": {"updated_at": "updated_at"},
        "calls": {"updated_at": "updated_at"},
        "leads": {"updated_at": "updated_at", "created_at": "conversions_created_at"},
    }
    with pipeline.managed_state() as state:
        resources = state["sources"][SYSTEM]["resources"]
        for name, keys in old_keys.items():
            cursors = resources[name].pop("incremental")
            for field, old_key in keys.items():
                resources[name][old_key] = cursors[field]["last_value"].isoformat()
    server.clear_log()
    before = table_counts(duckdb_path, "raw_zendesk_sell")
    load_system(SYSTEM, duckdb_path)
    assert table_counts(duckdb_path, "raw_zendesk_sell") == before
    for name in ("deals", "leads", "orders", "lead_conversions", "calls"):
        pages = [
            q
            for _m, p, q in server.request_log
            if p == f"/{SYSTEM}/v2/{name}" and "lead_id" not in q
        ]
        assert len(pages) == 1, f"{name}: {pages}"
    resources = make_pipeline(SYSTEM, duckdb_path).state["sources"][SYSTEM]["resources"]
    for name, keys in old_keys.items():
        assert set(keys.values()).isdisjoint(resources[name]), name
        assert set(resources[name]["incremental"]) == set(keys), name


def test_recovers_from_429_and_5xx(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    server.add_fault(Fault(path_prefix=f"/{SYSTEM}/v2/deals", status=429, retry_after=1, times=2))
    server.add_fault(Fault(path_prefix=f"/{SYSTEM}/v2/leads", status=500, times=2))
    server.add_fault(Fault(path_prefix=f"/{SYSTEM}/v2/orders/", status=503, times=1))
    server.add_fault(Fault(path_prefix=f"/{SYSTEM}/v2/users", delay_seconds=0.3, times=1))
    load_system(SYSTEM, duckdb_path)
    assert_raw_matches_view(duckdb_path, company)
    assert server.app.faults.pending() == 0
    deals = [p for _m, p, _q in server.request_log if p == f"/{SYSTEM}/v2/deals"]
    assert len(deals) >= 3


def test_gives_up_with_a_clear_error(
    server: FakeApiServer, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__ZENDESK_SELL__MAX_ATTEMPTS", "2")
    server.add_fault(Fault(path_prefix=f"/{SYSTEM}/v2/deals", status=500, times=50))
    with pytest.raises(LoadError, match=r"zendesk_sell.*500"):
        load_system(SYSTEM, duckdb_path)


def test_malformed_records_go_to_rejects_with_their_reason(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    view = company.zendesk_sell_view()
    deal_id = view.deals[3]["id"]
    item_id = next(iter(view.line_items.values()))[0]["id"]
    call_id = view.calls[2]["id"]
    server.malform(f"{SYSTEM}.calls", call_id, "made_at", "soon")
    server.malform(f"{SYSTEM}.deals", deal_id, "created_at", "yesterday")
    server.malform(f"{SYSTEM}.line_items", item_id, "value", "12,50")
    load_system(SYSTEM, duckdb_path)
    rejects = raw(
        duckdb_path, "select resource, record_id, reason, payload from raw.rejects order by 1"
    )
    assert [(r[0], r[1]) for r in rejects] == [
        ("calls", str(call_id)),
        ("deals", str(deal_id)),
        ("order_line_items", str(item_id)),
    ]
    assert "made_at" in rejects[0][2] and "soon" in rejects[0][2]
    rejects = rejects[1:]
    assert "created_at" in rejects[0][2] and "yesterday" in rejects[0][2]
    assert '"yesterday"' in rejects[0][3]
    assert "value" in rejects[1][2]
    counts = table_counts(duckdb_path, "raw_zendesk_sell")
    assert counts["deals"] == counts["deal_stage_snapshots"] == len(view.deals) - 1
    assert counts["leads"] == len(view.leads)
    assert counts["calls"] == len(view.calls) - 1
    load_system(SYSTEM, duckdb_path)
    assert table_counts(duckdb_path, "raw_zendesk_sell")["rejects"] == 3


def test_missing_and_wrong_credentials_fail_clearly(
    server: FakeApiServer, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__ZENDESK_SELL__ACCESS_TOKEN", "wrong")
    with pytest.raises(LoadError, match="401"):
        load_system(SYSTEM, duckdb_path)
    monkeypatch.delenv("SOURCES__ZENDESK_SELL__ACCESS_TOKEN")
    with pytest.raises(LoadError, match=r"access_token.*SOURCES__ZENDESK_SELL__ACCESS_TOKEN"):
        load_system(SYSTEM, duckdb_path)


# ---- scheduled loads: stage history ---------------------------------------------


def test_history_config_is_the_same_company_seen_earlier() -> None:
    config = two_unit_config(seed=5, n_deals=300)
    direct = DemoCompany(config)
    rewound = DemoCompany(history_config(config, loads=6, every_days=7))
    assert rewound.as_of_unix == direct.as_of_unix - 42 * DAY
    rewound.advance(days=42)
    a, b = direct.ground_truth(), rewound.ground_truth()

    def deals(truth: dict[str, Any]) -> list[dict[str, Any]]:
        # billing (Stripe ids, payment dates) is drawn after the accounts are numbered, and
        # the numbering of accounts that never buy depends on as_of: only the CRM side and the
        # invoices' deals and dates are the same
        return [{k: v for k, v in d.items() if k != "invoice_ids"} for d in truth["deals"]]

    def invoices(truth: dict[str, Any]) -> list[tuple[Any, ...]]:
        return sorted((i["deal_case_id"], i["created"]) for i in truth["invoices"])

    assert deals(a) == deals(b) and a["counts_by_crm"] == b["counts_by_crm"]
    assert invoices(a) == invoices(b) and a["orders"] == b["orders"]
    with pytest.raises(ValueError):
        history_config(config, loads=3, every_days=0.5)


def canonical_stages() -> dict[tuple[str, str], str]:
    """Abstract (Pipedrive-named) stage -> canonical, from the pipedrive rows of the seed."""
    with (ROOT / "seeds" / "stage_mapping.csv").open() as handle:
        return {
            (row["pipeline_name"], row["stage_name"]): row["canonical_stage"]
            for row in csv.DictReader(handle)
            if row["source_system"] == "pipedrive"
        }


def stage_at(deal: Deal, ts: int) -> tuple[str, int]:
    """Where the deal stands at ts, from the simulator: its open stage (or won / lost) and when
    it got there (last stage or status change, else its creation)."""
    st = deal_state(deal, ts)
    entered = deal.add_time
    for change in st.flow:
        if change.field_key in ("stage_id", "status"):
            entered = change.ts
    return (STAGE_NAMES[st.stage_id][1] if st.status == "open" else st.status), entered


def observable_entries(deal: Deal, load_times: list[int]) -> list[tuple[str, int]]:
    """The Stage Entered events scheduled snapshots can give: the deal's stage at each load,
    entered at its true time; the creation stage when the first load saw the deal still in it,
    else no creation entry (not observed); Won / Lost are outcomes, not stages."""
    mapping = canonical_stages()
    seen: list[tuple[str, int]] = []
    for ts in load_times:
        if deal.add_time <= ts and stage_at(deal, ts) not in seen:
            seen.append(stage_at(deal, ts))
    first_stage, first_entered = seen[0]
    creation_seen = first_stage not in ("won", "lost") and first_entered == deal.add_time
    entries = [(mapping[(deal.pipeline, first_stage)], deal.add_time)] if creation_seen else []
    for index, (stage, entered) in enumerate(seen):
        if stage in ("won", "lost") or (index == 0 and creation_seen):
            continue
        entries.append((mapping[(deal.pipeline, stage)], entered))
    return entries


@dataclass
class History:
    company: DemoCompany
    db: Path
    target: Path
    load_times: list[int]
    truth: dict[str, Any]
    server: FakeApiServer


LOADS, EVERY_DAYS = 10, 6


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """A two-CRM company with a short past, Zendesk Sell loaded every 6 days for 60 days, then
    the final load of every system and dbt build."""
    work = tmp_path_factory.mktemp("zendesk_history")
    config = two_unit_config(
        seed=21,
        n_deals=360,
        history_days=160,
        future_days=30,
        # every won Sell deal is a monthly contract renewed through the Renewals pipeline
        sell_recurring_share=1.0,
        sell_term_months=((1, 1.0),),
    )
    company = DemoCompany(history_config(config, LOADS, EVERY_DAYS))
    start = company.as_of_unix
    with serving(company) as server:
        db = work / "l2c.duckdb"
        run_history_loads(company, db, LOADS, EVERY_DAYS)
        assert (
            company.as_of_unix == start + LOADS * EVERY_DAYS * DAY == DemoCompany(config).as_of_unix
        )
        load_all(db, ["pipedrive", SYSTEM, "stripe"])
        # the lead phase and renewal marts ride on the same build (no extra dbt run)
        selection = [
            *EVENT_LOG_BUILD[:-2],
            "+lead_response_times",
            "+subscription_renewals",
            "+revenue_retention",
            "+revenue_retention_cohorts",
            "+lead_disqualification_reasons",
            *EVENT_LOG_BUILD[-2:],
        ]
        run_dbt(
            ["build", *selection, *vars_of(company)],
            db,
            target_path=work / "target",
            quiet=True,
        )
        load_times = [start + k * EVERY_DAYS * DAY for k in range(LOADS + 1)]
        yield History(company, db, work / "target", load_times, company.ground_truth(), server)


def logged_entries(db: Path) -> dict[str, list[tuple[str, int]]]:
    logged: dict[str, list[tuple[str, int]]] = {}
    for case_id, activity, at in query(
        db,
        "select case_id, activity, epoch(event_at)::bigint from marts.event_log "
        "where activity_family = 'Stage Entered' and source_system = 'zendesk_sell' "
        "order by case_id, event_order",
    ):
        logged.setdefault(case_id, []).append((activity.removeprefix("Stage Entered: "), at))
    return logged


def zendesk_deals(h: History) -> list[Deal]:
    return [d for d in h.company.world.deals if d.crm == SYSTEM and d.add_time <= h.load_times[-1]]


@pytest.mark.slow
def test_stage_entries_are_the_stages_seen_at_each_load_with_their_true_times(
    history: History,
) -> None:
    logged = logged_entries(history.db)
    deals = zendesk_deals(history)
    mismatches = [
        d.id
        for d in deals
        if logged.get(f"{SYSTEM}:{UNIT.deal_ref(d.id)}", [])
        != observable_entries(d, history.load_times)
    ]
    assert not mismatches, f"{len(mismatches)} of {len(deals)} deals differ, e.g. {mismatches[:5]}"
    multi_step = [d for d in deals if len(observable_entries(d, history.load_times)) >= 3]
    assert len(multi_step) >= 20, "the schedule should give many deals a multi-step history"


@pytest.mark.slow
def test_deals_observed_through_their_whole_life_have_the_planted_path(history: History) -> None:
    """When no two stage moves fall between two loads and the first load saw the deal in its
    creation stage, the reconstructed path is the truth's."""
    mapping = canonical_stages()
    logged = logged_entries(history.db)
    truth = {d["id"]: d for d in history.truth["deals"]}
    checked = 0
    for deal in zendesk_deals(history):
        moves = [c.ts for c in deal.flow if c.field_key in ("stage_id", "status")]
        loads = history.load_times
        between = [sum(1 for m in moves if a < m <= b) for a, b in pairwise(loads)]
        first_load = next(t for t in loads if t >= deal.add_time)
        reopened = sum(1 for c in deal.flow if c.field_key == "status") > 1
        if max(between, default=0) > 1:
            continue
        if reopened or stage_at(deal, first_load)[1] != deal.add_time:
            continue
        expected = [mapping[(deal.pipeline, s)] for s in truth[deal.id]["stages_entered"]]
        path = [stage for stage, _ in logged[f"{SYSTEM}:{UNIT.deal_ref(deal.id)}"]]
        assert path == expected, deal.id
        checked += 1
    assert checked >= 15


@pytest.mark.slow
def test_two_stage_moves_between_loads_collapse_into_the_later_one(history: History) -> None:
    """The documented blind spot: A -> B -> C between two loads shows only C (entered at its
    true time); B never appears."""
    mapping = canonical_stages()
    logged = logged_entries(history.db)
    collapsed = 0
    for deal in zendesk_deals(history):
        stage_moves = [c for c in deal.flow if c.field_key == "stage_id"]
        entries = logged.get(f"{SYSTEM}:{UNIT.deal_ref(deal.id)}", [])
        for before, after in pairwise(history.load_times):
            inside = [c for c in stage_moves if before < c.ts <= after]
            if len(inside) < 2 or stage_at(deal, after)[0] in ("won", "lost"):
                continue
            hidden, last = inside[:-1], inside[-1]
            for change in hidden:
                stage = mapping[(deal.pipeline, STAGE_NAMES[change.new][1])]
                assert (stage, change.ts) not in entries, (deal.id, change)
            assert (mapping[(deal.pipeline, STAGE_NAMES[last.new][1])], last.ts) in entries
            collapsed += 1
    assert collapsed >= 1, "the schedule should make some deals move twice between loads"


@pytest.mark.slow
def test_outcomes_per_system_match_the_truth(history: History) -> None:
    rows = query(
        history.db,
        "select source_system, outcome, count(*) from marts.cases where case_type = 'deal' "
        "group by 1, 2",
    )
    by_system: dict[str, dict[str, int]] = {}
    for system, outcome, n in rows:
        by_system.setdefault(system, {})[outcome] = n
    renewal_deals = history.truth["zendesk_sell_renewals"]["renewal_deals"]
    for system in ("pipedrive", SYSTEM):
        truth = history.truth["counts_by_crm"][system]
        # the Renewals pipeline's deals are Sell deals too (not in the world's deal counts)
        extra = renewal_deals if system == SYSTEM else {}
        expected = {k: truth[k] + extra.get(k, 0) for k in ("won", "lost", "open")}
        assert by_system[system] == {k: v for k, v in expected.items() if v}
    leads = query(
        history.db,
        "select count(*), count(converted_deal_key) from intermediate.int_leads_classified "
        "where source_system = 'zendesk_sell'",
    )[0]
    truth = history.truth["counts_by_crm"][SYSTEM]
    assert leads == (truth["leads"], truth["leads_converted"])
    lost = dict(
        query(
            history.db,
            "select deal_id, lost_reason from staging.stg_zendesk_sell__deals "
            "where status = 'lost'",
        )
    )
    true_reasons = {
        str(d["id"]): d["lost_reason"] for d in history.truth["deals"] if d["crm"] == SYSTEM
    }
    # a lost renewal deal (Renewals pipeline) has no loss reason
    assert lost and all(true_reasons.get(k) == v for k, v in lost.items())
    # deals closed in the Unqualified stage are lost with their unqualified reason
    assert set(UNQUALIFIED_REASONS) <= set(lost.values())


def disqualified_from_payloads(company: DemoCompany) -> dict[tuple[str, str], int]:
    """Independent of the loader and dbt: (lead source, reason) -> Unqualified leads, from
    the served leads, lead sources and lead unqualified reasons."""
    view = company.zendesk_sell_view()
    sources = {r["id"]: r["name"] for r in view.lead_sources}
    reasons = {r["id"]: r["name"] for r in view.lead_unqualified_reasons}
    out: dict[tuple[str, str], int] = {}
    for lead in view.leads:
        if lead["status"] == "Unqualified":
            key = (
                sources.get(lead["source_id"], "(none)"),
                reasons.get(lead["unqualified_reason_id"], "(unknown)"),
            )
            out[key] = out.get(key, 0) + 1
    return out


@pytest.mark.slow
def test_lead_disqualification_reasons_are_the_planted_ones(history: History) -> None:
    from l2c_demo.simulator.render_zendesk_sell import (
        DOMINANT_UNQUALIFIED_REASON,
        DOMINANT_UNQUALIFIED_SOURCE,
    )

    rows = query(
        history.db,
        "select lead_source, disqualified_reason, disqualified_count, reason_share, "
        "reason_rank, is_below_min_group_size from marts.lead_disqualification_reasons "
        "where source_system = ?",
        [SYSTEM],
    )
    mart = {(r[0], r[1]): r[2] for r in rows}
    truth = {
        (t["lead_source"], t["reason"]): t["leads"]
        for t in history.truth["lead_unqualified_reasons"]
    }
    assert mart == truth
    assert mart == disqualified_from_payloads(history.company)
    dominant = [r for r in rows if r[0] == DOMINANT_UNQUALIFIED_SOURCE and r[4] == 1]
    assert [r[1] for r in dominant] == [DOMINANT_UNQUALIFIED_REASON]
    assert dominant[0][3] > 0.5
    totals = {r[0]: sum(n for (s, _r), n in mart.items() if s == r[0]) for r in rows}
    assert all(r[5] == (totals[r[0]] < 20) for r in rows)  # the min_group_size guard
    # other sources: no reason dominates like that
    assert all(r[3] < 0.6 for r in rows if r[0] != DOMINANT_UNQUALIFIED_SOURCE and not r[5])
    # a system without reasons shows its disqualified leads as (unknown), never dropped
    other = query(
        history.db,
        "select distinct disqualified_reason from marts.lead_disqualification_reasons "
        "where source_system = 'pipedrive'",
    )
    assert other == [("(unknown)",)]


@pytest.mark.slow
def test_invoices_and_orders_of_zendesk_deals_belong_to_their_case(history: History) -> None:
    truth = history.truth
    links = {
        i: (d, m)
        for i, d, m in query(
            history.db, "select invoice_id, deal_key, link_method from marts.invoices"
        )
    }
    rows = {i: d for i, (d, _m) in links.items()}
    mine = [i for i in truth["invoices"] if i["deal_case_id"].startswith(f"{SYSTEM}:")]
    assert mine
    wrong = [i["id"] for i in mine if rows[i["id"]] not in (None, i["deal_case_id"])]
    assert not wrong
    # exactly the invoices the truth says each method can link
    for invoice in mine:
        if invoice["has_deal_metadata"]:
            assert links[invoice["id"]] == (invoice["deal_case_id"], "metadata")
    by_rule = sum(1 for d, m in links.values() if d is not None and m == "rule")
    assert by_rule == truth["counts"]["invoices_linkable_by_rule"]
    orders = query(
        history.db,
        "select case_id, epoch(event_at)::bigint from marts.event_log "
        "where activity = 'Sales Order Created' and source_system = 'zendesk_sell'",
    )
    expected = {
        (o["deal_case_id"], o["created"])
        for o in truth["orders"]
        if o["deal_case_id"].startswith(f"{SYSTEM}:")
    }
    assert set(orders) == expected and len(orders) == len(expected) > 0


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


def test_planted_first_calls_are_in_the_log_at_their_time_with_their_rep(
    history: History,
) -> None:
    phase = history.truth["lead_phase"]
    leads = [lead for lead in phase["leads"] if lead["crm"] == SYSTEM]
    world = history.company.world
    kinds = {lead.contact_activity_id: lead.first_contact_kind for lead in world.leads}
    calls = {
        (lead["case_id"], lead["first_contact"], f"{SYSTEM}:{lead['first_contact_by']}")
        for lead in leads
        if lead["first_contact"] is not None and kinds[lead["contact_activity_id"]] == "call"
    }
    emailed = [
        lead
        for lead in leads
        if lead["first_contact"] is not None and kinds[lead["contact_activity_id"]] == "email"
    ]
    assert len(calls) > 30 and emailed and all(case for case, _at, _by in calls)
    # the Core API lists calls, not emails: a lead first contacted by email shows no contact
    assert _events(history.db, "First Contact") == calls
    # leads show their current status and owner only: no qualification time, no reassignment
    assert any(lead["qualified"] for lead in leads) and any(lead["reassigned"] for lead in leads)
    assert _events(history.db, "Lead Qualified") == set()
    assert _events(history.db, "Owner Changed") == set()


def test_lead_response_equals_a_recomputation_from_the_payloads(history: History) -> None:
    view = history.company.zendesk_sell_view()
    expected = lead_kpis.zendesk_sell_lead_response(view.leads, view.calls, view.lead_sources)
    # not observable in Zendesk Sell: qualification null, never 0
    lead_kpis.assert_response_without_history(
        query(history.db, lead_kpis.LEAD_RESPONSE_SQL, [SYSTEM]), expected
    )
    assert expected[("all", "all")]["contacted_count"] > 30


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, monthrange(year, month)[1]))


def _unix(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


def renewals_from_payloads(company: DemoCompany) -> dict[tuple[str, str], list[int]]:
    """Plain-Python subscription_renewals (source_system and region rows) from the served Sell
    deals: a won deal with `Contract start` and `Term (months)` is a contract; deals whose
    `Renews deal ID` names it are its renewal deals (won = renewed a term, lost = ended at
    the end of the next term). Counts [subscriptions, terms_due, renewals, churned] of the
    decisions whose term end is by as_of."""
    view, as_of = company.zendesk_sell_view(), company.as_of_unix
    category = {s["id"]: s["category"] for s in view.stages}
    renewals_of: dict[str, list[str]] = {}
    for deal in view.deals:
        if link := deal["custom_fields"].get("Renews deal ID"):
            renewals_of.setdefault(link, []).append(category[deal["stage_id"]])
    groups: dict[tuple[str, str], list[int]] = {}
    for deal in view.deals:
        fields = deal["custom_fields"]
        if "Renews deal ID" in fields or category[deal["stage_id"]] != "won":
            continue
        if not fields.get("Contract start") or not fields.get("Term (months)"):
            continue
        start, term = date.fromisoformat(fields["Contract start"]), int(fields["Term (months)"])
        if _unix(start) > as_of:
            continue
        outcomes = renewals_of.get(str(deal["id"]), [])
        won = outcomes.count("won")
        renewed = sum(_unix(_add_months(start, k * term)) <= as_of for k in range(1, won + 1))
        churned = "lost" in outcomes and _unix(_add_months(start, (won + 1) * term)) <= as_of
        for key in (("source_system", SYSTEM), ("region", fields["Region"])):
            counts = groups.setdefault(key, [0, 0, 0, 0])
            for i, value in enumerate((1, renewed + churned, renewed, churned)):
                counts[i] += int(value)
    return groups


def mart_renewals(db: Path) -> dict[tuple[str, str], tuple[Any, ...]]:
    rows = query(
        db,
        "select dimension, group_value, subscriptions_count, terms_due, renewals, "
        "voluntary_churned, renewal_rate, non_renewal_rate from marts.subscription_renewals "
        "where dimension in ('source_system', 'region')",
    )
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


@pytest.mark.slow
def test_sell_renewals_are_the_planted_renewals_and_churn(history: History) -> None:
    truth = history.truth["zendesk_sell_renewals"]
    mart = mart_renewals(history.db)
    assert truth["terms_due"] >= 30 and truth["churned"] >= 5
    n, due, renewals, churned, rate, _ = mart[("source_system", SYSTEM)]
    assert (n, due, renewals, churned) == (
        truth["subscriptions"],
        truth["terms_due"],
        truth["renewals"],
        truth["churned"],
    )
    assert rate == pytest.approx(truth["renewal_rate"])
    for region, counts in truth["by_region"].items():
        row = mart[("region", region)]
        keys = ("subscriptions", "terms_due", "renewals", "churned")
        assert row[:4] == tuple(counts[k] for k in keys), region
    # the planted effect: the heavy-churn region has the highest non-renewal rate
    heavy = history.company.config.sell_churn_heavy_region
    rates = {k[1]: v[5] for k, v in mart.items() if k[0] == "region" and v[1] >= 10}
    assert heavy in rates and max(rates, key=lambda r: rates[r]) == heavy
    # one Subscription Renewed event per renewal, in the renewed contract's case
    renewed = query(
        history.db,
        "select count(*) from marts.event_log where activity = 'Subscription Renewed' "
        "and source_system = 'zendesk_sell'",
    )[0][0]
    assert renewed == truth["renewals"]


@pytest.mark.slow
def test_sell_renewals_recomputed_from_the_served_payloads(history: History) -> None:
    expected = renewals_from_payloads(history.company)
    mart = mart_renewals(history.db)
    assert set(mart) == set(expected)
    for key, (n, due, renewals, churned) in expected.items():
        rate = renewals / due if due else None
        row = mart[key]
        assert row[:4] == (n, due, renewals, churned), key
        assert row[4] == pytest.approx(rate), key


def _payload_contracts(company: DemoCompany) -> list[dict[str, Any]]:
    """The recurring contracts as the served Sell deals show them: a won deal with `Contract
    start` and `Term (months)` (no `Renews deal ID`), its MRR, currency, contact (customer),
    owner and region, and the outcomes of the deals whose `Renews deal ID` names it (won =
    renewed a term; lost = ended at the end of the next term, cancelled when it was lost)."""
    view = company.zendesk_sell_view()
    category = {s["id"]: s["category"] for s in view.stages}
    renewals_of: dict[str, list[dict[str, Any]]] = {}
    for deal in view.deals:
        if link := deal["custom_fields"].get("Renews deal ID"):
            renewals_of.setdefault(link, []).append(deal)
    contracts = []
    for deal in view.deals:
        fields = deal["custom_fields"]
        if "Renews deal ID" in fields or category[deal["stage_id"]] != "won":
            continue
        if not fields.get("Contract start") or not fields.get("Term (months)"):
            continue
        start = _unix(date.fromisoformat(fields["Contract start"]))
        term = int(fields["Term (months)"])
        outcomes = renewals_of.get(str(deal["id"]), [])
        won = sum(category[r["stage_id"]] == "won" for r in outcomes)
        lost = [r for r in outcomes if category[r["stage_id"]] == "lost"]
        contracts.append(
            {
                "deal_id": deal["id"],
                "customer": str(deal["contact_id"]),
                "region": fields["Region"],
                "rep": f"{SYSTEM}:{deal['owner_id']}",
                "currency": deal["currency"],
                "start": start,
                "term_months": term,
                "mrr": float(fields["MRR"]),
                "renewed_at": [
                    _unix(_add_months(_day(start), k * term)) for k in range(1, won + 1)
                ],
                "cancelled_at": _unix_rfc(lost[0]["last_stage_change_at"]) if lost else None,
                "ended_at": _unix(_add_months(_day(start), (won + 1) * term)) if lost else None,
            }
        )
    return contracts


def _truth_contracts(h: History) -> list[dict[str, Any]]:
    """The same contracts from the simulator's planted truth (customer = the org's Sell
    contact, rep = the deal's owner at as_of)."""
    states = h.company.deal_states()
    out = []
    for c in h.truth["zendesk_sell_renewals"]["contracts"]:
        owner = states[c["deal_id"]].owner_id
        out.append(
            {
                **c,
                "deal_id": int(UNIT.deal_ref(c["deal_id"])),
                "customer": str(int(UNIT.account_ref(c["org_id"]))),
                "rep": f"{SYSTEM}:{owner}",
            }
        )
    return out


def _unix_rfc(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _day(ts: int) -> date:
    return datetime.fromtimestamp(ts, tz=timezone.utc).date()


def _spans(contracts: list[dict[str, Any]]) -> list[retention_kpis.Span]:
    """MRR spans in reporting cents (at the start date's rate, as the warehouse)."""
    fx = Fx()
    return [
        (
            c["customer"],
            c["start"],
            c["ended_at"],
            _round(_round(c["mrr"] * 100) * fx.rate(c["currency"], _day(c["start"]))),
        )
        for c in contracts
    ]


def _renewal_groups(
    contracts: list[dict[str, Any]], as_of: int
) -> dict[tuple[str, str], list[int]]:
    """subscription_renewals' counts [subscriptions, terms_due, renewals, voluntary churned]
    per (dimension, group) for source_system, product (none in Sell), region and rep."""
    groups: dict[tuple[str, str], list[int]] = {}
    for c in contracts:
        if c["start"] > as_of:
            continue
        renewed = len(c["renewed_at"])
        churned = int(c["ended_at"] is not None and c["ended_at"] <= as_of)
        keys = [
            ("source_system", SYSTEM),
            ("product", "(none)"),
            ("region", c["region"]),
            ("rep", c["rep"]),
        ]
        for key in keys:
            counts = groups.setdefault(key, [0, 0, 0, 0])
            for i, value in enumerate((1, renewed + churned, renewed, churned)):
                counts[i] += value
    return groups


def _mart_renewal_groups(db: Path) -> dict[tuple[str, str], list[int]]:
    rows = query(
        db,
        "select dimension, group_value, subscriptions_count, terms_due, renewals, "
        "voluntary_churned from marts.subscription_renewals "
        "where dimension in ('source_system', 'product', 'region', 'rep')",
    )
    return {(r[0], r[1]): list(r[2:]) for r in rows}


def _min_group(company: DemoCompany) -> int:
    return int(json.loads(vars_of(company)[1]).get("min_group_size", 20))


@pytest.mark.slow
def test_sell_contracts_served_are_the_planted_ones(history: History) -> None:
    """The two recomputations below start from the same contracts: the payloads' are the
    truth's (start, term, MRR, customer, rep, renewals, end)."""
    keys = ("deal_id", "customer", "rep", "region", "start", "term_months", "mrr")
    keys += ("renewed_at", "ended_at", "cancelled_at")
    served = sorted(tuple(str(c[k]) for k in keys) for c in _payload_contracts(history.company))
    planted = sorted(tuple(str(c[k]) for k in keys) for c in _truth_contracts(history))
    assert served == planted and len(served) >= 30


@pytest.mark.slow
@pytest.mark.parametrize("source", ["truth", "payloads"])
def test_sell_renewals_by_product_region_and_rep(history: History, source: str) -> None:
    contracts = (
        _truth_contracts(history) if source == "truth" else _payload_contracts(history.company)
    )
    expected = _renewal_groups(contracts, history.company.as_of_unix)
    assert sum(1 for d, _ in expected if d == "rep") >= 3
    assert _mart_renewal_groups(history.db) == expected


@pytest.mark.slow
@pytest.mark.parametrize("source", ["truth", "payloads"])
def test_sell_mrr_movements_retention_and_cohorts(history: History, source: str) -> None:
    """mrr_movements (only Sell contracts are subscriptions in this company), revenue_retention
    and revenue_retention_cohorts equal the plain-Python rules over the Sell contracts: each
    contract's MRR from its start to the end of the term it did not renew."""
    contracts = (
        _truth_contracts(history) if source == "truth" else _payload_contracts(history.company)
    )
    spans, as_of = _spans(contracts), history.company.as_of_unix
    movements = retention_kpis.mrr_movements(spans, as_of)
    assert sum(row[6] for row in movements) > 0  # churn happened
    mart = query(
        history.db,
        "select month_start, starting_mrr, new_mrr, expansion_mrr, reactivation_mrr, "
        "contraction_mrr, churn_mrr, ending_mrr, paying_customers, ending_arr "
        "from marts.mrr_movements where source_system = ?",
        [SYSTEM],
    )
    assert settled(mart) == settled(movements)
    retention = [
        (
            row[0],
            (row[1] + row[3] - row[5] - row[6]) / row[1] if row[1] else None,
            (row[1] - row[5] - row[6]) / row[1] if row[1] else None,
        )
        for row in movements
    ]
    got = query(
        history.db,
        "select month_start, nrr, grr from marts.revenue_retention where source_system = ?",
        [SYSTEM],
    )
    assert settled(got) == settled(retention)
    cohorts = retention_kpis.cohort_retention(spans, as_of, _min_group(history.company))
    assert any(row[6] + row[7] > 0 for row in cohorts)  # some contraction or churn
    mart_cohorts = query(
        history.db,
        "select cohort_quarter, months_since_start, cohort_customers, retained_customers, "
        "starting_mrr, expansion_mrr, contraction_mrr, churn_mrr, ending_mrr, nrr, grr, "
        "is_below_min_group_size from marts.revenue_retention_cohorts where source_system = ?",
        [SYSTEM],
    )
    assert settled(mart_cohorts) == settled(cohorts)


@pytest.mark.slow
def test_sell_subscription_events_are_the_planted_starts_renewals_and_cancellations(
    history: History,
) -> None:
    expected: set[tuple[str, str, int]] = set()
    for c in _truth_contracts(history):
        case = f"{SYSTEM}:{c['deal_id']}"
        expected.add(("Subscription Started", case, c["start"]))
        expected |= {("Subscription Renewed", case, at) for at in c["renewed_at"]}
        if c["cancelled_at"] is not None:
            expected.add(("Subscription Cancelled", case, c["cancelled_at"]))
    rows = query(
        history.db,
        "select activity, case_id, epoch(event_at)::bigint from marts.event_log "
        "where source_system = ? and activity in "
        "('Subscription Started', 'Subscription Renewed', 'Subscription Cancelled')",
        [SYSTEM],
    )
    assert len(rows) == len(set(rows))
    assert set(rows) == expected
    assert {a for a, _, _ in expected} == {
        "Subscription Started",
        "Subscription Renewed",
        "Subscription Cancelled",
    }


@pytest.mark.slow
def test_a_new_deal_field_does_not_break_staging(history: History) -> None:
    """Runs last in this module: it changes the company the server shows."""
    view = history.company.zendesk_sell_view()
    stamp = _rfc(history.company.as_of_unix)
    for deal in view.deals[:5]:
        deal["custom_fields"] = {**deal["custom_fields"], "Lead score": 87.5}
        deal["health"] = "green"
        deal["updated_at"] = stamp
    with pytest.MonkeyPatch.context() as mp:
        for key, value in history.server.source_env().items():
            mp.setenv(key, value)
        load_system(SYSTEM, history.db)
    scored = query(
        history.db,
        "select count(*) from raw_zendesk_sell.deals where custom_fields__lead_score = 87.5",
    )
    assert scored[0][0] == 5
    # the module build's vars: dbt reuses that build's parse of the project (partial parsing)
    run_dbt(
        ["build", "--select", "path:models/staging/zendesk_sell", *vars_of(history.company)],
        history.db,
        target_path=history.target,
        quiet=True,
    )
    deals = query(history.db, "select count(*) from staging.stg_zendesk_sell__deals")[0][0]
    renewal_deals = sum(history.truth["zendesk_sell_renewals"]["renewal_deals"].values())
    assert deals == history.truth["counts_by_crm"][SYSTEM]["deals"] + renewal_deals
