"""Transport-free request handling: auth, faults, malformed records, routing, admin."""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from collections.abc import Callable, Mapping
from email.utils import formatdate
from typing import Any

from l2c_demo.fake_api.faults import Fault, FaultBook
from l2c_demo.fake_api.network import VendorNetwork
from l2c_demo.fake_api.pipedrive_api import PipedriveApi
from l2c_demo.fake_api.protocols import Patcher, SystemApi
from l2c_demo.fake_api.responses import (
    DROP_CONNECTION,
    ApiError,
    Response,
    pipedrive_error,
    stripe_error,
)
from l2c_demo.fake_api.stripe_api import StripeApi
from l2c_demo.fake_api.systems import EXTRA_SYSTEMS
from l2c_demo.simulator import DemoCompany
from l2c_demo.simulator.views import Record

LogEntry = tuple[str, str, dict[str, str]]


class FakeApp:
    def __init__(
        self,
        company: DemoCompany,
        pipedrive_token: str,
        stripe_key: str,
        on_shutdown: Callable[[], None] | None = None,
    ) -> None:
        self.company = company
        self.pipedrive_token = pipedrive_token
        self.stripe_key = stripe_key
        self.faults = FaultBook()
        self.network = VendorNetwork()
        self.on_shutdown = on_shutdown
        # set by the server: the dlt env vars that point every source at it
        self.source_env: Callable[[], dict[str, str]] | None = None
        self._pipedrive = PipedriveApi()
        self._stripe = StripeApi()
        self.systems: dict[str, SystemApi] = {name: make() for name, make in EXTRA_SYSTEMS.items()}
        self._lock = threading.Lock()
        self._log: list[LogEntry] = []
        self._malformed: dict[tuple[str, str], dict[str, Any]] = {}

    # ---- state shared with tests ------------------------------------------
    @property
    def request_log(self) -> list[LogEntry]:
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def malform(self, resource: str, record_id: Any, field: str, value: Any) -> None:
        with self._lock:
            self._malformed.setdefault((resource, str(record_id)), {})[field] = value

    def _patcher(self, system: str) -> Patcher:
        with self._lock:
            rules = {k: dict(v) for k, v in self._malformed.items()}

        def patch(name: str, rows: list[Record], key: str = "id") -> list[Record]:
            """Apply the rules of resource `<system>.<name>` to the rows whose `key` field
            (`id`, or e.g. Salesforce's `Id`) is a rule's record id."""
            if not rules:
                return rows
            resource = f"{system}.{name}"
            out = []
            for row in rows:
                fields = rules.get((resource, str(row.get(key))))
                out.append(_apply(row, fields) if fields else row)
            return out

        return patch

    # ---- request entry ----------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], body: bytes
    ) -> Response:
        with self._lock:
            self._log.append((method, path, dict(query)))
        if path.startswith("/__admin/"):
            return self._admin(method, path, query, body)
        system = path.strip("/").split("/", 1)[0]
        if system in ("pipedrive", "stripe") or system in self.systems:
            rejection, limit_headers = self.network.admit(system, path[len(system) + 1 :])
            self.network.wait()
            if rejection is not None:
                return rejection
            resp = self._answer(method, path, query, headers, body)
            resp.headers.update(limit_headers)
            return resp
        return self._answer(method, path, query, headers, body)

    def _answer(
        self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], body: bytes
    ) -> Response:
        fault = self.faults.take(method, path)
        if fault is not None:
            if fault.delay_seconds:
                time.sleep(fault.delay_seconds)
            if fault.answers:
                return _fault_response(path, fault, self._system_of(path))
        if path == "/pipedrive" or path.startswith("/pipedrive/"):
            return self._pipedrive_request(method, path[len("/pipedrive") :], query, headers)
        if path == "/stripe" or path.startswith("/stripe/"):
            return self._stripe_request(method, path[len("/stripe") :], query, headers)
        api = self._system_of(path)
        if api is not None:
            return self._system_request(api, method, path, query, headers, body)
        return Response(404, {"error": "not found", "path": path})

    def _system_of(self, path: str) -> SystemApi | None:
        name = path.strip("/").split("/", 1)[0]
        return self.systems.get(name)

    def _system_request(
        self,
        api: SystemApi,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        if not api.authorized(headers, query):
            return api.error(401, "unauthorized")
        relative = path[len(api.system) + 1 :]
        try:
            return api.handle(
                self.company, method, relative, query, headers, body, self._patcher(api.system)
            )
        except ApiError as err:
            return api.error(err.status, err.message)

    def _pipedrive_request(
        self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str]
    ) -> Response:
        token = headers.get("x-api-token") or query.get("api_token")
        if token != self.pipedrive_token:
            return pipedrive_error(401, "unauthorized")
        if method != "GET":
            return pipedrive_error(405, f"Method {method} not allowed")
        try:
            view = self.company.pipedrive_view()
            return self._pipedrive.handle(view, path, query, self._patcher("pipedrive"))
        except ApiError as err:
            return pipedrive_error(err.status, err.message)

    def _stripe_request(
        self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str]
    ) -> Response:
        if _stripe_key(headers.get("authorization", "")) != self.stripe_key:
            return stripe_error(401, "Invalid API Key provided.")
        if method != "GET":
            return stripe_error(405, f"Method {method} not allowed")
        try:
            view = self.company.stripe_view()
            resp = self._stripe.handle(view, path, query, self._patcher("stripe"))
            # Stripe's clock is the company's: a loader reads "now" from the Date header
            resp.headers.setdefault("Date", formatdate(view.as_of, usegmt=True))
            return resp
        except ApiError as err:
            return stripe_error(err.status, err.message, err.param)

    def _admin(self, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
        name = path[len("/__admin/") :]
        if name == "advance" and method == "POST":
            as_of = self.company.advance(days=float(query.get("days", "1")))
            return Response(200, {"as_of": as_of.isoformat()})
        if name == "fault" and method == "POST":
            try:
                self.faults.add(Fault.from_json(json.loads(body or b"{}")))
            except (ValueError, TypeError) as exc:
                return Response(400, {"error": str(exc)})
            return Response(200, {"ok": True})
        if name == "malform" and method == "POST":
            data = json.loads(body or b"{}")
            self.malform(data["resource"], data["record_id"], data["field"], data.get("value"))
            return Response(200, {"ok": True})
        if name == "ground_truth" and method == "GET":
            return Response(200, self.company.ground_truth())
        if name == "source_env" and method == "GET" and self.source_env is not None:
            return Response(200, self.source_env())
        if name == "as_of" and method == "GET":
            return Response(200, {"as_of": self.company.as_of.isoformat()})
        if name == "shutdown" and method == "POST":
            if self.on_shutdown is not None:
                # answer first: the process may exit as soon as the server stops
                threading.Timer(0.3, self.on_shutdown).start()
            return Response(200, {"ok": True})
        return Response(404, {"error": "unknown admin endpoint", "path": path})


def _apply(row: Record, fields: dict[str, Any]) -> Record:
    out = copy.deepcopy(row)
    for dotted, value in fields.items():
        target = out
        *parents, leaf = dotted.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return out


def _stripe_key(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip()).decode().split(":", 1)[0]
        except ValueError:
            return None
    return None


def _fault_response(path: str, fault: Fault, api: SystemApi | None) -> Response:
    if fault.drop_connection:
        return Response(DROP_CONNECTION, None)
    if fault.location is not None:
        return Response(fault.status or 301, {}, {"Location": fault.location})
    if fault.body is not None:
        return Response(fault.status or 200, fault.body.encode())
    status = fault.status or 500
    message = "Rate limit exceeded" if status == 429 else "Injected server error"
    if api is not None:
        resp = api.error(status, message)
    elif path.startswith("/stripe"):
        resp = stripe_error(status, message)
    elif path.startswith("/pipedrive"):
        resp = pipedrive_error(status, message)
    else:
        resp = Response(status, {"error": message})
    if fault.retry_after is not None or status == 429:
        retry = fault.retry_after if fault.retry_after is not None else 1
        resp.headers["Retry-After"] = str(int(retry) if float(retry).is_integer() else retry)
    return resp
