"""Ground truth at as_of: counts, per-deal facts and per-invoice facts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from itertools import pairwise
from typing import Any

from l2c_demo.simulator import clock
from l2c_demo.simulator.approvals import ApprovalRequest, Contract
from l2c_demo.simulator.catalog import PIPELINES, PRODUCTS
from l2c_demo.simulator.clock import DAY
from l2c_demo.simulator.config import SimConfig
from l2c_demo.simulator.crms import CRMS, case_id
from l2c_demo.simulator.dunning import EVENTS_KEPT_DAYS, reminder_times
from l2c_demo.simulator.leadphase import lead_phase_truth
from l2c_demo.simulator.model import Deal, Invoice, World
from l2c_demo.simulator.orders import SalesOrder
from l2c_demo.simulator.render_zendesk_sell import lead_unqualified_truth
from l2c_demo.simulator.segments import campaign_truth, product_category_plant, segment_truth
from l2c_demo.simulator.state import DealState
from l2c_demo.simulator.subscriptions import expansion_cohort_quarter
from l2c_demo.simulator.views import PipedriveView, Record, StripeView

CUSTOMER_FACING = {"call", "email", "meeting"}


def planted_params(world: World, cfg: SimConfig) -> dict[str, Any]:
    params = dict(world.params)
    params.update(
        high_discount_rep_id=cfg.high_discount_rep_index + 1,
        slow_paying_region=cfg.slow_paying_region,
        slow_handoff_pipeline=cfg.slow_handoff_pipeline,
        churn_heavy_product=cfg.churn_heavy_product,
        poor_recovery_region=cfg.poor_recovery_region,
        follow_up_days=cfg.follow_up_days,
        approval_threshold_pct=cfg.approval_threshold_pct,
        slow_signature_region=cfg.slow_signature_region,
        region_field_key=world.region_field_key,
        discount_field_key=world.discount_field_key,
        teams={
            name: [r.id for r in world.reps if r.team_index == i]
            for i, (_, name, _) in enumerate(world.teams)
        },
    )
    return params


def _stage_facts(deal: Deal, st: DealState) -> tuple[list[str], int]:
    canonical = PIPELINES[deal.pipeline]
    order = [canonical.index(s) for s in st.stages_entered]
    backward = sum(1 for a, b in pairwise(order) if b < a)
    furthest = len(canonical) - 1 if st.status == "won" else max(order)
    entered = set(st.stages_entered)
    skipped = [s for s in canonical[: furthest + 1] if s not in entered]
    return skipped, backward


def _follow_up(deal: Deal, as_of: int, days: float) -> tuple[int, bool | None]:
    quotes = [a.due_time for a in deal.activities if a.type == "quote" and a.due_time <= as_of]
    if not quotes:
        return 0, None
    last = max(quotes)
    window = int(days * DAY)
    for act in deal.activities:
        if act.type in CUSTOMER_FACING and last < act.due_time <= min(last + window, as_of):
            return len(quotes), True
    if last + window > as_of:
        return len(quotes), None  # censored: the window has not ended yet
    return len(quotes), False


def _deal_truth(
    world: World, cfg: SimConfig, deal: Deal, st: DealState, as_of: int, inv_ids: list[str]
) -> Record:
    skipped, backward = _stage_facts(deal, st)
    n_quotes, follow = _follow_up(deal, as_of, cfg.follow_up_days)
    list_cents = sum(line.list_cents() for line in deal.lines if line.add_time <= as_of)
    value_cents = round(st.value * 100)
    rep = world.reps[st.owner_id - 1]
    return {
        "id": deal.id,
        "crm": deal.crm,
        "case_id": case_id(deal.crm, deal.id),
        "owner_id": st.owner_id,
        "team": world.teams[rep.team_index][1],
        "region": deal.region,
        "pipeline": deal.pipeline,
        "outcome": st.status,
        "lost_reason": st.lost_reason if st.status == "lost" else None,
        "add_time": clock.v2(deal.add_time),
        "close_time": clock.v2(st.close_time),
        "stages_entered": st.stages_entered,
        "skipped_stages": skipped,
        "backward_moves": backward,
        "quotes_sent": n_quotes,
        "follow_up_within_days": follow,
        "discount_pct_value_weighted": (
            round((list_cents - value_cents) / list_cents, 6) if list_cents else 0.0
        ),
        "invoice_ids": inv_ids,
    }


def _invoice_truth(inv: Invoice, deal: Deal, rec: Record) -> Record:
    paid_at = rec["status_transitions"]["paid_at"]
    due = inv.due_date
    late = None if paid_at is None or due is None else round((paid_at - due) / DAY, 3)
    return {
        "id": inv.id,
        "deal_id": inv.deal_id,
        "deal_case_id": case_id(deal.crm, deal.id),
        "has_deal_metadata": inv.has_metadata,
        "created": inv.created,
        "due_date": inv.due_date,
        "paid_at": paid_at,
        "days_late": late,
        "partial_payments": len(inv.charges) > 1,
        "voided": rec["status"] == "void",
        "region": deal.region,
        "subscription_id": inv.subscription_id,
        "billing_reason": inv.billing_reason,
        "written_off_at": rec["status_transitions"]["marked_uncollectible_at"],
    }


def linkable_by_rule(
    world: World, states: dict[int, DealState], stripe: StripeView, window_days: int
) -> dict[str, int | None]:
    """For each invoice without deal metadata: the single deal the rule finds, else None.

    Rule: the customer's CRM account metadata (e.g. pipedrive_org_id) names the deal's account,
    deal won at as_of, same currency, won_time <= invoice.created <= won_time + window_days, and
    invoice.total equals the deal value in minor units, or its half rounded down or up (split
    billing). The rule links only when exactly one deal matches.
    """
    account_keys = {
        (unit.account_metadata_key, unit.account_ref(org.id)): org.id
        for org in world.orgs
        for unit in (CRMS[org.crm],)
    }
    cust_org: dict[str, int] = {}
    for c in stripe.customers:
        for key, value in c["metadata"].items():
            if (key, value) in account_keys:
                cust_org[c["id"]] = account_keys[(key, value)]
    won_by_org: dict[int, list[tuple[int, int, str, int]]] = {}
    for d in world.deals:
        st = states.get(d.id)
        if st is not None and st.status == "won" and st.won_time is not None:
            row = (d.id, st.won_time, d.currency.lower(), round(st.value * 100))
            won_by_org.setdefault(d.org_id, []).append(row)
    deal_keys = {unit.deal_metadata_key for unit in CRMS.values()}
    out: dict[str, int | None] = {}
    for inv in stripe.invoices:
        if deal_keys & set(inv["metadata"]):
            continue
        org = cust_org.get(inv["customer"])
        matches = [
            deal_id
            for deal_id, won_ts, cur, cents in won_by_org.get(org or -1, [])
            if cur == inv["currency"]
            and won_ts <= inv["created"] <= won_ts + window_days * DAY
            and inv["total"] in (cents, cents // 2, cents - cents // 2)
        ]
        out[inv["id"]] = matches[0] if len(matches) == 1 else None
    return out


def lead_source_truth(
    world: World, states: dict[int, DealState], as_of: int
) -> list[dict[str, Any]]:
    """Per (crm, abstract lead source): leads created by as_of, those converted into a deal
    by as_of, and those deals won / lost by as_of."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for lead in world.leads:
        if lead.add_time > as_of:
            continue
        row = out.setdefault(
            (lead.crm, lead.source_name),
            {"crm": lead.crm, "source": lead.source_name, "leads": 0, "converted": 0},
        )
        row["leads"] += 1
        for key in ("won", "lost"):
            row.setdefault(key, 0)
        converted = lead.converted_deal_id is not None and (lead.archived_at or as_of + 1) <= as_of
        st = states.get(lead.converted_deal_id or -1)
        if converted and st is not None:
            row["converted"] += 1
            if st.status in ("won", "lost"):
                row[st.status] += 1
    return sorted(out.values(), key=lambda r: (r["crm"], r["source"]))


