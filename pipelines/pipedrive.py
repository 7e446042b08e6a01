"""Pipedrive source: API v2 for deals & co (cursor paging, `updated_since`), v1 for users,
teams, leads, deal fields and the per-deal change flow (start/limit paging).

Requests per deal: its share of a deals list page (1/500), one `/v1/deals/{id}/flow` (40
tokens: Pipedrive has no bulk stage history), one `/api/v2/deals/{id}/discounts` (10 tokens)
and 1/100 of a `/api/v2/deals/products` batch: about 2 requests and 50 tokens per deal.
Per run, not per deal: the v2 lists (10 tokens a page) and the v1 field lists (20 tokens a
page), among them `/v1/productFields`, whose `category` options label a product's category.

Configuration (dlt config/secrets or environment):
    SOURCES__PIPEDRIVE__BASE_URL   default https://api.pipedrive.com
    SOURCES__PIPEDRIVE__API_TOKEN  required (sent as the `x-api-token` header)
    SOURCES__PIPEDRIVE__PLAN, SEATS  the company's plan (lite, growth, premium, ultimate;
        default growth) and seats (default 10): they set the burst limit per 2 s and the
        daily token budget (pipelines/limits.py)
    SOURCES__PIPEDRIVE__REQUESTS_PER_SECOND  pace (default: the plan's burst limit / 2 s;
        0 = unpaced, e.g. against a local server)
    SOURCES__PIPEDRIVE__CONCURRENT_REQUESTS  requests in flight (default 8)
    SOURCES__PIPEDRIVE__BUDGET_SHARE  share of the daily token budget one run may spend
        (default 0.5); DAILY_TOKEN_BUDGET overrides the plan's budget
    SOURCES__PIPEDRIVE__LOOKBACK_SECONDS  incremental look-back below the last cursor
        (default 3600: an update whose update_time lags behind is still read)
A run that reaches its token share stops after the last deals page it can afford; the next
run continues from there (the cursor only moves past deals that were loaded).

The lists are declared in dlt's `rest_api` config (lists_config) on the source's paced,
token-counting session: persons, organizations, products and activities (`updated_since` = the
incremental's start, the look-back as `lag`, cursor paging guarded by GuardedCursorPaginator)
and the lists read whole (stages, pipelines, users, leads, deal and product fields), the row
checks as a `yield_map` step (a page-wide step for the Arrow tables). Hand-written, each with a
comment why: deals (token budget), the per-deal transformers, teams and product field options.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import dlt
import pyarrow as pa
from dlt.extract.items_transform import ItemTransform
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import APIKeyAuth
from dlt.sources.rest_api import EndpointResource, RESTAPIConfig, rest_api_resources

from pipelines import limits
from pipelines.http import (
    STATS,
    GuardedCursorPaginator,
    GuardedOffsetPaginator,
    fetch_each,
    get_json,
    make_client,
    rest_api_client,
)
from pipelines.progress import EXPECTED_REQUESTS, notify
from pipelines.timeutil import EPOCH, rfc3339
from pipelines.validation import (
    OPT_BOOL,
    OPT_INT,
    OPT_MONEY,
    OPT_RFC3339,
    OPT_V1_TS,
    REQ_ID,
    REQ_INT,
    REQ_RFC3339,
    REQ_RFC3339_CURSOR,
    REQ_V1_TS,
    RowSpec,
    emit,
)

SYSTEM = "pipedrive"
DEAL_IDS_PER_REQUEST = 100  # limit of /api/v2/deals/products?deal_ids=

# Fields the event log depends on are type-checked (and timestamps parsed to UTC); a row that
# fails goes to `rejects` with the reason. Other fields load as they come (schema evolves).
SPECS: dict[str, RowSpec] = {
    "deals": RowSpec(
        "deals",
        {
            "id": REQ_INT,
            "owner_id": OPT_INT,
            "pipeline_id": OPT_INT,
            "stage_id": OPT_INT,
            "value": OPT_MONEY,
            "add_time": REQ_RFC3339,
            "update_time": REQ_RFC3339_CURSOR,
            "stage_change_time": OPT_RFC3339,
            "won_time": OPT_RFC3339,
            "lost_time": OPT_RFC3339,
            "close_time": OPT_RFC3339,
        },
    ),
    "stages": RowSpec("stages", {"id": REQ_INT, "pipeline_id": REQ_INT}),
    "pipelines": RowSpec("pipelines", {"id": REQ_INT}),
    "persons": RowSpec("persons", {"id": REQ_INT, "update_time": REQ_RFC3339_CURSOR}),
    "organizations": RowSpec("organizations", {"id": REQ_INT, "update_time": REQ_RFC3339_CURSOR}),
    "products": RowSpec(
        "products",
        # category: the option id of the product field `category` (the product category)
        {"id": REQ_INT, "update_time": REQ_RFC3339_CURSOR, "category": OPT_INT},
    ),
    "activities": RowSpec(
        "activities",
        {
            "id": REQ_INT,
            "deal_id": OPT_INT,
            "add_time": REQ_RFC3339,
            "update_time": REQ_RFC3339_CURSOR,
            "marked_as_done_time": OPT_RFC3339,
        },
    ),
    "deal_products": RowSpec(
        "deal_products",
        {
            "id": REQ_INT,
            "deal_id": REQ_INT,
            "item_price": OPT_MONEY,
            "sum": OPT_MONEY,
            "discount": OPT_MONEY,
            "add_time": OPT_RFC3339,
            "update_time": OPT_RFC3339,
        },
    ),
    "deal_discounts": RowSpec(
        "deal_discounts",
        {"id": REQ_ID, "deal_id": REQ_INT, "amount": OPT_MONEY, "created_at": OPT_RFC3339},
    ),
    "deal_changes": RowSpec(
        "deal_changes",
        {
            "id": REQ_INT,
            "deal_id": REQ_INT,
            "user_id": OPT_INT,
            "log_time": REQ_V1_TS,
            "is_bulk_update": OPT_BOOL,
        },
    ),
    "users": RowSpec("users", {"id": REQ_INT, "created": OPT_V1_TS, "modified": OPT_V1_TS}),
    "teams": RowSpec("teams", {"id": REQ_INT}),
    "leads": RowSpec("leads", {"id": REQ_ID, "add_time": REQ_RFC3339, "update_time": REQ_RFC3339}),
    "deal_fields": RowSpec("deal_fields", {"id": REQ_INT, "key": REQ_ID}),
    "product_fields": RowSpec("product_fields", {"id": REQ_INT, "key": REQ_ID}),
    "product_field_options": RowSpec(
        "product_field_options", {"id": REQ_INT, "field_id": REQ_INT, "field_key": REQ_ID}
    ),
}


# The flow is the largest table (several changes per deal): it is written as Arrow tables.
DEAL_CHANGE_TYPES: dict[str, pa.DataType] = {
    "id": pa.int64(),
    "deal_id": pa.int64(),
    "user_id": pa.int64(),
    "field_key": pa.string(),
    "field_name": pa.string(),
    "old_value": pa.string(),
    "new_value": pa.string(),
    "log_time": pa.timestamp("us", tz="UTC"),
    "change_source": pa.string(),
    "change_source_user_agent": pa.string(),
    "is_bulk_update": pa.bool_(),
}


_TS = pa.timestamp("us", tz="UTC")
# The next largest tables, also written as Arrow tables: the types dlt infers for them as dict
# rows (checked by comparing loads). Nested objects become `parent__child` columns, as dlt
# makes them; a field not listed loads as text; a page with a value of another type or a
# non-empty list goes to dlt as dict rows (validation.arrow_or_rows).
ACTIVITY_TYPES: dict[str, pa.DataType] = {
    "id": pa.int64(),
    "subject": pa.string(),
    "type": pa.string(),
    "owner_id": pa.int64(),
    "deal_id": pa.int64(),
    "person_id": pa.int64(),
    "org_id": pa.int64(),
    "done": pa.bool_(),
    "due_date": pa.string(),
    "due_time": pa.string(),
    "marked_as_done_time": _TS,
    "add_time": _TS,
    "update_time": _TS,
    "is_deleted": pa.bool_(),
}
DEAL_PRODUCT_TYPES: dict[str, pa.DataType] = {
    "id": pa.int64(),
    "deal_id": pa.int64(),
    "product_id": pa.int64(),
    "name": pa.string(),
    "item_price": pa.float64(),
    "quantity": pa.int64(),
    "discount": pa.float64(),
    "discount_type": pa.string(),
    "sum": pa.float64(),
    "currency": pa.string(),
    "tax": pa.int64(),
    "tax_method": pa.string(),
    "is_enabled": pa.bool_(),
    "add_time": _TS,
    "update_time": _TS,
}
LEAD_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "title": pa.string(),
    "owner_id": pa.int64(),
    "person_id": pa.int64(),
    "organization_id": pa.int64(),
    "source_name": pa.string(),
    "origin": pa.string(),
    "is_archived": pa.bool_(),
    "was_seen": pa.bool_(),
    "add_time": _TS,
    "update_time": _TS,
    "value__amount": pa.float64(),
    "value__currency": pa.string(),
}
ARROW_TYPES: dict[str, dict[str, pa.DataType]] = {
    "activities": ACTIVITY_TYPES,
    "deal_products": DEAL_PRODUCT_TYPES,
    "leads": LEAD_TYPES,
}


def field_slug(name: str) -> str:
    """Readable, stable column name for a custom field: 'Discount %' -> 'discount_pct'."""
    text = name.strip().lower().replace("%", " pct ").replace("#", " number ")
    slug = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    return slug if slug and not slug[0].isdigit() else f"field_{slug}"


def v2_paginator() -> GuardedCursorPaginator:
    """API v2 paging: `cursor` from `additional_data.next_cursor`, stopping on a stuck cursor."""
    return GuardedCursorPaginator(cursor_path="additional_data.next_cursor", cursor_param="cursor")


def v1_paginator(page_size: int = 500) -> GuardedOffsetPaginator:
    """API v1 paging: `start`/`limit`, following `next_start` while there are more items."""
    return GuardedOffsetPaginator(
        limit=page_size,
        offset_param="start",
        limit_param="limit",
        total_path=None,
        has_more_path="additional_data.pagination.more_items_in_collection",
        next_offset_path="additional_data.pagination.next_start",
    )


def _v2_pages(client: RESTClient, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
    yield from client.paginate(path, params=params, paginator=v2_paginator(), data_selector="data")


def _v1_pages(
    client: RESTClient, path: str, params: dict[str, Any] | None = None, page_size: int = 500
) -> Iterator[list[Any]]:
    for page in client.paginate(
        path, params=params or {}, paginator=v1_paginator(page_size), data_selector="data"
    ):
        yield [row for row in page if row is not None]


def checked(name: str) -> Callable[[Any], Iterator[Any]]:
    """A rest_api `yield_map` step: the record checked, to its table or to `rejects`."""

    def check(row: Any) -> Iterator[Any]:
        yield from emit(SYSTEM, SPECS[name], [row])

    return check


class CheckedPages(ItemTransform[Any, Any]):
    """The page-wide form of `checked` for the tables written as Arrow tables (one table per
    page; rest_api's `yield_map` would make one per record). Placed, like `yield_map`, before
    the incremental, so a rejected cursor value never moves the cursor."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(self.check)

    def check(self, page: Any) -> Iterator[Any]:
        rows = page if isinstance(page, list) else [page]
        yield from emit(SYSTEM, SPECS[self.name], rows, ARROW_TYPES[self.name])

    def __call__(self, item: Any, meta: Any = None) -> Any:
        return self.check(item)


def _not_none(row: Any) -> bool:
    return row is not None


# The lists declared for dlt's rest_api (table, endpoint). Changed since the last run
# (`updated_since` = the incremental's start, which is the last cursor less the look-back):
V2_CHANGED = (
    ("persons", "/api/v2/persons"),
    ("organizations", "/api/v2/organizations"),
    ("products", "/api/v2/products"),
    ("activities", "/api/v2/activities"),
)
# Read whole each run: (table, endpoint, API version); v1 lists have no `updated_since`.
WHOLE_LISTS = (
    ("stages", "/api/v2/stages", 2),
    ("pipelines", "/api/v2/pipelines", 2),
    ("users", "/v1/users", 1),
    ("leads", "/v1/leads", 1),
    ("deal_fields", "/v1/dealFields", 1),
    ("product_fields", "/v1/productFields", 1),
)
EXTRA_PARAMS: dict[str, dict[str, Any]] = {"leads": {"archived_status": "all"}}
EXTRA_HINTS: dict[str, dict[str, Any]] = {
    # `options` stays a JSON column; product_field_options flattens it
    "product_fields": {"max_table_nesting": 0, "columns": {"options": {"data_type": "json"}}},
}


def _steps(name: str, version: int) -> list[Any]:
    """Row checks as rest_api processing steps (v1 lists may hold nulls: skipped, as before);
    the Arrow tables get CheckedPages instead (lists_resources)."""
    steps: list[Any] = [{"filter": _not_none}] if version == 1 else []
    return steps if name in ARROW_TYPES else [*steps, {"yield_map": checked(name)}]


def lists_config(client: RESTClient, limit: int, lookback_seconds: float) -> RESTAPIConfig:
    """dlt's declarative rest_api config of the list endpoints, on `client`'s session (its
    pace, retries, request and token counts, pipelines.http.make_client)."""
    changed: list[EndpointResource] = [
        {
            "name": name,
            "endpoint": {
                "path": path,
                "params": {
                    "limit": limit,
                    "sort_by": "update_time",
                    "sort_direction": "asc",
                    "updated_since": "{incremental.start_value}",
                },
                "incremental": {
                    "cursor_path": "update_time",
                    "initial_value": EPOCH,
                    "lag": lookback_seconds,
                    "on_cursor_value_missing": "include",
                    "convert": rfc3339,
                },
                "paginator": v2_paginator(),
            },
            "processing_steps": _steps(name, 2),
        }
        for name, path in V2_CHANGED
    ]
    whole: list[EndpointResource] = [
        {
            "name": name,
            **EXTRA_HINTS.get(name, {}),  # type: ignore[typeddict-item]
            "endpoint": {
                "path": path,
                # v1 paging sets `limit` itself; /v1/users comes in one page
                "params": {"limit": limit} if version == 2 else EXTRA_PARAMS.get(name, {}),
                "paginator": (
                    v2_paginator()
                    if version == 2
                    else "single_page"
                    if name == "users"
                    else v1_paginator(limit)
                ),
            },
            "processing_steps": _steps(name, version),
        }
        for name, path, version in WHOLE_LISTS
    ]
    return {
        "client": rest_api_client(client),
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "merge",
            "endpoint": {"data_selector": "data"},
        },
        "resources": [*changed, *whole],
    }


