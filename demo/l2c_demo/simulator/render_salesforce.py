"""Render the Salesforce objects visible at as_of, shaped like REST API (SOQL) records.

Only the business unit that sells with Salesforce is rendered: its users, accounts, contacts,
leads, opportunities and their children. Ids are 18-character Salesforce ids (crms.salesforce_id)
derived from the abstract ids, so a record keeps its id as the company moves on.

How the abstract company maps to Salesforce:
- Pipelines are Opportunity record types ("New Business", "Expansion", each with its sales
  process); abstract stages map to the org's StageName values (STAGE_NAMES). Won and lost are
  the closed stages "Closed Won" / "Closed Lost"; a reopened opportunity goes back to the stage
  it was closed in.
- OpportunityHistory gets a row at creation and one per change of stage, status (closing /
  reopening) or amount. API changes are made by the integration user.
- OpportunityFieldHistory tracks Owner (two rows per change, ids and names, as Salesforce
  writes for lookups), Loss_Reason__c and Discount_Percent__c, plus the `created` row.
- Opportunity products (OpportunityLineItem) are the deal lines; a deal-level discount is an
  "Additional Discount" line with a negative price, so Amount = sum of the line totals as
  Salesforce enforces. Every abstract quote is a Quote with its QuoteLineItems as of the quote
  (or, in an org with Salesforce CPQ, an SBQQ__Quote__c). The latest quote is synced.
- The last quote of a deal is Accepted when the deal is won and Denied (CPQ: Rejected) when it
  is lost, at the closing time; earlier quotes stay Presented.
- Leads (l2c_demo.simulator.leadphase): Status goes Open - Not Contacted -> Working -
  Contacted (first contact) -> Qualified (a status the org added) -> Closed - Converted /
  Closed - Not Converted; LeadHistory tracks Status and Owner (two rows per owner change, as
  for opportunities) plus the `created` row. The first contact is a completed Task on the
  lead (WhoId = the lead, no WhatId).
- Orders come from company.orders: Draft when created, Activated when fulfilled.
- Discount approvals (l2c_demo.simulator.approvals) go through an approval process on the
  Opportunity: one ProcessInstance per request (TargetObjectId = the opportunity, Pending until
  decided) with a Started step (actor: the submitter) and an Approved or Rejected step (actor:
  the approver). Pending work items (ProcessInstanceWorkitem) are not rendered.
- Contracts are created when sent for signature ("In Approval Process": out with the customer;
  CreatedDate / CreatedById = sent) and activated when signed (ActivatedDate / ActivatedById;
  CustomerSignedDate = its date, CustomerSignedId = the deal's contact). The opportunity is the
  custom lookup Opportunity__c.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from l2c_demo.simulator import clock
from l2c_demo.simulator.approvals import ApprovalRequest, Contract
from l2c_demo.simulator.catalog import (
    CAMPAIGNS,
    EXPANSION,
    NEW_BUSINESS,
    PIPELINES,
    PRODUCT_FAMILIES,
    PRODUCTS,
    STAGE_NAMES,
    STAGE_PROBABILITY,
)
from l2c_demo.simulator.clock import DAY
from l2c_demo.simulator.crms import CRMS, salesforce_id
from l2c_demo.simulator.model import Activity, Deal, FlowChange, Lead, Line, Org, World
from l2c_demo.simulator.orders import SalesOrder
from l2c_demo.simulator.salesforce_objects import CPQ_OBJECTS, CPQ_PREFIX, OBJECTS
from l2c_demo.simulator.state import DealState, deal_state
from l2c_demo.simulator.views import Record

SYSTEM = "salesforce"
API_VERSION = "62.0"
CLOSED_WON = "Closed Won"
CLOSED_LOST = "Closed Lost"
MASTER_RECORD_TYPE = "012000000000000AAA"
INTEGRATION_USER_N = 9000
_HISTORY_BASE = 500_000_000  # id numbers of rows that do not come from a flow change
_DISCOUNT_LINE_BASE = 100_000_000
_LEAD_HISTORY_BASE = 800_000_000  # LeadHistory id numbers: 8 per lead from here

STAGE_NAMES_SF: dict[str, str] = {
    "Lead In": "Prospecting",
    "Qualified": "Qualification",
    "Demo Scheduled": "Needs Analysis",
    "Proposal Made": "Proposal/Price Quote",
    "Negotiation": "Negotiation/Review",
    "Contract Sent": "Contract Sent",
}
# The org's OpportunityStage picklist: (name, probability, forecast category, closed, won)
ORG_STAGES: tuple[tuple[str, int, str, bool, bool], ...] = (
    *(
        (STAGE_NAMES_SF[s], STAGE_PROBABILITY[s], cat, False, False)
        for s, cat in (
            ("Lead In", "Pipeline"),
            ("Qualified", "Pipeline"),
            ("Demo Scheduled", "Pipeline"),
            ("Proposal Made", "BestCase"),
            ("Negotiation", "BestCase"),
            ("Contract Sent", "Forecast"),
        )
    ),
    (CLOSED_WON, 100, "Closed", True, True),
    (CLOSED_LOST, 0, "Omitted", True, False),
)
FORECAST_NAMES = {
    "Pipeline": "Pipeline",
    "BestCase": "Best Case",
    "Forecast": "Commit",
    "Closed": "Closed",
    "Omitted": "Omitted",
}
STAGE_INFO = {name: (prob, cat, closed, won) for name, prob, cat, closed, won in ORG_STAGES}
RECORD_TYPES: dict[str, tuple[int, str, str]] = {  # pipeline -> (n, developer name, Type)
    NEW_BUSINESS: (1, "New_Business", "New Customer"),
    EXPANSION: (2, "Expansion", "Existing Customer - Upgrade"),
}
LEAD_SOURCES = {
    "Web forms": "Web",
    "Prospector": "Purchased List",
    "Manually created": "Phone Inquiry",
    "Import": "Other",
}
LEAD_STATUS_OPEN = "Open - Not Contacted"
LEAD_STATUS_WORKING = "Working - Contacted"
LEAD_STATUS_QUALIFIED = "Qualified"  # a status the org added between working and closed
LEAD_STATUS_CONVERTED = "Closed - Converted"
LEAD_STATUS_DISQUALIFIED = "Closed - Not Converted"
TASK_TYPES = {"call": ("Call", "Call"), "email": ("Email", "Email"), "meeting": ("Meeting", "Task")}
DISCOUNT_PRODUCT = len(PRODUCTS)  # product index of the "Additional Discount" line


@dataclass
class SalesforceView:
    """Salesforce records visible at as_of, by SObject API name (SOQL field names)."""

    as_of: int
    cpq: bool = False
    objects: dict[str, list[Record]] = field(default_factory=dict)
    # RecordType Id -> StageName picklist values of its sales process (UI API shape)
    stage_picklists: dict[str, list[Record]] = field(default_factory=dict)
    # objects of installed managed packages (e.g. Certinia's c2g__ objects): name -> (key
    # prefix, custom, fields); their records are in `objects` like the standard ones
    packages: dict[str, tuple[str, bool, tuple[str, ...]]] = field(default_factory=dict)

    def describe(self) -> dict[str, tuple[str, bool, tuple[str, ...]]]:
        """The org's objects: API name -> (key prefix, custom, fields)."""
        return {**OBJECTS, **(CPQ_OBJECTS if self.cpq else {}), **self.packages}


