"""Tests of the local fake Pipedrive/Stripe HTTP server (l2c_demo.fake_api)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from l2c_demo.fake_api import FakeApiServer, Fault
from l2c_demo.fake_api.memo import ViewMemo
from l2c_demo.simulator import DemoCompany, SimConfig

V2_LISTS = ["deals", "stages", "pipelines", "persons", "organizations", "products", "activities"]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(DemoCompany(SimConfig(seed=8, n_deals=300, subscription_share=0.4))) as srv:
        yield srv


@pytest.fixture()
def pd(server: FakeApiServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["x-api-token"] = server.pipedrive_token
        yield session


@pytest.fixture()
def stripe(server: FakeApiServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {server.stripe_key}"
        yield session


def _walk_v2(session: requests.Session, url: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        body = session.get(url, params=query).json()
        assert body["success"] is True
        rows.extend(body["data"])
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            return rows


def _walk_v1(session: requests.Session, url: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    start = 0
    while True:
        body = session.get(url, params=dict(params, start=start)).json()
        rows.extend(body["data"] or [])
        page = body["additional_data"]["pagination"]
        if not page["more_items_in_collection"]:
            return rows
        start = page["next_start"]


def _walk_stripe(session: requests.Session, url: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        body = session.get(url, params=params).json()
        assert body["object"] == "list"
        rows.extend(body["data"])
        if not body["has_more"]:
            return rows
        params["starting_after"] = body["data"][-1]["id"]


@pytest.mark.parametrize("name", V2_LISTS)
def test_v2_paging_walks_every_record_once(
    server: FakeApiServer, pd: requests.Session, name: str
) -> None:
    expected = [r["id"] for r in getattr(server.company.pipedrive_view(), name)]
    rows = _walk_v2(pd, f"{server.pipedrive_url}/api/v2/{name}", limit=37)
    ids = [r["id"] for r in rows]
    assert ids == sorted(expected)
    desc = _walk_v2(
        pd, f"{server.pipedrive_url}/api/v2/{name}", sort_by="id", sort_direction="desc"
    )
    assert [r["id"] for r in desc] == sorted(expected, reverse=True)


def test_v2_updated_since_and_sort(server: FakeApiServer, pd: requests.Session) -> None:
    deals = server.company.pipedrive_view().deals
    bound = sorted(d["update_time"] for d in deals)[len(deals) // 2]
    url = f"{server.pipedrive_url}/api/v2/deals"
    rows = _walk_v2(pd, url, updated_since=bound, sort_by="update_time", limit=50)
    assert {r["id"] for r in rows} == {d["id"] for d in deals if d["update_time"] >= bound}
    stamps = [r["update_time"] for r in rows]
    assert stamps == sorted(stamps)
    assert pd.get(url, params={"limit": 501}).status_code == 400
    assert pd.get(url, params={"sort_by": "title"}).status_code == 400


def test_deal_products_and_discounts(server: FakeApiServer, pd: requests.Session) -> None:
    view = server.company.pipedrive_view()
    ids = [d["id"] for d in view.deals][:100]
    url = f"{server.pipedrive_url}/api/v2/deals/products"
    rows = _walk_v2(pd, url, deal_ids=",".join(map(str, ids)), limit=9)
    expected = sorted(r["id"] for r in view.deal_products if r["deal_id"] in set(ids))
    assert [r["id"] for r in rows] == expected
    assert pd.get(url).status_code == 400
    too_many = ",".join(str(i) for i in range(1, 102))
    assert pd.get(url, params={"deal_ids": too_many}).status_code == 400
    with_disc = next(k for k, v in view.deal_discounts.items() if v)
    body = pd.get(f"{server.pipedrive_url}/api/v2/deals/{with_disc}/discounts").json()
    assert body["success"] and body["data"] == view.deal_discounts[with_disc]
    assert pd.get(f"{server.pipedrive_url}/api/v2/deals/999999/discounts").status_code == 404


def test_v1_endpoints(server: FakeApiServer, pd: requests.Session) -> None:
    view = server.company.pipedrive_view()
    base = server.pipedrive_url
    assert pd.get(f"{base}/v1/users").json()["data"] == view.users
    assert pd.get(f"{base}/v1/legacyTeams").json()["data"] == view.legacy_teams
    assert _walk_v1(pd, f"{base}/v1/dealFields", limit=5) == view.deal_fields
    fields = _walk_v1(pd, f"{base}/v1/productFields", limit=5)
    assert fields == view.product_fields and len(fields) > 5
    category = next(f for f in fields if f["key"] == "category")
    labels = {o["id"] for o in category["options"]}
    assert {p["category"] for p in view.products} <= labels
    every = _walk_v1(pd, f"{base}/v1/leads", archived_status="all", limit=40)
    assert [r["id"] for r in every] == [r["id"] for r in view.leads]
    archived = _walk_v1(pd, f"{base}/v1/leads", archived_status="archived", limit=40)
    default = _walk_v1(pd, f"{base}/v1/leads", limit=40)
    assert all(r["is_archived"] for r in archived) and not any(r["is_archived"] for r in default)
    assert len(archived) + len(default) == len(every)
    empty = pd.get(f"{base}/v1/leads", params={"start": 10**6}).json()
    assert empty["data"] is None
    deal_id = max(view.flows, key=lambda k: len(view.flows[k]))
    flow = _walk_v1(
        pd, f"{base}/v1/deals/{deal_id}/flow", all_changes=1, items="dealChange", limit=2
    )
    assert flow == view.flows[deal_id] and len(flow) > 2
    assert pd.get(f"{base}/v1/deals/999999/flow").status_code == 404


@pytest.mark.parametrize(
    "name", ["customers", "invoices", "charges", "subscriptions", "refunds", "credit_notes"]
)
def test_stripe_paging(server: FakeApiServer, stripe: requests.Session, name: str) -> None:
    expected = getattr(server.company.stripe_view(), name)
    every = {"status": "all"} if name == "subscriptions" else {}
    rows = _walk_stripe(stripe, f"{server.stripe_url}/v1/{name}", limit=2, **every)
    assert len(rows) > 2  # more than one page
    assert [r["id"] for r in rows] == [r["id"] for r in expected]
    keys = [(r["created"], r["id"]) for r in rows]
    assert keys == sorted(keys, reverse=True)


def test_stripe_filters(server: FakeApiServer, stripe: requests.Session) -> None:
    view = server.company.stripe_view()
    url = f"{server.stripe_url}/v1/invoices"
    bound = sorted(i["created"] for i in view.invoices)[len(view.invoices) // 2]
    rows = _walk_stripe(stripe, url, **{"created[gte]": bound, "limit": 100})
    assert {r["id"] for r in rows} == {i["id"] for i in view.invoices if i["created"] >= bound}
    paid = _walk_stripe(stripe, url, status="paid", limit=100)
    assert paid and all(r["status"] == "paid" for r in paid)
    customer = view.invoices[0]["customer"]
    mine = _walk_stripe(stripe, url, customer=customer)
    assert {r["id"] for r in mine} == {i["id"] for i in view.invoices if i["customer"] == customer}
    charges = _walk_stripe(stripe, f"{server.stripe_url}/v1/charges", customer=customer)
    assert all(c["customer"] == customer for c in charges)
    assert stripe.get(url, params={"limit": 101}).status_code == 400
    one = stripe.get(f"{url}/{view.invoices[0]['id']}").json()
    assert one == view.invoices[0]


def test_stripe_subscriptions_list_leaves_out_canceled_ones_unless_asked(
    server: FakeApiServer, stripe: requests.Session
) -> None:
    view = server.company.stripe_view()
    url = f"{server.stripe_url}/v1/subscriptions"
    default = _walk_stripe(stripe, url, limit=100)
    canceled = _walk_stripe(stripe, url, status="canceled", limit=100)
    assert canceled and all(r["status"] == "canceled" for r in canceled)
    assert {r["id"] for r in default} == {
        s["id"] for s in view.subscriptions if s["status"] != "canceled"
    }
    assert len(default) + len(canceled) == len(view.subscriptions)
    assert stripe.get(url, params={"status": "gone"}).status_code == 400
    failed = _walk_stripe(stripe, f"{server.stripe_url}/v1/charges", limit=100)
    assert any(c["status"] == "failed" and c["failure_code"] for c in failed)


def test_auth_required(server: FakeApiServer) -> None:
    r = requests.get(f"{server.pipedrive_url}/api/v2/deals")
    assert r.status_code == 401 and r.json()["success"] is False
    ok = requests.get(
        f"{server.pipedrive_url}/api/v2/deals", params={"api_token": server.pipedrive_token}
    )
    assert ok.status_code == 200
    r = requests.get(f"{server.stripe_url}/v1/invoices", headers={"Authorization": "Bearer x"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"
    assert requests.get(f"{server.base_url}/nowhere").status_code == 404


def test_faults_fire_the_right_number_of_times(
    server: FakeApiServer, pd: requests.Session, stripe: requests.Session
) -> None:
    url = f"{server.pipedrive_url}/api/v2/deals"
    server.add_fault(
        Fault(path_prefix="/pipedrive/api/v2/deals", status=429, retry_after=1, times=2)
    )
    first, second, third = (pd.get(url) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.headers["Retry-After"] == "1"
    server.add_fault(Fault(path_prefix="/stripe/v1/invoices", status=500, times=1))
    statuses = [stripe.get(f"{server.stripe_url}/v1/invoices").status_code for _ in range(2)]
    assert statuses == [500, 200]
    # a delay holds the answer back past a client's timeout, once
    server.add_fault(Fault(path_prefix="/pipedrive/api/v2/deals", delay_seconds=3.0, times=1))
    with pytest.raises(requests.Timeout):
        pd.get(url, timeout=0.5)
    assert pd.get(url, timeout=30).status_code == 200
    assert server.app.faults.pending() == 0


def test_malform_and_request_log(
    server: FakeApiServer, pd: requests.Session, stripe: requests.Session
) -> None:
    server.malform(resource="pipedrive.deals", record_id=17, field="add_time", value="not-a-date")
    inv_id = server.company.stripe_view().invoices[0]["id"]
    server.malform(resource="stripe.invoices", record_id=inv_id, field="created", value=None)
    server.clear_log()
    deals = _walk_v2(pd, f"{server.pipedrive_url}/api/v2/deals", limit=500)
    assert next(d for d in deals if d["id"] == 17)["add_time"] == "not-a-date"
    assert next(d for d in deals if d["id"] == 18)["add_time"] != "not-a-date"
    invoices = stripe.get(f"{server.stripe_url}/v1/invoices", params={"limit": 3}).json()["data"]
    assert invoices[0]["created"] is None
    assert server.company.stripe_view().invoices[0]["created"] is not None
    log = server.request_log
    assert ("GET", "/pipedrive/api/v2/deals", {"limit": "500"}) in log


def test_keep_alive_http11(server: FakeApiServer, pd: requests.Session) -> None:
    r = pd.get(f"{server.pipedrive_url}/api/v2/stages")
    assert r.raw.version == 11 and r.headers["Content-Length"] == str(len(r.content))


def test_advance_is_served_immediately() -> None:
    company = DemoCompany(SimConfig(seed=9, n_deals=200))
    with FakeApiServer(company) as srv, requests.Session() as s:
        s.headers["x-api-token"] = srv.pipedrive_token
        before = len(_walk_v2(s, f"{srv.pipedrive_url}/api/v2/deals", limit=500))
        company.advance(days=30)
        after = len(_walk_v2(s, f"{srv.pipedrive_url}/api/v2/deals", limit=500))
        assert after > before


def test_cli_process(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    cmd = [sys.executable, "-m", "l2c_demo.fake_api", "--seed", "2", "--deals", "150"]
    proc = subprocess.Popen([*cmd, "--port", "0", "--port-file", str(port_file)])
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port_file.read_text()}"
        truth = requests.get(f"{base}/__admin/ground_truth").json()
        assert truth["seed"] == 2
        fault = {"path_prefix": "/stripe/v1/charges", "status": 503, "times": 1}
        assert requests.post(f"{base}/__admin/fault", data=json.dumps(fault)).status_code == 200
        auth = {"Authorization": "Bearer sk_test_demo"}
        assert requests.get(f"{base}/stripe/v1/charges", headers=auth).status_code == 503
        assert requests.post(f"{base}/__admin/advance", params={"days": 30}).status_code == 200
        later = requests.get(f"{base}/__admin/ground_truth").json()
        assert later["counts"]["deals"] >= truth["counts"]["deals"]
        requests.post(f"{base}/__admin/shutdown")
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_per_deal_endpoints_see_deals_added_to_the_view() -> None:
    """The per-deal lookups are indexed; a view changed in place (as tests do) is re-indexed."""
    company = DemoCompany(SimConfig(seed=9, n_deals=120))
    with FakeApiServer(company) as srv, requests.Session() as s:
        s.headers["x-api-token"] = srv.pipedrive_token
        view = company.pipedrive_view()
        first = view.deals[0]["id"]
        assert s.get(f"{srv.pipedrive_url}/api/v2/deals/{first}/discounts").status_code == 200
        view.deals.append({**view.deals[0], "id": 987654})
        view.deal_discounts[987654] = [{"id": "d-1", "deal_id": 987654, "amount": 5.0}]
        body = s.get(f"{srv.pipedrive_url}/api/v2/deals/987654/discounts").json()
        assert body["data"] == view.deal_discounts[987654]
        assert s.get(f"{srv.pipedrive_url}/api/v2/deals/987654").json()["data"]["id"] == 987654


def test_view_memo_keeps_a_value_only_for_the_list_it_came_from() -> None:
    memo: ViewMemo[int] = ViewMemo(size=2)
    rows: list[dict[str, Any]] = [{"id": 1}]
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert memo.derive("k", rows, compute) == 1
    assert memo.derive("k", rows, compute) == 1  # kept
    assert memo.get("k", [{"id": 1}]) is None  # an equal list is not the same list
    assert memo.derive("k", [{"id": 1}], compute) == 2
    memo.put("a", rows, 10)
    memo.put("b", rows, 11)  # full: the earlier values are dropped
    assert memo.get("a", rows) is None and memo.get("b", rows) == 11


def test_a_stripe_listing_started_again_sees_records_added_in_place() -> None:
    """Pages after the first reuse the listing's result set; a new first page filters afresh,
    and each server keeps its own result sets."""
    company = DemoCompany(SimConfig(seed=9, n_deals=120))
    with FakeApiServer(company) as srv, requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {srv.stripe_key}"
        url = f"{srv.stripe_url}/v1/invoices"
        view = company.stripe_view()
        before = _walk_stripe(s, url, limit=5)
        assert [r["id"] for r in before] == [r["id"] for r in view.invoices]
        newest = {**view.invoices[0], "id": "in_added", "created": view.invoices[0]["created"] + 1}
        view.invoices.insert(0, newest)
        after = _walk_stripe(s, url, limit=5)
        assert [r["id"] for r in after] == ["in_added", *(r["id"] for r in before)]
