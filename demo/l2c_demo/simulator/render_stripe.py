"""Render the Stripe API objects visible at as_of."""

from __future__ import annotations

from l2c_demo.simulator.catalog import PRODUCTS
from l2c_demo.simulator.crms import crm
from l2c_demo.simulator.dunning import invoice_sent_events
from l2c_demo.simulator.model import (
    Charge,
    CreditNote,
    Customer,
    Dispute,
    Invoice,
    Refund,
    Subscription,
    SubscriptionChange,
    World,
)
from l2c_demo.simulator.subscriptions import add_months
from l2c_demo.simulator.views import Record, StripeView

FAILURE_MESSAGES = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
}


def _at(ts: int | None, as_of: int) -> int | None:
    return ts if ts is not None and ts <= as_of else None


def _product_id(index: int) -> str:
    return "prod_" + PRODUCTS[index][1].replace("-", "")


def _price(sub: Subscription) -> Record:
    return {
        "id": f"price_{sub.item_id[3:]}",
        "object": "price",
        "product": _product_id(sub.product_index),
        "nickname": PRODUCTS[sub.product_index][0],
        "currency": sub.currency,
        "unit_amount": sub.unit_amount,
        "type": "recurring",
        "recurring": {"interval": sub.interval, "interval_count": 1},
    }


def _subscription_fields(
    inv: Invoice, as_of: int, sub: Subscription | None, deal_crm: str, credited: int
) -> Record:
    """The fields of an invoice that a subscription and its payment attempts set."""
    attempts = [ch.created for ch in inv.charges if ch.created <= as_of]
    settled = any(_at(t, as_of) for t in (inv.paid_at, inv.uncollectible_at, inv.voided_at))
    upcoming = [ch.created for ch in inv.charges if ch.created > as_of]
    fields: Record = {
        "billing_reason": inv.billing_reason,
        "subscription": sub.id if sub else None,
        "attempt_count": len(attempts),
        "attempted": bool(attempts),
        "next_payment_attempt": None if settled or not upcoming else min(upcoming),
        "post_payment_credit_notes_amount": credited,
    }
    if sub is not None:
        fields["parent"] = {
            "type": "subscription_details",
            "subscription_details": {
                "subscription": sub.id,
                "metadata": sub_metadata(sub, deal_crm),
            },
        }
    return fields


def _invoice(
    inv: Invoice, as_of: int, deal_crm: str, sub: Subscription | None, credited: int
) -> Record:
    paid = sum(ch.amount for ch in inv.charges if ch.created <= as_of and not ch.failure_code)
    finalized = _at(inv.finalized_at, as_of)
    voided = _at(inv.voided_at, as_of)
    uncollectible = _at(inv.uncollectible_at, as_of)
    paid_at = _at(inv.paid_at, as_of)
    if voided is not None:
        status = "void"
    elif paid_at is not None:
        status = "paid"
    elif uncollectible is not None:
        status = "uncollectible"
    elif finalized is not None:
        status = "open"
    else:
        status = "draft"
    total = inv.total
    subtotal = total + inv.discount_cents
    return {
        "id": inv.id,
        "object": "invoice",
        "customer": inv.customer_id,
        "number": inv.number if finalized is not None else None,
        "status": status,
        "collection_method": "charge_automatically" if sub else "send_invoice",
        "created": inv.created,
        "due_date": inv.due_date,
        "currency": inv.currency,
        "subtotal": subtotal,
        "total": total,
        "amount_due": total,
        "amount_paid": paid,
        "amount_remaining": 0 if status == "void" else total - paid,
        "total_discount_amounts": (
            [{"amount": inv.discount_cents, "discount": inv.discount_id}]
            if inv.discount_cents
            else []
        ),
        "metadata": _deal_metadata(inv.deal_id, deal_crm) if inv.has_metadata else {},
        "status_transitions": {
            "finalized_at": finalized,
            "paid_at": paid_at,
            "voided_at": voided,
            "marked_uncollectible_at": uncollectible,
        },
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": line_id,
                    "object": "line_item",
                    "amount": amount,
                    "currency": inv.currency,
                    "description": desc,
                    "quantity": qty,
                    **_line_period(inv, sub),
                }
                for line_id, amount, desc, qty in inv.lines
            ],
            "has_more": False,
            "url": f"/v1/invoices/{inv.id}/lines",
        },
        "livemode": False,
        **_subscription_fields(inv, as_of, sub, deal_crm, credited),
    }