def sf_datetime(ts: int | None) -> str | None:
    """Salesforce REST dateTime: 2025-01-02T10:11:12.000+0000."""
    if ts is None:
        return None
    return f"{clock.v2(ts)[:-1]}.000+0000"


def user_id(rep_id: int) -> str:
    return salesforce_id("005", rep_id)


def record_type_id(pipeline: str) -> str:
    return salesforce_id("012", RECORD_TYPES[pipeline][0])


def lead_id(index: int) -> str:
    return salesforce_id("00Q", index + 1)


def contact_id(person_id: int) -> str:
    return salesforce_id("003", person_id)


def product_id(index: int) -> str:
    return salesforce_id("01t", index + 1)


def quote_id(activity_id: int, cpq: bool = False) -> str:
    return salesforce_id(CPQ_PREFIX if cpq else "0Q0", activity_id)


INTEGRATION_USER = user_id(INTEGRATION_USER_N)


def _opp(deal_id: int) -> str:
    return CRMS[SYSTEM].deal_ref(deal_id)


def _account(org_id: int) -> str:
    return CRMS[SYSTEM].account_ref(org_id)


def _stamp(*times: int | None, as_of: int) -> int:
    return max(t for t in times if t is not None and t <= as_of)


# ---- reference data --------------------------------------------------------------------------
def _reference(world: World, view: SalesforceView) -> None:
    base = world.base_time
    created = sf_datetime(base)
    teams = {team_id: (name, manager) for team_id, name, manager in world.teams}
    users = view.objects.setdefault("User", [])
    for rep in world.reps:
        if rep.crm != SYSTEM:
            continue
        team_id = rep.team_index + 1
        manager = teams[team_id][1]
        first, _, last = rep.name.partition(" ")
        users.append(
            {
                "Id": user_id(rep.id),
                "Username": rep.email.replace("@", "@sf."),
                "Name": rep.name,
                "FirstName": first,
                "LastName": last,
                "Email": rep.email,
                "Alias": (first[:1] + last[:4]).lower(),
                "IsActive": True,
                "UserType": "Standard",
                "UserRoleId": salesforce_id("00E", team_id),
                "ManagerId": (
                    user_id(manager)
                    if manager != rep.id and world.reps[manager - 1].crm == SYSTEM
                    else None
                ),
                "TimeZoneSidKey": "Europe/Berlin",
                "CreatedDate": sf_datetime(rep.created),
                "LastModifiedDate": sf_datetime(rep.created),
                "SystemModstamp": sf_datetime(rep.created),
            }
        )
    users.append(
        {
            "Id": INTEGRATION_USER,
            "Username": "integration@sf.demo-company.example",
            "Name": "Integration User",
            "FirstName": "Integration",
            "LastName": "User",
            "Email": "integration@demo-company.example",
            "Alias": "integ",
            "IsActive": True,
            "UserType": "Standard",
            "UserRoleId": None,
            "ManagerId": None,
            "TimeZoneSidKey": "GMT",
            "CreatedDate": created,
            "LastModifiedDate": created,
            "SystemModstamp": created,
        }
    )
    view.objects["UserRole"] = [
        {
            "Id": salesforce_id("00E", team_id),
            "Name": name,
            "DeveloperName": name.replace(" ", "_"),
            "ParentRoleId": None,
            "ForecastUserId": user_id(manager) if world.reps[manager - 1].crm == SYSTEM else None,
            "RollupDescription": name,
            "LastModifiedDate": created,
            "SystemModstamp": created,
        }
        for team_id, (name, manager) in teams.items()
    ]
    view.objects["RecordType"] = [
        {
            "Id": record_type_id(pipeline),
            "Name": pipeline,
            "DeveloperName": dev_name,
            "SobjectType": "Opportunity",
            "IsActive": True,
            "Description": f"{pipeline} sales process",
            "BusinessProcessId": salesforce_id("019", n),
            "CreatedDate": created,
            "LastModifiedDate": created,
            "SystemModstamp": created,
        }
        for pipeline, (n, dev_name, _type) in RECORD_TYPES.items()
    ]
    view.objects["OpportunityStage"] = [
        {
            "Id": salesforce_id("01J", order),
            "MasterLabel": name,
            "ApiName": name,
            "IsActive": True,
            "SortOrder": order,
            "IsClosed": closed,
            "IsWon": won,
            "DefaultProbability": prob,
            "ForecastCategory": cat,
            "ForecastCategoryName": FORECAST_NAMES[cat],
            "Description": None,
            "CreatedDate": created,
            "LastModifiedDate": created,
            "SystemModstamp": created,
        }
        for order, (name, prob, cat, closed, won) in enumerate(ORG_STAGES, start=1)
    ]
    for pipeline in RECORD_TYPES:
        names = [STAGE_NAMES_SF[s] for s in PIPELINES[pipeline]] + [CLOSED_WON, CLOSED_LOST]
        view.stage_picklists[record_type_id(pipeline)] = [picklist_value(n) for n in names]
    products = [
        (name, code, family)
        for (name, code, _unit, _price), family in zip(PRODUCTS, PRODUCT_FAMILIES, strict=True)
    ]
    products.append(("Additional Discount", "DISC", "Discounts"))
    view.objects["Product2"] = [
        {
            "Id": product_id(index),
            "Name": name,
            "ProductCode": code,
            "Family": family,
            "IsActive": True,
            "CreatedDate": created,
            "LastModifiedDate": created,
            "SystemModstamp": created,
        }
        for index, (name, code, family) in enumerate(products)
    ]


