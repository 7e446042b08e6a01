"""JsonGetter's lean path (pipelines.lean_get) against the real local server: the retries,
errors, auth, proxies and TLS settings of the requests path it replaces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from dlt.sources.helpers.rest_client.auth import APIKeyAuth
from requests import PreparedRequest

from l2c.fake_api import FakeApiServer, Fault
from l2c.simulator import DemoCompany, SimConfig
from pipelines import lean_get
from pipelines.http import JsonGetter, make_client
from pipelines.lean_get import LeanTransport, RetrySettings, path_url

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(scope="module")
def company() -> DemoCompany:
    return DemoCompany(SimConfig(seed=11, n_deals=60))


@pytest.fixture
def server(company: DemoCompany, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiServer]:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with FakeApiServer(company) as srv:
        yield srv


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between attempts, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(lean_get, "sleep", waits.append)
    return waits


def _getter(srv: FakeApiServer, token: str | None = None, **options: Any) -> JsonGetter:
    client = make_client(
        srv.pipedrive_url,
        {"Accept": "application/json"},
        auth=APIKeyAuth(name="x-api-token", api_key=token or srv.pipedrive_token),
        **options,
    )
    return JsonGetter(client)


def _no_session_send(getter: JsonGetter) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("sent through requests' session")

    getter._client.session.send = fail  # type: ignore[method-assign]


def _deal_id(company: DemoCompany) -> int:
    return int(company.pipedrive_view().deals[0]["id"])


def _paths(srv: FakeApiServer, suffix: str) -> list[str]:
    return [path for _, path, _ in srv.request_log if path.endswith(suffix)]


def test_lean_get_returns_what_the_session_returns(
    server: FakeApiServer, company: DemoCompany
) -> None:
    deal = _deal_id(company)
    path, params = f"/v1/deals/{deal}/flow", {"all_changes": 1, "start": 0, "limit": 500}
    expected = _getter(server)._client.get(path, params=params).json()
    getter = _getter(server)
    _no_session_send(getter)
    assert getter(path, params) == expected
    assert getter(f"/api/v2/deals/{deal}/discounts")["success"] is True


def test_429_waits_retry_after_then_succeeds(
    server: FakeApiServer, company: DemoCompany, sleeps: list[float]
) -> None:
    deal = _deal_id(company)
    server.add_fault(Fault(path_prefix=f"/pipedrive/v1/deals/{deal}/", status=429, retry_after=2))
    server.add_fault(Fault(path_prefix=f"/pipedrive/v1/deals/{deal}/", status=429, retry_after=0))
    getter = _getter(server)
    _no_session_send(getter)
    body = getter(f"/v1/deals/{deal}/flow")
    assert body["success"] is True
    assert len(_paths(server, f"/deals/{deal}/flow")) == 3
    # Retry-After 2 is honoured; Retry-After 0 is not a wait, so the backoff applies (0.5 * 2)
    assert sleeps == [2.0, 1.0]


def test_5xx_backs_off_and_gives_up_with_an_error_naming_the_url(
    server: FakeApiServer, company: DemoCompany, sleeps: list[float]
) -> None:
    deal = _deal_id(company)
    server.add_fault(Fault(path_prefix=f"/pipedrive/api/v2/deals/{deal}/", status=500, times=10))
    getter = _getter(server, max_attempts=4)
    _no_session_send(getter)
    with pytest.raises(requests.HTTPError, match=rf"500 .*deals/{deal}/discounts") as info:
        getter(f"/api/v2/deals/{deal}/discounts")
    assert info.value.response is not None
    assert info.value.response.status_code == 500
    assert info.value.response.json()["success"] is False
    assert len(_paths(server, f"/deals/{deal}/discounts")) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_timeouts_are_retried(
    server: FakeApiServer, company: DemoCompany, sleeps: list[float]
) -> None:
    deal = _deal_id(company)
    # the delay is well past the timeout, the timeout well past an answer's time
    server.add_fault(Fault(path_prefix=f"/pipedrive/v1/deals/{deal}/", delay_seconds=4.0))
    getter = _getter(server, timeout_seconds=1.0)
    _no_session_send(getter)
    assert getter(f"/v1/deals/{deal}/flow")["success"] is True
    assert sleeps == [0.5]  # one attempt timed out, the second answered
    assert len(_paths(server, f"/deals/{deal}/flow")) == 2


def test_connection_refused_raises_requests_connection_error(sleeps: list[float]) -> None:
    client = make_client("http://127.0.0.1:9", {}, auth=APIKeyAuth(name="x", api_key="t"))
    with pytest.raises(requests.ConnectionError):
        JsonGetter(client)("/v1/anything")
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]  # make_client's default: 6 attempts


def test_wrong_token_is_not_retried(server: FakeApiServer, company: DemoCompany) -> None:
    getter = _getter(server, token="wrong")
    with pytest.raises(requests.HTTPError, match="401"):
        getter(f"/api/v2/deals/{_deal_id(company)}/discounts")
    assert len(server.request_log) == 1


def test_a_proxy_from_the_environment_is_used(
    server: FakeApiServer, company: DemoCompany, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With HTTP_PROXY set the request goes through requests' session, to the proxy (here a
    second fake server, which serves a proxied request's path as its own)."""
    with FakeApiServer(company) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url)
        getter = _getter(server)
        assert getter(f"/api/v2/deals/{_deal_id(company)}/discounts")["success"] is True
        assert len(proxy.request_log) == 1
        assert server.request_log == []


def test_no_proxy_hosts_are_reached_directly(
    server: FakeApiServer, company: DemoCompany, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    getter = _getter(server)
    _no_session_send(getter)
    assert getter(f"/api/v2/deals/{_deal_id(company)}/discounts")["success"] is True


def test_https_pools_verify_certificates() -> None:
    client = make_client("https://api.example.com", {}, auth=APIKeyAuth(name="x", api_key="t"))
    transport = LeanTransport(client.session, RetrySettings(2, 0.5, 60.0))
    request = PreparedRequest()
    request.prepare(method="GET", url="https://api.example.com/v1/x")
    pool = transport._pool(request, ("https", "api.example.com"))
    assert pool is not None
    assert pool.cert_reqs == "CERT_REQUIRED"  # type: ignore[attr-defined]


def test_retry_after_dates_and_caps() -> None:
    settings = RetrySettings(max_attempts=6, backoff_factor=0.5, max_delay_seconds=60.0)
    assert settings.wait_seconds(1, "3") == 3.0
    assert settings.wait_seconds(1, "3600") == 60.0
    assert settings.wait_seconds(3, "soon") == 2.0
    assert settings.wait_seconds(10, None) == 60.0
    assert settings.wait_seconds(2, "Wed, 21 Oct 2015 07:28:00 GMT") == 1.0  # in the past


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/pipedrive/v1/deals/1/flow?start=0&limit=500",
        "https://api.example.com/v2/x",
        "https://api.example.com",
        "https://api.example.com?x=1",
        "https://api.example.com/a?",
        "https://api.example.com/a#frag",
        "https://user:pw@api.example.com:8443/a/b%20c?q=%C3%A5&r",
    ],
)
def test_path_url_is_requests_path_url(url: str) -> None:
    request = PreparedRequest()
    request.prepare(method="GET", url=url)
    assert path_url(request) == request.path_url