def _outcome_counts(
    world: World, states: dict[int, DealState], as_of: int, crm: str | None
) -> dict[str, int]:
    deals = [d for d in world.deals if d.id in states and crm in (None, d.crm)]
    leads = [lead for lead in world.leads if lead.add_time <= as_of and crm in (None, lead.crm)]
    return {
        "deals": len(deals),
        "won": sum(1 for d in deals if states[d.id].status == "won"),
        "lost": sum(1 for d in deals if states[d.id].status == "lost"),
        "open": sum(1 for d in deals if states[d.id].status == "open"),
        "leads": len(leads),
        "leads_converted": sum(
            1
            for lead in leads
            if lead.converted_deal_id is not None
            and lead.archived_at is not None
            and lead.archived_at <= as_of
        ),
        "leads_converted_without_deal": sum(
            1
            for lead in leads
            if lead.converted_without_deal
            and lead.archived_at is not None
            and lead.archived_at <= as_of
        ),
        "leads_disqualified": sum(
            1
            for lead in leads
            if lead.converted_deal_id is None
            and not lead.converted_without_deal
            and lead.archived_at is not None
            and lead.archived_at <= as_of
        ),
    }


def build_truth(
    world: World,
    cfg: SimConfig,
    as_of: int,
    pd: PipedriveView,
    states: dict[int, DealState],
    stripe: StripeView,
    orders: Sequence[SalesOrder] = (),
    approvals: Sequence[ApprovalRequest] = (),
    contracts: Sequence[Contract] = (),
) -> dict[str, Any]:
    """`states`: every deal that exists at as_of, in every CRM. Counts cover all CRMs, except
    the Pipedrive object counts (activities ... deal_discounts), which describe its API."""
    inv_recs = {r["id"]: r for r in stripe.invoices}
    deals_by_id = {d.id: d for d in world.deals}
    inv_by_deal: dict[int, list[str]] = {}
    invoices: list[Record] = []
    for inv in world.invoices:
        if inv.id in inv_recs:
            inv_by_deal.setdefault(inv.deal_id, []).append(inv.id)
            invoices.append(_invoice_truth(inv, deals_by_id[inv.deal_id], inv_recs[inv.id]))
    deals = [
        _deal_truth(world, cfg, d, states[d.id], as_of, inv_by_deal.get(d.id, []))
        for d in world.deals
        if d.id in states
    ]
    true_deal = {inv.id: inv.deal_id for inv in world.invoices}
    links = linkable_by_rule(world, states, stripe, cfg.link_rule_window_days)
    pd_flows = [
        ch
        for d in world.deals
        if d.crm == "pipedrive" and d.id in states
        for ch in states[d.id].flow
    ]
    deal_keys = {unit.deal_metadata_key for unit in CRMS.values()}
    counts = {
        **_outcome_counts(world, states, as_of, None),
        "activities": len(pd.activities),
        "quotes": sum(1 for a in pd.activities if a["type"] == "quote"),
        "stage_changes": sum(1 for ch in pd_flows if ch.field_key == "stage_id"),
        "flow_changes": len(pd_flows),
        "deal_products": len(pd.deal_products),
        "product_fields": len(pd.product_fields),
        "product_field_options": sum(len(f["options"] or []) for f in pd.product_fields),
        "deal_discounts": sum(len(v) for v in pd.deal_discounts.values()),
        "invoices": len(stripe.invoices),
        "invoices_with_deal_metadata": sum(
            1 for i in stripe.invoices if deal_keys & set(i["metadata"])
        ),
        "invoices_linkable_by_rule": sum(
            1 for inv_id, deal_id in links.items() if deal_id == true_deal[inv_id]
        ),
        "charges": len(stripe.charges),
        "customers": len(stripe.customers),
        "subscriptions": len(stripe.subscriptions),
        "refunds": len(stripe.refunds),
        "credit_notes": len(stripe.credit_notes),
        "failed_charges": sum(1 for c in stripe.charges if c["status"] == "failed"),
        "subscription_schedules": len(stripe.subscription_schedules),
        "disputes": len(stripe.disputes),
        "events": len(stripe.events),
    }
    return {
        "seed": cfg.seed,
        "as_of": clock.v2(as_of),
        "n_deals_config": cfg.n_deals,
        "crms": list(cfg.crms),
        "params": planted_params(world, cfg),
        "counts": counts,
        "counts_by_crm": {c: _outcome_counts(world, states, as_of, c) for c in cfg.crms},
        "deals": deals,
        "lead_sources": lead_source_truth(world, states, as_of),
        "campaigns": campaign_truth(world, states, as_of),
        # Zendesk Sell leads closed as Unqualified, per (lead source, reason)
        "lead_unqualified_reasons": lead_unqualified_truth(world, as_of),
        "segments": segment_truth(world, states),
        "product_category_plant": product_category_plant(),
        "invoices": invoices,
        "orders": [
            {
                "number": o.number,
                "deal_case_id": case_id(o.crm, o.deal_id),
                "created": o.created,
                "fulfilled": o.fulfilled_at(as_of),
            }
            for o in orders
            if o.visible(as_of)
        ],
        # first contacts, qualifications and owner changes (l2c_demo.simulator.leadphase)
        "lead_phase": lead_phase_truth(cfg, world.leads, world.deals, as_of),
        # approval requests and contracts (every CRM: which one shows them is the loader's
        # business); times are unix seconds, users rep ids; None = not yet at as_of
        "approvals": [
            {
                "number": a.number,
                "deal_case_id": case_id(a.crm, a.deal_id),
                "crm": a.crm,
                "discount_pct": a.discount_pct,
                "requested": a.requested,
                "requested_by": a.requested_by,
                "decided": a.decided_at(as_of),
                "approver": a.approver,
                "approved": a.approved if a.decided_at(as_of) is not None else None,
            }
            for a in approvals
            if a.visible(as_of)
        ],
        "contracts": [
            {
                "number": c.number,
                "deal_case_id": case_id(c.crm, c.deal_id),
                "crm": c.crm,
                "region": deals_by_id[c.deal_id].region,
                "sent": c.sent,
                "sent_by": c.sent_by,
                "signed": c.signed_at(as_of),
                "signed_by": c.signed_by if c.signed_at(as_of) is not None else None,
            }
            for c in contracts
            if c.visible(as_of)
        ],
        **after_the_sale(world, states, stripe, as_of),
        **revenue_truth(world, as_of),
    }


