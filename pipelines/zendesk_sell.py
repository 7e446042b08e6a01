"""Zendesk Sell source: Core API v2 lists (`{"items": [{"data": ...}]}`, page/per_page, the
`meta.links.next_page` URL followed to the end), Bearer token.

Configuration (dlt config/secrets or environment):
    SOURCES__ZENDESK_SELL__ACCESS_TOKEN     required (OAuth or personal access token)
    SOURCES__ZENDESK_SELL__BASE_URL         default https://api.getbase.com
    SOURCES__ZENDESK_SELL__PAGE_SIZE        per_page, at most 100 (default 100)
    SOURCES__ZENDESK_SELL__LOOKBACK_SECONDS re-read window below the stored cursors (default 0)
    SOURCES__ZENDESK_SELL__REQUESTS_PER_SECOND pace (default 10: 36,000 requests/hour per
        token), CONCURRENT_REQUESTS requests in flight (default 8: orders' line items)

Incremental loading: Zendesk Sell lists have no "updated since" filter, only `sort_by`. Deals,
orders and calls are read newest first (`sort_by=updated_at:desc`) under
`dlt.sources.incremental("updated_at", row_order="desc", lag=lookback)`: dlt keeps the newest
`updated_at` in the resource state, starts the next run at it less the look-back (seconds),
drops the older rows and closes the read after the first page that reaches below the start.
Leads (`updated_at`) and lead conversions (immutable, newest first, `created_at`) use the
same incrementals fed by hand, since every changed lead is read before the conversions (see
`leads`). A state written by the former hand-written cursor (`resource_state()["updated_at"]`,
`["conversions_created_at"]`) is taken over on the next run (adopt_desc_cursor). Users,
pipelines, stages, loss reasons, deal unqualified reasons, lead unqualified reasons and lead
sources are small and re-read in full (their lists have no updated filter; one request per
100 records): they are declared in dlt's `rest_api` config (full_lists_config), on the same
paced session, with the row checks as a `yield_map` step.

Stage history: a deal shows only its current stage and `last_stage_change_at`. Every deal
read is also written to `deal_stage_snapshots`, keyed by (deal id, stage id,
last_stage_change_at): one row per stage entry the loads have seen, so running the load on a
schedule accumulates the stage history (see docs/zendesk-sell-history.md for what it can and
cannot see).

Lookups resolved at load time (staging does no joins): a deal gets its stage's `category` and
`pipeline_id` and its loss (or unqualified) reason's name, a lead its source's name, its
unqualified reason's name (`unqualified_reason_name`, /v2/lead_unqualified_reasons) and its
conversion (`converted_deal_id`, `converted_at`), an order the `amount`/`currency` of its line
items.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

import dlt
from dlt.extract.incremental import Incremental
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.rest_api import RESTAPIConfig, rest_api_resources

from pipelines import limits
from pipelines.http import NextLinkPaginator, fetch_each, make_client, rest_api_client
from pipelines.timeutil import EPOCH
from pipelines.validation import (
    OPT_INT,
    OPT_MONEY,
    OPT_RFC3339,
    REQ_INT,
    REQ_RFC3339,
    REQ_RFC3339_CURSOR,
    RowSpec,
    SplitPage,
    rejects_hints,
    split_page,
)

SYSTEM = "zendesk_sell"
MAX_PER_PAGE = 100
OUTCOME_CATEGORIES = ("won", "lost")

SPECS: dict[str, RowSpec] = {
    "deals": RowSpec(
        "deals",
        {
            "id": REQ_INT,
            "stage_id": REQ_INT,
            "owner_id": OPT_INT,
            "contact_id": OPT_INT,
            "organization_id": OPT_INT,
            "loss_reason_id": OPT_INT,
            "last_stage_change_by_id": OPT_INT,
            "value": OPT_MONEY,
            "created_at": REQ_RFC3339,
            "updated_at": REQ_RFC3339_CURSOR,
            "last_stage_change_at": OPT_RFC3339,
        },
    ),
    "leads": RowSpec(
        "leads",
        {
            "id": REQ_INT,
            "owner_id": OPT_INT,
            "source_id": OPT_INT,
            "created_at": REQ_RFC3339,
            "updated_at": REQ_RFC3339_CURSOR,
        },
    ),
    "lead_conversions": RowSpec(
        "lead_conversions",
        {"id": REQ_INT, "lead_id": REQ_INT, "deal_id": OPT_INT, "created_at": REQ_RFC3339},
    ),
    "orders": RowSpec(
        "orders",
        {
            "id": REQ_INT,
            "deal_id": REQ_INT,
            "discount": OPT_MONEY,
            "created_at": REQ_RFC3339,
            "updated_at": REQ_RFC3339_CURSOR,
        },
    ),
    "order_line_items": RowSpec(
        "order_line_items",
        {
            "id": REQ_INT,
            "order_id": REQ_INT,
            "product_id": OPT_INT,
            "quantity": OPT_MONEY,
            "price": OPT_MONEY,
            "value": OPT_MONEY,
            "variation": OPT_MONEY,
            "created_at": OPT_RFC3339,
            "updated_at": OPT_RFC3339,
        },
    ),
    # calls logged on a lead, contact or deal (resource_type / resource_id): a call on a lead
    # is the lead's contact
    "calls": RowSpec(
        "calls",
        {
            "id": REQ_INT,
            "user_id": OPT_INT,
            "resource_id": OPT_INT,
            "made_at": REQ_RFC3339,
            "updated_at": REQ_RFC3339_CURSOR,
        },
    ),
    "users": RowSpec("users", {"id": REQ_INT, "created_at": OPT_RFC3339}),
    "pipelines": RowSpec("pipelines", {"id": REQ_INT}),
    "stages": RowSpec("stages", {"id": REQ_INT, "pipeline_id": REQ_INT, "position": OPT_INT}),
    "loss_reasons": RowSpec("loss_reasons", {"id": REQ_INT}),
    "deal_unqualified_reasons": RowSpec("deal_unqualified_reasons", {"id": REQ_INT}),
    "lead_sources": RowSpec("lead_sources", {"id": REQ_INT}),
    "lead_unqualified_reasons": RowSpec(
        "lead_unqualified_reasons",
        {"id": REQ_INT, "created_at": OPT_RFC3339, "updated_at": OPT_RFC3339},
    ),
}


# Optional fields the demo leaves empty: typed here so their columns exist from the first run
# (dlt creates a column only once it sees a value).
OPTIONAL_COLUMNS: dict[str, dict[str, Any]] = {
    "deals": {
        "source_id": {"data_type": "bigint"},
        "unqualified_reason_id": {"data_type": "bigint"},
        "customized_win_likelihood": {"data_type": "bigint"},
        "loss_reason_id": {"data_type": "bigint"},
        "loss_reason_name": {"data_type": "text"},
        "unqualified_reason_name": {"data_type": "text"},
    },
    "leads": {
        "title": {"data_type": "text"},
        "unqualified_reason_id": {"data_type": "bigint"},
        "unqualified_reason_name": {"data_type": "text"},
        "lead_conversion_id": {"data_type": "bigint"},
        "converted_deal_id": {"data_type": "bigint"},
        "converted_at": {"data_type": "timestamp"},
    },
    "order_line_items": {"description": {"data_type": "text"}},
    "calls": {
        "summary": {"data_type": "text"},
        "outcome_id": {"data_type": "bigint"},
        "recording_url": {"data_type": "text"},
    },
    "users": {"deleted_at": {"data_type": "timestamp"}, "phone_number": {"data_type": "text"}},
}


NEXT_PAGE = "meta.links.next_page"

# The lists read in full on every run (small, and without an "updated since" filter): one
# request per 100 records, declared below for dlt's rest_api.
FULL_LISTS = (
    "users",
    "pipelines",
    "stages",
    "loss_reasons",
    "deal_unqualified_reasons",
    "lead_sources",
    "lead_unqualified_reasons",
)


def _pages(client: RESTClient, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
    """Every page of a list endpoint, unwrapped from the `items[].data` envelope."""
    for page in client.paginate(
        path,
        params=params,
        paginator=NextLinkPaginator(next_url_path=NEXT_PAGE),
        data_selector="items",
    ):
        yield [_unwrap(item) for item in page]


def _unwrap(item: Any) -> Any:
    return item.get("data") if isinstance(item, dict) else item


def _moment(value: Any) -> datetime | None:
    """A timestamp read leniently (None when absent or unreadable)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def newest_first(field: str, lookback_seconds: float) -> Incremental[Any]:
    """The cursor of a list that can only be sorted (`sort_by=<field>:desc`): dlt keeps the
    newest `field` in the resource state, starts the next run at it less the look-back (`lag`,
    seconds) and, rows coming newest first, closes the generator after the first page that
    reaches below it. Reject rows carry no `field` and pass."""
    return dlt.sources.incremental(
        field,
        initial_value=EPOCH,
        row_order="desc",
        lag=lookback_seconds,
        on_cursor_value_missing="include",
    )


