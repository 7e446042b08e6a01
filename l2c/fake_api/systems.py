"""How the fake server hosts an API beyond Pipedrive and Stripe.

A system module (e.g. l2c/fake_api/salesforce_api.py) defines a class implementing
`SystemApi` and registers a factory in `EXTRA_SYSTEMS` (bottom of this file). The server
then routes `/<system>/...` to it, applies faults and malformed-record patches to it like to
the built-in APIs, and `FakeApiServer.source_env()` returns the dlt environment variables that
point the system's source at it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from l2c.fake_api.responses import Response
from l2c.simulator import DemoCompany
from l2c.simulator.views import Record


class Patcher(Protocol):
    """Applies the malformed-record rules set by tests to one page of a resource; rows are
    matched on their `key` field."""

    def __call__(self, name: str, rows: list[Record], key: str = "id") -> list[Record]: ...


class SystemApi(Protocol):
    system: str  # URL prefix and dlt source section, e.g. "salesforce"

    def authorized(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """Whether the request carries this system's demo credential."""
        ...

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
        """Answer a request; `path` is relative to /<system>. Raise ApiError for API errors.
        `patch(resource, rows, key)` applies malformed-record rules set by tests to a page."""
        ...

    def error(self, status: int, message: str) -> Response:
        """An error response in the API's own error shape."""
        ...

    def source_env(self, base_url: str) -> dict[str, str]:
        """Environment variables that configure the dlt source for this server, exactly as a
        user would configure the real API (SOURCES__<SYSTEM>__...)."""
        ...


def _extra_systems() -> dict[str, Callable[[], SystemApi]]:
    # Register additional systems here (imports are local so a broken module names itself).
    from l2c.fake_api.oracle_cx_api import OracleCxApi
    from l2c.fake_api.salesforce_api import SalesforceApi
    from l2c.fake_api.zendesk_sell_api import ZendeskSellApi

    return {"zendesk_sell": ZendeskSellApi, "oracle_cx": OracleCxApi, "salesforce": SalesforceApi}


EXTRA_SYSTEMS: Mapping[str, Callable[[], SystemApi]] = _extra_systems()
