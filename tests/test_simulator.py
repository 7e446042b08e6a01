"""Tests of the deterministic demo company (l2c_demo.simulator)."""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from l2c_demo.simulator import DemoCompany, SimConfig

V2_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
V1_TS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DEAL_KEYS = {
    "id", "title", "owner_id", "person_id", "org_id", "pipeline_id", "stage_id", "value",
    "currency", "add_time", "update_time", "stage_change_time", "is_deleted", "status",
    "probability", "lost_reason", "visible_to", "close_time", "won_time", "lost_time",
    "expected_close_date", "label_ids", "origin", "channel", "source_lead_id", "custom_fields",
}  # fmt: skip


@pytest.fixture(scope="module")
def company() -> DemoCompany:
    return DemoCompany(SimConfig(seed=11, n_deals=300))


@pytest.fixture(scope="module")
def big_truth() -> dict[str, Any]:
    return DemoCompany(SimConfig(seed=5, n_deals=2000)).ground_truth()


def _snapshot(c: DemoCompany) -> str:
    pd, st = c.pipedrive_view(), c.stripe_view()
    flows = {k: pd.flows[k] for k in list(pd.flows)[:50]}
    data = [pd.deals, pd.activities, pd.leads, pd.deal_products, flows, st.invoices, st.charges]
    return json.dumps([data, c.ground_truth()], sort_keys=True, default=str)


def test_same_seed_is_identical_and_other_seed_differs() -> None:
    a = DemoCompany(SimConfig(seed=3, n_deals=200))
    b = DemoCompany(SimConfig(seed=3, n_deals=200))
    other = DemoCompany(SimConfig(seed=4, n_deals=200))
    assert _snapshot(a) == _snapshot(b)
    assert _snapshot(a) != _snapshot(other)
    a.advance(days=30)
    b.advance(days=30)
    assert _snapshot(a) == _snapshot(b)


def test_default_as_of_is_fixed(company: DemoCompany) -> None:
    assert company.as_of == datetime.fromisoformat("2026-06-30T00:00:00+00:00")
    assert company.as_of.tzinfo is not None


def test_truth_counts_match_views(company: DemoCompany) -> None:
    pd, st = company.pipedrive_view(), company.stripe_view()
    truth = company.ground_truth()
    counts = truth["counts"]
    flows = [row for deal_id in pd.flows for row in pd.flows[deal_id]]
    assert counts["deals"] == len(pd.deals) == len(truth["deals"])
    assert counts["won"] + counts["lost"] + counts["open"] == counts["deals"]
    assert counts["won"] == sum(d["status"] == "won" for d in pd.deals)
    assert counts["leads"] == len(pd.leads)
    assert counts["activities"] == len(pd.activities)
    assert counts["quotes"] == sum(a["type"] == "quote" for a in pd.activities)
    assert counts["flow_changes"] == len(flows)
    assert counts["stage_changes"] == sum(f["data"]["field_key"] == "stage_id" for f in flows)
    assert counts["deal_products"] == len(pd.deal_products)
    assert counts["deal_discounts"] == sum(len(v) for v in pd.deal_discounts.values())
    assert counts["invoices"] == len(st.invoices) == len(truth["invoices"])
    assert counts["invoices_with_deal_metadata"] == sum(bool(i["metadata"]) for i in st.invoices)
    assert counts["charges"] == len(st.charges)
    assert counts["customers"] == len(st.customers)
    converted = {d["source_lead_id"] for d in pd.deals if d["source_lead_id"]}
    assert counts["leads_converted"] == len(converted)
    no_meta = counts["invoices"] - counts["invoices_with_deal_metadata"]
    assert 0 < counts["invoices_linkable_by_rule"] <= no_meta
    json.dumps(truth)