def picklist_value(name: str) -> Record:
    prob, cat, closed, won = STAGE_INFO[name]
    return {
        "attributes": {
            "closed": closed,
            "defaultProbability": prob,
            "forecastCategoryName": FORECAST_NAMES[cat],
            "picklistAtrributesValueType": "OpportunityStage",
            "won": won,
        },
        "label": name,
        "validFor": [],
        "value": name,
    }


# ---- accounts, contacts, leads ----------------------------------------------------------------
def _accounts(world: World, view: SalesforceView, as_of: int) -> None:
    accounts = view.objects.setdefault("Account", [])
    contacts = view.objects.setdefault("Contact", [])
    orgs = sorted((o for o in world.orgs if o.crm == SYSTEM), key=lambda o: o.id)
    for org in orgs:
        if org.add_time > as_of:
            continue
        stamp = sf_datetime(_stamp(*org.update_times, as_of=as_of))
        accounts.append(
            {
                "Id": _account(org.id),
                "Name": org.name,
                "OwnerId": user_id(org.owner_id),
                "Type": "Customer - Direct",
                "Industry": org.name.split()[-2] if len(org.name.split()) > 2 else None,
                "BillingCity": org.city,
                "BillingCountry": org.country,
                "CurrencyIsoCode": "EUR",
                "CreatedDate": sf_datetime(org.add_time),
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
                "IsDeleted": False,
            }
        )
    sf_orgs = {o.id for o in orgs}
    for person in world.persons:
        if person.add_time > as_of or person.org_id not in sf_orgs:
            continue
        first, _, last = person.name.partition(" ")
        stamp = sf_datetime(_stamp(*person.update_times, as_of=as_of))
        contacts.append(
            {
                "Id": contact_id(person.id),
                "AccountId": _account(person.org_id),
                "OwnerId": user_id(person.owner_id),
                "FirstName": first,
                "LastName": last,
                "Name": person.name,
                "Email": person.email,
                "Phone": person.phone,
                "CreatedDate": sf_datetime(person.add_time),
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
                "IsDeleted": False,
            }
        )


def _lead_record(world: World, index: int, lead: Lead, orgs: dict[int, Org], as_of: int) -> Record:
    person = world.persons[lead.person_id - 1]
    org = orgs[lead.org_id]
    first, _, last = person.name.partition(" ")
    closed = lead.archived_at is not None and lead.archived_at <= as_of
    converted = closed and (lead.converted_deal_id is not None or lead.converted_without_deal)
    seen = lead.seen_at is not None and lead.seen_at <= as_of
    changes = [lead.add_time]
    if seen and lead.seen_at is not None and (not closed or lead.seen_at < (lead.archived_at or 0)):
        changes.append(lead.seen_at)
    if closed and lead.archived_at is not None:
        changes.append(lead.archived_at)
    statuses = _lead_statuses(lead, as_of)
    changes += [ts for ts, _ in statuses]
    if lead.reassigned_at is not None and lead.reassigned_at <= as_of:
        changes.append(lead.reassigned_at)
    status = statuses[-1][1] if statuses else LEAD_STATUS_OPEN
    stamp = sf_datetime(max(changes))
    deal_ref = _opp(lead.converted_deal_id) if converted and lead.converted_deal_id else None
    return {
        "Id": lead_id(index),
        "FirstName": first,
        "LastName": last,
        "Name": person.name,
        "Company": org.name,
        "Email": person.email,
        "Country": org.country,
        "Status": status,
        "LeadSource": LEAD_SOURCES.get(lead.source_name, "Other"),
        "OwnerId": user_id(lead.owner_at(as_of)),
        "IsConverted": converted,
        "ConvertedDate": clock.date(lead.archived_at) if converted else None,
        "ConvertedOpportunityId": deal_ref,
        "ConvertedAccountId": _account(lead.org_id) if converted else None,
        "ConvertedContactId": contact_id(person.id) if converted else None,
        "CreatedDate": sf_datetime(lead.add_time),
        "LastModifiedDate": stamp,
        "SystemModstamp": stamp,
        "IsDeleted": False,
    }


def _lead_statuses(lead: Lead, as_of: int) -> list[tuple[int, str]]:
    """The lead's Status changes by as_of: contacted (Working), Qualified, then closed
    (converted or not); nothing after the close."""
    end = lead.archived_at
    converted = lead.converted_deal_id is not None or lead.converted_without_deal
    steps = [
        (lead.first_contact_at, LEAD_STATUS_WORKING),
        (lead.qualified_at, LEAD_STATUS_QUALIFIED),
    ]
    out = [
        (ts, status)
        for ts, status in steps
        if ts is not None and ts <= as_of and (end is None or ts < end)
    ]
    if end is not None and end <= as_of:
        out.append((end, LEAD_STATUS_CONVERTED if converted else LEAD_STATUS_DISQUALIFIED))
    return out


