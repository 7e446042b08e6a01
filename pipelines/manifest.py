"""The manifest of source systems: the one place that says which systems the warehouse knows.

Every registry is derived from it: the loader of each system (`pipelines.load`), the dbt
registry var `l2c_systems` that drives every `int_*_unioned` model (`l2c systems --write` writes
it into dbt_project.yml, and the jobs pass it to every dbt run), and the system table of the
README. A raw table's checks are not here: they are dbt data tests on the system's sources
(models/staging/<system>/_<system>__sources.yml), next to the table's description; a test
(tests/test_package.py) fails when a system of this manifest has none.

Each system also declares the canonical activities (seed activity_catalog) it can observe:
`observes` lists the activities its own events record ('Stage Entered: *' = every stage
entry), and a finance or erp system's `links_to` names the CRM systems whose cases its records
join (default: every CRM). For a case of CRM system S the observable activities are S's own
plus those of every loaded finance / erp system linking to S (docs/data-model.md, "What a
system cannot observe"); conformance never counts a step they cannot observe as skipped.
Leaving `observes` out derives it from the system's canonical entities (ENTITY_ACTIVITIES).

API systems are declared below. A file-drop system is declared by its mapping file alone
(pipelines/file_drops/<system>.yml): its kind, canonical entities and raw tables come from the
mapping, so adding one needs no Python.

    l2c systems                  list the systems
    l2c systems --write      rewrite the l2c_systems var of dbt_project.yml from here
    l2c systems --check          exit 1 when dbt_project.yml or the README disagree with here
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from pipelines.file_drop_mapping import FileDropMapping, load_mapping

FILE_DROPS_DIR = Path(__file__).resolve().parent / "file_drops"
# extra folders of file-drop mappings (os.pathsep-separated), for mappings kept outside the package
FILE_DROPS_ENV = "L2C_FILE_DROP_MAPPINGS"


# The activities the event models derive from each canonical entity when its staging model
# fills every column they read: the default of a system that does not declare `observes`.
# Stage entries need the stage history (a CRM without it has only the creation entry).
ENTITY_ACTIVITIES: Mapping[str, tuple[str, ...]] = {
    "leads": ("Lead Created", "Lead Disqualified"),
    "deals": ("Deal Created", "Deal Won", "Deal Lost"),
    "stage_changes": ("Stage Entered: *",),
    "quotes": ("Quote Sent", "Quote Accepted", "Quote Rejected"),
    "activities": ("Follow-up Activity",),
    "orders": ("Sales Order Created", "Order Fulfilled"),
    "invoices": ("Invoice Created", "Invoice Sent", "Invoice Paid", "Invoice Voided"),
    "payments": ("Payment Received",),
    "approval_steps": (
        "Quote Approval Requested",
        "Quote Approval Approved",
        "Quote Approval Rejected",
    ),
    "contracts": ("Contract Sent", "Contract Signed"),
    "invoice_lines": ("Revenue Recognized",),
    "owner_changes": ("Owner Changed",),
    "lead_qualifications": ("Lead Qualified",),
}
APPROVALS = ENTITY_ACTIVITIES["approval_steps"]
# Stripe Billing: subscriptions, collections (failed payments, write-offs), refunds, credit notes
AFTER_THE_SALE = (
    "Subscription Started",
    "Subscription Renewed",
    "Subscription Cancelled",
    "Payment Failed",
    "Invoice Written Off",
    "Refund Issued",
    "Credit Note Issued",
    "Subscription Changed",
    "Payment Retried",
    "Dispute Opened",
    "Dispute Closed",
    "Reminder Sent",
)
CONTRACTS = ENTITY_ACTIVITIES["contracts"]
# every finalized invoice line: ratably over its service period, else at the invoice's date
REVENUE_RECOGNITION = ENTITY_ACTIVITIES["invoice_lines"]


def observes_from_entities(entities: Sequence[str]) -> tuple[str, ...]:
    return tuple(a for e in entities for a in ENTITY_ACTIVITIES.get(e, ()))


@dataclass(frozen=True)
class SourceSystem:
    name: str  # raw_<name> schema, stg_<name>__* models, [sources.<name>] config section
    kind: str  # crm | finance | erp
    title: str
    loader: str  # "module:function" returning the dlt source (imported when loading)
    entities: tuple[str, ...]  # canonical entities its staging models output
    docs: str = ""
    file_drop: bool = False
    # canonical activities its events record; None: derived from `entities`
    observes: tuple[str, ...] | None = None
    # finance / erp: CRM systems whose cases its records join; None: every CRM
    links_to: tuple[str, ...] | None = None
    # finance: its invoices carry their deal as a native lookup of the CRM's own platform
    # (link_method `native`), not as metadata the company writes (`metadata`)
    native_links: bool = False

    @property
    def observed_activities(self) -> tuple[str, ...]:
        if self.observes is not None:
            return self.observes
        return observes_from_entities(self.entities)

    def source_factory(self) -> Callable[..., Any]:
        module, _, attribute = self.loader.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
        if self.file_drop:
            return factory(self.name)  # type: ignore[no-any-return]
        return factory  # type: ignore[no-any-return]


LEAD_DEAL = ("Lead Created", "Lead Disqualified", "Deal Created", "Deal Won", "Deal Lost")
LEAD_DEAL_STAGES = (*LEAD_DEAL, "Stage Entered: *")

CRM_ENTITIES = ("users", "teams", "team_members", "leads", "deals", "pipelines", "stages")

API_SYSTEMS: tuple[SourceSystem, ...] = (
    SourceSystem(
        "pipedrive",
        "crm",
        "Pipedrive",
        "pipelines.pipedrive:pipedrive_source",
        (
            *CRM_ENTITIES,
            "stage_changes",
            "quotes",
            "activities",
            "deal_lines",
            "deal_discounts",
            "owner_changes",
            "products",
            "product_categories",
        ),
        "",
        # quotes are done activities of a quote type: sent, never the customer's answer; no
        # lead status (no Lead Qualified) and no lead history (deal owner changes only)
        observes=(
            *LEAD_DEAL_STAGES,
            "Quote Sent",
            "Follow-up Activity",
            "First Contact",
            "Owner Changed",
        ),
    ),
    SourceSystem(
        "stripe",
        "finance",
        "Stripe",
        "pipelines.stripe:stripe_source",
        (
            "customers",
            "invoices",
            "payments",
            "subscriptions",
            "invoice_billing",
            "payment_failures",
            "refunds",
            "credit_notes",
            "subscription_changes",
            "disputes",
            "invoice_reminders",
            "invoice_lines",
        ),
        "",
        observes=(
            "Invoice Created",
            "Invoice Sent",
            "Payment Received",
            "Invoice Paid",
            "Invoice Voided",
            *AFTER_THE_SALE,
            *REVENUE_RECOGNITION,
        ),
    ),
    SourceSystem(
        "salesforce",
        "crm",
        "Salesforce",
        "pipelines.salesforce:salesforce_source",
        (
            *CRM_ENTITIES,
            "stage_changes",
            "quotes",
            "activities",
            "deal_lines",
            "orders",
            "approval_steps",
            "contracts",
            "campaigns",
            "campaign_members",
            "products",
            "owner_changes",
            "lead_qualifications",
        ),
        "docs/salesforce.md",
        observes=(
            *LEAD_DEAL_STAGES,
            "Lead Qualified",
            "First Contact",
            "Owner Changed",
            "Quote Created",
            "Quote Sent",
            "Quote Accepted",
            "Quote Rejected",
            "Follow-up Activity",
            "Sales Order Created",
            "Order Fulfilled",
            *APPROVALS,
            *CONTRACTS,
        ),
    ),
    SourceSystem(
        "zendesk_sell",
        "crm",
        "Zendesk Sell",
        "pipelines.zendesk_sell:zendesk_sell_source",
        (
            *CRM_ENTITIES,
            "stage_changes",
            "orders",
            "deal_lines",
            "deal_discounts",
            "activities",
            # recurring deals (contract custom fields) and their Renewals pipeline
            "subscriptions",
        ),
        "docs/zendesk-sell-history.md",
        # no quotes; orders without a fulfilment date; stage entries only as scheduled loads
        # saw them (moves between two loads are invisible), so a missing stage entry is no
        # evidence of a skipped stage. Calls on leads give First Contact (the Core API lists
        # no emails); leads show their current status and owner only (no history): no
        # qualification time, no owner change
        observes=(*LEAD_DEAL, "Sales Order Created", "First Contact"),
    ),
    SourceSystem(
        "oracle_cx",
        "crm",
        "Oracle CX Sales",
        "pipelines.oracle_cx:oracle_cx_source",
        (
            "users",
            "leads",
            "deals",
            "pipelines",
            "stages",
            "stage_changes",
            "deal_lines",
            "activities",
            "campaigns",
            "products",
            # lead memberships: the LeadCampaigns child expanded on the leads list
            "campaign_members",
        ),
        "docs/oracle-cx.md",
        # no quotes or orders; activities on leads give First Contact. Leads carry their
        # current StatusCode and OwnerId only (no history): no qualification time, no owner
        # change
        observes=(*LEAD_DEAL_STAGES, "First Contact"),
    ),
)


# Certinia: the accounting package on the Salesforce platform (the single-platform model)
API_SYSTEMS += (
    SourceSystem(
        "certinia",
        "finance",
        "Certinia",
        "pipelines.certinia:certinia_source",
        (
            "customers",
            "invoices",
            "payments",
            "credit_notes",
            "invoice_lines",
            "revenue_schedules",
            "invoice_write_offs",
            "refunds",
        ),
        "docs/certinia.md",
        # posted invoices only (no draft -> sent step), no voids; no payment attempts at all
        # (cash is recorded when received: no Payment Failed / Retried, no Reminder Sent);
        # write-offs from cash matching (invoice_write_offs); refunds: a Refund cash entry
        # matched to a credit note names the credited invoice, not the payment it returns
        # (refunds.invoice_key). Revenue: over the Revenue Management
        # schedule of a line (revenue_schedules) where there is one, else at the invoice's date
        observes=(
            "Invoice Created",
            "Invoice Sent",
            "Payment Received",
            "Invoice Paid",
            "Credit Note Issued",
            "Invoice Written Off",
            *REVENUE_RECOGNITION,
            "Refund Issued",
        ),
        # its invoices live in the Salesforce org, linked to opportunities by native lookups
        links_to=("salesforce",),
        native_links=True,
    ),
)


def _file_drop_system(mapping: FileDropMapping) -> SourceSystem:
    return SourceSystem(
        mapping.system,
        mapping.kind,
        "file drop",
        "pipelines.file_drop:file_drop",
        mapping.warehouse_entities,
        "docs/adding-a-source.md",
        file_drop=True,
        observes=mapping.observes,
        links_to=mapping.links_to,
    )


def mapping_files() -> list[Path]:
    folders = [FILE_DROPS_DIR]
    folders += [Path(p) for p in os.environ.get(FILE_DROPS_ENV, "").split(os.pathsep) if p]
    return sorted(path for folder in folders for path in folder.glob("*.yml"))


@cache
def _systems(mapping_paths: tuple[Path, ...]) -> dict[str, SourceSystem]:
    systems = {s.name: s for s in API_SYSTEMS}
    for path in mapping_paths:
        system = _file_drop_system(load_mapping(path))
        if system.name in systems:
            raise ValueError(f"{path}: system {system.name!r} is declared twice")
        systems[system.name] = system
    crms = {s.name for s in systems.values() if s.kind == "crm"}
    for s in systems.values():
        unknown = sorted(set(s.links_to or ()) - crms)
        if unknown:
            raise ValueError(f"system {s.name!r}: links_to names no CRM system: {unknown}")
    return systems


def systems() -> dict[str, SourceSystem]:
    """Every known system by name: the API systems, then the file drops found."""
    return _systems(tuple(mapping_files()))


def system(name: str) -> SourceSystem:
    known = systems()
    if name not in known:
        raise KeyError(f"unknown system {name!r}; known: {', '.join(sorted(known))}")
    return known[name]


def dbt_registry(names: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """The dbt var `l2c_systems`: kind, canonical entities and observed activities per system
    (and, for finance / erp systems, the CRM systems they link to)."""
    chosen = systems() if names is None else {n: system(n) for n in names}
    crms = [s.name for s in chosen.values() if s.kind == "crm"]
    out: dict[str, dict[str, Any]] = {}
    for s in chosen.values():
        entry: dict[str, Any] = {
            "kind": s.kind,
            "entities": list(s.entities),
            "observes": list(s.observed_activities),
        }
        if s.kind != "crm":
            entry["links_to"] = [c for c in (s.links_to or crms) if c in crms]
        if s.native_links:
            entry["native_links"] = True
        out[s.name] = entry
    return out


# ------------------------------------------------------------------ derived files

_DBT_BLOCK = re.compile(
    r"(  # BEGIN l2c_systems \(generated.*?\n)(.*?)(  # END l2c_systems\n)", re.S
)
_README_BLOCK = re.compile(
    r"(<!-- BEGIN systems table.*?-->\n)(.*?)(<!-- END systems table -->)", re.S
)


def dbt_block() -> str:
    body = yaml.safe_dump(
        {"l2c_systems": dbt_registry()}, sort_keys=False, default_flow_style=None, width=96
    )
    return "".join(f"  {line}\n" for line in body.splitlines())


def readme_table() -> str:
    rows = ["| system | kind | canonical entities | loader, docs |", "| --- | --- | --- | --- |"]
    for s in systems().values():
        where = f"`{s.loader.split(':')[0]}`" + (f", [{s.docs}]({s.docs})" if s.docs else "")
        rows.append(f"| `{s.name}` ({s.title}) | {s.kind} | {', '.join(s.entities)} | {where} |")
    return "\n".join(rows) + "\n"


def _rewrite(path: Path, pattern: re.Pattern[str], body: str) -> tuple[str, str]:
    text = path.read_text()
    match = pattern.search(text)
    if match is None:
        raise ValueError(f"{path}: the generated block's markers are missing")
    return text, text[: match.start(2)] + body + text[match.end(2) :]


def derived_files(root: Path) -> dict[Path, tuple[str, str]]:
    """(current, expected) text of each file generated from the manifest (a project copy
    without the README has only dbt_project.yml)."""
    files = {root / "dbt_project.yml": _rewrite(root / "dbt_project.yml", _DBT_BLOCK, dbt_block())}
    if (root / "README.md").exists():
        files[root / "README.md"] = _rewrite(root / "README.md", _README_BLOCK, readme_table())
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="l2c systems", description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the derived files")
    group.add_argument("--check", action="store_true", help="exit 1 if a derived file is stale")
    args = parser.parse_args(argv)
    if args.write or args.check:
        from l2c.paths import project_dir

        stale = []
        for path, (current, expected) in derived_files(project_dir()).items():
            if current != expected:
                stale.append(path)
                if args.write:
                    path.write_text(expected)
                    print(f"rewrote {path}")
        if args.check and stale:
            names = ", ".join(str(p) for p in stale)
            print(f"out of date with the manifest: {names} (run `l2c systems --write`)")
            return 1
        return 0
    for s in systems().values():
        print(f"{s.name:<14} {s.kind:<8} {s.title:<24} {', '.join(s.entities)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