def test_api_shapes(company: DemoCompany) -> None:
    pd, st = company.pipedrive_view(), company.stripe_view()
    fields = {f["name"]: f for f in pd.deal_fields}
    region_key, discount_key = fields["Region"]["key"], fields["Discount %"]["key"]
    options = {o["id"] for o in fields["Region"]["options"]}
    assert re.fullmatch(r"[0-9a-f]{40}", region_key)
    for deal in pd.deals:
        assert set(deal) == DEAL_KEYS
        assert V2_TS.match(deal["add_time"]) and V2_TS.match(deal["update_time"])
        assert deal["custom_fields"][region_key] in options
        assert (
            deal["custom_fields"][discount_key] is None or deal["custom_fields"][discount_key] >= 0
        )
        assert (deal["lost_reason"] is not None) == (deal["status"] == "lost")
        if deal["source_lead_id"]:
            assert UUID.match(deal["source_lead_id"]) and deal["origin"] == "LeadConversion"
    assert all(V1_TS.match(u["created"]) for u in pd.users)
    assert all(lead["add_time"].endswith(".000Z") for lead in pd.leads)
    assert {a["type"] for a in pd.activities} == {"quote", "call", "email", "meeting", "task"}
    assert all(i["id"].startswith("in_") and i["customer"].startswith("cus_") for i in st.invoices)
    assert all(
        c["id"].startswith("ch_") and c["payment_intent"].startswith("pi_") for c in st.charges
    )
    assert len(pd.users) == 12 and len(pd.legacy_teams) == 3
    assert sorted(s["name"] for s in pd.pipelines) == ["Expansion", "New Business"]


def test_deal_value_equals_products_minus_discounts(company: DemoCompany) -> None:
    pd = company.pipedrive_view()
    lines: dict[int, float] = defaultdict(float)
    for row in pd.deal_products:
        lines[row["deal_id"]] += row["sum"]
    for deal in pd.deals:
        net = lines[deal["id"]]
        for disc in pd.deal_discounts[deal["id"]]:
            net -= net * disc["amount"] / 100 if disc["type"] == "percentage" else disc["amount"]
        assert deal["value"] == pytest.approx(net, abs=0.02)


def test_flow_is_newest_first_and_starts_at_creation_stage(company: DemoCompany) -> None:
    pd = company.pipedrive_view()
    first_stage = {s["pipeline_id"]: s["id"] for s in pd.stages if s["order_nr"] == 1}
    for deal in pd.deals:
        rows = pd.flows[deal["id"]]
        stamps = [r["timestamp"] for r in rows]
        assert stamps == sorted(stamps, reverse=True)
        stage_rows = [r["data"] for r in reversed(rows) if r["data"]["field_key"] == "stage_id"]
        if stage_rows:
            assert stage_rows[0]["old_value"] == first_stage[deal["pipeline_id"]]
            assert stage_rows[-1]["new_value"] == deal["stage_id"]


def test_invoices_match_won_deals(company: DemoCompany) -> None:
    pd, st = company.pipedrive_view(), company.stripe_view()
    truth = company.ground_truth()
    deals = {d["id"]: d for d in pd.deals}
    true_deal = {i["id"]: i["deal_id"] for i in truth["invoices"]}
    for inv in st.invoices:
        assert deals[true_deal[inv["id"]]]["status"] == "won"
        if inv["metadata"]:
            assert int(inv["metadata"]["pipedrive_deal_id"]) == true_deal[inv["id"]]
        assert inv["total"] == inv["subtotal"] - sum(
            d["amount"] for d in inv["total_discount_amounts"]
        )
        assert inv["amount_remaining"] == (0 if inv["status"] == "void" else inv["total"]) - (
            inv["amount_paid"] if inv["status"] != "void" else 0
        )
        if inv["status"] == "paid":
            assert inv["amount_paid"] == inv["total"]


def _mean_by(rows: list[dict[str, Any]], key: str, value: str) -> dict[Any, float]:
    groups: dict[Any, list[float]] = defaultdict(list)
    for row in rows:
        if row[value] is not None:
            groups[row[key]].append(row[value])
    return {k: statistics.mean(v) for k, v in groups.items()}


