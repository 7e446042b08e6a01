"""Deterministic demo company that sells with Pipedrive and bills with Stripe."""

from l2c_demo.simulator.company import DemoCompany
from l2c_demo.simulator.config import SimConfig
from l2c_demo.simulator.views import PipedriveView, StripeView

__all__ = ["DemoCompany", "PipedriveView", "SimConfig", "StripeView"]