def _lead_history(world: World, index: int, lead: Lead, as_of: int) -> list[Record]:
    """LeadHistory: the created row, each Status change (by the owner at the time) and an
    owner change (two rows, ids and names, by the former owner)."""
    ref = lead_id(index)
    base = _LEAD_HISTORY_BASE + 8 * index
    rows: list[Record] = []

    def row(n: int, ts: int, by: int, name: str, kind: str | None, old: Any, new: Any) -> None:
        rows.append(
            {
                "Id": salesforce_id("017", base + n),
                "LeadId": ref,
                "Field": name,
                "DataType": kind,
                "OldValue": old,
                "NewValue": new,
                "CreatedDate": sf_datetime(ts),
                "CreatedById": user_id(by),
                "IsDeleted": False,
            }
        )

    row(0, lead.add_time, lead.owner_id, "created", None, None, None)
    previous = LEAD_STATUS_OPEN
    for n, (ts, status) in enumerate(_lead_statuses(lead, as_of), start=1):
        row(n, ts, lead.owner_at(ts), "Status", "Picklist", previous, status)
        previous = status
    moved, new_owner = lead.reassigned_at, lead.reassigned_to
    if moved is not None and new_owner and moved <= as_of:
        old, new = world.reps[lead.owner_id - 1], world.reps[new_owner - 1]
        row(5, moved, old.id, "Owner", "EntityId", user_id(old.id), user_id(new.id))
        row(6, moved, old.id, "Owner", "Text", old.name, new.name)
    return rows


def _lead_task(index: int, lead: Lead, as_of: int) -> Record | None:
    """The lead's first contact: a completed call or email Task on the lead (WhoId)."""
    at = lead.first_contact_at
    if at is None or at > as_of or lead.first_contact_by is None:
        return None
    kind, subtype = TASK_TYPES[lead.first_contact_kind]
    return {
        "Id": salesforce_id("00T", lead.contact_activity_id),
        "Subject": f"First {lead.first_contact_kind} with the lead",
        "Type": kind,
        "TaskSubtype": subtype,
        "Status": "Completed",
        "IsClosed": True,
        "Priority": "Normal",
        "WhatId": None,
        "WhoId": lead_id(index),
        "AccountId": None,
        "OwnerId": user_id(lead.first_contact_by),
        "ActivityDate": clock.date(at),
        "CompletedDateTime": sf_datetime(at),
        "CreatedDate": sf_datetime(at),
        "LastModifiedDate": sf_datetime(at),
        "SystemModstamp": sf_datetime(at),
        "IsDeleted": False,
    }


def _leads(world: World, view: SalesforceView, as_of: int) -> None:
    orgs = {org.id: org for org in world.orgs}
    rows = [
        _lead_record(world, index, lead, orgs, as_of)
        for index, lead in enumerate(world.leads)
        if lead.crm == SYSTEM and lead.add_time <= as_of
    ]
    rows.sort(key=lambda r: (r["CreatedDate"], r["Id"]))
    view.objects["Lead"] = rows
    history: list[Record] = []
    tasks = view.objects.setdefault("Task", [])
    for index, lead in enumerate(world.leads):
        if lead.crm != SYSTEM or lead.add_time > as_of:
            continue
        history.extend(_lead_history(world, index, lead, as_of))
        task = _lead_task(index, lead, as_of)
        if task is not None:
            tasks.append(task)
    history.sort(key=lambda r: (r["CreatedDate"], r["Id"]))
    view.objects["LeadHistory"] = history


# ---- opportunities -----------------------------------------------------------------------------
def _author(ch: FlowChange) -> str:
    return INTEGRATION_USER if ch.source == "api" else user_id(ch.user_id)


def _value_cents(deal: Deal, ts: int) -> int:
    """Deal value at ts: line nets minus deal-level discounts (as the simulator computes it)."""
    net = sum(line.net_cents(ts) for line in deal.lines)
    for disc in deal.discounts:
        if disc.created_at <= ts:
            if disc.type == "percentage":
                net -= round(net * disc.amount / 100.0)
            else:
                net -= round(disc.amount * 100)
    return net


@dataclass
class _Walk:
    """Replays a deal's flow into OpportunityHistory / OpportunityFieldHistory rows."""

    deal: Deal
    stage: str
    status: str = "open"
    amount: float = 0.0
    close_date: str | None = None
    last_stage_change: int | None = None
    history: list[Record] = field(default_factory=list)
    field_history: list[Record] = field(default_factory=list)

    def stage_name(self) -> str:
        if self.status == "won":
            return CLOSED_WON
        if self.status == "lost":
            return CLOSED_LOST
        return STAGE_NAMES_SF[self.stage]

    def history_row(self, n: int, ts: int, author: str, prev: tuple[float, str | None]) -> None:
        name = self.stage_name()
        prob, cat, _closed, _won = STAGE_INFO[name]
        stamp = sf_datetime(ts)
        self.history.append(
            {
                "Id": salesforce_id("008", n),
                "OpportunityId": _opp(self.deal.id),
                "StageName": name,
                "Amount": self.amount,
                "ExpectedRevenue": round(self.amount * prob / 100.0, 2),
                "CloseDate": self.close_date,
                "Probability": prob,
                "ForecastCategory": cat,
                "PrevAmount": prev[0],
                "PrevCloseDate": prev[1],
                "CreatedDate": stamp,
                "CreatedById": author,
                "SystemModstamp": stamp,
                "IsDeleted": False,
            }
        )

    def field_row(
        self, n: int, ts: int, author: str, name: str, kind: str | None, old: Any, new: Any
    ) -> None:
        self.field_history.append(
            {
                "Id": salesforce_id("017", n),
                "OpportunityId": _opp(self.deal.id),
                "Field": name,
                "DataType": kind,
                "OldValue": old,
                "NewValue": new,
                "CreatedDate": sf_datetime(ts),
                "CreatedById": author,
                "IsDeleted": False,
            }
        )