def _line_period(inv: Invoice, sub: Subscription | None) -> Record:
    if sub is None or inv.period is None:
        return {}
    if inv.period_hidden:
        return {"subscription": sub.id, "price": _price(sub)}
    proration = inv.billing_reason == "subscription_update"
    return {
        "subscription": sub.id,
        "period": {"start": inv.period[0], "end": inv.period[1]},
        "price": _price(sub),
        "proration": proration,
        "parent": {
            "type": "subscription_item_details",
            "subscription_item_details": {
                "subscription": sub.id,
                "subscription_item": sub.item_id,
                "proration": proration,
            },
        },
    }


def sub_metadata(sub: Subscription, deal_crm: str) -> dict[str, str]:
    """The subscription's metadata: the CRM deal it was sold by and its committed term."""
    return {**_deal_metadata(sub.deal_id, deal_crm), "term_months": str(sub.term_months)}


def _subscription(sub: Subscription, as_of: int, past_due: bool, deal_crm: str) -> Record:
    ended = _at(sub.ended_at, as_of)
    canceled = _at(sub.canceled_at, as_of)
    k = 0
    while add_months(sub.start, (k + 1) * sub.period_months) <= min(as_of, sub.ended_at or as_of):
        k += 1
    if ended is not None and k > 0 and add_months(sub.start, k * sub.period_months) >= ended:
        k -= 1  # the last period is the one that ended
    period = (
        add_months(sub.start, k * sub.period_months),
        add_months(sub.start, (k + 1) * sub.period_months),
    )
    if ended is not None:
        status = "canceled"
    elif past_due:
        status = "past_due"
    else:
        status = "active"
    cancel_at = sub.ended_at if canceled is not None and ended is None else None
    return {
        "id": sub.id,
        "object": "subscription",
        "customer": sub.customer_id,
        "status": status,
        "collection_method": "charge_automatically",
        "currency": sub.currency,
        "created": sub.start,
        "start_date": sub.start,
        "billing_cycle_anchor": sub.start,
        "cancel_at": cancel_at,
        "cancel_at_period_end": cancel_at is not None and cancel_at == period[1],
        "canceled_at": canceled,
        "ended_at": ended,
        "cancellation_details": {
            "reason": sub.cancel_reason if canceled is not None else None,
            "feedback": sub.feedback if canceled is not None else None,
            "comment": None,
        },
        "metadata": sub_metadata(sub, deal_crm),
        "items": {
            "object": "list",
            "data": [
                {
                    "id": sub.item_id,
                    "object": "subscription_item",
                    "subscription": sub.id,
                    "created": sub.start,
                    "quantity": sub.quantity_at(min(as_of, sub.ended_at or as_of)),
                    "price": _price(sub),
                    "current_period_start": period[0],
                    "current_period_end": period[1],
                }
            ],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={sub.id}",
        },
        "livemode": False,
    }


def _charge(ch: Charge, inv: Invoice, refunded: int) -> Record:
    failed = ch.failure_code is not None
    return {
        "id": ch.id,
        "object": "charge",
        "amount": ch.amount,
        "amount_captured": 0 if failed else ch.amount,
        "amount_refunded": refunded,
        "currency": inv.currency,
        "created": ch.created,
        "customer": inv.customer_id,
        "invoice": inv.id,
        "paid": not failed,
        "status": "failed" if failed else "succeeded",
        "refunded": refunded >= ch.amount,
        "failure_code": ch.failure_code,
        "failure_message": FAILURE_MESSAGES.get(ch.failure_code or ""),
        "payment_intent": ch.payment_intent,
        "description": f"Payment for Invoice {inv.number}",
        "livemode": False,
    }


def _refund(ref: Refund, currency: str) -> Record:
    return {
        "id": ref.id,
        "object": "refund",
        "amount": ref.amount,
        "charge": ref.charge_id,
        "payment_intent": ref.payment_intent,
        "currency": currency,
        "created": ref.created,
        "reason": ref.reason,
        "status": "succeeded",
        "metadata": {},
    }


