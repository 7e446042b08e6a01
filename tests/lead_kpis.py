"""The lead-phase marts recomputed in plain Python from the payloads the fake APIs serve
(Pipedrive leads, activities, deals and deal flows; Salesforce Lead, LeadHistory, Task;
Oracle CX leads and activities; Zendesk Sell leads, lead sources and calls),
independent of the dbt SQL.

Definitions (the marts' yml):
- first contact of a lead = its first done customer-facing activity (call, email, meeting) on
  the lead (Pipedrive: activity lead_id; Salesforce: Task WhoId = the lead), by done time;
  response = lead created -> first contact; Oracle CX: a COMPLETE activity with LeadId, by
  ActivityEndDate, type ActivityTypeCode; Zendesk Sell: a call on the lead (resource_type
  lead) not missed, by made_at;
- qualification (Salesforce) = the first LeadHistory Status row whose NewValue is Qualified;
- the rep of a lead = its owner when it came in: the former owner (OldValue of the id row) of
  its first Owner LeadHistory change, else its owner (Pipedrive leads: the owner);
- the campaign of a lead (Salesforce) = the CampaignId of its earliest CampaignMember with
  that LeadId (by CreatedDate, then Id), '(none)' without one; Oracle CX: the CampaignId of
  its earliest LeadCampaigns row (by CreationDate, then LeadCampaignId); Pipedrive loads no
  campaigns, so its leads have no campaign dimension;
- a deal is reassigned when its flow has a `user_id` change (Pipedrive); its cycle = creation
  to won_time / lost_time, closed deals only.
Medians interpolate linearly like DuckDB's quantile_cont, on whole seconds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pytest

Record = dict[str, Any]
CUSTOMER_FACING = ("call", "email", "meeting")


def unix(text: str) -> int:
    """Seconds of a Pipedrive (RFC3339, v1) or Salesforce timestamp."""
    text = text.replace("Z", "+00:00").replace("+0000", "+00:00")
    if "T" not in text and "+" not in text:
        text += "+00:00"
    return int(datetime.fromisoformat(text).timestamp())


def median(values: Iterable[int]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    pos = 0.5 * (len(ordered) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _groups(
    leads: list[tuple[str, str, str | None, int, int | None, int | None]],
) -> dict[tuple[str, str], dict[str, Any]]:
    """(dimension, group) -> KPIs, from (source, rep, campaign, created, contacted, qualified)
    rows; campaign None: the system has no campaigns (no campaign group)."""
    members: dict[tuple[str, str], list[tuple[int, int | None, int | None]]] = defaultdict(list)
    for source, rep, campaign, created, contacted, qualified in leads:
        keys = [("all", "all"), ("lead_source", source), ("rep", rep)]
        if campaign is not None:
            keys.append(("campaign", campaign))
        for key in keys:
            members[key].append((created, contacted, qualified))
    out = {}
    for key, rows in members.items():
        response = [c - created for created, c, _ in rows if c is not None]
        qualification = [q - created for created, _, q in rows if q is not None]
        med_r, med_q = median(response), median(qualification)
        out[key] = {
            "leads_count": len(rows),
            "contacted_count": len(response),
            "median_response_hours": None if med_r is None else med_r / 3600.0,
            "qualified_count": len(qualification),
            "median_qualification_days": None if med_q is None else med_q / 86400.0,
        }
    return out


def pipedrive_lead_response(leads: list[Record], activities: list[Record]) -> dict:
    first: dict[str, tuple[int, int]] = {}
    for act in activities:
        if not act.get("lead_id") or not act["done"] or act["type"] not in CUSTOMER_FACING:
            continue
        done = unix(act["marked_as_done_time"])
        key = (done, act["id"])
        if act["lead_id"] not in first or key < first[act["lead_id"]]:
            first[act["lead_id"]] = key
    rows = [
        (
            lead["source_name"] or "(none)",
            f"pipedrive:{lead['owner_id']}",
            None,
            unix(lead["add_time"]),
            first[lead["id"]][0] if lead["id"] in first else None,
            None,
        )
        for lead in leads
    ]
    return _groups(rows)


def salesforce_lead_response(objects: dict[str, list[Record]]) -> dict:
    first: dict[str, tuple[int, str]] = {}
    for task in objects["Task"]:
        who = task.get("WhoId") or ""
        kind = (task.get("Type") or task.get("TaskSubtype") or "").lower()
        if not who.startswith("00Q") or not task["IsClosed"] or kind not in CUSTOMER_FACING:
            continue
        if task.get("CompletedDateTime") is None:
            continue
        key = (unix(task["CompletedDateTime"]), task["Id"])
        if who not in first or key < first[who]:
            first[who] = key
    qualified: dict[str, tuple[int, str]] = {}
    former_owner: dict[str, tuple[int, str, str]] = {}
    for row in objects["LeadHistory"]:
        at = (unix(row["CreatedDate"]), row["Id"])
        lead = row["LeadId"]
        is_status = row["Field"] == "Status" and row["NewValue"] == "Qualified"
        if is_status and (lead not in qualified or at < qualified[lead]):
            qualified[lead] = at
        new = row["NewValue"] or ""
        is_owner = row["Field"] == "Owner" and new.startswith("005") and len(new) in (15, 18)
        if is_owner and (lead not in former_owner or at < former_owner[lead][:2]):
            former_owner[lead] = (*at, row["OldValue"])
    campaign: dict[str, tuple[int, str, str]] = {}
    for member in objects.get("CampaignMember", []):
        lead = member.get("LeadId")
        if not lead or member.get("IsDeleted"):
            continue
        at = (unix(member["CreatedDate"]), member["Id"], member["CampaignId"])
        if lead not in campaign or at < campaign[lead]:
            campaign[lead] = at
    has_campaigns = bool(objects.get("Campaign"))
    rows = [
        (
            lead["LeadSource"] or "(none)",
            "salesforce:"
            + (former_owner[lead["Id"]][2] if lead["Id"] in former_owner else lead["OwnerId"]),
            (
                (f"salesforce:{campaign[lead['Id']][2]}" if lead["Id"] in campaign else "(none)")
                if has_campaigns
                else None
            ),
            unix(lead["CreatedDate"]),
            first[lead["Id"]][0] if lead["Id"] in first else None,
            qualified[lead["Id"]][0] if lead["Id"] in qualified else None,
        )
        for lead in objects["Lead"]
        if not lead.get("IsDeleted")
    ]
    return _groups(rows)


def oracle_cx_lead_campaigns(lead_campaigns: dict[int, list[Record]]) -> dict[int, int]:
    """LeadId -> CampaignId of the lead's earliest LeadCampaigns row (by CreationDate, then
    LeadCampaignId), from the memberships expanded on each lead."""
    out: dict[int, tuple[int, int, int]] = {}
    for lead_id, rows in lead_campaigns.items():
        for row in rows:
            key = (unix(row["CreationDate"]), row["LeadCampaignId"], row["CampaignId"])
            if lead_id not in out or key < out[lead_id]:
                out[lead_id] = key
    return {lead_id: key[2] for lead_id, key in out.items()}


def oracle_cx_lead_response(
    leads: list[Record],
    activities: list[Record],
    lead_campaigns: dict[int, list[Record]] | None = None,
) -> dict:
    """Oracle CX has no lead history: the rep is the lead's OwnerId, qualification unknown.
    With `lead_campaigns` (LeadId -> its LeadCampaigns rows) the campaign dimension is the
    CampaignId of each lead's earliest membership, '(none)' without one."""
    campaign = oracle_cx_lead_campaigns(lead_campaigns or {})
    first: dict[int, tuple[int, int]] = {}
    for act in activities:
        kind = (act.get("ActivityTypeCode") or "").lower()
        if act.get("LeadId") is None or act.get("StatusCode") != "COMPLETE":
            continue
        if kind not in CUSTOMER_FACING or act.get("ActivityEndDate") is None:
            continue
        key = (unix(act["ActivityEndDate"]), act["ActivityId"])
        if act["LeadId"] not in first or key < first[act["LeadId"]]:
            first[act["LeadId"]] = key
    rows = [
        (
            lead["ChannelType"] or "(none)",
            f"oracle_cx:{lead['OwnerId']}",
            (
                (
                    f"oracle_cx:{campaign[lead['LeadId']]}"
                    if lead["LeadId"] in campaign
                    else "(none)"
                )
                if lead_campaigns is not None
                else None
            ),
            unix(lead["CreationDate"]),
            first[lead["LeadId"]][0] if lead["LeadId"] in first else None,
            None,
        )
        for lead in leads
    ]
    return _groups(rows)


