"""Zendesk Sell deals sold as recurring contracts, renewed through a Renewals pipeline.

Sell has no subscription object: a company selling contracts records them with deal custom
fields (`Contract start`, `Term (months)`, `Billing frequency`, `MRR`) and a second pipeline,
Renewals, with one renewal deal per term end (won = renewed, lost = churned). The API has no
parent-deal link, so each renewal deal names the contract's original deal in its custom field
`Renews deal ID`.

Planted truths (SimConfig): a won Sell deal is a recurring contract with probability
`sell_recurring_share` (0 = none; deals with a Stripe subscription are left out); at each term
end the contract churns with probability `sell_churn_probability`, or
`sell_churn_heavy_probability` in `sell_churn_heavy_region` (the region that churns most);
terms are drawn from `sell_term_months`. A renewal deal opens 30 days (at most 7 days per term
month) before its term end and is decided 0-5 days after it. A separate
random stream per deal keeps the rest of the company identical.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from l2c_demo.simulator.clock import DAY
from l2c_demo.simulator.config import SimConfig
from l2c_demo.simulator.model import Deal
from l2c_demo.simulator.subscriptions import add_months

RENEWALS_PIPELINE = "Renewals"
RENEWALS_PIPELINE_ID = 1843203
# open stage, won, lost of the Renewals pipeline (ids after the other pipelines' stages)
RENEWAL_STAGE_IDS = {"Renewal Due": 8843301, "Won": 8843302, "Lost": 8843303}
RENEWAL_DEAL_OFFSET = 700_000_000  # renewal deal id = offset + original id * 100 + term
CONTRACT_START, TERM_MONTHS, BILLING_FREQUENCY, MRR = (
    "Contract start",
    "Term (months)",
    "Billing frequency",
    "MRR",
)
RENEWS_DEAL = "Renews deal ID"
OPEN_DAYS_BEFORE_TERM_END = 30  # at most 7 days per term month


@dataclass
class RenewalDeal:
    id: int
    term: int  # 1 = the first renewal
    term_end: int
    created: int
    decided_at: int
    renewed: bool


@dataclass
class SellContract:
    deal_id: int  # the world deal
    sell_id: int  # its Zendesk Sell id
    region: str
    currency: str
    owner_id: int
    org_id: int
    won_at: int
    start: int  # midnight UTC of the won day
    term_months: int
    mrr: float
    renewals: list[RenewalDeal] = field(default_factory=list)


def _contract(cfg: SimConfig, deal: Deal, horizon: int) -> SellContract | None:
    rng = random.Random(f"sell-recurring:{cfg.seed}:{deal.id}")
    if deal.final_won_time is None or rng.random() >= cfg.sell_recurring_share:
        return None
    terms = cfg.sell_term_months
    term = rng.choices([t for t, _ in terms], [w for _, w in terms])[0]
    start = deal.final_won_time - deal.final_won_time % DAY
    mrr = round(deal.won_value_cents / 100 / term, 2)
    contract = SellContract(
        deal.id,
        deal.id,
        deal.region,
        deal.currency,
        deal.owner_id,
        deal.org_id,
        deal.final_won_time,
        start,
        term,
        mrr,
    )
    churn = (
        cfg.sell_churn_heavy_probability
        if deal.region == cfg.sell_churn_heavy_region
        else cfg.sell_churn_probability
    )
    k = 1
    while True:
        term_end = add_months(start, k * term)
        created = term_end - min(OPEN_DAYS_BEFORE_TERM_END, 7 * term) * DAY
        if created > horizon:
            break
        renewed = rng.random() >= churn
        decided = term_end + rng.randint(0, 5) * DAY + rng.randint(9, 17) * 3600
        renewal_id = RENEWAL_DEAL_OFFSET + deal.id * 100 + k
        contract.renewals.append(RenewalDeal(renewal_id, k, term_end, created, decided, renewed))
        if not renewed:
            break
        k += 1
    return contract


def sell_contracts(
    cfg: SimConfig, deals: list[Deal], excluded: set[int], horizon: int
) -> list[SellContract]:
    """The recurring contracts of the won Zendesk Sell deals (none when the share is 0);
    deals in `excluded` (sold with a Stripe subscription) are not picked."""
    if cfg.sell_recurring_share <= 0:
        return []
    out = []
    for deal in deals:
        if deal.crm != "zendesk_sell" or deal.id in excluded:
            continue
        contract = _contract(cfg, deal, horizon)
        if contract is not None:
            out.append(contract)
    return out


def renewal_truth(contracts: list[SellContract], as_of: int) -> dict[str, Any]:
    """What subscription_renewals should say at as_of: contracts started by then, renewal
    decisions taken by then (renewals + non-renewals), per region too."""
    by_region: dict[str, dict[str, int]] = {}
    totals = {"subscriptions": 0, "terms_due": 0, "renewals": 0, "churned": 0}
    for c in contracts:
        if c.won_at > as_of:
            continue
        decided = [r for r in c.renewals if r.decided_at <= as_of]
        row = {
            "subscriptions": 1,
            "terms_due": len(decided),
            "renewals": sum(r.renewed for r in decided),
            "churned": sum(not r.renewed for r in decided),
        }
        region = by_region.setdefault(c.region, dict.fromkeys(totals, 0))
        for key, value in row.items():
            totals[key] += value
            region[key] += value
    rate = totals["renewals"] / totals["terms_due"] if totals["terms_due"] else None
    deals = {"won": 0, "lost": 0, "open": 0}
    for c in contracts:
        for r in c.renewals:
            if r.created <= as_of:
                outcome = "open" if r.decided_at > as_of else ("won" if r.renewed else "lost")
                deals[outcome] += 1
    return {
        **totals,
        "renewal_rate": rate,
        "by_region": by_region,
        "renewal_deals": deals,
        "contracts": contract_truth(contracts, as_of),
    }


def contract_truth(contracts: list[SellContract], as_of: int) -> list[dict[str, Any]]:
    """Every contract started by as_of with its MRR over time: it runs from its start at
    `mrr` (in `currency`) to the end of the term its lost renewal was to renew, when that
    loss is decided by as_of (`ended_at`, else None); `renewed_at` = the term ends renewed
    (decided by as_of); `cancelled_at` = when the renewal deal was lost."""
    out = []
    for c in contracts:
        if c.won_at > as_of:
            continue
        decided = [r for r in c.renewals if r.decided_at <= as_of]
        lost = next((r for r in decided if not r.renewed), None)
        out.append(
            {
                "deal_id": c.sell_id,
                "org_id": c.org_id,
                "owner_id": c.owner_id,
                "region": c.region,
                "currency": c.currency,
                "start": c.start,
                "term_months": c.term_months,
                "mrr": c.mrr,
                "renewed_at": [r.term_end for r in decided if r.renewed],
                "cancelled_at": lost.decided_at if lost else None,
                "ended_at": lost.term_end if lost else None,
            }
        )
    return out
