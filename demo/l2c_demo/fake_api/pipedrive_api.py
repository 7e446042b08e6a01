"""Pipedrive v1/v2 endpoints over a PipedriveView."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from l2c_demo.fake_api.memo import ViewMemo
from l2c_demo.fake_api.responses import ApiError, Response, decode_cursor, encode_cursor, int_param
from l2c_demo.simulator.clock import parse_rfc3339, v2
from l2c_demo.simulator.views import PipedriveView, Record

Patch = Callable[[str, list[Record]], list[Record]]

V2_LISTS = {
    "deals": "deals",
    "stages": "stages",
    "pipelines": "pipelines",
    "persons": "persons",
    "organizations": "organizations",
    "products": "products",
    "activities": "activities",
}
UPDATED_SINCE = {"deals", "persons", "organizations", "products", "activities"}
SORT_KEYS = ("id", "update_time", "add_time")
_DEAL_SUB = re.compile(r"^/api/v2/deals/(\d+)(/discounts)?$")
_FLOW = re.compile(r"^/v1/deals/(\d+)/flow$")


class SortCache:
    """Sorted copies of a view's lists, reused while the view stays current."""

    def __init__(self) -> None:
        self._memo: ViewMemo[list[Record]] = ViewMemo()

    def sorted(self, rows: list[Record], key: str, desc: bool) -> list[Record]:
        if key == "id" and not desc:
            return rows if _ids_ascending(rows) else sorted(rows, key=lambda r: r["id"])
        return self._memo.derive(
            (id(rows), key, desc),
            rows,
            lambda: sorted(rows, key=lambda r: (r[key] or "", r["id"]), reverse=desc),
        )


def _ids_ascending(rows: list[Record]) -> bool:
    return all(a["id"] < b["id"] for a, b in pairwise(rows))


def _v2_page(rows: list[Record], query: dict[str, str]) -> tuple[list[Record], str | None]:
    limit = int_param(query, "limit", 100, 1, 500)
    offset = decode_cursor(query["cursor"]) if query.get("cursor") else 0
    page = rows[offset : offset + limit]
    more = offset + limit < len(rows)
    return page, encode_cursor(offset + limit) if more else None


def _v2_ok(page: list[Record], next_cursor: str | None) -> Response:
    return Response(
        200, {"success": True, "data": page, "additional_data": {"next_cursor": next_cursor}}
    )


class PageCache:
    """The filtered list a cursor pagination walks, kept from its first page for the pages
    that follow (requests with a `cursor`), as a real API keeps a cursor's result set: the
    filter scans the whole list, once per page otherwise. A first page (no cursor) always
    filters afresh, so a view changed in place between loads is seen by the next load."""

    def __init__(self) -> None:
        self._memo: ViewMemo[list[Record]] = ViewMemo()

    def filtered(
        self,
        key: tuple[Any, ...],
        rows: list[Record],
        continuing: bool,
        compute: Callable[[], list[Record]],
    ) -> list[Record]:
        hit = self._memo.get(key, rows) if continuing else None
        return hit if hit is not None else self._memo.put(key, rows, compute())