def lists_resources(
    client: RESTClient, limit: int, lookback_seconds: float
) -> dict[str, DltResource]:
    """The resources of lists_config by name, the Arrow tables' page checks added."""
    config = lists_config(client, limit, lookback_seconds)
    resources = {r.name: r for r in rest_api_resources(config)}
    for name in ARROW_TYPES:
        if name in resources:
            resources[name].add_step(CheckedPages(name))
    return resources


def _only_deals(items: Iterable[Any]) -> list[dict[str, Any]]:
    """Transformers see the deals page; reject rows (routed to `rejects`) carry `reject_id`."""
    return [row for row in items if isinstance(row, dict) and "reject_id" not in row]


class CustomFields:
    """Maps Pipedrive's 40-char custom-field hashes to readable names (kept stable once seen:
    renaming a field in Pipedrive does not rename its column) and enum option ids to labels."""

    def __init__(self, client: RESTClient, known_names: dict[str, str]) -> None:
        self.names: dict[str, str] = dict(known_names)
        self.options: dict[str, dict[str, str]] = {}
        for page in _v1_pages(client, "/v1/dealFields"):
            for field in page:
                key = str(field.get("key", ""))
                if not field.get("edit_flag") or not key:
                    continue
                self.names.setdefault(key, field_slug(str(field.get("name") or key)))
                options = field.get("options") or []
                if options:
                    self.options[key] = {str(o.get("id")): o.get("label") for o in options}

    def apply(self, deal: dict[str, Any]) -> dict[str, Any]:
        raw = deal.get("custom_fields")
        if not isinstance(raw, dict):
            return deal
        named: dict[str, Any] = {}
        for key, value in raw.items():
            name = self.names.get(key, field_slug(key))
            if key in self.options and value is not None and not isinstance(value, dict):
                value = self.options[key].get(str(value), value)
            named[name] = value
        return {**deal, "custom_fields": named}


