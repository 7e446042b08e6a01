"""Oracle CX Sales (Fusion Sales REST, `crmRestApi/resources/11.13.18.05`) over an OracleCxView.

Served under `/oracle_cx` by the fake server. What it implements of the real framework:

- Basic auth (user/password) on every request; 401 with `WWW-Authenticate` otherwise.
- Collections `opportunities`, `leads`, `resources`, `salesMethods`, `activities`,
  `campaigns`; items by
  their REST key (`opportunities/{OptyNumber}`, `leads/{LeadId}`, `resources/{PartyId}`,
  `activities/{ActivityId}`, `salesMethods/{SalesMethodId}`); children
  `opportunities/{OptyNumber}/child/{ChildRevenue | opportunityStageSnapshots |
  OpportunityLead | OpportunityCampaigns}`, `leads/{LeadId}/child/LeadCampaigns` and
  `salesMethods/{id}/child/SalesStage`.
- Collection envelope `{items, count, hasMore, limit, offset, links}` (+ `totalResults` with
  `totalResults=true`); paging with `limit` (default 25, at most 500) and `offset`.
- `q` filters: with `REST-Framework-Version` 2 or later, `Attr <op> value` clauses joined by
  `and` (ops = != <> > >= < <=; values 'quoted text', numbers, true/false, null); with the
  default version 1, query-by-example `Attr<op>value;Attr<op>value`. `or`, parentheses,
  `like`/`between` and unknown attributes answer 400.
- `orderBy=Attr:asc,Attr2:desc`, `onlyData=true` (drops the `links` of items), `expand=`
  (`all` or child names): expanded children are inlined as collections of at most
  `expand_limit` items with their own `hasMore`, so a client must page the child endpoint
  when `hasMore` is true.
- Errors in the framework-version-4 shape: `{type, title, status, o:errorDetails: [{detail,
  o:errorCode}]}` (error codes are plausible URNs, not Oracle's real numbers).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from l2c_demo.fake_api.memo import ViewMemo
from l2c_demo.fake_api.protocols import Patcher
from l2c_demo.fake_api.responses import ApiError, Response, int_param
from l2c_demo.simulator import DemoCompany
from l2c_demo.simulator.clock import parse_rfc3339
from l2c_demo.simulator.render_oracle_cx import OracleCxView, ts
from l2c_demo.simulator.views import Record

SYSTEM = "oracle_cx"
BASE = "/crmRestApi/resources/11.13.18.05"
DEMO_USERNAME = "l2c.integration"
DEMO_PASSWORD = "demo-oracle-password"

# REST collection -> (patch resource name, key attribute)
COLLECTIONS: dict[str, tuple[str, str]] = {
    "opportunities": ("opportunities", "OptyId"),
    "leads": ("leads", "LeadId"),
    "resources": ("resources", "PartyId"),
    "salesMethods": ("sales_methods", "SalesMethodId"),
    "activities": ("activities", "ActivityId"),
    "campaigns": ("campaigns", "CampaignId"),
}
# parent collection -> child name -> (patch resource name, key attribute)
CHILDREN: dict[str, dict[str, tuple[str, str]]] = {
    "opportunities": {
        "ChildRevenue": ("revenue_items", "RevnId"),
        "opportunityStageSnapshots": ("stage_snapshots", "OptyStgSnapshotId"),
        "OpportunityLead": ("opportunity_leads", "OptyLeadId"),
        "OpportunityCampaigns": ("opportunity_campaigns", "OptyCampaignId"),
    },
    "salesMethods": {"SalesStage": ("sales_stages", "StgId")},
    "leads": {"LeadCampaigns": ("lead_campaigns", "LeadCampaignId")},
}
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_CLAUSE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|<>|=|>|<)\s*(.+?)\s*$", re.DOTALL)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_QUOTED = re.compile(r"^'(?:[^']|'')*'$")


# ---- q filters ------------------------------------------------------------------------------
def _split_outside_quotes(text: str, separator: re.Pattern[str]) -> list[str]:
    parts, start, quoted, i = [], 0, False, 0
    while i < len(text):
        if text[i] == "'":
            quoted = not quoted
        elif not quoted:
            match = separator.match(text, i)
            if match:
                parts.append(text[start:i])
                start = i = match.end()
                continue
        i += 1
    if quoted:
        raise ApiError(400, f"Unbalanced quote in q: {text}")
    parts.append(text[start:])
    return parts


def _literal(raw: str, quoted_required: bool) -> Any:
    """The value of a q literal: text, number, boolean or None (null)."""
    if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
        value: Any = raw[1:-1].replace("''", "'")
        if _DATETIME.match(value):
            try:
                value = ts(parse_rfc3339(value))
            except ValueError as exc:
                raise ApiError(400, f"Invalid timestamp literal in q: {raw}") from exc
        return value
    lowered = raw.lower()
    if lowered == "null":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if _NUMBER.match(raw):
        return float(raw) if "." in raw else int(raw)
    if quoted_required:
        raise ApiError(400, f"Text values in q must be quoted: {raw}")
    return _literal(f"'{raw}'", True)


Clause = tuple[str, str, Any]


def parse_q(q: str, framework_version: int, attributes: set[str]) -> list[Clause]:
    """Parse a `q` expression into (attribute, operator, value) clauses (all must hold)."""
    if framework_version >= 2:
        if len(_split_outside_quotes(q, re.compile(r"\s+or\s+", re.IGNORECASE))) > 1:
            raise ApiError(400, f"Only 'and' conjunctions are supported in q: {q}")
        raw_clauses = _split_outside_quotes(q, re.compile(r"\s+and\s+", re.IGNORECASE))
    else:
        raw_clauses = _split_outside_quotes(q, re.compile(r";"))
    clauses: list[Clause] = []
    for raw in raw_clauses:
        if not raw.strip():
            continue
        match = _CLAUSE.match(raw)
        if not match or "(" in raw.split("'")[0]:
            raise ApiError(400, f"The q expression is not valid: {raw.strip()}")
        attr, op, value_text = match.groups()
        if value_text.startswith("'") and not _QUOTED.match(value_text):
            raise ApiError(400, f"The q expression is not valid: {raw.strip()}")
        if re.match(r"^(like|between|in)\b", value_text, re.IGNORECASE):
            raise ApiError(400, f"Unsupported q operator: {raw.strip()}")
        if attributes and attr not in attributes:
            raise ApiError(400, f"The attribute {attr} in q is not found in this resource")
        clauses.append((attr, op, _literal(value_text, framework_version >= 2)))
    return clauses


def _compare(left: Any, op: str, right: Any) -> bool:
    if right is None or left is None:
        if op == "=":
            return left is None and right is None
        if op in ("!=", "<>"):
            return (left is None) != (right is None)
        return False
    if isinstance(left, bool) or isinstance(right, bool):
        left, right = str(left).lower(), str(right).lower()
    elif isinstance(left, int | float) and isinstance(right, str):
        return False
    elif isinstance(left, str) and not isinstance(right, str):
        right = str(right)
    if op == "=":
        return bool(left == right)
    if op in ("!=", "<>"):
        return bool(left != right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    return bool(left <= right)


def apply_q(rows: list[Record], clauses: list[Clause]) -> list[Record]:
    for attr, op, value in clauses:
        rows = [r for r in rows if _compare(r.get(attr), op, value)]
    return rows


# ---- ordering and paging ----------------------------------------------------------------------
def parse_order(order_by: str, attributes: set[str]) -> list[tuple[str, bool]]:
    keys: list[tuple[str, bool]] = []
    for part in order_by.split(","):
        name, _, direction = part.strip().partition(":")
        direction = (direction or "asc").lower()
        if attributes and name not in attributes:
            raise ApiError(400, f"The attribute {name} in orderBy is not found in this resource")
        if direction not in ("asc", "desc"):
            raise ApiError(400, f"Invalid orderBy direction: {part}")
        keys.append((name, direction == "desc"))
    return keys


def _sort(rows: list[Record], keys: list[tuple[str, bool]]) -> list[Record]:
    out = list(rows)
    for name, desc in reversed(keys):  # stable sorts, last key first; nulls last
        present = [r for r in out if r.get(name) is not None]
        missing = [r for r in out if r.get(name) is None]
        out = sorted(present, key=lambda r, n=name: r[n], reverse=desc) + missing
    return out


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").strip().lower() == "true"


class OracleCxApi:
    """The SystemApi of Oracle CX Sales (see l2c_demo.fake_api.systems)."""

    system = SYSTEM

    def __init__(self) -> None:
        self.username = DEMO_USERNAME
        self.password = DEMO_PASSWORD
        self.default_limit = 25
        self.max_limit = 500
        self.expand_limit = 25  # items of an expanded child collection (then hasMore)
        # sorted copies of a view's lists, reused while the view stays current
        self._sorts: ViewMemo[list[Record]] = ViewMemo()

    # ---- SystemApi ----------------------------------------------------------------------------
    def authorized(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == self.username and password == self.password

    def error(self, status: int, message: str) -> Response:
        family = "4" if status < 500 else "5"
        slug = re.sub(r"[^a-z]+", "-", TITLES.get(status, "error").lower()).strip("-")
        side = "client" if status < 500 else "server"
        resp = Response(
            status,
            {
                "type": f"http://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.{family}",
                "title": TITLES.get(status, "Error"),
                "status": str(status),
                "o:errorDetails": [
                    {"detail": message, "o:errorCode": f"urn:oracle:cloud:{side}:error:{slug}"}
                ],
            },
        )
        if status == 401:
            resp.headers["WWW-Authenticate"] = 'Basic realm="oracle_cx"'
        return resp

    def source_env(self, base_url: str) -> dict[str, str]:
        return {
            "SOURCES__ORACLE_CX__BASE_URL": base_url,
            "SOURCES__ORACLE_CX__USERNAME": self.username,
            "SOURCES__ORACLE_CX__PASSWORD": self.password,
        }

    def handle(
        self,
        company: DemoCompany,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        body: bytes,
        patch: Patcher,
    ) -> Response:
        if method != "GET":
            raise ApiError(405, f"Method {method} is not allowed on {path}")
        if not path.startswith(BASE + "/"):
            raise ApiError(404, f"Unknown resource path {path}")
        parts = [p for p in path[len(BASE) + 1 :].split("/") if p]
        if not parts or parts[0] not in COLLECTIONS:
            raise ApiError(404, f"Unknown resource path {path}")
        view = company.oracle_cx_view()
        request = _Request(self, view, query, headers, patch)
        name = parts[0]
        if len(parts) == 1:
            return request.collection(name)
        parent = request.find(name, parts[1])
        if len(parts) == 2:
            return request.item(name, parent)
        if len(parts) in (4, 5) and parts[2] == "child" and parts[3] in CHILDREN.get(name, {}):
            rows = request.children(name, parent, parts[3])
            if len(parts) == 4:
                return request.child_collection(name, parent, parts[3], rows)
            return request.child_item(name, parts[3], rows, parts[4])
        raise ApiError(404, f"Unknown resource path {path}")


class _Request:
    """One request's view of the data and its query options."""

    def __init__(
        self,
        api: OracleCxApi,
        view: OracleCxView,
        query: dict[str, str],
        headers: Mapping[str, str],
        patch: Patcher,
    ) -> None:
        self.api = api
        self.view = view
        self.query = query
        self.patch = patch
        self.only_data = _flag(query, "onlyData")
        host = headers.get("host", "127.0.0.1")
        self.href = f"http://{host}/{SYSTEM}{BASE}"
        raw_version = headers.get("rest-framework-version", "1").strip() or "1"
        if not raw_version.isdigit() or not 1 <= int(raw_version) <= 9:
            raise ApiError(400, f"Unsupported REST-Framework-Version: {raw_version}")
        self.framework_version = int(raw_version)

    # ---- data ---------------------------------------------------------------------------------
    def rows(self, name: str) -> list[Record]:
        attr = {"salesMethods": "sales_methods"}.get(name, name)
        rows: list[Record] = getattr(self.view, attr)
        return rows

    def find(self, name: str, ident: str) -> Record:
        key = "OptyNumber" if name == "opportunities" else COLLECTIONS[name][1]
        for row in self.rows(name):
            if str(row.get(key)) == ident:
                return row
        raise ApiError(404, f"The requested resource {name}/{ident} was not found")

    def children(self, name: str, parent: Record, child: str) -> list[Record]:
        if name == "opportunities":
            opty = parent["OptyId"]
            by_child = {
                "ChildRevenue": self.view.revenue_items,
                "opportunityStageSnapshots": self.view.stage_snapshots,
                "OpportunityLead": self.view.opportunity_leads,
                "OpportunityCampaigns": self.view.opportunity_campaigns,
            }
            return by_child[child].get(opty, [])
        if name == "leads":
            return self.view.lead_campaigns.get(parent["LeadId"], [])
        method_id = parent["SalesMethodId"]
        return [s for s in self.view.sales_stages if s["SalesMethodId"] == method_id]

    # ---- shaping ------------------------------------------------------------------------------
    def _item_links(self, name: str, row: Record) -> list[Record]:
        key = "OptyNumber" if name == "opportunities" else COLLECTIONS[name][1]
        href = f"{self.href}/{name}/{row.get(key)}"
        links = [{"rel": "self", "href": href, "name": name, "kind": "item"}]
        for child in CHILDREN.get(name, {}):
            links.append(
                {
                    "rel": "child",
                    "href": f"{href}/child/{child}",
                    "name": child,
                    "kind": "collection",
                }
            )
        return links

    def _expand_names(self, name: str) -> list[str]:
        raw = self.query.get("expand", "").strip()
        if not raw:
            return []
        known = CHILDREN.get(name, {})
        if raw.lower() == "all":
            return list(known)
        names = [n.strip() for n in raw.split(",") if n.strip()]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ApiError(400, f"The child resource {unknown[0]} in expand is not found in {name}")
        return names

    def _shape(self, name: str, rows: list[Record]) -> list[Record]:
        resource, key = COLLECTIONS[name]
        page = self.patch(resource, rows, key)
        expand = self._expand_names(name)
        out = []
        for row in page:
            item = dict(row)
            for child in expand:
                items = self.children(name, row, child)
                shown = items[: self.api.expand_limit]
                child_resource, child_key = CHILDREN[name][child]
                item[child] = {
                    "items": self.patch(child_resource, shown, child_key),
                    "count": len(shown),
                    "hasMore": len(items) > len(shown),
                    "limit": self.api.expand_limit,
                    "offset": 0,
                }
            if not self.only_data:
                item["links"] = self._item_links(name, row)
            out.append(item)
        return out

    def _page(self, rows: list[Record], href: str, name: str) -> tuple[list[Record], dict]:
        limit = int_param(self.query, "limit", self.api.default_limit, 1, self.api.max_limit)
        offset = int_param(self.query, "offset", 0, 0, 10**9)
        page = rows[offset : offset + limit]
        envelope: dict[str, Any] = {
            "count": len(page),
            "hasMore": offset + limit < len(rows),
            "limit": limit,
            "offset": offset,
            "links": [{"rel": "self", "href": href, "name": name, "kind": "collection"}],
        }
        if _flag(self.query, "totalResults"):
            envelope["totalResults"] = len(rows)
        return page, envelope

    def _filtered(self, rows: list[Record], default_key: str) -> list[Record]:
        # an empty collection has no attributes to check q / orderBy against
        attributes: set[str] = set().union(*(r.keys() for r in rows[:50])) if rows else set()
        order = self.query.get("orderBy", "").strip()
        keys = parse_order(order, attributes) if order else [(default_key, False)]
        rows = self.api._sorts.derive((id(rows), tuple(keys)), rows, lambda: _sort(rows, keys))
        q = self.query.get("q", "").strip()
        if q:
            rows = apply_q(rows, parse_q(q, self.framework_version, attributes))
        return rows

    # ---- endpoints ----------------------------------------------------------------------------
    def collection(self, name: str) -> Response:
        rows = self._filtered(self.rows(name), COLLECTIONS[name][1])
        page, envelope = self._page(rows, f"{self.href}/{name}", name)
        return Response(200, {"items": self._shape(name, page), **envelope})

    def item(self, name: str, row: Record) -> Response:
        return Response(200, self._shape(name, [row])[0])

    def child_collection(
        self, name: str, parent: Record, child: str, rows: list[Record]
    ) -> Response:
        resource, key = CHILDREN[name][child]
        rows = self._filtered(rows, key)
        parent_key = (
            parent["OptyNumber"]
            if name == "opportunities"
            else parent["LeadId"]
            if name == "leads"
            else parent["SalesMethodId"]
        )
        href = f"{self.href}/{name}/{parent_key}/child/{child}"
        page, envelope = self._page(rows, href, child)
        items = self.patch(resource, page, key)
        if not self.only_data:
            items = [
                {**r, "links": [{"rel": "self", "href": f"{href}/{r[key]}", "kind": "item"}]}
                for r in items
            ]
        return Response(200, {"items": items, **envelope})

    def child_item(self, name: str, child: str, rows: list[Record], ident: str) -> Response:
        resource, key = CHILDREN[name][child]
        for row in rows:
            if str(row.get(key)) == ident:
                return Response(200, self.patch(resource, [row], key)[0])
        raise ApiError(404, f"The requested resource {child}/{ident} was not found")
