"""The dlt sources against the local API server over real HTTP: paging, incremental loads,
idempotency, retries, rejects, schema drift and missing configuration."""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import query, serving, table_counts

from l2c_demo.fake_api import FakeApiServer, Fault
from l2c_demo.simulator import DemoCompany, SimConfig
from pipelines.http import fetch_each
from pipelines.load import LoadError, load_all, load_system

RAW_TO_TRUTH = {
    ("raw_pipedrive", "deals"): "deals",
    ("raw_pipedrive", "deal_changes"): "flow_changes",
    ("raw_pipedrive", "deal_products"): "deal_products",
    ("raw_pipedrive", "deal_discounts"): "deal_discounts",
    ("raw_pipedrive", "activities"): "activities",
    ("raw_pipedrive", "leads"): "leads",
    ("raw_pipedrive", "product_fields"): "product_fields",
    ("raw_pipedrive", "product_field_options"): "product_field_options",
    ("raw_stripe", "invoices"): "invoices",
    ("raw_stripe", "charges"): "charges",
    ("raw_stripe", "customers"): "customers",
    ("raw_stripe", "subscriptions"): "subscriptions",
    ("raw_stripe", "refunds"): "refunds",
    ("raw_stripe", "credit_notes"): "credit_notes",
    ("raw_stripe", "subscription_schedules"): "subscription_schedules",
    ("raw_stripe", "disputes"): "disputes",
}


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def company() -> DemoCompany:
    """The conftest company, selling subscriptions too (so every Stripe list has rows)."""
    return DemoCompany(SimConfig(seed=7, n_deals=240, subscription_share=0.5))


def assert_raw_matches_truth(path: Path, company: DemoCompany) -> None:
    for schema in ("raw_pipedrive", "raw_stripe"):
        assert_raw_matches_truth_for(path, company, schema)


def assert_raw_matches_truth_for(path: Path, company: DemoCompany, schema: str) -> None:
    truth = company.ground_truth()["counts"]
    counts = table_counts(path, schema)
    for (in_schema, table), key in RAW_TO_TRUTH.items():
        if in_schema == schema:
            assert counts.get(table, 0) == truth[key], f"{schema}.{table} vs truth {key}"