def after_the_sale(
    world: World, states: dict[int, DealState], stripe: StripeView, as_of: int
) -> dict[str, list[Record]]:
    """Subscriptions (renewals and cancellations), failed payments (recovered or written off),
    refunds and credit notes visible at as_of: times are unix seconds, amounts minor units."""
    deals = {d.id: d for d in world.deals}
    visible = {r["id"] for r in stripe.subscriptions}
    sub_rows: list[Record] = []
    for sub in world.subscriptions:
        if sub.id not in visible:
            continue
        deal = deals[sub.deal_id]
        sub_rows.append(
            {
                "id": sub.id,
                "deal_case_id": case_id(deal.crm, deal.id),
                "region": deal.region,
                "owner_id": states[deal.id].owner_id,
                "product": PRODUCTS[sub.product_index][0],
                "interval": sub.interval,
                "term_months": sub.term_months,
                "start": sub.start,
                "renewals": [t for t in sub.renewals if t <= as_of],
                "canceled_at": sub.canceled_at if (sub.canceled_at or as_of + 1) <= as_of else None,
                "ended_at": sub.ended_at if (sub.ended_at or as_of + 1) <= as_of else None,
                "cancel_reason": sub.cancel_reason
                if (sub.canceled_at or as_of + 1) <= as_of
                else None,
            }
        )
    failed: list[Record] = []
    write_offs: list[Record] = []
    for inv in world.invoices:
        if inv.created > as_of:
            continue
        deal = deals[inv.deal_id]
        paid = inv.paid_at if (inv.paid_at or as_of + 1) <= as_of else None
        off = inv.uncollectible_at if (inv.uncollectible_at or as_of + 1) <= as_of else None
        if off is not None and paid is None:
            write_offs.append(
                {"invoice_id": inv.id, "at": off, "amount": inv.total, "region": deal.region}
            )
        for ch in inv.charges:
            if ch.failure_code is not None and ch.created <= as_of:
                failed.append(
                    {
                        "charge_id": ch.id,
                        "invoice_id": inv.id,
                        "subscription_id": inv.subscription_id,
                        "deal_case_id": case_id(deal.crm, deal.id),
                        "region": deal.region,
                        "created": ch.created,
                        "amount": ch.amount,
                        "failure_code": ch.failure_code,
                        "recovered_at": paid,
                        "written_off_at": off,
                    }
                )
    refunds = [
        {
            "id": r.id,
            "charge_id": r.charge_id,
            "invoice_id": r.invoice_id,
            "created": r.created,
            "amount": r.amount,
            "reason": r.reason,
        }
        for r in world.refunds
        if r.created <= as_of
    ]
    notes = [
        {
            "id": n.id,
            "invoice_id": n.invoice_id,
            "created": n.created,
            "amount": n.amount,
            "reason": n.reason,
        }
        for n in world.credit_notes
        if n.created <= as_of
    ]
    return {
        **changes_and_dunning(world, as_of),
        "subscriptions": sub_rows,
        "failed_payments": failed,
        "write_offs": write_offs,
        "refunds": refunds,
        "credit_notes": notes,
    }


