"""FakeApiServer: serves a DemoCompany over HTTP/1.1 on 127.0.0.1 in a background thread."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from l2c_demo.fake_api.app import FakeApp, LogEntry
from l2c_demo.fake_api.faults import Fault
from l2c_demo.fake_api.network import NetworkSettings
from l2c_demo.fake_api.transport import FakeHttpServer
from l2c_demo.simulator import DemoCompany


class FakeApiServer:
    """Local stand-in for the Pipedrive and Stripe APIs, backed by a DemoCompany."""

    def __init__(
        self,
        company: DemoCompany,
        port: int = 0,
        *,
        pipedrive_token: str = "demo-pipedrive-token",
        stripe_key: str = "sk_test_demo",
        network: NetworkSettings | None = None,
    ) -> None:
        """`network`: latency and vendor limits (default: none, answers at once)."""
        self.company = company
        self.pipedrive_token = pipedrive_token
        self.stripe_key = stripe_key
        self.app = FakeApp(company, pipedrive_token, stripe_key, on_shutdown=self.stop)
        app = self.app
        if network is not None:
            app.network.configure(network)
        self._httpd = FakeHttpServer(("127.0.0.1", port), app.handle)
        self.app.source_env = self.source_env
        self._thread: threading.Thread | None = None
        self.shutdown_event = threading.Event()
        self._stop_lock = threading.Lock()
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pipedrive_url(self) -> str:
        return self.base_url + "/pipedrive"

    @property
    def stripe_url(self) -> str:
        return self.base_url + "/stripe"

    def url_for(self, system: str) -> str:
        return f"{self.base_url}/{system}"

    def source_env(self) -> dict[str, str]:
        """dlt environment variables pointing every source at this server, with its demo
        credentials: how a user configures the real APIs, only with local URLs."""
        env = {
            "SOURCES__PIPEDRIVE__BASE_URL": self.pipedrive_url,
            "SOURCES__PIPEDRIVE__API_TOKEN": self.pipedrive_token,
            "SOURCES__STRIPE__BASE_URL": self.stripe_url,
            "SOURCES__STRIPE__API_KEY": self.stripe_key,
        }
        for name, api in self.app.systems.items():
            env.update(api.source_env(self.url_for(name)))
        network = self.app.network.settings
        for system in ("pipedrive", "stripe", *self.app.systems):
            key = f"SOURCES__{system.upper()}__REQUESTS_PER_SECOND"
            if not network.enforce_limits:
                env[key] = "0"  # no limits here: the loaders need not pace themselves
            elif system in network.rates:
                requests, seconds = network.rates[system]
                env[key] = str(requests / seconds)
        return env

    @property
    def request_log(self) -> list[LogEntry]:
        return self.app.request_log

    def clear_log(self) -> None:
        self.app.clear_log()

    def add_fault(self, fault: Fault) -> None:
        self.app.faults.add(fault)

    def clear_faults(self) -> None:
        self.app.faults.clear()

    def malform(self, resource: str, record_id: Any, field: str, value: Any) -> None:
        self.app.malform(resource, record_id, field, value)

    def render_views(self) -> None:
        """Render what the APIs serve (the views of the company's CRMs and Stripe, and every
        Pipedrive deal's flow) now rather than on the first request that needs it: a real API
        has its data at hand, and a load timed against this server should time the loader,
        not the simulator."""
        company = self.company
        for crm in company.config.crms:
            getattr(company, f"{crm}_view")()
        company.stripe_view()
        if "pipedrive" in company.config.crms:
            flows = company.pipedrive_view().flows
            for deal_id in flows:
                flows[deal_id]

    def start(self) -> FakeApiServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, name="fake-api", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() (used by the CLI)."""
        self._httpd.serve_forever()
        self.shutdown_event.set()

    def stop(self) -> None:
        """Stop serving (safe to call twice, from any thread but the serving one)."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.shutdown_event.set()

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
