"""Oracle CX Sales source: Fusion Sales REST `crmRestApi/resources/11.13.18.05`, Basic auth.

Configuration (dlt config/secrets or environment):
    SOURCES__ORACLE_CX__BASE_URL   required, the pod, e.g. https://abcd.fa.us2.oraclecloud.com
    SOURCES__ORACLE_CX__USERNAME   required (a user with read access to the sales objects)
    SOURCES__ORACLE_CX__PASSWORD   required
    SOURCES__ORACLE_CX__CONCURRENT_REQUESTS  requests in flight (default 8; Oracle publishes
        no rate limit), LOOKBACK_SECONDS  incremental look-back (default 300)
    optional: PAGE_SIZE (<= 500), REQUEST_TIMEOUT, MAX_ATTEMPTS, REST_FRAMEWORK_VERSION

Resources (table <- endpoint; primary key; write disposition; change filter):
    opportunities     <- /opportunities                  OptyId            merge  LastUpdateDate
    revenue_items     <- expanded ChildRevenue           RevnId            merge  (per opty)
    stage_snapshots   <- expanded opportunityStageSnapshots  OptyStgSnapshotId  merge (per opty)
    opportunity_leads <- expanded OpportunityLead        OptyLeadId        merge  (per opty)
    opportunity_campaigns <- expanded OpportunityCampaigns  OptyCampaignId  merge  (per opty)
    leads             <- /leads                          LeadId            merge  LastUpdateDate
    lead_campaigns    <- expanded LeadCampaigns          LeadCampaignId    merge  (per lead)
    resources         <- /resources                      PartyId           merge  LastUpdateDate
    activities        <- /activities                     ActivityId        merge  LastUpdateDate
    campaigns         <- /campaigns                      CampaignId        merge  LastUpdateDate
    sales_methods     <- /salesMethods                   SalesMethodId     merge  (full read)
    sales_stages      <- /salesMethods/{id}/child/SalesStage  StgId        merge  (full read)

Leads, resources, activities and campaigns (`q=LastUpdateDate >= '<start>'`, oldest first,
under dlt.sources.incremental with the look-back as `lag`) and sales methods are declared in
dlt's `rest_api` config (lists_config) on the source's session, the row checks as a
`yield_map` step; opportunities and sales stages stay dlt resources written by hand (below).

Opportunities are read with `q=LastUpdateDate >= '<cursor>'`, `orderBy=LastUpdateDate:asc,
OptyId:asc` and `expand=` every child of OPTY_CHILDREN (ChildRevenue,
opportunityStageSnapshots, OpportunityLead, OpportunityCampaigns), so the
children of every changed opportunity arrive with it, without a request per opportunity; an
expanded child collection that says `hasMore` is completed from its child endpoint. The child
tables merge on their own key with merge_key OptyId: a re-read opportunity's children replace
the ones stored for it. The opportunity key stored in the warehouse is OptyId (the number
Stripe metadata `oracle_opty_id` carries); OptyNumber is kept as a column.

An opportunity's campaigns (OpportunityCampaigns: CampaignId, RevenuePercentage) share its
revenue; the loader resolves its primary campaign, the one with the largest RevenuePercentage
(ties: the smallest OptyCampaignId), into the opportunity's `primary_campaign_id` (staging does
not join).

A lead's campaign memberships (its LeadCampaigns child: LeadCampaignId, CampaignId,
PrimaryFlag, CreationDate) come with the leads list (`expand=LeadCampaigns`), so no request per
lead: the leads' `yield_map` step takes them off the lead and the `lead_campaigns` transformer
writes those of the leads the incremental let through (merge_key LeadId: a re-read lead's
memberships replace its stored ones); a collection cut short (`hasMore`) or missing is
completed from /leads/{LeadId}/child/LeadCampaigns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import dlt
import pyarrow as pa
from dlt.sources import DltResource
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import HttpBasicAuth
from dlt.sources.helpers.rest_client.paginators import OffsetPaginator
from dlt.sources.rest_api import EndpointResource, RESTAPIConfig, rest_api_resources

from pipelines.http import fetch_each, make_client, rest_api_client
from pipelines.timeutil import EPOCH, rfc3339
from pipelines.validation import (
    OPT_INT,
    OPT_MONEY,
    OPT_RFC3339,
    REQ_INT,
    REQ_RFC3339,
    REQ_RFC3339_CURSOR,
    ArrowTypes,
    RowSpec,
    SplitPage,
    arrow_or_rows,
    rejects_hints,
    split_page,
)

SYSTEM = "oracle_cx"
API_PATH = "/crmRestApi/resources/11.13.18.05"
MAX_PAGE_SIZE = 500  # Oracle's upper bound for `limit`
OPTY_CHILDREN = {
    "ChildRevenue": "revenue_items",
    "opportunityStageSnapshots": "stage_snapshots",
    "OpportunityLead": "opportunity_leads",
    "OpportunityCampaigns": "opportunity_campaigns",
}
LEAD_CHILD = "LeadCampaigns"  # a lead's campaign memberships, expanded on the leads list

# Fields the event log depends on are type-checked (timestamps parsed to UTC); a failing row
# goes to `rejects` with the reason. Other attributes load as they come (schema evolves).
SPECS: dict[str, RowSpec] = {
    "opportunities": RowSpec(
        "opportunities",
        {
            "OptyId": REQ_INT,
            "SalesMethodId": OPT_INT,
            "SalesStageId": OPT_INT,
            "OwnerResourcePartyId": OPT_INT,
            "TargetPartyId": OPT_INT,
            "Revenue": OPT_MONEY,
            "CreationDate": REQ_RFC3339,
            "LastUpdateDate": REQ_RFC3339_CURSOR,
        },
        id_field="OptyId",
    ),
    "revenue_items": RowSpec(
        "revenue_items",
        {
            "RevnId": REQ_INT,
            "OptyId": REQ_INT,
            "Quantity": OPT_MONEY,
            "UnitPrice": OPT_MONEY,
            "RevnAmount": OPT_MONEY,
            "CreationDate": OPT_RFC3339,
        },
        id_field="RevnId",
    ),
    # stage snapshots are renamed to snake_case before the checks (they load as Arrow)
    "stage_snapshots": RowSpec(
        "stage_snapshots",
        {
            "opty_stg_snapshot_id": REQ_INT,
            "opty_id": REQ_INT,
            "stg_id": REQ_INT,
            "stg_enter_date": REQ_RFC3339,
            "stg_exit_date": OPT_RFC3339,
            "creation_date": OPT_RFC3339,
            "last_update_date": OPT_RFC3339,
        },
        id_field="opty_stg_snapshot_id",
    ),
    "opportunity_leads": RowSpec(
        "opportunity_leads",
        {"OptyLeadId": REQ_INT, "OptyId": REQ_INT, "LeadId": OPT_INT},
        id_field="OptyLeadId",
    ),
    "opportunity_campaigns": RowSpec(
        "opportunity_campaigns",
        {
            "OptyCampaignId": REQ_INT,
            "OptyId": REQ_INT,
            "CampaignId": REQ_INT,
            "RevenuePercentage": OPT_MONEY,
            "CreationDate": OPT_RFC3339,
            "LastUpdateDate": OPT_RFC3339,
        },
        id_field="OptyCampaignId",
    ),
    # the lead's earliest membership (by CreationDate) is its campaign: CreationDate required
    "lead_campaigns": RowSpec(
        "lead_campaigns",
        {
            "LeadCampaignId": REQ_INT,
            "LeadId": REQ_INT,
            "CampaignId": REQ_INT,
            "CreationDate": REQ_RFC3339,
            "LastUpdateDate": OPT_RFC3339,
        },
        id_field="LeadCampaignId",
    ),
    "campaigns": RowSpec(
        "campaigns",
        {
            "CampaignId": REQ_INT,
            "CreationDate": OPT_RFC3339,
            "LastUpdateDate": REQ_RFC3339_CURSOR,
        },
        id_field="CampaignId",
    ),
    "leads": RowSpec(
        "leads",
        {
            "LeadId": REQ_INT,
            "OwnerId": OPT_INT,
            "ConvertedOpportunityId": OPT_INT,
            "DealAmount": OPT_MONEY,
            "CreationDate": REQ_RFC3339,
            "LastUpdateDate": REQ_RFC3339_CURSOR,
            "ConvertedTimestamp": OPT_RFC3339,
        },
        id_field="LeadId",
    ),
    # tasks and appointments; those on a lead (LeadId) give the lead's first contact
    "activities": RowSpec(
        "activities",
        {
            "ActivityId": REQ_INT,
            "OwnerId": OPT_INT,
            "LeadId": OPT_INT,
            "OptyId": OPT_INT,
            "ActivityEndDate": OPT_RFC3339,
            "CreationDate": REQ_RFC3339,
            "LastUpdateDate": REQ_RFC3339_CURSOR,
        },
        id_field="ActivityId",
    ),
    "resources": RowSpec(
        "resources",
        {"PartyId": REQ_INT, "LastUpdateDate": REQ_RFC3339_CURSOR, "CreationDate": OPT_RFC3339},
        id_field="PartyId",
    ),
    "sales_methods": RowSpec("sales_methods", {"SalesMethodId": REQ_INT}, "SalesMethodId"),
    "sales_stages": RowSpec(
        "sales_stages",
        {"StgId": REQ_INT, "SalesMethodId": REQ_INT, "StgOrder": OPT_INT},
        id_field="StgId",
    ),
}

# The stage history is the largest table (one row per stage visit): written as Arrow tables.
SNAPSHOT_TYPES: dict[str, pa.DataType] = {
    "opty_stg_snapshot_id": pa.int64(),
    "opty_id": pa.int64(),
    "stg_id": pa.int64(),
    "stg_enter_date": pa.timestamp("us", tz="UTC"),
    "stg_exit_date": pa.timestamp("us", tz="UTC"),
    "active_flag": pa.bool_(),
    "created_by": pa.string(),
    "creation_date": pa.timestamp("us", tz="UTC"),
    "last_update_date": pa.timestamp("us", tz="UTC"),
}


@lru_cache(maxsize=4096)
def snake_case(name: str) -> str:
    """dlt's column name for an Oracle attribute: 'OptyStgSnapshotId' -> 'opty_stg_snapshot_id'."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    return re.sub(r"_+", "_", text).lower()


