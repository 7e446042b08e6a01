"""What a fake system API implements (see systems.py for how one is registered)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from l2c_demo.fake_api.responses import Response
from l2c_demo.simulator import DemoCompany
from l2c_demo.simulator.views import Record


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