def _credit_note(note: CreditNote, currency: str) -> Record:
    return {
        "id": note.id,
        "object": "credit_note",
        "number": note.number,
        "invoice": note.invoice_id,
        "customer": note.customer_id,
        "currency": currency,
        "created": note.created,
        "effective_at": note.created,
        "amount": note.amount,
        "subtotal": note.amount,
        "total": note.amount,
        "pre_payment_amount": 0,
        "post_payment_amount": note.amount,
        "out_of_band_amount": None,
        "reason": note.reason,
        "status": "issued",
        "type": "post_payment",
        "memo": None,
        "voided_at": None,
        "metadata": {},
        "livemode": False,
    }


def _deal_metadata(deal_id: int, system: str) -> dict[str, str]:
    unit = crm(system)
    return {unit.deal_metadata_key: unit.deal_ref(deal_id)}


def _customer(cust: Customer, org_crm: str) -> Record:
    unit = crm(org_crm)
    return {
        "id": cust.id,
        "object": "customer",
        "name": cust.name,
        "email": cust.email,
        "created": cust.created,
        "currency": cust.currency,
        "metadata": (
            {unit.account_metadata_key: unit.account_ref(cust.org_id)}
            if cust.has_org_metadata
            else {}
        ),
        "address": {"country": cust.country},
        "livemode": False,
    }


def _newest_first(rows: list[Record]) -> list[Record]:
    return sorted(rows, key=lambda r: (r["created"], r["id"]), reverse=True)


def render_stripe(world: World, as_of: int) -> StripeView:
    view = StripeView(as_of=as_of)
    org_crm = {org.id: org.crm for org in world.orgs}
    deal_crm = {deal.id: deal.crm for deal in world.deals}
    subs = {s.id: s for s in world.subscriptions}
    view.customers = _newest_first(
        [_customer(c, org_crm[c.org_id]) for c in world.customers if c.created <= as_of]
    )
    refunded: dict[str, int] = {}
    inv_currency = {inv.id: inv.currency for inv in world.invoices}
    for ref in world.refunds:
        if ref.created <= as_of:
            refunded[ref.charge_id] = refunded.get(ref.charge_id, 0) + ref.amount
            view.refunds.append(_refund(ref, inv_currency[ref.invoice_id]))
    credited: dict[str, int] = {}
    for note in world.credit_notes:
        if note.created <= as_of:
            credited[note.invoice_id] = credited.get(note.invoice_id, 0) + note.amount
            view.credit_notes.append(_credit_note(note, inv_currency[note.invoice_id]))
    invoices: list[Record] = []
    charges: list[Record] = []
    past_due: set[str] = set()
    for inv in world.invoices:
        if inv.created > as_of:
            continue
        sub = subs.get(inv.subscription_id or "")
        rec = _invoice(inv, as_of, deal_crm[inv.deal_id], sub, credited.get(inv.id, 0))
        invoices.append(rec)
        if sub is not None and rec["status"] == "open" and rec["attempt_count"] >= 1:
            past_due.add(sub.id)
        for ch in inv.charges:
            if ch.created <= as_of:
                charges.append(_charge(ch, inv, refunded.get(ch.id, 0)))
    view.invoices = _newest_first(invoices)
    view.charges = _newest_first(charges)
    view.subscriptions = _newest_first(
        [
            _subscription(s, as_of, s.id in past_due, deal_crm[s.deal_id])
            for s in subs.values()
            if s.start <= as_of
        ]
    )
    view.refunds = _newest_first(view.refunds)
    view.credit_notes = _newest_first(view.credit_notes)
    view.subscription_schedules = _newest_first(
        [
            _schedule(s, change, as_of, deal_crm[s.deal_id])
            for s in subs.values()
            for change in s.changes
            if change.schedule_id and (change.schedule_created or as_of + 1) <= as_of
        ]
    )
    reminder_days = world.params.get("reminder_days") or ()
    numbers = {r["id"]: r["number"] for r in invoices}
    view.events = _newest_first(
        [
            event
            for inv in world.invoices
            if inv.created <= as_of
            for event in invoice_sent_events(inv, numbers.get(inv.id), reminder_days, as_of)
        ]
    )
    view.disputes = _newest_first(
        [
            _dispute(d, inv, as_of)
            for inv in world.invoices
            for d in inv.disputes
            if d.created <= as_of
        ]
    )
    # every change as an event (a late import: stripe_events renders with this module)
    from l2c_demo.simulator.stripe_events import change_events

    view.change_events = change_events(world, as_of)
    view.api_events = _newest_first([*view.events, *view.change_events])
    return view


