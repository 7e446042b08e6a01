"""The lead phase: first contact, qualification, reassignments; and the deal handover delay.

Planted truths (SimConfig knobs):
- Every lead gets a first customer-facing contact (a call or an email on the lead, by its
  owner) `first_contact_median_hours` after its creation; the rep at `slow_contact_rep_index`
  takes `slow_contact_median_hours`, the one at `fast_contact_rep_index`
  `fast_contact_median_hours`. A contact that would come after the lead was converted or
  closed is made halfway through the lead's life instead.
- Every converted lead was qualified before its conversion, and `qualified_unconverted_share`
  of the other leads were qualified before they were closed (or are still open): the lead
  waits `qualification_median_days` after its first contact, leads of
  `slow_qualification_source` wait `slow_qualification_median_days`.
- `lead_reassign_share` of the unconverted leads pass to another rep of the same CRM some
  time after their first contact.
- A deal whose owner changed (the lifecycle's owner_change_share) sits idle for a handover:
  everything that happened after the change happens `handover_delay_days` (median) later, so
  reassigned deals have longer cycles.

Each uses its own random stream, so the rest of the company is unchanged. Times are unix
seconds; users are rep ids.
"""

from __future__ import annotations

import math
import random

from l2c_demo.simulator.catalog import CAMPAIGNS
from l2c_demo.simulator.clock import DAY
from l2c_demo.simulator.config import SimConfig
from l2c_demo.simulator.model import Deal, Lead, Rep

HOUR = 3600


def _lognormal(rng: random.Random, median: float, sigma: float = 0.5) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def contact_median_hours(cfg: SimConfig, rep_id: int) -> float:
    if rep_id == cfg.slow_contact_rep_index + 1:
        return cfg.slow_contact_median_hours
    if rep_id == cfg.fast_contact_rep_index + 1:
        return cfg.fast_contact_median_hours
    return cfg.first_contact_median_hours


def plant_handovers(cfg: SimConfig, deals: list[Deal]) -> None:
    """Delay everything a reassigned deal does after its owner change by a handover wait."""
    for deal in deals:
        change = next((ch for ch in deal.flow if ch.field_key == "user_id"), None)
        if change is None:
            continue
        rng = random.Random(f"handover-{cfg.seed}-{deal.id}")
        when = change.ts
        delay = int(_lognormal(rng, cfg.handover_delay_days, 0.4) * DAY)
        for ch in deal.flow:
            if ch.ts > when:
                ch.ts += delay
        for act in deal.activities:
            if act.due_time > when:
                act.due_time += delay
            if act.add_time > when:
                act.add_time += delay
        for line in deal.lines:
            if line.revised_at is not None and line.revised_at > when:
                line.revised_at += delay
        for disc in deal.discounts:
            if disc.created_at > when:
                disc.created_at += delay
        if deal.final_won_time is not None and deal.final_won_time > when:
            deal.final_won_time += delay


def _end_of_lead(lead: Lead) -> int | None:
    """The conversion or closing time of the lead (None: open for ever)."""
    return lead.archived_at


def plant_lead_phase(cfg: SimConfig, reps: list[Rep], leads: list[Lead]) -> None:
    for lead in leads:
        rng = random.Random(f"lead-phase-{cfg.seed}-{lead.id}")
        end = _end_of_lead(lead)
        owner = lead.owner_id
        contact = lead.add_time + int(
            _lognormal(rng, contact_median_hours(cfg, owner)) * HOUR + rng.randrange(600)
        )
        if end is not None and contact >= end - HOUR:
            contact = lead.add_time + (end - lead.add_time) // 2
        lead.first_contact_at = contact
        lead.first_contact_by = owner
        lead.first_contact_kind = rng.choice(("call", "email"))
        slow = lead.source_name == cfg.slow_qualification_source
        median = cfg.slow_qualification_median_days if slow else cfg.qualification_median_days
        wait = int(_lognormal(rng, median) * DAY)
        converted = lead.converted_deal_id is not None or lead.converted_without_deal
        qualified: int | None = None
        if converted:
            assert end is not None
            qualified = contact + min(wait, int(0.9 * (end - contact)))
        elif rng.random() < cfg.qualified_unconverted_share and (
            end is None or contact + wait < end - HOUR
        ):
            qualified = contact + wait
        if qualified is not None and qualified > contact:
            lead.qualified_at, lead.qualified_by = qualified, owner
        if converted or rng.random() >= cfg.lead_reassign_share:
            continue
        others = [r for r in reps if r.crm == lead.crm and r.id != owner]
        horizon = end if end is not None else contact + 30 * DAY
        if not others or horizon - contact < 2 * HOUR:
            continue
        lead.reassigned_at = contact + int(rng.uniform(0.2, 0.8) * (horizon - contact))
        lead.reassigned_to = rng.choice(others).id
        if lead.qualified_at is not None and lead.qualified_at >= lead.reassigned_at:
            lead.qualified_by = lead.reassigned_to


