"""Rendered, API-shaped snapshots of the company at one as_of."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]


@dataclass
class PipedriveView:
    """Pipedrive objects visible at as_of, shaped like the v1/v2 API payloads."""

    as_of: int
    users: list[Record] = field(default_factory=list)
    legacy_teams: list[Record] = field(default_factory=list)
    pipelines: list[Record] = field(default_factory=list)
    stages: list[Record] = field(default_factory=list)
    deal_fields: list[Record] = field(default_factory=list)
    organizations: list[Record] = field(default_factory=list)
    persons: list[Record] = field(default_factory=list)
    products: list[Record] = field(default_factory=list)
    deals: list[Record] = field(default_factory=list)
    deal_products: list[Record] = field(default_factory=list)
    deal_discounts: dict[int, list[Record]] = field(default_factory=dict)  # deal id -> rows
    activities: list[Record] = field(default_factory=list)
    leads: list[Record] = field(default_factory=list)
    # deal id -> dealChange rows, newest first (rendered lazily on access)
    flows: Mapping[int, list[Record]] = field(default_factory=dict)
    product_fields: list[Record] = field(default_factory=list)  # /v1/productFields


@dataclass
class StripeView:
    """Stripe objects visible at as_of (unix seconds, minor units)."""

    as_of: int
    customers: list[Record] = field(default_factory=list)
    invoices: list[Record] = field(default_factory=list)
    charges: list[Record] = field(default_factory=list)
    subscriptions: list[Record] = field(default_factory=list)
    refunds: list[Record] = field(default_factory=list)
    credit_notes: list[Record] = field(default_factory=list)
    subscription_schedules: list[Record] = field(default_factory=list)
    disputes: list[Record] = field(default_factory=list)
    events: list[Record] = field(default_factory=list)  # invoice.sent, the last 30 days
    # an event for every change of a listed object, the last 30 days (stripe_events.py)
    change_events: list[Record] = field(default_factory=list)
    api_events: list[Record] = field(default_factory=list)  # both, newest first: /v1/events