def adopt_desc_cursor(cursor: Incremental[Any], old_key: str, *, rebind: bool = True) -> None:
    """Once, for a pipeline state written before dlt.sources.incremental: the newest value the
    former hand-written cursor kept at `resource_state()[old_key]` becomes the incremental's
    last value, so this run resumes from it (less the lag) instead of reading everything."""
    state = dlt.current.resource_state()
    if old_key not in state:
        return
    stored = _moment(state.pop(old_key))
    column = state.setdefault("incremental", {}).setdefault(cursor.cursor_path, {})
    if stored is not None and column.get("last_value") in (None, cursor.initial_value):
        column.update(
            initial_value=cursor.initial_value,
            last_value=stored,
            unique_hashes=[],
            start_value=stored,
        )
    if rebind:  # dlt bound it (read its start) before the resource's body ran
        cursor.bind(dlt.current.pipe())


class Lookups:
    """Small id -> attributes lists read once per run: stages, loss reasons, deal and lead
    unqualified reasons, lead sources."""

    def __init__(self, client: RESTClient, page_size: int) -> None:
        self._client = client
        self._page_size = page_size
        self._lock = threading.Lock()
        self._cache: dict[str, dict[int, dict[str, Any]]] = {}

    def get(self, name: str) -> dict[int, dict[str, Any]]:
        with self._lock:
            if name not in self._cache:
                rows: dict[int, dict[str, Any]] = {}
                for page in _pages(self._client, f"/v2/{name}", {"per_page": self._page_size}):
                    for row in page:
                        key = _as_int(row.get("id")) if isinstance(row, dict) else None
                        if key is not None:
                            rows[key] = row
                self._cache[name] = rows
            return self._cache[name]


