"""Render the Pipedrive API objects visible at as_of."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from l2c_demo.simulator import clock
from l2c_demo.simulator.catalog import (
    FX,
    PIPEDRIVE_CATEGORY_OPTIONS,
    PIPELINE_IDS,
    PIPELINES,
    PRODUCT_FAMILIES,
    PRODUCTS,
    REGION_OPTION_IDS,
    STAGE_IDS,
    STAGE_PROBABILITY,
)
from l2c_demo.simulator.model import Deal, FlowChange, Lead, World
from l2c_demo.simulator.state import DealState, deal_state
from l2c_demo.simulator.views import PipedriveView, Record

SYSTEM = "pipedrive"

STANDARD_FIELDS = (
    ("title", "Title", "varchar"),
    ("value", "Value", "monetary"),
    ("currency", "Currency", "varchar"),
    ("stage_id", "Stage", "stage"),
    ("pipeline_id", "Pipeline", "double"),
    ("status", "Status", "status"),
    ("user_id", "Owner", "user"),
    ("org_id", "Organization", "org"),
    ("person_id", "Contact person", "people"),
    ("add_time", "Deal created", "date"),
    ("update_time", "Update time", "date"),
    ("stage_change_time", "Last stage change", "date"),
    ("won_time", "Won time", "date"),
    ("lost_time", "Lost time", "date"),
    ("close_time", "Deal closed on", "date"),
    ("lost_reason", "Lost reason", "varchar"),
    ("expected_close_date", "Expected close date", "date"),
)


def _latest(times: list[int], as_of: int) -> int:
    return max(t for t in times if t <= as_of)


def _static(world: World, view: PipedriveView) -> None:
    base = world.base_time
    teams = {team_id - 1: team_id for team_id, _, _ in world.teams}
    for rep in world.reps:
        if rep.crm != SYSTEM:
            continue
        view.users.append(
            {
                "id": rep.id,
                "name": rep.name,
                "email": rep.email,
                "active_flag": True,
                "role_id": 1,
                "is_admin": rep.id == 1,
                "created": clock.v1(rep.created),
                "modified": clock.v1(rep.created),
                "timezone_name": "Europe/Berlin",
            }
        )
    for team_id, name, manager in world.teams:
        members = [r.id for r in world.reps if teams[r.team_index] == team_id and r.crm == SYSTEM]
        view.legacy_teams.append(
            {
                "id": team_id,
                "name": name,
                "description": f"Sales {name}",
                "manager_id": manager if world.reps[manager - 1].crm == SYSTEM else None,
                "users": members,
                "active_flag": True,
                "add_time": clock.v1(base),
                "deleted_flag": False,
            }
        )
    for name, pipe_id in PIPELINE_IDS.items():
        stamp = clock.v2(base)
        view.pipelines.append(
            {
                "id": pipe_id,
                "name": name,
                "order_nr": pipe_id,
                "is_deleted": False,
                "is_deal_probability_enabled": True,
                "add_time": stamp,
                "update_time": stamp,
            }
        )
        for order, stage in enumerate(PIPELINES[name], start=1):
            view.stages.append(
                {
                    "id": STAGE_IDS[(name, stage)],
                    "order_nr": order,
                    "name": stage,
                    "is_deleted": False,
                    "deal_probability": STAGE_PROBABILITY[stage],
                    "pipeline_id": pipe_id,
                    "is_deal_rot_enabled": False,
                    "days_to_rotten": None,
                    "add_time": stamp,
                    "update_time": stamp,
                }
            )
    for index, (name, code, unit, price) in enumerate(PRODUCTS, start=1):
        stamp = clock.v2(base + index * 600)
        view.products.append(
            {
                "id": index,
                "name": name,
                "code": code,
                "unit": unit,
                "tax": 0,
                "category": PIPEDRIVE_CATEGORY_OPTIONS[PRODUCT_FAMILIES[index - 1]],
                "is_deleted": False,
                "owner_id": 1,
                "add_time": stamp,
                "update_time": stamp,
                "prices": [
                    {
                        "currency": cur,
                        "price": round(price * fx, 2),
                        "cost": round(price * fx * 0.3, 2),
                        "direct_cost": None,
                        "notes": "",
                    }
                    for cur, fx in FX.items()
                ],
            }
        )
    _deal_fields(world, view)
    _product_fields(world, view)


# /v1/productFields: the built-in product fields (key, name, type); `category` is an enum
# whose options label the option id a product carries in `category`.
PRODUCT_FIELDS = (
    ("name", "Name", "varchar"),
    ("code", "Product code", "varchar"),
    ("description", "Description", "text"),
    ("unit", "Unit", "varchar"),
    ("prices", "Unit prices", "price"),
    ("tax", "Tax %", "double"),
    ("category", "Category", "enum"),
    ("active_flag", "Active", "boolean"),
    ("selectable", "Selectable", "boolean"),
    ("visible_to", "Visible to", "visible_to"),
    ("owner_id", "Owner", "user"),
    ("add_time", "Add time", "date"),
    ("update_time", "Update time", "date"),
)


def _product_fields(world: World, view: PipedriveView) -> None:
    stamp = clock.v1(world.base_time)
    for i, (key, name, ftype) in enumerate(PRODUCT_FIELDS, start=1):
        options = (
            [{"id": oid, "label": label} for label, oid in PIPEDRIVE_CATEGORY_OPTIONS.items()]
            if key == "category"
            else None
        )
        view.product_fields.append(
            {
                "id": 9000 + i,
                "key": key,
                "name": name,
                "order_nr": i,
                "field_type": ftype,
                "add_time": stamp,
                "update_time": stamp,
                "active_flag": True,
                "edit_flag": False,
                "mandatory_flag": key == "name",
                "options": options,
            }
        )


def _deal_fields(world: World, view: PipedriveView) -> None:
    stamp = clock.v1(world.base_time)
    for i, (key, name, ftype) in enumerate(STANDARD_FIELDS, start=1):
        view.deal_fields.append(
            {
                "id": 12450 + i,
                "key": key,
                "name": name,
                "order_nr": i,
                "field_type": ftype,
                "add_time": stamp,
                "update_time": stamp,
                "active_flag": True,
                "edit_flag": False,
                "options": None,
            }
        )
    view.deal_fields.append(
        {
            "id": 12501,
            "key": world.region_field_key,
            "name": "Region",
            "order_nr": 40,
            "field_type": "enum",
            "add_time": stamp,
            "update_time": stamp,
            "active_flag": True,
            "edit_flag": True,
            "options": [{"id": oid, "label": label} for label, oid in REGION_OPTION_IDS.items()],
        }
    )
    view.deal_fields.append(
        {
            "id": 12502,
            "key": world.discount_field_key,
            "name": "Discount %",
            "order_nr": 41,
            "field_type": "double",
            "add_time": stamp,
            "update_time": stamp,
            "active_flag": True,
            "edit_flag": True,
            "options": None,
        }
    )


def _people(world: World, view: PipedriveView, as_of: int) -> None:
    for org in sorted(world.orgs, key=lambda o: o.id):
        if org.add_time > as_of or org.crm != SYSTEM:
            continue
        view.organizations.append(
            {
                "id": org.id,
                "name": org.name,
                "owner_id": org.owner_id,
                "add_time": clock.v2(org.add_time),
                "update_time": clock.v2(_latest(org.update_times, as_of)),
                "address": {
                    "value": f"{org.city}, {org.country}",
                    "country": org.country,
                    "locality": org.city,
                },
            }
        )
    crm_orgs = {org.id for org in world.orgs if org.crm == SYSTEM}
    for p in world.persons:
        if p.add_time > as_of or p.org_id not in crm_orgs:
            continue
        view.persons.append(
            {
                "id": p.id,
                "name": p.name,
                "owner_id": p.owner_id,
                "org_id": p.org_id,
                "add_time": clock.v2(p.add_time),
                "update_time": clock.v2(_latest(p.update_times, as_of)),
                "emails": [{"value": p.email, "primary": True, "label": "work"}],
                "phones": [{"value": p.phone, "primary": True, "label": "work"}],
            }
        )


def _deal_record(world: World, deal: Deal, st: DealState) -> Record:
    won, lost = st.status == "won", st.status == "lost"
    return {
        "id": deal.id,
        "title": deal.title,
        "owner_id": st.owner_id,
        "person_id": deal.person_id,
        "org_id": deal.org_id,
        "pipeline_id": PIPELINE_IDS[deal.pipeline],
        "stage_id": st.stage_id,
        "value": st.value,
        "currency": deal.currency,
        "add_time": clock.v2(deal.add_time),
        "update_time": clock.v2(st.update_time),
        "stage_change_time": clock.v2(st.stage_change_time),
        "is_deleted": False,
        "status": st.status,
        "probability": None,
        "lost_reason": st.lost_reason if lost else None,
        "visible_to": "3",
        "close_time": clock.v2(st.close_time),
        "won_time": clock.v2(st.won_time) if won else None,
        "lost_time": clock.v2(st.lost_time) if lost else None,
        "expected_close_date": clock.date(deal.expected_close),
        "label_ids": [],
        "origin": deal.origin,
        "channel": None,
        "source_lead_id": deal.source_lead_id,
        "custom_fields": {
            world.region_field_key: REGION_OPTION_IDS[deal.region],
            world.discount_field_key: st.custom.get(world.discount_field_key),
        },
    }


def _flow_record(deal: Deal, ch_list: list[FlowChange]) -> list[Record]:
    return [
        {
            "object": "dealChange",
            "timestamp": clock.v1(ch.ts),
            "data": {
                "id": ch.id,
                "item_id": deal.id,
                "user_id": ch.user_id,
                "field_key": ch.field_key,
                "old_value": ch.old,
                "new_value": ch.new,
                "is_bulk_update": False,
                "log_time": clock.v1(ch.ts),
                "change_source": ch.source,
                "change_source_user_agent": ch.user_agent,
            },
        }
        for ch in reversed(ch_list)
    ]


class FlowBook(Mapping[int, list[Record]]):
    """Deal flows rendered on first access (most callers read only a few deals)."""

    def __init__(self, deals: dict[int, Deal], states: dict[int, DealState]) -> None:
        self._deals = deals
        self._states = states
        self._cache: dict[int, list[Record]] = {}

    def __getitem__(self, deal_id: int) -> list[Record]:
        if deal_id not in self._cache:
            if deal_id not in self._states:
                raise KeyError(deal_id)
            self._cache[deal_id] = _flow_record(self._deals[deal_id], self._states[deal_id].flow)
        return self._cache[deal_id]

    def __iter__(self) -> Iterator[int]:
        return iter(self._states)

    def __len__(self) -> int:
        return len(self._states)


def _deal_children(deal: Deal, view: PipedriveView, as_of: int) -> None:
    for line in deal.lines:
        if line.add_time > as_of:
            continue
        changed = line.revised_at if line.revised_at and line.revised_at <= as_of else None
        view.deal_products.append(
            {
                "id": line.id,
                "deal_id": deal.id,
                "product_id": line.product_index + 1,
                "name": PRODUCTS[line.product_index][0],
                "item_price": line.item_price,
                "quantity": line.quantity,
                "discount": line.discount_at(as_of),
                "discount_type": line.discount_type,
                "sum": line.net_cents(as_of) / 100.0,
                "currency": deal.currency,
                "tax": 0,
                "tax_method": "exclusive",
                "is_enabled": True,
                "add_time": clock.v2(line.add_time),
                "update_time": clock.v2(changed or line.add_time),
            }
        )
    discounts = [
        {
            "id": d.id,
            "type": d.type,
            "amount": d.amount,
            "description": d.description,
            "deal_id": deal.id,
            "created_at": clock.v2(d.created_at),
            "updated_at": clock.v2(d.created_at),
            "created_by": d.created_by,
            "updated_by": d.created_by,
        }
        for d in deal.discounts
        if d.created_at <= as_of
    ]
    view.deal_discounts[deal.id] = discounts
    for act in deal.activities:
        if act.add_time > as_of:
            continue
        done = act.due_time <= as_of
        view.activities.append(
            {
                "id": act.id,
                "subject": act.subject,
                "type": act.type,
                "owner_id": act.owner_id,
                "deal_id": deal.id,
                "lead_id": None,
                "person_id": act.person_id,
                "org_id": act.org_id,
                "done": done,
                "due_date": clock.date(act.due_time),
                "due_time": clock.hhmm(act.due_time),
                "marked_as_done_time": clock.v2(act.due_time) if done else None,
                "add_time": clock.v2(act.add_time),
                "update_time": clock.v2(act.due_time if done else act.add_time),
                "is_deleted": False,
            }
        )


def _lead_contact(lead: Lead, view: PipedriveView, as_of: int) -> None:
    """The lead's first contact: a done call or email on the lead (lead_id; no deal)."""
    at = lead.first_contact_at
    if at is None or at > as_of or lead.first_contact_by is None:
        return
    view.activities.append(
        {
            "id": lead.contact_activity_id,
            "subject": f"First {lead.first_contact_kind} with the lead",
            "type": lead.first_contact_kind,
            "owner_id": lead.first_contact_by,
            "deal_id": None,
            "lead_id": lead.id,
            "person_id": lead.person_id,
            "org_id": lead.org_id,
            "done": True,
            "due_date": clock.date(at),
            "due_time": clock.hhmm(at),
            "marked_as_done_time": clock.v2(at),
            "add_time": clock.v2(at),
            "update_time": clock.v2(at),
            "is_deleted": False,
        }
    )


