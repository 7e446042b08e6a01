"""After the sale, end to end: a Pipedrive + Stripe company selling subscriptions, loaded over
HTTP and built with dbt once for the module.

- the planted truths: every subscription start, renewal and cancellation, failed payment,
  write-off, refund and credit note is in the event log at its time on its deal's case; every
  recurring invoice links to its deal; the planted churn-heavy product and poor-recovery
  region are what the marts report;
- revenue: the planted recognised revenue of every subscription invoice line per month, the
  late-billing region and the over- and under-invoiced deals are what the marts report, and
  revenue_recognition_schedule, the Revenue Recognized events, booked_billed_recognized,
  billing_lags, revenue_retention and amount_mismatches equal a recomputation from the raw
  payloads (tests/revenue_kpis.py states the rules);
- the finance marts' KPIs recomputed in plain Python from the raw Stripe and Pipedrive
  payloads the server serves (not from the dbt SQL) equal the marts:
  subscription_renewals: per group, terms_due = term ends renewed + voluntary churn; a term
  end = start_date + k x metadata.term_months (k >= 1) at or before the item's
  current_period_start and before ended_at; voluntary churn = ended with
  cancellation_details.reason other than payment_failed;
  payment_recovery: failed invoice = non-void with a failed charge; recovered when paid at or
  after its first failure, written off when uncollectible and unpaid; amounts in reporting
  cents at the rate of the invoice's creation date, rounded per invoice;
  refund_reasons: succeeded refunds and issued credit notes by reason, over the successful
  charges and the finalized non-void invoice totals.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import retention_kpis
import revenue_kpis
from conftest import only_systems, query, serving, settled, vars_of
from retention_kpis import Span
from test_kpis_independent import Fx, _day, _round, _unix

from l2c.dbt_runner import run_dbt
from l2c_demo.simulator import DemoCompany, SimConfig
from pipelines.load import load_all

# the company's systems only: no other system's empty staging models and tests
dbt_systems = only_systems("pipedrive", "stripe")

Record = dict[str, Any]
pytestmark = pytest.mark.slow
MIN_GROUP = 5  # dbt var min_group_size of this build (a small company)
LATE_BILLING_DAYS = 25.0  # planted: the late-billing region is billed this much later


@dataclass
class Built:
    company: DemoCompany
    truth: dict[str, Any]
    db: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    company = DemoCompany(
        SimConfig(
            seed=7,
            n_deals=400,
            subscription_share=0.6,
            payment_failure_share=0.3,
            reminder_days=(7, 14, 21),
            late_billing_extra_days=LATE_BILLING_DAYS,
            amount_mismatch_share=0.08,
            missing_service_period_share=0.02,
        )
    )
    work = tmp_path_factory.mktemp("subscriptions")
    db = work / "l2c.duckdb"
    with serving(company):
        load_all(db, ["pipedrive", "stripe"])
    dbt_vars = json.loads(vars_of(company)[1])
    dbt_vars["min_group_size"] = MIN_GROUP
    select = "+marts.finance +marts.event_log +marts.invoice_link_summary source:stripe"
    select += " +marts.data_quality_issues"
    args = ["build", "--vars", json.dumps(dbt_vars), "--select", select]
    args += ["--indirect-selection", "cautious"]
    run_dbt(args, db, target_path=work / "target", quiet=True)
    yield Built(company, company.ground_truth(), db)


def _ts(value: datetime) -> int:
    return int(value.replace(tzinfo=timezone.utc).timestamp())


def _events(built: Built, *activities: str) -> set[tuple[str, str, str, int]]:
    marks = ", ".join("?" for _ in activities)
    rows = query(
        built.db,
        "select activity, case_id, object_id, event_at from marts.event_log "
        f"where activity in ({marks})",
        list(activities),
    )
    return {(a, case, obj.split(":", 1)[1], _ts(at)) for a, case, obj, at in rows}


def test_every_planted_subscription_event_is_in_the_log_at_its_time(built: Built) -> None:
    subs = built.truth["subscriptions"]
    assert len(subs) > 50 and any(s["renewals"] for s in subs)
    assert {s["cancel_reason"] for s in subs} >= {"cancellation_requested", "payment_failed"}
    expected = {("Subscription Started", s["deal_case_id"], s["id"], s["start"]) for s in subs}
    expected |= {
        ("Subscription Renewed", s["deal_case_id"], s["id"], at)
        for s in subs
        for at in s["renewals"]
    }
    expected |= {
        ("Subscription Cancelled", s["deal_case_id"], s["id"], s["canceled_at"])
        for s in subs
        if s["canceled_at"] is not None
    }
    got = _events(built, "Subscription Started", "Subscription Renewed", "Subscription Cancelled")
    assert got == expected


def test_failed_payments_write_offs_refunds_and_credit_notes_are_in_the_log(
    built: Built,
) -> None:
    truth = built.truth
    case_of = {i["id"]: i["deal_case_id"] for i in truth["invoices"]}
    failed = {
        ("Payment Failed", f["deal_case_id"], f["charge_id"], f["created"])
        for f in truth["failed_payments"]
    }
    written_off = {
        ("Invoice Written Off", case_of[w["invoice_id"]], w["invoice_id"], w["at"])
        for w in truth["write_offs"]
    }
    refunds = {
        ("Refund Issued", case_of[r["invoice_id"]], r["id"], r["created"]) for r in truth["refunds"]
    }
    notes = {
        ("Credit Note Issued", case_of[n["invoice_id"]], n["id"], n["created"])
        for n in truth["credit_notes"]
    }
    assert failed and written_off and refunds and notes
    assert _events(built, "Payment Failed") == failed
    # every write-off here is of a linked invoice (an unlinked one would not be in the log)
    assert _events(built, "Invoice Written Off") == written_off
    assert _events(built, "Refund Issued") == refunds
    assert _events(built, "Credit Note Issued") == notes


def test_every_recurring_invoice_links_to_its_deal(built: Built) -> None:
    recurring = {
        i["id"]: i["deal_case_id"] for i in built.truth["invoices"] if i["subscription_id"]
    }
    assert len(recurring) > 200
    rows = query(built.db, "select invoice_id, deal_key, link_method from marts.invoices")
    linked = {inv: (deal, method) for inv, deal, method in rows if inv in recurring}
    assert linked == {inv: (case, "subscription") for inv, case in recurring.items()}
    summary = query(
        built.db,
        "select invoices_count, linked_by_subscription, share_linked "
        "from marts.invoice_link_summary",
    )
    assert summary[0][:2] == (len(built.truth["invoices"]), len(recurring))
    assert summary[0][2] > 0.95


def test_the_planted_churn_heavy_product_churns_most(built: Built) -> None:
    rows = query(
        built.db,
        "select group_value from marts.subscription_renewals "
        "where dimension = 'product' and non_renewal_rate_rank = 1",
    )
    assert rows == [(built.truth["params"]["churn_heavy_product"],)]


def test_the_planted_poor_recovery_region_recovers_worst(built: Built) -> None:
    rows = query(
        built.db,
        "select region from marts.payment_recovery where recovery_rate_rank is not null "
        "order by recovery_rate, region limit 1",
    )
    assert rows == [(built.truth["params"]["poor_recovery_region"],)]


# --- the KPIs recomputed from the raw payloads -------------------------------------------


class Payloads:
    """The served Stripe and Pipedrive objects, indexed."""

    def __init__(self, company: DemoCompany) -> None:
        stripe, pd = company.stripe_view(), company.pipedrive_view()
        self.stripe = stripe
        field = next(f for f in pd.deal_fields if f["name"] == "Region")
        label = {o["id"]: o["label"] for o in field["options"]}
        self.deals = {d["id"]: d for d in pd.deals if d["status"] != "deleted"}
        self.region = {i: label[d["custom_fields"][field["key"]]] for i, d in self.deals.items()}
        self.subs = {s["id"]: s for s in stripe.subscriptions}
        org_of = {
            c["id"]: int(c["metadata"]["pipedrive_org_id"])
            for c in stripe.customers
            if c["metadata"].get("pipedrive_org_id")
        }
        latest: dict[int, Record] = {}
        for deal in self.deals.values():
            org = deal["org_id"]
            if org not in latest or (deal["add_time"], deal["id"]) > (
                latest[org]["add_time"],
                latest[org]["id"],
            ):
                latest[org] = deal
        self.customer_region = {
            cus: self.region[latest[org]["id"]] for cus, org in org_of.items() if org in latest
        }
        self.fx = Fx()

    def sub_deal(self, sub: Record) -> int | None:
        deal = int(sub["metadata"].get("pipedrive_deal_id", 0))
        return deal if deal in self.deals else None

    def invoice_region(self, inv: Record) -> str:
        deal = int(inv["metadata"].get("pipedrive_deal_id", 0))
        if deal not in self.deals and inv.get("subscription"):
            deal = self.sub_deal(self.subs[inv["subscription"]]) or 0
        if deal in self.deals:
            return self.region[deal]
        return self.customer_region.get(inv["customer"], "Unassigned")

    def rate(self, inv: Record) -> float:
        return self.fx.rate(inv["currency"], _day(inv["created"]))


def _renewal_terms(sub: Record) -> tuple[int, bool, bool]:
    start, term = sub["start_date"], int(sub["metadata"].get("term_months", 12))
    period_start = sub["items"]["data"][0]["current_period_start"]
    ended = sub["ended_at"]
    renewals, k = 0, 1
    while (end := retention_kpis.add_months(start, k * term)) <= period_start:
        renewals += ended is None or end < ended
        k += 1
    forced = sub["cancellation_details"]["reason"] == "payment_failed"
    return renewals, ended is not None and not forced, ended is not None and forced


def _mrr_minor(sub: Record) -> int:
    months = {"month": 1, "year": 12}
    total = sum(
        float(item["price"]["unit_amount"])
        * item["quantity"]
        / months[item["price"]["recurring"]["interval"]]
        for item in sub["items"]["data"]
    )
    return _round((total / 100) * 100)  # as the SQL: to major units, back to cents


def test_subscription_renewals_recomputed_from_the_payloads(built: Built) -> None:
    raw = Payloads(built.company)
    groups: dict[tuple[str, str], list[int]] = {}
    churned_mrr: dict[tuple[str, str], int] = {}
    for sub in raw.stripe.subscriptions:
        deal_id = raw.sub_deal(sub)
        if deal_id is None:
            continue
        renewals, voluntary, involuntary = _renewal_terms(sub)
        start = datetime.fromtimestamp(sub["start_date"], tz=timezone.utc)
        cohort = f"{start.year}-{3 * ((start.month - 1) // 3) + 1:02d}-01"
        rate = raw.fx.rate(sub["currency"], _day(sub["start_date"]))
        keys = [
            ("cohort", cohort),
            ("product", sub["items"]["data"][0]["price"]["nickname"]),
            ("region", raw.region[deal_id]),
            ("rep", f"pipedrive:{raw.deals[deal_id]['owner_id']}"),
            ("source_system", "stripe"),
        ]
        for key in keys:
            counts = groups.setdefault(key, [0, 0, 0, 0, 0])
            for i, value in enumerate(
                (1, renewals, voluntary, involuntary, voluntary or involuntary)
            ):
                counts[i] += int(value)
            if voluntary or involuntary:
                churned_mrr[key] = churned_mrr.get(key, 0) + _round(_mrr_minor(sub) * rate)
    expected = []
    for (dimension, value), (n, renewals, voluntary, involuntary, churned) in groups.items():
        due = renewals + voluntary
        expected.append(
            (
                dimension,
                value,
                n,
                due,
                renewals,
                voluntary,
                involuntary,
                churned,
                renewals / due if due else None,
                voluntary / due if due else None,
                churned / n,
                churned_mrr.get((dimension, value), 0) / 100,
                due < MIN_GROUP,
            )
        )
    mart = query(
        built.db,
        "select dimension, group_value, subscriptions_count, terms_due, renewals, "
        "voluntary_churned, involuntary_churned, churned_subscriptions, renewal_rate, "
        "non_renewal_rate, churn_rate, churned_mrr_reporting, is_below_min_group_size "
        "from marts.subscription_renewals",
    )
    assert settled(mart) == settled(expected)


def test_payment_recovery_recomputed_from_the_payloads(built: Built) -> None:
    raw = Payloads(built.company)
    failures: dict[str, list[int]] = {}
    paid: dict[str, int] = {}
    for charge in raw.stripe.charges:
        if charge["status"] == "failed":
            failures.setdefault(charge["invoice"], []).append(charge["created"])
        elif charge["paid"] and not charge["refunded"]:
            paid[charge["invoice"]] = paid.get(charge["invoice"], 0) + charge["amount_captured"]
    rows: dict[str, dict[str, Any]] = {}
    for inv in raw.stripe.invoices:
        if inv["status"] == "void":
            continue
        moves = inv["status_transitions"]
        failed_at = failures.get(inv["id"])
        written_off = moves["paid_at"] is None and moves["marked_uncollectible_at"] is not None
        if not failed_at and not written_off:
            continue
        row = rows.setdefault(
            raw.invoice_region(inv),
            {
                "failed": 0,
                "attempts": 0,
                "rec": 0,
                "off": 0,
                "pend": 0,
                "days": [],
                "settled": 0,
                "rec_minor": 0,
                "wo": 0,
                "wo_minor": 0,
            },
        )
        total = _round(inv["total"] * raw.rate(inv))
        if written_off:
            row["wo"] += 1
            row["wo_minor"] += total - _round(paid.get(inv["id"], 0) * raw.rate(inv))
        if not failed_at:
            continue
        first = min(failed_at)
        row["failed"] += 1
        row["attempts"] += len(failed_at)
        if moves["paid_at"] is not None and moves["paid_at"] >= first:
            row["rec"] += 1
            row["settled"] += total
            row["rec_minor"] += total
            row["days"].append(moves["paid_at"] - first)
        elif written_off:
            row["off"] += 1
            row["settled"] += total
        else:
            row["pend"] += 1
    expected = [
        (
            region,
            r["failed"],
            r["attempts"],
            r["rec"],
            r["off"],
            r["pend"],
            r["rec"] / (r["rec"] + r["off"]) if r["rec"] + r["off"] else None,
            r["rec_minor"] / r["settled"] if r["settled"] else None,
            statistics.median(r["days"]) / 86400 if r["days"] else None,
            r["wo"],
            r["wo_minor"] / 100 if r["wo"] else None,
            r["rec"] + r["off"] < MIN_GROUP,
        )
        for region, r in rows.items()
    ]
    mart = query(
        built.db,
        "select region, failed_invoices, failed_attempts, recovered_invoices, "
        "written_off_failed_invoices, pending_invoices, recovery_rate, amount_recovery_rate, "
        "median_days_to_recover, written_off_invoices, written_off_reporting, "
        "is_below_min_group_size from marts.payment_recovery",
    )
    assert settled(mart) == settled(expected)


def test_refund_reasons_recomputed_from_the_payloads(built: Built) -> None:
    raw = Payloads(built.company)
    invoices = {i["id"]: i for i in raw.stripe.invoices}
    charges = {c["id"]: c for c in raw.stripe.charges}
    docs: dict[tuple[str, str], list[int]] = {}
    for refund in raw.stripe.refunds:
        inv = invoices[charges[refund["charge"]]["invoice"]]
        row = docs.setdefault(("refund", refund["reason"] or "unspecified"), [0, 0])
        row[0] += 1
        row[1] += _round(refund["amount"] * raw.rate(inv))
    for note in raw.stripe.credit_notes:
        if note["status"] == "issued":
            row = docs.setdefault(("credit_note", note["reason"] or "unspecified"), [0, 0])
            row[0] += 1
            row[1] += _round(note["amount"] * raw.rate(invoices[note["invoice"]]))
    base = {
        "refund": sum(
            _round(c["amount_captured"] * raw.rate(invoices[c["invoice"]]))
            for c in charges.values()
            if c["status"] == "succeeded" and c["paid"] and not c["refunded"]
        ),
        "credit_note": sum(
            _round(i["total"] * raw.rate(i))
            for i in invoices.values()
            if i["status"] != "void" and i["status_transitions"]["finalized_at"] is not None
        ),
    }
    per_type = {t: sum(v[0] for (kind, _), v in docs.items() if kind == t) for t in base}
    expected = [
        ("stripe", kind, reason, n, minor / 100, n / per_type[kind], minor / base[kind])
        for (kind, reason), (n, minor) in docs.items()
    ]
    assert {kind for kind, _ in docs} == {"refund", "credit_note"}
    mart = query(
        built.db,
        "select source_system, document_type, reason, documents_count, amount_reporting, "
        "share_of_type, amount_rate from marts.refund_reasons",
    )
    assert settled(mart) == settled(expected)


def _cents(mrr_minor: float, rate: float) -> int:
    """An MRR in cents of the subscription currency to reporting cents, as the SQL: to major
    units and back, then converted at the start date's rate."""
    return _round(_round((mrr_minor / 100) * 100) * rate)