def _split(name: str, rows: Iterable[Any]) -> SplitPage:
    return split_page(SYSTEM, SPECS[name], rows)


def _rejects(page: SplitPage) -> Iterator[Any]:
    if page.rejects:
        yield dlt.mark.with_hints(page.rejects, rejects_hints(), create_table_variant=True)


def _table(rows: list[dict[str, Any]], table: str, key: str) -> Any:
    hints = dlt.mark.make_hints(
        table_name=table,
        write_disposition="merge",
        primary_key=key,
        columns=OPTIONAL_COLUMNS.get(table, {}),
    )
    return dlt.mark.with_hints(rows, hints, create_table_variant=True)


def checked(name: str) -> Callable[[Any], Iterator[Any]]:
    """A rest_api `yield_map` step: one `items[]` entry unwrapped and checked, to its table or
    to `rejects` with the reason."""

    def check(item: Any) -> Iterator[Any]:
        split = _split(name, [_unwrap(item)])
        yield from _rejects(split)
        if split.good:
            yield split.good

    return check


def full_lists_config(client: RESTClient, per_page: int) -> RESTAPIConfig:
    """dlt's declarative rest_api config of the lists read in full, on `client`'s session (the
    vendor's pace, retries and request counts of pipelines.http.make_client)."""
    return {
        "client": rest_api_client(client),
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "merge",
            "endpoint": {"params": {"per_page": per_page}, "data_selector": "items"},
        },
        "resources": [
            {
                "name": name,
                "columns": OPTIONAL_COLUMNS.get(name, {}),
                "endpoint": {
                    "path": f"/v2/{name}",
                    # dlt's JSONLinkPaginator, stopping on a page that links to itself
                    "paginator": NextLinkPaginator(next_url_path=NEXT_PAGE),
                },
                "processing_steps": [{"yield_map": checked(name)}],
            }
            for name in FULL_LISTS
        ],
    }


