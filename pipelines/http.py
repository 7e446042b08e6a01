"""HTTP plumbing shared by the sources: a RESTClient with retries, and API paginators."""

from __future__ import annotations

from typing import Any

from dlt.sources.helpers.requests.retry import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response


def make_client(
    base_url: str,
    headers: dict[str, str],
    *,
    timeout_seconds: float = 30.0,
    max_attempts: int = 6,
    backoff_factor: float = 0.5,
    max_retry_delay_seconds: float = 60.0,
) -> RESTClient:
    """A RESTClient that retries 429 (honouring Retry-After), 5xx, timeouts and dropped
    connections with exponential backoff, and raises a clear HTTPError when it gives up."""
    session = Client(
        request_timeout=timeout_seconds,
        request_max_attempts=max_attempts,
        request_backoff_factor=backoff_factor,
        request_max_retry_delay=max_retry_delay_seconds,
        respect_retry_after_header=True,
        raise_for_status=False,
    ).session
    return RESTClient(base_url=base_url.rstrip("/"), headers=headers, session=session)


class PipedriveV1Paginator(BasePaginator):
    """Pipedrive v1 `start`/`limit` paging: `additional_data.pagination.next_start`."""

    def __init__(self, limit: int = 500) -> None:
        super().__init__()
        self.limit = limit
        self.start = 0

    def init_request(self, request: Request) -> None:
        request.params = {**(request.params or {}), "start": self.start, "limit": self.limit}

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        pagination = (response.json().get("additional_data") or {}).get("pagination") or {}
        if pagination.get("more_items_in_collection"):
            self.start = int(pagination.get("next_start", self.start + self.limit))
            self._has_next_page = True
        else:
            self._has_next_page = False

    def update_request(self, request: Request) -> None:
        request.params["start"] = self.start


class PipedriveV2Paginator(BasePaginator):
    """Pipedrive v2 cursor paging: `additional_data.next_cursor`, sent back as `cursor`."""

    def __init__(self) -> None:
        super().__init__()
        self.cursor: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        self.cursor = (response.json().get("additional_data") or {}).get("next_cursor")
        self._has_next_page = bool(self.cursor)

    def update_request(self, request: Request) -> None:
        request.params["cursor"] = self.cursor


class StripePaginator(BasePaginator):
    """Stripe list paging: `has_more` plus `starting_after=<id of the last object>`."""

    def __init__(self) -> None:
        super().__init__()
        self.last_id: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        items = body.get("data") or []
        self._has_next_page = bool(body.get("has_more")) and bool(items)
        if items:
            self.last_id = items[-1].get("id")

    def update_request(self, request: Request) -> None:
        request.params["starting_after"] = self.last_id


class SalesforceQueryPaginator(BasePaginator):
    """Salesforce SOQL query paging: while `done` is false, GET `nextRecordsUrl` (a path such
    as /services/data/v62.0/query/01gxx-2000, relative to the org's instance URL)."""

    def __init__(self, instance_url: str) -> None:
        super().__init__()
        self.instance_url = instance_url.rstrip("/")
        self.next_url: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        self.next_url = None if body.get("done", True) else body.get("nextRecordsUrl")
        self._has_next_page = bool(self.next_url)

    def update_request(self, request: Request) -> None:
        if self.next_url:
            request.url = self.instance_url + self.next_url
            request.params = {}