def _payload_mrr_spans(raw: Payloads) -> list[Span]:
    """Spans of constant MRR per subscription from the served invoice lines: each regular
    subscription line (and each positive proration line) bills unit_amount x quantity /
    interval months from its period start; a line that bills another MRR than the one before
    starts a new span. Before the first change: that change's previous MRR; else the
    subscription's current items."""
    months = {"month": 1, "year": 12}
    billed: dict[str, dict[tuple[int, int, str], float]] = {}
    for inv in raw.stripe.invoices:
        for line in inv["lines"]["data"]:
            if not line.get("subscription") or (line.get("proration") and line["amount"] <= 0):
                continue
            if not (line.get("period") or {}).get("start"):
                continue  # a line sent without its service period says nothing of when
            price = line["price"]
            interval = months[price["recurring"]["interval"]] * price["recurring"].get(
                "interval_count", 1
            )
            key = (line["period"]["start"], inv["created"], inv["id"])
            per_sub = billed.setdefault(line["subscription"], {})
            per_sub[key] = (
                per_sub.get(key, 0.0) + price["unit_amount"] * line["quantity"] / interval
            )
    spans: list[Span] = []
    for sub in raw.stripe.subscriptions:
        rate = raw.fx.rate(sub["currency"], _day(sub["start_date"]))
        timeline = sorted(billed.get(sub["id"], {}).items())
        changes = [
            (key[0], mrr, before)
            for (key, mrr), (_, before) in zip(timeline[1:], timeline, strict=False)
            if mrr != before
        ]
        current = sum(
            float(item["price"]["unit_amount"])
            * item["quantity"]
            / months[item["price"]["recurring"]["interval"]]
            for item in sub["items"]["data"]
        )
        starts = [(sub["start_date"], changes[0][2] if changes else current)]
        starts += [(at, mrr) for at, mrr, _ in changes]
        for i, (start, mrr) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else sub["ended_at"]
            spans.append((sub["customer"], start, end, _cents(mrr, rate)))
    return spans


