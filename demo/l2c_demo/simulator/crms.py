"""The CRM systems a business unit of the demo company can sell with, and how each one
names the objects that Stripe metadata points back to.

Every system renders the same abstract deals (l2c_demo.simulator.model) in its own API shape; the
ids here are the ones that system shows for them, so the ground truth and the Stripe metadata
agree with what its API serves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id(prefix: str, n: int) -> str:
    """An 18-character Salesforce record id: 3-char key prefix, 12 base62 digits of n and the
    3-character case-safe suffix Salesforce computes from the 15-character id."""
    digits = ""
    value = n
    while value:
        value, rem = divmod(value, 62)
        digits = _BASE62[rem] + digits
    short = prefix + digits.rjust(12, "0")
    suffix = ""
    for chunk in range(3):
        bits = 0
        for pos, char in enumerate(short[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << pos
        suffix += _SUFFIX[bits]
    return short + suffix


def oracle_id(kind: int, n: int) -> int:
    """Oracle CX Sales ids are large integers (300000000000000-style), one block per kind."""
    return 300_000_000_000_000 + kind * 1_000_000_000 + n


@dataclass(frozen=True)
class CrmSystem:
    """How one CRM names a deal and an account, and the Stripe metadata keys that carry them."""

    system: str
    deal_metadata_key: str
    account_metadata_key: str
    deal_ref: Callable[[int], str]
    account_ref: Callable[[int], str]


CRMS: dict[str, CrmSystem] = {
    "pipedrive": CrmSystem("pipedrive", "pipedrive_deal_id", "pipedrive_org_id", str, str),
    "salesforce": CrmSystem(
        "salesforce",
        "salesforce_opportunity_id",
        "salesforce_account_id",
        lambda n: salesforce_id("006", n),
        lambda n: salesforce_id("001", n),
    ),
    "oracle_cx": CrmSystem(
        "oracle_cx",
        "oracle_opty_id",
        "oracle_party_id",
        lambda n: str(oracle_id(1, n)),
        lambda n: str(oracle_id(2, n)),
    ),
    "zendesk_sell": CrmSystem(
        "zendesk_sell", "zendesk_deal_id", "zendesk_contact_id", str, lambda n: str(n)
    ),
}

ALL_CRMS: tuple[str, ...] = ("pipedrive", "salesforce", "oracle_cx", "zendesk_sell")

# the demo company's share of accounts per business unit, when that CRM is included
CRM_WEIGHTS: dict[str, float] = {
    "pipedrive": 0.4,
    "salesforce": 0.3,
    "oracle_cx": 0.15,
    "zendesk_sell": 0.15,
}


def crm(system: str) -> CrmSystem:
    try:
        return CRMS[system]
    except KeyError:
        raise ValueError(f"unknown CRM {system!r}; known: {', '.join(CRMS)}") from None


def case_id(system: str, deal_id: int) -> str:
    """The warehouse's case key of a deal: `<system>:<id as that CRM shows it>`."""
    return f"{system}:{crm(system).deal_ref(deal_id)}"
