"""Stripe first loads read each list in parallel `created` ranges: the ranges cover every
object exactly once, and the raw tables equal those of a one-range (serial) load."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import serving, table_counts
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth

from l2c_demo.fake_api import FakeApiServer
from l2c_demo.simulator import DemoCompany, SimConfig
from pipelines.http import make_client
from pipelines.load import load_system
from pipelines.stripe import ranged_pages

LISTS = ("customers", "invoices", "charges", "subscriptions", "refunds", "credit_notes")


def make_company() -> DemoCompany:
    return DemoCompany(SimConfig(seed=5, n_deals=160, crms=("pipedrive",), crm_weights=(1.0,)))


def rows_of(path: Path, table: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw_stripe' and table_name = ? order by column_name",
                [table],
            ).fetchall()
            if not r[0].startswith("_dlt")
        ]
        if not names:  # no such table: the list was empty
            return []
        cols = ", ".join(f'"{n}"' for n in names)
        return con.execute(f"select {cols} from raw_stripe.{table} order by id").fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def loads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, FakeApiServer]]:
    company = make_company()
    work = tmp_path_factory.mktemp("stripe_ranges")
    serial, ranged = work / "serial.duckdb", work / "ranged.duckdb"
    with serving(company, SOURCES__STRIPE__PARALLEL_RANGES="1", SOURCES__STRIPE__PAGE_SIZE="5"):
        load_system("stripe", serial)
    with serving(
        company, SOURCES__STRIPE__PARALLEL_RANGES="6", SOURCES__STRIPE__PAGE_SIZE="5"
    ) as server:
        load_system("stripe", ranged)
        yield serial, ranged, server


def test_ranged_first_load_equals_a_serial_one(loads: tuple[Path, Path, FakeApiServer]) -> None:
    serial, ranged, server = loads
    assert table_counts(ranged, "raw_stripe") == table_counts(serial, "raw_stripe")
    for table in LISTS:
        assert rows_of(ranged, table) == rows_of(serial, table), table
    ranged_lists = Counter(
        p.rsplit("/", 1)[-1] for _m, p, q in server.request_log if "created[lt]" in q
    )
    view = server.app.company.stripe_view()
    assert set(ranged_lists) == {name for name in LISTS if getattr(view, name)}
    assert {"invoices", "charges", "customers"} <= set(ranged_lists)


def test_ranges_cover_every_object_exactly_once(loads: tuple[Path, Path, FakeApiServer]) -> None:
    _serial, _ranged, server = loads
    env = server.source_env()
    client = make_client(
        env["SOURCES__STRIPE__BASE_URL"],
        {},
        auth=BearerTokenAuth(env["SOURCES__STRIPE__API_KEY"]),
        system="stripe_ranges_test",
    )
    view = server.app.company.stripe_view()
    for name, params, objects in (
        ("invoices", {"limit": 4}, view.invoices),
        ("charges", {"limit": 4}, view.charges),
    ):
        for parts in (2, 5, 9):
            server.clear_log()
            pages = list(ranged_pages(client, f"/v1/{name}", params, parts))
            got = [row["id"] for page in pages for row in page]
            assert Counter(got) == Counter(o["id"] for o in objects), (name, parts)
            created = [row["created"] for page in pages for row in page]
            assert created == sorted(created, reverse=True)  # the serial (newest first) order
            ranges = {
                (q.get("created[gte]"), q.get("created[lt]"))
                for _m, p, q in server.request_log
                if p.endswith(name) and q.get("limit") == "4"
            }
            assert len(ranges) == parts + 1  # the first page, then `parts` ranges
    small = [name for name in LISTS if 0 < len(getattr(view, name)) <= 100]
    assert small, "the company should have a list that fits one page"
    server.clear_log()
    pages = list(ranged_pages(client, f"/v1/{small[0]}", {"limit": 100}, 5))
    assert len(pages) == 1 and len(server.request_log) == 1  # fits one page: one request


def test_incremental_runs_cut_ranges_from_their_watermark(
    loads: tuple[Path, Path, FakeApiServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    _serial, ranged, server = loads
    for key, value in server.source_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SOURCES__STRIPE__PARALLEL_RANGES", "6")
    monkeypatch.setenv("SOURCES__STRIPE__PAGE_SIZE", "5")
    company = server.app.company
    company.advance(days=30)
    server.clear_log()
    load_system("stripe", ranged)
    log = server.request_log
    # 30 days on, the events cursor is past the retention: the lists are read again. No
    # probes but for customers (read in full): the span starts at the watermark
    probes = {p for _m, p, q in log if q.get("limit") == "1"}
    assert probes <= {"/stripe/v1/customers"}
    invoices = [q for _m, p, q in log if p.endswith("/v1/invoices")]
    assert all("created[gte]" in q for q in invoices)
    assert any("created[lt]" in q for q in invoices)
    view = company.stripe_view()
    for name in ("invoices", "charges"):
        stored = {
            row[0]
            for row in duckdb.connect(str(ranged), read_only=True)
            .execute(f"select id from raw_stripe.{name}")
            .fetchall()
        }
        assert stored == {o["id"] for o in getattr(view, name)}, name
