"""Render the Stripe API objects visible at as_of."""

from __future__ import annotations

from l2c_demo.simulator.crms import crm
from l2c_demo.simulator.model import Customer, Invoice, World
from l2c_demo.simulator.views import Record, StripeView


def _at(ts: int | None, as_of: int) -> int | None:
    return ts if ts is not None and ts <= as_of else None


def _invoice(inv: Invoice, as_of: int, deal_crm: str) -> Record:
    paid = sum(ch.amount for ch in inv.charges if ch.created <= as_of)
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
        "collection_method": "send_invoice",
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
                }
                for line_id, amount, desc, qty in inv.lines
            ],
            "has_more": False,
            "url": f"/v1/invoices/{inv.id}/lines",
        },
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
    view.customers = _newest_first(
        [_customer(c, org_crm[c.org_id]) for c in world.customers if c.created <= as_of]
    )
    invoices: list[Record] = []
    charges: list[Record] = []
    for inv in world.invoices:
        if inv.created > as_of:
            continue
        invoices.append(_invoice(inv, as_of, deal_crm[inv.deal_id]))
        for ch in inv.charges:
            if ch.created > as_of:
                continue
            charges.append(
                {
                    "id": ch.id,
                    "object": "charge",
                    "amount": ch.amount,
                    "amount_captured": ch.amount,
                    "amount_refunded": 0,
                    "currency": inv.currency,
                    "created": ch.created,
                    "customer": inv.customer_id,
                    "invoice": inv.id,
                    "paid": True,
                    "status": "succeeded",
                    "refunded": False,
                    "payment_intent": ch.payment_intent,
                    "description": f"Payment for Invoice {inv.number}",
                    "livemode": False,
                }
            )
    view.invoices = _newest_first(invoices)
    view.charges = _newest_first(charges)
    return view
