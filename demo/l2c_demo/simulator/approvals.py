"""Discount approvals and customer contracts: the steps between the quote and the signature.

Planted truths (SimConfig knobs):
- A quote whose discount (value weighted, deal-level discounts included) is at or above the
  discount policy (`approval_threshold_pct`, the first band of seeds/discount_policy.csv that is
  above policy) needs a manager's approval before it is sent. The rep requests it, the
  approver (the rep's team manager in the same CRM) decides just before the quote goes out.
- The wait grows with the discount, and approvals of deals that end lost waited
  `slow_approval_loss_factor` times longer: waiting for an approval goes with a lower win rate.
- Some requests are rejected first (more often the deeper the discount): the rep reworks the
  offer and resubmits, and the resubmission is approved before the revised quote is sent. A
  lost deal whose last quote needed approval may end with a rejected request for a deeper
  discount (`rescue_request_share`) just before it is lost.
- Every deal that is eventually won had a contract sent after its last quote, once it reached
  Negotiation or Contract Sent (won straight from the proposal: just before the win), and
  signed just before the win; signatures take `contract_sign_median_days`, except in
  `slow_signature_region` (`slow_signature_median_days`). A lost deal that reached the
  Contract Sent stage had its contract sent, never signed.

Everything uses its own random stream per deal, so the rest of the company is unchanged.
Times are unix seconds; acting users are rep ids.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from l2c_demo.simulator.catalog import STAGE_NAMES
from l2c_demo.simulator.clock import DAY
from l2c_demo.simulator.config import SimConfig
from l2c_demo.simulator.model import Deal, Rep, World

HOUR = 3600
CONTRACT_STAGE = "Contract Sent"
CLOSING_STAGES = ("Negotiation", CONTRACT_STAGE)


@dataclass(frozen=True)
class ApprovalRequest:
    number: int  # 1.. in request order, company-wide
    deal_id: int
    crm: str
    discount_pct: float  # the discount asked for
    requested: int
    requested_by: int
    decided: int
    approver: int
    approved: bool

    def visible(self, as_of: int) -> bool:
        return self.requested <= as_of

    def decided_at(self, as_of: int) -> int | None:
        return self.decided if self.decided <= as_of else None


@dataclass(frozen=True)
class Contract:
    number: int  # 1.. in sending order, company-wide
    deal_id: int
    crm: str
    sent: int
    sent_by: int
    signed: int | None  # None: never signed
    signed_by: int | None

    def visible(self, as_of: int) -> bool:
        return self.sent <= as_of

    def signed_at(self, as_of: int) -> int | None:
        return self.signed if self.signed is not None and self.signed <= as_of else None


def discount_pct_at(deal: Deal, ts: int) -> float:
    """The deal's value-weighted discount at ts, in percent of the list amount."""
    list_cents = sum(line.list_cents() for line in deal.lines if line.add_time <= ts)
    net = sum(line.net_cents(ts) for line in deal.lines if line.add_time <= ts)
    for disc in deal.discounts:
        if disc.created_at <= ts:
            net -= (
                round(net * disc.amount / 100.0)
                if disc.type == "percentage"
                else round(disc.amount * 100)
            )
    return 100.0 * (list_cents - net) / list_cents if list_cents else 0.0


def owner_at(deal: Deal, ts: int) -> int:
    owner = deal.owner_id
    for ch in deal.flow:
        if ch.field_key == "user_id" and ch.ts <= ts:
            owner = ch.new
    return owner


def approver_of(reps: list[Rep], requester: int) -> int:
    """The requester's team manager when in the same CRM, else another manager (or rep) of it."""
    rep = reps[requester - 1]
    same_crm = [r for r in reps if r.crm == rep.crm and r.id != rep.id]
    manager = reps[rep.team_index]  # team i is managed by rep i + 1
    if manager.id != rep.id and manager.crm == rep.crm:
        return manager.id
    for r in same_crm:
        if r.is_manager:
            return r.id
    return same_crm[0].id if same_crm else rep.id


def _first_loss(deal: Deal) -> int | None:
    return next((ch.ts for ch in deal.flow if ch.field_key == "status" and ch.new == "lost"), None)