class DealIndex:
    """Deals and their line items by deal id, for the view they were built from (a new as_of
    is a new view; a view whose lists grew or shrank, as tests make them, is indexed again).
    Per-deal endpoints would otherwise scan every deal on every request: quadratic in the size
    of the company."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int, int] | None = None
        self._view: PipedriveView | None = None
        self._deals: dict[int, Record] = {}
        self._products: dict[int, list[Record]] = {}

    def _current(self, view: PipedriveView) -> tuple[dict[int, Record], dict[int, list[Record]]]:
        key = (id(view), len(view.deals), len(view.deal_products))
        with self._lock:
            if self._view is not view or self._key != key:
                products: dict[int, list[Record]] = {}
                for row in view.deal_products:
                    products.setdefault(row["deal_id"], []).append(row)
                self._deals = {d["id"]: d for d in view.deals}
                self._products = products
                self._view, self._key = view, key
            return self._deals, self._products

    def deal(self, view: PipedriveView, deal_id: int) -> Record | None:
        return self._current(view)[0].get(deal_id)

    def products(self, view: PipedriveView, deal_ids: set[int]) -> list[Record]:
        by_deal = self._current(view)[1]
        return [row for deal_id in deal_ids for row in by_deal.get(deal_id, [])]


class PipedriveApi:
    def __init__(self) -> None:
        self.sorts = SortCache()
        self.index = DealIndex()
        self.pages = PageCache()

    def handle(
        self, view: PipedriveView, path: str, query: dict[str, str], patch: Patch
    ) -> Response:
        if path.startswith("/api/v2/"):
            return self._v2(view, path, query, patch)
        if path.startswith("/v1/"):
            return self._v1(view, path, query, patch)
        raise ApiError(404, f"Unknown path {path}")

    # ---- v2 ---------------------------------------------------------------
    def _v2(self, view: PipedriveView, path: str, query: dict[str, str], patch: Patch) -> Response:
        name = path[len("/api/v2/") :].rstrip("/")
        if name == "deals/products":
            return self._deal_products(view, query, patch)
        if name in V2_LISTS:
            return self._v2_list(view, name, query, patch)
        match = _DEAL_SUB.match(path)
        if match:
            deal_id = int(match.group(1))
            deal = self.index.deal(view, deal_id)
            if deal is None:
                raise ApiError(404, "Deal not found")
            if match.group(2):
                rows = patch("deal_discounts", view.deal_discounts.get(deal_id, []))
                return Response(200, {"success": True, "data": rows})
            return Response(200, {"success": True, "data": patch("deals", [deal])[0]})
        raise ApiError(404, f"Unknown path {path}")

    def _v2_list(
        self, view: PipedriveView, name: str, query: dict[str, str], patch: Patch
    ) -> Response:
        rows: list[Record] = getattr(view, V2_LISTS[name])
        sort_by = query.get("sort_by", "id")
        direction = query.get("sort_direction", "asc")
        if sort_by not in SORT_KEYS:
            raise ApiError(400, f"Invalid sort_by: {sort_by}")
        if direction not in ("asc", "desc"):
            raise ApiError(400, f"Invalid sort_direction: {direction}")
        rows = self.sorts.sorted(rows, sort_by, direction == "desc")
        since = query.get("updated_since")
        if since and name in UPDATED_SINCE:
            try:
                bound = v2(parse_rfc3339(since))
            except ValueError as exc:
                raise ApiError(400, f"Invalid updated_since: {since}") from exc
            # a filter, not a bisect of the cached sort: tests change records in place
            cache_key = (name, sort_by, direction, bound)
            rows = self.pages.filtered(
                cache_key,
                rows,
                bool(query.get("cursor")),
                lambda rows=rows: [r for r in rows if r["update_time"] >= bound],
            )
        if name == "deals" and query.get("status"):
            wanted = set(query["status"].split(","))
            if "all_not_deleted" not in wanted:
                rows = [r for r in rows if r["status"] in wanted]
        for key in ("owner_id", "pipeline_id", "stage_id", "org_id", "person_id", "deal_id"):
            if query.get(key) and rows and key in rows[0]:
                wanted_id = int(query[key])
                rows = [r for r in rows if r.get(key) == wanted_id]
        page, cursor = _v2_page(rows, query)
        return _v2_ok(patch(name, page), cursor)

    def _deal_products(self, view: PipedriveView, query: dict[str, str], patch: Patch) -> Response:
        raw = query.get("deal_ids", "")
        try:
            ids = {int(x) for x in raw.split(",") if x.strip()}
        except ValueError as exc:
            raise ApiError(400, "deal_ids must be integers") from exc
        if not ids:
            raise ApiError(400, "deal_ids is required")
        if len(ids) > 100:
            raise ApiError(400, "deal_ids accepts at most 100 ids")
        sort_by = query.get("sort_by", "id")
        if sort_by not in ("id", "deal_id", "add_time", "update_time"):
            raise ApiError(400, f"Invalid sort_by: {sort_by}")
        desc = query.get("sort_direction", "asc") == "desc"
        rows = self.index.products(view, ids)
        rows.sort(key=lambda r: (r[sort_by], r["id"]), reverse=desc)
        page, cursor = _v2_page(rows, query)
        return _v2_ok(patch("deal_products", page), cursor)

    # ---- v1 ---------------------------------------------------------------
    def _v1(self, view: PipedriveView, path: str, query: dict[str, str], patch: Patch) -> Response:
        name = path[len("/v1/") :].rstrip("/")
        if name == "users":
            return Response(200, {"success": True, "data": patch("users", view.users)})
        if name == "legacyTeams":
            teams = patch("legacy_teams", view.legacy_teams)
            return Response(200, {"success": True, "data": teams})
        if name == "dealFields":
            return _v1_page(patch, "deal_fields", view.deal_fields, query)
        if name == "productFields":
            return _v1_page(patch, "product_fields", view.product_fields, query)
        if name == "leads":
            status = query.get("archived_status", "not_archived")
            if status not in ("archived", "not_archived", "all"):
                raise ApiError(400, f"Invalid archived_status: {status}")
            rows = view.leads
            if status != "all":
                rows = [r for r in rows if r["is_archived"] == (status == "archived")]
            return _v1_page(patch, "leads", rows, query)
        match = _FLOW.match(path)
        if match:
            deal_id = int(match.group(1))
            if deal_id not in view.flows:
                raise ApiError(404, "Deal not found")
            rows = view.flows[deal_id]
            items = query.get("items")
            if items and "dealChange" not in items.split(","):
                rows = []
            return _v1_page(patch, "flows", rows, query)
        raise ApiError(404, f"Unknown path {path}")


def _v1_page(patch: Patch, name: str, rows: list[Record], query: dict[str, str]) -> Response:
    start = int_param(query, "start", 0, 0, 10**9)
    limit = int_param(query, "limit", 100, 1, 500)
    page = rows[start : start + limit]
    more = start + limit < len(rows)
    pagination: dict[str, Any] = {
        "start": start,
        "limit": limit,
        "more_items_in_collection": more,
    }
    if more:
        pagination["next_start"] = start + limit
    return Response(
        200,
        {
            "success": True,
            "data": patch(name, page) if page else None,
            "additional_data": {"pagination": pagination},
        },
    )