def emit(spec: RowSpec, rows: list[Any], arrow_types: ArrowTypes | None = None) -> Iterator[Any]:
    """validation.emit, except that the `rejects` variant drops the resource's merge_key: a
    child resource merges on OptyId, which reject rows do not have (dlt would refuse them)."""
    yield from emit_page(split_page(SYSTEM, spec, rows), arrow_types)


def emit_page(page: SplitPage, arrow_types: ArrowTypes | None = None) -> Iterator[Any]:
    """emit() of a page already split."""
    if page.good:
        if arrow_types is None:
            yield page.good
        else:
            yield arrow_or_rows(page.good, arrow_types, flatten=False)
    if page.rejects:
        base = rejects_hints()
        hints = dlt.mark.make_hints(
            table_name="rejects",
            write_disposition="merge",
            primary_key="reject_id",
            merge_key=[],
            columns=base["columns"],
        )
        yield dlt.mark.with_hints(page.rejects, hints, create_table_variant=True)


def _valid(rows: list[Any]) -> list[dict[str, Any]]:
    """Transformers see their parent's page; reject rows (routed to `rejects`) carry
    `reject_id`."""
    return [row for row in rows if isinstance(row, dict) and "reject_id" not in row]


def primary_campaign_id(collection: Any) -> int | None:
    """CampaignId of the largest RevenuePercentage among an opportunity's expanded campaigns
    (ties: the smallest OptyCampaignId); None without a readable one. Rows that fail the
    checks are skipped here (the opportunity_campaigns table rejects them with a reason)."""
    items = collection.get("items") if isinstance(collection, dict) else collection
    ranked: list[tuple[float, int, int]] = []
    for row in items or []:
        if not isinstance(row, dict):
            continue
        try:
            share = float(row.get("RevenuePercentage") or 0.0)
            ranked.append((-share, int(row["OptyCampaignId"]), int(row["CampaignId"])))
        except (KeyError, TypeError, ValueError):
            continue
    return min(ranked)[2] if ranked else None


