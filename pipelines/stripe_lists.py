"""Stripe's embedded lists read in full.

An object Stripe sends may carry lists of other objects inside it, each a list object
(`{"object": "list", "data": [...], "has_more": ..., "url": ...}`): an invoice's `lines`, a
subscription's `items`, a credit note's `lines`. Stripe embeds only the first handful of
objects of such a list (10): when `has_more` is true the rest must be read from the list's
own `url` (`/v1/invoices/<id>/lines`, `/v1/subscription_items?subscription=<id>`), paged like
any list (`starting_after` the last id, 100 a page; Stripe's docs, "Retrieve an invoice's line
items"). Without that, the objects beyond the first 10 would be silently missing.

`complete_lists` does it for the objects of a page before they are loaded, from the list
reads and from the Events API alike (an event's `data.object` embeds the same lists): only the
lists that say `has_more` cost requests, one per 100 objects beyond the embedded ones. The
completed list says `has_more: false`; a list that cannot be completed (no `url`) keeps
`has_more: true`, is logged as a warning and fails the raw source test on it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dlt.sources.helpers.rest_client import RESTClient

from pipelines.http import StripePaginator

log = logging.getLogger(__name__)
PAGE = 100  # Stripe's largest page


def _incomplete(value: Any) -> bool:
    return isinstance(value, dict) and value.get("object") == "list" and bool(value.get("has_more"))


def _rest_of(client: RESTClient, url: str, data: list[Any]) -> tuple[list[Any], int]:
    """The objects of the list at `url` after the embedded ones, and the requests it took."""
    parts = urlsplit(url)
    params: dict[str, Any] = {**dict(parse_qsl(parts.query)), "limit": PAGE}
    last = data[-1].get("id") if data and isinstance(data[-1], dict) else None
    if last:
        params["starting_after"] = last
    seen = {item.get("id") for item in data if isinstance(item, dict)}
    rest: list[Any] = []
    requests = 0
    for page in client.paginate(
        parts.path, params=params, paginator=StripePaginator(), data_selector="data"
    ):
        requests += 1
        for item in page:
            key = item.get("id") if isinstance(item, dict) else None
            if key is None or key not in seen:  # an object listed twice is kept once
                seen.add(key)
                rest.append(item)
    return rest, requests


def complete_lists(client: RESTClient, rows: Iterable[Any], name: str) -> int:
    """Read the rest of every embedded list with `has_more` of the objects `rows` (top-level
    fields), in place; returns the number of requests made."""
    requests = 0
    for row in rows:
        if not isinstance(row, dict):
            continue
        for key, value in list(row.items()):
            if not _incomplete(value):
                continue
            url, data = value.get("url"), value.get("data")
            if not isinstance(url, str) or not url.startswith("/") or not isinstance(data, list):
                log.warning(
                    "stripe %s %s: embedded list %s has more objects but no url to read "
                    "them from: only the first %d are loaded",
                    name,
                    row.get("id"),
                    key,
                    len(data) if isinstance(data, list) else 0,
                )
                continue
            rest, made = _rest_of(client, url, data)
            requests += made
            row[key] = {**value, "data": [*data, *rest], "has_more": False}
    if requests:
        log.info("stripe %s: %d requests for the rest of embedded lists", name, requests)
    return requests