def _truth_mrr_spans(built: Built) -> list[Span]:
    """The same spans from the planted subscriptions and their changes (not the payloads)."""
    as_of = built.company.as_of_unix
    visible = {s["id"]: s for s in built.truth["subscriptions"]}
    fx = Fx()
    spans: list[Span] = []
    for sub in built.company.world.subscriptions:
        if sub.id not in visible:
            continue
        rate = fx.rate(sub.currency.upper(), _day(sub.start))
        changes = [c for c in sub.changes if c.at <= as_of]
        starts = [(sub.start, sub.quantity)] + [(c.at, c.quantity) for c in changes]
        for i, (start, quantity) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else visible[sub.id]["ended_at"]
            mrr = float(sub.unit_amount) * quantity / sub.period_months
            spans.append((sub.customer_id, start, end, _cents(mrr, rate)))
    return spans


def test_planted_subscription_changes_are_in_the_log_with_their_direction(built: Built) -> None:
    changes = built.truth["subscription_changes"]
    assert {c["kind"] for c in changes} == {"expansion", "contraction"}
    expected = {
        ("Subscription Changed", c["deal_case_id"], c["subscription_id"], c["at"]) for c in changes
    }
    assert _events(built, "Subscription Changed") == expected
    rows = query(
        built.db,
        "select object_id, event_at, amount from marts.event_log "
        "where activity = 'Subscription Changed'",
    )
    direction = {(obj.split(":", 1)[1], _ts(at)): amount > 0 for obj, at, amount in rows}
    assert direction == {(c["subscription_id"], c["at"]): c["kind"] == "expansion" for c in changes}