def test_every_resource_pages_and_loads_exactly_once(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__PIPEDRIVE__PAGE_SIZE", "7")
    monkeypatch.setenv("SOURCES__STRIPE__PAGE_SIZE", "5")
    load_all(duckdb_path)
    assert_raw_matches_truth(duckdb_path, company)

    paged = Counter()
    for _method, path, params in server.request_log:
        if "cursor" in params or "starting_after" in params or int(params.get("start", 0)) > 0:
            paged[path.split("?")[0]] += 1
    for endpoint in (
        "/pipedrive/api/v2/deals",
        "/pipedrive/api/v2/stages",
        "/pipedrive/api/v2/persons",
        "/pipedrive/api/v2/organizations",
        "/pipedrive/api/v2/products",
        "/pipedrive/api/v2/activities",
        "/pipedrive/api/v2/deals/products",
        "/pipedrive/v1/leads",
        "/pipedrive/v1/dealFields",
        "/pipedrive/v1/productFields",
        "/stripe/v1/customers",
        "/stripe/v1/invoices",
        "/stripe/v1/charges",
        "/stripe/v1/subscriptions",
        "/stripe/v1/refunds",
        "/stripe/v1/credit_notes",
    ):
        assert paged[endpoint] > 0, f"{endpoint} was never asked for a second page"
    assert any(p.startswith("/pipedrive/v1/deals/") and p.endswith("/flow") for p in paged), (
        "no deal flow was paged"
    )
    # no duplicates in any keyed table
    for table in ("deals", "deal_changes", "deal_products", "activities", "leads"):
        dupes = query(
            duckdb_path,
            f"select count(*) - count(distinct id) from raw_pipedrive.{table}",
        )[0][0]
        assert dupes == 0, table
    # canceled subscriptions are listed only when asked for every status: they are loaded
    view = company.stripe_view()
    stored = dict(query(duckdb_path, "select id, status from raw_stripe.subscriptions"))
    assert stored == {s["id"]: s["status"] for s in view.subscriptions}
    assert "canceled" in stored.values()
    items = query(duckdb_path, "select count(*) from raw_stripe.subscriptions__items__data")
    assert items == [(len(view.subscriptions),)]
    failed = query(
        duckdb_path,
        "select count(*) from raw_stripe.charges where status = 'failed' "
        "and failure_code is not null",
    )
    assert failed == [(company.ground_truth()["counts"]["failed_charges"],)] != [(0,)]


def test_second_load_changes_nothing(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    load_all(duckdb_path)
    before = {s: table_counts(duckdb_path, s) for s in ("raw_pipedrive", "raw_stripe")}
    server.clear_log()
    load_all(duckdb_path)
    after = {s: table_counts(duckdb_path, s) for s in ("raw_pipedrive", "raw_stripe")}
    assert after == before
    # nothing changed, so no deal flow is fetched again (only the boundary deal(s) whose
    # update_time equals the stored cursor may be re-read)
    flows = [p for _m, p, _q in server.request_log if p.endswith("/flow")]
    assert len(flows) <= 2


def test_incremental_load_after_the_company_moves_on(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    load_all(duckdb_path)
    first_view = {d["id"]: d for d in company.pipedrive_view().deals}
    cursor = max(d["update_time"] for d in first_view.values())

    company.advance(days=45)
    server.clear_log()
    load_all(duckdb_path)

    assert_raw_matches_truth(duckdb_path, company)
    now_view = {d["id"]: d for d in company.pipedrive_view().deals}
    changed = {i for i, d in now_view.items() if d["update_time"] > cursor}
    at_cursor = {i for i, d in now_view.items() if d["update_time"] == cursor}
    new = set(now_view) - set(first_view)
    assert new, "the simulator should have created deals"
    assert changed - new, "the simulator should have changed existing deals"

    flows = {int(p.split("/")[-2]) for _m, p, _q in server.request_log if p.endswith("/flow")}
    # exactly the deals changed since the last run (a deal sitting exactly on the stored
    # cursor may be re-read: `updated_since` is inclusive)
    assert changed <= flows <= changed | at_cursor

    # deals were updated in place: statuses in the warehouse are the current ones
    stored = dict(query(duckdb_path, "select id, status from raw_pipedrive.deals"))
    assert stored == {i: d["status"] for i, d in now_view.items()}
    stripe_open = dict(query(duckdb_path, "select id, status from raw_stripe.invoices"))
    assert stripe_open == {i["id"]: i["status"] for i in company.stripe_view().invoices}
    # subscriptions re-read from the oldest one not yet ended: renewed periods, new
    # cancellations, and refunds of charges of the look-back window are all current
    view = company.stripe_view()
    subs = query(
        duckdb_path,
        "select s.id, s.status, s.canceled_at, i.current_period_end "
        "from raw_stripe.subscriptions s join raw_stripe.subscriptions__items__data i "
        "on i._dlt_parent_id = s._dlt_id",
    )
    assert sorted(subs) == sorted(
        (s["id"], s["status"], s["canceled_at"], s["items"]["data"][0]["current_period_end"])
        for s in view.subscriptions
    )
    refunded = dict(query(duckdb_path, "select id, amount_refunded from raw_stripe.charges"))
    assert refunded == {c["id"]: c["amount_refunded"] for c in view.charges}
    attempts = query(
        duckdb_path, "select id, attempt_count, next_payment_attempt from raw_stripe.invoices"
    )
    assert sorted(attempts) == sorted(
        (i["id"], i["attempt_count"], i["next_payment_attempt"]) for i in view.invoices
    )


def test_recovers_from_429_and_500(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    server.add_fault(
        Fault(path_prefix="/pipedrive/api/v2/deals", status=429, retry_after=1, times=2)
    )
    server.add_fault(Fault(path_prefix="/stripe/v1/invoices", status=500, times=2))
    server.add_fault(Fault(path_prefix="/pipedrive/v1/leads", status=503, times=1))
    server.add_fault(Fault(path_prefix="/stripe/v1/charges", delay_seconds=0.3, times=1))
    server.add_fault(Fault(path_prefix="/stripe/v1/subscriptions", status=429, times=2))
    server.add_fault(Fault(path_prefix="/stripe/v1/refunds", status=500, times=1))
    server.add_fault(Fault(path_prefix="/stripe/v1/credit_notes", status=503, times=1))
    load_all(duckdb_path)
    assert_raw_matches_truth(duckdb_path, company)
    statuses = [p for _m, p, _q in server.request_log if p == "/pipedrive/api/v2/deals"]
    assert len(statuses) >= 3  # two throttled attempts, then the real one


def test_gives_up_with_a_clear_error_when_the_api_keeps_failing(
    server: FakeApiServer, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__STRIPE__MAX_ATTEMPTS", "2")
    server.add_fault(Fault(path_prefix="/stripe/v1/customers", status=500, times=50))
    with pytest.raises(LoadError, match=r"stripe.*500"):
        load_system("stripe", duckdb_path)


def test_malformed_record_goes_to_rejects_with_its_reason(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    deal_id = company.pipedrive_view().deals[3]["id"]
    invoice_id = company.stripe_view().invoices[2]["id"]
    sub_id = company.stripe_view().subscriptions[1]["id"]
    note_id = company.stripe_view().credit_notes[0]["id"]
    server.malform(resource="stripe.subscriptions", record_id=sub_id, field="customer", value=None)
    server.malform(
        resource="stripe.credit_notes", record_id=note_id, field="amount", value="-three"
    )
    server.malform(
        resource="pipedrive.deals", record_id=deal_id, field="add_time", value="yesterday"
    )
    server.malform(
        resource="stripe.invoices", record_id=invoice_id, field="amount_due", value="12.5"
    )
    load_all(duckdb_path)
    truth = company.ground_truth()["counts"]

    rejects = query(
        duckdb_path, "select resource, record_id, reason, payload from raw_pipedrive.rejects"
    )
    assert [(r[0], r[1]) for r in rejects] == [("deals", str(deal_id))]
    assert "add_time" in rejects[0][2] and "yesterday" in rejects[0][2]
    assert '"yesterday"' in rejects[0][3]  # the whole payload is kept
    stripe_rejects = query(
        duckdb_path, "select resource, record_id, reason from raw_stripe.rejects order by 1"
    )
    assert [(r[0], r[1]) for r in stripe_rejects] == [
        ("credit_notes", note_id),
        ("invoices", invoice_id),
        ("subscriptions", sub_id),
    ]
    assert "amount" in stripe_rejects[0][2] and "amount_due" in stripe_rejects[1][2]
    assert "customer" in stripe_rejects[2][2]
    stripe_counts = table_counts(duckdb_path, "raw_stripe")
    assert stripe_counts["subscriptions"] == truth["subscriptions"] - 1
    assert stripe_counts["credit_notes"] == truth["credit_notes"] - 1

    counts = table_counts(duckdb_path, "raw_pipedrive")
    assert counts["deals"] == truth["deals"] - 1
    assert table_counts(duckdb_path, "raw_stripe")["invoices"] == truth["invoices"] - 1
    assert counts["activities"] == truth["activities"]

    # a second run does not duplicate the reject
    load_all(duckdb_path)
    assert table_counts(duckdb_path, "raw_pipedrive")["rejects"] == 1


def test_missing_credentials_name_the_setting(
    duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCES__PIPEDRIVE__API_TOKEN", raising=False)
    monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", "http://127.0.0.1:9")
    with pytest.raises(LoadError, match=r"api_token.*SOURCES__PIPEDRIVE__API_TOKEN"):
        load_system("pipedrive", duckdb_path)


def test_wrong_credentials_fail_clearly(
    server: FakeApiServer, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__PIPEDRIVE__API_TOKEN", "wrong")
    with pytest.raises(LoadError, match="401"):
        load_system("pipedrive", duckdb_path)


def test_a_rejected_child_row_does_not_break_its_merge_key_table(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    """deal_products merges on deal_id; its rejects go to a table without that merge key."""
    line = company.pipedrive_view().deal_products[0]
    server.malform(
        resource="pipedrive.deal_products", record_id=line["id"], field="sum", value="a lot"
    )
    load_all(duckdb_path, ["pipedrive"])
    rejects = query(duckdb_path, "select resource, record_id, reason from raw_pipedrive.rejects")
    assert [(r[0], r[1]) for r in rejects] == [("deal_products", str(line["id"]))]
    assert "sum" in rejects[0][2]
    truth = company.ground_truth()["counts"]
    assert table_counts(duckdb_path, "raw_pipedrive")["deal_products"] == truth["deal_products"] - 1


def test_product_categories_load_keyed_with_rejects_and_products_incrementally(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    """Product field options (the category labels) are flattened from /v1/productFields,
    keyed by (field_id, id); a bad option goes to rejects, the others load once; products
    are read incrementally (updated_since) with the option id they point at."""
    view = company.pipedrive_view()
    category = next(f for f in view.product_fields if f["key"] == "category")
    good = category["options"][:-1]
    server.malform(
        "pipedrive.product_fields", category["id"], "options", [*good, {"id": "x9", "label": "?"}]
    )
    odd = view.products[0]
    server.malform("pipedrive.products", odd["id"], "category", "Software")
    load_all(duckdb_path, ["pipedrive"])
    rejects = query(
        duckdb_path, "select resource, record_id, reason from raw_pipedrive.rejects order by 1"
    )
    assert [(r[0], r[1]) for r in rejects] == [
        ("product_field_options", "x9"),
        ("products", str(odd["id"])),
    ]
    assert "category" in rejects[1][2]
    options = query(
        duckdb_path,
        "select field_id, field_key, id, label from raw_pipedrive.product_field_options "
        "order by id",
    )
    assert options == [(category["id"], "category", o["id"], o["label"]) for o in good]
    products = dict(query(duckdb_path, "select id, category from raw_pipedrive.products"))
    assert products == {p["id"]: p["category"] for p in view.products if p is not odd}
    assert set(products.values()) <= {o["id"] for o in category["options"]}

    server.clear_log()
    load_all(duckdb_path, ["pipedrive"])
    counts = table_counts(duckdb_path, "raw_pipedrive")
    assert (counts["product_field_options"], counts["rejects"]) == (len(good), 2)
    assert counts["product_fields"] == len(view.product_fields)
    since = [
        q.get("updated_since")
        for _m, p, q in server.request_log
        if p == "/pipedrive/api/v2/products"
    ]
    # from the stored cursor less the look-back (1 h), not from the start
    newest = max(_ts(p["update_time"]) for p in view.products)
    assert since and all(_ts(s) >= newest - timedelta(hours=1) for s in since)


def test_per_deal_requests_in_parallel_still_retry(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With several flow/discount requests in flight, throttled and failed ones are retried
    and every row lands once."""
    monkeypatch.setenv("SOURCES__PIPEDRIVE__CONCURRENT_REQUESTS", "4")
    server.add_fault(Fault(path_prefix="/pipedrive/v1/deals/", status=429, retry_after=1, times=3))
    server.add_fault(Fault(path_prefix="/pipedrive/api/v2/deals/", status=503, times=3))
    load_all(duckdb_path, ["pipedrive"])
    assert server.app.faults.pending() == 0
    truth = company.ground_truth()["counts"]
    counts = table_counts(duckdb_path, "raw_pipedrive")
    assert counts["deal_changes"] == truth["flow_changes"]
    assert counts["deal_discounts"] == truth["deal_discounts"]
    sql = "select count(*) - count(distinct id) from raw_pipedrive.deal_changes"
    assert query(duckdb_path, sql) == [(0,)]


def test_fetch_each_keeps_order_and_raises_the_first_error() -> None:
    assert fetch_each(lambda n: n * n, range(20), max_workers=4) == [n * n for n in range(20)]

    def fail_on_seven(n: int) -> int:
        if n == 7:
            raise ValueError("seven")
        return n

    with pytest.raises(ValueError, match="seven"):
        fetch_each(fail_on_seven, range(20), max_workers=4)


class _ForwardProxy(BaseHTTPRequestHandler):
    """A plain-HTTP forward proxy: relays `GET http://host/path` and remembers the URL."""

    protocol_version = "HTTP/1.1"
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
        request = urllib.request.Request(self.path, headers=headers)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=30) as upstream:
                status, body, upstream_headers = upstream.status, upstream.read(), upstream.headers
        except urllib.error.HTTPError as err:
            status, body, upstream_headers = err.code, err.read(), err.headers
        self.send_response(status)
        for key in ("Content-Type", "Retry-After"):
            if upstream_headers.get(key):
                self.send_header(key, upstream_headers[key])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_requests_go_through_the_proxy_the_environment_names(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proxy settings are read once per host, but still read: every request, the per-deal
    ones included, goes through HTTP_PROXY."""
    seen: list[str] = []
    handler = type("Proxy", (_ForwardProxy,), {"seen": seen})
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.delenv(name, raising=False)
        for name in ("http_proxy", "HTTP_PROXY"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.server_address[1]}")
        load_all(duckdb_path, ["pipedrive"])
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert_raw_matches_truth_for(duckdb_path, company, "raw_pipedrive")
    proxied = {urllib.parse.urlsplit(url).path for url in seen}
    served = {path for _m, path, _q in server.request_log}
    assert proxied == served
    deals = company.pipedrive_view().deals
    assert {f"/pipedrive/v1/deals/{d['id']}/flow" for d in deals} <= proxied
    assert {f"/pipedrive/api/v2/deals/{d['id']}/discounts" for d in deals} <= proxied


class WarningLog(logging.Handler):
    """The warnings a logger emits, as text."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_arrow_tables_fall_back_to_dlt_for_odd_values(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    """activities and leads load as Arrow tables; a page with a value that does not fit its
    column's type, or with a list, loads as dlt loads dict rows (a variant column, a child
    table) instead of failing, and every row still lands."""
    view = company.pipedrive_view()
    activity = view.activities[5]
    lead = view.leads[3]
    server.malform(
        resource="pipedrive.activities", record_id=activity["id"], field="person_id", value="n/a"
    )
    server.malform(resource="pipedrive.leads", record_id=lead["id"], field="label_ids", value=["x"])
    warnings = WarningLog()
    logging.getLogger("dlt").addHandler(warnings)
    try:
        load_all(duckdb_path, ["pipedrive"])
    finally:
        logging.getLogger("dlt").removeHandler(warnings)
    # the Arrow pages agree with dlt's hints (their keys NOT NULL): dlt warns of no difference
    assert warnings.messages, "dlt's warnings were not captured"
    assert not [m for m in warnings.messages if "hints were different" in m]
    assert_raw_matches_truth_for(duckdb_path, company, "raw_pipedrive")
    assert query(
        duckdb_path,
        "select person_id, person_id__v_text from raw_pipedrive.activities where id = ?",
        [activity["id"]],
    ) == [(None, "n/a")]
    columns = dict(
        query(
            duckdb_path,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw_pipedrive' and table_name = 'activities'",
        )
    )
    assert columns["person_id"] == "BIGINT" and columns["update_time"].startswith("TIMESTAMP")
    labels = query(
        duckdb_path,
        "select l.id, c.value from raw_pipedrive.leads l "
        "join raw_pipedrive.leads__label_ids c on c._dlt_parent_id = l._dlt_id",
    )
    assert labels == [(lead["id"], "x")]
    # a second run merges the same rows again, the odd ones included
    load_all(duckdb_path, ["pipedrive"])
    assert_raw_matches_truth_for(duckdb_path, company, "raw_pipedrive")


def test_stripe_schema_drift_adds_a_column_and_keeps_the_rows(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    """A field Stripe starts sending on some subscriptions and refunds becomes a new column;
    the rows before and after it all stay. An incremental run sees the field on the objects
    that changed (their events carry it); a list read sees it on every object it reads."""
    load_system("stripe", duckdb_path)
    first = company.as_of_unix
    refund_id = company.stripe_view().refunds[0]["id"]
    company.advance(days=20)
    view = company.stripe_view()
    sub_id = next(
        e["data"]["object"]["id"]
        for e in view.change_events
        if e["created"] > first and e["data"]["object"]["object"] == "subscription"
    )
    server.malform(
        resource="stripe.subscriptions", record_id=sub_id, field="description", value="Seats"
    )
    server.malform(
        resource="stripe.refunds", record_id=refund_id, field="instructions_email", value="x@y.z"
    )
    load_system("stripe", duckdb_path)  # from the events: the refund did not change
    assert_raw_matches_truth_for(duckdb_path, company, "raw_stripe")
    assert query(
        duckdb_path, "select id from raw_stripe.subscriptions where description is not null"
    ) == [(sub_id,)]
    company.advance(days=31)  # past the events' retention: the lists are read again
    load_system("stripe", duckdb_path)
    assert_raw_matches_truth_for(duckdb_path, company, "raw_stripe")
    assert query(
        duckdb_path, "select id from raw_stripe.subscriptions where description is not null"
    ) == [(sub_id,)]
    assert query(
        duckdb_path, "select id from raw_stripe.refunds where instructions_email is not null"
    ) == [(refund_id,)]


def test_schedules_and_disputes_page_and_reload_from_the_oldest_open_one(
    duckdb_path: Path,
) -> None:
    """Stripe's subscription schedules and disputes: every page read, then re-read from the
    creation time of the oldest one still changeable (an open dispute, an active schedule),
    merged by id: statuses move on, nothing is duplicated. Invoice emails (events) are read
    incrementally and kept after the Events API dropped them."""
    company = DemoCompany(
        SimConfig(
            seed=11,  # a company with a schedule still active and open disputes at as_of
            n_deals=200,
            subscription_share=0.5,
            change_share=0.8,
            dispute_share=0.06,
            reminder_days=(7, 14, 21),
        )
    )
    with serving(company, SOURCES__STRIPE__PAGE_SIZE="2") as server:
        load_system("stripe", duckdb_path)
        first = company.stripe_view()
        assert_raw_matches_truth_for(duckdb_path, company, "raw_stripe")
        paged = Counter(p for _m, p, q in server.request_log if "starting_after" in q)
        assert paged["/stripe/v1/subscription_schedules"] > 0 and paged["/stripe/v1/disputes"] > 0
        final = ("won", "lost")
        open_disputes = [d["created"] for d in first.disputes if d["status"] not in final]
        assert open_disputes, "the company should have a dispute still open"
        active = [s["created"] for s in first.subscription_schedules if s["status"] == "active"]
        assert active, "the company should have a schedule still active"

        company.advance(days=60)
        server.clear_log()
        load_system("stripe", duckdb_path)
        view = company.stripe_view()
        assert_raw_matches_truth_for(duckdb_path, company, "raw_stripe")
        for path, oldest in (
            ("/stripe/v1/disputes", min(open_disputes)),
            ("/stripe/v1/subscription_schedules", min(active)),
        ):
            requests = [q for _m, p, q in server.request_log if p == path]
            # the list's first page (the rest may be read in parallel created ranges)
            first_pages = [q for q in requests if not {"starting_after", "created[lt]"} & set(q)]
            assert first_pages == [{"limit": "2", "created[gte]": str(oldest)}], path
            assert all(int(q["created[gte]"]) >= oldest for q in requests), path
    for table, rows in (
        ("disputes", view.disputes),
        ("subscription_schedules", view.subscription_schedules),
    ):
        stored = query(duckdb_path, f"select id, status from raw_stripe.{table}")
        assert sorted(stored) == sorted((r["id"], r["status"]) for r in rows), table
    # the Events API serves 30 days: events loaded before stay, the new ones are added
    events = {e["id"] for e in first.events} | {e["id"] for e in view.events}
    assert {e["id"] for e in first.events} - {e["id"] for e in view.events}
    assert {i for (i,) in query(duckdb_path, "select id from raw_stripe.events")} == events
    closed_since = {d["id"] for d in view.disputes if d["status"] in final} - {
        d["id"] for d in first.disputes if d["status"] in final
    }
    assert closed_since & {d["id"] for d in first.disputes}, "no open dispute was closed"
