"""A lean HTTP/1.1 server for the fake APIs: one thread per connection, keep-alive,
Content-Length bodies, HEAD, TCP_NODELAY.

http.server parses every request's headers with the email package and writes the status
line and each header separately; for tens of thousands of small keep-alive requests that is
most of the fake's CPU, which in a timed load stands in for a remote API's CPU. This module
reads the request line and headers directly and writes each response in one send.
"""

from __future__ import annotations

import json
import socket
import socketserver
import time
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from l2c.fake_api.responses import DROP_CONNECTION, Response

# (method, path, query, headers, body) -> Response, as FakeApp.handle
Handler = Callable[[str, str, dict[str, str], dict[str, str], bytes], Response]

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
MAX_LINE = 65536
MAX_HEADERS = 100
_REASONS = {status.value: status.phrase for status in HTTPStatus}
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def encode_body(body: Any, *, nonfinite: bool = False) -> bytes:
    """The JSON `json.dumps(body).encode()` gives, in meaning: orjson for JSON-native values
    (non-str keys become strings as json.dumps makes them); json.dumps for whatever orjson
    refuses (integers beyond 64 bits, datetimes, other types: json.dumps' errors stay).

    json.dumps writes a NaN or infinite float as NaN/Infinity, orjson as null: pass
    `nonfinite=True` when the body may hold one (the simulator's data never does; see
    FakeApp.nonfinite for values tests inject) to get json.dumps' output."""
    if nonfinite:
        return json.dumps(body).encode()
    try:
        return orjson.dumps(body, option=_ORJSON_OPTIONS)
    except TypeError:
        return json.dumps(body).encode()


def has_nonfinite(value: Any) -> bool:
    """Whether a JSON-like value holds a NaN or infinite float."""
    if isinstance(value, float):
        return value != value or value in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return any(has_nonfinite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_nonfinite(v) for v in value)
    return False


class _DateHeader:
    """The Date header, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def __call__(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._value = formatdate(now, usegmt=True).encode("latin-1")
            self._second = now
        return self._value


_date = _DateHeader()


def render(
    status: int, headers: dict[str, str], payload: bytes, *, head: bool, close: bool
) -> bytes:
    """Status line, headers and body of one response, as bytes to send at once."""
    lines = [
        b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, "").encode("latin-1")),
        b"Date: " + _date(),
        b"Content-Type: application/json",
        b"Content-Length: %d" % len(payload),
    ]
    for key, value in headers.items():
        lines.append(f"{key}: {value}".encode("latin-1"))
    if close:
        lines.append(b"Connection: close")
    head_bytes = b"\r\n".join(lines) + b"\r\n\r\n"
    return head_bytes if head else head_bytes + payload


class _Connection(socketserver.StreamRequestHandler):
    """Serves the requests of one connection until the client closes it or asks to."""

    server: LeanHttpServer
    rbufsize = 1 << 16
    wbufsize = 0  # responses are written in one sendall

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        while True:
            try:
                request = self._read_request()
            except BadRequest as err:
                self._send(err.status, {"error": err.message}, {}, head=False, close=True)
                return
            except (ConnectionError, TimeoutError, OSError):
                return
            if request is None:
                return
            method, target, version, headers, body = request
            close = _wants_close(version, headers)
            parts = urlsplit(target)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            try:  # HEAD is answered as GET is, without the body
                app_method = "GET" if method == "HEAD" else method
                resp = self.server.handler(app_method, parts.path, query, headers, body)
            except Exception as exc:  # a bug in the fake must still answer the client
                resp = Response(500, {"error": f"fake server error: {exc!r}"})
            if resp.status == DROP_CONNECTION:
                return
            try:
                self._send(resp.status, resp.body, resp.headers, head=method == "HEAD", close=close)
            except OSError:
                return
            if close:
                return

    def _send(
        self, status: int, body: Any, headers: dict[str, str], *, head: bool, close: bool
    ) -> None:
        if isinstance(body, bytes):
            payload = body
        else:
            payload = encode_body(body, nonfinite=self.server.nonfinite())
        data = render(status, headers, payload, head=head, close=close)
        self.connection.sendall(data)

    def _read_request(
        self,
    ) -> tuple[str, str, str, dict[str, str], bytes] | None:
        """The next request on the connection, or None when the client has closed it."""
        line = self.rfile.readline(MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):  # tolerate blank lines between requests
            line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return None
        if len(line) > MAX_LINE:
            raise BadRequest(414, "Request-URI Too Long")
        words = line.decode("iso-8859-1").rstrip("\r\n").split()
        if len(words) != 3 or not words[2].startswith("HTTP/"):
            raise BadRequest(400, f"Bad request syntax ({line!r})")
        method, target, version = words
        if method not in METHODS:
            raise BadRequest(501, f"Unsupported method ({method!r})")
        headers: dict[str, str] = {}
        while True:
            raw = self.rfile.readline(MAX_LINE + 1)
            if len(raw) > MAX_LINE:
                raise BadRequest(431, "Header line too long")
            if raw in (b"\r\n", b"\n", b""):
                break
            if len(headers) >= MAX_HEADERS:
                raise BadRequest(431, "Too many headers")
            name, sep, value = raw.decode("iso-8859-1").partition(":")
            if not sep:
                raise BadRequest(400, f"Bad header line ({raw!r})")
            headers[name.strip().lower()] = value.strip()
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError as exc:
            raise BadRequest(400, "Bad Content-Length") from exc
        if length < 0:
            raise BadRequest(400, "Bad Content-Length")
        body = self.rfile.read(length) if length else b""
        return method, target, version, headers, body


def _wants_close(version: str, headers: dict[str, str]) -> bool:
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if "close" in tokens:
        return True
    if version == "HTTP/1.0":
        return "keep-alive" not in tokens
    return False


class LeanHttpServer(socketserver.ThreadingTCPServer):
    """A threading TCP server answering HTTP/1.1 requests with `handler`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self, address: tuple[str, int], handler: Handler, nonfinite: Callable[[], bool]
    ) -> None:
        """`nonfinite()`: whether a response may hold a NaN or infinite float (encode_body)."""
        self.handler = handler
        self.nonfinite = nonfinite
        super().__init__(address, _Connection)
