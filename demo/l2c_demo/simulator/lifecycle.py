"""One deal's full life: stage walk, quotes, follow-ups, discounts, flow changes."""

from __future__ import annotations

import math
import random
from typing import Any

from l2c_demo.simulator.catalog import (
    API_USER_AGENTS,
    APP_USER_AGENT,
    EXPANSION,
    FX,
    LOST_REASONS,
    NEGOTIATION,
    PIPELINES,
    PRODUCTS,
    PROPOSAL,
    SLOW_CATEGORY_CRMS,
    SLOW_CATEGORY_STAGE_FACTOR,
    SLOW_PRODUCT_CATEGORY,
    STAGE_IDS,
    STAGE_MEDIAN_DAYS,
)
from l2c_demo.simulator.clock import DAY
from l2c_demo.simulator.config import SimConfig
from l2c_demo.simulator.ids import IdMaker
from l2c_demo.simulator.model import Activity, Deal, DealDiscount, FlowChange, Line, Rep
from l2c_demo.simulator.segments import main_product_category

EARLY_REASONS = (0.05, 0.10, 0.35, 0.25, 0.25)
LATE_REASONS = (0.40, 0.30, 0.10, 0.12, 0.08)
CUSTOMER_FACING = ("call", "email", "meeting")


class LifeBuilder:
    """Writes the complete history of a deal into the Deal record."""

    def __init__(
        self,
        rng: random.Random,
        cfg: SimConfig,
        ids: IdMaker,
        reps: list[Rep],
        discount_key: str,
    ) -> None:
        self.rng = rng
        self.cfg = cfg
        self.ids = ids
        self.reps = reps
        self.discount_key = discount_key
        self._team_members: dict[int, list[Rep]] = {}
        for rep in reps:
            self._team_members.setdefault(rep.team_index, []).append(rep)

    # ---- small helpers -------------------------------------------------
    def _days(self, lo: float, hi: float) -> int:
        return int(self.rng.uniform(lo, hi) * DAY)

    def _stage_days(self, deal: Deal, stage: str, stuck: str | None) -> int:
        median = STAGE_MEDIAN_DAYS[stage] * (0.7 if deal.pipeline == EXPANSION else 1.0)
        days = median * math.exp(self.rng.gauss(0.0, 0.6))
        if stage == stuck:
            days *= 6.0
        return int(days * DAY) + self.rng.randrange(3600)

    def _owner_at(self, deal: Deal, ts: int) -> int:
        owner = deal.owner_id
        for ch in deal.flow:
            if ch.field_key == "user_id" and ch.ts <= ts:
                owner = ch.new
        return owner

    def _change(self, deal: Deal, ts: int, key: str, old: Any, new: Any) -> None:
        api = self.rng.random() < self.cfg.api_change_share
        agent = self.rng.choice(API_USER_AGENTS) if api else APP_USER_AGENT
        user = self._owner_at(deal, ts)
        deal.flow.append(FlowChange(ts, user, key, old, new, "api" if api else "app", agent))

    def _move(self, deal: Deal, ts: int, old: str, new: str) -> None:
        pipe = deal.pipeline
        self._change(deal, ts, "stage_id", STAGE_IDS[(pipe, old)], STAGE_IDS[(pipe, new)])

    def _value_cents(self, deal: Deal, ts: int) -> int:
        net = sum(line.net_cents(ts) for line in deal.lines)
        for disc in deal.discounts:
            if disc.created_at <= ts:
                if disc.type == "percentage":
                    net -= round(net * disc.amount / 100.0)
                else:
                    net -= round(disc.amount * 100)
        return net

    def _activity(self, deal: Deal, kind: str, subject: str, due: int, lead: float) -> None:
        add = max(deal.add_time, due - int(lead * DAY))
        deal.activities.append(
            Activity(
                kind,
                subject,
                self._owner_at(deal, due),
                deal.id,
                deal.person_id,
                deal.org_id,
                add,
                due,
            )
        )

    # ---- products ------------------------------------------------------
    def add_lines(self, deal: Deal, rep: Rep) -> float:
        """Create 1-4 product lines; return the headline discount (fraction)."""
        rng, cfg = self.rng, self.cfg
        target = cfg.value_median * math.exp(rng.gauss(0.0, cfg.value_sigma))
        target = min(max(target, cfg.value_min), cfg.value_max)
        n_lines = rng.choices((1, 2, 3, 4), weights=(0.3, 0.35, 0.2, 0.15))[0]
        products = rng.sample(range(len(PRODUCTS)), n_lines)
        weights = [rng.uniform(0.2, 1.0) for _ in products]
        total_w = sum(weights)
        sd = 0.05 if rep.discount_mean > 0.15 else 0.025
        headline = min(max(rng.gauss(rep.discount_mean, sd), 0.0), 0.5)
        for p_index, weight in zip(products, weights, strict=True):
            price = round(PRODUCTS[p_index][3] * FX[deal.currency], 2)
            qty = max(1, round(target * weight / total_w / price))
            pct = round(min(max(headline + rng.gauss(0.0, 0.015), 0.0), 0.6) * 100, 1)
            if rng.random() < 0.15:
                kind, disc = "amount", float(round(price * qty * pct / 100.0))
            else:
                kind, disc = "percentage", pct
            deal.lines.append(Line(0, p_index, price, qty, kind, disc, deal.add_time))
        return headline

    def _revise_lines(self, deal: Deal, ts: int) -> float:
        extra = self.rng.uniform(1.0, 5.0)
        for line in deal.lines:
            line.revised_at = ts
            if line.discount_type == "percentage":
                line.revised_discount = round(min(line.discount + extra, 70.0), 1)
            else:
                line.revised_discount = float(
                    round(line.discount + line.item_price * line.quantity * extra / 100.0)
                )
        return extra

    # ---- the walk ------------------------------------------------------
    def build(self, deal: Deal, rep: Rep) -> None:
        self._walk(deal, rep)
        if deal.crm in SLOW_CATEGORY_CRMS and main_product_category(deal) == SLOW_PRODUCT_CATEGORY:
            _stretch(deal, SLOW_CATEGORY_STAGE_FACTOR)

    def _walk(self, deal: Deal, rep: Rep) -> None:
        rng, cfg = self.rng, self.cfg
        headline = self.add_lines(deal, rep)
        deal.initial_value = self._value_cents(deal, deal.add_time) / 100.0
        stages = list(PIPELINES[deal.pipeline])
        seq = list(stages)
        if rng.random() < cfg.skip_stage_share:
            seq.remove(rng.choice([s for s in stages[1:] if s != PROPOSAL]))
        stuck = rng.choice(seq) if rng.random() < cfg.stuck_share else None
        if rng.random() < cfg.owner_change_share:
            team = [
                r for r in self._team_members[rep.team_index] if r.id != rep.id and r.crm == rep.crm
            ]
            if team:
                when = deal.add_time + self._days(0.3, 3.0)
                self._change(deal, when, "user_id", rep.id, rng.choice(team).id)
        t = deal.add_time
        prop_i = seq.index(PROPOSAL)
        for idx in range(prop_i):
            t += self._stage_days(deal, seq[idx], stuck)
            if rng.random() < cfg.early_loss_hazard:
                self._early_activities(deal, t)
                self._close(deal, t, False, EARLY_REASONS)
                return
            self._move(deal, t, seq[idx], seq[idx + 1])
        self._after_proposal(deal, seq, prop_i, t, headline, stuck)

    def _after_proposal(
        self, deal: Deal, seq: list[str], prop_i: int, t: int, headline: float, stuck: str | None
    ) -> None:
        rng, cfg = self.rng, self.cfg
        post = seq[prop_i + 1 :]
        backward = bool(post) and rng.random() < cfg.backward_move_share
        revision = backward or rng.random() < cfg.revision_share
        quotes: list[int] = []
        filled = rng.random() < cfg.headline_discount_filled_share
        t += self._days(0.2, 3.0)
        self._early_activities(deal, t)
        self._quote(deal, t, quotes, headline, filled)
        pos = prop_i
        if revision and not backward and (not post or post[0] != NEGOTIATION):
            t += self._days(2.0, 8.0)
            self._quote(deal, t, quotes, headline, filled)
        if post:
            t += self._stage_days(deal, PROPOSAL, stuck)
            self._move(deal, t, PROPOSAL, post[0])
            pos += 1
            if backward:
                t += self._stage_days(deal, post[0], stuck) // 2
                self._move(deal, t, post[0], PROPOSAL)
                t += self._days(1.0, 4.0)
                self._quote(deal, t, quotes, headline, filled)
                t += self._days(1.0, 5.0)
                self._move(deal, t, PROPOSAL, post[0])
            elif revision and post[0] == NEGOTIATION:
                t += self._days(1.0, 6.0)
                self._quote(deal, t, quotes, headline, filled)
        if revision and seq[pos] in (PROPOSAL, NEGOTIATION) and rng.random() < 0.3:
            t += self._days(2.0, 6.0)
            self._quote(deal, t, quotes, headline, filled)
        fu_last = self._follow_ups(deal, quotes)
        p_win = cfg.win_prob_quoted + (cfg.follow_up_win_uplift if fu_last else 0.0)
        won = rng.random() < p_win
        if won:
            while pos < len(seq) - 1:
                t += self._stage_days(deal, seq[pos], stuck)
                self._move(deal, t, seq[pos], seq[pos + 1])
                pos += 1
        elif pos < len(seq) - 1 and rng.random() < 0.4:
            t += self._stage_days(deal, seq[pos], stuck)
            self._move(deal, t, seq[pos], seq[pos + 1])
            pos += 1
        t += self._stage_days(deal, seq[pos], stuck)
        t = max(t, quotes[-1] + int((cfg.follow_up_days + rng.uniform(0.2, 5.0)) * DAY))
        self._close(deal, t, won, LATE_REASONS)

    def _quote(self, deal: Deal, ts: int, quotes: list[int], headline: float, filled: bool) -> None:
        n = len(quotes) + 1
        quotes.append(ts)
        before = self._value_cents(deal, ts - 1)
        new_headline: float | None = None
        if n == 1:
            if self.rng.random() < self.cfg.deal_discount_share:
                if self.rng.random() < 0.6:
                    kind, amount = "percentage", float(self.rng.randint(2, 5))
                else:
                    kind, amount = "amount", float(self.rng.choice((250, 500, 750, 1000)))
                desc = "Loyalty discount" if kind == "percentage" else "One-off goodwill"
                deal.discounts.append(
                    DealDiscount(self.ids.uuid(), kind, amount, desc, ts, self._owner_at(deal, ts))
                )
            if filled:
                new_headline = round(headline * 100, 1)
                self._change(deal, ts, self.discount_key, None, new_headline)
        elif n == 2:
            extra = self._revise_lines(deal, ts)
            if filled:
                old = round(headline * 100, 1)
                self._change(deal, ts, self.discount_key, old, round(old + extra, 1))
        after = self._value_cents(deal, ts)
        if after != before:
            self._change(deal, ts, "value", before / 100.0, after / 100.0)
        self._activity(deal, "quote", f"Quote v{n} sent", ts, 0.0)

    def _follow_ups(self, deal: Deal, quotes: list[int]) -> bool:
        """Schedule follow-ups after each quote; return whether the last one had a quick one."""
        rng, cfg = self.rng, self.cfg
        quick = False
        for i, q in enumerate(quotes):
            limit = quotes[i + 1] if i + 1 < len(quotes) else None
            quick = rng.random() < cfg.follow_up_share
            if quick:
                due = q + int(rng.uniform(0.05, cfg.follow_up_days - 0.05) * DAY)
            elif rng.random() < 0.6:
                due = q + int(rng.uniform(cfg.follow_up_days + 0.2, 15.0) * DAY)
            else:
                continue
            if limit is not None and due >= limit:
                continue
            kind = rng.choice(CUSTOMER_FACING)
            self._activity(deal, kind, f"Follow up on quote v{i + 1}", due, rng.uniform(0, 2))
        return quick

    def _early_activities(self, deal: Deal, until: int) -> None:
        rng = self.rng
        span = max(until - deal.add_time, 3600)
        for _ in range(rng.randint(0, 3)):
            due = deal.add_time + rng.randrange(span)
            kind = rng.choice(CUSTOMER_FACING)
            self._activity(deal, kind, f"{kind.title()} with prospect", due, rng.uniform(0, 2))
        for _ in range(rng.randint(0, 2)):
            due = deal.add_time + rng.randrange(span)
            self._activity(deal, "task", "Update CRM notes", due, rng.uniform(0, 1))

    def _close(self, deal: Deal, t: int, won: bool, reason_weights: tuple[float, ...]) -> None:
        rng = self.rng
        # drop follow-ups that would land after the close
        deal.activities = [a for a in deal.activities if a.due_time <= t or a.type == "quote"]
        if won:
            self._change(deal, t, "status", "open", "won")
            deal.final_won_time = t
            deal.won_value_cents = self._value_cents(deal, t)
            return
        reason = rng.choices(LOST_REASONS, weights=reason_weights)[0]
        self._change(deal, t, "status", "open", "lost")
        self._change(deal, t, "lost_reason", None, reason)
        if rng.random() >= self.cfg.reopen_share:
            return
        t += self._days(10.0, 60.0)
        self._change(deal, t, "status", "lost", "open")
        self._change(deal, t, "lost_reason", reason, None)
        t += self._days(10.0, 40.0)
        if rng.random() < 0.5:
            self._change(deal, t, "status", "open", "won")
            deal.final_won_time = t
            deal.won_value_cents = self._value_cents(deal, t)
        else:
            self._change(deal, t, "status", "open", "lost")
            self._change(deal, t, "lost_reason", None, reason)


def _stretch(deal: Deal, factor: float) -> None:
    """Planted slow product category: the deal's life after its creation (every stage, quote,
    follow-up and the close) takes `factor` times as long. Applied after the walk, so the
    walk draws the same random numbers as any other deal's and the rest of the company (its
    leads, campaigns, other deals) is the one it would be without the plant."""

    def at(ts: int) -> int:
        return deal.add_time + round((ts - deal.add_time) * factor)

    for change in deal.flow:
        change.ts = at(change.ts)
    for activity in deal.activities:
        activity.add_time, activity.due_time = at(activity.add_time), at(activity.due_time)
    for discount in deal.discounts:
        discount.created_at = at(discount.created_at)
    for line in deal.lines:
        if line.revised_at is not None:
            line.revised_at = at(line.revised_at)
    if deal.final_won_time is not None:
        deal.final_won_time = at(deal.final_won_time)
