"""The fake APIs' HTTP server: the standard library's ThreadingHTTPServer (HTTP/1.1,
keep-alive, one thread per connection). A load against the fakes is timed by their latency
and rate limits (demo/l2c_demo/fake_api/network.py), not by this server's CPU."""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from l2c_demo.fake_api.responses import DROP_CONNECTION, Response

# (method, path, query, headers, body) -> Response, as FakeApp.handle
Handler = Callable[[str, str, dict[str, str], dict[str, str], bytes], Response]


def encode_body(body: Any) -> bytes:
    """A response body as JSON (NaN and infinite floats as json.dumps writes them)."""
    if isinstance(body, bytes):
        return body
    return json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    # TCP_NODELAY: the headers and the body go out as two writes; with Nagle's algorithm the
    # body waits for the client's (delayed, ~40 ms) ACK of the headers, a stall per response
    disable_nagle_algorithm = True
    default_request_version = "HTTP/1.1"  # a malformed request line is answered with a status
    server: FakeHttpServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the app keeps its own request log

    def _serve(self, head: bool = False) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        headers = {key.lower(): value for key, value in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        method = "GET" if head else self.command
        try:
            resp = self.server.handler(method, parts.path, query, headers, body)
        except Exception as exc:  # a bug in the fake must still answer the client
            resp = Response(500, {"error": f"fake server error: {exc!r}"})
        if resp.status == DROP_CONNECTION:  # close without answering
            self.close_connection = True
            return
        payload = encode_body(resp.body)
        extra = dict(resp.headers)
        if "Date" in extra:  # the simulated clock of the API (Stripe's `Date`), not the wall's
            self.log_request(resp.status)
            self.send_response_only(resp.status)
            self.send_header("Server", self.version_string())
        else:
            self.send_response(resp.status)
        self.send_header("Content-Type", extra.pop("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(payload)))
        for key, value in extra.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(payload)

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve(head=True)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET


class FakeHttpServer(ThreadingHTTPServer):
    """A threading HTTP/1.1 server answering every request with `handler`."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: Handler) -> None:
        self.handler = handler
        super().__init__(address, _Handler)