class _Planner:
    def __init__(self, cfg: SimConfig, reps: list[Rep], deal: Deal) -> None:
        self.cfg = cfg
        self.reps = reps
        self.deal = deal
        self.rng = random.Random(f"approvals-{cfg.seed}-{deal.id}")
        self.lost = deal.final_won_time is None and _first_loss(deal) is not None
        self.requests: list[tuple[int, int, int, int, float, bool]] = []

    def _wait(self, pct: float) -> float:
        cfg = self.cfg
        median = cfg.approval_delay_median_days * (
            1.0 + max(pct - cfg.approval_threshold_pct, 0) / 10
        )
        if self.lost:
            median *= cfg.slow_approval_loss_factor
        return median * math.exp(self.rng.gauss(0.0, 0.5)) * DAY

    def _request(self, start: int, end: int, pct: float, approved: bool) -> None:
        requester = owner_at(self.deal, start)
        approver = approver_of(self.reps, requester)
        self.requests.append((start, end, requester, approver, round(pct, 2), approved))

    def before_quote(self, lower: int, quote_at: int, pct: float) -> None:
        cfg, rng = self.cfg, self.rng
        decided = quote_at - int(rng.uniform(0.02, 0.15) * DAY)
        if decided - lower < 600:
            return
        reject_p = min(0.6, cfg.approval_reject_base + (pct - cfg.approval_threshold_pct) * 0.02)
        if rng.random() < reject_p:
            first, rework, second = self._wait(pct), rng.uniform(0.1, 1.0) * DAY, self._wait(pct)
            total = first + rework + second
            scale = min(1.0, (decided - lower) / total)
            start = decided - int(total * scale)
            rejected = start + int(first * scale)
            resubmitted = rejected + max(int(rework * scale), 1)
            self._request(start, rejected, pct + rng.uniform(2.0, 6.0), False)
            self._request(resubmitted, decided, pct, True)
            return
        start = max(lower, decided - int(self._wait(pct)))
        self._request(start, decided, pct, True)

    def rescue(self, last_quote: int, pct: float) -> None:
        """A lost deal's last try: a deeper discount, rejected just before the loss."""
        lost_at = _first_loss(self.deal)
        if lost_at is None or lost_at - last_quote < 2 * HOUR:
            return
        rng = self.rng
        start = last_quote + int(rng.uniform(0.3, 0.7) * (lost_at - last_quote))
        decided = start + int(rng.uniform(0.3, 0.9) * (lost_at - start))
        self._request(start, decided, pct + rng.uniform(3.0, 8.0), False)


def _plan_approvals(cfg: SimConfig, reps: list[Rep], deal: Deal) -> _Planner:
    planner = _Planner(cfg, reps, deal)
    quotes = sorted(a.due_time for a in deal.activities if a.type == "quote")
    lower = deal.add_time + HOUR
    needed = False
    for q in quotes:
        pct = discount_pct_at(deal, q)
        needed = pct >= cfg.approval_threshold_pct
        if needed:
            planner.before_quote(lower, q, pct)
        lower = q + HOUR
    if quotes and needed and planner.lost and planner.rng.random() < cfg.rescue_request_share:
        planner.rescue(quotes[-1], discount_pct_at(deal, quotes[-1]))
    return planner


def _contract_times(cfg: SimConfig, deal: Deal, after: int) -> tuple[int, int | None] | None:
    rng = random.Random(f"contract-{cfg.seed}-{deal.id}")
    if deal.final_won_time is not None:
        won = deal.final_won_time
        # the contract goes out once the deal is in its closing stages (negotiation or the
        # contract stage), as a sales team does: never while it is still at the proposal
        closing = [
            ch.ts
            for ch in deal.flow
            if ch.field_key == "stage_id"
            and STAGE_NAMES[ch.new][1] in CLOSING_STAGES
            and ch.ts < won
        ]
        # a deal won straight from the proposal gets its contract at the last moment
        after = max(after, min(closing) if closing else won - 2 * DAY)
        slow = deal.region == cfg.slow_signature_region
        median = cfg.slow_signature_median_days if slow else cfg.contract_sign_median_days
        signed = won - int(rng.uniform(0.5, 4.0) * HOUR)
        if signed - after < HOUR:
            return None
        wait = int(median * math.exp(rng.gauss(0.0, 0.4)) * DAY)
        # the contract goes out a little after the last quote at the earliest
        sent = max(after + int(rng.uniform(0.2, 1.5) * DAY), signed - wait)
        if sent > signed - HOUR:
            sent = after + (signed - after) // 2
        return sent, signed
    lost_at = _first_loss(deal)
    entered = next(
        (
            ch.ts
            for ch in deal.flow
            if ch.field_key == "stage_id" and STAGE_NAMES[ch.new][1] == CONTRACT_STAGE
        ),
        None,
    )
    if entered is None or lost_at is None:
        return None
    sent = max(entered, after) + int(rng.uniform(0.05, 0.5) * DAY)
    return (sent, None) if sent < lost_at else None


def build_approvals_and_contracts(
    world: World, cfg: SimConfig
) -> tuple[list[ApprovalRequest], list[Contract]]:
    drafts: list[tuple[int, int, int, int, int, float, bool]] = []
    contract_drafts: list[tuple[int, int, int, int | None]] = []  # (sent, deal, sent_by, signed)
    for deal in world.deals:
        planner = _plan_approvals(cfg, world.reps, deal)
        for start, end, requester, approver, pct, approved in planner.requests:
            drafts.append((start, deal.id, end, requester, approver, pct, approved))
        quotes = [a.due_time for a in deal.activities if a.type == "quote"]
        after = max([*quotes, *(r[1] for r in planner.requests), deal.add_time]) + HOUR
        times = _contract_times(cfg, deal, after)
        if times is not None:
            sent, signed = times
            contract_drafts.append((sent, deal.id, owner_at(deal, sent), signed))
    deals = {d.id: d for d in world.deals}
    approvals = [
        ApprovalRequest(n, deal_id, deals[deal_id].crm, pct, start, req, end, appr, ok)
        for n, (start, deal_id, end, req, appr, pct, ok) in enumerate(sorted(drafts), start=1)
    ]
    contracts = [
        Contract(
            n,
            deal_id,
            deals[deal_id].crm,
            sent,
            sent_by,
            signed,
            None if signed is None else owner_at(deals[deal_id], signed),
        )
        for n, (sent, deal_id, sent_by, signed) in enumerate(sorted(contract_drafts), start=1)
    ]
    return approvals, contracts