def test_planted_truths_show_in_data(big_truth: dict[str, Any]) -> None:
    params, deals, invoices = big_truth["params"], big_truth["deals"], big_truth["invoices"]
    late = _mean_by(invoices, "region", "days_late")
    slow = params["slow_paying_region"]
    assert late[slow] > 20 and all(v < 5 for k, v in late.items() if k != slow)

    quoted = [d for d in deals if d["quotes_sent"]]
    disc = _mean_by(quoted, "owner_id", "discount_pct_value_weighted")
    high = params["high_discount_rep_id"]
    assert disc[high] > 0.18 and all(v < 0.13 for k, v in disc.items() if k != high)

    closed = [dict(d, won=float(d["outcome"] == "won")) for d in deals if d["outcome"] != "open"]
    win = _mean_by(closed, "owner_id", "won")
    others = statistics.mean(v for k, v in win.items() if k != high)
    assert win[high] <= others + 0.05
    assert 0.33 <= statistics.mean(r["won"] for r in closed) <= 0.47

    follow = _mean_by([d for d in closed if d["quotes_sent"]], "follow_up_within_days", "won")
    assert follow[True] - follow[False] > 0.08

    inv_created = {i["id"]: i["created"] for i in invoices}
    handoff: dict[str, list[float]] = defaultdict(list)
    for d in deals:
        if d["outcome"] == "won" and d["invoice_ids"]:
            won = datetime.fromisoformat(d["close_time"].replace("Z", "+00:00")).timestamp()
            first = min(inv_created[i] for i in d["invoice_ids"])
            handoff[d["pipeline"]].append((first - won) / 86400)
    slow_pipe = params["slow_handoff_pipeline"]
    assert statistics.median(handoff[slow_pipe]) > 2 * statistics.median(handoff["New Business"])

    n = len(deals)
    assert 0.10 <= sum(bool(d["skipped_stages"]) for d in deals) / n <= 0.25
    assert 0.05 <= sum(d["backward_moves"] > 0 for d in deals) / n <= 0.15
    assert 0.2 <= sum(d["quotes_sent"] >= 2 for d in quoted) / len(quoted) <= 0.45
    missing = sum(not i["has_deal_metadata"] for i in invoices) / len(invoices)
    assert 0.03 <= missing <= 0.15
    assert any(i["partial_payments"] for i in invoices) and any(i["voided"] for i in invoices)


def test_advance_only_adds_and_moves_forward() -> None:
    c = DemoCompany(SimConfig(seed=21, n_deals=300))
    before = {d["id"]: d for d in c.pipedrive_view().deals}
    inv_before = {i["id"]: i for i in c.stripe_view().invoices}
    old_as_of = c.as_of
    assert c.advance(days=30) == old_as_of + timedelta(days=30)
    after = {d["id"]: d for d in c.pipedrive_view().deals}
    assert set(before) < set(after)
    assert all(after[k]["update_time"] >= v["update_time"] for k, v in before.items())
    closed = [
        k for k, v in before.items() if v["status"] == "open" and after[k]["status"] != "open"
    ]
    assert closed
    inv_after = {i["id"]: i for i in c.stripe_view().invoices}
    assert set(inv_before) <= set(inv_after)
    for inv_id, inv in inv_before.items():
        if inv["status"] in ("paid", "void"):
            assert inv_after[inv_id]["status"] == inv["status"]
        assert inv_after[inv_id]["amount_paid"] >= inv["amount_paid"]
    with pytest.raises(ValueError):
        c.advance(days=-1)


def test_write_ground_truth(tmp_path: Path, company: DemoCompany) -> None:
    path = company.write_ground_truth(tmp_path / "truth.json")
    data = json.loads(path.read_text())
    assert data["seed"] == 11 and data["as_of"] == "2026-06-30T00:00:00Z"
    assert data["counts"] == company.ground_truth()["counts"]


