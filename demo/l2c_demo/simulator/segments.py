"""Ground truth of the campaign, product-category and deal-type plants.

Campaigns: each lead joined one campaign or none (world._plant_campaigns), drawn by what became
of it, so the webinar converts and wins most and the search ads least. A deal's primary
campaign is its lead's.

Deal type: the pipeline. Expansion deals pass fewer pre-proposal stages (each one an early-loss
hazard) and spend 0.7x the time in each stage, so they win more often and faster than New
Business (lifecycle.LifeBuilder). Product category: the family (catalog.PRODUCT_FAMILIES) of the
deal's main product line, the one with the largest list amount (ties: the family that sorts
first). Planted on Pipedrive deals only (catalog.SLOW_PRODUCT_CATEGORY): a Services-led deal's life
after its creation takes 1.6x as long (lifecycle._stretch), so its won cycle is longer; its
win odds are unchanged.
Pipedrive products carry the family as the id of an option of the product field `category`
(catalog.PIPEDRIVE_CATEGORY_OPTIONS), labelled only in /v1/productFields.
"""

from __future__ import annotations

from typing import Any

from l2c_demo.simulator.catalog import (
    CAMPAIGNS,
    PRODUCT_FAMILIES,
    SLOW_CATEGORY_CRMS,
    SLOW_CATEGORY_STAGE_FACTOR,
    SLOW_PRODUCT_CATEGORY,
)
from l2c_demo.simulator.clock import DAY
from l2c_demo.simulator.model import Deal, World
from l2c_demo.simulator.state import DealState

BEST_CAMPAIGN = CAMPAIGNS[0][0]
WORST_CAMPAIGN = CAMPAIGNS[3][0]


def campaign_name(index: int | None) -> str | None:
    return None if index is None else CAMPAIGNS[index][0]


def main_product_category(deal: Deal) -> str | None:
    """Family of the line with the largest list amount (ties: the family sorting first)."""
    if not deal.lines:
        return None
    ranked = sorted(
        (-round(line.item_price * line.quantity, 2), PRODUCT_FAMILIES[line.product_index])
        for line in deal.lines
    )
    return ranked[0][1]


def campaign_truth(world: World, states: dict[int, DealState], as_of: int) -> list[dict[str, Any]]:
    """Per (crm, campaign name or None): leads created by as_of, those converted into a deal
    by as_of, and those deals won / lost by as_of."""
    out: dict[tuple[str, str | None], dict[str, Any]] = {}
    for lead in world.leads:
        if lead.add_time > as_of:
            continue
        name = campaign_name(lead.campaign)
        row = out.setdefault(
            (lead.crm, name),
            {"crm": lead.crm, "campaign": name, "leads": 0, "converted": 0, "won": 0, "lost": 0},
        )
        row["leads"] += 1
        converted = lead.converted_deal_id is not None and (lead.archived_at or as_of + 1) <= as_of
        st = states.get(lead.converted_deal_id or -1)
        if converted and st is not None:
            row["converted"] += 1
            if st.status in ("won", "lost"):
                row[st.status] += 1
    return sorted(out.values(), key=lambda r: (r["crm"], r["campaign"] or ""))


def segment_truth(world: World, states: dict[int, DealState]) -> list[dict[str, Any]]:
    """Per (crm, dimension, value) with dimension deal_type (the pipeline) or
    product_category: deals existing at as_of, won / lost / open, and the mean days from
    creation to winning of the won ones."""
    out: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    for deal in world.deals:
        st = states.get(deal.id)
        if st is None:
            continue
        for dimension, value in (
            ("deal_type", deal.pipeline),
            ("product_category", main_product_category(deal)),
        ):
            row = out.setdefault(
                (deal.crm, dimension, value),
                {
                    "crm": deal.crm,
                    "dimension": dimension,
                    "value": value,
                    "deals": 0,
                    "won": 0,
                    "lost": 0,
                    "open": 0,
                    "won_days": [],
                },
            )
            row["deals"] += 1
            row[st.status] += 1
            if st.status == "won" and st.won_time is not None:
                row["won_days"].append((st.won_time - deal.add_time) / DAY)
    rows = []
    for row in out.values():
        days = row.pop("won_days")
        row["avg_won_cycle_days"] = sum(days) / len(days) if days else None
        rows.append(row)
    return sorted(rows, key=lambda r: (r["crm"], r["dimension"], r["value"] or ""))


def product_category_plant() -> dict[str, Any]:
    """The planted product-category effect: which CRMs, which category, the stage factor."""
    return {
        "crms": list(SLOW_CATEGORY_CRMS),
        "slow_category": SLOW_PRODUCT_CATEGORY,
        "stage_factor": SLOW_CATEGORY_STAGE_FACTOR,
    }
