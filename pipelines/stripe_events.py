"""Stripe incremental loads from the Events API: the objects changed since the last run.

`GET /v1/events` lists every event of the last 30 days, newest first, filtered by `created`
and by up to 20 `types[]`; each event's `data.object` is the whole object as it was right
after the change (an invoice with its `lines`, a subscription with its `items`, the same
embedded lists the list endpoints return). So an incremental run reads the events of a list's
types since its cursor (less a look-back for events listed late) and keeps, per object id,
the `data.object` of its newest event: one request per 100 changes instead of a re-read of
every object that might have changed. No object is re-read by id: the event objects carry
everything the list objects carry.

The cursor is Stripe's clock at the start of the last run (the `Date` header of its first
response), so a quiet account does not age it. A cursor older than the retention (less the
look-back) cannot be trusted, since events may have expired unread: the run falls back to the
list reads and says so in the log.

Caveats (Stripe's docs, "List all events"): an event's data is rendered in the API version
of the account when the event was created, not the version the loader asks for, so after an
API upgrade the objects from events may differ in shape from listed ones for up to 30 days
(new columns, which the raw tables take as they come); and a deleted object's `*.deleted`
event is not read (its row stays; the simulated company deletes nothing)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from dlt.sources.helpers.rest_client import RESTClient

from pipelines.http import StripePaginator

log = logging.getLogger(__name__)

RETENTION_SECONDS = 30 * 86400  # Stripe keeps events 30 days (docs: "List all events")
MAX_TYPES = 20  # `types[]`: at most 20 event types per request

# per list: the object type of its rows and the event types whose `data.object` is one
CHANGE_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "customers": ("customer", ("customer.created", "customer.updated")),
    "invoices": (
        "invoice",
        (
            "invoice.created",
            "invoice.updated",
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_succeeded",
            "invoice.payment_failed",
            "invoice.voided",
            "invoice.marked_uncollectible",
            "invoice.overdue",
        ),
    ),
    "charges": (
        "charge",
        (
            "charge.succeeded",
            "charge.failed",
            "charge.captured",
            "charge.refunded",
            "charge.updated",
            "charge.expired",
        ),
    ),
    "subscriptions": (
        "subscription",
        (
            "customer.subscription.created",
            "customer.subscription.updated",
            "customer.subscription.deleted",
            "customer.subscription.paused",
            "customer.subscription.resumed",
        ),
    ),
    "refunds": ("refund", ("refund.created", "refund.updated", "refund.failed")),
    "credit_notes": (
        "credit_note",
        ("credit_note.created", "credit_note.updated", "credit_note.voided"),
    ),
    "subscription_schedules": (
        "subscription_schedule",
        (
            "subscription_schedule.created",
            "subscription_schedule.updated",
            "subscription_schedule.released",
            "subscription_schedule.canceled",
            "subscription_schedule.completed",
            "subscription_schedule.aborted",
            "subscription_schedule.expiring",
        ),
    ),
    "disputes": (
        "dispute",
        (
            "charge.dispute.created",
            "charge.dispute.updated",
            "charge.dispute.closed",
            "charge.dispute.funds_withdrawn",
            "charge.dispute.funds_reinstated",
        ),
    ),
}


@dataclass
class Changes:
    """The newest state of each object changed since a cursor, and what reading it cost."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    requests: int = 0
    now: int | None = None  # Stripe's clock at the first response (its Date header)
    newest_event: int | None = None


def server_now(response: Any) -> int | None:
    """Stripe's clock: the `Date` header of a response, in unix seconds (None if absent)."""
    raw = getattr(response, "headers", {}).get("Date")
    if not raw:
        return None
    try:
        return int(parsedate_to_datetime(raw).timestamp())
    except (TypeError, ValueError):
        return None


def type_params(types: tuple[str, ...]) -> dict[str, str]:
    """`types[]` as Stripe's client libraries send an array (`types[0]=..&types[1]=..`)."""
    if len(types) > MAX_TYPES:
        raise ValueError(f"at most {MAX_TYPES} event types per request, got {len(types)}")
    return {f"types[{i}]": t for i, t in enumerate(types)}


def probe_now(client: RESTClient, name: str) -> int | None:
    """Stripe's clock before a list read, from one request (the newest event of the list's
    types): the cursor the next run reads events from."""
    response = client.get("/v1/events", params={"limit": 1, **type_params(CHANGE_TYPES[name][1])})
    response.raise_for_status()
    now = server_now(response)
    if now is None:
        data = response.json().get("data") or []
        now = data[0].get("created") if data else None
    return now if isinstance(now, int) else None


def read_changes(client: RESTClient, name: str, since: int, limit: int) -> Iterator[Changes]:
    """The events of list `name` created at or after `since`, newest first, paged with
    `starting_after`; yields once, after the first page (so the caller can check the cursor's
    age against Stripe's clock before reading on), then once at the end with every object."""
    object_type, types = CHANGE_TYPES[name]
    params: dict[str, Any] = {"limit": limit, "created[gte]": since, **type_params(types)}
    changes = Changes()
    newest: dict[str, dict[str, Any]] = {}
    for page in client.paginate(
        "/v1/events", params=params, paginator=StripePaginator(), data_selector="data"
    ):
        changes.requests += 1
        if changes.requests == 1:
            changes.now = server_now(getattr(page, "response", None))
            yield changes
        for event in page:
            changes.events += 1
            created = event.get("created") if isinstance(event, dict) else None
            if isinstance(created, int):
                changes.newest_event = max(changes.newest_event or created, created)
            obj = ((event.get("data") or {}) if isinstance(event, dict) else {}).get("object")
            if not isinstance(obj, dict) or obj.get("object") != object_type:
                continue
            key = str(obj.get("id"))
            kept = newest.get(key)
            # newest first: the first event of an object is its newest state; a late event
            # listed out of order is ranked by its own `created`
            if kept is None or (isinstance(created, int) and created > kept["created"]):
                newest[key] = {"created": created if isinstance(created, int) else 0, "obj": obj}
    changes.objects = [kept["obj"] for kept in newest.values()]
    yield changes


def too_old(cursor: int, now: int | None, lookback_seconds: int) -> bool:
    """Whether events since the cursor (less the look-back) may have expired."""
    return now is not None and cursor - lookback_seconds <= now - RETENTION_SECONDS