def changes_and_dunning(world: World, as_of: int) -> dict[str, list[Record]]:
    """Subscription changes (expansions prorated at once, contractions from a period start by
    a schedule), automatic payment retries (every attempt after an invoice's first failed one)
    and disputes visible at as_of; times unix seconds, amounts minor units."""
    deals = {d.id: d for d in world.deals}
    changes: list[Record] = []
    for sub in world.subscriptions:
        deal = deals[sub.deal_id]
        for change in sub.changes:
            if change.at <= as_of:
                months = 1 if sub.interval == "month" else 12
                changes.append(
                    {
                        "subscription_id": sub.id,
                        "customer_id": sub.customer_id,
                        "deal_case_id": case_id(deal.crm, deal.id),
                        "at": change.at,
                        "kind": change.kind,
                        "previous_quantity": change.previous_quantity,
                        "quantity": change.quantity,
                        "mrr_delta_minor": (change.quantity - change.previous_quantity)
                        * sub.unit_amount
                        / months,
                        "invoice_id": change.invoice_id,
                        "schedule_id": change.schedule_id,
                    }
                )
    retries: list[Record] = []
    disputes: list[Record] = []
    for inv in world.invoices:
        deal = deals[inv.deal_id]
        attempts = sorted(
            (ch for ch in inv.charges if ch.created <= as_of), key=lambda c: c.created
        )
        first_failure = next((i for i, ch in enumerate(attempts) if ch.failure_code), None)
        if first_failure is not None:
            retries.extend(
                {
                    "charge_id": ch.id,
                    "invoice_id": inv.id,
                    "deal_case_id": case_id(deal.crm, deal.id),
                    "created": ch.created,
                    "succeeded": ch.failure_code is None,
                }
                for ch in attempts[first_failure + 1 :]
            )
        for d in inv.disputes:
            if d.created <= as_of:
                closed = d.closed_at <= as_of
                disputes.append(
                    {
                        "id": d.id,
                        "charge_id": d.charge_id,
                        "invoice_id": inv.id,
                        "deal_case_id": case_id(deal.crm, deal.id),
                        "created": d.created,
                        "amount": d.amount,
                        "reason": d.reason,
                        "status": d.outcome if closed else "open",
                        # Stripe shows when a dispute closed only for a won one
                        "closed_at": d.closed_at if closed else None,
                    }
                )
    reminder_days = world.params.get("reminder_days") or ()
    reminders = [
        {
            "invoice_id": inv.id,
            "deal_case_id": case_id(deals[inv.deal_id].crm, inv.deal_id),
            "at": at,
            # only the Events API shows a reminder, and only for 30 days
            "in_events_window": at > as_of - EVENTS_KEPT_DAYS * DAY,
        }
        for inv in world.invoices
        for at in reminder_times(inv, reminder_days)
        if at <= as_of
    ]
    return {
        "subscription_changes": changes,
        "payment_retries": retries,
        "disputes": disputes,
        "reminders": reminders,
    }