def _walk(world: World, deal: Deal, st: DealState, discount_key: str) -> _Walk:
    creator = INTEGRATION_USER if deal.origin == "API" else user_id(deal.owner_id)
    walk = _Walk(deal, deal.creation_stage, amount=deal.initial_value)
    walk.close_date = clock.date(deal.expected_close)
    n0 = _HISTORY_BASE + deal.id
    walk.history_row(n0, deal.add_time, creator, (0.0, None))
    walk.history[-1]["PrevAmount"] = None
    walk.field_row(n0, deal.add_time, creator, "created", None, None, None)
    for ch in st.flow:
        prev = (walk.amount, walk.close_date)
        author = _author(ch)
        if ch.field_key == "stage_id":
            walk.stage = STAGE_NAMES[ch.new][1]
            walk.last_stage_change = ch.ts
            walk.history_row(ch.id, ch.ts, author, prev)
        elif ch.field_key == "status":
            walk.status = ch.new
            walk.close_date = (
                clock.date(ch.ts + 30 * DAY) if ch.new == "open" else clock.date(ch.ts)
            )
            walk.last_stage_change = ch.ts
            walk.history_row(ch.id, ch.ts, author, prev)
        elif ch.field_key == "value":
            walk.amount = ch.new
            walk.history_row(ch.id, ch.ts, author, prev)
        elif ch.field_key == "user_id":
            old, new = world.reps[ch.old - 1], world.reps[ch.new - 1]
            ids = (user_id(old.id), user_id(new.id))
            walk.field_row(ch.id * 2, ch.ts, author, "Owner", "EntityId", *ids)
            walk.field_row(ch.id * 2 + 1, ch.ts, author, "Owner", "Text", old.name, new.name)
        elif ch.field_key == "lost_reason":
            walk.field_row(ch.id * 2, ch.ts, author, "Loss_Reason__c", "Picklist", ch.old, ch.new)
        elif ch.field_key == discount_key:
            walk.field_row(
                ch.id * 2, ch.ts, author, "Discount_Percent__c", "Percent", ch.old, ch.new
            )
    return walk


def _quotes_of(deal: Deal) -> list[Activity]:
    return sorted((a for a in deal.activities if a.type == "quote"), key=lambda a: a.due_time)


def _quote_answers(deal: Deal) -> list[tuple[int, str | None]]:
    """(time, answer) of the deal's status changes: won -> accepted, lost -> denied, reopened ->
    none (the last quote is presented again)."""
    out: list[tuple[int, str | None]] = []
    for ch in deal.flow:
        if ch.field_key == "status":
            out.append((ch.ts, {"won": "accepted", "lost": "denied"}.get(ch.new)))
    return out


def _opportunity(
    deal: Deal,
    st: DealState,
    walk: _Walk,
    lead_source: str | None,
    synced: str | None,
    discount_key: str,
) -> Record:
    name = walk.stage_name()
    prob, cat, closed, won = STAGE_INFO[name]
    owner = user_id(st.owner_id)
    last_author = walk.history[-1]["CreatedById"] if walk.history else owner
    stamp = sf_datetime(st.update_time)
    return {
        "Id": _opp(deal.id),
        "Name": deal.title,
        "AccountId": _account(deal.org_id),
        "ContactId": contact_id(deal.person_id),
        "OwnerId": owner,
        "RecordTypeId": record_type_id(deal.pipeline),
        "Type": RECORD_TYPES[deal.pipeline][2],
        "StageName": name,
        "Probability": prob,
        "ForecastCategoryName": FORECAST_NAMES[cat],
        "IsClosed": closed,
        "IsWon": won,
        "Amount": st.value,
        "CurrencyIsoCode": deal.currency,
        "CloseDate": walk.close_date,
        "LeadSource": lead_source,
        "Region__c": deal.region,
        "Loss_Reason__c": st.lost_reason if st.status == "lost" else None,
        "Discount_Percent__c": st.custom.get(discount_key),
        "SyncedQuoteId": synced,
        "HasOpportunityLineItem": True,
        "LastStageChangeDate": sf_datetime(walk.last_stage_change),
        "CreatedDate": sf_datetime(deal.add_time),
        "CreatedById": walk.history[0]["CreatedById"],
        "LastModifiedDate": stamp,
        "LastModifiedById": last_author,
        "SystemModstamp": stamp,
        "IsDeleted": False,
    }


def _line_prices(line: Line, ts: int) -> tuple[float, float | None, float]:
    """(UnitPrice, Discount %, TotalPrice) of a product line at ts."""
    list_amount = line.item_price * line.quantity
    net = line.net_cents(ts) / 100.0
    if line.discount_type == "percentage":
        return line.item_price, line.discount_at(ts), net
    pct = round(100.0 * (list_amount - net) / list_amount, 4) if list_amount else 0.0
    return line.item_price, pct, net


def _line_items(deal: Deal, ts: int) -> list[tuple[int, float, float, float | None, float]]:
    """(product index, quantity, unit price, discount %, total) of the deal's lines at ts, plus
    an Additional Discount line for the deal-level discounts created by then."""
    rows: list[tuple[int, float, float, float | None, float]] = []
    for line in deal.lines:
        if line.add_time <= ts:
            unit, disc, total = _line_prices(line, ts)
            rows.append((line.product_index, float(line.quantity), unit, disc, total))
    extra_cents = sum(line.net_cents(ts) for line in deal.lines) - _value_cents(deal, ts)
    if extra_cents and any(d.created_at <= ts for d in deal.discounts):
        rows.append((DISCOUNT_PRODUCT, 1.0, -extra_cents / 100.0, None, -extra_cents / 100.0))
    return rows


