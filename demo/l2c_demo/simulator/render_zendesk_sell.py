"""Render the Zendesk Sell (Core API v2) objects of the zendesk_sell business unit at as_of.

Zendesk Sell names things its own way, and this module is where the abstract company is
translated:

- Pipelines hold stages with a category: `incoming` (the first stage), `in_progress`, `won`,
  `lost` and `unqualified`. A deal's outcome is its stage: winning moves it to the pipeline's
  "Won" stage, losing to "Lost", re-opening back to an open stage. A deal lost for a reason of
  UNQUALIFIED_REASONS is closed in the "Unqualified" stage instead, with an
  `unqualified_reason_id` (/v2/deal_unqualified_reasons) and no `loss_reason_id`. The
  abstract stages get the stage names of STAGE_NAMES below.
- A deal carries only its current stage and `last_stage_change_at` (the time it entered that
  stage); the history is not in the API (see docs/zendesk-sell-history.md).
- Ids are numbers: deals `CRMS["zendesk_sell"].deal_ref(deal.id)`, the deal's contact (the
  customer account, what Stripe metadata `zendesk_contact_id` names) `account_ref(org.id)`.
- Leads are people records with numeric ids; a conversion is its own object (lead_id, deal_id,
  created_at) listed by /v2/lead_conversions. A lead closed without a conversion has status
  Unqualified and an `unqualified_reason_id` into /v2/lead_unqualified_reasons
  (`lead_unqualified_reason`): one reason dominates the leads of DOMINANT_UNQUALIFIED_SOURCE.
- Orders are the sales orders of won deals (company.orders), their line items the deal's
  product lines priced at the order date. Zendesk Sell orders carry a whole-percent `discount`
  and no amount and no fulfilment state.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from l2c_demo.simulator import clock
from l2c_demo.simulator.catalog import (
    EXPANSION,
    LEAD_SOURCES,
    LOST_REASONS,
    NEW_BUSINESS,
    PIPELINES,
    PRODUCTS,
    STAGE_NAMES,
    STAGE_PROBABILITY,
)
from l2c_demo.simulator.crms import CRMS
from l2c_demo.simulator.model import Deal, Lead, Org, World
from l2c_demo.simulator.orders import SalesOrder
from l2c_demo.simulator.sell_renewals import (
    BILLING_FREQUENCY,
    CONTRACT_START,
    MRR,
    RENEWAL_STAGE_IDS,
    RENEWALS_PIPELINE,
    RENEWALS_PIPELINE_ID,
    RENEWS_DEAL,
    TERM_MONTHS,
)
from l2c_demo.simulator.state import DealState, deal_state
from l2c_demo.simulator.views import Record

SYSTEM = "zendesk_sell"
UNIT = CRMS[SYSTEM]

# Zendesk Sell stage names of the abstract (Pipedrive-named) stages, per pipeline.
STAGE_NAMES_BY_PIPELINE: dict[str, dict[str, str]] = {
    NEW_BUSINESS: {
        "Lead In": "Incoming",
        "Qualified": "Qualified",
        "Demo Scheduled": "Demo Booked",
        "Proposal Made": "Quote",
        "Negotiation": "Closure",
        "Contract Sent": "Contract Out",
    },
    EXPANSION: {"Qualified": "Qualified", "Proposal Made": "Quote", "Negotiation": "Closure"},
}
WON, LOST, UNQUALIFIED = "Won", "Lost", "Unqualified"
# lost reasons that mean the deal never qualified: such deals close in the Unqualified stage
UNQUALIFIED_REASONS = ("No budget", "No decision")
UNQUALIFIED_REASON_IDS = {name: 9301 + i for i, name in enumerate(UNQUALIFIED_REASONS)}
# reasons a lead is closed as Unqualified (/v2/lead_unqualified_reasons); the leads of one
# source are mostly closed for one reason (truth: lead_unqualified_reasons)
LEAD_UNQUALIFIED_REASONS = ("No need", "No budget", "Unresponsive", "Not a decision maker")
LEAD_UNQUALIFIED_REASON_IDS = {name: 9401 + i for i, name in enumerate(LEAD_UNQUALIFIED_REASONS)}
DOMINANT_UNQUALIFIED_SOURCE = "Import"
DOMINANT_UNQUALIFIED_REASON = "Unresponsive"
DOMINANT_UNQUALIFIED_SHARE = 0.75
PIPELINE_IDS = {NEW_BUSINESS: 1843201, EXPANSION: 1843202}
LOSS_REASON_IDS = {name: 9051 + i for i, name in enumerate(LOST_REASONS)}
LEAD_SOURCE_IDS = {name: 7201 + i for i, name in enumerate(LEAD_SOURCES)}
PERSON_CONTACT_OFFSET = 5_000_000  # persons and organizations share the contact id space
LEAD_ID_OFFSET = 31_000_000
CONVERSION_ID_OFFSET = 880_000
ORDER_ID_OFFSET = 64_000
LINE_ITEM_ID_OFFSET = 4_200_000
CALL_ID_OFFSET = 710_000_000


@dataclass(frozen=True)
class ZendeskStage:
    id: int
    pipeline: str
    name: str
    category: str  # incoming | in_progress | won | lost | unqualified
    position: int
    likelihood: int
    abstract: str | None  # the catalog stage it renders, None for Won / Lost


def _stages() -> list[ZendeskStage]:
    out: list[ZendeskStage] = []
    for pipeline, pipe_id in PIPELINE_IDS.items():
        names = STAGE_NAMES_BY_PIPELINE[pipeline]
        base = pipe_id * 10
        for position, abstract in enumerate(PIPELINES[pipeline], start=1):
            category = "incoming" if position == 1 else "in_progress"
            out.append(
                ZendeskStage(
                    base + position,
                    pipeline,
                    names[abstract],
                    category,
                    position,
                    STAGE_PROBABILITY[abstract],
                    abstract,
                )
            )
        n = len(PIPELINES[pipeline])
        out.append(ZendeskStage(base + n + 1, pipeline, WON, "won", n + 1, 100, None))
        out.append(ZendeskStage(base + n + 2, pipeline, LOST, "lost", n + 2, 0, None))
        out.append(ZendeskStage(base + n + 3, pipeline, UNQUALIFIED, "unqualified", n + 3, 0, None))
    return out


STAGES: tuple[ZendeskStage, ...] = tuple(_stages())
STAGE_BY_ABSTRACT: dict[tuple[str, str], ZendeskStage] = {
    (s.pipeline, s.abstract): s for s in STAGES if s.abstract is not None
}
OUTCOME_STAGE: dict[tuple[str, str], ZendeskStage] = {
    (s.pipeline, s.category): s for s in STAGES if s.category in ("won", "lost", "unqualified")
}


@dataclass
class ZendeskSellView:
    """Zendesk Sell objects visible at as_of, shaped like the Core API v2 `data` objects."""

    as_of: int
    users: list[Record] = field(default_factory=list)
    pipelines: list[Record] = field(default_factory=list)
    stages: list[Record] = field(default_factory=list)
    loss_reasons: list[Record] = field(default_factory=list)
    deal_unqualified_reasons: list[Record] = field(default_factory=list)
    lead_sources: list[Record] = field(default_factory=list)
    lead_unqualified_reasons: list[Record] = field(default_factory=list)
    deals: list[Record] = field(default_factory=list)
    leads: list[Record] = field(default_factory=list)
    lead_conversions: list[Record] = field(default_factory=list)
    orders: list[Record] = field(default_factory=list)
    line_items: dict[int, list[Record]] = field(default_factory=dict)  # order id -> rows
    calls: list[Record] = field(default_factory=list)  # /v2/calls (first contacts by phone)


@dataclass(frozen=True)
class ZendeskDealState:
    """Where a deal stands in Zendesk Sell terms: its stage (open, Won or Lost) and when it
    entered it (the last stage or outcome change, else the creation)."""

    stage: ZendeskStage
    entered_at: int
    entered_by: int


def zendesk_deal_state(deal: Deal, st: DealState) -> ZendeskDealState:
    """The Zendesk Sell stage of a deal given its abstract state (st = deal_state(deal, t)):
    the outcome stage when won or lost, else the open stage; entered at the last change of
    either (a status change moves a Zendesk deal between stages)."""
    if st.status == "lost" and st.lost_reason in UNQUALIFIED_REASONS:
        stage = OUTCOME_STAGE[(deal.pipeline, "unqualified")]
    elif st.status in ("won", "lost"):
        stage = OUTCOME_STAGE[(deal.pipeline, st.status)]
    else:
        stage = STAGE_BY_ABSTRACT[(deal.pipeline, STAGE_NAMES[st.stage_id][1])]
    entered_at, entered_by = deal.add_time, deal.owner_id
    for ch in st.flow:
        if ch.field_key in ("stage_id", "status"):
            entered_at, entered_by = ch.ts, ch.user_id
    return ZendeskDealState(stage, entered_at, entered_by)


def _static(world: World, view: ZendeskSellView) -> None:
    stamp = clock.v2(world.base_time)
    for rep in world.reps:
        if rep.crm != SYSTEM:
            continue
        team_id, team_name, manager = world.teams[rep.team_index]
        manager_rep = world.reps[manager - 1]
        reports_to = manager if manager_rep.crm == SYSTEM and manager != rep.id else None
        view.users.append(
            {
                "id": rep.id,
                "name": rep.name,
                "email": rep.email,
                "status": "active",
                "role": "admin" if rep.is_manager else "user",
                "confirmed": True,
                "invited": False,
                "timezone": "Europe/Berlin",
                "phone_number": None,
                "team_name": team_name,
                "group": {"id": team_id, "name": team_name},
                "reports_to": reports_to,
                "created_at": clock.v2(rep.created),
                "updated_at": clock.v2(rep.created),
                "deleted_at": None,
            }
        )
    for name, pipe_id in PIPELINE_IDS.items():
        view.pipelines.append(
            {
                "id": pipe_id,
                "name": name,
                "disabled": False,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    for stage in STAGES:
        view.stages.append(
            {
                "id": stage.id,
                "name": stage.name,
                "category": stage.category,
                "active": stage.category not in ("won", "lost", "unqualified"),
                "position": stage.position,
                "likelihood": stage.likelihood,
                "pipeline_id": PIPELINE_IDS[stage.pipeline],
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    for name, reason_id in LOSS_REASON_IDS.items():
        view.loss_reasons.append(
            {
                "id": reason_id,
                "name": name,
                "creator_id": 1,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    for name, reason_id in UNQUALIFIED_REASON_IDS.items():
        view.deal_unqualified_reasons.append(
            {
                "id": reason_id,
                "name": name,
                "creator_id": 1,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    for name, reason_id in LEAD_UNQUALIFIED_REASON_IDS.items():
        view.lead_unqualified_reasons.append(
            {
                "id": reason_id,
                "name": name,
                "creator_id": 1,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    for name, source_id in LEAD_SOURCE_IDS.items():
        view.lead_sources.append(
            {
                "id": source_id,
                "name": name,
                "resource_type": "lead",
                "creator_id": 1,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )


def _deal_record(org: Org, deal: Deal, st: DealState) -> Record:
    zst = zendesk_deal_state(deal, st)
    lost = zst.stage.category == "lost"
    unqualified = zst.stage.category == "unqualified"
    return {
        "id": int(UNIT.deal_ref(deal.id)),
        "name": deal.title,
        "value": round(st.value, 2),
        "currency": deal.currency,
        "hot": False,
        "stage_id": zst.stage.id,
        "last_stage_change_at": clock.v2(zst.entered_at),
        "last_stage_change_by_id": zst.entered_by,
        "loss_reason_id": LOSS_REASON_IDS[st.lost_reason] if lost and st.lost_reason else None,
        "unqualified_reason_id": (
            UNQUALIFIED_REASON_IDS[st.lost_reason] if unqualified and st.lost_reason else None
        ),
        "owner_id": st.owner_id,
        "creator_id": deal.owner_id,
        "contact_id": int(UNIT.account_ref(org.id)),
        "organization_id": int(UNIT.account_ref(org.id)),
        "source_id": None,
        "estimated_close_date": clock.date(deal.expected_close),
        "customized_win_likelihood": None,
        "dropbox_email": f"deal{deal.id}@sell-dropbox.example",
        "tags": [],
        "custom_fields": {"Region": deal.region},
        "added_at": clock.v2(deal.add_time),
        "created_at": clock.v2(deal.add_time),
        "updated_at": clock.v2(st.update_time),
    }


def lead_number(world: World) -> dict[str, int]:
    """Numeric Zendesk Sell ids of the abstract (uuid) leads: stable for every as_of."""
    return {lead.id: LEAD_ID_OFFSET + i for i, lead in enumerate(world.leads, start=1)}


def lead_unqualified_reason(lead: Lead) -> str:
    """The reason a lead is closed as Unqualified, drawn from the lead's own stream (stable
    for every as_of): DOMINANT_UNQUALIFIED_REASON for most leads of
    DOMINANT_UNQUALIFIED_SOURCE, the others evenly."""
    pick = random.Random(f"lead-unqualified-{lead.id}")
    if lead.source_name == DOMINANT_UNQUALIFIED_SOURCE:
        if pick.random() < DOMINANT_UNQUALIFIED_SHARE:
            return DOMINANT_UNQUALIFIED_REASON
        others = [r for r in LEAD_UNQUALIFIED_REASONS if r != DOMINANT_UNQUALIFIED_REASON]
        return pick.choice(others)
    return pick.choice(LEAD_UNQUALIFIED_REASONS)


def is_unqualified(lead: Lead, as_of: int) -> bool:
    """Closed by as_of without a conversion: status Unqualified."""
    closed = lead.archived_at is not None and lead.archived_at <= as_of
    return closed and lead.converted_deal_id is None


def lead_unqualified_truth(world: World, as_of: int) -> list[dict[str, object]]:
    """Per (lead source, reason): the Zendesk Sell leads Unqualified at as_of."""
    counts: dict[tuple[str, str], int] = {}
    for lead in world.leads:
        if lead.crm == SYSTEM and lead.add_time <= as_of and is_unqualified(lead, as_of):
            key = (lead.source_name, lead_unqualified_reason(lead))
            counts[key] = counts.get(key, 0) + 1
    return [
        {"crm": SYSTEM, "lead_source": source, "reason": reason, "leads": n}
        for (source, reason), n in sorted(counts.items())
    ]


def _lead_record(world: World, lead: Lead, lead_id: int, as_of: int) -> Record:
    person = world.persons[lead.person_id - 1]
    first, _, last = person.name.partition(" ")
    converted = lead.converted_deal_id is not None
    closed = lead.archived_at is not None and lead.archived_at <= as_of
    seen = lead.seen_at is not None and lead.seen_at <= as_of
    if closed and not converted:
        status = "Unqualified"
    elif seen or closed:
        status = "Working"
    else:
        status = "New"
    updated = max(t for t in (lead.add_time, lead.archived_at, lead.seen_at) if t and t <= as_of)
    return {
        "id": lead_id,
        "first_name": first,
        "last_name": last,
        "organization_name": lead.title.removesuffix(" lead").removesuffix(" inquiry"),
        "title": None,
        "description": lead.title,
        "status": status,
        "source_id": LEAD_SOURCE_IDS[lead.source_name],
        "owner_id": lead.owner_id,
        "creator_id": lead.owner_id,
        "email": person.email,
        "phone": person.phone,
        "unqualified_reason_id": (
            LEAD_UNQUALIFIED_REASON_IDS[lead_unqualified_reason(lead)]
            if status == "Unqualified"
            else None
        ),
        "tags": [],
        "custom_fields": {},
        "created_at": clock.v2(lead.add_time),
        "updated_at": clock.v2(updated),
    }


def _leads(world: World, view: ZendeskSellView, as_of: int) -> None:
    numbers = lead_number(world)
    deals = {d.id: d for d in world.deals}
    conversions: list[tuple[int, int, Lead]] = []  # (time, lead number, lead), all times
    for lead in world.leads:
        if lead.crm != SYSTEM:
            continue
        if lead.converted_deal_id is not None and lead.archived_at is not None:
            conversions.append((lead.archived_at, numbers[lead.id], lead))
        if lead.add_time <= as_of:
            view.leads.append(_lead_record(world, lead, numbers[lead.id], as_of))
    conversions.sort(key=lambda c: (c[0], c[1]))
    for conversion_no, (ts, lead_no, lead) in enumerate(conversions, start=1):
        if ts > as_of:
            continue
        deal = deals[lead.converted_deal_id or 0]
        view.lead_conversions.append(
            {
                "id": CONVERSION_ID_OFFSET + conversion_no,
                "lead_id": lead_no,
                "individual_id": PERSON_CONTACT_OFFSET + lead.person_id,
                "organization_id": int(UNIT.account_ref(deal.org_id)),
                "deal_id": int(UNIT.deal_ref(deal.id)),
                "creator_id": lead.owner_id,
                "created_at": clock.v2(ts),
            }
        )
    view.leads.sort(key=lambda r: r["id"])


def _calls(world: World, view: ZendeskSellView, as_of: int) -> None:
    """The planted first contacts made by phone, as /v2/calls on the lead (resource_type
    lead). First contacts by email are not rendered: the Core API lists no emails."""
    numbers = lead_number(world)
    for lead in world.leads:
        made = lead.first_contact_at
        if lead.crm != SYSTEM or lead.first_contact_kind != "call":
            continue
        if made is None or made > as_of or lead.add_time > as_of:
            continue
        person = world.persons[lead.person_id - 1]
        stamp = clock.v2(made)
        view.calls.append(
            {
                "id": CALL_ID_OFFSET + lead.contact_activity_id,
                "user_id": lead.first_contact_by or lead.owner_id,
                "summary": "Intro call",
                "recording_url": None,
                "outcome_id": None,
                "duration": 300 + lead.contact_activity_id % 600,
                "phone_number": person.phone,
                "incoming": False,
                "missed": False,
                "resource_type": "lead",
                "resource_id": numbers[lead.id],
                "associated_deal_ids": [],
                "made_at": stamp,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    view.calls.sort(key=lambda r: r["id"])


def _orders(world: World, view: ZendeskSellView, orders: list[SalesOrder], as_of: int) -> None:
    deals = {d.id: d for d in world.deals}
    for order in orders:
        if order.crm != SYSTEM or not order.visible(as_of):
            continue
        deal = deals[order.deal_id]
        order_id = ORDER_ID_OFFSET + order.number
        pct = [d.amount for d in deal.discounts if d.type == "percentage" and d.created_at <= as_of]
        stamp = clock.v2(order.created)
        view.orders.append(
            {
                "id": order_id,
                "deal_id": int(UNIT.deal_ref(deal.id)),
                "discount": round(sum(pct)),
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
        items = []
        for line in deal.lines:
            name, sku, _unit, _price = PRODUCTS[line.product_index]
            net_unit = line.net_cents(order.created) / 100.0 / line.quantity
            variation = round((net_unit / line.item_price - 1.0) * 100.0, 2)
            items.append(
                {
                    "id": LINE_ITEM_ID_OFFSET + line.id,
                    "product_id": line.product_index + 1,
                    "name": name,
                    "sku": sku,
                    "description": None,
                    "quantity": line.quantity,
                    "price": line.item_price,
                    "variation": variation,
                    "value": round(net_unit, 2),
                    "currency": deal.currency,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
        view.line_items[order_id] = items


def _recurring(world: World, view: ZendeskSellView, as_of: int) -> None:
    """The recurring contracts (sell_renewals): the Renewals pipeline and its stages, the
    contract custom fields on the won original deals and one renewal deal per term end."""
    stamp = clock.v2(world.base_time)
    view.pipelines.append(
        {
            "id": RENEWALS_PIPELINE_ID,
            "name": RENEWALS_PIPELINE,
            "disabled": False,
            "created_at": stamp,
            "updated_at": stamp,
        }
    )
    categories = {"Renewal Due": "incoming", WON: "won", LOST: "lost"}
    for position, (name, stage_id) in enumerate(RENEWAL_STAGE_IDS.items(), start=1):
        view.stages.append(
            {
                "id": stage_id,
                "name": name,
                "category": categories[name],
                "active": name == "Renewal Due",
                "position": position,
                "likelihood": {"Renewal Due": 80, WON: 100, LOST: 0}[name],
                "pipeline_id": RENEWALS_PIPELINE_ID,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    by_id = {r["id"]: r for r in view.deals}
    orgs = {org.id: org for org in world.orgs}
    for c in world.sell_contracts:
        original = by_id.get(int(UNIT.deal_ref(c.deal_id)))
        if original is None or c.won_at > as_of:
            continue
        original["custom_fields"] = {
            **original["custom_fields"],
            CONTRACT_START: clock.date(c.start),
            TERM_MONTHS: c.term_months,
            BILLING_FREQUENCY: "Monthly",
            MRR: c.mrr,
        }
        for r in c.renewals:
            if r.created > as_of:
                continue
            decided = r.decided_at <= as_of
            stage = "Renewal Due" if not decided else (WON if r.renewed else LOST)
            changed = r.decided_at if decided else r.created
            view.deals.append(
                {
                    **{k: None for k in original},
                    "id": r.id,
                    "name": f"{original['name']} - renewal {r.term}",
                    "value": round(c.mrr * c.term_months, 2),
                    "currency": c.currency,
                    "hot": False,
                    "stage_id": RENEWAL_STAGE_IDS[stage],
                    "last_stage_change_at": clock.v2(changed),
                    "last_stage_change_by_id": c.owner_id,
                    "owner_id": c.owner_id,
                    "creator_id": c.owner_id,
                    "contact_id": int(UNIT.account_ref(orgs[c.org_id].id)),
                    "organization_id": int(UNIT.account_ref(orgs[c.org_id].id)),
                    "estimated_close_date": clock.date(r.term_end),
                    "dropbox_email": f"deal{r.id}@sell-dropbox.example",
                    "tags": ["renewal"],
                    "custom_fields": {"Region": c.region, RENEWS_DEAL: str(c.sell_id)},
                    "added_at": clock.v2(r.created),
                    "created_at": clock.v2(r.created),
                    "updated_at": clock.v2(changed),
                }
            )


def render_zendesk_sell(
    world: World, as_of: int, orders: list[SalesOrder], states: dict[int, DealState] | None = None
) -> ZendeskSellView:
    """The Zendesk Sell view at as_of; `states` (deal id -> deal_state at as_of) is reused
    when given."""
    view = ZendeskSellView(as_of=as_of)
    _static(world, view)
    orgs = {org.id: org for org in world.orgs}
    for deal in world.deals:
        if deal.crm != SYSTEM or deal.add_time > as_of:
            continue
        st = states[deal.id] if states is not None else deal_state(deal, as_of)
        view.deals.append(_deal_record(orgs[deal.org_id], deal, st))
    if world.sell_contracts:
        _recurring(world, view, as_of)
    view.deals.sort(key=lambda r: r["id"])
    _leads(world, view, as_of)
    _calls(world, view, as_of)
    _orders(world, view, orders, as_of)
    return view