def _leads(world: World, view: PipedriveView, as_of: int) -> None:
    for lead in world.leads:
        if lead.add_time > as_of or lead.crm != SYSTEM:
            continue
        archived = lead.archived_at is not None and lead.archived_at <= as_of
        seen = lead.seen_at is not None and lead.seen_at <= as_of
        updated = max(
            t
            for t in (lead.add_time, lead.archived_at, lead.seen_at, lead.reassigned_at)
            if t is not None and t <= as_of
        )
        _lead_contact(lead, view, as_of)
        view.leads.append(
            {
                "id": lead.id,
                "title": lead.title,
                "owner_id": lead.owner_at(as_of),
                "person_id": lead.person_id,
                "organization_id": lead.org_id,
                "source_name": lead.source_name,
                "origin": "ManuallyCreated" if lead.source_name != "Web forms" else "WebForms",
                "channel": None,
                "is_archived": archived,
                "was_seen": seen,
                "value": (
                    {"amount": lead.value[0], "currency": lead.value[1]} if lead.value else None
                ),
                "expected_close_date": None,
                "add_time": clock.lead_time(lead.add_time),
                "update_time": clock.lead_time(updated),
                "label_ids": [],
            }
        )
    view.leads.sort(key=lambda r: (r["add_time"], r["id"]))


def render_pipedrive(world: World, as_of: int) -> tuple[PipedriveView, dict[int, DealState]]:
    """Return the view and the per-deal states used to build it (for the ground truth)."""
    view = PipedriveView(as_of=as_of)
    _static(world, view)
    _people(world, view, as_of)
    _leads(world, view, as_of)
    states: dict[int, DealState] = {}
    for deal in world.deals:
        if deal.add_time > as_of or deal.crm != SYSTEM:
            continue
        st = deal_state(deal, as_of)
        states[deal.id] = st
        view.deals.append(_deal_record(world, deal, st))
        _deal_children(deal, view, as_of)
    view.activities.sort(key=lambda r: r["id"])
    view.flows = FlowBook({d.id: d for d in world.deals if d.id in states}, states)
    return view, states