def _opportunity_lines(deal: Deal, as_of: int) -> list[Record]:
    out: list[Record] = []
    for line in deal.lines:
        if line.add_time > as_of:
            continue
        unit, disc, total = _line_prices(line, as_of)
        changed = _stamp(line.add_time, line.revised_at, as_of=as_of)
        prices = (float(line.quantity), unit, disc, total)
        out.append(_oli(deal, line.id, line.product_index, prices, line.add_time, changed))
    discounts = [d.created_at for d in deal.discounts if d.created_at <= as_of]
    extra_cents = sum(line.net_cents(as_of) for line in deal.lines) - _value_cents(deal, as_of)
    if discounts and extra_cents:
        revisions = [line.revised_at for line in deal.lines if line.revised_at is not None]
        changed = _stamp(*discounts, *revisions, as_of=as_of)
        prices = (1.0, -extra_cents / 100.0, None, -extra_cents / 100.0)
        n = _DISCOUNT_LINE_BASE + deal.id
        out.append(_oli(deal, n, DISCOUNT_PRODUCT, prices, min(discounts), changed))
    return out


def _oli(
    deal: Deal,
    n: int,
    product: int,
    prices: tuple[float, float, float | None, float],
    created: int,
    changed: int,
) -> Record:
    """An OpportunityLineItem; prices = (quantity, unit price, discount %, total)."""
    quantity, unit, disc, total = prices
    name = "Additional Discount" if product == DISCOUNT_PRODUCT else PRODUCTS[product][0]
    list_price = 0.0 if product == DISCOUNT_PRODUCT else unit
    return {
        "Id": salesforce_id("00k", n),
        "OpportunityId": _opp(deal.id),
        "Product2Id": product_id(product),
        "Name": f"{deal.title} {name}",
        "Quantity": float(quantity),
        "ListPrice": list_price,
        "UnitPrice": unit,
        "Discount": disc,
        "Subtotal": round(unit * quantity, 2),
        "TotalPrice": total,
        "CurrencyIsoCode": deal.currency,
        "CreatedDate": sf_datetime(created),
        "LastModifiedDate": sf_datetime(changed),
        "SystemModstamp": sf_datetime(changed),
        "IsDeleted": False,
    }


def _quote_status(
    is_last: bool, answers: list[tuple[int, str | None]], as_of: int, cpq: bool
) -> tuple[str, int | None]:
    """Status of a quote at as_of and when the answer was recorded."""
    if not is_last:
        return "Presented", None
    answer: str | None = None
    when: int | None = None
    for ts, value in answers:
        if ts <= as_of:
            answer, when = value, ts
    if answer == "accepted":
        return "Accepted", when
    if answer == "denied":
        return ("Rejected" if cpq else "Denied"), when
    return "Presented", when


def _quotes(deal: Deal, as_of: int, cpq: bool, view: SalesforceView) -> str | None:
    """Render the deal's quotes visible at as_of; return the synced (latest) quote id."""
    quotes = _quotes_of(deal)
    visible = [q for q in quotes if q.add_time <= as_of]
    answers = _quote_answers(deal)
    synced: str | None = None
    for number, act in enumerate(visible, start=1):
        is_last = act is quotes[-1]
        status, answered = _quote_status(is_last, answers, as_of, cpq)
        following = visible[number] if number < len(visible) else None
        superseded = following.add_time if following else None
        changed = _stamp(act.add_time, superseded, answered, as_of=as_of)
        lines = _line_items(deal, act.due_time)
        list_total = sum(q * u for _p, q, u, _d, _t in lines if _p != DISCOUNT_PRODUCT)
        net_total = round(sum(t for *_rest, t in lines), 2)
        discount = round(100.0 * (list_total - net_total) / list_total, 2) if list_total else 0.0
        qid = quote_id(act.id, cpq)
        synced = qid
        common = {
            "CurrencyIsoCode": deal.currency,
            "CreatedDate": sf_datetime(act.add_time),
            "CreatedById": user_id(act.owner_id),
            "LastModifiedDate": sf_datetime(changed),
            "SystemModstamp": sf_datetime(changed),
            "IsDeleted": False,
        }
        if cpq:
            view.objects["SBQQ__Quote__c"].append(
                {
                    "Id": qid,
                    "Name": f"Q-{act.id:05d}",
                    "OwnerId": user_id(act.owner_id),
                    "SBQQ__Opportunity2__c": _opp(deal.id),
                    "SBQQ__Account__c": _account(deal.org_id),
                    "SBQQ__PrimaryContact__c": contact_id(deal.person_id),
                    "SBQQ__SalesRep__c": user_id(act.owner_id),
                    "SBQQ__Status__c": status,
                    "SBQQ__Type__c": "Quote",
                    "SBQQ__Primary__c": following is None,
                    "SBQQ__Ordered__c": False,
                    "SBQQ__StartDate__c": clock.date(act.add_time),
                    "SBQQ__ExpirationDate__c": clock.date(act.add_time + 30 * DAY),
                    "SBQQ__LineItemCount__c": float(len(lines)),
                    "SBQQ__ListAmount__c": round(list_total, 2),
                    "SBQQ__NetAmount__c": net_total,
                    "SBQQ__CustomerAmount__c": net_total,
                    "SBQQ__AverageCustomerDiscount__c": discount,
                    **common,
                }
            )
            continue
        view.objects["Quote"].append(
            {
                "Id": qid,
                "Name": f"{deal.title} - Quote v{number}",
                "QuoteNumber": f"{act.id:08d}",
                "OpportunityId": _opp(deal.id),
                "AccountId": _account(deal.org_id),
                "ContactId": contact_id(deal.person_id),
                "Status": status,
                "IsSyncing": following is None,
                "ExpirationDate": clock.date(act.add_time + 30 * DAY),
                "Subtotal": round(sum(q * u for _p, q, u, _d, _t in lines), 2),
                "TotalPrice": net_total,
                "Discount": discount,
                "GrandTotal": net_total,
                "LineItemCount": float(len(lines)),
                **common,
            }
        )
        for k, (product, quantity, unit, disc, total) in enumerate(lines):
            stamp = sf_datetime(act.add_time)
            view.objects["QuoteLineItem"].append(
                {
                    "Id": salesforce_id("0QL", act.id * 8 + k),
                    "QuoteId": qid,
                    "Product2Id": product_id(product),
                    "LineNumber": f"{k + 1:05d}",
                    "Quantity": quantity,
                    "ListPrice": 0.0 if product == DISCOUNT_PRODUCT else unit,
                    "UnitPrice": unit,
                    "Discount": disc,
                    "Subtotal": round(unit * quantity, 2),
                    "TotalPrice": total,
                    "CurrencyIsoCode": deal.currency,
                    "CreatedDate": stamp,
                    "SystemModstamp": stamp,
                    "IsDeleted": False,
                }
            )
    return synced


