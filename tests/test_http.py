"""The HTTP plumbing's shortcuts give requests' own results."""

from __future__ import annotations

import math
from typing import Any

import pytest
from dlt.sources.helpers.rest_client.auth import APIKeyAuth
from requests import Response
from requests.exceptions import JSONDecodeError
from requests.utils import get_encoding_from_headers

from pipelines.http import JsonGetter, decode_json_once, make_client


def _response(body: bytes, content_type: str) -> Response:
    response = Response()
    response.status_code = 200
    response._content = body
    response.headers["Content-Type"] = content_type
    response.encoding = get_encoding_from_headers(response.headers)
    return response


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"a": 1, "b": [1.5, "x", null, true], "c": {"d": -0.1}}', "application/json"),
        ('{"name": "Åsa Ölund"}'.encode(), "application/json; charset=utf-8"),
        (b'{"big": 123456789012345678901234567890, "ok": 1234567890123456789}', "application/json"),
        (b'{"id": "12345678901234567890", "n": 18446744073709551615}', "application/json"),
        (b'{"huge": 1e400, "lone": "\\ud800", "pair": "\\ud83d\\ude00"}', "application/json"),
        ('{"name": "Åsa"}'.encode("latin-1"), "application/json; charset=iso-8859-1"),
        ('{"name": "Åsa"}'.encode("utf-16"), "application/json; charset=utf-16"),
    ],
)
def test_decoding_once_gives_what_requests_gives(body: bytes, content_type: str) -> None:
    response = decode_json_once(_response(body, content_type))
    try:
        expected = _response(body, content_type).json()
    except JSONDecodeError:
        with pytest.raises(JSONDecodeError):
            response.json()
        return
    first = response.json()
    assert repr(first) == repr(expected)  # same values and types (int vs float)
    assert response.json() is first


def test_invalid_json_raises_requests_error() -> None:
    response = decode_json_once(_response(b"<html>oops</html>", "application/json"))
    response.url = "https://api.example.com/v1/things"
    with pytest.raises(JSONDecodeError, match=r"https://api.example.com/v1/things.*'<html>oops"):
        response.json()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_nan_and_infinity_decode_as_floats(encoding: str) -> None:
    """requests' decoder (simplejson) refuses them; a vendor may still send them for one
    value, and the row checks reject that row rather than the run failing to decode."""
    body = '{"n": NaN, "i": Infinity, "m": -Infinity, "ok": 1}'.encode(encoding)
    decoded = decode_json_once(_response(body, f"application/json; charset={encoding}")).json()
    assert math.isnan(decoded["n"])
    assert decoded["i"] == math.inf and decoded["m"] == -math.inf and decoded["ok"] == 1


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/deals/12/flow", {"all_changes": 1, "items": "dealChange", "start": 0, "limit": 500}),
        ("v1/deals/12/flow", None),
        ("/api/v2/deals/7/discounts", {}),
        ("/search", {"term": "Åsa & Co / 50% off", "fields": ["name", "email"], "skip": None}),
        ("/v2/orders/3/line_items?per_page=100", {"page": 2, "flag": True}),
        ("/odd path/with spaces", {"q": "a b"}),
        ("/unicodé", {"x": "1"}),
        ("https://other.example.com/v2/next?page=3", {"per_page": 100}),
    ],
)
def test_lean_get_builds_the_url_requests_builds(path: str, params: dict[str, Any] | None) -> None:
    client = make_client(
        "http://127.0.0.1:9/pipedrive", {}, auth=APIKeyAuth(name="x-api-token", api_key="t")
    )
    request = client._create_request(path, "GET", params=params)  # what RESTClient.get sends
    assert JsonGetter(client).url(path, params) == client.session.prepare_request(request).url
