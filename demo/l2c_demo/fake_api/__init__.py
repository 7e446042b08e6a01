"""Local HTTP server that behaves like the Pipedrive and Stripe APIs for a DemoCompany."""

from l2c_demo.fake_api.faults import Fault
from l2c_demo.fake_api.server import FakeApiServer

__all__ = ["FakeApiServer", "Fault"]
