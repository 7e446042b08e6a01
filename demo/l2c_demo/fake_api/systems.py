"""How the fake server hosts an API beyond Pipedrive and Stripe.

A system module (e.g. demo/l2c_demo/fake_api/salesforce_api.py) defines a class implementing
`SystemApi` and registers a factory in `EXTRA_SYSTEMS` (bottom of this file). The server
then routes `/<system>/...` to it, applies faults and malformed-record patches to it like to
the built-in APIs, and `FakeApiServer.source_env()` returns the dlt environment variables that
point the system's source at it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from l2c_demo.fake_api.protocols import Patcher, SystemApi

__all__ = ["EXTRA_SYSTEMS", "HOSTED_BY", "Patcher", "SystemApi"]

# Systems with no API of their own: their objects live in another system's API (Certinia is a
# managed package of the Salesforce org; its source reads the /salesforce SOQL endpoint).
HOSTED_BY: Mapping[str, str] = {"certinia": "salesforce"}


def _extra_systems() -> dict[str, Callable[[], SystemApi]]:
    # Register additional systems here (imports are local so a broken module names itself).
    from l2c_demo.fake_api.oracle_cx_api import OracleCxApi
    from l2c_demo.fake_api.salesforce_api import SalesforceApi
    from l2c_demo.fake_api.zendesk_sell_api import ZendeskSellApi

    return {"zendesk_sell": ZendeskSellApi, "oracle_cx": OracleCxApi, "salesforce": SalesforceApi}


EXTRA_SYSTEMS: Mapping[str, Callable[[], SystemApi]] = _extra_systems()
