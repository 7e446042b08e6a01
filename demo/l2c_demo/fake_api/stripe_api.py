"""Stripe list and retrieve endpoints over a StripeView."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import NamedTuple

from l2c_demo.fake_api.memo import ViewMemo
from l2c_demo.fake_api.responses import ApiError, Response, int_param
from l2c_demo.simulator.views import Record, StripeView

Patch = Callable[[str, list[Record]], list[Record]]
RESOURCES = {
    "customers": "customer",
    "invoices": "invoice",
    "charges": "charge",
    "subscriptions": "subscription",
    "refunds": "refund",
    "credit_notes": "credit note",
    "subscription_schedules": "subscription schedule",
    "disputes": "dispute",
    "events": "event",
}
FILTERS = {
    "customers": ("email",),
    "invoices": ("status", "customer", "subscription"),
    "charges": ("customer", "invoice", "payment_intent"),
    "subscriptions": ("status", "customer"),
    "refunds": ("charge", "payment_intent"),
    "credit_notes": ("customer", "invoice"),
    "subscription_schedules": ("customer",),
    "disputes": ("charge", "payment_intent"),
    "events": ("type",),
}
# GET /v1/subscriptions lists the subscriptions that are not canceled unless asked for a
# status: `status=all` lists every one, `status=canceled` the ended ones.
SUBSCRIPTION_STATUSES = (
    "active",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "trialing",
    "paused",
    "all",
    "ended",
)


def _int(query: dict[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ApiError(400, f"Invalid integer: {raw}", name) from exc


def _created_filter(rows: list[Record], query: dict[str, str]) -> list[Record]:
    exact = _int(query, "created")
    gte, gt = _int(query, "created[gte]"), _int(query, "created[gt]")
    lte, lt = _int(query, "created[lte]"), _int(query, "created[lt]")
    out = rows
    if exact is not None:
        out = [r for r in out if r["created"] == exact]
    if gte is not None:
        out = [r for r in out if r["created"] >= gte]
    if gt is not None:
        out = [r for r in out if r["created"] > gt]
    if lte is not None:
        out = [r for r in out if r["created"] <= lte]
    if lt is not None:
        out = [r for r in out if r["created"] < lt]
    return out


def _key(row: Record) -> tuple[int, str]:
    return row["created"], row["id"]


class _ResultSet(NamedTuple):
    """A list request's filtered rows and each row's position, newest first."""

    rows: list[Record]
    positions: dict[str, int]

    @classmethod
    def of(cls, filtered: list[Record]) -> _ResultSet | None:
        """Kept only when the rows are in strictly descending (created, id) order, where the
        rows after an id's position are exactly those with a smaller key."""
        keys = [_key(r) for r in filtered]
        if any(a <= b for a, b in pairwise(keys)):
            return None
        return cls(filtered, {r["id"]: i for i, r in enumerate(filtered)})

    def after(self, after: str) -> list[Record] | None:
        """The rows after `after`, if this result set holds that id."""
        position = self.positions.get(after)
        return None if position is None else self.rows[position + 1 :]


