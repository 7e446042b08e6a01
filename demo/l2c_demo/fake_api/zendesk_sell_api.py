"""Zendesk Sell Core API v2 (`https://api.getbase.com/v2`) over a ZendeskSellView.

Served under /zendesk_sell/v2/...; what the loader relies on behaves like the real API:

- `Authorization: Bearer <token>`; errors as `{"errors": [{"error": {code, message, details},
  "meta": {"type": "error"}}], "meta": {"type": "errors", "http_status", "logref"}}`.
- Lists wrap every record: `{"items": [{"data": {...}, "meta": {"type": "deal"}}], "meta":
  {"type": "collection", "count": n, "links": {"self", "first_page", "prev_page",
  "next_page"}}}`; `next_page` is present only when more records follow.
- `page` (1-based) and `per_page` (1..100, default 25); `sort_by=<field>[:asc|:desc]`;
  `ids=1,2,3` and per-resource equality filters. There is no "updated since" filter.
- /v2/lead_conversions is sorted by id, newest first; `page` is accepted up to 50, further
  records are reached through the `cursor` that `next_page` carries.
- Unknown query parameters are refused (400), so a loader bug shows up as an error.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from l2c_demo.fake_api.responses import ApiError, Response, int_param
from l2c_demo.simulator import DemoCompany
from l2c_demo.simulator.views import Record

Patch = Callable[[str, list[Record]], list[Record]]

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 25
MAX_PAGE_CONVERSIONS = 50
PAGING = {"page", "per_page", "sort_by", "ids"}


@dataclass(frozen=True)
class ListSpec:
    attr: str  # ZendeskSellView attribute
    item_type: str  # meta.type of each item
    sort_keys: tuple[str, ...]
    filters: tuple[str, ...] = ()
    default_sort: str = "id"


LISTS: dict[str, ListSpec] = {
    "deals": ListSpec(
        "deals",
        "deal",
        ("id", "name", "value", "created_at", "updated_at", "last_stage_change_at"),
        ("stage_id", "owner_id", "contact_id", "organization_id", "creator_id", "hot"),
    ),
    "leads": ListSpec(
        "leads",
        "lead",
        ("id", "created_at", "updated_at", "last_name", "organization_name"),
        ("owner_id", "creator_id", "source_id", "status"),
    ),
    "lead_conversions": ListSpec(
        "lead_conversions",
        "lead_conversion",
        ("id",),
        ("lead_id", "deal_id", "individual_id", "organization_id"),
        default_sort="id:desc",
    ),
    "stages": ListSpec(
        "stages", "stage", ("id", "name", "position"), ("pipeline_id", "active", "name")
    ),
    "pipelines": ListSpec("pipelines", "pipeline", ("id", "name"), ("name", "disabled")),
    "loss_reasons": ListSpec("loss_reasons", "loss_reason", ("id", "name"), ("name",)),
    "deal_unqualified_reasons": ListSpec(
        "deal_unqualified_reasons", "deal_unqualified_reason", ("id", "name"), ("name",)
    ),
    "lead_sources": ListSpec("lead_sources", "source", ("id", "name"), ("name",)),
    "lead_unqualified_reasons": ListSpec(
        "lead_unqualified_reasons", "lead_unqualified_reason", ("id", "name"), ("name",)
    ),
    "orders": ListSpec("orders", "order", ("id", "created_at", "updated_at"), ("deal_id",)),
    "calls": ListSpec(
        "calls",
        "call",
        ("id", "made_at", "created_at", "updated_at"),
        ("resource_type", "resource_id", "user_id", "outcome_id"),
    ),
    "users": ListSpec(
        "users", "user", ("id", "name", "created_at", "updated_at"), ("status", "role", "email")
    ),
}
_LINE_ITEMS = re.compile(r"^/v2/orders/(\d+)/line_items/?$")
_ONE = re.compile(r"^/v2/(deals|leads|orders|users|stages|pipelines)/(\d+)/?$")
STATUS_TEXT = {
    400: "400 Bad Request",
    401: "401 Unauthorized",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    422: "422 Unprocessable Entity",
    429: "429 Too Many Requests",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}
ERROR_CODES = {
    400: "invalid_param",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    429: "rate_limit_exceeded",
}


def zendesk_error(status: int, message: str) -> Response:
    return Response(
        status,
        {
            "errors": [
                {
                    "error": {
                        "code": ERROR_CODES.get(status, "server_error"),
                        "message": message,
                        "details": message,
                    },
                    "meta": {"type": "error"},
                }
            ],
            "meta": {
                "type": "errors",
                "http_status": STATUS_TEXT.get(status, f"{status} Error"),
                "logref": str(uuid.uuid4()),
            },
        },
    )


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        prefix, value = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
        if prefix != "after":
            raise ValueError(prefix)
        return int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Invalid cursor: {cursor!r}") from exc


def _matches(value: Any, wanted: str) -> bool:
    if isinstance(value, bool):
        return str(value).lower() == wanted.lower()
    return str(value) == wanted


def _sort(rows: list[Record], spec: ListSpec, raw: str | None) -> list[Record]:
    field, _, direction = (raw or spec.default_sort).partition(":")
    direction = direction or "asc"
    if field not in spec.sort_keys or direction not in ("asc", "desc"):
        raise ApiError(400, f"Invalid sort_by: {raw!r}")
    return sorted(
        rows,
        key=lambda r: (r.get(field) is None, r.get(field) or "", r["id"]),
        reverse=direction == "desc",
    )


class ZendeskSellApi:
    system = "zendesk_sell"

    def __init__(self, token: str = "demo-zendesk-sell-token") -> None:
        self.token = token

    def authorized(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and value.strip() == self.token

    def error(self, status: int, message: str) -> Response:
        return zendesk_error(status, message)

    def source_env(self, base_url: str) -> dict[str, str]:
        return {
            "SOURCES__ZENDESK_SELL__BASE_URL": base_url,
            "SOURCES__ZENDESK_SELL__ACCESS_TOKEN": self.token,
        }

    def handle(
        self,
        company: DemoCompany,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        body: bytes,
        patch: Patch,
    ) -> Response:
        if method != "GET":
            raise ApiError(405, f"Method {method} not allowed")
        view = company.zendesk_sell_view()
        base = f"http://{headers.get('host', '127.0.0.1')}/{self.system}{path}"
        name = path.removeprefix("/v2/").rstrip("/")
        if name in LISTS:
            spec = LISTS[name]
            return self._list(getattr(view, spec.attr), spec, name, query, base, patch)
        match = _LINE_ITEMS.match(path)
        if match:
            order_id = int(match.group(1))
            if order_id not in view.line_items:
                raise ApiError(404, f"Order {order_id} not found")
            spec = ListSpec("line_items", "line_item", ("id", "created_at", "updated_at"))
            return self._list(view.line_items[order_id], spec, "line_items", query, base, patch)
        match = _ONE.match(path)
        if match:
            rows = [r for r in getattr(view, match.group(1)) if r["id"] == int(match.group(2))]
            if not rows:
                raise ApiError(404, f"{match.group(1)[:-1].title()} not found")
            item = patch(match.group(1), rows)[0]
            return Response(200, {"data": item, "meta": {"type": LISTS[match.group(1)].item_type}})
        raise ApiError(404, f"Unknown path {path}")

    def _list(
        self,
        rows: list[Record],
        spec: ListSpec,
        name: str,
        query: dict[str, str],
        base: str,
        patch: Patch,
    ) -> Response:
        allowed = PAGING | set(spec.filters) | ({"cursor"} if name == "lead_conversions" else set())
        unknown = sorted(set(query) - allowed)
        if unknown:
            raise ApiError(400, f"Unknown parameter(s): {', '.join(unknown)}")
        per_page = int_param(query, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
        if query.get("ids"):
            try:
                ids = {int(x) for x in query["ids"].split(",") if x.strip()}
            except ValueError as exc:
                raise ApiError(400, "ids must be comma-separated integers") from exc
            rows = [r for r in rows if r["id"] in ids]
        for key in spec.filters:
            if query.get(key):
                rows = [r for r in rows if _matches(r.get(key), query[key])]
        rows = _sort(rows, spec, query.get("sort_by"))
        if name == "lead_conversions" and query.get("cursor"):
            after = _decode_cursor(query["cursor"])
            desc = (query.get("sort_by") or spec.default_sort).endswith(":desc")
            rows = [r for r in rows if (r["id"] < after if desc else r["id"] > after)]
            page_no, start = 1, 0
        else:
            limit = MAX_PAGE_CONVERSIONS if name == "lead_conversions" else 10**9
            page_no = int_param(query, "page", 1, 1, limit)
            start = (page_no - 1) * per_page
        page = rows[start : start + per_page]
        more = start + per_page < len(rows)
        links = self._links(base, query, page_no, per_page, more, name, page)
        items = [{"data": row, "meta": {"type": spec.item_type}} for row in patch(name, page)]
        meta = {"type": "collection", "count": len(items), "links": links}
        return Response(200, {"items": items, "meta": meta})

    @staticmethod
    def _links(
        base: str,
        query: dict[str, str],
        page_no: int,
        per_page: int,
        more: bool,
        name: str,
        page: list[Record],
    ) -> dict[str, str]:
        keep = {k: v for k, v in query.items() if k not in ("page", "cursor")}
        keep["per_page"] = str(per_page)

        def url(**extra: Any) -> str:
            return f"{base}?{urlencode({**keep, **{k: str(v) for k, v in extra.items()}})}"

        if "cursor" in query:
            links = {"self": url(cursor=query["cursor"])}
        else:
            links = {"self": url(page=page_no)}
        links["first_page"] = url(page=1)
        if page_no > 1 and "cursor" not in query:
            links["prev_page"] = url(page=page_no - 1)
        if more:
            use_cursor = name == "lead_conversions" and (
                "cursor" in query or page_no >= MAX_PAGE_CONVERSIONS
            )
            if use_cursor:
                links["next_page"] = url(cursor=_encode_cursor(page[-1]["id"]))
            else:
                links["next_page"] = url(page=page_no + 1)
        return links