def offset_paginator(limit: int) -> OffsetPaginator:
    """Oracle's paging: `offset`/`limit`, more while the page says `hasMore` (no totals)."""
    return OffsetPaginator(
        limit=limit,
        offset_param="offset",
        limit_param="limit",
        total_path=None,
        has_more_path="hasMore",
    )


def _pages(client: RESTClient, path: str, params: dict[str, Any], limit: int) -> Iterator[list]:
    yield from client.paginate(
        path, params=params, paginator=offset_paginator(limit), data_selector="items"
    )


def checked(name: str) -> Callable[[Any], Iterator[Any]]:
    """A rest_api `yield_map` step: the record checked, to its table or to `rejects`."""

    def check(row: Any) -> Iterator[Any]:
        yield from emit(SPECS[name], [row])

    return check


def checked_lead(pending: dict[int, Any]) -> Callable[[Any], Iterator[Any]]:
    """The leads' `yield_map` step: the lead checked (to `leads` or `rejects`), its expanded
    LeadCampaigns collection taken off the row and parked in `pending` (by LeadId) for the
    `lead_campaigns` transformer. The memberships must not be yielded here: the leads'
    incremental runs after this step and would filter them by their own LastUpdateDate."""

    def check(row: Any) -> Iterator[Any]:
        lead = dict(row) if isinstance(row, dict) else row
        collection = lead.pop(LEAD_CHILD, None) if isinstance(lead, dict) else None
        page = split_page(SYSTEM, SPECS["leads"], [lead])
        if page.good:
            pending[page.good[0]["LeadId"]] = collection
        yield from emit_page(page)

    return check


