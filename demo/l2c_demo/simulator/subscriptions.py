"""Stripe subscriptions sold by won deals: recurring invoices charged automatically, renewals and
cancellations at term ends, failed payments retried (recovered or written off), refunds and
credit notes; quantity changes during the first term (an expansion invoiced at once with
prorations, a contraction from a period start by a subscription schedule) and disputed
payments, from a second random stream.

Planted truths (SimConfig): subscriptions of `churn_heavy_product` churn most at term ends;
failed payments in `poor_recovery_region` recover worst; subscriptions starting in the
expansion cohort quarter (`expansion_cohort_quarter`) expand in their first period most often,
from a third random stream and id maker. A separate random stream keeps the rest of the
company identical whether or not it sells subscriptions.
"""

from __future__ import annotations

import calendar
import random
from datetime import datetime, timezone

from l2c_demo.simulator.catalog import FX, PRODUCTS
from l2c_demo.simulator.clock import DAY
from l2c_demo.simulator.config import SimConfig
from l2c_demo.simulator.ids import IdMaker
from l2c_demo.simulator.model import (
    Charge,
    CreditNote,
    Customer,
    Deal,
    Dispute,
    Invoice,
    Refund,
    Subscription,
    SubscriptionChange,
)

# recurring products a subscription may bill, by index into PRODUCTS
RECURRING_PRODUCTS = ("Platform License", "Analytics Module", "API Access", "Premium Support")
FAILURE_CODES = (("card_declined", 0.5), ("insufficient_funds", 0.3), ("expired_card", 0.2))
CHURN_FEEDBACK = ("too_expensive", "switched_service", "unused", "missing_features", "low_quality")
REFUND_REASONS = (("requested_by_customer", 0.7), ("duplicate", 0.2), ("fraudulent", 0.1))
CREDIT_NOTE_REASONS = (
    ("product_unsatisfactory", 0.45),
    ("order_change", 0.35),
    ("duplicate", 0.2),
)
DISPUTE_REASONS = (
    ("fraudulent", 0.4),
    ("subscription_canceled", 0.3),
    ("product_not_received", 0.2),
    ("duplicate", 0.1),
)
HORIZON_DAYS = 400  # subscriptions are simulated this far past as_of + future_days


