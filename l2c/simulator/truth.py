"""Ground truth at as_of: counts, per-deal facts and per-invoice facts."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from l2c.simulator import clock
from l2c.simulator.catalog import PIPELINES
from l2c.simulator.clock import DAY
from l2c.simulator.config import SimConfig
from l2c.simulator.model import Deal, Invoice, World
from l2c.simulator.state import DealState
from l2c.simulator.views import PipedriveView, Record, StripeView

CUSTOMER_FACING = {"call", "email", "meeting"}


def planted_params(world: World, cfg: SimConfig) -> dict[str, Any]:
    params = dict(world.params)
    params.update(
        high_discount_rep_id=cfg.high_discount_rep_index + 1,
        slow_paying_region=cfg.slow_paying_region,
        slow_handoff_pipeline=cfg.slow_handoff_pipeline,
        follow_up_days=cfg.follow_up_days,
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


def _invoice_truth(inv: Invoice, region: str, rec: Record) -> Record:
    paid_at = rec["status_transitions"]["paid_at"]
    late = None if paid_at is None else round((paid_at - inv.due_date) / DAY, 3)
    return {
        "id": inv.id,
        "deal_id": inv.deal_id,
        "has_deal_metadata": inv.has_metadata,
        "created": inv.created,
        "due_date": inv.due_date,
        "paid_at": paid_at,
        "days_late": late,
        "partial_payments": len(inv.charges) > 1,
        "voided": rec["status"] == "void",
        "region": region,
    }


def linkable_by_rule(
    pd: PipedriveView, stripe: StripeView, window_days: int
) -> dict[str, int | None]:
    """For each invoice without deal metadata: the single deal the rule finds, else None.

    Rule: customer.metadata.pipedrive_org_id == deal.org_id, deal won at as_of, same currency,
    won_time <= invoice.created <= won_time + window_days, and invoice.total equals the deal
    value in minor units, or its half rounded down or up (split billing). The rule links only
    when exactly one deal matches.
    """
    cust_org = {
        c["id"]: int(c["metadata"]["pipedrive_org_id"])
        for c in stripe.customers
        if "pipedrive_org_id" in c["metadata"]
    }
    won_by_org: dict[int, list[tuple[int, int, str, int]]] = {}
    for d in pd.deals:
        if d["status"] == "won":
            cents = round(d["value"] * 100)
            won_ts = clock.parse_rfc3339(d["won_time"])
            row = (d["id"], won_ts, d["currency"].lower(), cents)
            won_by_org.setdefault(d["org_id"], []).append(row)
    out: dict[str, int | None] = {}
    for inv in stripe.invoices:
        if inv["metadata"].get("pipedrive_deal_id"):
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


def build_truth(
    world: World,
    cfg: SimConfig,
    as_of: int,
    pd: PipedriveView,
    states: dict[int, DealState],
    stripe: StripeView,
) -> dict[str, Any]:
    inv_recs = {r["id"]: r for r in stripe.invoices}
    deals_by_id = {d.id: d for d in world.deals}
    inv_by_deal: dict[int, list[str]] = {}
    invoices: list[Record] = []
    for inv in world.invoices:
        if inv.id in inv_recs:
            inv_by_deal.setdefault(inv.deal_id, []).append(inv.id)
            region = deals_by_id[inv.deal_id].region
            invoices.append(_invoice_truth(inv, region, inv_recs[inv.id]))
    deals = [
        _deal_truth(world, cfg, d, states[d.id], as_of, inv_by_deal.get(d.id, []))
        for d in world.deals
        if d.id in states
    ]
    true_deal = {inv.id: inv.deal_id for inv in world.invoices}
    links = linkable_by_rule(pd, stripe, cfg.link_rule_window_days)
    flows = [ch for st in states.values() for ch in st.flow]
    counts = {
        "deals": len(pd.deals),
        "won": sum(1 for d in pd.deals if d["status"] == "won"),
        "lost": sum(1 for d in pd.deals if d["status"] == "lost"),
        "open": sum(1 for d in pd.deals if d["status"] == "open"),
        "leads": len(pd.leads),
        "leads_converted": sum(
            1
            for lead in world.leads
            if lead.converted_deal_id is not None
            and lead.archived_at is not None
            and lead.archived_at <= as_of
        ),
        "activities": len(pd.activities),
        "quotes": sum(1 for a in pd.activities if a["type"] == "quote"),
        "stage_changes": sum(1 for ch in flows if ch.field_key == "stage_id"),
        "flow_changes": len(flows),
        "deal_products": len(pd.deal_products),
        "deal_discounts": sum(len(v) for v in pd.deal_discounts.values()),
        "invoices": len(stripe.invoices),
        "invoices_with_deal_metadata": sum(1 for i in stripe.invoices if i["metadata"]),
        "invoices_linkable_by_rule": sum(
            1 for inv_id, deal_id in links.items() if deal_id == true_deal[inv_id]
        ),
        "charges": len(stripe.charges),
        "customers": len(stripe.customers),
    }
    return {
        "seed": cfg.seed,
        "as_of": clock.v2(as_of),
        "n_deals_config": cfg.n_deals,
        "params": planted_params(world, cfg),
        "counts": counts,
        "deals": deals,
        "invoices": invoices,
    }