# The lists declared for dlt's rest_api (table, endpoint, key): read with
# `q=LastUpdateDate >= '<incremental start>'` oldest first, except sales_methods (read in full).
CHANGED_LISTS = (
    ("leads", "/leads", "LeadId"),
    ("resources", "/resources", "PartyId"),
    ("activities", "/activities", "ActivityId"),
    ("campaigns", "/campaigns", "CampaignId"),
)


def lists_config(
    client: RESTClient, limit: int, lookback_seconds: float, lead_pending: dict[int, Any]
) -> RESTAPIConfig:
    """dlt's declarative rest_api config of the list endpoints, on `client`'s session (its
    retries, requests in flight and request counts, pipelines.http.make_client). Leads are
    read with `expand=LeadCampaigns`: their collections are parked in `lead_pending`
    (checked_lead) for the `lead_campaigns` transformer."""
    steps = {"leads": checked_lead(lead_pending)}
    expand = {"leads": {"expand": LEAD_CHILD}}
    changed: list[EndpointResource] = [
        {
            "name": name,
            "primary_key": key,
            "endpoint": {
                "path": path,
                "params": {
                    "q": "LastUpdateDate >= '{incremental.start_value}'",
                    "orderBy": f"LastUpdateDate:asc,{key}:asc",
                    **expand.get(name, {}),
                },
                "incremental": {
                    "cursor_path": "LastUpdateDate",
                    "initial_value": EPOCH,
                    "lag": lookback_seconds,
                    "on_cursor_value_missing": "include",
                    "convert": lambda moment: rfc3339(moment, "+00:00"),
                },
                "paginator": offset_paginator(limit),
            },
            "processing_steps": [{"yield_map": steps.get(name) or checked(name)}],
        }
        for name, path, key in CHANGED_LISTS
    ]
    methods: EndpointResource = {
        "name": "sales_methods",
        "primary_key": "SalesMethodId",
        "endpoint": {"path": "/salesMethods", "paginator": offset_paginator(limit)},
        "processing_steps": [{"yield_map": checked("sales_methods")}],
    }
    return {
        "client": rest_api_client(client),
        "resource_defaults": {
            "write_disposition": "merge",
            # read side by side with each other and the opportunities (one round trip each)
            "parallelized": True,
            "endpoint": {"params": {"onlyData": "true"}, "data_selector": "items"},
        },
        "resources": [*changed, methods],
    }