def number_contact_activities(leads: list[Lead], first_id: int) -> None:
    """Activity ids of the first contacts, after every deal activity, in contact order."""
    ordered = sorted(
        (lead for lead in leads if lead.first_contact_at is not None),
        key=lambda lead: (lead.first_contact_at, lead.id),
    )
    for n, lead in enumerate(ordered, start=first_id):
        lead.contact_activity_id = n


def lead_ref(system: str, index: int, lead: Lead) -> str | None:
    """The lead's id as its CRM shows it (None for a system without one)."""
    if system == "pipedrive":
        return lead.id
    if system == "salesforce":
        from l2c_demo.simulator.crms import salesforce_id

        return salesforce_id("00Q", index + 1)
    if system == "oracle_cx":
        from l2c_demo.simulator.crms import oracle_id
        from l2c_demo.simulator.render_oracle_cx import KIND_LEAD

        return str(oracle_id(KIND_LEAD, index + 1))
    if system == "zendesk_sell":
        from l2c_demo.simulator.render_zendesk_sell import LEAD_ID_OFFSET

        return str(LEAD_ID_OFFSET + index + 1)
    return None


def _visible(ts: int | None, as_of: int) -> int | None:
    return ts if ts is not None and ts <= as_of else None


def lead_phase_truth(
    cfg: SimConfig, leads: list[Lead], deals: list[Deal], as_of: int
) -> dict[str, object]:
    """Per lead created by as_of: its first contact, qualification and reassignment (None:
    not by as_of); per deal created by as_of: its owner changes by as_of. Cases are the
    warehouse's case ids (`<system>:lead:<ref>` for a lead without a deal by as_of)."""
    from l2c_demo.simulator.crms import case_id

    rows: list[dict[str, object]] = []
    for index, lead in enumerate(leads):
        if lead.add_time > as_of:
            continue
        ref = lead_ref(lead.crm, index, lead)
        converted = (
            lead.converted_deal_id is not None
            and lead.archived_at is not None
            and lead.archived_at <= as_of
        )
        case = (
            case_id(lead.crm, lead.converted_deal_id)
            if converted and lead.converted_deal_id is not None
            else (f"{lead.crm}:lead:{ref}" if ref else None)
        )
        reassigned = _visible(lead.reassigned_at, as_of)
        rows.append(
            {
                "crm": lead.crm,
                "lead_ref": ref,
                "case_id": case,
                "source": lead.source_name,
                "created": lead.add_time,
                "owner": lead.owner_id,
                "first_contact": _visible(lead.first_contact_at, as_of),
                "first_contact_by": lead.first_contact_by,
                "contact_activity_id": lead.contact_activity_id,
                "qualified": _visible(lead.qualified_at, as_of),
                "qualified_by": lead.qualified_by,
                "reassigned": reassigned,
                "reassigned_to": lead.reassigned_to if reassigned is not None else None,
                # the campaign the lead joined when created (world._plant_campaigns): its
                # earliest campaign membership in every CRM that records memberships
                "campaign": None if lead.campaign is None else CAMPAIGNS[lead.campaign][0],
            }
        )
    changes = [
        {
            "crm": deal.crm,
            "case_id": case_id(deal.crm, deal.id),
            "at": ch.ts,
            "old": ch.old,
            "new": ch.new,
        }
        for deal in deals
        if deal.add_time <= as_of
        for ch in deal.flow
        if ch.field_key == "user_id" and ch.ts <= as_of
    ]
    return {
        "slow_contact_rep": cfg.slow_contact_rep_index + 1,
        "fast_contact_rep": cfg.fast_contact_rep_index + 1,
        "slow_qualification_source": cfg.slow_qualification_source,
        "leads": rows,
        "deal_owner_changes": changes,
    }
