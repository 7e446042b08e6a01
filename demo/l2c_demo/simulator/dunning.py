"""Invoice reminder emails and the Stripe events that are their only trace.

Stripe sends an invoice email when a `send_invoice` invoice is finalized and, with reminders
on, again some days after its due date while it is unpaid; each email is an `invoice.sent`
event ("occurs whenever an invoice email is sent out"). No object records them, and the Events
API keeps 30 days: a reminder older than that at the first load is gone. Deterministic (no
random draws): `SimConfig.reminder_days` after the due date, while the invoice is still open.
"""

from __future__ import annotations

import hashlib

from l2c_demo.simulator.clock import DAY
from l2c_demo.simulator.model import Invoice
from l2c_demo.simulator.views import Record

EVENTS_KEPT_DAYS = 30  # Stripe's Events API retention


def reminder_times(inv: Invoice, reminder_days: list[int] | tuple[int, ...]) -> list[int]:
    """When reminders go out for a `send_invoice` invoice: each of `reminder_days` after its
    due date before it was paid, voided or written off."""
    if inv.due_date is None or inv.subscription_id is not None:
        return []
    ends = [t for t in (inv.paid_at, inv.voided_at, inv.uncollectible_at) if t is not None]
    settled = min(ends) if ends else None
    times = [inv.due_date + int(days * DAY) for days in reminder_days]
    return [t for t in times if settled is None or t < settled]


def _event_id(invoice_id: str, at: int) -> str:
    return "evt_" + hashlib.sha1(f"{invoice_id}:{at}".encode()).hexdigest()[:24]


def invoice_sent_events(
    inv: Invoice, number: str | None, reminder_days: list[int] | tuple[int, ...], as_of: int
) -> list[Record]:
    """The `invoice.sent` events of an invoice still in the Events API at as_of: the email at
    its finalization (a `send_invoice` invoice) and each reminder."""
    if inv.due_date is None or inv.subscription_id is not None:
        return []
    times = [inv.finalized_at, *reminder_times(inv, reminder_days)]
    return [
        {
            "id": _event_id(inv.id, at),
            "object": "event",
            "type": "invoice.sent",
            "created": at,
            "api_version": "2025-03-31.basil",
            "livemode": False,
            "data": {
                "object": {
                    "id": inv.id,
                    "object": "invoice",
                    "customer": inv.customer_id,
                    "number": number,
                    "collection_method": "send_invoice",
                    "due_date": inv.due_date,
                }
            },
        }
        for at in times
        if as_of - EVENTS_KEPT_DAYS * DAY < at <= as_of
    ]