class StripeApi:
    """Stripe's list and retrieve endpoints. A listing's result set is kept from its first page
    for the pages after it (`starting_after` the last id of the page before), as a real API
    keeps a cursor's result set: the filters and the cursor's key comparison scan the whole
    list, once per page otherwise. The first page of a listing always filters afresh."""

    def __init__(self) -> None:
        self.listings: ViewMemo[_ResultSet] = ViewMemo()

    def handle(self, view: StripeView, path: str, query: dict[str, str], patch: Patch) -> Response:
        parts = [p for p in path.split("/") if p]
        if parts == ["v1", "subscription_items"]:
            return _subscription_items(view, query)
        if len(parts) == 4 and parts[0] == "v1" and parts[1] in RESOURCES:
            return _embedded_list(getattr(view, parts[1]), parts[1], parts[2], parts[3], query)
        if len(parts) < 2 or parts[0] != "v1" or parts[1] not in RESOURCES or len(parts) > 3:
            raise ApiError(404, f"Unrecognized request URL (GET: {path}).")
        name = parts[1]
        rows: list[Record] = getattr(view, name)  # newest first
        if name == "events":  # every event: invoice.sent and one per change of an object
            rows = view.api_events or rows
            patch = _event_patch(patch)
        patch = _embedding(patch)
        if len(parts) == 3:
            found = [r for r in rows if r["id"] == parts[2]]
            if not found:
                raise ApiError(404, f"No such {RESOURCES[name]}: '{parts[2]}'", "id")
            return Response(200, patch(name, found)[0])
        limit = int_param(query, "limit", 10, 1, 100)
        after, before = query.get("starting_after"), query.get("ending_before")
        types = _types(query) if name == "events" else None
        listing = (
            name,
            *(query.get(k) for k in ("created", "created[gte]", "created[gt]")),
            *(query.get(k) for k in ("created[lte]", "created[lt]", *FILTERS[name])),
            types,
        )
        if after and not before:
            kept = self.listings.get(listing, rows)
            rest = kept.after(after) if kept is not None else None
            if rest is not None:
                return _list(name, rest[:limit], len(rest) > limit, patch)
        by_id = {r["id"]: r for r in rows}
        filtered = _created_filter(rows, query)
        for field in FILTERS[name]:
            if name == "subscriptions" and field == "status":
                filtered = _subscription_status(filtered, query.get("status"))
            elif query.get(field):
                filtered = [r for r in filtered if r.get(field) == query[field]]
        if types:
            filtered = [r for r in filtered if r.get("type") in types]
        if not after and not before:
            result_set = _ResultSet.of(filtered)
            if result_set is not None:
                self.listings.put(listing, rows, result_set)
        if after:
            if after not in by_id:
                raise ApiError(400, f"No such {RESOURCES[name]}: '{after}'", "starting_after")
            anchor = _key(by_id[after])
            filtered = [r for r in filtered if _key(r) < anchor]
            page, has_more = filtered[:limit], len(filtered) > limit
        elif before:
            if before not in by_id:
                raise ApiError(400, f"No such {RESOURCES[name]}: '{before}'", "ending_before")
            anchor = _key(by_id[before])
            filtered = [r for r in filtered if _key(r) > anchor]
            page, has_more = filtered[-limit:], len(filtered) > limit
        else:
            page, has_more = filtered[:limit], len(filtered) > limit
        return _list(name, page, has_more, patch)


# the list a `data.object` of an event is listed in (its malformed-field rules)
EVENT_OBJECT_LISTS = {
    "customer": "customers",
    "invoice": "invoices",
    "charge": "charges",
    "subscription": "subscriptions",
    "refund": "refunds",
    "credit_note": "credit_notes",
    "subscription_schedule": "subscription_schedules",
    "dispute": "disputes",
}


def _types(query: dict[str, str]) -> tuple[str, ...] | None:
    """`types[]`: up to 20 event types, sent as `types[0]=..&types[1]=..` (Stripe's array
    encoding) or `types[]=..`; `type` filters too. None when not given."""
    given = [
        v
        for k, v in query.items()
        if k == "types[]" or (k.startswith("types[") and k[6:-1].isdigit())
    ]
    if len(given) > 20:
        raise ApiError(400, "types: at most 20 event types", "types")
    return tuple(sorted(given)) or None


def _event_patch(patch: Patch) -> Patch:
    """Malformed-field rules of a listed object apply to its state inside events too: a field
    Stripe sends on an object is sent wherever the object is."""

    def patched(name: str, rows: list[Record]) -> list[Record]:
        out = []
        for event in patch(name, rows):
            obj = (event.get("data") or {}).get("object") or {}
            listed = EVENT_OBJECT_LISTS.get(obj.get("object", ""))
            if listed is not None and obj.get("id") is not None:
                new = patch(listed, [obj])[0]
                if new is not obj:
                    event = {**event, "data": {**event["data"], "object": new}}
            out.append(event)
        return out

    return patched