def _tasks(deal: Deal, as_of: int) -> list[Record]:
    out: list[Record] = []
    for act in deal.activities:
        if act.type == "quote" or act.add_time > as_of:
            continue
        done = act.due_time <= as_of
        kind, subtype = TASK_TYPES.get(act.type, ("Other", "Task"))
        stamp = sf_datetime(act.due_time if done else act.add_time)
        out.append(
            {
                "Id": salesforce_id("00T", act.id),
                "Subject": act.subject,
                "Type": kind,
                "TaskSubtype": subtype,
                "Status": "Completed" if done else "Not Started",
                "IsClosed": done,
                "Priority": "Normal",
                "WhatId": _opp(deal.id),
                # the deal's contact and account (the activity keeps pre-link placeholders)
                "WhoId": contact_id(deal.person_id),
                "AccountId": _account(deal.org_id),
                "OwnerId": user_id(act.owner_id),
                "ActivityDate": clock.date(act.due_time),
                "CompletedDateTime": sf_datetime(act.due_time) if done else None,
                "CreatedDate": sf_datetime(act.add_time),
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
                "IsDeleted": False,
            }
        )
    return out


def _orders(orders: Sequence[SalesOrder], world: World, view: SalesforceView, as_of: int) -> None:
    deals = {d.id: d for d in world.deals}
    rows = view.objects.setdefault("Order", [])
    for order in orders:
        if order.crm != SYSTEM or not order.visible(as_of):
            continue
        fulfilled = order.fulfilled_at(as_of)
        stamp = sf_datetime(fulfilled or order.created)
        rows.append(
            {
                "Id": salesforce_id("801", order.number),
                "OrderNumber": f"{order.number:08d}",
                "OpportunityId": _opp(order.deal_id),
                "AccountId": _account(deals[order.deal_id].org_id),
                "OwnerId": user_id(order.owner_id),
                "Status": "Activated" if fulfilled else "Draft",
                "StatusCode": "A" if fulfilled else "D",
                "EffectiveDate": clock.date(order.created),
                "ActivatedDate": sf_datetime(fulfilled),
                "TotalAmount": order.amount_cents / 100.0,
                "CurrencyIsoCode": order.currency,
                "CreatedDate": sf_datetime(order.created),
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
                "IsDeleted": False,
            }
        )


def _deals(world: World, view: SalesforceView, as_of: int) -> None:
    lead_sources = {
        lead.converted_deal_id: LEAD_SOURCES.get(lead.source_name, "Other")
        for lead in world.leads
        if lead.converted_deal_id is not None
    }
    primary_campaigns = {
        lead.converted_deal_id: campaign_id(lead.campaign)
        for lead in world.leads
        if lead.converted_deal_id is not None and lead.campaign is not None
    }
    objects = view.objects
    for name in ("Opportunity", "OpportunityHistory", "OpportunityFieldHistory"):
        objects.setdefault(name, [])
    for name in ("OpportunityLineItem", "Task"):
        objects.setdefault(name, [])
    for name in ("SBQQ__Quote__c",) if view.cpq else ("Quote", "QuoteLineItem"):
        objects.setdefault(name, [])
    for deal in world.deals:
        if deal.crm != SYSTEM or deal.add_time > as_of:
            continue
        st = deal_state(deal, as_of)
        walk = _walk(world, deal, st, world.discount_field_key)
        synced = _quotes(deal, as_of, view.cpq, view)
        source = lead_sources.get(deal.id) or ("Other" if deal.origin == "API" else None)
        opportunity = _opportunity(deal, st, walk, source, synced, world.discount_field_key)
        # the primary campaign: the campaign of the lead it was converted from
        opportunity["CampaignId"] = primary_campaigns.get(deal.id)
        objects["Opportunity"].append(opportunity)
        objects["OpportunityHistory"].extend(walk.history)
        objects["OpportunityFieldHistory"].extend(walk.field_history)
        objects["OpportunityLineItem"].extend(_opportunity_lines(deal, as_of))
        objects["Task"].extend(_tasks(deal, as_of))
    for name in ("OpportunityHistory", "OpportunityFieldHistory", "Task"):
        objects[name].sort(key=lambda r: (r["CreatedDate"], r["Id"]))


