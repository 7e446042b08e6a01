"""Stripe incremental runs read the Events API: after the company moves on, the raw tables
equal a full re-read row for row, the requests follow the number of events (not the size of
the account), an event listed late inside the look-back is picked up, and a cursor older than
the 30-day retention falls back to the list reads (with a warning in the log)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
from conftest import serving, table_counts

from l2c_demo.fake_api import FakeApiServer
from l2c_demo.simulator import DemoCompany, SimConfig
from pipelines.load import load_system
from pipelines.stripe_events import CHANGE_TYPES, RETENTION_SECONDS

LISTS = tuple(CHANGE_TYPES)
PAGE = 5
LOOKBACK = 3600
RAW = "raw_stripe"


def make_company() -> DemoCompany:
    return DemoCompany(
        SimConfig(
            seed=11, n_deals=150, crms=("pipedrive",), crm_weights=(1.0,), subscription_share=0.5
        ),
    )


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ? order by column_name",
            [RAW, table],
        ).fetchall()
        if not r[0].startswith("_dlt")
    ]


def rows_of(path: Path, table: str, names: list[str]) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        if not columns(con, table):
            return []
        cols = ", ".join(f'"{n}"' for n in names)
        return con.execute(f"select {cols} from {RAW}.{table} order by id").fetchall()
    finally:
        con.close()


def assert_same_rows(got: Path, want: Path, skip: tuple[str, ...] = ()) -> None:
    """Every list table (and its child tables, by count) of `got` equals `want`'s."""
    got_counts, want_counts = table_counts(got, RAW), table_counts(want, RAW)
    for table, count in want_counts.items():
        if table.startswith("_dlt") or table in ("events", "rejects"):
            continue
        assert got_counts.get(table) == count, table
    for table in LISTS:
        con = duckdb.connect(str(want), read_only=True)
        names = [n for n in columns(con, table) if n not in skip]
        con.close()
        assert rows_of(got, table, names) == rows_of(want, table, names), table


def stripe_requests(server: FakeApiServer) -> list[tuple[str, dict[str, str]]]:
    return [(p, q) for _m, p, q in server.request_log if p.startswith("/stripe/")]


def events_since(server: FakeApiServer, name: str, since: int) -> int:
    types = set(CHANGE_TYPES[name][1])
    view = server.app.company.stripe_view()
    return sum(1 for e in view.api_events if e["type"] in types and e["created"] >= since)


@dataclass
class Runs:
    server: FakeApiServer
    incremental: Path  # first load, then one incremental run 12 days later
    full: Path  # one first load at the same moment
    cursor: int  # Stripe's clock at the first load
    log: list[tuple[str, dict[str, str]]]  # the incremental run's requests
    full_requests: int


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    work = tmp_path_factory.mktemp("stripe_events")
    company = make_company()
    with serving(company, SOURCES__STRIPE__PAGE_SIZE=str(PAGE)) as server:
        incremental, full = work / "incremental.duckdb", work / "full.duckdb"
        load_system("stripe", incremental)
        cursor = company.as_of_unix
        company.advance(days=12)
        server.clear_log()
        load_system("stripe", incremental)
        log = stripe_requests(server)
        server.clear_log()
        load_system("stripe", full)
        full_requests = len(stripe_requests(server))
        yield Runs(server, incremental, full, cursor, log, full_requests)


def test_incremental_run_equals_a_full_re_read(runs: Runs) -> None:
    assert_same_rows(runs.incremental, runs.full)
    view = runs.server.app.company.stripe_view()
    recent = [e for e in view.change_events if e["created"] > runs.cursor]
    old = {
        e["data"]["object"]["id"] for e in recent if e["data"]["object"]["created"] <= runs.cursor
    }
    assert old, "the simulator should have changed Stripe objects made before the first load"
    # the company moved on in every way the lists show: new and changed objects alike
    kinds = {e["type"] for e in recent}
    assert {"invoice.created", "invoice.paid", "customer.subscription.updated"} <= kinds