def test_mrr_movements_equal_the_planted_changes(built: Built) -> None:
    """Expansion and contraction per month recomputed from the planted subscriptions (their
    quantity over time), not from what Stripe serves: the mart sees every planted change."""
    expected = retention_kpis.mrr_movements(_truth_mrr_spans(built), built.company.as_of_unix)
    without_changes = retention_kpis.mrr_movements(
        [
            (c, start, end, mrr)
            for c, start, end, mrr in _truth_mrr_spans(built)
            if start in {s["start"] for s in built.truth["subscriptions"]}
        ],
        built.company.as_of_unix,
    )
    assert [r[3] for r in expected] != [r[3] for r in without_changes]
    mart = query(
        built.db,
        "select month_start, expansion_mrr, contraction_mrr from marts.mrr_movements "
        "where source_system = 'stripe'",
    )
    assert settled(mart) == settled([(r[0], r[3], r[5]) for r in expected])


def test_payment_retries_and_disputes_are_in_the_log(built: Built) -> None:
    truth = built.truth
    retries = truth["payment_retries"]
    assert {r["succeeded"] for r in retries} == {True, False}
    assert _events(built, "Payment Retried") == {
        ("Payment Retried", r["deal_case_id"], r["charge_id"], r["created"]) for r in retries
    }
    disputes = truth["disputes"]
    assert {d["status"] for d in disputes} >= {"won", "lost"}
    assert _events(built, "Dispute Opened") == {
        ("Dispute Opened", d["deal_case_id"], d["id"], d["created"]) for d in disputes
    }
    # Stripe shows when a dispute closed only for a won one (its funds reinstated)
    assert _events(built, "Dispute Closed") == {
        ("Dispute Closed", d["deal_case_id"], d["id"], d["closed_at"])
        for d in disputes
        if d["status"] == "won"
    }


