"""What the Pipedrive and Stripe loaders send, read from the fake server's request log:
incremental filters on every incremental resource, per-deal requests only for changed deals,
and the waits and retries of the listing path (throttling, timeouts, dropped connections)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import tenacity.nap
from conftest import table_counts

from l2c.fake_api import FakeApiServer, Fault
from l2c.simulator import DemoCompany, SimConfig
from pipelines import lean_get
from pipelines.load import load_system

INCREMENTAL = ("persons", "organizations", "products", "activities", "deals")


@pytest.fixture
def company() -> DemoCompany:
    """A smaller company than conftest's: these tests are about single records."""
    return DemoCompany(SimConfig(seed=7, n_deals=100))


def _sent(server: FakeApiServer, path: str) -> list[dict[str, str]]:
    return [query for _m, p, query in server.request_log if p == path]


def test_pipedrive_sends_updated_since_and_fetches_children_of_changed_deals_only(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    load_system("pipedrive", duckdb_path)
    first = company.pipedrive_view()
    cursors = {name: max(r["update_time"] for r in getattr(first, name)) for name in INCREMENTAL}
    company.advance(days=30)
    server.clear_log()
    load_system("pipedrive", duckdb_path)

    for name in INCREMENTAL:
        (first_page, *_) = _sent(server, f"/pipedrive/api/v2/{name}")
        # the stored cursor is the newest update_time loaded (dlt keeps it as a datetime)
        assert first_page["updated_since"] == cursors[name].replace(".000Z", "Z"), name

    now = company.pipedrive_view()
    changed = {d["id"] for d in now.deals if d["update_time"] > cursors["deals"]}
    # a deal exactly at the cursor is sent again (updated_since is inclusive); dlt passes it
    # on only if it is not the very row it already loaded
    at_cursor = {d["id"] for d in now.deals if d["update_time"] == cursors["deals"]}
    discounts = {
        int(p.split("/")[-2])
        for _m, p, _q in server.request_log
        if p.startswith("/pipedrive/api/v2/deals/") and p.endswith("/discounts")
    }
    assert changed <= discounts <= changed | at_cursor
    products = set()
    for query in _sent(server, "/pipedrive/api/v2/deals/products"):
        products |= {int(i) for i in query["deal_ids"].split(",")}
    assert products == discounts
    assert len(changed) < len(now.deals)


def test_stripe_sends_its_created_windows(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path
) -> None:
    load_system("stripe", duckdb_path)
    first = company.stripe_view()
    newest_charge = max(c["created"] for c in first.charges)
    changeable = [i["created"] for i in first.invoices if i["status"] in ("draft", "open")]
    company.advance(days=30)
    server.clear_log()
    load_system("stripe", duckdb_path)

    (charges, *_) = _sent(server, "/stripe/v1/charges")
    assert int(charges["created[gte]"]) == newest_charge - 30 * 86400  # the look-back
    (invoices, *_) = _sent(server, "/stripe/v1/invoices")
    expected = min(changeable) if changeable else max(i["created"] for i in first.invoices)
    assert int(invoices["created[gte]"]) == expected
    assert "created[gte]" not in _sent(server, "/stripe/v1/customers")[0]  # re-read in full


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between attempts of both HTTP paths, recorded instead of slept: the listing
    path (dlt's retrying session, tenacity) and the per-record lean GET."""
    seen: list[float] = []
    monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=seen.append))
    monkeypatch.setattr(lean_get, "sleep", seen.append)
    return seen


def test_the_listing_path_waits_retry_after_then_backs_off(
    server: FakeApiServer, company: DemoCompany, duckdb_path: Path, waits: list[float]
) -> None:
    path = "/pipedrive/api/v2/persons"
    server.add_fault(Fault(path_prefix=path, status=429, retry_after=7, times=1))
    server.add_fault(Fault(path_prefix=path, status=503, times=1))
    load_system("pipedrive", duckdb_path)
    assert waits == [7.0, 1.0]  # Retry-After, then 0.5 * 2 for the second attempt's failure
    assert len(_sent(server, path)) == 3
    assert table_counts(duckdb_path, "raw_pipedrive")["persons"] == len(
        company.pipedrive_view().persons
    )


def test_a_listing_request_that_times_out_is_retried(
    server: FakeApiServer,
    company: DemoCompany,
    duckdb_path: Path,
    waits: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCES__PIPEDRIVE__REQUEST_TIMEOUT", "1")
    path = "/pipedrive/api/v2/organizations"
    server.add_fault(Fault(path_prefix=path, delay_seconds=4.0, times=1))
    load_system("pipedrive", duckdb_path)
    assert waits == [0.5]
    assert len(_sent(server, path)) == 2
    assert table_counts(duckdb_path, "raw_pipedrive")["organizations"] == len(
        company.pipedrive_view().organizations
    )


@pytest.mark.parametrize("per_deal", [False, True])
def test_a_dropped_connection_is_retried(
    per_deal: bool,
    server: FakeApiServer,
    company: DemoCompany,
    duckdb_path: Path,
    waits: list[float],
) -> None:
    deal = company.pipedrive_view().deals[0]["id"]
    path = f"/pipedrive/v1/deals/{deal}/flow" if per_deal else "/pipedrive/api/v2/products"
    server.add_fault(Fault(path_prefix=path, drop_connection=True, times=1))
    load_system("pipedrive", duckdb_path)
    assert server.app.faults.pending() == 0
    assert waits == [0.5]
    assert len(_sent(server, path)) == 2
    truth = company.ground_truth()["counts"]
    counts = table_counts(duckdb_path, "raw_pipedrive")
    assert counts["deal_changes"] == truth["flow_changes"]
    assert counts["products"] == len(company.pipedrive_view().products)
