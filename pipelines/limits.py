"""The vendors' documented network limits, in one place, with where each figure comes from.

The loaders pace themselves with these figures (pipelines/http.RateLimiter) and the fake APIs
enforce the same figures, so a benchmark against the fakes is paced like a load against the
vendor. Figures checked against the vendors' docs in Dec 2026 (see docs/loading.md and
SOURCES.md "Network behaviour"); re-check before relying on one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A realistic round trip from a customer's data platform to a SaaS API: 50-200 ms.
REALISTIC_LATENCY_SECONDS = 0.1
# Requests in flight the floor assumes for a vendor that documents no request rate.
FLOOR_CONCURRENCY = 16


@dataclass(frozen=True)
class RateLimit:
    """`requests` per rolling `window_seconds`, per token (0 requests = none documented)."""

    requests: int
    window_seconds: float
    source: str

    @property
    def per_second(self) -> float:
        return self.requests / self.window_seconds if self.requests else 0.0


@dataclass(frozen=True)
class VendorLimits:
    system: str
    rate: RateLimit
    # requests the vendor lets one client run at once (0 = none documented)
    concurrency: int = 0
    concurrency_source: str = ""
    # how the vendor answers a request over the rate
    over_rate_status: int = 429
    sends_retry_after: bool = False
    rate_headers: tuple[str, ...] = ()
    # a daily allowance (requests, or tokens for Pipedrive); 0 = none documented
    daily_budget: int = 0
    daily_source: str = ""
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)


# ---- Pipedrive ---------------------------------------------------------------------------
PIPEDRIVE_RATE_DOC = "https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting"
# Burst limit per API token in a rolling 2-second window, by plan (api_token / OAuth).
PIPEDRIVE_BURST_PER_2S = {"lite": 20, "growth": 40, "premium": 100, "ultimate": 120}
# Daily token budget = 30,000 x plan multiplier x seats (shared by the whole company).
PIPEDRIVE_BUDGET_BASE = 30_000
PIPEDRIVE_PLAN_MULTIPLIER = {"lite": 1, "growth": 2, "premium": 5, "ultimate": 7}
# Token cost per request (the OpenAPI spec's x-token-cost). Requests not listed cost
# PIPEDRIVE_DEFAULT_COST (v1 list endpoints); v2 list pages cost 10.
PIPEDRIVE_TOKEN_COSTS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"/v1/deals/\d+/flow$"), 40),
    (re.compile(r"/v1/deals/\d+/changelog$"), 20),
    (re.compile(r"/v1/recents$"), 20),
    (re.compile(r"/api/v2/"), 10),
)
PIPEDRIVE_DEFAULT_COST = 20
PIPEDRIVE_DEFAULT_PLAN = "growth"
PIPEDRIVE_DEFAULT_SEATS = 10


def pipedrive_token_cost(path: str) -> int:
    """Tokens one GET of `path` spends of the daily budget."""
    for pattern, cost in PIPEDRIVE_TOKEN_COSTS:
        if pattern.search(path):
            return cost
    return PIPEDRIVE_DEFAULT_COST


def pipedrive_daily_budget(plan: str, seats: int) -> int:
    return PIPEDRIVE_BUDGET_BASE * PIPEDRIVE_PLAN_MULTIPLIER[plan] * max(1, seats)


def pipedrive(
    plan: str = PIPEDRIVE_DEFAULT_PLAN, seats: int = PIPEDRIVE_DEFAULT_SEATS
) -> VendorLimits:
    return VendorLimits(
        "pipedrive",
        RateLimit(PIPEDRIVE_BURST_PER_2S[plan], 2.0, PIPEDRIVE_RATE_DOC),
        rate_headers=("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"),
        sends_retry_after=False,  # not confirmed by the docs; 429 past the burst or budget
        daily_budget=pipedrive_daily_budget(plan, seats),
        daily_source=PIPEDRIVE_RATE_DOC + " (token budget; costs: OpenAPI x-token-cost)",
        notes="no bulk stage history: one /flow (40 tokens) or /changelog (20) per deal",
        extra={"plan": plan, "seats": str(seats)},
    )


# ---- Salesforce --------------------------------------------------------------------------
SALESFORCE_LIMITS_DOC = (
    "https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/"
    "salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm"
)
# Daily allocation (rolling 24 h), Enterprise Edition: 100,000 + 1,000 per licence.
SALESFORCE_DAILY_BASE = 100_000
SALESFORCE_DAILY_PER_LICENCE = 1_000
SALESFORCE_LONG_REQUESTS = 25  # requests over 20 s running at once (production orgs)


def salesforce(licences: int = 10) -> VendorLimits:
    return VendorLimits(
        "salesforce",
        RateLimit(0, 1.0, SALESFORCE_LIMITS_DOC + " (no per-second rate documented)"),
        concurrency=SALESFORCE_LONG_REQUESTS,
        concurrency_source=SALESFORCE_LIMITS_DOC + " (concurrent requests over 20 s)",
        over_rate_status=403,  # REQUEST_LIMIT_EXCEEDED over the daily allocation
        rate_headers=("Sforce-Limit-Info",),
        daily_budget=SALESFORCE_DAILY_BASE + SALESFORCE_DAILY_PER_LICENCE * licences,
        daily_source=SALESFORCE_LIMITS_DOC,
        notes=(
            "query batches of up to 2,000 records (Sforce-Query-Options: batchSize); Bulk API "
            "2.0 query jobs for large objects (pipelines/salesforce_bulk.py), each request of a "
            "job counting against the same daily allocation"
        ),
    )


# ---- Stripe ------------------------------------------------------------------------------
STRIPE_RATE_DOC = "https://docs.stripe.com/rate-limits"
STRIPE_READS_PER_SECOND = {"live": 100, "test": 25}
# "Individual API endpoints (unless otherwise noted): 25 requests per second", besides the
# global rate (same page): a list endpoint read in parallel ranges is held to it.
STRIPE_ENDPOINT_PER_SECOND = 25


def stripe(mode: str = "live") -> VendorLimits:
    return VendorLimits(
        "stripe",
        RateLimit(STRIPE_READS_PER_SECOND[mode], 1.0, STRIPE_RATE_DOC),
        rate_headers=("Stripe-Rate-Limited-Reason",),  # on a 429 only; no Retry-After
        notes=(
            "about 25 req/s per endpoint; lists of up to 100, newest first; the loader reads "
            "`created` ranges of a long list side by side (pipelines/stripe.py)"
        ),
        extra={"mode": mode},
    )


# ---- Zendesk Sell ------------------------------------------------------------------------
ZENDESK_SELL_RATE_DOC = "https://developer.zendesk.com/api-reference/sales-crm/rate-limits/"


def zendesk_sell() -> VendorLimits:
    return VendorLimits(
        "zendesk_sell",
        # 36,000 requests per hour per token (the loader paces itself at its 10/s share)
        RateLimit(36_000, 3600.0, ZENDESK_SELL_RATE_DOC + " (36,000 requests/hour per token)"),
        notes="429 when over; no rate-limit headers documented",
    )


# ---- Oracle CX (Fusion Sales REST) -------------------------------------------------------
def oracle_cx() -> VendorLimits:
    return VendorLimits(
        "oracle_cx",
        RateLimit(0, 1.0, "Oracle Fusion REST docs: no public rate figures"),
        notes="limit/offset paging, totalResults=true gives the total",
    )


def vendor_limits(system: str) -> VendorLimits:
    """The documented limits the loaders and the fakes assume for `system` by default
    (Pipedrive Growth with 10 seats, Salesforce Enterprise with 10 licences, Stripe live)."""
    makers = {
        "pipedrive": pipedrive,
        "salesforce": salesforce,
        "stripe": stripe,
        "zendesk_sell": zendesk_sell,
        "oracle_cx": oracle_cx,
    }
    return makers[system]()


def floor_seconds(system: str, requests: int, latency_seconds: float) -> float:
    """The fastest `requests` requests can go against the vendor: the requests divided by the
    documented sustained rate, or, for a vendor that documents none, requests x latency over
    FLOOR_CONCURRENCY requests in flight; never below one round trip."""
    rate = vendor_limits(system).rate.per_second
    by_rate = requests / rate if rate else 0.0
    by_latency = requests * latency_seconds / FLOOR_CONCURRENCY
    return max(by_rate, by_latency, latency_seconds if requests else 0.0)
