"""Guards of the API loaders against what a vendor (or a network) can get wrong, over real
HTTP against the fake APIs: redirects to another host, paging that does not advance,
bodies that are not JSON, non-finite numbers, timestamps in the wrong unit and cursor values
from the future."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import query, serving, table_counts

from l2c_demo.fake_api import FakeApiServer, Fault
from l2c_demo.simulator import DemoCompany, SimConfig
from pipelines.load import LoadError, load_system

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def company() -> DemoCompany:
    """A smaller company than conftest's: these tests are about single records."""
    return DemoCompany(SimConfig(seed=7, n_deals=100))


# ---------------------------------------------------------------- redirects


class OtherHost:
    """An HTTP server on another host name (localhost, while the APIs are configured on
    127.0.0.1) that records what it is sent and answers an empty Pipedrive/Stripe page."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                body = json.dumps(
                    {"success": True, "data": [], "has_more": False, "additional_data": {}}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self._httpd.server_address[1]}"

    def __enter__(self) -> OtherHost:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def other_host() -> Iterator[OtherHost]:
    with OtherHost() as host:
        yield host


def _per_deal(company: DemoCompany, endpoint: str) -> str:
    deal_id = company.pipedrive_view().deals[0]["id"]
    return {
        "discounts": f"/pipedrive/api/v2/deals/{deal_id}/discounts",
        "flow": f"/pipedrive/v1/deals/{deal_id}/flow",
    }[endpoint]


@pytest.mark.parametrize(
    ("system", "path"),
    [
        ("pipedrive", "/pipedrive/api/v2/persons"),  # a listing (paginate)
        ("pipedrive", "discounts"),  # a per-deal endpoint (the lean GET)
        ("pipedrive", "flow"),  # a per-deal v1 listing (the lean GET, v1 paging)
        ("stripe", "/stripe/v1/invoices"),
    ],
)
def test_a_redirect_to_another_host_stops_the_run_and_sends_it_nothing(
    system: str,
    path: str,
    server: FakeApiServer,
    company: DemoCompany,
    other_host: OtherHost,
    duckdb_path: Path,
) -> None:
    if not path.startswith("/"):
        path = _per_deal(company, path)
    server.add_fault(Fault(path_prefix=path, location=other_host.url + path, times=5))
    with pytest.raises(LoadError) as failed:
        load_system(system, duckdb_path)
    message = str(failed.value)
    assert message.startswith(f"{system}:")
    assert f"127.0.0.1:{server.port}" in message  # the configured host ...
    assert other_host.url.removeprefix("http://") in message  # ... and the other one
    assert other_host.requests == []  # no credential (nor anything else) went there


def test_a_redirect_on_the_same_host_is_followed(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    """An API moving a path on its own host keeps working (with its credentials)."""
    path = "/pipedrive/v1/legacyTeams"
    server.add_fault(Fault(path_prefix=path, location=server.base_url + path, times=1))
    load_system("pipedrive", duckdb_path)
    assert server.app.faults.pending() == 0
    teams = query(duckdb_path, "select count(*) from raw_pipedrive.teams")[0][0]
    assert teams == len(company.pipedrive_view().legacy_teams)


# ---------------------------------------------------------------- paging


EMPTY_V2_PAGE_WITH_MORE = {
    "success": True,
    "data": [],
    "additional_data": {"next_cursor": "b2Zmc2V0OjA="},
}
EMPTY_V1_PAGE_AT_THE_SAME_START = {
    "success": True,
    "data": [],
    "additional_data": {
        "pagination": {"start": 0, "limit": 500, "more_items_in_collection": True, "next_start": 0}
    },
}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/pipedrive/api/v2/persons", EMPTY_V2_PAGE_WITH_MORE),
        ("/pipedrive/v1/leads", EMPTY_V1_PAGE_AT_THE_SAME_START),
        ("flow", EMPTY_V1_PAGE_AT_THE_SAME_START),
    ],
)
def test_a_page_that_does_not_advance_stops_the_run_naming_system_and_url(
    path: str, body: dict[str, Any], server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    if not path.startswith("/"):
        path = _per_deal(company, path)
    # enough answers to page for ever; the real data follows once they are used up
    server.add_fault(Fault(path_prefix=path, body=json.dumps(body), times=50))
    with pytest.raises(LoadError, match=r"^pipedrive:.*paging does not advance") as failed:
        load_system("pipedrive", duckdb_path)
    assert f"{server.base_url}{path}" in str(failed.value)
    assert sum(1 for _m, p, _q in server.request_log if p == path) <= 2


# ---------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    ("body", "path", "resource"),
    [
        ('{"success": true, "data": [{"id": 1, "na', "/pipedrive/api/v2/organizations", None),
        ("<html><body>Unavailable</body></html>", "/pipedrive/api/v2/organizations", None),
        ('{"success": true, "data": [{"id": 1, "na', "discounts", "deal_discounts"),
    ],
)
def test_a_body_that_is_not_json_names_system_resource_and_url(
    body: str,
    path: str,
    resource: str | None,
    server: FakeApiServer,
    company: DemoCompany,
    duckdb_path: Path,
) -> None:
    if not path.startswith("/"):
        path = _per_deal(company, path)  # the lean GET of per-deal endpoints
    server.add_fault(Fault(path_prefix=path, body=body, times=1))
    with pytest.raises(LoadError) as failed:
        load_system("pipedrive", duckdb_path)
    message = str(failed.value)
    assert message.startswith("pipedrive:")
    assert (resource or path.rsplit("/", 1)[-1]) in message
    assert f"{server.base_url}{path}" in message
    assert "is not valid JSON" in message and repr(body[:20])[:-1] in message


def test_non_finite_amounts_reject_their_rows_and_the_rest_loads(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    view = company.pipedrive_view()
    deals = [view.deals[5], view.deals[9]]
    line = next(p for p in view.deal_products if p["deal_id"] not in {d["id"] for d in deals})
    server.malform("pipedrive.deals", deals[0]["id"], "value", float("nan"))
    server.malform("pipedrive.deals", deals[1]["id"], "value", float("-inf"))
    server.malform("pipedrive.deal_products", line["id"], "item_price", float("inf"))
    load_system("pipedrive", duckdb_path)
    load_system("stripe", duckdb_path)  # another system in the same run loads too

    truth = company.ground_truth()["counts"]
    rejects = query(
        duckdb_path,
        "select resource, record_id, reason from raw_pipedrive.rejects order by 1, 2::int",
    )
    assert rejects == [
        ("deal_products", str(line["id"]), "item_price: expected a finite number, got inf"),
        ("deals", str(deals[0]["id"]), "value: expected a finite number, got nan"),
        ("deals", str(deals[1]["id"]), "value: expected a finite number, got -inf"),
    ]
    counts = table_counts(duckdb_path, "raw_pipedrive")
    assert counts["deals"] == truth["deals"] - 2
    # the rejected line, and the lines of the rejected deals (fetched once the deal loads)
    rejected_deals = {d["id"] for d in deals}
    held_back = {p["id"] for p in view.deal_products if p["deal_id"] in rejected_deals}
    assert counts["deal_products"] == truth["deal_products"] - len(held_back) - 1
    assert table_counts(duckdb_path, "raw_stripe")["invoices"] == truth["invoices"]


def test_a_malformed_id_and_a_missing_required_field_are_rejected(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    persons = company.pipedrive_view().persons
    charges = company.stripe_view().charges
    server.malform("pipedrive.persons", persons[0]["id"], "id", "P-1x")
    server.malform("pipedrive.persons", persons[1]["id"], "update_time", None)
    server.malform("stripe.charges", charges[0]["id"], "amount", None)
    load_system("pipedrive", duckdb_path)
    load_system("stripe", duckdb_path)
    reasons = dict(
        query(duckdb_path, "select record_id, reason from raw_pipedrive.rejects order by 1")
    )
    assert reasons == {
        "P-1x": "id: expected an integer, got 'P-1x'",
        str(persons[1]["id"]): "update_time: required value is missing",
    }
    stripe = query(duckdb_path, "select record_id, reason from raw_stripe.rejects")
    assert stripe == [(charges[0]["id"], "amount: required value is missing")]
    assert table_counts(duckdb_path, "raw_pipedrive")["persons"] == len(persons) - 2


# ---------------------------------------------------------------- timestamps and cursors


def test_stripe_timestamps_in_milliseconds_are_rejected_per_row(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    invoices = company.stripe_view().invoices
    due = next(i for i in invoices if i.get("due_date"))
    paid = next(i for i in invoices if (i.get("status_transitions") or {}).get("paid_at"))
    server.malform("stripe.invoices", due["id"], "due_date", due["due_date"] * 1000)
    server.malform(
        "stripe.invoices",
        paid["id"],
        "status_transitions.paid_at",
        paid["status_transitions"]["paid_at"] * 1000,
    )
    load_system("stripe", duckdb_path)
    reasons = dict(query(duckdb_path, "select record_id, reason from raw_stripe.rejects"))
    assert set(reasons) == {due["id"], paid["id"]}
    assert reasons[due["id"]] == (
        f"due_date: unix seconds {due['due_date'] * 1000} are after the year 2100 (milliseconds?)"
    )
    assert reasons[paid["id"]].startswith("status_transitions.paid_at: unix seconds")
    loaded = query(duckdb_path, "select max(due_date) from raw_stripe.invoices")[0][0]
    assert loaded < 4102444800


def _deals_in_warehouse(path: Path) -> dict[int, Any]:
    return dict(query(path, "select id, update_time from raw_pipedrive.deals"))


def test_a_cursor_value_from_the_future_is_rejected_and_does_not_freeze_the_cursor(
    server: FakeApiServer,
    company: DemoCompany,
    duckdb_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a deal the company changes in the next 40 days (so the API sends it again once fixed)
    twin = DemoCompany(company.config)
    twin.advance(days=40)
    later = {d["id"]: d["update_time"] for d in twin.pipedrive_view().deals}
    deal = next(d for d in company.pipedrive_view().deals if later[d["id"]] > d["update_time"])
    charge = max(company.stripe_view().charges, key=lambda c: c["created"])
    server.malform("pipedrive.deals", deal["id"], "update_time", "9999-12-31T23:59:59Z")
    server.malform("stripe.charges", charge["id"], "created", charge["created"] * 1000)
    with caplog.at_level(logging.WARNING, logger="pipelines.validation"):
        load_system("pipedrive", duckdb_path)
        load_system("stripe", duckdb_path)
    warned = f"pipedrive.deals: 1 row(s) rejected (see raw_pipedrive.rejects), e.g. id {deal['id']}"
    assert warned in caplog.text
    assert "stripe.charges: 1 row(s) rejected" in caplog.text
    rejects = query(duckdb_path, "select record_id, reason from raw_pipedrive.rejects")
    assert rejects[0][0] == str(deal["id"])
    assert "update_time: '9999-12-31T23:59:59Z' is in the future" in rejects[0][1]
    assert query(duckdb_path, "select record_id from raw_stripe.rejects") == [(charge["id"],)]

    # the company moves on and the API fixes the records
    company.advance(days=40)
    server.malform("pipedrive.deals", deal["id"], "update_time", later[deal["id"]])
    server.malform("stripe.charges", charge["id"], "created", charge["created"])
    server.clear_log()
    load_system("pipedrive", duckdb_path)
    load_system("stripe", duckdb_path)

    sent = [q for _m, p, q in server.request_log if p == "/pipedrive/api/v2/deals"]
    assert sent[0]["updated_since"] < "2100"  # the cursor stayed a real moment
    windows = [q for _m, p, q in server.request_log if p == "/stripe/v1/charges"]
    assert int(windows[0]["created[gte]"]) < 4102444800
    view = company.pipedrive_view().deals
    assert _deals_in_warehouse(duckdb_path).keys() == {d["id"] for d in view}
    stored = dict(query(duckdb_path, "select id, status from raw_pipedrive.deals"))
    assert stored == {d["id"]: d["status"] for d in view}
    charges = {c["id"] for c in company.stripe_view().charges}
    assert {r[0] for r in query(duckdb_path, "select id from raw_stripe.charges")} == charges


def test_a_cursor_may_be_a_little_ahead_of_the_loaders_clock() -> None:
    """Clock skew between the API and the loader is not a reason to reject a row."""
    from datetime import datetime, timezone

    from pipelines.validation import CURSOR_SKEW, REQ_RFC3339_CURSOR, REQ_UNIX_CURSOR

    ahead = datetime.now(timezone.utc) + CURSOR_SKEW - timedelta(minutes=5)
    assert REQ_RFC3339_CURSOR(ahead.strftime("%Y-%m-%dT%H:%M:%SZ")) <= ahead
    assert REQ_UNIX_CURSOR(int(ahead.timestamp())) == int(ahead.timestamp())
    with pytest.raises(ValueError, match="in the future"):
        REQ_UNIX_CURSOR(int((ahead + timedelta(hours=1)).timestamp()))


# ---------------------------------------------------------------- the load command


def test_the_load_command_writes_where_l2c_duckdb_path_says_and_rejects_always_exists(
    server: FakeApiServer, tmp_path: Path
) -> None:
    """`python -m pipelines.load` defaults to $L2C_DUCKDB_PATH, and a clean load leaves an
    empty `rejects` table (with the rejects columns) in every dataset it loads."""
    db = tmp_path / "elsewhere" / "l2c.duckdb"
    env = {**os.environ, "L2C_DUCKDB_PATH": str(db), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.load", "--systems", "pipedrive", "stripe"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "pipedrive:" in done.stdout and "(0 rejected)" in done.stdout
    for dataset in ("raw_pipedrive", "raw_stripe"):
        columns = [r[0] for r in query(db, f"describe {dataset}.rejects")]
        assert {"reject_id", "resource", "record_id", "reason", "payload"} <= set(columns)
        assert query(db, f"select count(*) from {dataset}.rejects") == [(0,)]


def test_a_future_updated_at_does_not_move_zendesk_sells_cursor(
    duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zendesk Sell's cursor is the newest updated_at read (its lists are read newest first,
    down to the cursor): a value from the future is rejected and leaves the cursor alone."""
    company = DemoCompany(
        SimConfig(seed=7, n_deals=200, crms=("pipedrive", "zendesk_sell"), crm_weights=(0.5, 0.5))
    )
    with serving(company) as server:
        deal = company.zendesk_sell_view().deals[2]
        server.malform("zendesk_sell.deals", deal["id"], "updated_at", "9999-12-31T23:59:59Z")
        load_system("zendesk_sell", duckdb_path)
        rejects = query(duckdb_path, "select record_id, reason from raw_zendesk_sell.rejects")
        assert [r[0] for r in rejects] == [str(deal["id"])]
        assert "is in the future" in rejects[0][1]
        company.advance(days=30)
        load_system("zendesk_sell", duckdb_path)
    loaded = {r[0] for r in query(duckdb_path, "select id from raw_zendesk_sell.deals")}
    now = company.zendesk_sell_view().deals
    assert {d["id"] for d in now} - loaded <= {deal["id"]}
    stored = dict(query(duckdb_path, "select id, updated_at from raw_zendesk_sell.deals"))
    newest = max(d["updated_at"] for d in now if d["id"] != deal["id"])
    assert max(stored.values()).strftime("%Y-%m-%dT%H:%M:%S") == newest[:19]


