"""Stripe source: customers, invoices, charges (successful and failed payment attempts),
subscriptions (with their items), subscription schedules, refunds, credit notes and disputes
(`starting_after`/`has_more` paging).

Incremental runs read what changed from the Events API (pipelines/stripe_events.py): per
list, the events of its types since the list's cursor less `events_lookback_seconds` (events
listed late), and the newest `data.object` of each changed object, merged on its id; new
objects come with their `*.created` events. The list reads below are the fallback: the first
load, a cursor older than the Events API's 30 days (logged as a warning), or a full re-sync
(`python -m pipelines.load --full-resync`: the state and its watermarks are dropped, so every
list is read from scratch). Stripe lists have no "updated since" filter, so a list read reads
the objects themselves:
- invoices are re-read from a watermark: the creation time of the oldest invoice that was
  still changeable (draft/open/uncollectible) at the last run, or the newest creation time
  seen when none was. Paid and void invoices are final, so nothing that can change is missed;
- subscriptions likewise (every status, `status=all`): from the oldest one not yet ended
  (canceled or incomplete_expired are final);
- subscription schedules likewise: from the oldest one still not_started or active
  (completed, released and canceled are final);
- disputes likewise: from the oldest one still open (warning_needs_response,
  warning_under_review, needs_response, under_review); won, lost, prevented and
  warning_closed are final. A dispute lasts weeks to months: longer than any look-back;
- charges, refunds and credit notes are read incrementally on `created` with a look-back
  window (refunds touch recent charges; a refund or credit note may change status soon after);
- customers are re-read in full (small, mutable);
- events of the types in `event_types` (default invoice.sent: every invoice email, the only
  trace of a payment reminder) incrementally on `created`: the Events API keeps 30 days, so
  an event older than that at a load is lost; loaded ones are kept (merged on the event id).
Everything merges on Stripe's id, so re-reading never duplicates.
An embedded list with more objects than Stripe embeds (an invoice's `lines`, a subscription's
`items`: 10) is read in full from its own url before the object is loaded, on list reads and
event reads alike (pipelines/stripe_lists.py). The `events` list itself keeps each event as
Stripe sent it (its `data.object` embeds at most 10 lines; nothing reads them from there).

Configuration (dlt config/secrets or environment):
    SOURCES__STRIPE__BASE_URL   default https://api.stripe.com
    SOURCES__STRIPE__API_KEY    required (secret key, sent as a Bearer token)
    SOURCES__STRIPE__MODE       live (default, 100 reads/s) or test (25/s): the pace
    SOURCES__STRIPE__REQUESTS_PER_SECOND  overrides the pace (0 = unpaced)
    SOURCES__STRIPE__PARALLEL_RANGES      8: a list longer than a page is read in that
                                          many `created` ranges at once (1 = serially)
    SOURCES__STRIPE__EVENTS_LOOKBACK_SECONDS  3600: events re-read before each cursor
Requests: one per 100 objects per list (Stripe's largest page). `starting_after` needs the
previous page, so one list is a chain of requests, one round trip each; a first load splits
each list after its first page into PARALLEL_RANGES `created` ranges paged side by side (see
ranged_pages: a few requests find the span, each range may end on a part-filled page).
A list read from a watermark cuts the span from it the same way (no probes needed).
An incremental run costs one request per list while fewer than 100 of its objects changed
(and one per 100 events beyond), plus the invoice.sent events. An object with an embedded list
beyond 10 objects costs one request more per 100 of them (none for the others).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.extract.items import DataItemWithMeta
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth

from pipelines import limits
from pipelines.http import StripePaginator, make_client
from pipelines.stripe_events import probe_now, read_changes, server_now, too_old
from pipelines.stripe_lists import complete_lists
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
log = logging.getLogger(__name__)
CHANGEABLE_INVOICE_STATUSES = ("draft", "open", "uncollectible")
ENDED_SUBSCRIPTION_STATUSES = ("canceled", "incomplete_expired")
FINAL_SCHEDULE_STATUSES = ("completed", "released", "canceled")
FINAL_DISPUTE_STATUSES = ("won", "lost", "prevented", "warning_closed")

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
    "subscriptions": RowSpec(
        "subscriptions",
        {
            "id": REQ_ID,
            "customer": REQ_ID,
            "created": REQ_UNIX_CURSOR,
            "start_date": OPT_UNIX,
            "canceled_at": OPT_UNIX,
            "ended_at": OPT_UNIX,
        },
    ),
    "refunds": RowSpec(
        "refunds",
        {"id": REQ_ID, "created": REQ_UNIX_CURSOR, "amount": REQ_MINOR, "charge": REQ_ID},
    ),
    "credit_notes": RowSpec(
        "credit_notes",
        {
            "id": REQ_ID,
            "invoice": REQ_ID,
            "created": REQ_UNIX_CURSOR,
            "amount": REQ_MINOR,
            "effective_at": OPT_UNIX,
        },
    ),
    "subscription_schedules": RowSpec(
        "subscription_schedules",
        {
            "id": REQ_ID,
            "customer": REQ_ID,
            "created": REQ_UNIX_CURSOR,
            "released_at": OPT_UNIX,
            "canceled_at": OPT_UNIX,
            "completed_at": OPT_UNIX,
        },
    ),
    "events": RowSpec(
        "events",
        {"id": REQ_ID, "created": REQ_UNIX_CURSOR, "data.object.id": REQ_ID},
    ),
    "disputes": RowSpec(
        "disputes",
        {"id": REQ_ID, "charge": REQ_ID, "created": REQ_UNIX_CURSOR, "amount": REQ_MINOR},
    ),
}


def _plausible_created(row: Any) -> int | None:
    try:
        return REQ_UNIX_CURSOR(row.get("created")) if isinstance(row, dict) else None
    except ValueError:
        return None


def _rejected_ids(items: Iterator[Any], into: set[str]) -> Iterator[Any]:
    """Pass the items of a resource on, noting the record ids of the rows sent to rejects."""
    for item in items:
        if isinstance(item, DataItemWithMeta) and isinstance(item.data, list):
            into.update(
                str(row["record_id"])
                for row in item.data
                if isinstance(row, dict) and "reason" in row and row.get("record_id")
            )
        yield item


def _pages(client: RESTClient, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
    yield from client.paginate(
        path, params=params, paginator=StripePaginator(), data_selector="data"
    )


def _newest_before(client: RESTClient, path: str, params: dict[str, Any], bound: int | None) -> Any:
    """The newest object of a list (created before `bound`), or None: one request."""
    query = {**params, "limit": 1, **({"created[lt]": bound} if bound is not None else {})}
    response = client.get(path, params=query)
    response.raise_for_status()
    data = response.json().get("data") or []
    return data[0] if data else None


def ranged_pages(
    client: RESTClient, path: str, params: dict[str, Any], parts: int
) -> Iterator[list[Any]]:
    """Every page of a list, the pages after the first read in `parts` `created` ranges side
    by side, yielded in the serial (newest first) order.

    The first page is read as a serial read reads it: a list that fits costs one request. If
    there is more, the rest (the objects after the first page's last one) is cut by
    `created`. Stripe lists newest first and has no ascending order, so the oldest object is
    found by probing `created[lt]` bounds twice, four times ... the first page's span older
    until nothing is older (a few requests, logarithmic in the span). The span is cut into
    equal ranges: the newest continues after the first page (`starting_after`), the oldest is
    open below, so together they hold every object once, as one serial read does. A read from
    a watermark (`created[gte]`) needs no probe: the span starts there."""
    if parts <= 1:
        yield from _pages(client, path, params)
        return
    response = client.get(path, params=params)
    response.raise_for_status()
    body = response.json()
    first = body.get("data") or []
    yield first
    if not body.get("has_more") or not first:
        return
    last = first[-1]
    rest = {**params, "starting_after": last.get("id")}
    newest, oldest = _plausible_created(first[0]), _plausible_created(last)
    if newest is None or oldest is None or not last.get("id"):
        yield from _pages(client, path, rest)  # no usable `created`: serially
        return
    top = oldest + 1
    step = max(2 * (newest - oldest), 86400)
    floor = params.get("created[gte]")
    if floor is not None:  # an incremental read: the span starts at its watermark
        step = max(1, top - int(floor))
    while floor is None and top - step > 0:
        older = _newest_before(client, path, params, top - step)
        older_created = _plausible_created(older) if older is not None else None
        if older_created is None:
            break
        step = max(step * 2, top - older_created)
    bottom = max(0, top - step)
    width = max(1, -(-(top - bottom) // parts))
    bounds = [top - i * width for i in range(parts + 1)]  # descending
    ranges = [
        {
            **(rest if i == 0 else params),
            **({"created[lt]": bounds[i]} if i > 0 else {}),
            **({"created[gte]": bounds[i + 1]} if i < parts - 1 else {}),
        }
        for i in range(parts)
    ]
    yield from parallel_pages(client, path, ranges)


def parallel_pages(
    client: RESTClient, path: str, ranges: list[dict[str, Any]]
) -> Iterator[list[Any]]:
    """The pages of every range, read side by side (each range is its own `starting_after`
    chain), yielded range after range in the order given (newest first: the serial order)."""
    if len(ranges) == 1:
        yield from _pages(client, path, ranges[0])
        return
    with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
        futures = [pool.submit(lambda p: list(_pages(client, path, p)), r) for r in ranges]
        try:
            for future in futures:
                yield from future.result()
        finally:
            for future in futures:
                future.cancel()


def object_list(name: str, **hints: Any) -> Any:
    """dlt.resource for one Stripe object list: merged on the object's id, and read beside the
    other lists (dlt's parallelized resources: each list waits on the network, not on the
    others)."""
    return dlt.resource(
        name=name, primary_key="id", write_disposition="merge", parallelized=True, **hints
    )


@dlt.source(name="stripe", max_table_nesting=2)
def stripe_source(
    api_key: str = dlt.secrets.value,
    base_url: str = "https://api.stripe.com",
    page_size: int = 100,
    charges_lookback_days: int = 30,
    request_timeout: float = 30.0,
    max_attempts: int = 6,
    mode: str = "live",
    requests_per_second: float | None = None,
    event_types: tuple[str, ...] = ("invoice.sent",),
    events_lookback_seconds: int = 3600,
    parallel_ranges: int = 8,
) -> list[DltResource]:
    vendor = limits.stripe(mode)
    client = make_client(
        base_url,
        {},
        auth=BearerTokenAuth(api_key),
        system=SYSTEM,
        requests_per_second=vendor.rate.per_second
        if requests_per_second is None
        else requests_per_second,
        # the per-endpoint limit binds a list read in ranges (unpaced when the pace is 0)
        endpoint_requests_per_second=limits.STRIPE_ENDPOINT_PER_SECOND
        if requests_per_second is None
        else min(requests_per_second, limits.STRIPE_ENDPOINT_PER_SECOND),
        timeout_seconds=request_timeout,
        max_attempts=max_attempts,
    )
    limit = max(1, min(page_size, 100))
    clock: list[int] = []  # Stripe's clock: the Date header of every response

    def note_clock(response: Any, *args: Any, **kwargs: Any) -> Any:
        now = server_now(response)
        if now is not None:
            clock.append(now)  # list.append is atomic: the ranges' threads share it
        return response

    client.session.hooks["response"].append(note_clock)

    def changed_or_listed(name: str, list_read: Callable[[], Iterator[Any]]) -> Iterator[Any]:
        """The objects of list `name` changed since its events cursor, from their events; the
        list read instead on a first load or a full re-sync (no cursor) or when the cursor is
        older than the retention. The cursor is Stripe's clock when the run started reading.
        An object rejected at a run is read again by id at each run after it until it loads
        (its events stop when it stops changing)."""
        state = dlt.current.resource_state(name)  # by name: a parallelized resource's thread
        cursor = state.get("events_cursor")
        rejected: set[str] = set()
        if cursor is None:
            reason, warn = "no events cursor yet (a first load or a full re-sync)", False
        else:
            reader = read_changes(client, name, int(cursor) - events_lookback_seconds, limit)
            first = next(reader)
            if not too_old(int(cursor), first.now, events_lookback_seconds):
                rest = list(reader)  # the end of the read: every changed object
                final = rest[-1] if rest else first
                complete_lists(client, final.objects, name)
                yield from _rejected_ids(emit(SYSTEM, SPECS[name], final.objects), rejected)
                seen = {str(obj.get("id")) for obj in final.objects}
                again = [i for i in state.get("rejected_ids", []) if i not in seen]
                yield from _rejected_ids(emit(SYSTEM, SPECS[name], retrieve(name, again)), rejected)
                state["rejected_ids"] = sorted(rejected)
                state["events_cursor"] = max(
                    int(cursor), first.now or final.newest_event or int(cursor)
                )
                log.info(
                    "stripe %s: %d changed objects from %d events (%d requests), %d rejected "
                    "before read again",
                    name,
                    len(final.objects),
                    final.events,
                    final.requests,
                    len(again),
                )
                return
            reader.close()
            since = datetime.fromtimestamp(int(cursor), UTC).isoformat()
            reason, warn = f"events cursor {since} older than the 30-day event retention", True
        (log.warning if warn else log.info)("stripe %s: %s: reading the list instead", name, reason)
        mark = len(clock)
        yield from _rejected_ids(list_read(), rejected)
        state["rejected_ids"] = sorted(rejected)
        # the next events cursor: the earliest Date answered since this read began (no
        # later than its first response; others interleaved are later than its start), or
        # one request for it when no response carried a Date
        seen = clock[mark:]
        start = min(seen) if seen else probe_now(client, name)
        if start is not None:
            state["events_cursor"] = start

    def retrieve(name: str, ids: list[str]) -> Iterator[Any]:
        """Objects by id (`GET /v1/<list>/<id>`), one request each; one gone since is
        skipped with a warning (its row and its reject stay)."""
        for object_id in ids:
            response = client.get(f"/v1/{name}/{object_id}")
            if response.status_code == 404:
                log.warning("stripe %s: rejected %s no longer exists", name, object_id)
                continue
            response.raise_for_status()
            obj = response.json()
            complete_lists(client, [obj], name)
            yield obj

    @object_list("customers")
    def customers() -> Iterator[Any]:
        def list_read() -> Iterator[Any]:
            # a list read reads every customer: in ranges every time
            for page in ranged_pages(client, "/v1/customers", {"limit": limit}, parallel_ranges):
                complete_lists(client, page, "customers")
                yield from emit(SYSTEM, SPECS["customers"], page)

        yield from changed_or_listed("customers", list_read)

    def reread(
        name: str, params: dict[str, Any], changeable: Callable[[Any], bool]
    ) -> Iterator[Any]:
        """Rows of a list of mutable objects, from the stored watermark: the creation time of
        the oldest object still changeable (or rejected) at the last run, else the newest."""
        state = dlt.current.resource_state(name)
        watermark = state.get("reread_from_created")
        params = {"limit": limit, **params}
        if watermark is not None:
            params["created[gte]"] = watermark
        oldest_changeable: int | None = None
        newest: int | None = None
        for page in ranged_pages(client, f"/v1/{name}", params, parallel_ranges):
            complete_lists(client, page, name)
            checked = split_page(SYSTEM, SPECS[name], page)
            rejected = {reject["record_id"] for reject in checked.rejects}
            for row in page:
                created = _plausible_created(row)
                if created is None:  # a created in ms or in the future moves nothing
                    continue
                newest = created if newest is None else max(newest, created)
                # a rejected object is read again until it loads
                if changeable(row) or str(row.get("id")) in rejected:
                    oldest_changeable = (
                        created if oldest_changeable is None else min(oldest_changeable, created)
                    )
            yield from emit_split(checked)
        next_watermark = oldest_changeable if oldest_changeable is not None else newest
        if next_watermark is not None:
            state["reread_from_created"] = next_watermark

    # one level deeper than the source: a line's price.recurring.interval and
    # parent.subscription_item_details.proration stay columns
    @object_list("invoices", max_table_nesting=3)
    def invoices() -> Iterator[Any]:
        yield from changed_or_listed(
            "invoices",
            lambda: reread(
                "invoices", {}, lambda row: row.get("status") in CHANGEABLE_INVOICE_STATUSES
            ),
        )

    # one level deeper than the source: an item's price.recurring.interval stays a column
    @object_list("subscriptions", max_table_nesting=3)
    def subscriptions() -> Iterator[Any]:
        # the list leaves out canceled subscriptions unless asked for every status
        yield from changed_or_listed(
            "subscriptions",
            lambda: reread(
                "subscriptions",
                {"status": "all"},
                lambda row: row.get("status") not in ENDED_SUBSCRIPTION_STATUSES,
            ),
        )

    def created_since(name: str) -> DltResource:
        """A list whose list read reads from the newest `created` seen, looking back
        `charges_lookback_days`. The watermark is kept by hand, not by
        dlt.sources.incremental: rows from events are objects created at any time, which an
        incremental on `created` would filter out."""

        def list_read() -> Iterator[Any]:
            state = dlt.current.resource_state(name)
            # the watermark dlt.sources.incremental kept before the events read
            legacy = state.get("incremental", {}).get("created", {}).get("last_value")
            newest = state.get("created_max", legacy)
            params: dict[str, Any] = {"limit": limit}
            if newest:
                params["created[gte]"] = max(0, int(newest) - charges_lookback_days * 86400)
            for page in ranged_pages(client, f"/v1/{name}", params, parallel_ranges):
                complete_lists(client, page, name)
                for row in page:
                    created = _plausible_created(row)
                    if created is not None:
                        newest = created if newest is None else max(int(newest), created)
                yield from emit(SYSTEM, SPECS[name], page)
            if newest is not None:
                state["created_max"] = int(newest)

        @object_list(name)
        def rows() -> Iterator[Any]:
            yield from changed_or_listed(name, list_read)

        return rows

    # phases[].items[] stays a table: one level deeper than the source
    @object_list("subscription_schedules", max_table_nesting=3)
    def subscription_schedules() -> Iterator[Any]:
        yield from changed_or_listed(
            "subscription_schedules",
            lambda: reread(
                "subscription_schedules",
                {},
                lambda row: row.get("status") not in FINAL_SCHEDULE_STATUSES,
            ),
        )

    @object_list("disputes")
    def disputes() -> Iterator[Any]:
        yield from changed_or_listed(
            "disputes",
            lambda: reread(
                "disputes", {}, lambda row: row.get("status") not in FINAL_DISPUTE_STATUSES
            ),
        )

    @object_list("events")
    def events(
        created=dlt.sources.incremental(  # noqa: B008
            "created",
            initial_value=0,
            lag=events_lookback_seconds,
            on_cursor_value_missing="include",
        ),
    ) -> Iterator[Any]:
        for event_type in event_types:
            params: dict[str, Any] = {"limit": limit, "type": event_type}
            if created.start_value:
                params["created[gte]"] = created.start_value
            for page in _pages(client, "/v1/events", params):
                yield from emit(SYSTEM, SPECS["events"], page)

    return [
        customers,
        invoices,
        created_since("charges"),
        subscriptions,
        created_since("refunds"),
        created_since("credit_notes"),
        subscription_schedules,
        disputes,
        events,
    ]