def test_reminders_still_in_the_events_api_are_in_the_log(built: Built) -> None:
    """Stripe records a reminder only as an invoice.sent event, kept 30 days: one load finds
    exactly the planted reminders of the last 30 days; older ones are lost (and planted)."""
    reminders = built.truth["reminders"]
    assert {r["in_events_window"] for r in reminders} == {True, False}
    assert _events(built, "Reminder Sent") == {
        ("Reminder Sent", r["deal_case_id"], r["invoice_id"], r["at"])
        for r in reminders
        if r["in_events_window"]
    }


def _month_start(ts: int) -> int:
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    return int(datetime(moment.year, moment.month, 1, tzinfo=timezone.utc).timestamp())


def _settlement(inv: Record) -> tuple[int | None, str | None]:
    moves = inv["status_transitions"]
    paid, void, off = moves["paid_at"], moves["voided_at"], moves["marked_uncollectible_at"]
    if paid is not None and (void is None or paid <= void) and (off is None or paid <= off):
        return paid, "collected"
    if off is not None and (void is None or off <= void):
        return off, "written_off"
    return void, "voided" if void is not None else None


def test_collections_effectiveness_recomputed_from_the_payloads(built: Built) -> None:
    raw = Payloads(built.company)
    as_of = built.company.as_of_unix
    invoices = []
    for inv in raw.stripe.invoices:
        finalized = inv["status_transitions"]["finalized_at"]
        if finalized is not None:
            at, how = _settlement(inv)
            total = _round(inv["total"] * raw.rate(inv))
            invoices.append((finalized, inv["due_date"], at, how, total))
    failures: dict[str, int] = {}
    for charge in raw.stripe.charges:
        if charge["status"] == "failed":
            failures[charge["invoice"]] = min(
                failures.get(charge["invoice"], charge["created"]), charge["created"]
            )
    by_id = {i["id"]: i for i in raw.stripe.invoices}
    failed = {i: t for i, t in failures.items() if by_id[i]["status"] != "void"}
    retries = Counter(
        _month_start(c["created"])
        for c in raw.stripe.charges
        if c["invoice"] in failed and c["created"] > failed[c["invoice"]]
    )
    reminders = Counter(
        _month_start(e["created"])
        for e in raw.stripe.events
        if e["type"] == "invoice.sent"
        and e["created"]
        > by_id[e["data"]["object"]["id"]]["status_transitions"]["finalized_at"] + 3600
    )

    def ar(t: int, current: bool = False) -> int:
        return sum(
            total
            for fin, due, at, _how, total in invoices
            if fin <= t and (at is None or at > t) and (not current or (due or 0) > t)
        )

    expected = []
    month = _month_start(min(fin for fin, *_ in invoices))
    while (end := retention_kpis.add_months(month, 1)) <= as_of:
        moved = [(how, total) for _f, _d, at, how, total in invoices if at and month < at <= end]
        sales = sum(total for fin, *_, total in invoices if month < fin <= end)
        begin, ending, current = ar(month), ar(end), ar(end, current=True)
        outcomes = []
        for inv_id, first in failed.items():
            if _month_start(first) == month:
                paid = by_id[inv_id]["status_transitions"]["paid_at"]
                off = by_id[inv_id]["status_transitions"]["marked_uncollectible_at"]
                if paid is not None and paid >= first:
                    outcomes.append(("recovered", (paid - first) / 86400))
                elif paid is None and off is not None:
                    outcomes.append(("written_off", None))
                else:
                    outcomes.append(("pending", None))
        recovered = [days for how, days in outcomes if how == "recovered"]
        written_off = sum(1 for how, _ in outcomes if how == "written_off")
        settled_failed = len(recovered) + written_off
        denominator = begin + sales - current
        expected.append(
            (
                datetime.fromtimestamp(month, tz=timezone.utc).date(),
                begin / 100,
                sales / 100,
                sum(t for how, t in moved if how == "collected") / 100,
                sum(t for how, t in moved if how == "written_off") / 100,
                sum(1 for how, _ in moved if how == "written_off"),
                ending / 100,
                current / 100,
                100.0 * (begin + sales - ending) / denominator if denominator else None,
                len(outcomes),
                len(recovered),
                written_off,
                len(recovered) / settled_failed if settled_failed else None,
                statistics.median(recovered) if recovered else None,
                retries.get(month, 0),
                reminders.get(month, 0) if reminders and month >= min(reminders) else None,
            )
        )
        month = end
    assert any(row[4] for row in expected) and any(row[8] for row in expected)
    mart = query(
        built.db,
        "select month_start, beginning_ar_reporting, credit_sales_reporting, "
        "collected_reporting, written_off_reporting, written_off_invoices, ending_ar_reporting, "
        "ending_current_ar_reporting, collection_effectiveness_index, failed_invoices, "
        "recovered_invoices, written_off_failed_invoices, recovery_rate, median_days_to_recover, "
        "payment_retries, reminders_sent from marts.collections_effectiveness "
        "where source_system = 'stripe'",
    )
    assert settled(mart) == settled(expected)
    # and the planted retries: every one before the last complete month's end is counted
    last_end = retention_kpis.add_months(month, 0)
    planted = sum(1 for r in built.truth["payment_retries"] if r["created"] < last_end)
    assert sum(row[14] for row in mart) == planted


