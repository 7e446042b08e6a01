"""Sales orders: the step between a won deal and its invoice.

Every deal that is eventually won gets one order shortly after the win, fulfilled before its
first invoice (when it has one). Which system shows the order depends on the CRM: Salesforce
and Zendesk Sell have order objects; for Pipedrive and Oracle CX deals the orders come from an
ERP export (the file-drop source). Orders use their own random stream per deal, so adding them
changed nothing else in the company.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from l2c_demo.simulator.clock import DAY
from l2c_demo.simulator.model import World


@dataclass(frozen=True)
class SalesOrder:
    number: int  # 1.. in creation order, company-wide
    deal_id: int
    crm: str  # the deal's CRM
    owner_id: int
    created: int
    fulfilled: int
    amount_cents: int
    currency: str

    def visible(self, as_of: int) -> bool:
        return self.created <= as_of

    def fulfilled_at(self, as_of: int) -> int | None:
        return self.fulfilled if self.fulfilled <= as_of else None


def build_orders(world: World, seed: int) -> list[SalesOrder]:
    first_invoice: dict[int, int] = {}
    for inv in world.invoices:
        first_invoice[inv.deal_id] = min(first_invoice.get(inv.deal_id, inv.created), inv.created)
    drafts: list[tuple[int, int, int, int]] = []  # (created, deal id, fulfilled, owner)
    for deal in world.deals:
        if deal.final_won_time is None:
            continue
        rng = random.Random(f"order-{seed}-{deal.id}")
        created = deal.final_won_time + int(rng.uniform(0.05, 1.0) * DAY)
        invoiced = first_invoice.get(deal.id)
        if invoiced is not None and invoiced <= created + 3600:
            created = deal.final_won_time + 60
        if invoiced is not None and invoiced > created + 3600:
            fulfilled = created + int(rng.uniform(0.3, 0.9) * (invoiced - created))
        else:
            fulfilled = created + int(rng.uniform(1.0, 10.0) * DAY)
        drafts.append((created, deal.id, fulfilled, deal.owner_id))
    deals = {d.id: d for d in world.deals}
    orders = []
    for number, (created, deal_id, fulfilled, owner) in enumerate(sorted(drafts), start=1):
        deal = deals[deal_id]
        orders.append(
            SalesOrder(
                number,
                deal_id,
                deal.crm,
                owner,
                created,
                fulfilled,
                deal.won_value_cents,
                deal.currency,
            )
        )
    return orders