def add_months(ts: int, months: int) -> int:
    """`ts` moved by whole calendar months (the day clamped to the month's last day)."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    month0 = dt.month - 1 + months
    year, month = dt.year + month0 // 12, month0 % 12 + 1
    day = min(dt.day, calendar.monthrange(year, month)[1])
    return int(dt.replace(year=year, month=month, day=day).timestamp())


def expansion_cohort_quarter(cfg: SimConfig) -> tuple[int, int]:
    """(first second, end second) of the planted expansion cohort's quarter: the quarter
    `expansion_cohort_quarters_back` quarters before the quarter of as_of."""
    as_of = cfg.as_of.astimezone(timezone.utc)
    quarter0 = as_of.year * 4 + (as_of.month - 1) // 3 - cfg.expansion_cohort_quarters_back
    start = datetime(quarter0 // 4, quarter0 % 4 * 3 + 1, 1, tzinfo=timezone.utc)
    return int(start.timestamp()), add_months(int(start.timestamp()), 3)


def _pick(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


class _Subscriber:
    def __init__(self, cfg: SimConfig, horizon: int) -> None:
        self.cfg, self.horizon = cfg, horizon
        self.rng = random.Random(f"subscriptions-{cfg.seed}")
        self.ids = IdMaker(random.Random(f"subscription-ids-{cfg.seed}"))
        self.subscriptions: list[Subscription] = []
        self.invoices: list[Invoice] = []
        self.refunds: list[Refund] = []
        self.credit_notes: list[CreditNote] = []
        # changes and disputes draw from their own streams: the rest stays as it was
        self.extra_rng = random.Random(f"subscription-changes-{cfg.seed}")
        self.extra_ids = IdMaker(random.Random(f"subscription-change-ids-{cfg.seed}"))
        self.period_rng = random.Random(f"hidden-service-periods-{cfg.seed}")
        self.cohort_rng = random.Random(f"cohort-expansions-{cfg.seed}")
        self.cohort_ids = IdMaker(random.Random(f"cohort-expansion-ids-{cfg.seed}"))
        self.cohort_window = expansion_cohort_quarter(cfg)

    def sell(self, deal: Deal, cust: Customer) -> None:
        rng, cfg = self.rng, self.cfg
        assert deal.final_won_time is not None
        start = deal.final_won_time + int(rng.uniform(1.0, 10.0) * DAY)
        if deal.region == cfg.late_billing_region:
            start += int(cfg.late_billing_extra_days * DAY)  # planted: billed late
        day = datetime.fromtimestamp(start, tz=timezone.utc).day
        start -= max(0, day - 28) * DAY  # no anchor past the 28th: every month has the day
        name = rng.choice(RECURRING_PRODUCTS)
        index = next(i for i, p in enumerate(PRODUCTS) if p[0] == name)
        monthly = rng.random() < cfg.monthly_share
        quantity = rng.choice((1, 1, 2, 3, 5))
        yearly_eur = PRODUCTS[index][3] * rng.uniform(0.8, 1.2)
        per_period = yearly_eur / (12 if monthly else 1) * FX[deal.currency]
        sub = Subscription(
            self.ids.stripe("sub"),
            self.ids.stripe("si", 14),
            deal.id,
            cust.id,
            deal.currency.lower(),
            index,
            round(per_period * 100),
            quantity,
            "month" if monthly else "year",
            12 if monthly else rng.choices((12, 24, 36), weights=(0.7, 0.2, 0.1))[0],
            start,
        )
        self.subscriptions.append(sub)
        self._run(sub, deal.region)

    def _run(self, sub: Subscription, region: str) -> None:
        rng, cfg = self.rng, self.cfg
        plan = self._plan_change(sub)
        cohort_plan = self._plan_cohort_expansion(sub) if plan is None else None
        plan = plan or cohort_plan
        k = 0
        while True:
            period_start = add_months(sub.start, k * sub.period_months)
            if period_start > self.horizon:
                return
            if k > 0 and (k * sub.period_months) % sub.term_months == 0:
                churn = (
                    cfg.churn_heavy_probability
                    if PRODUCTS[sub.product_index][0] == cfg.churn_heavy_product
                    else cfg.churn_probability
                )
                if rng.random() < churn:
                    sub.canceled_at = period_start - int(rng.uniform(5.0, 60.0) * DAY)
                    sub.ended_at = period_start
                    sub.cancel_reason = "cancellation_requested"
                    sub.feedback = rng.choice(CHURN_FEEDBACK)
                    return
                sub.renewals.append(period_start)
            if plan is not None and plan[0] == k and plan[1] < 0:
                self._contract(sub, period_start, plan[2])
            period_end = add_months(sub.start, (k + 1) * sub.period_months)
            inv = self._invoice(sub, period_start, period_end, k)
            if not self._collect(sub, inv, region):
                return
            if plan is not None and plan[0] == k and plan[1] > 0:
                ids = self.cohort_ids if plan is cohort_plan else self.extra_ids
                self._expand(sub, inv, period_end, plan[1], plan[2], ids)
            k += 1

    def _invoice(self, sub: Subscription, start: int, end: int, k: int) -> Invoice:
        quantity = sub.quantity_at(start)
        amount = sub.unit_amount * quantity
        name = PRODUCTS[sub.product_index][0]
        inv = Invoice(
            self.ids.stripe("in"),
            sub.deal_id,
            sub.customer_id,
            sub.currency,
            start,
            start + 3600,  # Stripe finalizes a subscription invoice about an hour later
            None,  # charged automatically: no due date
            [(self.ids.stripe("il"), amount, f"{quantity} x {name}", quantity)],
            0,
            None,
            False,  # the deal is named by the subscription's metadata, not the invoice's
        )
        inv.subscription_id = sub.id
        inv.billing_reason = "subscription_create" if k == 0 else "subscription_cycle"
        inv.period = (start, end)
        hidden = self.period_rng.random() < self.cfg.missing_service_period_share
        # a planted gap never hides the line that first bills a planted change, so each truth
        # stays checkable on its own (the warehouse would see that change a period late; the
        # missing period itself is warned: service_period_missing)
        inv.period_hidden = hidden and not any(c.at == start for c in sub.changes)
        self.invoices.append(inv)
        return inv

    def _collect(self, sub: Subscription, inv: Invoice, region: str) -> bool:
        """Charge the invoice, retrying failures; False when the retries run out (the invoice
        is written off and the subscription cancelled)."""
        rng, cfg = self.rng, self.cfg
        amount, at = inv.total, inv.finalized_at
        if rng.random() >= cfg.payment_failure_share:
            self._paid(inv, amount, at)
            return True
        success = (
            cfg.poor_recovery_retry_success
            if region == cfg.poor_recovery_region
            else cfg.retry_success
        )
        inv.charges.append(self._charge(amount, at, _pick(rng, FAILURE_CODES)))
        for days in cfg.retry_days:
            at += int(days * DAY) + rng.randrange(60, 3600)
            if rng.random() < success:
                self._paid(inv, amount, at)
                return True
            inv.charges.append(self._charge(amount, at, _pick(rng, FAILURE_CODES)))
        inv.uncollectible_at = at + 60
        sub.canceled_at = sub.ended_at = at + 60
        sub.cancel_reason = "payment_failed"
        return False

    def _paid(self, inv: Invoice, amount: int, at: int) -> None:
        rng, cfg = self.rng, self.cfg
        charge = self._charge(amount, at, None)
        inv.charges.append(charge)
        inv.paid_at = at
        self._maybe_dispute(inv, charge)
        if rng.random() < cfg.refund_share:
            self.refunds.append(
                Refund(
                    self.ids.stripe("re"),
                    charge.id,
                    charge.payment_intent,
                    inv.id,
                    max(1, round(amount * rng.uniform(0.1, 0.6))),
                    at + int(rng.uniform(1.0, 20.0) * DAY),  # within the charges' look-back
                    _pick(rng, REFUND_REASONS),
                )
            )
        if rng.random() < cfg.credit_note_share:
            self.credit_notes.append(
                CreditNote(
                    self.ids.stripe("cn"),
                    "",
                    inv.id,
                    inv.customer_id,
                    max(1, round(amount * rng.uniform(0.1, 0.5))),
                    at + int(rng.uniform(1.0, 25.0) * DAY),
                    _pick(rng, CREDIT_NOTE_REASONS),
                )
            )

    def _charge(self, amount: int, created: int, failure: str | None) -> Charge:
        return Charge(self.ids.stripe("ch"), self.ids.stripe("pi"), amount, created, failure)

    def _plan_change(self, sub: Subscription) -> tuple[int, float, int] | None:
        """(period index, when, new quantity) of the subscription's one change in its first term,
        or None. when > 0: an expansion at that fraction of the period; when < 0: a contraction
        from the period's start, k >= 1 (subscriptions with more than one seat only; a yearly
        one then contracts at a renewal)."""
        rng, cfg = self.extra_rng, self.cfg
        if rng.random() >= cfg.change_share:
            return None
        periods = sub.term_months // sub.period_months
        contract = rng.random() >= cfg.change_expansion_share and sub.quantity > 1
        if contract:
            k = rng.randrange(1, max(2, periods))
            return k, -1.0, max(1, sub.quantity - rng.choice((1, 2)))
        return (
            rng.randrange(0, periods),
            rng.uniform(0.2, 0.8),
            sub.quantity + rng.choice((1, 2, 3)),
        )

    def _plan_cohort_expansion(self, sub: Subscription) -> tuple[int, float, int] | None:
        """The planted cohort effect: a customer's first subscription starting in the expansion
        cohort's quarter (and not planned to change) grows 4-6 fold after its first month (a
        monthly one in its 3rd-10th period, a yearly one during its first year) with
        probability cohort_expansion_share, from its own stream."""
        start, end = self.cohort_window
        if not start <= sub.start < end or self.cfg.cohort_expansion_share <= 0:
            return None
        if any(s.customer_id == sub.customer_id for s in self.subscriptions if s is not sub):
            return None  # the customer started paying earlier: another cohort
        rng = self.cohort_rng
        if rng.random() >= self.cfg.cohort_expansion_share:
            return None
        k = rng.randrange(2, 10) if sub.period_months == 1 else 0
        return k, rng.uniform(0.2, 0.8), sub.quantity * rng.choice((4, 5, 6))

    def _contract(self, sub: Subscription, at: int, quantity: int) -> None:
        """Fewer seats from `at` (a period start), scheduled some days before by a subscription
        schedule: phase 1 the current period at the old quantity, phase 2 one period at the new."""
        rng = self.extra_rng
        created = max(sub.start + 3600, at - int(rng.uniform(2.0, 20.0) * DAY))
        sub.changes.append(
            SubscriptionChange(
                at,
                sub.quantity_at(at - 1),
                quantity,
                schedule_id=self.extra_ids.stripe("sub_sched"),
                schedule_created=created,
                phase_end=add_months(at, sub.period_months),
            )
        )

    def _expand(
        self,
        sub: Subscription,
        paid: Invoice,
        end: int,
        when: float,
        quantity: int,
        ids: IdMaker,
    ) -> None:
        """More seats at `when` of the period `paid` bills, invoiced at once with prorations
        (proration_behavior always_invoice): a credit for the unused time at the old quantity and
        a charge for the remaining time at the new, both over (change, period end)."""
        assert paid.period is not None
        start = paid.period[0]
        at = start + int(when * (end - start))
        if paid.paid_at is None or paid.paid_at >= at or at > self.horizon:
            return
        old = sub.quantity_at(at)
        fraction = (end - at) / (end - start)
        name = PRODUCTS[sub.product_index][0]
        day = datetime.fromtimestamp(at, tz=timezone.utc).strftime("%d %b %Y")
        inv = Invoice(
            ids.stripe("in"),
            sub.deal_id,
            sub.customer_id,
            sub.currency,
            at,
            at + 60,
            None,
            [
                (
                    ids.stripe("il"),
                    -round(old * sub.unit_amount * fraction),
                    f"Unused time on {old} x {name} after {day}",
                    old,
                ),
                (
                    ids.stripe("il"),
                    round(quantity * sub.unit_amount * fraction),
                    f"Remaining time on {quantity} x {name} after {day}",
                    quantity,
                ),
            ],
            0,
            None,
            False,
        )
        inv.subscription_id = sub.id
        inv.billing_reason = "subscription_update"
        inv.period = (at, end)
        charge = Charge(ids.stripe("ch"), ids.stripe("pi"), inv.total, at + 120)
        inv.charges.append(charge)
        inv.paid_at = at + 120
        self.invoices.append(inv)
        sub.changes.append(SubscriptionChange(at, old, quantity, invoice_id=inv.id))

    def _maybe_dispute(self, inv: Invoice, charge: Charge) -> None:
        """The cardholder disputes the payment (dispute_share): opened 5-40 days after it, closed
        20-70 days later, won or lost."""
        rng, cfg = self.extra_rng, self.cfg
        if rng.random() >= cfg.dispute_share:
            return
        created = charge.created + int(rng.uniform(5.0, 40.0) * DAY)
        inv.disputes.append(
            Dispute(
                self.extra_ids.stripe("dp"),
                charge.id,
                charge.payment_intent,
                charge.amount,
                created,
                _pick(rng, DISPUTE_REASONS),
                "won" if rng.random() < cfg.dispute_win_share else "lost",
                created + int(rng.uniform(20.0, 70.0) * DAY),
            )
        )


def build_subscriptions(
    cfg: SimConfig, deals: list[Deal], customers: list[Customer], horizon: int
) -> tuple[list[Subscription], list[Invoice], list[Refund], list[CreditNote]]:
    """Subscriptions of the won deals picked by `cfg.subscription_share` (none when 0)."""
    sub = _Subscriber(cfg, horizon)
    if cfg.subscription_share <= 0:
        return [], [], [], []
    by_org = {c.org_id: c for c in customers}
    won = sorted((d for d in deals if d.final_won_time is not None), key=lambda d: d.final_won_time)
    for deal in won:
        if sub.rng.random() < cfg.subscription_share:
            sub.sell(deal, by_org[deal.org_id])
    notes = sorted(sub.credit_notes, key=lambda n: (n.created, n.id))
    for seq, note in enumerate(notes, start=1):
        note.number = f"CN-{seq:05d}"
    return sub.subscriptions, sub.invoices, sub.refunds, notes
