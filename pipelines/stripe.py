"""Stripe source: customers, invoices and charges (`starting_after`/`has_more` paging).

Stripe has no "updated since" filter, so:
- invoices are re-read from a watermark: the creation time of the oldest invoice that was
  still changeable (draft/open/uncollectible) at the last run, or the newest creation time
  seen when none was. Paid and void invoices are final, so nothing that can change is missed;
- charges are read incrementally on `created` with a look-back window (refunds touch
  recent charges);
- customers are re-read in full (small, mutable).
Everything merges on Stripe's id, so re-reading never duplicates.

Configuration (dlt config/secrets or environment):
    SOURCES__STRIPE__BASE_URL   default https://api.stripe.com
    SOURCES__STRIPE__API_KEY    required (secret key, sent as a Bearer token)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth

from pipelines.http import StripePaginator, make_client
from pipelines.validation import (
    OPT_MINOR,
    OPT_UNIX,
    REQ_ID,
    REQ_MINOR,
    REQ_UNIX_CURSOR,
    RowSpec,
    emit,
    emit_split,
    split_page,
)

SYSTEM = "stripe"
CHANGEABLE_INVOICE_STATUSES = ("draft", "open", "uncollectible")

SPECS: dict[str, RowSpec] = {
    "customers": RowSpec("customers", {"id": REQ_ID, "created": REQ_UNIX_CURSOR}),
    "invoices": RowSpec(
        "invoices",
        {
            "id": REQ_ID,
            "customer": REQ_ID,
            "created": REQ_UNIX_CURSOR,
            "due_date": OPT_UNIX,
            "amount_due": REQ_MINOR,
            "amount_paid": REQ_MINOR,
            "amount_remaining": OPT_MINOR,
            "total": REQ_MINOR,
            "status_transitions.finalized_at": OPT_UNIX,
            "status_transitions.paid_at": OPT_UNIX,
            "status_transitions.voided_at": OPT_UNIX,
            "status_transitions.marked_uncollectible_at": OPT_UNIX,
        },
    ),
    "charges": RowSpec(
        "charges",
        {
            "id": REQ_ID,
            "created": REQ_UNIX_CURSOR,
            "amount": REQ_MINOR,
            "amount_refunded": OPT_MINOR,
        },
    ),
}


def _plausible_created(row: Any) -> int | None:
    try:
        return REQ_UNIX_CURSOR(row.get("created")) if isinstance(row, dict) else None
    except ValueError:
        return None


def _pages(client: RESTClient, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
    yield from client.paginate(
        path, params=params, paginator=StripePaginator(), data_selector="data"
    )


@dlt.source(name="stripe", max_table_nesting=2)
def stripe_source(
    api_key: str = dlt.secrets.value,
    base_url: str = "https://api.stripe.com",
    page_size: int = 100,
    charges_lookback_days: int = 30,
    request_timeout: float = 30.0,
    max_attempts: int = 6,
) -> list[DltResource]:
    client = make_client(
        base_url,
        {},
        auth=BearerTokenAuth(api_key),
        timeout_seconds=request_timeout,
        max_attempts=max_attempts,
    )
    limit = max(1, min(page_size, 100))

    @dlt.resource(name="customers", primary_key="id", write_disposition="merge")
    def customers() -> Iterator[Any]:
        for page in _pages(client, "/v1/customers", {"limit": limit}):
            yield from emit(SYSTEM, SPECS["customers"], page)

    @dlt.resource(name="invoices", primary_key="id", write_disposition="merge")
    def invoices() -> Iterator[Any]:
        state = dlt.current.resource_state()
        watermark = state.get("reread_from_created")
        params: dict[str, Any] = {"limit": limit}
        if watermark is not None:
            params["created[gte]"] = watermark
        oldest_changeable: int | None = None
        newest: int | None = None
        for page in _pages(client, "/v1/invoices", params):
            checked = split_page(SYSTEM, SPECS["invoices"], page)
            rejected = {reject["record_id"] for reject in checked.rejects}
            for row in page:
                created = _plausible_created(row)
                if created is None:  # a created in ms or in the future moves nothing
                    continue
                newest = created if newest is None else max(newest, created)
                # a rejected invoice is read again until it loads
                changeable = row.get("status") in CHANGEABLE_INVOICE_STATUSES
                if changeable or str(row.get("id")) in rejected:
                    oldest_changeable = (
                        created if oldest_changeable is None else min(oldest_changeable, created)
                    )
            yield from emit_split(checked)
        next_watermark = oldest_changeable if oldest_changeable is not None else newest
        if next_watermark is not None:
            state["reread_from_created"] = next_watermark

    @dlt.resource(name="charges", primary_key="id", write_disposition="merge")
    def charges(
        created=dlt.sources.incremental(  # noqa: B008
            "created",
            initial_value=0,
            lag=charges_lookback_days * 86400,
            on_cursor_value_missing="include",
        ),
    ) -> Iterator[Any]:
        params: dict[str, Any] = {"limit": limit}
        if created.start_value:
            params["created[gte]"] = created.start_value
        for page in _pages(client, "/v1/charges", params):
            yield from emit(SYSTEM, SPECS["charges"], page)

    return [customers, invoices, charges]
