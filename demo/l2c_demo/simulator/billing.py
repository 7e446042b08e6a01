"""Stripe side: customers, invoices (split, voided, partial, late) and charges for won deals."""

from __future__ import annotations

import math
import random

from l2c_demo.simulator.catalog import PRODUCTS
from l2c_demo.simulator.clock import DAY
from l2c_demo.simulator.config import SimConfig
from l2c_demo.simulator.ids import IdMaker
from l2c_demo.simulator.model import Charge, Customer, Deal, Invoice, Org


def _late_days(rng: random.Random, cfg: SimConfig, region: str) -> float:
    if region == cfg.slow_paying_region:
        lo, hi = cfg.slow_region_late_days
        return max(rng.gauss((lo + hi) / 2.0, (hi - lo) / 1.5), -5.0)
    roll = rng.random()
    if roll < 0.6:
        return -rng.uniform(0.0, 15.0)
    if roll < 0.9:
        return rng.uniform(0.0, 7.0)
    return rng.uniform(7.0, 20.0)


class _Biller:
    def __init__(self, rng: random.Random, cfg: SimConfig, ids: IdMaker, orgs: list[Org]) -> None:
        self.rng, self.cfg, self.ids = rng, cfg, ids
        self.orgs_by_id = {o.id: o for o in orgs}
        self.customers: dict[int, Customer] = {}
        self.invoices: list[Invoice] = []
        # planted amount mismatches: their own streams leave the rest of the company unchanged
        self.mismatch_rng = random.Random(f"amount-mismatches-{cfg.seed}")
        self.mismatch_ids = IdMaker(random.Random(f"amount-mismatch-ids-{cfg.seed}"))

    def customer(self, deal: Deal, created: int) -> Customer:
        found = self.customers.get(deal.org_id)
        if found is not None:
            return found
        org = self.orgs_by_id[deal.org_id]
        rng = self.rng
        cust = Customer(
            self.ids.stripe("cus", 14),
            org.id,
            org.name,
            f"billing@{org.name.split()[0].lower()}.example",
            org.country,
            deal.currency.lower(),
            created - int(rng.uniform(0.02, 2.0) * DAY),
            rng.random() < self.cfg.customer_org_metadata_share,
            self.ids.stripe("x", 8)[2:].upper(),
        )
        self.customers[deal.org_id] = cust
        return cust

    def bill(self, deal: Deal) -> None:
        rng, cfg = self.rng, self.cfg
        assert deal.final_won_time is not None
        median = (
            cfg.slow_handoff_median_days
            if deal.pipeline == cfg.slow_handoff_pipeline
            else cfg.handoff_median_days
        )
        created = deal.final_won_time + int(median * math.exp(rng.gauss(0.0, 0.5)) * DAY)
        if deal.region == cfg.late_billing_region:
            created += int(cfg.late_billing_extra_days * DAY)  # planted: billed late
        value = deal.won_value_cents
        if value >= cfg.split_invoice_min_value * 100 and rng.random() < cfg.split_invoice_share:
            half = value // 2
            self.issue(deal, created, half, "Installment 1/2")
            self.issue(
                deal, created + int(rng.uniform(30, 90) * DAY), value - half, "Installment 2/2"
            )
        else:
            amount, planted = self._mismatched(value)
            self.issue(deal, created, amount, None, planted)

    def _mismatched(self, value: int) -> tuple[int, str | None]:
        """The amount a deal billed in one invoice is invoiced at: its value, or (planted,
        own random stream) 5-15 % more or less."""
        pick = self.mismatch_rng
        roll, share, above = pick.random(), pick.uniform(0.05, 0.15), pick.random() < 0.5
        if roll >= self.cfg.amount_mismatch_share:
            return value, None
        if above:
            return value + round(value * share), "invoiced_above_deal"
        return value - round(value * share), "invoiced_below_deal"

    def _lines(
        self, deal: Deal, amount: int, label: str | None, planted: str | None = None
    ) -> tuple[list, int, str | None]:
        if label is not None:
            return [(self.ids.stripe("il"), amount, f"{deal.title} - {label}", 1)], 0, None
        ts = deal.final_won_time or 0
        lines = [
            (self.ids.stripe("il"), ln.net_cents(ts), PRODUCTS[ln.product_index][0], ln.quantity)
            for ln in deal.lines
        ]
        discount = sum(a for _, a, _, _ in lines) - amount
        if planted == "invoiced_above_deal" and discount < 0:
            # billed above the deal: an extra line (its id from the planting's own stream)
            lines.append((self.mismatch_ids.stripe("il"), -discount, "Additional services", 1))
            discount = 0
        return lines, discount, (self.ids.stripe("di") if discount else None)

    def issue(
        self, deal: Deal, created: int, amount: int, label: str | None, planted: str | None = None
    ) -> None:
        rng, cfg = self.rng, self.cfg
        cust = self.customer(deal, created)
        has_meta = rng.random() >= cfg.missing_metadata_share
        lines, discount, discount_id = self._lines(deal, amount, label, planted)
        inv = self._invoice(deal, cust, created, lines, discount, discount_id, has_meta)
        inv.planted_mismatch = planted
        if rng.random() < cfg.void_reissue_share:
            inv.voided_at = inv.finalized_at + int(rng.uniform(1.0, 10.0) * DAY)
            lines, discount, discount_id = self._lines(deal, amount, label, planted)
            reissue_at = inv.voided_at + rng.randrange(60, 3600)
            inv = self._invoice(deal, cust, reissue_at, lines, discount, discount_id, has_meta)
            inv.planted_mismatch = planted
        self._settle(inv, deal.region, amount)

    def _invoice(
        self,
        deal: Deal,
        cust: Customer,
        created: int,
        lines: list,
        discount: int,
        discount_id: str | None,
        has_meta: bool,
    ) -> Invoice:
        finalized = created + int(self.rng.uniform(0.0, 2.0) * DAY) + self.rng.randrange(60, 3600)
        inv = Invoice(
            self.ids.stripe("in"),
            deal.id,
            cust.id,
            deal.currency.lower(),
            created,
            finalized,
            finalized + self.cfg.due_days * DAY,
            lines,
            discount,
            discount_id,
            has_meta,
        )
        self.invoices.append(inv)
        return inv

    def _settle(self, inv: Invoice, region: str, amount: int) -> None:
        rng, cfg = self.rng, self.cfg
        assert inv.due_date is not None
        if rng.random() < cfg.uncollectible_share:
            inv.uncollectible_at = inv.due_date + int(rng.uniform(60, 120) * DAY)
            return
        paid = inv.due_date + int(_late_days(rng, cfg, region) * DAY)
        paid = max(paid, inv.finalized_at + 3600)
        inv.paid_at = paid
        if rng.random() < cfg.partial_payment_share:
            first_amount = int(amount * rng.uniform(0.3, 0.7))
            first_at = inv.finalized_at + int((paid - inv.finalized_at) * rng.uniform(0.3, 0.7))
            inv.charges.append(self._charge(first_amount, first_at))
            inv.charges.append(self._charge(amount - first_amount, paid))
        else:
            inv.charges.append(self._charge(amount, paid))

    def _charge(self, amount: int, created: int) -> Charge:
        return Charge(self.ids.stripe("ch"), self.ids.stripe("pi"), amount, created)


