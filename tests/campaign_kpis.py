"""The campaign and segment marts recomputed in plain Python from the Salesforce payloads the
fake API serves (SObject records by API name), independent of the dbt SQL.

Definitions (the marts' yml): a lead's campaign is the campaign of its earliest CampaignMember
(ties: the smaller member Id); a lead is converted when its ConvertedOpportunityId names an
opportunity. An opportunity's campaign is its CampaignId, else its lead's; won = IsWon, lost =
IsClosed and not IsWon. Deal type = Opportunity.Type; main product category = Product2.Family
of the OpportunityLineItem with the largest ListPrice x Quantity (rounded to cents; ties: the
family that sorts first; lines without a positive list amount or a family left out). Cycle days
of a won opportunity: CreatedDate to LastStageChangeDate. Every record served was created by
the company's as_of, so every one counts.
"""

from __future__ import annotations

from typing import Any

from approval_kpis import unix

Record = dict[str, Any]
NONE = "(none)"


def lead_campaigns(objects: dict[str, list[Record]]) -> dict[str, str]:
    """Lead Id -> name of the campaign of its earliest membership."""
    names = {c["Id"]: c["Name"] for c in objects.get("Campaign", [])}
    out: dict[str, str] = {}
    members = sorted(
        objects.get("CampaignMember", []), key=lambda m: (unix(m["CreatedDate"]), m["Id"])
    )
    for member in members:
        if member["LeadId"] and member["LeadId"] not in out:
            out[member["LeadId"]] = names[member["CampaignId"]]
    return out


def _outcome(opp: Record) -> str:
    return "won" if opp["IsWon"] else "lost" if opp["IsClosed"] else "open"


def campaign_performance(objects: dict[str, list[Record]]) -> dict[str, tuple[int, ...]]:
    """Campaign name -> (leads, leads converted, deals, won, lost)."""
    names = {c["Id"]: c["Name"] for c in objects.get("Campaign", [])}
    of_lead = lead_campaigns(objects)
    opps = {o["Id"]: o for o in objects["Opportunity"] if not o["IsDeleted"]}
    lead_of = {
        lead["ConvertedOpportunityId"]: lead["Id"]
        for lead in objects["Lead"]
        if lead["ConvertedOpportunityId"]
    }
    counts: dict[str, list[int]] = {}
    for lead in objects["Lead"]:
        row = counts.setdefault(of_lead.get(lead["Id"], NONE), [0] * 5)
        row[0] += 1
        row[1] += lead["ConvertedOpportunityId"] in opps
    for opp_id, opp in opps.items():
        if opp["CampaignId"]:
            name = names[opp["CampaignId"]]
        else:
            name = of_lead.get(lead_of.get(opp_id, ""), NONE)
        row = counts.setdefault(name, [0] * 5)
        row[2] += 1
        outcome = _outcome(opp)
        if outcome != "open":
            row[3 if outcome == "won" else 4] += 1
    return {name: tuple(row) for name, row in counts.items()}


def main_categories(objects: dict[str, list[Record]]) -> dict[str, str]:
    """Opportunity Id -> Product2.Family of its line with the largest list amount."""
    family = {p["Id"]: p["Family"] for p in objects.get("Product2", [])}
    best: dict[str, tuple[float, str]] = {}
    for line in objects["OpportunityLineItem"]:
        amount = round((line["ListPrice"] or 0.0) * (line["Quantity"] or 1.0), 2)
        name = family.get(line["Product2Id"])
        if amount <= 0 or not name:
            continue
        key = (-amount, name)
        if line["OpportunityId"] not in best or key < best[line["OpportunityId"]]:
            best[line["OpportunityId"]] = key
    return {opp: name for opp, (_amount, name) in best.items()}


def segment_performance(
    objects: dict[str, list[Record]],
) -> dict[tuple[str, str], tuple[int, int, int, int, float | None]]:
    """(dimension, value) -> (deals, won, lost, open, mean won cycle days)."""
    categories = main_categories(objects)
    rows: dict[tuple[str, str], list[Any]] = {}
    for opp in objects["Opportunity"]:
        if opp["IsDeleted"]:
            continue
        outcome = _outcome(opp)
        for key in (
            ("deal_type", opp["Type"] or NONE),
            ("product_category", categories.get(opp["Id"], NONE)),
        ):
            row = rows.setdefault(key, [0, 0, 0, 0, []])
            row[0] += 1
            row[{"won": 1, "lost": 2, "open": 3}[outcome]] += 1
            if outcome == "won":
                seconds = unix(opp["LastStageChangeDate"]) - unix(opp["CreatedDate"])
                row[4].append(seconds / 86400.0)
    return {
        key: (n, won, lost, still_open, sum(days) / len(days) if days else None)
        for key, (n, won, lost, still_open, days) in rows.items()
    }