def zendesk_sell_lead_response(
    leads: list[Record], calls: list[Record], sources: list[Record]
) -> dict:
    """Zendesk Sell lists calls only (no emails) and keeps no lead history: the rep is the
    lead's owner_id, the source its source's name, qualification unknown."""
    first: dict[int, tuple[int, int]] = {}
    for call in calls:
        if call.get("resource_type") != "lead" or call.get("missed"):
            continue
        key = (unix(call["made_at"]), call["id"])
        if call["resource_id"] not in first or key < first[call["resource_id"]]:
            first[call["resource_id"]] = key
    names = {source["id"]: source["name"] for source in sources}
    rows = [
        (
            names.get(lead["source_id"]) or "(none)",
            f"zendesk_sell:{lead['owner_id']}",
            None,  # no campaigns loaded
            unix(lead["created_at"]),
            first[lead["id"]][0] if lead["id"] in first else None,
            None,
        )
        for lead in leads
    ]
    return _groups(rows)


def pipedrive_owner_change_effect(deals: list[Record], flows: Any) -> dict[bool, dict]:
    """is_reassigned -> deals, won, lost, median cycle days (closed deals)."""
    groups: dict[bool, dict[str, Any]] = {}
    cycles: dict[bool, list[int]] = defaultdict(list)
    for deal in deals:
        if deal.get("is_deleted") or deal["status"] == "deleted":
            continue
        moved = any(item["data"]["field_key"] == "user_id" for item in flows[deal["id"]])
        group = groups.setdefault(moved, {"deals_count": 0, "won_count": 0, "lost_count": 0})
        group["deals_count"] += 1
        if deal["status"] in ("won", "lost"):
            group[f"{deal['status']}_count"] += 1
            closed = deal["won_time"] if deal["status"] == "won" else deal["lost_time"]
            cycles[moved].append(unix(closed) - unix(deal["add_time"]))
    for moved, group in groups.items():
        med = median(cycles[moved])
        group["median_cycle_days"] = None if med is None else med / 86400.0
    return groups


# The mart's columns that the recomputations above give, for one source system.
LEAD_RESPONSE_SQL = (
    "select dimension, group_key, leads_count, contacted_count, median_response_hours, "
    "qualified_count, median_qualification_days from marts.lead_response_times "
    "where source_system = ?"
)


def assert_response_without_history(rows: list[tuple[Any, ...]], expected: dict) -> None:
    """The mart's rows (LEAD_RESPONSE_SQL) of a system that keeps no lead history equal the
    recomputation: same groups, leads, contacted and median response; qualification is not
    observable there, so its count and median are null, never 0."""
    mart = {(r[0], r[1]): r[2:] for r in rows}
    assert set(mart) == set(expected)
    for key, row in expected.items():
        leads, contacted, hours, qualified, days = mart[key]
        assert (leads, contacted) == (row["leads_count"], row["contacted_count"]), key
        assert hours == pytest.approx(row["median_response_hours"]), key
        assert qualified is None and days is None, key