# --- revenue recognition, billing lags, retention and amount mismatches -------------------


def _schedule_rows(built: Built) -> dict[tuple[str, date], tuple[Any, ...]]:
    rows = query(
        built.db,
        "select invoice_line_id, month_start, invoice_id, recognition_method, slice_end_at, "
        "cast(round(recognized_amount * 100) as bigint), "
        "cast(round(recognized_reporting * 100) as bigint), is_recognized "
        "from marts.revenue_recognition_schedule",
    )
    return {(r[0], r[1]): r[2:] for r in rows}


def test_the_planted_recognised_revenue_is_the_schedule(built: Built) -> None:
    planted = built.truth["recognized_revenue"]
    assert len({r["invoice_id"] for r in planted}) > 200
    mart = _schedule_rows(built)
    got = {
        (inv, line, month.isoformat(), minor)
        for (line, month), (inv, method, _end, minor, _rep, _done) in mart.items()
        if method == "ratable"
    }
    assert got == {(r["invoice_id"], r["line_id"], r["month"], r["amount"]) for r in planted}


def test_revenue_recognition_schedule_recomputed_from_the_payloads(built: Built) -> None:
    raw = Payloads(built.company)
    as_of = query(
        built.db, "select as_of from intermediate.int_as_of_resolved where source_system = 'stripe'"
    )[0][0]
    expected = {
        (s.line_id, s.month): (
            s.invoice_id,
            s.method,
            datetime.fromtimestamp(s.end, tz=timezone.utc).replace(tzinfo=None),
            s.minor,
            s.reporting_minor,
            s.end <= _ts(as_of),
        )
        for s in revenue_kpis.schedule(raw.stripe.invoices, raw.fx)
    }
    methods = {value[1] for value in expected.values()}
    assert methods == {"ratable", "point_in_time"}
    assert _schedule_rows(built) == expected


def test_revenue_recognized_events_are_the_recognised_months_of_linked_invoices(
    built: Built,
) -> None:
    """One event per (linked invoice, month) of its schedule, its lines summed, at the latest
    end of the month's slices, for the months recognised in full by Stripe's data horizon (its
    latest invoice or charge timestamp). The invoice -> deal links are marts.invoices' (their
    truth is checked by test_every_recurring_invoice_links_to_its_deal and the link tests)."""
    raw = Payloads(built.company)
    linked = _links(built)
    times = [
        t
        for inv in raw.stripe.invoices
        for t in (
            inv["created"],
            inv["status_transitions"]["finalized_at"],
            inv["status_transitions"]["paid_at"],
        )
        if t is not None
    ] + [c["created"] for c in raw.stripe.charges]
    horizon = max(times)
    months: dict[tuple[str, date], list[int]] = {}
    for s in revenue_kpis.schedule(raw.stripe.invoices, raw.fx):
        row = months.setdefault((s.invoice_id, s.month), [s.end, 0])
        row[0] = max(row[0], s.end)
        row[1] += s.minor
    expected = {
        (linked[inv], inv, f"{inv}:{month.isoformat()}", end, minor)
        for (inv, month), (end, minor) in months.items()
        if inv in linked and end <= horizon
    }
    rows = query(
        built.db,
        "select case_id, object_id, source_row_id, event_at, cast(round(amount * 100) as bigint) "
        "from marts.event_log where activity = 'Revenue Recognized'",
    )
    got = {(case, obj.split(":", 1)[1], row, _ts(at), minor) for case, obj, row, at, minor in rows}
    assert len(got) > 1000
    assert got == expected


def _links(built: Built) -> dict[str, str]:
    return dict(
        query(
            built.db, "select invoice_id, deal_key from marts.invoices where deal_key is not null"
        )
    )


def _won_deals(raw: Payloads) -> dict[int, tuple[int, int, float]]:
    """Won deals: id -> (won unix time, value in cents, rate of the won date)."""
    out = {}
    for deal_id, deal in raw.deals.items():
        if deal["status"] == "won" and deal["won_time"]:
            won = _unix(deal["won_time"])
            rate = raw.fx.rate(deal["currency"], _day(won))
            out[deal_id] = (won, _round(deal["value"] * 100), rate)
    return out


def _first_invoices(raw: Payloads, links: dict[str, str]) -> dict[str, int]:
    first: dict[str, int] = {}
    for inv in raw.stripe.invoices:
        if revenue_kpis.recognised(inv) and inv["id"] in links:
            at = inv["status_transitions"]["finalized_at"]
            first[links[inv["id"]]] = min(at, first.get(links[inv["id"]], at))
    return first