def test_a_rejected_stripe_invoice_is_read_again_until_it_loads(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    """A rejected Stripe invoice is read again until it loads: by id on an incremental run
    (it has no new event: paid invoices do not change), from a watermark it holds on a list
    read (which moves only past final invoices)."""
    invoices = company.stripe_view().invoices
    oldest = min((i for i in invoices if i["status"] == "paid"), key=lambda i: i["created"])
    server.malform("stripe.invoices", oldest["id"], "amount_due", "12.50")
    load_system("stripe", duckdb_path)
    assert query(duckdb_path, "select record_id from raw_stripe.rejects") == [(oldest["id"],)]
    server.malform("stripe.invoices", oldest["id"], "amount_due", oldest["amount_due"])
    server.clear_log()
    load_system("stripe", duckdb_path)
    read = [p for _m, p, _q in server.request_log if p.startswith("/stripe/v1/invoices")]
    assert read == [f"/stripe/v1/invoices/{oldest['id']}"]  # the events, and it alone
    loaded = query(duckdb_path, "select id from raw_stripe.invoices where id = ?", [oldest["id"]])
    assert loaded == [(oldest["id"],)]
    server.clear_log()
    load_system("stripe", duckdb_path)  # loaded: not read again
    assert not [p for _m, p, _q in server.request_log if p.startswith("/stripe/v1/invoices")]
    # on a list read (past the events' retention) a rejected invoice holds the watermark
    server.malform("stripe.invoices", oldest["id"], "amount_due", "12.50")
    company.advance(days=31)
    server.clear_log()
    load_system("stripe", duckdb_path)
    (window, *_) = [q for _m, p, q in server.request_log if p == "/stripe/v1/invoices"]
    assert int(window["created[gte]"]) <= oldest["created"]
    server.malform("stripe.invoices", oldest["id"], "amount_due", oldest["amount_due"])
    company.advance(days=31)
    server.clear_log()
    load_system("stripe", duckdb_path)
    (window, *_) = [q for _m, p, q in server.request_log if p == "/stripe/v1/invoices"]
    assert int(window["created[gte]"]) <= oldest["created"]


def test_a_zendesk_sell_page_linking_to_itself_stops_the_run(duckdb_path: Path) -> None:
    company = DemoCompany(
        SimConfig(seed=7, n_deals=100, crms=("pipedrive", "zendesk_sell"), crm_weights=(0.5, 0.5))
    )
    with serving(company) as server:
        path = "/zendesk_sell/v2/deals"
        again = f"{server.base_url}{path}?page=2&per_page=100"
        body = {"items": [], "meta": {"links": {"next_page": again}}}
        server.add_fault(Fault(path_prefix=path, body=json.dumps(body), times=50))
        with pytest.raises(LoadError, match=r"^zendesk_sell:.*paging does not advance"):
            load_system("zendesk_sell", duckdb_path)
        assert sum(1 for _m, p, _q in server.request_log if p == path) <= 3


@pytest.mark.parametrize(
    ("system", "prefix"),
    [
        ("salesforce", "/salesforce/services/data/"),
        # Certinia's objects are in the same org: its queries go to the same endpoint
        ("certinia", "/salesforce/services/data/v62.0/query"),
    ],
)
def test_a_salesforce_query_page_pointing_to_itself_stops_the_run(
    system: str, prefix: str, duckdb_path: Path
) -> None:
    company = DemoCompany(
        SimConfig(
            seed=7,
            n_deals=100,
            crms=("pipedrive", "salesforce"),
            crm_weights=(0.5, 0.5),
            certinia_crms=("salesforce",) if system == "certinia" else (),
        )
    )
    with serving(company) as server:
        stuck = "/services/data/v62.0/query/01gSTUCK-2000"
        body = {"totalSize": 5000, "done": False, "nextRecordsUrl": stuck, "records": []}
        server.add_fault(Fault(path_prefix=prefix, body=json.dumps(body), times=50, method="GET"))
        with pytest.raises(LoadError, match=rf"^{system}:.*paging does not advance"):
            load_system(system, duckdb_path)
        # each query follows the stuck link at most twice; dlt's extract pool reads up to 5
        # resources side by side, so up to 5 queries may reach it before the run stops (a
        # loop would follow it until the fault's 50 answers ran out)
        followed = sum(1 for _m, p, _q in server.request_log if p == f"/salesforce{stuck}")
        assert followed <= 2 * 5


def test_the_rest_api_lists_check_rows_before_their_incremental(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    """Pipedrive's lists from the rest_api config run their row checks ahead of dlt's
    incremental: a future update_time (a dict-row table and an Arrow table) goes to `rejects`
    and the next run still asks for the changes since the real cursor."""
    view = company.pipedrive_view()
    person, activity = view.persons[0], view.activities[0]
    server.malform("pipedrive.persons", person["id"], "update_time", "9999-12-31T23:59:59Z")
    server.malform("pipedrive.activities", activity["id"], "update_time", "9999-12-31T23:59:59Z")
    load_system("pipedrive", duckdb_path)
    rejects = query(duckdb_path, "select resource, record_id from raw_pipedrive.rejects")
    assert sorted(rejects) == [("activities", str(activity["id"])), ("persons", str(person["id"]))]
    loaded = dict(query(duckdb_path, "select 'persons', count(*) from raw_pipedrive.persons"))
    assert loaded["persons"] == len(view.persons) - 1

    server.clear_log()
    load_system("pipedrive", duckdb_path)
    for name in ("persons", "activities"):
        sent = [q for _m, p, q in server.request_log if p == f"/pipedrive/api/v2/{name}"]
        assert sent and not sent[0]["updated_since"].startswith("9999"), name
