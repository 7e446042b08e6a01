"""Full-life records of the demo company. Times are unix seconds; some lie after as_of."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from l2c_demo.simulator.sell_renewals import SellContract


@dataclass
class Rep:
    id: int
    name: str
    email: str
    team_index: int
    discount_mean: float
    created: int
    is_manager: bool = False
    crm: str = "pipedrive"


@dataclass
class Org:
    id: int
    name: str
    region: str
    country: str
    city: str
    owner_id: int
    add_time: int = 0
    update_times: list[int] = field(default_factory=list)
    person_ids: list[int] = field(default_factory=list)
    crm: str = "pipedrive"


@dataclass
class Person:
    id: int
    name: str
    email: str
    phone: str
    org_id: int
    owner_id: int
    add_time: int = 0
    update_times: list[int] = field(default_factory=list)


@dataclass
class Line:
    """A deal product line; the discount may be raised once by a quote revision."""

    id: int
    product_index: int
    item_price: float
    quantity: int
    discount_type: str  # "percentage" | "amount"
    discount: float  # percent or currency amount
    add_time: int
    revised_discount: float | None = None
    revised_at: int | None = None

    def discount_at(self, ts: int) -> float:
        if self.revised_at is not None and self.revised_at <= ts:
            assert self.revised_discount is not None
            return self.revised_discount
        return self.discount

    def list_cents(self) -> int:
        return round(self.item_price * self.quantity * 100)

    def net_cents(self, ts: int) -> int:
        disc = self.discount_at(ts)
        if self.discount_type == "percentage":
            return round(self.item_price * self.quantity * (100.0 - disc))
        return round((self.item_price * self.quantity - disc) * 100)


@dataclass
class DealDiscount:
    id: str
    type: str  # percentage | amount
    amount: float
    description: str
    created_at: int
    created_by: int


@dataclass
class FlowChange:
    ts: int
    user_id: int
    field_key: str
    old: Any
    new: Any
    source: str  # app | api
    user_agent: str
    id: int = 0


@dataclass
class Activity:
    type: str  # quote | call | email | meeting | task
    subject: str
    owner_id: int
    deal_id: int
    person_id: int
    org_id: int
    add_time: int
    due_time: int  # done at due time
    id: int = 0


@dataclass
class Lead:
    id: str
    title: str
    owner_id: int
    person_id: int
    org_id: int
    source_name: str
    add_time: int
    value: tuple[float, str] | None
    archived_at: int | None  # converted or disqualified
    converted_deal_id: int | None = None
    seen_at: int | None = None
    crm: str = "pipedrive"
    # closed by a conversion to an account / contact without a deal (Salesforce only)
    converted_without_deal: bool = False
    # index into catalog.CAMPAIGNS of the campaign the lead joined when created (None: none)
    campaign: int | None = None

    # the lead phase (l2c_demo.simulator.leadphase): first customer-facing contact (an
    # activity on the lead, id contact_activity_id), qualification, a reassignment
    first_contact_at: int | None = None
    first_contact_by: int | None = None
    first_contact_kind: str = "call"
    contact_activity_id: int = 0
    qualified_at: int | None = None
    qualified_by: int | None = None
    reassigned_at: int | None = None
    reassigned_to: int | None = None

    def owner_at(self, ts: int) -> int:
        if self.reassigned_at is not None and self.reassigned_to and self.reassigned_at <= ts:
            return self.reassigned_to
        return self.owner_id


@dataclass
class Deal:
    id: int
    title: str
    owner_id: int  # owner at creation
    org_id: int
    person_id: int
    pipeline: str
    region: str
    currency: str
    add_time: int
    origin: str
    source_lead_id: str | None
    expected_close: int
    creation_stage: str
    initial_value: float
    lines: list[Line] = field(default_factory=list)
    discounts: list[DealDiscount] = field(default_factory=list)
    flow: list[FlowChange] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    final_won_time: int | None = None
    won_value_cents: int = 0
    crm: str = "pipedrive"


@dataclass
class Charge:
    id: str
    payment_intent: str
    amount: int
    created: int
    failure_code: str | None = None  # set: a failed payment attempt


@dataclass
class Refund:
    id: str
    charge_id: str
    payment_intent: str
    invoice_id: str
    amount: int
    created: int
    reason: str  # duplicate | fraudulent | requested_by_customer


@dataclass
class CreditNote:
    id: str
    number: str
    invoice_id: str
    customer_id: str
    amount: int
    created: int
    reason: str  # duplicate | fraudulent | order_change | product_unsatisfactory


@dataclass
class Invoice:
    id: str
    deal_id: int
    customer_id: str
    currency: str
    created: int
    finalized_at: int
    due_date: int | None
    lines: list[tuple[str, int, str, int]]  # (line id, amount, description, quantity)
    discount_cents: int
    discount_id: str | None
    has_metadata: bool
    paid_at: int | None = None
    voided_at: int | None = None
    uncollectible_at: int | None = None
    charges: list[Charge] = field(default_factory=list)
    number: str = ""
    # subscription invoices (charged automatically, no due date)
    subscription_id: str | None = None
    billing_reason: str = "manual"
    period: tuple[int, int] | None = None  # service period (start, end) of a subscription line
    disputes: list[Dispute] = field(default_factory=list)
    # planted: the invoice bills more or less than its deal's won value
    planted_mismatch: str | None = None  # invoiced_above_deal | invoiced_below_deal
    period_hidden: bool = False  # planted: its subscription line is rendered without a period

    @property
    def total(self) -> int:
        return sum(amount for _, amount, _, _ in self.lines) - self.discount_cents


@dataclass
class Customer:
    id: str
    org_id: int
    name: str
    email: str
    country: str
    currency: str
    created: int
    has_org_metadata: bool
    number_prefix: str


@dataclass
class Subscription:
    """A Stripe subscription sold by a won deal: one item (a recurring product), billed every
    `interval` (month or year) for terms of `term_months`; at each term end it renews or ends."""

    id: str
    item_id: str
    deal_id: int
    customer_id: str
    currency: str
    product_index: int
    unit_amount: int  # minor units per billing period
    quantity: int
    interval: str  # month | year
    term_months: int
    start: int
    renewals: list[int] = field(default_factory=list)  # term ends passed while active
    canceled_at: int | None = None  # cancellation requested (or forced by failed payments)
    ended_at: int | None = None
    cancel_reason: str | None = None  # cancellation_requested | payment_failed
    feedback: str | None = None
    changes: list[SubscriptionChange] = field(default_factory=list)

    @property
    def period_months(self) -> int:
        return 1 if self.interval == "month" else 12

    def quantity_at(self, ts: int) -> int:
        """The quantity billed at `ts` (after the changes made by then)."""
        quantity = self.quantity
        for change in self.changes:
            if change.at <= ts:
                quantity = change.quantity
        return quantity


@dataclass
class SubscriptionChange:
    """A quantity change during a term: an expansion now, prorated on an invoice with
    billing_reason subscription_update (`invoice_id`), or a contraction from a period start,
    made through a subscription schedule (`schedule_id`, created `schedule_created`) whose
    second phase starts then and ends one period later (then the schedule is released)."""

    at: int
    previous_quantity: int
    quantity: int
    invoice_id: str | None = None
    schedule_id: str | None = None
    schedule_created: int | None = None
    phase_end: int | None = None

    @property
    def kind(self) -> str:
        return "expansion" if self.quantity > self.previous_quantity else "contraction"


@dataclass
class Dispute:
    """A cardholder dispute of a successful charge: funds withdrawn when opened; a won dispute
    reinstates them at `closed_at` (a lost one has no closing balance transaction)."""

    id: str
    charge_id: str
    payment_intent: str
    amount: int
    created: int
    reason: str  # fraudulent | product_not_received | subscription_canceled | ...
    outcome: str  # won | lost
    closed_at: int


@dataclass
class World:
    """Everything the company ever does, before rendering as of a date."""

    reps: list[Rep]
    teams: list[tuple[int, str, int]]  # (id, name, manager id)
    orgs: list[Org]
    persons: list[Person]
    deals: list[Deal]
    leads: list[Lead]
    customers: list[Customer]
    invoices: list[Invoice]
    region_field_key: str
    discount_field_key: str
    base_time: int  # creation time of the account (users, pipelines, products)
    params: dict[str, Any]
    subscriptions: list[Subscription] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    credit_notes: list[CreditNote] = field(default_factory=list)
    # Zendesk Sell deals sold as recurring contracts (l2c_demo.simulator.sell_renewals)
    sell_contracts: list[SellContract] = field(default_factory=list)