def test_incremental_requests_follow_the_events(runs: Runs) -> None:
    paths = {p for p, _q in runs.log}
    assert paths == {"/stripe/v1/events"}  # no list is read
    since = runs.cursor - LOOKBACK
    expected = sum(max(1, math.ceil(events_since(runs.server, n, since) / PAGE)) for n in LISTS)
    changes = [q for _p, q in runs.log if "types[0]" in q]
    # a page that ends exactly on the last event asks once more (Stripe says has_more)
    assert expected <= len(changes) <= expected + len(LISTS)
    assert all(int(q["created[gte]"]) == since for q in changes)
    assert len(runs.log) < runs.full_requests / 3


def test_a_late_event_inside_the_look_back_is_picked_up(runs: Runs) -> None:
    view = runs.server.app.company.stripe_view()
    invoice = view.invoices[-1]  # the oldest invoice: untouched for months
    late = {
        "id": "evt_late_in_the_look_back",
        "object": "event",
        "type": "invoice.updated",
        "created": view.as_of - LOOKBACK // 2,  # before the cursor of the last run
        "data": {"object": {**invoice, "metadata": {**invoice["metadata"], "late": "yes"}}},
    }
    too_late = {
        **late,
        "id": "evt_late_before_the_look_back",
        "created": view.as_of - 2 * LOOKBACK,
        "data": {"object": {**view.invoices[-2], "metadata": {"late": "too"}}},
    }
    view.api_events = sorted(
        [*view.api_events, late, too_late], key=lambda e: (e["created"], e["id"]), reverse=True
    )
    load_system("stripe", runs.incremental)
    stored = dict(
        duckdb.connect(str(runs.incremental), read_only=True)
        .execute(f"select id, metadata__late from {RAW}.invoices where metadata__late is not null")
        .fetchall()
    )
    assert stored == {invoice["id"]: "yes"}  # the event before the look-back is not read


def test_a_cursor_older_than_the_retention_falls_back_to_the_lists(
    runs: Runs, caplog: pytest.LogCaptureFixture
) -> None:
    server, company = runs.server, runs.server.app.company
    company.advance(seconds=RETENTION_SECONDS + 86400)
    server.clear_log()
    with caplog.at_level(logging.WARNING, logger="pipelines.stripe"):
        load_system("stripe", runs.incremental)
    warned = {r.getMessage().split(":")[0] for r in caplog.records if "retention" in r.message}
    assert warned == {f"stripe {name}" for name in LISTS}
    listed = {p.rsplit("/", 1)[-1] for p, _q in stripe_requests(server)}
    assert {"invoices", "charges", "customers", "subscriptions"} <= listed
    # every object as the lists show it now: keys, and the state of those that change
    view = company.stripe_view()
    con = duckdb.connect(str(runs.incremental), read_only=True)
    try:
        for name in LISTS:
            has_status = "status" in columns(con, name)
            stored = con.execute(
                f"select id, {'status' if has_status else 'null'} from {RAW}.{name}"
            ).fetchall()
            want = [(o["id"], o.get("status") if has_status else None) for o in getattr(view, name)]
            assert sorted(stored) == sorted(want), name
    finally:
        con.close()


def test_the_fake_emits_an_event_for_every_change_and_filters_by_types(runs: Runs) -> None:
    """The newest event of every object changed in the last 30 days holds the object as the
    list shows it now (a change time the simulator missed would show here), and `types[]`
    filters what /v1/events lists."""
    view = runs.server.app.company.stripe_view()
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for event in sorted(view.change_events, key=lambda e: e["created"]):
        obj = event["data"]["object"]
        newest[(obj["object"], obj["id"])] = obj
    listed = {(obj["object"], obj["id"]): obj for name in LISTS for obj in getattr(view, name)}
    assert newest and all(listed[key] == obj for key, obj in newest.items())
    env = runs.server.source_env()
    url = env["SOURCES__STRIPE__BASE_URL"] + "/v1/events"
    auth = {"Authorization": f"Bearer {env['SOURCES__STRIPE__API_KEY']}"}
    types = ["invoice.paid", "charge.succeeded"]
    body = requests.get(
        url, params={"limit": 100, "types[0]": types[0], "types[1]": types[1]}, headers=auth
    ).json()
    assert body["data"] and {e["type"] for e in body["data"]} <= set(types)
    too_many = {f"types[{i}]": f"x.{i}" for i in range(21)}
    assert requests.get(url, params=too_many, headers=auth).status_code == 400