def test_booked_billed_recognized_recomputed_from_the_payloads(built: Built) -> None:
    raw = Payloads(built.company)
    links = _links(built)
    first = _first_invoices(raw, links)
    as_of = _ts(
        query(built.db, "select max(warehouse_as_of) from intermediate.int_as_of_resolved")[0][0]
    )
    months: dict[date, dict[str, Any]] = {}

    def month(ts_or_day: int | date) -> dict[str, Any]:
        key = ts_or_day if isinstance(ts_or_day, date) else revenue_kpis.month_of(ts_or_day)
        return months.setdefault(
            key, {"won": 0, "booked": 0, "inv": 0, "billed": 0, "rec": 0, "lag": [], "to_rec": []}
        )

    for deal_id, (won, cents, rate) in _won_deals(raw).items():
        row = month(won)
        row["won"] += 1
        row["booked"] += _round(cents * rate)
        if f"pipedrive:{deal_id}" in first:
            row["lag"].append(first[f"pipedrive:{deal_id}"] - won)
    slices = revenue_kpis.schedule(raw.stripe.invoices, raw.fx)
    ends: dict[str, int] = {}
    for s in slices:
        month(s.month)["rec"] += s.reporting_minor
        ends[s.invoice_id] = max(s.end, ends.get(s.invoice_id, s.end))
    for inv in raw.stripe.invoices:
        if revenue_kpis.recognised(inv):
            finalized = inv["status_transitions"]["finalized_at"]
            row = month(finalized)
            row["inv"] += 1
            row["billed"] += _round(inv["total"] * raw.rate(inv))
            if inv["id"] in ends:
                row["to_rec"].append(ends[inv["id"]] - finalized)
    expected = []
    current, deferred = min(months), 0
    while revenue_kpis.unix(revenue_kpis.next_month(current)) <= as_of:
        row = month(current)
        deferred += row["billed"] - row["rec"]
        expected.append(
            (
                current,
                row["won"],
                row["booked"] / 100,
                row["inv"],
                row["billed"] / 100,
                row["rec"] / 100,
                deferred / 100,
                len(row["lag"]),
                statistics.median(row["lag"]) / 86400 if row["lag"] else None,
                statistics.median(row["to_rec"]) / 86400 if row["to_rec"] else None,
            )
        )
        current = revenue_kpis.next_month(current)
    mart = query(
        built.db,
        "select month_start, won_deals, booked_reporting, invoices_count, billed_reporting, "
        "recognized_reporting, deferred_end_reporting, invoiced_deals, "
        "median_days_won_to_invoice, median_days_invoice_to_recognized "
        "from marts.booked_billed_recognized",
    )
    assert len(expected) > 20
    assert settled(mart) == settled(expected)


def test_billing_lags_recomputed_and_the_planted_late_region_bills_slowest(built: Built) -> None:
    raw = Payloads(built.company)
    first = _first_invoices(raw, _links(built))
    groups: dict[tuple[str, str], list[Any]] = {}
    for deal_id, (won, cents, rate) in _won_deals(raw).items():
        keys = [("overall", "all"), ("region", raw.region[deal_id]), ("source_system", "pipedrive")]
        for key in keys:
            row = groups.setdefault(key, [0, 0, []])
            row[0] += 1
            row[1] += _round(cents * rate)
            if f"pipedrive:{deal_id}" in first:
                row[2].append(first[f"pipedrive:{deal_id}"] - won)
    expected = [
        (
            dimension,
            value,
            won,
            len(lags),
            booked / 100,
            revenue_kpis.percentile(lags, 0.5) / 86400,
            revenue_kpis.percentile(lags, 0.9) / 86400,
            len(lags) < MIN_GROUP,
        )
        for (dimension, value), (won, booked, lags) in groups.items()
    ]
    mart = query(
        built.db,
        "select dimension, group_value, won_deals, invoiced_deals, booked_reporting, "
        "median_days_won_to_invoice, p90_days_won_to_invoice, is_below_min_group_size "
        "from marts.billing_lags",
    )
    assert settled(mart) == settled(expected)
    slowest = query(
        built.db,
        "select group_value from marts.billing_lags where dimension = 'region' and lag_rank = 1",
    )
    assert slowest == [(built.truth["params"]["late_billing_region"],)]


def test_revenue_retention_is_the_formula_over_mrr_movements(built: Built) -> None:
    """mrr_movements is recomputed from the payloads above; retention is its formula."""
    rows = query(
        built.db,
        "select source_system, month_start, starting_mrr, expansion_mrr, contraction_mrr, "
        "churn_mrr from marts.mrr_movements",
    )
    expected = [
        (
            system,
            month,
            (start + up - down - churn) / start if start else None,
            (start - down - churn) / start if start else None,
        )
        for system, month, start, up, down, churn in rows
    ]
    mart = query(
        built.db, "select source_system, month_start, nrr, grr from marts.revenue_retention"
    )
    assert settled(mart) == settled(expected)
    assert any(nrr is not None and nrr > 1 for *_, nrr, _ in mart)
    assert all(grr is None or grr <= 1 for *_, grr in mart)
    assert any(grr is not None and grr < 1 for *_, grr in mart)