def _approvals(approvals: Sequence[ApprovalRequest], view: SalesforceView, as_of: int) -> None:
    instances = view.objects.setdefault("ProcessInstance", [])
    steps = view.objects.setdefault("ProcessInstanceStep", [])
    for req in approvals:
        if req.crm != SYSTEM or not req.visible(as_of):
            continue
        decided = req.decided_at(as_of)
        status = "Pending" if decided is None else ("Approved" if req.approved else "Rejected")
        pid = salesforce_id("04g", req.number)
        submitter, approver = user_id(req.requested_by), user_id(req.approver)
        stamp = sf_datetime(decided or req.requested)
        instances.append(
            {
                "Id": pid,
                "ProcessDefinitionId": salesforce_id("04a", 1),
                "TargetObjectId": _opp(req.deal_id),
                "Status": status,
                "SubmittedById": submitter,
                "LastActorId": approver if decided else submitter,
                "CompletedDate": sf_datetime(decided),
                "ElapsedTimeInDays": (
                    round((decided - req.requested) / DAY, 4) if decided is not None else None
                ),
                "CreatedDate": sf_datetime(req.requested),
                "CreatedById": submitter,
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
                "IsDeleted": False,
            }
        )
        rows = [(2 * req.number, "Started", submitter, req.requested, None)]
        if decided is not None:
            comment = (
                f"Discount {req.discount_pct:.1f}% approved"
                if req.approved
                else f"Discount {req.discount_pct:.1f}% is too deep: rework the offer"
            )
            rows.append((2 * req.number + 1, status, approver, decided, comment))
        for n, step_status, actor, ts, comment in rows:
            steps.append(
                {
                    "Id": salesforce_id("04h", n),
                    "ProcessInstanceId": pid,
                    "StepStatus": step_status,
                    "ActorId": actor,
                    "OriginalActorId": actor,
                    "StepNodeId": None if step_status == "Started" else salesforce_id("04b", 1),
                    "Comments": comment,
                    "ElapsedTimeInDays": round((ts - req.requested) / DAY, 4),
                    "CreatedDate": sf_datetime(ts),
                    "CreatedById": actor,
                    "SystemModstamp": sf_datetime(ts),
                }
            )
    steps.sort(key=lambda r: (r["CreatedDate"], r["Id"]))


def _contracts(
    contracts: Sequence[Contract], world: World, view: SalesforceView, as_of: int
) -> None:
    deals = {d.id: d for d in world.deals}
    rows = view.objects.setdefault("Contract", [])
    for contract in contracts:
        if contract.crm != SYSTEM or not contract.visible(as_of):
            continue
        deal = deals[contract.deal_id]
        signed = contract.signed_at(as_of)
        stamp = sf_datetime(signed or contract.sent)
        rows.append(
            {
                "Id": salesforce_id("800", contract.number),
                "ContractNumber": f"{contract.number:08d}",
                "AccountId": _account(deal.org_id),
                "Opportunity__c": _opp(deal.id),
                "OwnerId": user_id(contract.sent_by),
                "Status": "Activated" if signed else "In Approval Process",
                "StatusCode": "Activated" if signed else "InApproval",
                "StartDate": clock.date(signed + DAY) if signed else None,
                "ContractTerm": 12,
                "CustomerSignedId": contact_id(deal.person_id) if signed else None,
                "CustomerSignedDate": clock.date(signed) if signed else None,
                "ActivatedDate": sf_datetime(signed),
                "ActivatedById": (
                    user_id(contract.signed_by) if signed and contract.signed_by else None
                ),
                "CreatedDate": sf_datetime(contract.sent),
                "CreatedById": user_id(contract.sent_by),
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
                "IsDeleted": False,
            }
        )


def render_salesforce(
    world: World,
    as_of: int,
    orders: Sequence[SalesOrder] = (),
    *,
    cpq: bool = False,
    approvals: Sequence[ApprovalRequest] = (),
    contracts: Sequence[Contract] = (),
) -> SalesforceView:
    """The Salesforce org of the demo company at as_of (cpq: the org has Salesforce CPQ, so
    quotes are SBQQ__Quote__c records instead of standard Quotes)."""
    view = SalesforceView(as_of=as_of, cpq=cpq)
    _reference(world, view)
    _accounts(world, view, as_of)
    _leads(world, view, as_of)
    _deals(world, view, as_of)
    _orders(orders, world, view, as_of)
    _approvals(approvals, view, as_of)
    _contracts(contracts, world, view, as_of)
    _campaigns(world, view, as_of)
    return view


# ---- campaigns ---------------------------------------------------------------------------------
def campaign_id(index: int) -> str:
    return salesforce_id("701", index + 1)


def _campaigns(world: World, view: SalesforceView, as_of: int) -> None:
    """The marketing campaigns (created with the org, running through the history) and one
    CampaignMember per lead that joined one: a responded member from the lead's creation; its
    ContactId is filled when the lead converts (as Salesforce does), which stamps the member."""
    created = world.base_time
    view.objects["Campaign"] = [
        {
            "Id": campaign_id(index),
            "Name": name,
            "Type": kind,
            "Status": "In Progress",
            "IsActive": True,
            "StartDate": clock.date(created),
            "EndDate": None,
            "CreatedDate": sf_datetime(created),
            "LastModifiedDate": sf_datetime(created),
            "SystemModstamp": sf_datetime(created),
            "IsDeleted": False,
        }
        for index, (name, kind) in enumerate(CAMPAIGNS)
        if created <= as_of
    ]
    members: list[Record] = []
    for index, lead in enumerate(world.leads):
        if lead.crm != SYSTEM or lead.add_time > as_of or lead.campaign is None:
            continue
        converted = (
            lead.archived_at is not None
            and lead.archived_at <= as_of
            and (lead.converted_deal_id is not None or lead.converted_without_deal)
        )
        stamp = sf_datetime(lead.archived_at if converted else lead.add_time)
        members.append(
            {
                "Id": salesforce_id("00v", index + 1),
                "CampaignId": campaign_id(lead.campaign),
                "LeadId": lead_id(index),
                "ContactId": contact_id(lead.person_id) if converted else None,
                "Status": "Responded",
                "HasResponded": True,
                "FirstRespondedDate": clock.date(lead.add_time),
                "CreatedDate": sf_datetime(lead.add_time),
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
                "IsDeleted": False,
            }
        )
    members.sort(key=lambda r: (r["CreatedDate"], r["Id"]))
    view.objects["CampaignMember"] = members
