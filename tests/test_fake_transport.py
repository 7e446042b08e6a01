"""The fake APIs' HTTP server (the standard library's, threaded): keep-alive, HEAD,
Connection: close, bad requests, POST bodies, non-finite floats as json.dumps writes them."""

from __future__ import annotations

import http.client
import json
import math
import socket
from collections.abc import Iterator

import pytest

from l2c_demo.fake_api import FakeApiServer
from l2c_demo.simulator import DemoCompany, SimConfig


@pytest.fixture(scope="module")
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(DemoCompany(SimConfig(seed=5, n_deals=40))) as srv:
        yield srv


def _headers(srv: FakeApiServer) -> dict[str, str]:
    return {"x-api-token": srv.pipedrive_token}


def test_keep_alive_serves_many_requests_on_one_connection(server: FakeApiServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/pipedrive/api/v2/stages", headers=_headers(server))
        first = conn.getresponse()
        body = json.loads(first.read())
        sock = conn.sock
        conn.request("GET", "/pipedrive/api/v2/stages", headers=_headers(server))
        second = conn.getresponse()
        assert json.loads(second.read()) == body
        assert conn.sock is sock  # the same connection
        assert first.getheader("Content-Type") == "application/json"
        assert int(first.getheader("Content-Length") or 0) > 0
    finally:
        conn.close()


def test_head_answers_headers_only(server: FakeApiServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("HEAD", "/__admin/as_of")
        head = conn.getresponse()
        assert head.read() == b""
        conn.request("GET", "/__admin/as_of")
        got = conn.getresponse()
        payload = got.read()
        assert head.status == got.status == 200
        assert int(head.getheader("Content-Length") or -1) == len(payload)
    finally:
        conn.close()


def _raw(srv: FakeApiServer, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_connection_close_and_http10_close_after_the_response(server: FakeApiServer) -> None:
    reply = _raw(server, b"GET /__admin/as_of HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in reply
    reply = _raw(server, b"GET /__admin/as_of HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")


def test_bad_requests_are_answered(server: FakeApiServer) -> None:
    assert _raw(server, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert _raw(server, b"BREW /coffee HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 501 ")


def test_post_bodies_reach_the_app(server: FakeApiServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        fault = {"path_prefix": "/pipedrive/nowhere", "status": 500, "times": 1}
        conn.request("POST", "/__admin/fault", body=json.dumps(fault))
        assert json.loads(conn.getresponse().read()) == {"ok": True}
        conn.request("POST", "/__admin/fault", body=json.dumps({"bogus": 1}))
        answer = conn.getresponse()
        assert answer.status == 400
        answer.read()
    finally:
        server.clear_faults()
        conn.close()


def test_nonfinite_floats_are_written_as_json_dumps_writes_them() -> None:
    with FakeApiServer(DemoCompany(SimConfig(seed=5, n_deals=40))) as server:
        deal = server.company.pipedrive_view().deals[0]["id"]
        server.malform("pipedrive.deals", deal, "value", math.inf)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request("GET", f"/pipedrive/api/v2/deals/{deal}", headers=_headers(server))
            assert b'"value": Infinity' in conn.getresponse().read()
        finally:
            conn.close()