def _month_slices(start: int, end: int) -> list[tuple[str, int, int]]:
    """(month 'YYYY-MM-01', slice start, slice end) of [start, end) by calendar month (UTC)."""
    out: list[tuple[str, int, int]] = []
    moment = datetime.fromtimestamp(start, tz=timezone.utc)
    month = datetime(moment.year, moment.month, 1, tzinfo=timezone.utc)
    while int(month.timestamp()) < end:
        following = datetime(
            month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=timezone.utc
        )
        lo, hi = max(start, int(month.timestamp())), min(end, int(following.timestamp()))
        out.append((month.date().isoformat(), lo, hi))
        month = following
    return out


def _half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero, in integers."""
    sign = -1 if (numerator < 0) != (denominator < 0) else 1
    return sign * ((2 * abs(numerator) + abs(denominator)) // (2 * abs(denominator)))


def revenue_truth(world: World, as_of: int) -> dict[str, list[Record]]:
    """Revenue recognition and amount mismatches planted at as_of (unix seconds, minor units).

    recognized_revenue: each line of a finalized subscription invoice, straight line over its
    service period by the second, per calendar month (a month's amount = amount x seconds up
    to the slice end / period seconds - the same up to the slice start, each rounded half away
    from zero), every month of the period (also those after as_of).
    invoices_without_service_period: the finalized subscription invoices whose line is sent
    without its period (recognised at the invoice date, not in recognized_revenue).
    amount_mismatches: the deals whose single invoice was planted above or below the won
    value, when that invoice is finalized by as_of and names its deal in its metadata."""
    deals = {d.id: d for d in world.deals}
    recognized: list[Record] = []
    mismatches: list[Record] = []
    hidden: list[str] = []
    for inv in world.invoices:
        if inv.finalized_at > as_of or (inv.voided_at is not None and inv.voided_at <= as_of):
            continue
        deal = deals[inv.deal_id]
        if inv.subscription_id is not None and inv.period_hidden:
            hidden.append(inv.id)
        elif inv.subscription_id is not None and inv.period is not None:
            start, end = inv.period
            for line_id, amount, _, _ in inv.lines:
                for month, lo, hi in _month_slices(start, end):
                    recognized.append(
                        {
                            "invoice_id": inv.id,
                            "line_id": line_id,
                            "subscription_id": inv.subscription_id,
                            "deal_case_id": case_id(deal.crm, deal.id),
                            "month": month,
                            "amount": _half_up(amount * (hi - start), end - start)
                            - _half_up(amount * (lo - start), end - start),
                        }
                    )
        if inv.planted_mismatch is not None and inv.has_metadata:
            mismatches.append(
                {
                    "deal_case_id": case_id(deal.crm, deal.id),
                    "invoice_id": inv.id,
                    "kind": inv.planted_mismatch,
                    "deal_amount": deal.won_value_cents,
                    "invoiced_amount": inv.total,
                }
            )
    return {
        "recognized_revenue": recognized,
        "amount_mismatches": mismatches,
        "invoices_without_service_period": hidden,
    }


def expansion_cohort_truth(cfg: SimConfig, world: World) -> Record:
    """The planted cohort effect: the start quarter whose customers expand most (its first
    day, ISO), the customers' first subscriptions started in it, and those that expanded."""
    start, end = expansion_cohort_quarter(cfg)
    seen: set[str] = set()
    firsts = []
    for sub in world.subscriptions:  # in the order they were sold
        if sub.customer_id not in seen and start <= sub.start < end:
            firsts.append(sub)
        seen.add(sub.customer_id)
    return {
        "quarter": datetime.fromtimestamp(start, tz=timezone.utc).date().isoformat(),
        "expansion_share": cfg.cohort_expansion_share,
        "subscriptions": sorted(s.id for s in firsts),
        "expanded": sorted(s.id for s in firsts if any(c.kind == "expansion" for c in s.changes)),
    }