def test_planted_approvals_and_contracts(big_truth: dict[str, Any]) -> None:
    """Quotes above the discount policy wait for an approval (longer when the deal ends lost,
    some rejected); won deals sign a contract, slowest in the planted region."""
    params = big_truth["params"]
    deals = {d["case_id"]: d for d in big_truth["deals"]}
    approvals, contracts = big_truth["approvals"], big_truth["contracts"]
    assert approvals and contracts
    decided = [a for a in approvals if a["decided"] is not None]
    assert all(a["requested"] < a["decided"] for a in decided)
    assert all(a["approver"] != a["requested_by"] for a in approvals)
    assert 0.1 < sum(not a["approved"] for a in decided) / len(decided) < 0.5
    # every request asks for a discount at or above the policy threshold
    assert min(a["discount_pct"] for a in approvals) >= params["approval_threshold_pct"]
    waits: dict[str, float] = defaultdict(float)
    for a in decided:
        waits[a["deal_case_id"]] += (a["decided"] - a["requested"]) / 86400
    by_outcome: dict[str, list[float]] = defaultdict(list)
    for case, wait in waits.items():
        by_outcome[deals[case]["outcome"]].append(wait)
    assert statistics.median(by_outcome["lost"]) > 2 * statistics.median(by_outcome["won"])
    # a contract is signed for every won deal (before the win), never for a lost one
    signed = {c["deal_case_id"]: c for c in contracts if c["signed"] is not None}
    won = {k for k, d in deals.items() if d["outcome"] == "won"}
    assert set(signed) <= won and len(signed) >= 0.95 * len(won)
    for case, c in signed.items():
        assert (
            c["sent"]
            < c["signed"]
            <= datetime.fromisoformat(deals[case]["close_time"].replace("Z", "+00:00")).timestamp()
        )
    days: dict[str, list[float]] = defaultdict(list)
    for c in signed.values():
        days[c["region"]].append((c["signed"] - c["sent"]) / 86400)
    medians = {region: statistics.median(v) for region, v in days.items()}
    assert max(medians, key=medians.__getitem__) == params["slow_signature_region"]


def test_approval_threshold_is_the_discount_policy_seed() -> None:
    """The demo asks for approvals from the first band the warehouse's policy seed marks as
    above policy."""
    from l2c.dbt_runner import ROOT

    with (ROOT / "seeds" / "discount_policy.csv").open() as handle:
        above = [
            float(r["lower_bound_pct"])
            for r in csv.DictReader(handle)
            if r["is_above_policy"] == "true"
        ]
    assert min(above) == SimConfig().approval_threshold_pct


def test_subscriptions_add_to_the_company_and_plant_their_effects() -> None:
    """Selling subscriptions leaves the rest of the company as it was (its own random stream)
    and plants the churn-heavy product and the poor-recovery region in the ground truth."""
    plain = DemoCompany(SimConfig(seed=11, n_deals=600))
    subs = DemoCompany(SimConfig(seed=11, n_deals=600, subscription_share=0.6))
    assert plain.pipedrive_view().deals == subs.pipedrive_view().deals
    one_off = {i["id"]: i["total"] for i in subs.stripe_view().invoices if not i["subscription"]}
    assert one_off == {i["id"]: i["total"] for i in plain.stripe_view().invoices}
    assert not plain.stripe_view().subscriptions
    truth = subs.ground_truth()
    params = truth["params"]
    due: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for sub in truth["subscriptions"]:
        churned = sub["cancel_reason"] == "cancellation_requested" and sub["ended_at"]
        due[sub["product"]][0] += bool(churned)
        due[sub["product"]][1] += len(sub["renewals"]) + bool(churned)
    churn = {product: lost / n for product, (lost, n) in due.items() if n}
    assert max(churn, key=churn.__getitem__) == params["churn_heavy_product"]
    outcome: dict[str, dict[str, bool]] = defaultdict(dict)
    for failed in truth["failed_payments"]:
        if failed["recovered_at"] or failed["written_off_at"]:
            outcome[failed["region"]][failed["invoice_id"]] = failed["recovered_at"] is not None
    recovery = {r: statistics.mean(v.values()) for r, v in outcome.items() if len(v) >= 3}
    assert min(recovery, key=recovery.__getitem__) == params["poor_recovery_region"]
    # every refund and credit note is of a paid subscription invoice, after its payment
    paid = {i["id"]: i["paid_at"] for i in truth["invoices"] if i["subscription_id"]}
    for doc in truth["refunds"] + truth["credit_notes"]:
        assert paid[doc["invoice_id"]] is not None and doc["created"] > paid[doc["invoice_id"]]