def test_amount_mismatches_are_the_planted_ones_and_recomputed(built: Built) -> None:
    raw = Payloads(built.company)
    links = _links(built)
    invoiced: dict[str, list[int]] = {}
    for inv in raw.stripe.invoices:
        reason = inv.get("billing_reason") or "manual"
        if revenue_kpis.recognised(inv) and inv["id"] in links and not reason.startswith("sub"):
            row = invoiced.setdefault(links[inv["id"]], [0, 0])
            row[0] += 1
            row[1] += inv["total"]
    expected = []
    for deal_id, (_won, cents, _rate) in _won_deals(raw).items():
        case = f"pipedrive:{deal_id}"
        if case not in invoiced:
            continue
        count, total = invoiced[case]
        if abs(total - cents) <= 1 or abs(total - cents) <= 0.01 * abs(cents):
            continue
        kind = "invoiced_above_deal" if total > cents else "invoiced_below_deal"
        expected.append((case, "invoice", "stripe", kind, count, cents / 100, total / 100))
    mart = query(
        built.db,
        "select deal_key, compared_to, compared_source_system, mismatch_kind, documents_count, "
        "deal_amount, compared_amount from marts.amount_mismatches",
    )
    assert settled(mart) == settled(expected)
    planted = built.truth["amount_mismatches"]
    assert {p["kind"] for p in planted} == {"invoiced_above_deal", "invoiced_below_deal"}
    found = {(case, kind, deal, billed) for case, _, _, kind, _, deal, billed in mart}
    assert {
        (p["deal_case_id"], p["kind"], p["deal_amount"] / 100, p["invoiced_amount"] / 100)
        for p in planted
    } <= found


def test_lines_sent_without_a_service_period_are_flagged_and_warned(built: Built) -> None:
    """The planted subscription lines without a period are recognised at the invoice date,
    flagged in the schedule and counted in data_quality_issues; every other finalized invoice
    has its lines (no invoice_without_lines row)."""
    hidden = set(built.truth["invoices_without_service_period"])
    assert hidden
    flagged = query(
        built.db,
        "select invoice_id, recognition_method from marts.revenue_recognition_schedule "
        "where is_period_missing",
    )
    assert {inv for inv, _ in flagged} == hidden
    assert {method for _, method in flagged} == {"point_in_time"}
    lines = query(
        built.db,
        "select count(distinct invoice_line_key) from marts.revenue_recognition_schedule "
        "where subscription_key is not null",
    )[0][0]
    issues = query(
        built.db,
        "select issue, severity, object_type, affected_count, total_count "
        "from marts.data_quality_issues where source_system = 'stripe'",
    )
    assert ("service_period_missing", "warn", "invoice_line", len(hidden), lines) in issues
    assert not [row for row in issues if row[0] == "invoice_without_lines"]


COHORT_COLUMNS = (
    "cohort_quarter, months_since_start, cohort_customers, retained_customers, starting_mrr, "
    "expansion_mrr, contraction_mrr, churn_mrr, ending_mrr, nrr, grr, is_below_min_group_size"
)


def _mart_cohorts(db: Path, system: str) -> list[tuple[Any, ...]]:
    return query(
        db,
        f"select {COHORT_COLUMNS} from marts.revenue_retention_cohorts where source_system = ?",
        [system],
    )


def test_mrr_arr_and_cohort_retention_recomputed_from_the_payloads(built: Built) -> None:
    """mrr_movements (with ARR = 12 x MRR) and revenue_retention_cohorts from the served
    Stripe subscriptions and invoice lines (tests/retention_kpis.py states the rules)."""
    spans = _payload_mrr_spans(Payloads(built.company))
    as_of = built.company.as_of_unix
    movements = query(
        built.db,
        "select month_start, starting_mrr, new_mrr, expansion_mrr, reactivation_mrr, "
        "contraction_mrr, churn_mrr, ending_mrr, paying_customers, ending_arr "
        "from marts.mrr_movements where source_system = 'stripe'",
    )
    expected_movements = retention_kpis.mrr_movements(spans, as_of)
    assert any(row[3] for row in expected_movements) and any(row[6] for row in expected_movements)
    assert settled(movements) == settled(expected_movements)
    expected = retention_kpis.cohort_retention(spans, as_of, MIN_GROUP)
    assert any(row[1] == 12 and not row[-1] for row in expected)
    assert settled(_mart_cohorts(built.db, "stripe")) == settled(expected)


def test_the_planted_expansion_cohort_retains_the_most_revenue(built: Built) -> None:
    """The planted start quarter (its subscriptions expand in their first period) has the
    highest 12-month NRR of the cohorts with enough customers; every cohort row equals the
    one recomputed from the planted subscriptions and their changes."""
    planted = built.truth["expansion_cohort"]
    assert len(planted["expanded"]) >= 0.5 * len(planted["subscriptions"]) >= 3
    expected = retention_kpis.cohort_retention(
        _truth_mrr_spans(built), built.company.as_of_unix, MIN_GROUP
    )
    mart = _mart_cohorts(built.db, "stripe")
    assert settled(mart) == settled(expected)
    yearly = {row[0]: row[9] for row in mart if row[1] == 12 and not row[-1]}
    quarter = date.fromisoformat(planted["quarter"])
    assert quarter in yearly and len(yearly) >= 3
    assert max(yearly, key=lambda q: yearly[q]) == quarter
    ranked = query(
        built.db,
        "select cohort_quarter from marts.revenue_retention_cohorts "
        "where source_system = 'stripe' and months_since_start = 12 and nrr_rank = 1",
    )
    assert ranked == [(quarter,)]