def _phase(sub: Subscription, start: int, end: int, quantity: int) -> Record:
    return {
        "start_date": start,
        "end_date": end,
        "items": [{"price": _price(sub)["id"], "quantity": quantity}],
        "proration_behavior": "none",
        "currency": sub.currency,
        "metadata": {},
    }


def _schedule(sub: Subscription, change: SubscriptionChange, as_of: int, deal_crm: str) -> Record:
    """The subscription schedule that made a contraction: phase 1 the period before the change
    at the old quantity, phase 2 one period at the new; released (end_behavior release) when
    phase 2 ends, canceled with its subscription if that ends first."""
    assert change.schedule_created is not None and change.phase_end is not None
    phase_start = add_months(change.at, -sub.period_months)
    ended = _at(sub.ended_at, as_of)
    released = _at(change.phase_end, as_of) if ended is None or ended > change.phase_end else None
    canceled = ended if released is None and ended is not None else None
    if released is not None:
        status, current = "released", None
    elif canceled is not None:
        status, current = "canceled", None
    else:
        status = "active"
        current = (
            {"start_date": phase_start, "end_date": change.at}
            if as_of < change.at
            else {"start_date": change.at, "end_date": change.phase_end}
        )
    return {
        "id": change.schedule_id,
        "object": "subscription_schedule",
        "customer": sub.customer_id,
        "subscription": None if released is not None else sub.id,
        "released_subscription": sub.id if released is not None else None,
        "status": status,
        "created": change.schedule_created,
        "canceled_at": canceled,
        "completed_at": None,
        "released_at": released,
        "current_phase": current,
        "end_behavior": "release",
        "phases": [
            _phase(sub, phase_start, change.at, change.previous_quantity),
            _phase(sub, change.at, change.phase_end, change.quantity),
        ],
        "metadata": sub_metadata(sub, deal_crm),
        "livemode": False,
    }


def _dispute(d: Dispute, inv: Invoice, as_of: int) -> Record:
    """A dispute as of `as_of`: funds withdrawn when opened; a won dispute gets its reinstating
    balance transaction when closed. Stripe's object has no closing time of its own."""
    closed = _at(d.closed_at, as_of)
    if closed is not None:
        status = d.outcome
    elif as_of < d.created + 7 * 86400:
        status = "needs_response"
    else:
        status = "under_review"
    moves = [
        {
            "id": f"txn_{d.id[3:]}w",
            "object": "balance_transaction",
            "amount": -d.amount,
            "currency": inv.currency,
            "created": d.created,
            "reporting_category": "dispute",
            "type": "adjustment",
        }
    ]
    if closed is not None and d.outcome == "won":
        moves.append(
            {
                "id": f"txn_{d.id[3:]}r",
                "object": "balance_transaction",
                "amount": d.amount,
                "currency": inv.currency,
                "created": closed,
                "reporting_category": "dispute_reversal",
                "type": "adjustment",
            }
        )
    return {
        "id": d.id,
        "object": "dispute",
        "amount": d.amount,
        "currency": inv.currency,
        "charge": d.charge_id,
        "payment_intent": d.payment_intent,
        "created": d.created,
        "reason": d.reason,
        "status": status,
        "is_charge_refundable": False,
        "balance_transactions": moves,
        "evidence_details": {
            "due_by": d.created + 10 * 86400,
            "has_evidence": d.outcome == "won" or closed is None,
            "past_due": False,
            "submission_count": 1 if d.outcome == "won" else 0,
        },
        "metadata": {},
        "livemode": False,
    }