def test_subscription_changes_and_disputes_leave_the_rest_as_it_was() -> None:
    """Changes, disputes and reminders draw from their own streams (or none): without them the
    same subscriptions, renewals, failures and refunds happen (amounts follow the quantities);
    with them, every expansion is invoiced with prorations and every contraction comes with its
    schedule."""
    kw: dict[str, Any] = {
        "seed": 11,
        "n_deals": 300,
        "subscription_share": 0.6,
        "payment_failure_share": 0.3,
    }
    plain = DemoCompany(
        SimConfig(**kw, change_share=0.0, dispute_share=0.0, cohort_expansion_share=0.0)
    ).ground_truth()
    full = DemoCompany(SimConfig(**kw, reminder_days=(7, 14))).ground_truth()
    assert plain["subscriptions"] == full["subscriptions"]
    fields = {  # amounts follow the quantities, so they may differ
        "failed_payments": ("charge_id", "created", "recovered_at", "written_off_at"),
        "refunds": ("id", "created", "reason"),
        "credit_notes": ("id", "created", "reason"),
        "write_offs": ("invoice_id", "at"),
    }
    for key, names in fields.items():

        def project(rows: list[dict[str, Any]], names: tuple[str, ...] = names) -> list[Any]:
            return [tuple(r[n] for n in names) for r in rows]

        assert project(plain[key]) == project(full[key]) != [], key
    assert not plain["subscription_changes"] and not plain["disputes"]
    changes = full["subscription_changes"]
    assert {c["kind"] for c in changes} == {"expansion", "contraction"}
    updates = {i["id"] for i in full["invoices"] if i["billing_reason"] == "subscription_update"}
    assert {c["invoice_id"] for c in changes if c["kind"] == "expansion"} == updates
    assert all(c["schedule_id"] for c in changes if c["kind"] == "contraction")
    assert full["disputes"] and full["reminders"]


def test_the_expansion_cohort_plant_changes_only_its_cohort() -> None:
    """The planted cohort effect draws from its own stream and ids: without it the same
    subscriptions, invoices, failures and other changes happen; with it, the cohort's first
    subscriptions expand (and only they gain changes)."""
    kw: dict[str, Any] = {"seed": 11, "n_deals": 400, "subscription_share": 0.6}
    plain = DemoCompany(SimConfig(**kw, cohort_expansion_share=0.0)).ground_truth()
    planted = DemoCompany(SimConfig(**kw)).ground_truth()
    assert plain["subscriptions"] == planted["subscriptions"]
    for key in ("failed_payments", "refunds", "credit_notes", "disputes"):
        assert [r["created"] for r in plain[key]] == [r["created"] for r in planted[key]], key
    cohort = planted["expansion_cohort"]
    assert cohort["quarter"] == "2025-01-01"
    assert len(cohort["expanded"]) >= 0.5 * len(cohort["subscriptions"]) >= 3
    before = {(c["subscription_id"], c["at"]) for c in plain["subscription_changes"]}
    after = {(c["subscription_id"], c["at"]) for c in planted["subscription_changes"]}
    assert before < after
    assert {s for s, _ in after - before} <= set(cohort["expanded"])
