"""Independent check of the revenue marts: a handful of KPIs recomputed in plain Python
straight from the API payloads the local server serves (Pipedrive deals, deal products, deal
discounts; Stripe invoices, charges, customers) and the FX seed, required to equal the mart
values exactly.

The definitions are the marts' (models/marts/revenue/_revenue__models.yml):
- win rate per rep: won / (won + lost) over the rep's non-deleted deals (current owner);
- discount % per rep: 100 * sum(list - net) / sum(list) over the rep's deals with product
  lines, in the reporting currency. Per deal, in cents: list = sum of round(price x quantity
  x 100), line net = sum of round(line sum x 100), deal-level discounts come off the line net
  (percentage: round(line net x pct / 100), amount: round(amount x 100)); list and net are
  converted with the rate valid on the deal's creation date, each rounded to the cent;
- median won -> paid days per rep and per region: over won deals whose linked non-void
  invoices (at least one) are all paid, the latest paid_at minus won_time, in whole seconds;
  the median of those seconds / 86400. Invoices link to deals by metadata, else by the link
  rule of int_invoices_linked (same account and currency, won within 60 days before the
  invoice date, closest value, ties unlinked);
- DSO per complete calendar month (company): AR at the end of the month (non-void invoices
  finalized before the end, not paid and not marked uncollectible before it, total minus the
  charges before it) / credit sales of the month (totals of the non-void invoices finalized in
  it) x days in the month, in reporting-currency cents (rate valid on the invoice creation
  date, rounded per invoice); best possible DSO uses the AR not yet due at the end.
SQL round() rounds half away from zero: so does `_round` here.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from conftest import DemoWarehouse, query

from l2c.dbt_runner import ROOT

pytestmark = pytest.mark.slow

Record = dict[str, Any]
LINK_WINDOW_DAYS = 60  # dbt var invoice_link_window_days


def _round(value: float) -> int:
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _unix(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _day(unix: int) -> date:
    return datetime.fromtimestamp(unix, tz=timezone.utc).date()


class Fx:
    """seeds/fx_rates.csv: the rate of the latest valid_from on or before the day."""

    def __init__(self) -> None:
        self.rates: dict[str, list[tuple[date, float]]] = {}
        with (ROOT / "seeds" / "fx_rates.csv").open() as handle:
            for row in csv.DictReader(handle):
                self.rates.setdefault(row["currency_code"].upper(), []).append(
                    (date.fromisoformat(row["valid_from"]), float(row["rate_to_reporting"]))
                )

    def rate(self, currency: str, day: date) -> float:
        valid = [rate for start, rate in sorted(self.rates[currency.upper()]) if start <= day]
        return valid[-1]


def _rep(owner_id: int) -> str:
    return f"pipedrive:{owner_id}"


def _live_deals(warehouse: DemoWarehouse) -> dict[int, Record]:
    return {
        d["id"]: d
        for d in warehouse.company.pipedrive_view().deals
        if d["status"] != "deleted" and not d.get("is_deleted")
    }


def _mart(warehouse: DemoWarehouse, sql: str) -> dict[Any, Any]:
    return {row[0]: row[1] for row in query(warehouse.db, sql)}


def test_win_rate_per_rep(demo_warehouse: DemoWarehouse) -> None:
    won: dict[str, int] = {}
    closed: dict[str, int] = {}
    for deal in _live_deals(demo_warehouse).values():
        if deal["status"] in ("won", "lost"):
            rep = _rep(deal["owner_id"])
            closed[rep] = closed.get(rep, 0) + 1
            won[rep] = won.get(rep, 0) + (deal["status"] == "won")
    expected = {rep: won[rep] / closed[rep] for rep in closed}
    mart = _mart(demo_warehouse, "select rep_key, win_rate from marts.rep_performance")
    assert {rep: rate for rep, rate in mart.items() if rate is not None} == expected


def test_discount_pct_per_rep(demo_warehouse: DemoWarehouse) -> None:
    view = demo_warehouse.company.pipedrive_view()
    deals = _live_deals(demo_warehouse)
    fx = Fx()
    list_cents: dict[int, int] = {}
    line_net_cents: dict[int, int] = {}
    for line in view.deal_products:
        if line["deal_id"] in deals:
            deal_id = line["deal_id"]
            list_cents[deal_id] = list_cents.get(deal_id, 0) + _round(
                line["item_price"] * line["quantity"] * 100
            )
            line_net_cents[deal_id] = line_net_cents.get(deal_id, 0) + _round(line["sum"] * 100)
    rep_list: dict[str, int] = {}
    rep_discount: dict[str, int] = {}
    for deal_id, listed in list_cents.items():
        deal = deals[deal_id]
        deal_level = 0
        for discount in view.deal_discounts.get(deal_id, []):
            if discount["type"].lower() == "percentage":
                deal_level += _round(line_net_cents[deal_id] * (discount["amount"] / 100.0))
            else:
                deal_level += _round(discount["amount"] * 100)
        net = line_net_cents[deal_id] - deal_level
        rate = fx.rate(deal["currency"], _day(_unix(deal["add_time"])))
        list_reporting, net_reporting = _round(listed * rate), _round(net * rate)
        rep = _rep(deal["owner_id"])
        rep_list[rep] = rep_list.get(rep, 0) + list_reporting
        rep_discount[rep] = rep_discount.get(rep, 0) + list_reporting - net_reporting
    expected = {rep: 100.0 * (rep_discount[rep] / rep_list[rep]) for rep in rep_list}
    mart = _mart(demo_warehouse, "select rep_key, discount_pct from marts.rep_performance")
    assert mart == expected


def _link_invoices(warehouse: DemoWarehouse, deals: dict[int, Record]) -> dict[str, int | None]:
    stripe = warehouse.company.stripe_view()
    account = {
        c["id"]: int(c["metadata"]["pipedrive_org_id"])
        for c in stripe.customers
        if c["metadata"].get("pipedrive_org_id")
    }
    won = [d for d in deals.values() if d["status"] == "won"]
    links: dict[str, int | None] = {}
    for inv in stripe.invoices:
        meta = inv["metadata"].get("pipedrive_deal_id")
        if meta and int(meta) in deals:
            links[inv["id"]] = int(meta)
            continue
        created = _day(inv["created"])
        candidates = [
            (abs(d["value"] - inv["total"] / 100), d["id"])
            for d in won
            if d["org_id"] == account.get(inv["customer"])
            and d["currency"].upper() == inv["currency"].upper()
            and created - timedelta(days=LINK_WINDOW_DAYS) <= _day(_unix(d["won_time"])) <= created
        ]
        best = [deal_id for dist, deal_id in candidates if dist == min(c[0] for c in candidates)]
        links[inv["id"]] = best[0] if len(best) == 1 else None
    return links


def _medians(values: dict[str, list[int]]) -> dict[str, float]:
    return {key: statistics.median(seconds) / 86400 for key, seconds in values.items()}


def test_median_won_to_paid_days_per_rep_and_region(demo_warehouse: DemoWarehouse) -> None:
    view = demo_warehouse.company.pipedrive_view()
    deals = _live_deals(demo_warehouse)
    links = _link_invoices(demo_warehouse, deals)
    as_of = demo_warehouse.company.as_of_unix
    paid_at: dict[int, list[int | None]] = {}
    for inv in demo_warehouse.company.stripe_view().invoices:
        deal_id = links[inv["id"]]
        if deal_id is not None and inv["status"] != "void":
            paid = inv["status_transitions"]["paid_at"]
            paid_at.setdefault(deal_id, []).append(paid if paid and paid <= as_of else None)
    region_field = next(f for f in view.deal_fields if f["name"] == "Region")
    region_label = {option["id"]: option["label"] for option in region_field["options"]}
    by_rep: dict[str, list[int]] = {}
    by_region: dict[str, list[int]] = {}
    for deal_id, times in paid_at.items():
        deal = deals[deal_id]
        if deal["status"] != "won" or any(t is None for t in times):
            continue
        seconds = max(t for t in times if t is not None) - _unix(deal["won_time"])
        by_rep.setdefault(_rep(deal["owner_id"]), []).append(seconds)
        region = region_label[deal["custom_fields"][region_field["key"]]]
        by_region.setdefault(region, []).append(seconds)
    assert sum(map(len, by_rep.values())) > 300
    rep_mart = _mart(
        demo_warehouse, "select rep_key, median_won_to_paid_days from marts.rep_performance"
    )
    region_mart = _mart(
        demo_warehouse,
        "select region, median_won_to_paid_days from marts.region_performance "
        "where median_won_to_paid_days is not null",
    )
    assert rep_mart == _medians(by_rep)
    assert region_mart == _medians(by_region)


def _months(first: date, as_of: datetime) -> Iterable[tuple[date, datetime, datetime]]:
    start = first.replace(day=1)
    while True:
        nxt = (start + timedelta(days=32)).replace(day=1)
        begin = datetime(start.year, start.month, 1, tzinfo=timezone.utc)
        end = datetime(nxt.year, nxt.month, 1, tzinfo=timezone.utc)
        if end > as_of:
            return
        yield start, begin, end
        start = nxt


def test_dso_per_month(demo_warehouse: DemoWarehouse) -> None:
    stripe = demo_warehouse.company.stripe_view()
    fx = Fx()
    invoices = [
        inv
        for inv in stripe.invoices
        if inv["status"] != "void" and inv["status_transitions"]["finalized_at"] is not None
    ]
    charges: dict[str, list[Record]] = {}
    for charge in stripe.charges:
        if charge["status"] == "succeeded" and charge["paid"] and not charge["refunded"]:
            charges.setdefault(charge["invoice"], []).append(charge)
    first = min(_day(inv["status_transitions"]["finalized_at"]) for inv in invoices)
    expected: dict[date, tuple[float | None, float | None]] = {}
    for month, begin, end in _months(first, demo_warehouse.company.as_of):
        start_ts, end_ts = int(begin.timestamp()), int(end.timestamp())
        receivables = current = sales = 0
        for inv in invoices:
            moves = inv["status_transitions"]
            rate = fx.rate(inv["currency"], _day(inv["created"]))
            if start_ts <= moves["finalized_at"] < end_ts:
                sales += _round(inv["total"] * rate)
            # in AR at the end: finalized before it, neither paid nor written off before it
            if moves["finalized_at"] >= end_ts:
                continue
            if moves["paid_at"] is not None and moves["paid_at"] < end_ts:
                continue
            written_off = moves["marked_uncollectible_at"]
            if written_off is not None and written_off < end_ts:
                continue
            paid = sum(
                c.get("amount_captured", c["amount"])
                for c in charges.get(inv["id"], [])
                if c["created"] < end_ts
            )
            open_reporting = _round((inv["total"] - paid) * rate)
            receivables += open_reporting
            if inv["due_date"] >= end_ts:
                current += open_reporting
        days = (end - begin).days
        expected[month] = (
            (receivables / sales) * days if sales else None,
            (current / sales) * days if sales else None,
        )
    rows = query(
        demo_warehouse.db,
        "select period_month, dso, best_possible_dso from marts.receivables_monthly "
        "where dimension = 'company'",
    )
    assert len(expected) > 12
    assert {month: (dso, best) for month, dso, best in rows} == expected