def build_billing(
    rng: random.Random, cfg: SimConfig, ids: IdMaker, deals: list[Deal], orgs: list[Org]
) -> tuple[list[Customer], list[Invoice]]:
    biller = _Biller(rng, cfg, ids, orgs)
    won = sorted((d for d in deals if d.final_won_time is not None), key=lambda d: d.final_won_time)
    for deal in won:
        biller.bill(deal)
    customers = {c.id: c for c in biller.customers.values()}
    number_invoices(list(customers.values()), biller.invoices)
    return sorted(customers.values(), key=lambda c: c.created), biller.invoices


def number_invoices(customers: list[Customer], invoices: list[Invoice]) -> None:
    """Per-customer invoice numbers in finalization order; customers created before their first
    invoice."""
    by_id = {c.id: c for c in customers}
    for inv in invoices:
        cust = by_id[inv.customer_id]
        cust.created = min(cust.created, inv.created - 3600)
    seq: dict[str, int] = {}
    for inv in sorted(invoices, key=lambda i: (i.finalized_at, i.id)):
        seq[inv.customer_id] = seq.get(inv.customer_id, 0) + 1
        inv.number = f"{by_id[inv.customer_id].number_prefix}-{seq[inv.customer_id]:04d}"


def plant_many_lines(cfg: SimConfig, invoices: list[Invoice]) -> None:
    """Planted (own random streams, the rest of the company unchanged): a share
    (cfg.many_line_invoice_share) of the invoices is billed in 11-240 lines, more than the 10
    Stripe embeds in an invoice's `lines`. Each line of the invoice is spread over several
    lines of the same description (quantity 1 each); the amounts sum to the line's, so the
    invoice's total does not change. The first line keeps its id."""
    if cfg.many_line_invoice_share <= 0:
        return
    pick = random.Random(f"many-line-invoices-{cfg.seed}")
    ids = IdMaker(random.Random(f"many-line-invoice-ids-{cfg.seed}"))
    for inv in invoices:
        if pick.random() >= cfg.many_line_invoice_share or not inv.lines:
            continue
        target = pick.randint(11, 240)
        per_line = -(-target // len(inv.lines))
        lines: list[tuple[str, int, str, int]] = []
        for line_id, amount, desc, _qty in inv.lines:
            base, rest = divmod(amount, per_line)
            for k in range(per_line):
                part_id = line_id if k == 0 else ids.stripe("il")
                lines.append((part_id, base + (1 if k < rest else 0), desc, 1))
        inv.lines = lines