def snapshot_id(deal: dict[str, Any]) -> str:
    """Key of one observed stage entry: deal id, stage id and the time it entered the stage."""
    entered = deal.get("last_stage_change_at")
    stamp = entered.strftime("%Y%m%dT%H%M%SZ") if isinstance(entered, datetime) else "none"
    return f"{deal['id']}-{deal['stage_id']}-{stamp}"


@dlt.source(name="zendesk_sell", max_table_nesting=1)
def zendesk_sell_source(
    access_token: str = dlt.secrets.value,
    base_url: str = "https://api.getbase.com",
    page_size: int = MAX_PER_PAGE,
    request_timeout: float = 30.0,
    max_attempts: int = 6,
    lookback_seconds: float = 0.0,
    requests_per_second: float | None = None,
    concurrent_requests: int = 8,
) -> list[DltResource]:
    vendor = limits.zendesk_sell()
    client = make_client(
        base_url,
        {"Accept": "application/json"},
        auth=BearerTokenAuth(access_token),
        system=SYSTEM,
        requests_per_second=vendor.rate.per_second
        if requests_per_second is None
        else requests_per_second,
        concurrency=concurrent_requests,
        timeout_seconds=request_timeout,
        max_attempts=max_attempts,
    )
    per_page = max(1, min(page_size, MAX_PER_PAGE))
    lookups = Lookups(client, per_page)

    since_update = newest_first("updated_at", lookback_seconds)  # dlt copies it per resource

    def sorted_desc(field: str) -> dict[str, Any]:
        return {"per_page": per_page, "sort_by": f"{field}:desc"}

    def enrich_deal(deal: dict[str, Any]) -> dict[str, Any]:
        stage = lookups.get("stages").get(_as_int(deal.get("stage_id")) or -1) or {}
        reason = lookups.get("loss_reasons").get(_as_int(deal.get("loss_reason_id")) or -1)
        unqualified = lookups.get("deal_unqualified_reasons").get(
            _as_int(deal.get("unqualified_reason_id")) or -1
        )
        return {
            **deal,
            "stage_category": stage.get("category"),
            "stage_pipeline_id": stage.get("pipeline_id"),
            "loss_reason_name": (reason or {}).get("name"),
            "unqualified_reason_name": (unqualified or {}).get("name"),
        }

    # deals, orders and calls are dlt resources rather than rest_api entries: their body first
    # takes over the former cursor (adopt_desc_cursor), before dlt filters a row; orders also
    # read each order's line items for its amount
    @dlt.resource(
        name="deals", primary_key="id", write_disposition="merge", columns=OPTIONAL_COLUMNS["deals"]
    )
    def deals(updated: Incremental[Any] = since_update) -> Any:
        """Deals changed since the last run (newest first), with their stage's category and
        pipeline and their loss (or unqualified) reason's name resolved."""
        adopt_desc_cursor(updated, "updated_at")
        for page in _pages(client, "/v2/deals", sorted_desc("updated_at")):
            split = _split("deals", [enrich_deal(d) if isinstance(d, dict) else d for d in page])
            # rejects first: dlt closes the generator at the page that reaches the cursor
            yield from _rejects(split)
            if split.good:
                yield split.good

    @dlt.transformer(
        data_from=deals,
        name="deal_stage_snapshots",
        primary_key="snapshot_id",
        write_disposition="merge",
        columns=OPTIONAL_COLUMNS["deals"],
    )
    def deal_stage_snapshots(deal_page: list[Any]) -> Iterator[Any]:
        """One row per (deal, stage, last_stage_change_at) seen by a load: the deal as last
        read while it was in that stage. Scheduled loads accumulate the stage history."""
        rows = [
            {**deal, "snapshot_id": snapshot_id(deal), "deal_id": deal["id"]}
            for deal in deal_page
            if isinstance(deal, dict) and "reject_id" not in deal
        ]
        if rows:
            yield rows

    def driven_by_hand(field: str, old_key: str) -> Incremental[Any]:
        """dlt.sources.incremental on `field`, bound to the running resource and fed its rows
        by the caller (a resource has one incremental argument; `leads` needs two)."""
        cursor = dlt.sources.incremental(
            field, initial_value=EPOCH, lag=lookback_seconds, primary_key="id"
        )
        adopt_desc_cursor(cursor, old_key, rebind=False)
        return cursor.bind(dlt.current.pipe())

    def changed_since(path: str, params: dict[str, Any], name: str, cursor: Incremental[Any]):
        """Checked rows of a newest-first list that `cursor` keeps (at or after its start,
        less the rows at the boundary it loaded before); paging stops after the first page
        that reaches below the start, as dlt's row_order="desc" would."""
        rejects: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []
        for page in _pages(client, path, params):
            split = _split(name, page)
            rejects.extend(split.rejects)
            kept.extend(cursor(split.good) or [])
            if cursor.start_out_of_range:
                break
        return SplitPage(kept, rejects)

    def conversion_of(lead_id: int) -> list[Any]:
        rows: list[Any] = []
        for page in _pages(client, "/v2/lead_conversions", {"lead_id": lead_id}):
            rows.extend(page)
        return rows

    @dlt.resource(
        name="leads", primary_key="id", write_disposition="merge", columns=OPTIONAL_COLUMNS["leads"]
    )
    def leads() -> Iterator[Any]:
        """Leads changed since the last run with their source name and conversion attached;
        the conversions read on the way land in `lead_conversions`.

        Leads are read before the conversions: a conversion made during the run also updates
        its lead, so the next run reads that lead again and finds the conversion. A changed
        lead created before the conversions' cursor may have an older conversion: it is
        looked up by `lead_id` (one request per such lead). Every changed lead is read before
        the conversions, so dlt may not close this generator at the first old lead: both
        cursors are dlt incrementals fed by hand (driven_by_hand)."""
        lead_cursor = driven_by_hand("updated_at", "updated_at")
        conv_cursor = driven_by_hand("created_at", "conversions_created_at")
        lead_split = changed_since("/v2/leads", sorted_desc("updated_at"), "leads", lead_cursor)
        conv_split = changed_since(
            "/v2/lead_conversions", {"per_page": per_page}, "lead_conversions", conv_cursor
        )
        by_lead = {row["lead_id"]: row for row in conv_split.good}
        looked_up: list[Any] = []
        sources = lookups.get("lead_sources")
        reasons = lookups.get("lead_unqualified_reasons")
        for lead in lead_split.good:
            conversion = by_lead.get(lead["id"])
            if conversion is None and lead["created_at"] <= conv_cursor.start_value:
                found = _split("lead_conversions", conversion_of(lead["id"]))
                looked_up.extend(found.good)
                conversion = found.good[0] if found.good else None
            source = sources.get(_as_int(lead.get("source_id")) or -1) or {}
            lead["source_name"] = source.get("name")
            reason = reasons.get(_as_int(lead.get("unqualified_reason_id")) or -1) or {}
            lead["unqualified_reason_name"] = reason.get("name")
            lead["lead_conversion_id"] = conversion["id"] if conversion else None
            lead["converted_deal_id"] = conversion["deal_id"] if conversion else None
            lead["converted_at"] = conversion["created_at"] if conversion else None
        if lead_split.good:
            yield lead_split.good
        yield from _rejects(lead_split)
        conversions = conv_split.good + looked_up
        if conversions:
            yield _table(conversions, "lead_conversions", "id")
        yield from _rejects(conv_split)

    def line_items(order: dict[str, Any]) -> list[Any]:
        """An order's line items (one request per order, more for over 100 items)."""
        path = f"/v2/orders/{order['id']}/line_items"
        return [
            {**item, "order_id": order["id"], "deal_id": order["deal_id"]}
            if isinstance(item, dict)
            else item
            for page in _pages(client, path, {"per_page": per_page})
            for item in page
        ]

    # line items of the orders of the current page, filled by `orders` before it yields the
    # page and taken by `order_line_items` (their own updated_at must not meet the orders'
    # cursor, so they are not yielded through `orders`)
    pending_items: dict[int, SplitPage] = {}

    @dlt.resource(name="orders", primary_key="id", write_disposition="merge")
    def orders(updated: Incremental[Any] = since_update) -> Any:
        """Orders changed since the last run; their line items land in `order_line_items`
        (a re-read order's items replace its previous ones) and give the order its amount:
        sum(value * quantity) less the order's percent discount."""
        adopt_desc_cursor(updated, "updated_at")
        for page in _pages(client, "/v2/orders", sorted_desc("updated_at")):
            split = _split("orders", page)
            # no line-item requests for the orders below the start that dlt will drop
            changed = [o for o in split.good if o["updated_at"] >= updated.start_value]
            found = fetch_each(line_items, changed, concurrent_requests)
            for order, order_rows in zip(changed, found, strict=True):
                order_items = pending_items[order["id"]] = _split("order_line_items", order_rows)
                gross = sum(
                    (i.get("value") or 0.0) * (i.get("quantity") or 0.0) for i in order_items.good
                )
                discount = order.get("discount") or 0.0
                order["amount"] = round(gross * (1 - discount / 100.0), 2)
                currencies = {i.get("currency") for i in order_items.good} - {None}
                order["currency"] = currencies.pop() if len(currencies) == 1 else None
            yield from _rejects(split)
            if changed:
                yield changed

    @dlt.transformer(
        data_from=orders,
        name="order_line_items",
        primary_key="id",
        merge_key="order_id",
        write_disposition="merge",
        columns=OPTIONAL_COLUMNS["order_line_items"],
    )
    def order_line_items(order_page: list[Any]) -> Iterator[Any]:
        """The line items of the orders dlt kept (read by `orders` for their amount)."""
        items: list[dict[str, Any]] = []
        item_rejects: list[dict[str, Any]] = []
        for order in order_page:
            if isinstance(order, dict) and "reject_id" not in order:
                found = pending_items.pop(order["id"], SplitPage([], []))
                items.extend(found.good)
                item_rejects.extend(found.rejects)
        yield from _rejects(SplitPage([], item_rejects))
        if items:
            yield items

    @dlt.resource(
        name="calls", primary_key="id", write_disposition="merge", columns=OPTIONAL_COLUMNS["calls"]
    )
    def calls(updated: Incremental[Any] = since_update) -> Any:
        """Calls changed since the last run (newest first): the ones on a lead
        (resource_type lead) time its first contact."""
        adopt_desc_cursor(updated, "updated_at")
        for page in _pages(client, "/v2/calls", sorted_desc("updated_at")):
            split = _split("calls", page)
            yield from _rejects(split)
            if split.good:
                yield split.good

    return [
        deals,
        deal_stage_snapshots,
        leads,
        orders,
        order_line_items,
        calls,
        *rest_api_resources(full_lists_config(client, per_page)),
    ]
