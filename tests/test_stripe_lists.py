"""Stripe embeds at most 10 objects of a list inside its parent (an invoice's `lines`) and says
`has_more`; the loader reads the rest from the list's url. Against invoices planted with 11-240
lines (simulator many_line_invoice_share): every line lands with its amount, on a first load
(list reads) and on an incremental load (Events API), and the extra requests are one per 100
missing lines of exactly the invoices that need them. Loader only: no dbt build."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from conftest import serving

from l2c_demo.fake_api import FakeApiServer
from l2c_demo.simulator import DemoCompany, SimConfig
from pipelines.load import load_system
from pipelines.stripe_events import CHANGE_TYPES

EMBEDDED = 10
LOOKBACK = 3600  # the loader's default events look-back
LINES_PATH = re.compile(r"^/stripe/v1/invoices/([^/]+)/lines$")


def make_company() -> DemoCompany:
    return DemoCompany(
        SimConfig(
            seed=23,
            n_deals=120,
            crms=("pipedrive",),
            crm_weights=(1.0,),
            subscription_share=0.4,
            many_line_invoice_share=0.3,
        )
    )


def planted_lines(company: DemoCompany) -> dict[str, dict[str, int]]:
    """The simulator's truth: per invoice created by as_of, its line ids and amounts."""
    as_of = company.as_of_unix
    return {
        inv.id: {line_id: amount for line_id, amount, _d, _q in inv.lines}
        for inv in company.world.invoices
        if inv.created <= as_of
    }


def loaded_lines(path: Path) -> dict[str, dict[str, int]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "select i.id, l.id, l.amount from raw_stripe.invoices i "
            "join raw_stripe.invoices__lines__data l on l._dlt_parent_id = i._dlt_id"
        ).fetchall()
        incomplete = con.execute(
            "select count(*) from raw_stripe.invoices where lines__has_more"
        ).fetchone()
    finally:
        con.close()
    assert incomplete == (0,)
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for invoice_id, line_id, amount in rows:
        assert line_id not in out[invoice_id], f"line {line_id} loaded twice"
        out[invoice_id][line_id] = amount
    return dict(out)


def lines_requests(server: FakeApiServer) -> dict[str, int]:
    """Requests for the rest of an invoice's lines, per invoice."""
    out: dict[str, int] = defaultdict(int)
    for _m, path, _q in server.request_log:
        found = LINES_PATH.match(path)
        if found:
            out[found.group(1)] += 1
    return dict(out)


def expected_requests(invoices: dict[str, dict[str, int]], ids: set[str]) -> dict[str, int]:
    """One request per 100 lines beyond the embedded 10, for the invoices `ids` that have more."""
    return {
        i: math.ceil((len(invoices[i]) - EMBEDDED) / 100)
        for i in ids
        if len(invoices[i]) > EMBEDDED
    }


@dataclass
class Loads:
    server: FakeApiServer
    path: Path
    first: dict[str, dict[str, int]]  # planted at the first load
    first_requests: dict[str, int]
    cursor: int  # the company's clock at the first load
    second: dict[str, dict[str, int]]  # planted at the incremental load
    second_loaded: dict[str, dict[str, int]]
    second_requests: dict[str, int]


@pytest.fixture(scope="module")
def loads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loads]:
    company = make_company()
    path = tmp_path_factory.mktemp("stripe_lists") / "stripe.duckdb"
    # unpaced: the fake has no rate limit, and the test counts requests, not their pace
    with serving(company, SOURCES__STRIPE__REQUESTS_PER_SECOND="0") as server:
        load_system("stripe", path)
        first, first_requests = planted_lines(company), lines_requests(server)
        first_loaded = loaded_lines(path)
        assert first_loaded == first  # every line of every invoice, with its amount
        cursor = company.as_of_unix
        company.advance(days=20)
        server.clear_log()
        load_system("stripe", path)
        yield Loads(
            server,
            path,
            first,
            first_requests,
            cursor,
            planted_lines(company),
            loaded_lines(path),
            lines_requests(server),
        )


def test_the_company_plants_invoices_beyond_one_embedded_page(loads: Loads) -> None:
    many = [i for i, lines in loads.first.items() if len(lines) > EMBEDDED]
    assert len(many) >= 5
    assert any(len(loads.first[i]) > EMBEDDED + 100 for i in many)  # more than one page
    # the plant keeps the invoice's amount: its lines sum to what the invoice bills
    view = loads.server.app.company.stripe_view()
    for rec in view.invoices:
        lines = loads.second.get(rec["id"])
        if lines is not None and len(lines) > EMBEDDED:
            assert sum(lines.values()) == rec["subtotal"]


def test_every_line_lands_on_the_first_load(loads: Loads) -> None:
    # (the fixture compares the loaded lines of the first load with the planted ones)
    assert loads.first_requests == expected_requests(loads.first, set(loads.first))


def test_every_line_lands_on_an_events_load(loads: Loads) -> None:
    assert loads.second_loaded == loads.second
    new = {i for i in loads.second if i not in loads.first and len(loads.second[i]) > EMBEDDED}
    assert new, "the company should bill invoices beyond 10 lines after the first load"


def test_an_events_load_reads_lines_only_for_the_changed_invoices(loads: Loads) -> None:
    view = loads.server.app.company.stripe_view()
    types = set(CHANGE_TYPES["invoices"][1])
    changed = {
        e["data"]["object"]["id"]
        for e in view.api_events
        if e["type"] in types and e["created"] >= loads.cursor - LOOKBACK
    }
    paths = {p for _m, p, _q in loads.server.request_log if p.startswith("/stripe/")}
    assert "/stripe/v1/invoices" not in paths  # the events path, not a list read
    assert loads.second_requests == expected_requests(loads.second, changed)
    assert loads.second_requests, "some changed invoice should have more than 10 lines"
