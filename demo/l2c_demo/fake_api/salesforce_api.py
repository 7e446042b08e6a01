"""The Salesforce REST API over a SalesforceView (served under /salesforce).

- `POST /services/oauth2/token` (OAuth 2.0 client credentials: grant_type, client_id,
  client_secret as a form body) answers `access_token`, `instance_url`, `token_type` ...;
  every other call needs `Authorization: Bearer <access_token>` (401 INVALID_SESSION_ID).
- `GET /services/data/vXX.X/query?q=<SOQL>` answers `{totalSize, done, nextRecordsUrl?,
  records}`; batches of 2000 by default, smaller with the `Sforce-Query-Options: batchSize=N`
  header (real Salesforce accepts 200..2000; this server allows 1..2000 so tests page with
  little data). `nextRecordsUrl` = `/services/data/vXX.X/query/<locator>-<offset>`, a cursor
  over the result as of the first request, like a Salesforce query locator. `queryAll` behaves
  like `query` (the demo org deletes nothing).
- Bulk API 2.0 query jobs (`/services/data/vXX.X/jobs/query`, CSV results paged by locator)
  and `/limits/recordCount`: see salesforce_bulk.py.
- `GET /services/data/vXX.X/sobjects` lists the org's objects (CPQ ones only in a CPQ org).
- `GET /services/data/vXX.X/ui-api/object-info/Opportunity/picklist-values/<RecordTypeId>/
  StageName` gives a sales process's stages.
Errors use Salesforce's shape `[{"message": ..., "errorCode": ...}]`.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from l2c_demo.fake_api.responses import Response
from l2c_demo.fake_api.salesforce_bulk import BulkQueries
from l2c_demo.fake_api.soql import OrderItem, Query, SoqlError, matches, parse
from l2c_demo.simulator import DemoCompany
from l2c_demo.simulator.render_salesforce import (
    INTEGRATION_USER,
    MASTER_RECORD_TYPE,
    ORG_STAGES,
    SalesforceView,
    picklist_value,
)
from l2c_demo.simulator.views import Record

Patcher = Callable[[str, list[Record]], list[Record]]

MAX_BATCH = 2000
MIN_VERSION, MAX_VERSION = 31.0, 66.0
MAX_CURSORS = 512
ORG_ID = "00D000000000001AAA"
ERROR_CODES = {
    400: "MALFORMED_QUERY",
    401: "INVALID_SESSION_ID",
    403: "REQUEST_LIMIT_EXCEEDED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "UNKNOWN_EXCEPTION",
    503: "SERVER_UNAVAILABLE",
}
# lookup relationship name -> (lookup field, target object)
RELATIONSHIPS: dict[str, tuple[str, str]] = {
    "Opportunity": ("OpportunityId", "Opportunity"),
    "Account": ("AccountId", "Account"),
    "Owner": ("OwnerId", "User"),
    "CreatedBy": ("CreatedById", "User"),
    "RecordType": ("RecordTypeId", "RecordType"),
    "Product2": ("Product2Id", "Product2"),
    "Quote": ("QuoteId", "Quote"),
    "Contact": ("ContactId", "Contact"),
    "ProcessInstance": ("ProcessInstanceId", "ProcessInstance"),
}
# parent object -> child relationship name -> (child object, lookup field on the child)
CHILDREN: dict[str, dict[str, tuple[str, str]]] = {
    "Opportunity": {
        "OpportunityHistories": ("OpportunityHistory", "OpportunityId"),
        "OpportunityLineItems": ("OpportunityLineItem", "OpportunityId"),
        "Histories": ("OpportunityFieldHistory", "OpportunityId"),
        "Quotes": ("Quote", "OpportunityId"),
    },
    "Quote": {"QuoteLineItems": ("QuoteLineItem", "QuoteId")},
}
_DATA = re.compile(r"^/services/data/v(\d+\.\d)(/.*)?$")
_MORE = re.compile(r"^/(query|queryAll)/([A-Za-z0-9]+)-(\d+)$")
_PICKLIST = re.compile(
    r"^/ui-api/object-info/([A-Za-z0-9_]+)/picklist-values/([A-Za-z0-9]+)/(\w+)$"
)


class SalesforceError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def sf_error(status: int, code: str, message: str) -> Response:
    return Response(status, [{"message": message, "errorCode": code}])


class _Index:
    """Per-view lookups: every record by Id, and children by (object, lookup field, parent)."""

    def __init__(self, view: SalesforceView) -> None:
        self.by_id: dict[str, Record] = {}
        for rows in view.objects.values():
            for row in rows:
                self.by_id[row["Id"]] = row
        self._children: dict[tuple[str, str], dict[str, list[Record]]] = {}
        self._lock = threading.Lock()
        self._view = view

    def children(self, sobject: str, lookup: str, parent_id: str) -> list[Record]:
        key = (sobject, lookup)
        with self._lock:
            groups = self._children.get(key)
            if groups is None:
                groups = {}
                for row in self._view.objects.get(sobject, []):
                    groups.setdefault(row.get(lookup) or "", []).append(row)
                self._children[key] = groups
        return groups.get(parent_id, [])


class SalesforceApi:
    """SystemApi for Salesforce (see l2c_demo.fake_api.systems)."""

    system = "salesforce"

    def __init__(
        self,
        client_id: str = "3MVG9demo.salesforce.client",
        client_secret: str = "demo-salesforce-secret",
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._cursors: OrderedDict[str, tuple[str, list[Record]]] = OrderedDict()
        self._indexes: dict[int, tuple[SalesforceView, _Index]] = {}
        self.pages_served: list[tuple[str, int, int]] = []  # (object, offset, rows)
        self.bulk = BulkQueries()  # Bulk API 2.0 query jobs (salesforce_bulk.py)

    # ---- SystemApi ----------------------------------------------------------------------
    def authorized(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        if self._bearer_ok(headers):
            return True
        # a token request carries its credentials in the form body (checked in handle)
        content_type = headers.get("content-type", "")
        return content_type.startswith("application/x-www-form-urlencoded")

    def error(self, status: int, message: str) -> Response:
        if status == 401:
            return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if status == 429:
            message = "TotalRequests Limit exceeded." if "Rate" in message else message
        return sf_error(status, ERROR_CODES.get(status, "UNKNOWN_EXCEPTION"), message)

    def source_env(self, base_url: str) -> dict[str, str]:
        env = {}
        # Certinia is a managed package of the same org: its source uses the same app
        for source in ("SALESFORCE", "CERTINIA"):
            env[f"SOURCES__{source}__LOGIN_URL"] = base_url
            env[f"SOURCES__{source}__CLIENT_ID"] = self.client_id
            env[f"SOURCES__{source}__CLIENT_SECRET"] = self.client_secret
        return env

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
        if path == "/services/oauth2/token":
            return self._token(method, headers, body)
        if not self._bearer_ok(headers):
            return self.error(401, "unauthorized")
        try:
            match = _DATA.match(path)
            if match is None:
                raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
            version, rest = match.group(1), match.group(2) or ""
            if not MIN_VERSION <= float(version) <= MAX_VERSION:
                raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
            if rest.startswith(("/jobs/", "/limits/")):  # Bulk API 2.0, record counts
                view = company.salesforce_view()
                return self.bulk.handle(self, view, version, method, rest, query, body, patch)
            if method not in ("GET", "HEAD"):
                raise SalesforceError(
                    405,
                    "METHOD_NOT_ALLOWED",
                    f"HTTP Method '{method}' not allowed. Allowed are GET,HEAD",
                )
            view = company.salesforce_view()
            return self._data(view, version, rest, query, headers, patch)
        except SalesforceError as err:
            return sf_error(err.status, err.code, err.message)
        except SoqlError as err:
            return sf_error(400, err.code, err.message)

    # ---- test helpers -------------------------------------------------------------------
    def revoke_tokens(self) -> None:
        """Expire every issued access token (the next data call answers 401)."""
        with self._lock:
            self._tokens.clear()

    def issue_token(self) -> str:
        token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self._tokens.add(token)
        return token

    # ---- auth ---------------------------------------------------------------------------
    def _bearer_ok(self, headers: Mapping[str, str]) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            return scheme.lower() == "bearer" and token.strip() in self._tokens

    def _token(self, method: str, headers: Mapping[str, str], body: bytes) -> Response:
        if method != "POST":
            return _oauth_error("invalid_request", "must use HTTP POST")
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type", "grant type not supported")
        if form.get("client_id") != self.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if form.get("client_secret") != self.client_secret:
            return _oauth_error("invalid_client", "invalid client credentials")
        instance = f"http://{headers.get('host', '127.0.0.1')}/{self.system}"
        return Response(
            200,
            {
                "access_token": self.issue_token(),
                "signature": secrets.token_urlsafe(32),
                "scope": "api",
                "instance_url": instance,
                "id": f"{instance}/id/{ORG_ID}/{INTEGRATION_USER}",
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
            },
        )

    # ---- data ---------------------------------------------------------------------------
    def _data(
        self,
        view: SalesforceView,
        version: str,
        rest: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        patch: Patcher,
    ) -> Response:
        if rest in ("/query", "/query/", "/queryAll", "/queryAll/"):
            if "q" not in query:
                raise SalesforceError(400, "MALFORMED_QUERY", "A query string is required")
            return self._query(view, version, query["q"], headers, patch)
        more = _MORE.match(rest)
        if more is not None:
            return self._more(version, more.group(2), int(more.group(3)), headers, patch)
        if rest in ("/sobjects", "/sobjects/"):
            return Response(200, _describe_global(view, version))
        picklist = _PICKLIST.match(rest)
        if picklist is not None:
            return Response(200, _stage_picklist(view, version, *picklist.groups()))
        raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")

    def _index(self, view: SalesforceView) -> _Index:
        with self._lock:
            hit = self._indexes.get(view.as_of)
            if hit is None or hit[0] is not view:
                if len(self._indexes) > 8:
                    self._indexes.clear()
                hit = (view, _Index(view))
                self._indexes[view.as_of] = hit
            return hit[1]

    def _query(
        self,
        view: SalesforceView,
        version: str,
        text: str,
        headers: Mapping[str, str],
        patch: Patcher,
    ) -> Response:
        parsed = parse(text)
        rows = _evaluate(view, self._index(view), parsed, version)
        locator = f"01g{secrets.token_hex(6).upper()}"
        with self._lock:
            self._cursors[locator] = (_canonical_object(view, parsed.sobject), rows)
            while len(self._cursors) > MAX_CURSORS:
                self._cursors.popitem(last=False)
        return self._page(version, locator, 0, headers, patch)

    def _more(
        self, version: str, locator: str, offset: int, headers: Mapping[str, str], patch: Patcher
    ) -> Response:
        return self._page(version, locator, offset, headers, patch)

    def _page(
        self, version: str, locator: str, offset: int, headers: Mapping[str, str], patch: Patcher
    ) -> Response:
        with self._lock:
            cursor = self._cursors.get(locator)
        if cursor is None or offset > len(cursor[1]):
            raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        sobject, rows = cursor
        size = _batch_size(headers)
        page = rows[offset : offset + size]
        with self._lock:
            self.pages_served.append((sobject, offset, len(page)))
        body: dict[str, Any] = {"totalSize": len(rows), "done": offset + size >= len(rows)}
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{offset + size}"
        body["records"] = patch(sobject, page, "Id")
        return Response(200, body)


def _oauth_error(code: str, description: str) -> Response:
    """OAuth endpoint errors have their own shape (not the REST API's error list)."""
    return Response(400, {"error": code, "error_description": description})


def _batch_size(headers: Mapping[str, str]) -> int:
    options = headers.get("sforce-query-options", "")
    for part in options.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "batchsize":
            try:
                size = int(value)
            except ValueError:
                raise SalesforceError(
                    400, "INVALID_BATCH_SIZE", f"invalid batch size: {value!r}"
                ) from None
            return max(1, min(size, MAX_BATCH))
    return MAX_BATCH


def _canonical_object(view: SalesforceView, name: str) -> str:
    for known in view.describe():
        if known.lower() == name.lower():
            return known
    raise SalesforceError(
        400,
        "INVALID_TYPE",
        f"sObject type '{name}' is not supported. If you are attempting to use a custom "
        "object, be sure to append the '__c' after the entity name.",
    )


def _field_name(view: SalesforceView, sobject: str, name: str) -> str:
    for known in view.describe()[sobject][2]:
        if known.lower() == name.lower():
            return known
    raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'.")


def _resolve_path(view: SalesforceView, sobject: str, path: str) -> tuple[str, ...]:
    """'Opportunity.RecordTypeId' on OpportunityHistory -> ('Opportunity', 'RecordTypeId')."""
    parts = path.split(".")
    if len(parts) == 1:
        return (_field_name(view, sobject, parts[0]),)
    if len(parts) != 2:
        raise SoqlError("MALFORMED_QUERY", f"only one relationship level is supported: {path}")
    rel = next((r for r in RELATIONSHIPS if r.lower() == parts[0].lower()), None)
    if rel is None or RELATIONSHIPS[rel][0] not in view.describe()[sobject][2]:
        raise SoqlError(
            "INVALID_FIELD",
            f"Didn't understand relationship '{parts[0]}' in field path. If you are attempting "
            "to use a custom relationship, be sure to append the '__r' after the custom "
            "relationship name.",
        )
    target = RELATIONSHIPS[rel][1]
    if target not in view.describe():
        raise SoqlError("INVALID_TYPE", f"sObject type '{target}' is not supported.")
    return (rel, _field_name(view, target, parts[1]))


def _value(index: _Index, row: Record, path: tuple[str, ...]) -> Any:
    if len(path) == 1:
        return row.get(path[0])
    parent = index.by_id.get(row.get(RELATIONSHIPS[path[0]][0]) or "")
    return None if parent is None else parent.get(path[1])


def _attributes(sobject: str, version: str, record_id: str) -> dict[str, str]:
    return {"type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{record_id}"}


def _select(
    view: SalesforceView,
    index: _Index,
    sobject: str,
    rows: list[Record],
    query: Query,
    version: str,
) -> list[tuple[Record, Record]]:
    """Filter, sort, limit and project rows of one object: (stored row, API record) pairs."""
    where = [(_resolve_path(view, sobject, p.field), p) for p in query.where]
    out = [r for r in rows if all(matches(_value(index, r, path), p) for path, p in where)]
    for item in reversed(query.order_by):
        out = _sorted(out, index, _resolve_path(view, sobject, item.field), item)
    if query.limit is not None:
        out = out[: query.limit]
    paths = [_resolve_path(view, sobject, f) for f in query.fields]
    if all(len(path) == 1 for path in paths):  # no relationship fields: one dict per row
        names = [path[0] for path in paths]
        url = f"/services/data/v{version}/sobjects/{sobject}/"
        return [
            (
                row,
                {
                    "attributes": {"type": sobject, "url": f"{url}{row['Id']}"},
                    **{name: row.get(name) for name in names},
                },
            )
            for row in out
        ]
    projected = []
    for row in out:
        rec: Record = {"attributes": _attributes(sobject, version, row["Id"])}
        for path in paths:
            if len(path) == 1:
                rec[path[0]] = row.get(path[0])
                continue
            lookup, target = RELATIONSHIPS[path[0]]
            parent = index.by_id.get(row.get(lookup) or "")
            if parent is None:
                rec[path[0]] = None
                continue
            nested = rec.get(path[0]) or {"attributes": _attributes(target, version, parent["Id"])}
            nested[path[1]] = parent.get(path[1])
            rec[path[0]] = nested
        projected.append((row, rec))
    return projected


def _sorted(rows: list[Record], index: _Index, path: tuple[str, ...], item: OrderItem) -> list:
    # Salesforce sorts nulls first ascending, last descending, unless NULLS says otherwise
    nulls_last = item.descending if item.nulls_last is None else item.nulls_last
    present = [r for r in rows if _value(index, r, path) is not None]
    missing = [r for r in rows if _value(index, r, path) is None]
    present.sort(key=lambda r: _value(index, r, path), reverse=item.descending)
    return present + missing if nulls_last else missing + present


def _evaluate(view: SalesforceView, index: _Index, query: Query, version: str) -> list[Record]:
    sobject = _canonical_object(view, query.sobject)
    rows = view.objects.get(sobject, [])
    pairs = _select(view, index, sobject, rows, query, version)
    if not query.subqueries:
        return [rec for _row, rec in pairs]
    children = CHILDREN.get(sobject, {})
    for sub in query.subqueries:
        rel = next((c for c in children if c.lower() == sub.sobject.lower()), None)
        if rel is None:
            raise SoqlError(
                "INVALID_TYPE",
                f"Didn't understand relationship '{sub.sobject}' in FROM part of query call.",
            )
        child, lookup = children[rel]
        for row, rec in pairs:
            kids = index.children(child, lookup, row["Id"])
            selected = [kid for _kid_row, kid in _select(view, index, child, kids, sub, version)]
            rec[rel] = (
                {"totalSize": len(selected), "done": True, "records": selected}
                if selected
                else None
            )
    return [rec for _row, rec in pairs]


def _describe_global(view: SalesforceView, version: str) -> dict[str, Any]:
    sobjects = []
    for name, (prefix, custom, _fields) in sorted(view.describe().items()):
        base = f"/services/data/v{version}/sobjects/{name}"
        label = re.sub(r"(?<!^)(?=[A-Z])", " ", name.removeprefix("SBQQ__").removesuffix("__c"))
        sobjects.append(
            {
                "name": name,
                "label": label,
                "labelPlural": f"{label}s",
                "keyPrefix": prefix,
                "custom": custom,
                "queryable": True,
                "retrieveable": True,
                "searchable": not name.endswith("History"),
                "urls": {
                    "sobject": base,
                    "describe": f"{base}/describe",
                    "rowTemplate": f"{base}/{{ID}}",
                },
            }
        )
    return {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects}


def _stage_picklist(
    view: SalesforceView, version: str, sobject: str, record_type: str, field_name: str
) -> dict[str, Any]:
    if sobject != "Opportunity" or field_name != "StageName":
        raise SalesforceError(404, "NOT_FOUND", f"{sobject}.{field_name} has no picklist here")
    if record_type == MASTER_RECORD_TYPE:
        values = [picklist_value(name) for name, *_rest in ORG_STAGES]
    elif record_type in view.stage_picklists:
        values = view.stage_picklists[record_type]
    else:
        raise SalesforceError(404, "NOT_FOUND", f"Record type {record_type} not found")
    url = f"/services/data/v{version}/ui-api/object-info/{sobject}/picklist-values"
    return {
        "controllerValues": {},
        "defaultValue": None,
        "eTag": secrets.token_hex(16),
        "url": f"{url}/{record_type}/{field_name}",
        "values": values,
    }