DEAL_TOKENS = 40 + 10  # a deal's /flow and its /discounts (plus shares of list pages)


@dlt.source(name="pipedrive", max_table_nesting=1)
def pipedrive_source(
    api_token: str = dlt.secrets.value,
    base_url: str = "https://api.pipedrive.com",
    page_size: int = 500,
    request_timeout: float = 30.0,
    max_attempts: int = 6,
    plan: str = limits.PIPEDRIVE_DEFAULT_PLAN,
    seats: int = limits.PIPEDRIVE_DEFAULT_SEATS,
    requests_per_second: float | None = None,
    concurrent_requests: int = 8,
    daily_token_budget: int | None = None,
    budget_share: float = 0.5,
    lookback_seconds: float = 3600.0,
) -> list[DltResource]:
    vendor = limits.pipedrive(plan, seats)
    rate = vendor.rate.per_second if requests_per_second is None else requests_per_second
    client = make_client(
        base_url,
        {"Accept": "application/json"},
        system=SYSTEM,
        auth=APIKeyAuth(name="x-api-token", api_key=api_token, location="header"),
        requests_per_second=rate,
        window_seconds=vendor.rate.window_seconds,
        concurrency=concurrent_requests,
        cost=limits.pipedrive_token_cost,
        timeout_seconds=request_timeout,
        max_attempts=max_attempts,
    )
    stats = STATS[SYSTEM]
    budget = vendor.daily_budget if daily_token_budget is None else daily_token_budget
    allowed_tokens = int(budget * budget_share)
    limit = min(page_size, 500)
    parallel = concurrent_requests > 1
    # Filled by `deals` before its first page is yielded; read by the `deal_changes`
    # transformer (which only runs on deals pages) to name custom-field changes.
    field_names: dict[str, str] = {}

    # hand-written: the whole list is read first to estimate the run's tokens and the pages
    # are cut at the budget share, which rest_api's config cannot express
    @dlt.resource(name="deals", primary_key="id", write_disposition="merge")
    def deals(
        updated=dlt.sources.incremental(  # noqa: B008
            "update_time",
            initial_value=EPOCH,
            lag=lookback_seconds,
            on_cursor_value_missing="include",
        ),
    ) -> Iterator[Any]:
        """Deals changed since the last run (less the look-back), oldest change first. The
        list is read whole first (10 tokens per 500 deals) to estimate the run's token cost;
        pages are then handed to the per-deal transformers while the budget share allows."""
        state = dlt.current.resource_state()
        fields = CustomFields(client, state.setdefault("custom_field_names", {}))
        state["custom_field_names"] = fields.names
        field_names.update(fields.names)
        params = {
            "limit": limit,
            "sort_by": "update_time",
            "sort_direction": "asc",
            "updated_since": rfc3339(updated.start_value),
            "include_fields": "source_lead_id",
        }
        pages = [page for page in _v2_pages(client, "/api/v2/deals", params)]
        changed = sum(len(page) for page in pages)
        estimate = stats.spent + changed * DEAL_TOKENS + 10 * (changed // 100 + 1)
        # a flow and a discounts request per deal, a products request per 100 deals
        EXPECTED_REQUESTS[SYSTEM] = stats.requests + 2 * changed + changed // 100 + 1
        notify(
            SYSTEM,
            f"{changed} changed deals: about {estimate:,} tokens for this run "
            f"({estimate / max(budget, 1):.0%} of the daily budget of {budget:,} tokens; "
            f"this run may spend {allowed_tokens:,})",
        )
        # tokens this run has spent or committed: the per-deal requests of a yielded page run
        # later (in the transformers), so they are counted when the page is handed over
        committed = stats.spent
        loaded = 0
        for page in pages:
            lists = 10 * (len(page) // DEAL_IDS_PER_REQUEST + 1)  # the page's products batches
            affordable = max(0, (allowed_tokens - committed - lists) // DEAL_TOKENS)
            take = page[:affordable]
            if take:
                committed += len(take) * DEAL_TOKENS + lists
                loaded += len(take)
                yield from emit(SYSTEM, SPECS["deals"], [fields.apply(deal) for deal in take])
            if len(take) < len(page):
                state["stopped_on_budget"] = True
                notify(
                    SYSTEM,
                    f"stopped at the token budget share after {loaded} of {changed} deals "
                    f"(about {committed:,} tokens); the next run continues from there",
                )
                return
        state["stopped_on_budget"] = False

    # hand-written (the three transformers below): per-deal reads of the budgeted deals pages,
    # concurrent and batched (/flow, /discounts, products by 100 deal ids)
    @dlt.transformer(
        data_from=deals,
        name="deal_products",
        primary_key="id",
        merge_key="deal_id",
        write_disposition="merge",
        parallelized=parallel,
    )
    def deal_products(deal_page: list[Any]) -> Iterator[Any]:
        """Line items of the deals changed since the last run; a re-fetched deal's lines
        replace its previous lines (merge_key deal_id)."""
        ids = [str(d["id"]) for d in _only_deals(deal_page)]
        rows: list[Any] = []
        for start in range(0, len(ids), DEAL_IDS_PER_REQUEST):
            batch = ",".join(ids[start : start + DEAL_IDS_PER_REQUEST])
            for page in _v2_pages(
                client, "/api/v2/deals/products", {"deal_ids": batch, "limit": limit}
            ):
                rows.extend(page)
        yield from emit(SYSTEM, SPECS["deal_products"], rows, DEAL_PRODUCT_TYPES)

    @dlt.transformer(
        data_from=deals,
        name="deal_discounts",
        primary_key="id",
        merge_key="deal_id",
        write_disposition="merge",
        parallelized=parallel,
    )
    def deal_discounts(deal_page: list[Any]) -> Iterator[Any]:
        def discounts_of(deal: dict[str, Any]) -> list[Any]:
            body = get_json(client, f"/api/v2/deals/{deal['id']}/discounts")
            return [
                {**row, "deal_id": row.get("deal_id", deal["id"])} for row in body.get("data") or []
            ]

        parts = fetch_each(discounts_of, _only_deals(deal_page), concurrent_requests)
        rows = [row for part in parts for row in part]
        yield from emit(SYSTEM, SPECS["deal_discounts"], rows)

    @dlt.transformer(
        data_from=deals,
        name="deal_changes",
        primary_key="id",
        write_disposition="merge",
        parallelized=parallel,
    )
    def deal_changes(deal_page: list[Any]) -> Iterator[Any]:
        """The v1 deal flow (dealChange items) for each deal changed since the last run."""

        def changes_of(deal: dict[str, Any]) -> list[Any]:
            rows: list[Any] = []
            params = {"all_changes": 1, "items": "dealChange"}
            for page in _v1_pages(client, f"/v1/deals/{deal['id']}/flow", params, limit):
                for item in page:
                    if not isinstance(item, dict) or item.get("object") != "dealChange":
                        continue
                    data = dict(item.get("data") or {})
                    data["deal_id"] = data.pop("item_id", deal["id"])
                    key = str(data.get("field_key") or "")
                    data["field_name"] = field_names.get(key, key)
                    for side in ("old_value", "new_value"):
                        value = data.get(side)
                        data[side] = None if value is None else str(value)
                    rows.append(data)
            return rows

        parts = fetch_each(changes_of, _only_deals(deal_page), concurrent_requests)
        rows = [row for part in parts for row in part]
        yield from emit(SYSTEM, SPECS["deal_changes"], rows, DEAL_CHANGE_TYPES)

    lists = lists_resources(client, limit, lookback_seconds)

    # hand-written: one /v1/legacyTeams response makes two tables (teams, their members)
    def _teams() -> list[Any]:
        response = client.get("/v1/legacyTeams")
        response.raise_for_status()
        return response.json().get("data") or []

    @dlt.resource(name="teams", primary_key="id", write_disposition="merge")
    def teams() -> Iterator[Any]:
        rows = [{k: v for k, v in t.items() if k != "users"} for t in _teams()]
        yield from emit(SYSTEM, SPECS["teams"], rows)

    @dlt.resource(
        name="team_members", primary_key=("team_id", "user_id"), write_disposition="replace"
    )
    def team_members() -> Iterator[Any]:
        """Current team membership (a full snapshot on every run)."""
        yield [
            {"team_id": team["id"], "user_id": user_id}
            for team in _teams()
            for user_id in team.get("users") or []
        ]

    # hand-written: rest_api's dependent resources make a request per parent record
    @dlt.transformer(
        data_from=lists["product_fields"],
        name="product_field_options",
        primary_key=("field_id", "id"),
        write_disposition="merge",
    )
    def product_field_options(field_page: list[Any]) -> Iterator[Any]:
        """One row per option of an enum/set product field (e.g. the labels of `category`),
        from the pages product_fields read: no request of its own. Kept once seen (merge), so
        a product still pointing at a deleted option keeps its label."""
        rows = [
            {
                "id": option.get("id"),
                "field_id": field.get("id"),
                "field_key": field.get("key"),
                "label": option.get("label"),
            }
            for field in _only_deals(field_page)
            for option in field.get("options") or []
            if isinstance(option, dict)
        ]
        yield from emit(SYSTEM, SPECS["product_field_options"], rows)

    return [
        deals,
        deal_products,
        deal_discounts,
        deal_changes,
        *(lists[name] for name in ("stages", "pipelines", *(n for n, _ in V2_CHANGED), "users")),
        teams,
        team_members,
        *(lists[name] for name in ("leads", "deal_fields", "product_fields")),
        product_field_options,
    ]
