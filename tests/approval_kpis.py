"""The approval and contract marts recomputed in plain Python from the Salesforce payloads the
fake API serves (SObject records by API name), independent of the dbt SQL.

Definitions (the marts' yml): an approval request is a ProcessInstance on an Opportunity;
requested = its first Started step, decided = its first Approved / Rejected step (ties to the
smaller step Id), wait = decided - requested. A deal's discount band comes from its
OpportunityLineItems: list = sum of round(ListPrice x Quantity x 100), net = sum of
round(TotalPrice x 100), discount % = 100 x (list - net) / list, banded by
seeds/discount_policy.csv. A contract is sent at CreatedDate and signed at ActivatedDate, its
deal is Opportunity__c; the quote before it is the deal's last Quote (status past Draft)
created at or before the contract was sent. Percentiles interpolate linearly like DuckDB's
quantile_cont.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from l2c.dbt_runner import ROOT

Record = dict[str, Any]
SENT_QUOTE_STATUSES = ("Presented", "Accepted", "Denied", "Rejected")


def unix(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp())


def _cents(value: float) -> int:
    """round(value * 100) of SQL: the double product, rounded half away from zero."""
    return int(Decimal(value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def quantile_days(seconds: Iterable[int], q: float) -> float | None:
    values = sorted(seconds)
    if not values:
        return None
    pos = q * (len(values) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return (values[lo] + (values[hi] - values[lo]) * (pos - lo)) / 86400


def discount_bands(objects: dict[str, list[Record]]) -> dict[str, tuple[str, int]]:
    """Opportunity Id -> (discount band, band order), for opportunities with lines."""
    with (ROOT / "seeds" / "discount_policy.csv").open() as handle:
        policy = list(csv.DictReader(handle))
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in objects["OpportunityLineItem"]:
        price = line["ListPrice"] if line["ListPrice"] is not None else line["UnitPrice"]
        totals[line["OpportunityId"]][0] += _cents(price * line["Quantity"])
        totals[line["OpportunityId"]][1] += _cents(line["TotalPrice"])
    out = {}
    for opp, (list_minor, net_minor) in totals.items():
        if list_minor <= 0:
            continue
        pct = 100.0 * (list_minor - net_minor) / list_minor
        for band in policy:
            low, high = band["lower_bound_pct"], band["upper_bound_pct"]
            if (not low or pct >= float(low)) and (not high or pct < float(high)):
                out[opp] = (band["discount_band"], int(band["band_order"]))
    return out


def approval_requests(objects: dict[str, list[Record]]) -> list[Record]:
    """One record per request on an opportunity: deal, requester, wait seconds, decision."""
    targets = {p["Id"]: p["TargetObjectId"] for p in objects["ProcessInstance"]}
    steps: dict[str, list[Record]] = defaultdict(list)
    for step in objects["ProcessInstanceStep"]:
        steps[step["ProcessInstanceId"]].append(step)
    out = []
    for pid, rows in steps.items():
        if not targets[pid].startswith("006"):
            continue
        rows.sort(key=lambda s: (unix(s["CreatedDate"]), s["Id"]))
        started = next(s for s in rows if s["StepStatus"] == "Started")
        decision = next((s for s in rows if s["StepStatus"] in ("Approved", "Rejected")), None)
        out.append(
            {
                "deal": targets[pid],
                "requester": started["ActorId"],
                "decision": decision["StepStatus"].lower() if decision else None,
                "wait": (
                    unix(decision["CreatedDate"]) - unix(started["CreatedDate"])
                    if decision
                    else None
                ),
            }
        )
    return out


def approval_performance(objects: dict[str, list[Record]]) -> dict[tuple[str, str], Record]:
    """(dimension, group name) -> requests, decided, approved, rejected, approval_rate, waits."""
    bands = discount_bands(objects)
    names = {u["Id"]: u["Name"] for u in objects["User"]}
    groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for req in approval_requests(objects):
        groups[("all", "all requests")].append(req)
        groups[("discount_band", bands.get(req["deal"], ("no lines", 99))[0])].append(req)
        groups[("rep", names.get(req["requester"], req["requester"]))].append(req)
    out = {}
    for key, reqs in groups.items():
        decided = [r for r in reqs if r["decision"]]
        approved = sum(1 for r in decided if r["decision"] == "approved")
        out[key] = {
            "requests": len(reqs),
            "deals": len({r["deal"] for r in reqs}),
            "decided_requests": len(decided),
            "approved_requests": approved,
            "rejected_requests": len(decided) - approved,
            "approval_rate": approved / len(decided) if decided else None,
            "median_wait_days": quantile_days((r["wait"] for r in decided), 0.5),
            "p90_wait_days": quantile_days((r["wait"] for r in decided), 0.9),
        }
    return out


def approval_win_effect(
    objects: dict[str, list[Record]], slow_days: float
) -> dict[str, tuple[int, int]]:
    """approval group -> (closed deals, won deals)."""
    waits: dict[str, int] = defaultdict(int)
    for req in approval_requests(objects):
        waits[req["deal"]] += req["wait"] or 0
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for opp in objects["Opportunity"]:
        if not opp["IsClosed"]:
            continue
        if opp["Id"] not in waits:
            group = "no_approval"
        else:
            group = "quick_approval" if waits[opp["Id"]] < slow_days * 86400 else "slow_approval"
        out[group][0] += 1
        out[group][1] += int(opp["IsWon"])
    return {k: (v[0], v[1]) for k, v in out.items()}


def quote_to_signature(objects: dict[str, list[Record]]) -> dict[str, Record]:
    """region -> contract counts and median segment days over signed contracts."""
    regions = {o["Id"]: o.get("Region__c") or "unknown" for o in objects["Opportunity"]}
    quotes: dict[str, list[int]] = defaultdict(list)
    for quote in objects["Quote"]:
        if quote["Status"] in SENT_QUOTE_STATUSES:
            quotes[quote["OpportunityId"]].append(unix(quote["CreatedDate"]))
    rows: dict[str, list[tuple[int | None, int | None]]] = defaultdict(list)
    for contract in objects["Contract"]:
        sent = unix(contract["CreatedDate"])
        signed = unix(contract["ActivatedDate"]) if contract["ActivatedDate"] else None
        before = [q for q in quotes[contract["Opportunity__c"]] if q <= sent]
        last_quote = max(before) if before else None
        to_contract = sent - last_quote if last_quote is not None and signed else None
        signature = signed - sent if signed else None
        rows[regions[contract["Opportunity__c"]]].append((to_contract, signature))
    return {
        region: {
            "contracts_sent": len(items),
            "contracts_signed": sum(1 for _q, s in items if s is not None),
            "median_quote_to_contract_days": quantile_days(
                (q for q, _s in items if q is not None), 0.5
            ),
            "median_signature_days": quantile_days((s for _q, s in items if s is not None), 0.5),
        }
        for region, items in rows.items()
    }
