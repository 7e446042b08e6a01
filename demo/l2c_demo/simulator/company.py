"""DemoCompany: the public face of the simulator."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from l2c_demo.simulator.approvals import (
    ApprovalRequest,
    Contract,
    build_approvals_and_contracts,
)
from l2c_demo.simulator.certinia import OBJECTS as CERTINIA_OBJECTS
from l2c_demo.simulator.certinia import (
    CertiniaInvoice,
    build_certinia,
    certinia_truth,
    render_certinia,
)
from l2c_demo.simulator.clock import from_unix, to_unix
from l2c_demo.simulator.config import SimConfig
from l2c_demo.simulator.model import World
from l2c_demo.simulator.orders import SalesOrder, build_orders
from l2c_demo.simulator.render_oracle_cx import OracleCxView, render_oracle_cx
from l2c_demo.simulator.render_pipedrive import render_pipedrive
from l2c_demo.simulator.render_salesforce import SalesforceView, render_salesforce
from l2c_demo.simulator.render_stripe import render_stripe
from l2c_demo.simulator.render_zendesk_sell import ZendeskSellView, render_zendesk_sell
from l2c_demo.simulator.sell_renewals import renewal_truth
from l2c_demo.simulator.state import DealState, deal_state
from l2c_demo.simulator.truth import build_truth, expansion_cohort_truth
from l2c_demo.simulator.views import PipedriveView, StripeView
from l2c_demo.simulator.world import build_world


class DemoCompany:
    """A deterministic company whose API-visible state is rendered as of a moving date."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.world: World = build_world(self.config)
        self._as_of = to_unix(self.config.as_of)
        self._lock = threading.RLock()
        self._pd: dict[int, tuple[PipedriveView, dict[int, DealState]]] = {}
        self._stripe: dict[int, StripeView] = {}
        self._oracle_cx: dict[int, OracleCxView] = {}
        self._salesforce: dict[int, SalesforceView] = {}
        self._states: dict[int, dict[int, DealState]] = {}
        self._zendesk_sell: dict[int, ZendeskSellView] = {}
        self.orders: list[SalesOrder] = build_orders(self.world, self.config.seed)
        self.approvals: list[ApprovalRequest]
        self.contracts: list[Contract]
        self.approvals, self.contracts = build_approvals_and_contracts(self.world, self.config)
        self.certinia: list[CertiniaInvoice] = build_certinia(self.world, self.config)

    @property
    def as_of(self) -> datetime:
        return from_unix(self._as_of)

    @property
    def as_of_unix(self) -> int:
        return self._as_of

    def advance(self, days: float = 0, *, seconds: float = 0) -> datetime:
        """Move as_of forward (never backward); return the new as_of."""
        delta = int(timedelta(days=days, seconds=seconds).total_seconds())
        if delta < 0:
            raise ValueError("advance() only moves forward")
        with self._lock:
            self._as_of += delta
        return self.as_of

    def _pipedrive(self, as_of: int) -> tuple[PipedriveView, dict[int, DealState]]:
        with self._lock:
            if as_of not in self._pd:
                self._pd[as_of] = render_pipedrive(self.world, as_of)
            return self._pd[as_of]

    def pipedrive_view(self) -> PipedriveView:
        return self._pipedrive(self._as_of)[0]

    def stripe_view(self) -> StripeView:
        with self._lock:
            as_of = self._as_of
            if as_of not in self._stripe:
                self._stripe[as_of] = render_stripe(self.world, as_of)
            return self._stripe[as_of]

    def oracle_cx_view(self) -> OracleCxView:
        """The oracle_cx business unit as Oracle CX Sales REST shows it at as_of."""
        with self._lock:
            as_of = self._as_of
            if as_of not in self._oracle_cx:
                self._oracle_cx[as_of] = render_oracle_cx(self.world, as_of)
            return self._oracle_cx[as_of]

    def salesforce_view(self) -> SalesforceView:
        """The salesforce business unit as the Salesforce REST API shows it at as_of (an org
        with Salesforce CPQ when SimConfig.extra["salesforce_cpq"] is true)."""
        with self._lock:
            as_of = self._as_of
            if as_of not in self._salesforce:
                cpq = bool(self.config.extra.get("salesforce_cpq", False))
                self._salesforce[as_of] = render_salesforce(
                    self.world,
                    as_of,
                    self.orders,
                    cpq=cpq,
                    approvals=self.approvals,
                    contracts=self.contracts,
                )
                if self.certinia:
                    self._install_certinia(self._salesforce[as_of])
            return self._salesforce[as_of]

    def _install_certinia(self, view: SalesforceView) -> None:
        """Certinia's objects in the Salesforce org (its managed package is installed)."""
        view.packages.update(CERTINIA_OBJECTS)
        view.objects.update(render_certinia(self.certinia, view.as_of))

    def zendesk_sell_view(self) -> ZendeskSellView:
        """The zendesk_sell business unit as Zendesk Sell's Core API shows it at as_of."""
        with self._lock:
            as_of = self._as_of
            if as_of not in self._zendesk_sell:
                self._zendesk_sell[as_of] = render_zendesk_sell(
                    self.world, as_of, self.orders, self.deal_states()
                )
            return self._zendesk_sell[as_of]

    def ground_truth(self) -> dict[str, Any]:
        with self._lock:
            as_of = self._as_of
            view, _ = self._pipedrive(as_of)
            truth = build_truth(
                self.world,
                self.config,
                as_of,
                view,
                self.deal_states(),
                self.stripe_view(),
                self.orders,
                self.approvals,
                self.contracts,
            )
            if self.certinia:
                truth["certinia"] = certinia_truth(self.world, self.certinia, as_of)
            if self.world.sell_contracts:
                truth["zendesk_sell_renewals"] = renewal_truth(self.world.sell_contracts, as_of)
            if self.world.subscriptions:
                truth["expansion_cohort"] = expansion_cohort_truth(self.config, self.world)
            return truth

    def deal_states(self) -> dict[int, DealState]:
        """State at as_of of every deal that exists by then, in every CRM."""
        with self._lock:
            as_of = self._as_of
            if as_of not in self._states:
                self._states[as_of] = {
                    d.id: deal_state(d, as_of) for d in self.world.deals if d.add_time <= as_of
                }
            return self._states[as_of]

    def write_ground_truth(self, path: str | Path) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.ground_truth(), indent=1, sort_keys=True))
        return out
