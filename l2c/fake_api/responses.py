"""Response value object and the error bodies of each API."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any


class ApiError(Exception):
    """Raised by handlers; rendered in the style of the API that raised it."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


DROP_CONNECTION = -1
"""A Response status meaning: close the connection without answering."""


@dataclass
class Response:
    """`body`: a JSON value, or bytes sent as they are."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def pipedrive_error(status: int, message: str) -> Response:
    codes = {400: "Bad request", 401: "unauthorized", 404: "Not found", 429: "Rate limited"}
    return Response(
        status,
        {
            "success": False,
            "error": "unauthorized" if status == 401 else message,
            "error_info": codes.get(status, "Error"),
            "data": None,
            "additional_data": None,
        },
    )


def stripe_error(status: int, message: str, param: str | None = None) -> Response:
    error: dict[str, Any] = {
        "type": "invalid_request_error" if status < 500 else "api_error",
        "message": message,
    }
    if status == 404:
        error["code"] = "resource_missing"
    if param:
        error["param"] = param
    return Response(status, {"error": error})


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, value = text.split(":", 1)
        if prefix != "offset":
            raise ValueError(prefix)
        offset = int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "Invalid cursor", "cursor") from exc
    if offset < 0:
        raise ApiError(400, "Invalid cursor", "cursor")
    return offset


def int_param(query: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, f"Invalid {name}: {raw!r}", name) from exc
    if value < lo or value > hi:
        raise ApiError(400, f"{name} must be between {lo} and {hi}", name)
    return value
