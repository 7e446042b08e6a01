"""The Stripe events of every change the simulator makes to a Stripe object, as the Events API
lists them at as_of (the last 30 days): each event's `data.object` is the whole object as it
was right after the change, rendered by the same functions as the list endpoints.

An object's possible change times are the model times that move one of its rendered fields
(a payment attempt, a refund, a period boundary, ...). The object is rendered at each of them
inside the window and an event is emitted where the rendering differs from the one before
(`*.created` at the object's creation), so a missing time shows up as an event stream whose
last state differs from the list endpoint's."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from l2c_demo.simulator.dunning import EVENTS_KEPT_DAYS
from l2c_demo.simulator.model import Invoice, Subscription, World
from l2c_demo.simulator.render_stripe import (
    _charge,
    _credit_note,
    _customer,
    _dispute,
    _invoice,
    _refund,
    _schedule,
    _subscription,
)
from l2c_demo.simulator.subscriptions import add_months
from l2c_demo.simulator.views import Record

DAY = 86400
API_VERSION = "2025-03-31.basil"
INVOICE_STATUS_EVENTS = {
    "open": "invoice.finalized",
    "paid": "invoice.paid",
    "void": "invoice.voided",
    "uncollectible": "invoice.marked_uncollectible",
}


def _event_id(object_id: str, at: int, kind: str) -> str:
    return "evt_" + hashlib.sha1(f"{object_id}:{at}:{kind}".encode()).hexdigest()[:24]


def _event(kind: str, at: int, state: Record) -> Record:
    return {
        "id": _event_id(str(state["id"]), at, kind),
        "object": "event",
        "type": kind,
        "created": at,
        "api_version": API_VERSION,
        "livemode": False,
        "data": {"object": state},
    }


def _changes(
    created: int,
    times: Iterable[int | None],
    render: Callable[[int], Record],
    kind: Callable[[Record | None, Record], str],
    since: int,
    as_of: int,
) -> list[Record]:
    """The events of one object: one at each time in (since, as_of] where its rendering
    changed (or it was created)."""
    window = sorted({t for t in (created, *times) if t is not None and since < t <= as_of})
    window = [t for t in window if t >= created]
    if not window:
        return []
    before = render(since) if created <= since else None
    out = []
    for at in window:
        state = render(at)
        if before is None or state != before:
            out.append(_event(kind(before, state), at, state))
        before = state
    return out


def _invoice_kind(before: Record | None, state: Record) -> str:
    if before is None:
        return "invoice.created"
    if state["status"] != before["status"]:
        return INVOICE_STATUS_EVENTS.get(state["status"], "invoice.updated")
    if state["attempt_count"] > before["attempt_count"] and state["status"] == "open":
        return "invoice.payment_failed"
    return "invoice.updated"


def _past_due(invoices: list[Invoice], at: int) -> bool:
    """As render_stripe marks a subscription past_due: an open invoice already attempted."""
    for inv in invoices:
        if inv.created > at or inv.finalized_at is None or inv.finalized_at > at:
            continue
        if any(t is not None and t <= at for t in (inv.paid_at, inv.voided_at)):
            continue
        if inv.uncollectible_at is not None and inv.uncollectible_at <= at:
            continue
        if any(ch.created <= at for ch in inv.charges):
            return True
    return False


def _invoice_times(inv: Invoice, notes: list[int]) -> list[int | None]:
    return [
        inv.finalized_at,
        inv.paid_at,
        inv.voided_at,
        inv.uncollectible_at,
        *(ch.created for ch in inv.charges),
        *notes,
    ]


def _period_starts(sub: Subscription, as_of: int) -> list[int]:
    out, k = [], 1
    while (start := add_months(sub.start, k * sub.period_months)) <= as_of:
        out.append(start)
        k += 1
    return out


def change_events(world: World, as_of: int) -> list[Record]:
    """Every change event still in the Events API at as_of (not sorted)."""
    since = as_of - EVENTS_KEPT_DAYS * DAY
    org_crm = {org.id: org.crm for org in world.orgs}
    deal_crm = {deal.id: deal.crm for deal in world.deals}
    subs = {s.id: s for s in world.subscriptions}
    currency = {inv.id: inv.currency for inv in world.invoices}
    by_id = {inv.id: inv for inv in world.invoices}
    refunds_of: dict[str, list[tuple[int, int]]] = {}
    for ref in world.refunds:
        refunds_of.setdefault(ref.charge_id, []).append((ref.created, ref.amount))
    notes_of: dict[str, list[tuple[int, int]]] = {}
    for note in world.credit_notes:
        notes_of.setdefault(note.invoice_id, []).append((note.created, note.amount))
    sub_invoices: dict[str, list[Invoice]] = {}
    for inv in world.invoices:
        if inv.subscription_id:
            sub_invoices.setdefault(inv.subscription_id, []).append(inv)
    events: list[Record] = []
    for cust in world.customers:
        if since < cust.created <= as_of:
            events.append(
                _event("customer.created", cust.created, _customer(cust, org_crm[cust.org_id]))
            )
    for ref in world.refunds:
        if since < ref.created <= as_of:
            events.append(
                _event("refund.created", ref.created, _refund(ref, currency[ref.invoice_id]))
            )
    for note in world.credit_notes:
        if since < note.created <= as_of:
            state = _credit_note(note, currency[note.invoice_id])
            events.append(_event("credit_note.created", note.created, state))
    for inv in world.invoices:
        events.extend(_invoice_events(inv, subs, deal_crm, notes_of, refunds_of, since, as_of))
    for sub in subs.values():
        events.extend(
            _subscription_events(sub, sub_invoices.get(sub.id, []), deal_crm, since, as_of)
        )
    for inv in by_id.values():
        for d in inv.disputes:
            events.extend(
                _changes(
                    d.created,
                    (d.created + 7 * DAY, d.closed_at),
                    lambda at, d=d, inv=inv: _dispute(d, inv, at),
                    lambda before, state: (
                        "charge.dispute.created"
                        if before is None
                        else "charge.dispute.closed"
                        if state["status"] in ("won", "lost")
                        else "charge.dispute.updated"
                    ),
                    since,
                    as_of,
                )
            )
    return events


def _invoice_events(
    inv: Invoice,
    subs: dict[str, Subscription],
    deal_crm: dict[int, str],
    notes_of: dict[str, list[tuple[int, int]]],
    refunds_of: dict[str, list[tuple[int, int]]],
    since: int,
    as_of: int,
) -> list[Record]:
    notes = notes_of.get(inv.id, [])
    times = _invoice_times(inv, [t for t, _ in notes])
    if inv.created > as_of or not any(
        t is not None and since < t <= as_of
        for t in (inv.created, *times, *_refund_times(inv, refunds_of))
    ):
        return []
    sub = subs.get(inv.subscription_id or "")
    crm_name = deal_crm[inv.deal_id]

    def render(at: int) -> Record:
        credited = sum(amount for t, amount in notes if t <= at)
        return _invoice(inv, at, crm_name, sub, credited)

    out = _changes(inv.created, times, render, _invoice_kind, since, as_of)
    for ch in inv.charges:
        refunds = refunds_of.get(ch.id, [])

        def render_charge(at: int, ch=ch, refunds=refunds) -> Record:
            return _charge(ch, inv, sum(amount for t, amount in refunds if t <= at))

        out.extend(
            _changes(
                ch.created,
                [t for t, _ in refunds],
                render_charge,
                lambda before, state: (
                    ("charge.failed" if state["failure_code"] else "charge.succeeded")
                    if before is None
                    else "charge.refunded"
                ),
                since,
                as_of,
            )
        )
    return out


def _refund_times(inv: Invoice, refunds_of: dict[str, list[tuple[int, int]]]) -> list[int]:
    return [t for ch in inv.charges for t, _ in refunds_of.get(ch.id, [])]


def _subscription_events(
    sub: Subscription,
    invoices: list[Invoice],
    deal_crm: dict[int, str],
    since: int,
    as_of: int,
) -> list[Record]:
    if sub.start > as_of:
        return []
    crm_name = deal_crm[sub.deal_id]
    times: list[int | None] = [
        sub.canceled_at,
        sub.ended_at,
        *(c.at for c in sub.changes),
        *_period_starts(sub, as_of),
        *(inv.created for inv in invoices),
        *(t for inv in invoices for t in _invoice_times(inv, [])),
    ]
    out = _changes(
        sub.start,
        times,
        lambda at: _subscription(sub, at, _past_due(invoices, at), crm_name),
        lambda before, state: (
            "customer.subscription.created"
            if before is None
            else "customer.subscription.deleted"
            if state["status"] == "canceled" and before["status"] != "canceled"
            else "customer.subscription.updated"
        ),
        since,
        as_of,
    )
    for change in sub.changes:
        if not change.schedule_id or change.schedule_created is None:
            continue
        out.extend(
            _changes(
                change.schedule_created,
                (change.at, change.phase_end, sub.ended_at),
                lambda at, change=change: _schedule(sub, change, at, crm_name),
                lambda before, state: (
                    "subscription_schedule.created"
                    if before is None
                    else f"subscription_schedule.{state['status']}"
                    if state["status"] in ("released", "canceled")
                    else "subscription_schedule.updated"
                ),
                since,
                as_of,
            )
        )
    return out
