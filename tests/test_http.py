"""The HTTP plumbing: JSON bodies read as requests reads them, NaN and Infinity read leniently,
a body that is no JSON named by its URL; paginators that stop when a page does not advance."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
from requests import Response
from requests.exceptions import JSONDecodeError
from requests.utils import get_encoding_from_headers

from pipelines.http import GuardedCursorPaginator, GuardedOffsetPaginator, PagingStuck, explain_json


def _response(body: bytes, content_type: str) -> Response:
    response = Response()
    response.status_code = 200
    response._content = body
    response.headers["Content-Type"] = content_type
    response.encoding = get_encoding_from_headers(response.headers)
    response.url = "https://api.example.com/v1/things"
    return response


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"a": 1, "b": [1.5, "x", null, true], "c": {"d": -0.1}}', "application/json"),
        ('{"name": "Åsa Ölund"}'.encode(), "application/json; charset=utf-8"),
        (b'{"big": 123456789012345678901234567890, "ok": 1234567890123456789}', "application/json"),
        ('{"name": "Åsa"}'.encode("utf-16"), "application/json; charset=utf-16"),
    ],
)
def test_bodies_decode_as_requests_decodes_them(body: bytes, content_type: str) -> None:
    assert (
        explain_json(_response(body, content_type)).json() == _response(body, content_type).json()
    )


def test_invalid_json_raises_requests_error_naming_the_url() -> None:
    response = explain_json(_response(b"<html>oops</html>", "application/json"))
    with pytest.raises(JSONDecodeError, match=r"https://api.example.com/v1/things.*'<html>oops"):
        response.json()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_nan_and_infinity_decode_as_floats(encoding: str) -> None:
    """requests' decoder (simplejson) refuses them; a vendor may still send them for one
    value, and the row checks reject that row rather than the run failing to decode."""
    body = '{"n": NaN, "i": Infinity, "m": -Infinity, "ok": 1}'.encode(encoding)
    decoded = explain_json(_response(body, f"application/json; charset={encoding}")).json()
    assert math.isnan(decoded["n"])
    assert decoded["i"] == math.inf and decoded["m"] == -math.inf and decoded["ok"] == 1


def _page(body: object) -> Response:
    return _response(json.dumps(body).encode(), "application/json")


def test_the_v1_offset_paginator_follows_next_start_and_stops_when_stuck() -> None:
    def paginator() -> GuardedOffsetPaginator:
        return GuardedOffsetPaginator(
            limit=2,
            offset_param="start",
            limit_param="limit",
            total_path=None,
            has_more_path="additional_data.pagination.more_items_in_collection",
            next_offset_path="additional_data.pagination.next_start",
        )

    pages = paginator()
    more = {"pagination": {"more_items_in_collection": True, "next_start": 5}}
    pages.update_state(_page({"data": [1, 2], "additional_data": more}), [1, 2])
    assert pages.has_next_page and pages.current_value == 5
    last = {"pagination": {"more_items_in_collection": False}}
    pages.update_state(_page({"data": [3], "additional_data": last}), [3])
    assert not pages.has_next_page
    stuck = {"pagination": {"more_items_in_collection": True, "next_start": 0}}
    with pytest.raises(PagingStuck, match="paging does not advance"):
        paginator().update_state(_page({"data": [], "additional_data": stuck}), [])


def test_the_cursor_paginator_stops_on_an_empty_page_or_a_repeated_cursor() -> None:
    def paginator() -> GuardedCursorPaginator:
        return GuardedCursorPaginator(
            cursor_path="additional_data.next_cursor", cursor_param="cursor"
        )

    with pytest.raises(PagingStuck, match="empty page"):
        paginator().update_state(_page({"data": [], "additional_data": {"next_cursor": "a"}}), [])
    pages = paginator()
    pages.update_state(_page({"data": [1], "additional_data": {"next_cursor": "a"}}), [1])
    with pytest.raises(PagingStuck, match="already requested"):
        pages.update_state(_page({"data": [2], "additional_data": {"next_cursor": "a"}}), [2])
    # dlt's rest_api reuses the instance on each run of a resource: a new run starts afresh
    from requests import Request

    pages.init_request(Request("GET", "https://api.example.test/x"))
    pages.update_state(_page({"data": [1], "additional_data": {"next_cursor": "a"}}), [1])


def test_an_endpoint_rate_gives_each_endpoint_its_own_limiter() -> None:
    from requests import Request

    from pipelines.http import SAFETY, PacedAdapter, RateLimiter, make_client

    client = make_client(
        "https://api.example.test", {}, system="endpoint_test", endpoint_requests_per_second=25
    )
    adapter = client.session.get_adapter("https://api.example.test")
    assert isinstance(adapter, PacedAdapter)

    def limiter_of(method: str, url: str) -> RateLimiter | None:
        return adapter.endpoint_limiter(Request(method, url).prepare())

    invoices = limiter_of("GET", "https://api.example.test/v1/invoices?limit=100")
    again = limiter_of("GET", "https://api.example.test/v1/invoices?starting_after=in_1")
    charges = limiter_of("GET", "https://api.example.test/v1/charges")
    assert invoices is again and invoices is not charges
    assert invoices is not None and invoices.capacity == round(25 * SAFETY)
    plain = make_client("https://api.example.test", {}, system="endpoint_test_none")
    unpaced = plain.session.get_adapter("https://api.example.test")
    assert isinstance(unpaced, PacedAdapter)
    assert (
        unpaced.endpoint_limiter(Request("GET", "https://api.example.test/v1/x").prepare()) is None
    )


def test_network_seconds_count_overlapping_requests_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two requests on the wire side by side count their union as network time, and each its
    own seconds as request time; a later request alone adds its own span."""
    import pipelines.http as http

    stats = http.RequestStats("test")
    clock = iter([0.0, 0.5, 1.0, 2.0, 10.0, 11.0])  # sent, sent, answered, answered, ...
    # the module's clock only (the time module itself stays as it is for everything else)
    monkeypatch.setattr(http, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    first = stats.sent()
    second = stats.sent()
    stats.answered(first)  # 0.0 -> 1.0
    stats.answered(second)  # 0.5 -> 2.0
    stats.answered(stats.sent())  # 10.0 -> 11.0
    assert stats.network_seconds == pytest.approx(2.0 + 1.0)
    assert stats.request_seconds == pytest.approx(1.0 + 1.5 + 1.0)
