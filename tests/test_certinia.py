"""Certinia end to end: the fake Salesforce API serving Certinia's objects (the package is
installed in the demo org), the dlt source over real HTTP (paging on every resource,
incremental loads, 429/500, rejects, schema drift, an org without the package), and a
warehouse of two business units side by side: Pipedrive + Stripe (disparate systems) and
Salesforce + Certinia (one platform), checked against the planted truths and against a
plain-Python recomputation of finance_system_comparison from the API payloads; the Certinia
invoice lines recognise their revenue in revenue_recognition_schedule, the Revenue Recognized
events and booked_billed_recognized - over the Revenue Management schedule
(ffrr__RevenueSchedule__c) of a line where there is one, else at the invoice's date - checked
against the planted lines and a recomputation from the served payloads; write-offs (cash
matching without cash) reach the invoices, the event log and payment_recovery as planted;
refunds (a Refund cash entry matched to a credit note) are Refund Issued events of the
credited invoice's case and refund rows of refund_reasons, as planted and as recomputed."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import revenue_kpis
from conftest import (
    ALLOWED_DBT_WARNINGS,
    dbt_warnings,
    only_systems,
    query,
    serving,
    settled,
    table_counts,
    vars_of,
)
from test_kpis_independent import Fx, _round

from l2c.dbt_runner import run_dbt
from l2c_demo.fake_api import FakeApiServer, Fault
from l2c_demo.fake_api.salesforce_api import SalesforceApi
from l2c_demo.simulator import DemoCompany, SimConfig
from l2c_demo.simulator.certinia import OBJECTS as CERTINIA_OBJECTS
from pipelines.certinia import OBJECTS as LOADED
from pipelines.load import LoadError, load_all, load_system

# the company's systems only: no other system's empty staging models and tests
dbt_systems = only_systems("pipedrive", "salesforce", "stripe", "certinia")

Record = dict[str, Any]
QUERY_PATH = "/salesforce/services/data/v62.0/query"
TABLES = {table: sobject for table, (sobject, _fields, _spec) in LOADED.items()}
LINK_WINDOW_DAYS = 60  # dbt var invoice_link_window_days
# the demo org's credit-note reasons (picklist c2g__CreditNoteReason__c) as the canonical
# credit-note reasons (Stripe's, plus goodwill): the default of dbt var
# certinia_credit_note_reasons, as the docs state it
REASONS = {
    "Pricing Error": "order_change",
    "Returned Goods": "order_change",
    "Service Issue": "product_unsatisfactory",
    "Goodwill": "goodwill",
}
UNMAPPED_REASON = "Volume Rebate"  # planted on one credit note: no mapping names it


def make_company(n_deals: int = 160, **overrides: Any) -> DemoCompany:
    settings: dict[str, Any] = {
        "seed": 7,
        "n_deals": n_deals,
        "crms": ("pipedrive", "salesforce"),
        "crm_weights": (0.5, 0.5),
        "certinia_crms": ("salesforce",),
        "certinia_credit_note_share": 0.3,
        "certinia_write_off_share": 0.1,
        "certinia_refund_share": 0.3,
    }
    return DemoCompany(SimConfig(**{**settings, **overrides}))


def view_counts(company: DemoCompany) -> dict[str, int]:
    objects = company.salesforce_view().objects
    return {table: len(objects.get(sobject, [])) for table, sobject in TABLES.items()}


def raw_counts(path: Path) -> dict[str, int]:
    counts = table_counts(path, "raw_certinia")
    return {table: counts.get(table, 0) for table in TABLES}


def _served(server: FakeApiServer, since: int = 0) -> Counter[str]:
    api = server.app.systems["salesforce"]
    assert isinstance(api, SalesforceApi)
    rows: Counter[str] = Counter()
    for sobject, _offset, n in api.pages_served[since:]:
        rows[sobject] += n
    return rows


def _pages(server: FakeApiServer) -> list[tuple[str, int, int]]:
    api = server.app.systems["salesforce"]
    assert isinstance(api, SalesforceApi)
    return api.pages_served


# ---- the dlt source ----------------------------------------------------------------------------
def test_the_loader_reads_the_objects_the_fake_org_has() -> None:
    for sobject, fields, _spec in LOADED.values():
        assert set(fields) <= set(CERTINIA_OBJECTS[sobject][2]), sobject


def test_every_resource_pages_and_loads_exactly_once(
    duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = make_company(80)
    expected = view_counts(company)
    assert min(expected.values()) >= 2, expected
    with serving(company, SOURCES__CERTINIA__PAGE_SIZE="1") as server:
        load_system("certinia", duckdb_path)
    assert raw_counts(duckdb_path) == expected
    paged = {sobject for sobject, offset, _n in _pages(server) if offset > 0}
    assert set(TABLES.values()) <= paged, set(TABLES.values()) - paged
    for table in TABLES:
        dupes = query(
            duckdb_path, f"select count(*) - count(distinct id) from raw_certinia.{table}"
        )
        assert dupes[0][0] == 0, table


def test_incremental_loads_read_only_what_changed(duckdb_path: Path) -> None:
    company = make_company()
    with serving(company) as server:
        load_system("certinia", duckdb_path)
        before = company.salesforce_view().objects["c2g__codaInvoice__c"]
        cursor = max(r["SystemModstamp"] for r in before)
        mark = len(_pages(server))
        load_system("certinia", duckdb_path)  # nothing new: only the rows on the cursor
        on_cursor = sum(1 for r in before if r["SystemModstamp"] == cursor)
        assert _served(server, mark)["c2g__codaInvoice__c"] == on_cursor
        assert raw_counts(duckdb_path) == view_counts(company)

        company.advance(days=60)
        mark = len(_pages(server))
        load_system("certinia", duckdb_path)
        now = company.salesforce_view().objects["c2g__codaInvoice__c"]
        changed = [r for r in now if r["SystemModstamp"] >= cursor]
        assert len(changed) > len(now) - len(before), "the simulator should have changed invoices"
        assert len(changed) < len(now)
        assert _served(server, mark)["c2g__codaInvoice__c"] == len(changed)
        queries = [q["q"] for _m, p, q in server.request_log if p == QUERY_PATH]
        assert any("FROM c2g__codaInvoice__c WHERE SystemModstamp >= 20" in q for q in queries)
    assert raw_counts(duckdb_path) == view_counts(company)
    stored = dict(
        query(duckdb_path, "select id, c2g__payment_status__c from raw_certinia.sales_invoices")
    )
    assert stored == {r["Id"]: r["c2g__PaymentStatus__c"] for r in now}


def test_recovers_from_429_and_500(duckdb_path: Path) -> None:
    company = make_company()
    with serving(company, SOURCES__CERTINIA__MAX_ATTEMPTS="4") as server:
        server.add_fault(Fault(path_prefix=QUERY_PATH, status=429, retry_after=1, times=2))
        server.add_fault(Fault(path_prefix=QUERY_PATH, status=500, times=1))
        load_system("certinia", duckdb_path)
        fired = Counter(status for _m, _p, status in server.app.faults.fired)
    assert fired == {429: 2, 500: 1}
    assert raw_counts(duckdb_path) == view_counts(company)


def test_gives_up_clearly_and_names_its_own_settings(
    duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    company = make_company(60)
    with serving(company, SOURCES__CERTINIA__MAX_ATTEMPTS="2") as server:
        server.add_fault(Fault(path_prefix=QUERY_PATH, status=500, times=50))
        with pytest.raises(LoadError, match=r"certinia.*500"):
            load_system("certinia", duckdb_path)
        monkeypatch.delenv("SOURCES__CERTINIA__CLIENT_SECRET")
        with pytest.raises(LoadError, match="SOURCES__CERTINIA__CLIENT_SECRET"):
            load_system("certinia", duckdb_path)


def test_malformed_records_go_to_rejects_and_new_fields_become_columns(
    duckdb_path: Path,
) -> None:
    company = make_company()
    objects = company.salesforce_view().objects
    invoice = objects["c2g__codaInvoice__c"][3]["Id"]
    match = objects["c2g__codaCashMatchingHistory__c"][1]["Id"]
    note = objects["c2g__codaCreditNote__c"][0]["Id"]
    drifted = objects["c2g__codaInvoice__c"][5]["Id"]
    line = objects["c2g__codaInvoiceLineItem__c"][2]["Id"]
    drifted_line = objects["c2g__codaInvoiceLineItem__c"][4]["Id"]
    schedule = objects["ffrr__RevenueSchedule__c"][1]["Id"]
    with serving(company) as server:
        server.malform("salesforce.c2g__codaInvoice__c", invoice, "c2g__InvoiceTotal__c", "12k")
        server.malform("salesforce.c2g__codaCashMatchingHistory__c", match, "CreatedDate", "soon")
        server.malform("salesforce.c2g__codaCreditNote__c", note, "c2g__Account__c", None)
        # a line without its net value would recognise no revenue: rejected, not read as 0
        server.malform("salesforce.c2g__codaInvoiceLineItem__c", line, "c2g__NetValue__c", None)
        # schema drift on the lines too: a revenue-period custom field appears
        server.malform(
            "salesforce.c2g__codaInvoiceLineItem__c", drifted_line, "Service_Start__c", "2024-01-01"
        )
        # schema drift: the org starts sending a new custom field on one invoice
        server.malform("salesforce.c2g__codaInvoice__c", drifted, "Days_Overdue__c", 12)
        # a revenue schedule without its end would recognise nothing: rejected
        server.malform("salesforce.ffrr__RevenueSchedule__c", schedule, "ffrr__EndDate__c", None)
        load_system("certinia", duckdb_path)
        rejects = query(
            duckdb_path,
            "select resource, record_id, reason from raw_certinia.rejects order by 1",
        )
        assert [(r[0], r[1]) for r in rejects] == [
            ("cash_matching_history", match),
            ("credit_notes", note),
            ("revenue_schedules", schedule),
            ("sales_invoice_lines", line),
            ("sales_invoices", invoice),
        ]
        assert "CreatedDate" in rejects[0][2] and "soon" in rejects[0][2]
        assert "c2g__Account__c" in rejects[1][2]
        assert "ffrr__EndDate__c" in rejects[2][2]
        assert "c2g__NetValue__c" in rejects[3][2]
        assert "c2g__InvoiceTotal__c" in rejects[4][2] and "12k" in rejects[4][2]
        expected = view_counts(company)
        for table in ("cash_matching_history", "credit_notes", "sales_invoices"):
            expected[table] -= 1
        expected["revenue_schedules"] -= 1
        expected["sales_invoice_lines"] -= 1
        assert raw_counts(duckdb_path) == expected
        assert query(
            duckdb_path,
            "select id, days_overdue__c from raw_certinia.sales_invoices "
            "where days_overdue__c is not null",
        ) == [(drifted, 12)]
        assert query(
            duckdb_path,
            "select id, service_start__c from raw_certinia.sales_invoice_lines "
            "where service_start__c is not null",
        ) == [(drifted_line, "2024-01-01")]
        load_system("certinia", duckdb_path)  # read again: still rejected once each
    assert table_counts(duckdb_path, "raw_certinia")["rejects"] == 5


def test_an_org_without_the_package_loads_nothing(duckdb_path: Path) -> None:
    company = make_company(60, certinia_crms=())
    with serving(company) as server:
        load_system("certinia", duckdb_path)
    assert not any(s.startswith("c2g__") for s, _o, _n in _pages(server))
    assert sum(raw_counts(duckdb_path).values()) == 0


def test_an_org_without_revenue_management_loads_the_rest(duckdb_path: Path) -> None:
    company = make_company(60)
    view = company.salesforce_view()  # the org's view is cached: this one is served
    del view.packages["ffrr__RevenueSchedule__c"]
    del view.objects["ffrr__RevenueSchedule__c"]
    with serving(company) as server:
        load_system("certinia", duckdb_path)
    assert "ffrr__RevenueSchedule__c" not in {s for s, _o, _n in _pages(server)}
    loaded = raw_counts(duckdb_path)
    assert loaded.pop("revenue_schedules") == 0
    assert loaded == {t: n for t, n in view_counts(company).items() if t != "revenue_schedules"}


# ---- the warehouse: two business units, two models -----------------------------------------------
@dataclass
class Built:
    company: DemoCompany
    truth: dict[str, Any]
    db: Path
    target: Path


def _unmapped_note(company: DemoCompany) -> str:
    """The credit note planted with an unmapped reason: the first one a refund pays back."""
    objects = company.salesforce_view().objects
    refunded = {row["c2g__CreditNote__c"] for row in objects["c2g__codaCashMatchingHistory__c"]}
    return next(n["Id"] for n in objects["c2g__codaCreditNote__c"] if n["Id"] in refunded)


def _note_reasons(company: DemoCompany) -> dict[str, str]:
    """From the served payloads: each credit note's reason, as the warehouse should give it
    (the planted unmapped value lower-cased, as given)."""
    unmapped = _unmapped_note(company)
    out = {}
    for note in company.salesforce_view().objects["c2g__codaCreditNote__c"]:
        raw = UNMAPPED_REASON if note["Id"] == unmapped else note["c2g__CreditNoteReason__c"]
        out[note["Id"]] = REASONS.get(raw, raw.lower()) if raw else "unspecified"
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    work = tmp_path_factory.mktemp("certinia_e2e")
    company = make_company(300, seed=5)
    db = work / "l2c.duckdb"
    schedule = company.salesforce_view().objects["ffrr__RevenueSchedule__c"][0]
    note = _unmapped_note(company)
    with serving(company) as server:
        # one credit note has a reason the mapping does not know: a warning and a row
        server.malform(
            "salesforce.c2g__codaCreditNote__c", note, "c2g__CreditNoteReason__c", UNMAPPED_REASON
        )
        # one schedule's total disagrees with its line: a warning and a data-quality row
        server.malform(
            "salesforce.ffrr__RevenueSchedule__c",
            schedule["Id"],
            "ffrr__TotalRevenue__c",
            schedule["ffrr__TotalRevenue__c"] + 1.0,
        )
        load_all(db, systems=["pipedrive", "salesforce", "stripe", "certinia"])
    select = (
        "+finance_system_comparison +event_log +invoice_link_summary +refund_reasons "
        "+revenue_recognition_schedule +booked_billed_recognized +payment_recovery "
        "+data_quality_issues"
    )
    dbt_vars = json.loads(vars_of(company)[1])
    args = ["build", "--vars", json.dumps(dbt_vars), "--select", select]
    run_dbt(
        [*args, "--indirect-selection", "cautious"], db, target_path=work / "target", quiet=True
    )
    yield Built(company, company.ground_truth(), db, work / "target")


def test_the_build_warns_about_nothing_new(built: Built) -> None:
    # but the one revenue schedule and the one credit note reason malformed above
    warned = dbt_warnings(built.target) - ALLOWED_DBT_WARNINGS
    accepted = {w for w in warned if w.startswith("test.l2c.accepted_values_int_credit_notes")}
    assert len(accepted) == 1
    assert warned - accepted == {
        "test.l2c.warn_revenue_schedule_mismatch",
        "test.l2c.warn_credit_note_reason_unmapped",
    }


def test_an_unmapped_credit_note_reason_is_a_data_quality_issue(built: Built) -> None:
    notes = built.company.salesforce_view().objects["c2g__codaCreditNote__c"]
    rows = query(
        built.db,
        "select issue, severity, source_system, object_type, affected_count, total_count, "
        "description from marts.data_quality_issues "
        "where issue = 'credit_note_reason_unmapped'",
    )
    assert [r[:6] for r in rows] == [
        ("credit_note_reason_unmapped", "warn", "certinia", "credit_note", 1, len(notes))
    ]
    assert UNMAPPED_REASON.lower() in rows[0][6]


def test_a_schedule_disagreeing_with_its_line_is_a_data_quality_issue(built: Built) -> None:
    schedules = built.company.salesforce_view().objects["ffrr__RevenueSchedule__c"]
    rows = query(
        built.db,
        "select issue, severity, source_system, object_type, affected_count, total_count "
        "from marts.data_quality_issues where issue = 'revenue_schedule_mismatch'",
    )
    assert rows == [
        ("revenue_schedule_mismatch", "warn", "certinia", "revenue_schedule", 1, len(schedules))
    ]


def test_every_certinia_invoice_links_natively_to_its_planted_deal(built: Built) -> None:
    planted = {i["invoice_id"]: i["case_id"] for i in built.truth["certinia"]["invoices"]}
    assert len(planted) > 40
    rows = query(
        built.db,
        "select invoice_id, case_id, link_method from marts.invoices "
        "where source_system = 'certinia'",
    )
    assert {r[0]: (r[1], r[2]) for r in rows} == {i: (c, "native") for i, c in planted.items()}
    # Stripe still links by metadata or the rule, and its link rate stays measured
    summary = {
        r[0]: r[1:]
        for r in query(
            built.db,
            "select source_system, invoices_count, linked_natively, linked_by_metadata, "
            "unlinked, share_linked from marts.invoice_link_summary",
        )
    }
    assert summary["certinia"] == (len(planted), len(planted), 0, 0, 1.0)
    counts = built.truth["counts"]
    stripe = summary["stripe"]
    assert stripe[:3] == (counts["invoices"], 0, counts["invoices_with_deal_metadata"])
    assert stripe[4] == pytest.approx(1.0 - stripe[3] / stripe[0])


def test_credit_notes_and_matched_cash_are_in_the_log(built: Built) -> None:
    invoices = built.truth["certinia"]["invoices"]
    credited = Counter(i["case_id"] for i in invoices if i["credit_note"])
    assert sum(credited.values()) >= 5
    # a refund starts with a credit note of its own
    credited += Counter(i["case_id"] for i in invoices if i["refund"])
    rows = query(
        built.db,
        "select case_id, activity, event_at from marts.event_log "
        "where source_system = 'certinia' and activity in ('Credit Note Issued', "
        "'Payment Received', 'Invoice Paid')",
    )
    assert Counter(r[0] for r in rows if r[1] == "Credit Note Issued") == credited
    paid = Counter((i["case_id"], i["paid_at"]) for i in invoices if i["paid_at"])
    for activity in ("Payment Received", "Invoice Paid"):
        seen = Counter((r[0], f"{r[2]:%Y-%m-%dT%H:%M:%SZ}") for r in rows if r[1] == activity)
        assert seen == paid, activity
    # the planted reasons, mapped to the canonical ones (one planted unmapped: kept as given)
    planted = [i["credit_note"]["reason"] for i in invoices if i["credit_note"]]
    planted += [i["refund"]["reason"] for i in invoices if i["refund"]]
    reasons = Counter(REASONS[r] for r in planted)
    assert set(reasons) == {"order_change", "product_unsatisfactory", "goodwill"}
    note = next(
        n
        for n in built.company.salesforce_view().objects["c2g__codaCreditNote__c"]
        if n["Id"] == _unmapped_note(built.company)
    )
    reasons -= Counter([REASONS[note["c2g__CreditNoteReason__c"]]])
    reasons += Counter([UNMAPPED_REASON.lower()])
    assert reasons == Counter(_note_reasons(built.company).values())  # as recomputed
    # Certinia names no credit-note type: unknown, not pre_payment for every note
    types = query(
        built.db,
        "select distinct credit_note_type from intermediate.int_credit_notes_unioned "
        "where source_system = 'certinia'",
    )
    assert types == [(None,)]
    mart = query(
        built.db,
        "select reason, documents_count from marts.refund_reasons "
        "where source_system = 'certinia' and document_type = 'credit_note'",
    )
    assert dict(mart) == dict(reasons)


def _comparison(built: Built) -> dict[str, Record]:
    con_rows = query(built.db, "select * from marts.finance_system_comparison")
    names = [
        r[0]
        for r in query(
            built.db,
            "select column_name from information_schema.columns where table_schema = 'marts' "
            "and table_name = 'finance_system_comparison' order by ordinal_position",
        )
    ]
    return {row[0]: dict(zip(names, row, strict=True)) for row in con_rows}


def test_the_single_platform_bills_faster_as_planted(built: Built) -> None:
    mart = _comparison(built)
    certinia, stripe = mart["certinia"], mart["stripe"]
    assert certinia["platform_model"] == "single platform"
    assert stripe["platform_model"] == "disparate systems"
    assert certinia["link_rate"] == 1.0
    assert certinia["linked_natively"] == certinia["invoices_count"]
    assert stripe["linked_natively"] == 0 < stripe["linked_by_metadata"]
    invoices = built.truth["certinia"]["invoices"]
    won_days = [i["won_to_invoice_days"] for i in invoices]
    paid_days = [i["invoice_to_paid_days"] for i in invoices if i["paid_at"]]
    assert certinia["avg_won_to_invoice_days"] == pytest.approx(statistics.mean(won_days))
    assert certinia["avg_invoice_to_paid_days"] == pytest.approx(statistics.mean(paid_days))
    # planted: invoiced from the opportunity within 2 days (Stripe: a hand-off of about a week)
    assert certinia["median_won_to_invoice_days"] < 2.0 < stripe["median_won_to_invoice_days"]
    # planted: Certinia counts cash when it is matched, days after it arrived
    lags = [i["match_lag_days"] for i in invoices if i["paid_at"]]
    assert min(lags) >= 2.0 and max(lags) <= 8.0


# ---- independent recomputation from the API payloads ---------------------------------------------
def _sf_time(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def _unix(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _day(unix: int) -> date:
    return datetime.fromtimestamp(unix, tz=timezone.utc).date()


Link = tuple[str, Any, int | None]  # (link method, deal, won time: None when not won)


def _kpis(
    invoices: list[tuple[str, int, int | None, bool]],  # (id, created, paid_at, is_void)
    links: dict[str, Link | None],  # invoice id -> its link, None: unlinked
    credit_notes: int,
) -> Record:
    first: dict[Any, tuple[int, int | None]] = {}  # deal -> (first invoice, won time)
    for inv_id, created, _paid, _void in invoices:
        link = links[inv_id]
        if link is not None:
            _method, deal, won_at = link
            first[deal] = (min(first.get(deal, (created, None))[0], created), won_at)
    won = [c - w for c, w in first.values() if w is not None and w <= c]
    paid = [p - c for _i, c, p, void in invoices if p is not None and not void]
    methods = Counter(link[0] for link in links.values() if link is not None)
    return {
        "invoices_count": len(invoices),
        "linked_invoices_count": sum(methods.values()),
        "link_rate": sum(methods.values()) / len(invoices),
        "linked_natively": methods["native"],
        "linked_by_metadata": methods["metadata"],
        "linked_by_rule": methods["rule"],
        "deals_invoiced_count": len(won),
        "avg_won_to_invoice_days": statistics.mean(won) / 86400,
        "median_won_to_invoice_days": statistics.median(won) / 86400,
        "paid_invoices_count": len(paid),
        "avg_invoice_to_paid_days": statistics.mean(paid) / 86400,
        "median_invoice_to_paid_days": statistics.median(paid) / 86400,
        "credit_notes_count": credit_notes,
    }


def _write_offs(objects: dict[str, list[Record]]) -> dict[str, tuple[int, int]]:
    """Invoice id -> (its last write-off's creation, cents written off) from the matching rows
    with a write-off value."""
    out: dict[str, tuple[int, int]] = {}
    for row in objects["c2g__codaCashMatchingHistory__c"]:
        value = row.get("c2g__WriteOffValue__c") or 0
        if value > 0 and row["c2g__Action__c"] == "Match":
            at, cents = out.get(row["c2g__Invoice__c"], (0, 0))
            out[row["c2g__Invoice__c"]] = (
                max(at, _sf_time(row["CreatedDate"])),
                cents + round(value * 100),
            )
    return out


def _certinia_kpis(company: DemoCompany) -> Record:
    objects = company.salesforce_view().objects
    deals = {o["Id"] for o in objects["Opportunity"] if not o.get("IsDeleted")}
    won = {
        o["Id"]: _sf_time(o["LastStageChangeDate"])
        for o in objects["Opportunity"]
        if o["IsWon"] and not o.get("IsDeleted")
    }
    written_off = _write_offs(objects)
    invoices: list[tuple[str, int, int | None, bool]] = []
    links: dict[str, Link | None] = {}
    for inv in objects["c2g__codaInvoice__c"]:
        # Paid by a write-off (settled no later than it) is not paid
        paid = inv["c2g__PaymentStatus__c"] == "Paid" and not (
            inv["Id"] in written_off
            and _sf_time(inv["LastModifiedDate"]) <= written_off[inv["Id"]][0]
        )
        invoices.append(
            (
                inv["Id"],
                _sf_time(inv["CreatedDate"]),
                _sf_time(inv["LastModifiedDate"]) if paid else None,
                inv["c2g__InvoiceStatus__c"] == "Discarded",
            )
        )
        opp = inv["c2g__Opportunity__c"]
        links[inv["Id"]] = ("native", opp, won.get(opp)) if opp in deals else None
    notes = sum(1 for n in objects["c2g__codaCreditNote__c"] if n["c2g__CreditNoteStatus__c"])
    return _kpis(invoices, links, notes)


def _stripe_kpis(company: DemoCompany) -> Record:
    """Stripe beside Pipedrive: links by deal metadata, else the 60-day rule (same org and
    currency, won within the window before the invoice date, closest value, ties unlinked)."""
    deals = {
        d["id"]: d
        for d in company.pipedrive_view().deals
        if d["status"] != "deleted" and not d.get("is_deleted")
    }
    stripe = company.stripe_view()
    account = {
        c["id"]: int(c["metadata"]["pipedrive_org_id"])
        for c in stripe.customers
        if c["metadata"].get("pipedrive_org_id")
    }
    won = [d for d in deals.values() if d["status"] == "won"]
    invoices: list[tuple[str, int, int | None, bool]] = []
    links: dict[str, Link | None] = {}
    for inv in stripe.invoices:
        paid = inv["status_transitions"]["paid_at"]
        invoices.append((inv["id"], inv["created"], paid, inv["status"] == "void"))
        meta = inv["metadata"].get("pipedrive_deal_id")
        if meta and int(meta) in deals:
            deal = deals[int(meta)]
            method: str | None = "metadata"
        else:
            created = _day(inv["created"])
            candidates = [
                (abs(d["value"] - inv["total"] / 100), d["id"])
                for d in won
                if d["org_id"] == account.get(inv["customer"])
                and d["currency"].upper() == inv["currency"].upper()
                and created - timedelta(days=LINK_WINDOW_DAYS)
                <= _day(_unix(d["won_time"]))
                <= created
            ]
            best = [i for dist, i in candidates if dist == min(c[0] for c in candidates)]
            deal, method = (deals[best[0]], "rule") if len(best) == 1 else ({}, None)
        if method is None:
            links[inv["id"]] = None
        else:  # a deal that is not won (yet) has no won -> invoice time
            won_at = _unix(deal["won_time"]) if deal["status"] == "won" else None
            links[inv["id"]] = (method, deal["id"], won_at)
    notes = sum(1 for n in stripe.credit_notes if n["status"] == "issued")
    return _kpis(invoices, links, notes)


def test_comparison_equals_a_recomputation_from_the_payloads(built: Built) -> None:
    mart = _comparison(built)
    assert set(mart) == {"certinia", "stripe"}
    for system, expected in (
        ("certinia", _certinia_kpis(built.company)),
        ("stripe", _stripe_kpis(built.company)),
    ):
        row = mart[system]
        for column, value in expected.items():
            assert row[column] == pytest.approx(value, rel=1e-12), (system, column)


# ---- revenue recognition: Certinia invoice lines, point in time ----------------------------------
def _ts(value: datetime) -> int:
    return int(value.replace(tzinfo=timezone.utc).timestamp())


def _certinia_slices(company: DemoCompany, fx: Fx) -> list[revenue_kpis.Slice]:
    """The served Certinia invoices' lines as schedule slices, by tests/revenue_kpis.py's rules
    over the payloads in Stripe's shape: a posted (Complete) invoice is finalized at its
    creation, its total allocated over its lines by id; a line with a Revenue Management
    schedule is recognised straight line from the schedule's start date to the midnight after
    its (inclusive) end date, any other in full at the invoice's creation."""
    objects = company.salesforce_view().objects
    periods = {
        rs["ffrr__SalesInvoiceLineItem__c"]: {
            "start": revenue_kpis.unix(date.fromisoformat(rs["ffrr__StartDate__c"])),
            "end": revenue_kpis.unix(date.fromisoformat(rs["ffrr__EndDate__c"]))
            + int(timedelta(days=1).total_seconds()),
        }
        for rs in objects["ffrr__RevenueSchedule__c"]
    }
    lines: dict[str, list[Record]] = {}
    for line in objects["c2g__codaInvoiceLineItem__c"]:
        lines.setdefault(line["c2g__Invoice__c"], []).append(
            {
                "id": line["Id"],
                "amount": round(line["c2g__NetValue__c"] * 100),
                "period": periods.get(line["Id"]),
                "subscription": None,
            }
        )
    shaped = []
    for inv in objects["c2g__codaInvoice__c"]:
        created = _sf_time(inv["CreatedDate"])
        complete = inv["c2g__InvoiceStatus__c"] == "Complete"
        shaped.append(
            {
                "id": inv["Id"],
                "status": "open" if complete else "void",
                "status_transitions": {"finalized_at": created if complete else None},
                "currency": inv["CurrencyIsoCode"],
                "created": created,
                "total": round(inv["c2g__InvoiceTotal__c"] * 100),
                "lines": {"data": lines.get(inv["Id"], [])},
            }
        )
    return revenue_kpis.schedule(shaped, fx)


def _certinia_schedule(built: Built) -> list[tuple[Any, ...]]:
    return query(
        built.db,
        "select invoice_line_id, invoice_id, month_start, recognition_method, slice_end_at, "
        "cast(round(recognized_amount * 100) as bigint), "
        "cast(round(recognized_reporting * 100) as bigint), is_recognized, is_period_missing "
        "from marts.revenue_recognition_schedule where source_system = 'certinia'",
    )


def test_the_planted_lines_recognise_their_revenue_in_the_schedule(built: Built) -> None:
    planted = built.truth["certinia"]["recognized_revenue"]
    invoices = built.truth["certinia"]["invoices"]
    lines = {p["line_id"] for p in planted}
    assert len(lines) == sum(len(i["lines"]) for i in invoices) > 100
    assert any(p["amount"] < 0 for p in planted), "a discount line should be planted"
    methods = Counter(p["method"] for p in planted)
    assert methods["ratable"] > methods["point_in_time"] > 20, methods
    expected = {
        (p["line_id"], p["invoice_id"], p["month"], p["method"], round(p["amount"] * 100))
        for p in planted
    }
    rows = _certinia_schedule(built)
    assert len(rows) == len(planted)
    got = {(r[0], r[1], r[2].isoformat(), r[3], r[5]) for r in rows}
    assert got == expected
    # no period is flagged missing (a Certinia line bills no subscription); a scheduled line
    # recognises over 12 to 36 months, so some of its months are still deferred
    assert not any(r[8] for r in rows)
    assert any(not r[7] for r in rows if r[3] == "ratable")
    assert all(r[7] for r in rows if r[3] == "point_in_time")
    per_line = Counter(p["line_id"] for p in planted if p["method"] == "ratable")
    assert {n for n in per_line.values()} <= set(range(12, 38))
    # every planted invoice recognises its total, and the product lines name their Product2
    by_invoice = Counter[str]()
    for p in planted:
        by_invoice[p["invoice_id"]] += round(p["amount"] * 100)
    assert by_invoice == {i["invoice_id"]: round(i["total"] * 100) for i in invoices}
    products = dict(
        query(built.db, "select id, c2g__product__c from raw_certinia.sales_invoice_lines")
    )
    for inv in invoices:
        for line in inv["lines"]:
            assert products[line["line_id"]] == line["product_id"]


def test_certinia_schedule_equals_a_recomputation_from_the_payloads(built: Built) -> None:
    slices = _certinia_slices(built.company, Fx())
    expected = {
        (s.line_id, s.invoice_id, s.month, s.method, s.end, s.minor, s.reporting_minor)
        for s in slices
    }
    got = {(r[0], r[1], r[2], r[3], _ts(r[4]), r[5], r[6]) for r in _certinia_schedule(built)}
    assert len(got) > 100
    assert got == expected


def test_certinia_revenue_recognized_events_follow_the_schedules(built: Built) -> None:
    """One Revenue Recognized event per (invoice, month) recognised in full by the data
    horizon, on its natively linked case, of the month's planted revenue: an invoice with
    scheduled lines has several, one without has one (its total)."""
    invoices = built.truth["certinia"]["invoices"]
    case = {i["invoice_id"]: i["case_id"] for i in invoices}
    months: Counter[tuple[str, str]] = Counter()  # (invoice, month) -> cents
    for p in built.truth["certinia"]["recognized_revenue"]:
        months[(p["invoice_id"], p["month"])] += round(p["amount"] * 100)
    planted = Counter((case[inv], cents) for (inv, _m), cents in months.items())
    rows = Counter(
        query(
            built.db,
            "select case_id, cast(round(amount * 100) as bigint) from marts.event_log "
            "where source_system = 'certinia' and activity = 'Revenue Recognized'",
        )
    )
    assert rows, "no Revenue Recognized event"
    assert rows <= planted  # every event is a planted month of its invoice
    per_case = Counter(c for c, _cents in rows.elements())
    assert max(per_case.values()) > 3  # scheduled lines: several months of one case
    one_month = {i for (i, _m) in months if sum(1 for (j, _n) in months if j == i) == 1}
    for inv in one_month:  # not scheduled: one event, the total
        total = next(round(i["total"] * 100) for i in invoices if i["invoice_id"] == inv)
        assert rows[(case[inv], total)] >= 1


def test_planted_write_offs_reach_the_invoices_the_log_and_payment_recovery(
    built: Built,
) -> None:
    invoices = built.truth["certinia"]["invoices"]
    planted = {i["invoice_id"]: i for i in invoices if i["written_off"]}
    assert len(planted) >= 3
    rows = query(
        built.db,
        "select invoice_id, paid_at, cast(round(amount_remaining * 100) as bigint) "
        "from marts.invoices where source_system = 'certinia' and status = 'uncollectible'",
    )
    assert {r[0]: r[1:] for r in rows} == {
        i: (None, round(p["written_off"]["amount"] * 100)) for i, p in planted.items()
    }
    events = query(
        built.db,
        "select case_id, event_at, cast(round(amount * 100) as bigint) from marts.event_log "
        "where source_system = 'certinia' and activity = 'Invoice Written Off'",
    )
    assert Counter((r[0], f"{r[1]:%Y-%m-%dT%H:%M:%SZ}", r[2]) for r in events) == Counter(
        (p["case_id"], p["written_off"]["at"], round(p["written_off"]["amount"] * 100))
        for p in planted.values()
    )
    # a written-off invoice is neither paid nor a payment in the log
    paid = query(
        built.db,
        "select distinct case_id from marts.event_log where source_system = 'certinia' "
        "and activity in ('Invoice Paid', 'Payment Received')",
    )
    assert not {p["case_id"] for p in planted.values()} & {r[0] for r in paid}
    # payment_recovery counts every written-off invoice (both finance systems), as recomputed
    stripe = sum(
        1
        for inv in built.company.stripe_view().invoices
        if inv["status"] == "uncollectible" and inv["status_transitions"]["paid_at"] is None
    )
    total = query(built.db, "select sum(written_off_invoices) from marts.payment_recovery")
    assert total[0][0] == stripe + len(planted)


def test_booked_billed_recognized_counts_certinia_as_recomputed(built: Built) -> None:
    """Billed and recognised per month over both finance systems of the build, recomputed from
    the served Stripe and Certinia payloads (Stripe by tests/revenue_kpis.py's rules)."""
    fx = Fx()
    stripe = built.company.stripe_view().invoices
    slices = revenue_kpis.schedule(stripe, fx) + _certinia_slices(built.company, fx)
    assert {s.invoice_id[:3] for s in slices} >= {"in_", "a2I"}
    as_of = _ts(
        query(built.db, "select max(warehouse_as_of) from intermediate.int_as_of_resolved")[0][0]
    )
    months: dict[date, list[int]] = {}  # month -> [invoices, billed, recognised]
    for s in slices:
        months.setdefault(s.month, [0, 0, 0])[2] += s.reporting_minor
    billed = [
        (inv["status_transitions"]["finalized_at"], inv["total"], inv["currency"], inv["created"])
        for inv in stripe
        if revenue_kpis.recognised(inv)
    ]
    for inv in built.company.salesforce_view().objects["c2g__codaInvoice__c"]:
        if inv["c2g__InvoiceStatus__c"] == "Complete":
            created = _sf_time(inv["CreatedDate"])
            total = round(inv["c2g__InvoiceTotal__c"] * 100)
            billed.append((created, total, inv["CurrencyIsoCode"], created))
    for finalized, total, currency, created in billed:
        if finalized <= as_of:
            row = months.setdefault(revenue_kpis.month_of(finalized), [0, 0, 0])
            row[0] += 1
            row[1] += _round(total * fx.rate(currency, _day(created)))
    mart = query(
        built.db,
        "select month_start, invoices_count, billed_reporting, recognized_reporting "
        "from marts.booked_billed_recognized",
    )
    assert len(mart) > 6
    expected = [
        (m, *[(v if k == 0 else v / 100) for k, v in enumerate(months.get(m, [0, 0, 0]))])
        for m, *_rest in mart
    ]
    assert settled(mart) == settled(expected)
    # every month the recomputation has before the mart's last month is in the mart
    last = max(r[0] for r in mart)
    assert {m for m in months if m <= last} <= {r[0] for r in mart}


def _certinia_refunds(company: DemoCompany) -> list[tuple[str, int, int, str, int]]:
    """From the served payloads: every matching row of a Refund cash entry to a credit note as
    (case, matched at, cents, currency, the credited invoice's creation); the invoice is the
    credit note's (not the matching row's own lookup), its case the invoice's opportunity."""
    objects = company.salesforce_view().objects
    cash = {c["Id"]: c for c in objects["c2g__codaCashEntry__c"]}
    notes = {n["Id"]: n for n in objects["c2g__codaCreditNote__c"]}
    invoices = {i["Id"]: i for i in objects["c2g__codaInvoice__c"]}
    out = []
    for row in objects["c2g__codaCashMatchingHistory__c"]:
        entry = cash.get(row["c2g__CashEntry__c"] or "")
        if entry is None or entry["c2g__Type__c"] != "Refund" or row["c2g__Action__c"] != "Match":
            continue
        invoice = invoices[notes[row["c2g__CreditNote__c"]]["c2g__Invoice__c"]]
        out.append(
            (
                f"salesforce:{invoice['c2g__Opportunity__c']}",
                _sf_time(row["CreatedDate"]),
                round(row["c2g__DocumentValue__c"] * 100),
                invoice["CurrencyIsoCode"],
                _sf_time(invoice["CreatedDate"]),
            )
        )
    return out


def _refund_reasons(company: DemoCompany) -> list[str]:
    """From the served payloads: the reason of every refund (a Refund cash entry matched to a
    credit note): its credit note's."""
    objects = company.salesforce_view().objects
    cash = {c["Id"]: c for c in objects["c2g__codaCashEntry__c"]}
    reasons = _note_reasons(company)
    return [
        reasons[row["c2g__CreditNote__c"]]
        for row in objects["c2g__codaCashMatchingHistory__c"]
        if (cash.get(row["c2g__CashEntry__c"] or "") or {}).get("c2g__Type__c") == "Refund"
        and row["c2g__Action__c"] == "Match"
    ]


def test_planted_refunds_are_refund_issued_events_and_in_refund_reasons(built: Built) -> None:
    planted = [
        i for i in built.truth["certinia"]["invoices"] if i["refund"] and i["refund"]["refunded_at"]
    ]
    assert len(planted) >= 3
    assert built.truth["certinia"]["refunds"] == len(planted)
    expected = Counter(
        (i["case_id"], i["refund"]["refunded_at"], round(i["refund"]["amount"] * 100))
        for i in planted
    )
    recomputed = _certinia_refunds(built.company)
    assert Counter((c, _iso(t), cents) for c, t, cents, _cur, _cr in recomputed) == expected
    events = query(
        built.db,
        "select case_id, event_at, cast(round(amount * 100) as bigint) from marts.event_log "
        "where source_system = 'certinia' and activity = 'Refund Issued'",
    )
    assert Counter((r[0], f"{r[1]:%Y-%m-%dT%H:%M:%SZ}", r[2]) for r in events) == expected
    # a refund is no payment: Payment Received stays one per paid invoice (checked above)
    # refund_reasons: one refund row (the reason is on the credit note), its amount over the
    # payments, both at the rate of the invoice's creation date
    fx = Fx()
    as_of = _ts(
        query(built.db, "select max(warehouse_as_of) from intermediate.int_as_of_resolved")[0][0]
    )
    refunded = sum(
        _round(cents * fx.rate(cur, _day(created)))
        for _c, at, cents, cur, created in recomputed
        if at <= as_of
    )
    objects = built.company.salesforce_view().objects
    invoices = {i["Id"]: i for i in objects["c2g__codaInvoice__c"]}
    cash = {c["Id"]: c for c in objects["c2g__codaCashEntry__c"]}
    paid = 0  # the matched receipts by as_of, as the successful payments
    for row in objects["c2g__codaCashMatchingHistory__c"]:
        entry = cash.get(row["c2g__CashEntry__c"] or "")
        if entry is None or entry["c2g__Type__c"] != "Receipt":
            continue
        if row["c2g__Action__c"] != "Match" or _sf_time(row["CreatedDate"]) > as_of:
            continue
        invoice = invoices[row["c2g__Invoice__c"]]
        rate = fx.rate(invoice["CurrencyIsoCode"], _day(_sf_time(invoice["CreatedDate"])))
        paid += _round(round(row["c2g__DocumentValue__c"] * 100) * rate)
    mart = query(
        built.db,
        "select reason, documents_count, amount_reporting, amount_rate from marts.refund_reasons "
        "where source_system = 'certinia' and document_type = 'refund'",
    )
    # each refund under the reason of the credit note it pays back: as planted (mapped; the
    # one planted unmapped reason kept as given) and as recomputed from the payloads
    unmapped = _unmapped_note(built.company)
    objects = built.company.salesforce_view().objects
    unmapped_invoice = next(
        n["c2g__Invoice__c"] for n in objects["c2g__codaCreditNote__c"] if n["Id"] == unmapped
    )
    planted_reasons = Counter(
        UNMAPPED_REASON.lower()
        if i["invoice_id"] == unmapped_invoice
        else REASONS[i["refund"]["reason"]]
        for i in planted
    )
    assert Counter(_refund_reasons(built.company)) == planted_reasons
    assert {r[0]: r[1] for r in mart} == dict(planted_reasons)
    assert "unspecified" not in planted_reasons
    assert sum(r[2] for r in mart) == pytest.approx(refunded / 100)
    assert sum(r[3] for r in mart) == pytest.approx(refunded / paid)
    # Stripe's refunds still reach refund_reasons through their charge
    stripe = query(
        built.db,
        "select sum(documents_count) from marts.refund_reasons "
        "where source_system = 'stripe' and document_type = 'refund'",
    )
    served = [
        r
        for r in built.company.stripe_view().refunds
        if r["status"] not in ("failed", "canceled") and r["created"] <= as_of
    ]
    assert (stripe[0][0] or 0) == len(served)


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