def _subscription_status(rows: list[Record], status: str | None) -> list[Record]:
    if status and status not in SUBSCRIPTION_STATUSES:
        raise ApiError(400, f"Invalid status: must be one of {', '.join(SUBSCRIPTION_STATUSES)}")
    if status == "all":
        return rows
    if status == "ended":
        return [r for r in rows if r["status"] in ("canceled", "incomplete_expired")]
    if status:
        return [r for r in rows if r["status"] == status]
    return [r for r in rows if r["status"] not in ("canceled", "incomplete_expired")]


def _list(name: str, page: list[Record], has_more: bool, patch: Patch) -> Response:
    return Response(
        200,
        {"object": "list", "url": f"/v1/{name}", "has_more": has_more, "data": patch(name, page)},
    )


EMBEDDED_LIMIT = 10  # Stripe embeds the first 10 objects of a list inside its parent


def _truncated(row: Record) -> Record:
    """A served object as Stripe sends it: each embedded list (`object: list`, e.g. an
    invoice's `lines`, a subscription's `items`) holds its first EMBEDDED_LIMIT objects, with
    `has_more` true when there are more (read from the list's `url`)."""
    out = row
    for key, value in row.items():
        if (
            isinstance(value, dict)
            and value.get("object") == "list"
            and isinstance(value.get("data"), list)
            and len(value["data"]) > EMBEDDED_LIMIT
        ):
            if out is row:
                out = dict(row)
            out[key] = {**value, "data": value["data"][:EMBEDDED_LIMIT], "has_more": True}
    return out


def _embedding(patch: Patch) -> Patch:
    """Embedded lists cut to EMBEDDED_LIMIT in every served object, an event's `data.object`
    too."""

    def patched(name: str, rows: list[Record]) -> list[Record]:
        out = []
        for row in patch(name, rows):
            obj = (row.get("data") or {}).get("object") if name == "events" else None
            if isinstance(obj, dict):
                cut = _truncated(obj)
                if cut is not obj:
                    row = {**row, "data": {**row["data"], "object": cut}}
            out.append(_truncated(row))
        return out

    return patched


def _list_page(items: list[Record], url: str, query: dict[str, str], what: str) -> Response:
    """One page of an embedded list, in its own order (`starting_after` / `ending_before` an
    object id of the list)."""
    limit = int_param(query, "limit", 10, 1, 100)
    after, before = query.get("starting_after"), query.get("ending_before")
    position = {str(item.get("id")): i for i, item in enumerate(items)}
    if after:
        if after not in position:
            raise ApiError(400, f"No such {what}: '{after}'", "starting_after")
        rest = items[position[after] + 1 :]
        page, has_more = rest[:limit], len(rest) > limit
    elif before:
        if before not in position:
            raise ApiError(400, f"No such {what}: '{before}'", "ending_before")
        rest = items[: position[before]]
        page, has_more = rest[-limit:], len(rest) > limit
    else:
        page, has_more = items[:limit], len(items) > limit
    return Response(200, {"object": "list", "url": url, "has_more": has_more, "data": page})


def _embedded_list(
    rows: list[Record], name: str, object_id: str, field: str, query: dict[str, str]
) -> Response:
    """`GET /v1/<list>/<id>/<field>`: the embedded list `field` of an object in full, paged
    (e.g. `/v1/invoices/<id>/lines`)."""
    found = next((r for r in rows if r["id"] == object_id), None)
    if found is None:
        raise ApiError(404, f"No such {RESOURCES[name]}: '{object_id}'", "id")
    value = found.get(field)
    if not isinstance(value, dict) or value.get("object") != "list":
        raise ApiError(404, f"Unrecognized request URL (GET: /v1/{name}/{object_id}/{field}).")
    return _list_page(value.get("data") or [], str(value.get("url")), query, f"{field} item")


def _subscription_items(view: StripeView, query: dict[str, str]) -> Response:
    """`GET /v1/subscription_items?subscription=<id>`: a subscription's items (the `url` of
    its embedded `items`)."""
    sub_id = query.get("subscription")
    if not sub_id:
        raise ApiError(400, "Missing required param: subscription.", "subscription")
    return _embedded_list(view.subscriptions, "subscriptions", sub_id, "items", query)