@dlt.source(name="oracle_cx", max_table_nesting=0)
def oracle_cx_source(
    base_url: str = dlt.config.value,
    username: str = dlt.secrets.value,
    password: str = dlt.secrets.value,
    page_size: int = MAX_PAGE_SIZE,
    request_timeout: float = 30.0,
    max_attempts: int = 6,
    rest_framework_version: int = 4,
    concurrent_requests: int = 8,
    lookback_seconds: float = 300.0,
) -> list[DltResource]:
    client = make_client(
        base_url.rstrip("/") + API_PATH,
        {"Accept": "application/json", "REST-Framework-Version": str(rest_framework_version)},
        system="oracle_cx",
        concurrency=concurrent_requests,  # Oracle documents no rate: only requests in flight
        timeout_seconds=request_timeout,
        max_attempts=max_attempts,
    )
    client.auth = HttpBasicAuth(username, password)
    limit = max(1, min(page_size, MAX_PAGE_SIZE))
    # Children of the opportunities of the current page, filled by `opportunities` before it
    # yields the page and consumed by the child transformers (keyed by (child, OptyId)).
    pending: dict[tuple[str, int], tuple[str, list[Any]]] = {}

    def endpoint_rows(path: str) -> list[Any]:
        """Every row of a child collection's own endpoint, page by page."""
        return [row for page in _pages(client, path, {"onlyData": "true"}, limit) for row in page]

    def child_endpoint(number: str, child: str) -> list[Any]:
        return endpoint_rows(f"/opportunities/{number}/child/{child}")

    # hand-written: its expanded children go to four transformers and a cut-short collection
    # is completed from its child endpoint, which rest_api's steps cannot express
    @dlt.resource(
        name="opportunities", primary_key="OptyId", write_disposition="merge", parallelized=True
    )
    def opportunities(
        updated=dlt.sources.incremental(  # noqa: B008
            "LastUpdateDate",
            initial_value=EPOCH,
            lag=lookback_seconds,
            on_cursor_value_missing="include",
        ),
    ) -> Iterator[Any]:
        params = {
            "q": f"LastUpdateDate >= '{rfc3339(updated.start_value, '+00:00')}'",
            "orderBy": "LastUpdateDate:asc,OptyId:asc",
            "onlyData": "true",
            "expand": ",".join(OPTY_CHILDREN),
        }
        for page in _pages(client, "/opportunities", params, limit):
            rows = []
            for item in page:
                if not isinstance(item, dict):
                    rows.append(item)
                    continue
                row = dict(item)
                campaigns = row.get("OpportunityCampaigns")
                if not isinstance(campaigns, dict) or campaigns.get("hasMore"):
                    # cut short or missing: read the whole child now (kept for the child table)
                    found = child_endpoint(str(row.get("OptyNumber")), "OpportunityCampaigns")
                    campaigns = row["OpportunityCampaigns"] = {"items": found, "hasMore": False}
                row["primary_campaign_id"] = primary_campaign_id(campaigns)
                for child in OPTY_CHILDREN:
                    collection = row.pop(child, None)
                    if isinstance(row.get("OptyId"), int):
                        pending[(child, row["OptyId"])] = (str(row.get("OptyNumber")), collection)
                rows.append(row)
            yield from emit(SPECS["opportunities"], rows)

    def child_rows(child: str, opportunity: dict[str, Any]) -> list[Any]:
        """The expanded child collection of an opportunity of the current page, completed from
        /opportunities/{OptyNumber}/child/<child> when it was cut short (hasMore) or missing."""
        number, collection = pending.pop(
            (child, opportunity["OptyId"]), (str(opportunity.get("OptyNumber")), None)
        )
        if isinstance(collection, dict) and not collection.get("hasMore"):
            return list(collection.get("items") or [])
        return child_endpoint(number, child)

    def opportunity_child(child: str, key: str) -> DltResource:
        name = OPTY_CHILDREN[child]
        snake = name == "stage_snapshots"

        @dlt.transformer(
            data_from=opportunities,
            name=name,
            # stage snapshots load as Arrow tables with snake_case columns
            primary_key=snake_case(key) if snake else key,
            merge_key="opty_id" if snake else "OptyId",
            write_disposition="merge",
        )
        def transformer(opportunity_page: list[Any]) -> Iterator[Any]:
            rows: list[Any] = []
            valid = _valid(opportunity_page)
            children = fetch_each(lambda o: child_rows(child, o), valid, concurrent_requests)
            for opportunity, found in zip(valid, children, strict=True):
                for row in found:
                    if isinstance(row, dict):
                        row = {**row, "OptyId": row.get("OptyId", opportunity["OptyId"])}
                    rows.append(row)
            if snake:
                rows = [{snake_case(k): v for k, v in r.items()} for r in rows]
                yield from emit(SPECS[name], rows, SNAPSHOT_TYPES)
            else:
                yield from emit(SPECS[name], rows)

        return transformer

    # LeadCampaigns collections of the leads read, parked by the leads' yield_map (by LeadId)
    lead_pending: dict[int, Any] = {}
    config = lists_config(client, limit, lookback_seconds, lead_pending)
    lists = {r.name: r for r in rest_api_resources(config)}

    def lead_members(lead: dict[str, Any]) -> list[Any]:
        """A lead's expanded LeadCampaigns, completed from /leads/{LeadId}/child/LeadCampaigns
        when cut short (hasMore) or missing."""
        collection = lead_pending.pop(lead["LeadId"], None)
        if isinstance(collection, dict) and not collection.get("hasMore"):
            return list(collection.get("items") or [])
        return endpoint_rows(f"/leads/{lead['LeadId']}/child/{LEAD_CHILD}")

    # the leads the incremental let through (a lead it filtered leaves its memberships as
    # they were stored); a re-read lead's memberships replace its stored ones (merge_key)
    @dlt.transformer(
        data_from=lists["leads"],
        name="lead_campaigns",
        primary_key="LeadCampaignId",
        merge_key="LeadId",
        write_disposition="merge",
    )
    def lead_campaigns(lead_page: list[Any]) -> Iterator[Any]:
        valid = _valid(lead_page)
        rows: list[Any] = []
        for lead, found in zip(
            valid, fetch_each(lead_members, valid, concurrent_requests), strict=True
        ):
            rows.extend(
                {**item, "LeadId": item.get("LeadId", lead["LeadId"])}
                if isinstance(item, dict)
                else item
                for item in found
            )
        yield from emit(SPECS["lead_campaigns"], rows)

    # rest_api's dependent resources would resolve the parents' reject rows too
    @dlt.transformer(
        data_from=lists["sales_methods"],
        name="sales_stages",
        primary_key="StgId",
        write_disposition="merge",
        parallelized=True,
    )
    def sales_stages(method_page: list[Any]) -> Iterator[Any]:
        rows: list[Any] = []
        for method in _valid(method_page):
            path = f"/salesMethods/{method['SalesMethodId']}/child/SalesStage"
            rows.extend(
                {**r, "SalesMethodId": r.get("SalesMethodId", method["SalesMethodId"])}
                for r in endpoint_rows(path)
                if isinstance(r, dict)
            )
        yield from emit(SPECS["sales_stages"], rows)

    return [
        opportunities,
        opportunity_child("ChildRevenue", "RevnId"),
        opportunity_child("opportunityStageSnapshots", "OptyStgSnapshotId"),
        opportunity_child("OpportunityLead", "OptyLeadId"),
        opportunity_child("OpportunityCampaigns", "OptyCampaignId"),
        *lists.values(),
        lead_campaigns,
        sales_stages,
    ]
