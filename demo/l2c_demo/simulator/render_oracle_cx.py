"""Render the Oracle CX Sales (Fusion Sales REST, 11.13.18.05) objects visible at as_of.

Only the business unit that sells with Oracle CX is rendered: its sales resources (reps),
leads and opportunities with their revenue lines, stage snapshots and lead links.

Ids: an opportunity's OptyId is `CRMS["oracle_cx"].deal_ref(deal.id)` and an account's
PartyId `account_ref(org.id)` (what Stripe metadata carries); every other id is
`crms.oracle_id(kind, n)` with the kinds below. OptyNumber / LeadNumber are the separate,
human-readable alternate keys Oracle shows in its UI and uses in REST paths ("CDRM_200045").

Abstract stages (catalog.PIPELINES, Pipedrive's names) map to Oracle sales stages of one sales
method per pipeline (`ORACLE_STAGES`); every stage visit is an opportunityStageSnapshots row
(StgEnterDate / StgExitDate), so the full stage path can be recovered. Deal-level discounts,
which Oracle has no object for, are revenue lines of the "Discounts" product group with a
negative RevnAmount, so an opportunity's Revenue is the sum of its revenue lines as in Oracle.

Campaigns: the marketing campaigns (catalog.CAMPAIGNS) are /campaigns rows, and an opportunity
converted from a lead that joined a campaign lists it in its OpportunityCampaigns child with
the largest RevenuePercentage; some opportunities share their revenue with a second campaign
(`opportunity_campaign_shares`), one pattern a 50/50 tie that the smaller OptyCampaignId wins.
So the campaign of the largest share is always the lead's campaign, whose win rates are
planted (world._plant_campaigns, truth `campaigns`).

A lead that joined a campaign lists it in its LeadCampaigns child (PrimaryFlag true, created
with the lead); every third such lead also joins a second campaign when a rep accepts it
(`second_lead_campaign`, PrimaryFlag false, created at AcceptedDate), so the lead's campaign is
its earliest membership, not just any (truth: lead_phase `campaign`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from l2c_demo.simulator import clock
from l2c_demo.simulator.catalog import (
    CAMPAIGNS,
    PIPELINE_IDS,
    PIPELINES,
    PRODUCTS,
    STAGE_IDS,
    STAGE_NAMES,
    STAGE_PROBABILITY,
)
from l2c_demo.simulator.crms import oracle_id
from l2c_demo.simulator.model import Deal, Lead, Line, Rep, World
from l2c_demo.simulator.state import DealState, deal_state
from l2c_demo.simulator.views import Record

SYSTEM = "oracle_cx"

# oracle_id kinds (1 = opportunity and 2 = account are fixed by crms.CRMS)
KIND_OPTY, KIND_PARTY = 1, 2
KIND_RESOURCE = 3
KIND_CONTACT = 4
KIND_SNAPSHOT = 5
KIND_REVENUE = 6
KIND_LEAD = 7
KIND_STAGE = 8
KIND_SALES_METHOD = 9
KIND_OPTY_LEAD = 10
KIND_ITEM = 11
KIND_PRODUCT_GROUP = 12
KIND_ACTIVITY = 13
KIND_CAMPAIGN = 14
KIND_OPTY_CAMPAIGN = 15
KIND_LEAD_CAMPAIGN = 16

DISCOUNT_LINE_BASE = 50_000_000  # RevnId numbers of discount lines: base + deal id * 10 + k
INTEGRATION_USER = "OIC_INTEGRATION"  # the integration user that makes API-sourced changes

# abstract (pipeline, stage) -> the Oracle sales stage name of the pipeline's sales method
ORACLE_STAGES: dict[tuple[str, str], str] = {
    ("New Business", "Lead In"): "01 - Prospect",
    ("New Business", "Qualified"): "02 - Qualify",
    ("New Business", "Demo Scheduled"): "03 - Demonstrate",
    ("New Business", "Proposal Made"): "04 - Propose",
    ("New Business", "Negotiation"): "05 - Negotiate",
    ("New Business", "Contract Sent"): "06 - Contract",
    ("Expansion", "Qualified"): "01 - Validate Need",
    ("Expansion", "Proposal Made"): "02 - Propose Upgrade",
    ("Expansion", "Negotiation"): "03 - Negotiate Terms",
}
# Oracle lookup MOO_WIN_LOSS_REASON codes for the simulator's lost reasons
LOSS_REASON_CODES = {
    "Price too high": "PRICE",
    "Went with competitor": "COMPETITION",
    "No budget": "NO_BUDGET",
    "No decision": "NO_DECISION",
    "Bad timing": "TIMING",
}
CHANNEL_TYPES = {
    "Web forms": "WEB",
    "Prospector": "OUTBOUND",
    "Manually created": "DIRECT",
    "Import": "IMPORT",
}
# product code -> (product group id number, product group name)
PRODUCT_GROUPS = {
    "PLT-LIC": (1, "Software"),
    "ENT-ADD": (1, "Software"),
    "ANL-MOD": (1, "Software"),
    "API-ACC": (1, "Software"),
    "ONB-PKG": (2, "Services"),
    "TRN-DAY": (2, "Services"),
    "DAT-MIG": (2, "Services"),
    "SUP-PRM": (3, "Support"),
}
DISCOUNT_GROUP = (4, "Discounts")


@dataclass
class OracleCxView:
    """Oracle CX Sales objects visible at as_of, shaped like the REST resources (onlyData).

    Opportunity children are kept per OptyId; the fake API inlines them for `expand=` and
    serves them under /opportunities/{OptyNumber}/child/<name>.
    """

    as_of: int
    resources: list[Record] = field(default_factory=list)
    sales_methods: list[Record] = field(default_factory=list)
    sales_stages: list[Record] = field(default_factory=list)
    leads: list[Record] = field(default_factory=list)
    opportunities: list[Record] = field(default_factory=list)
    revenue_items: dict[int, list[Record]] = field(default_factory=dict)  # OptyId -> rows
    stage_snapshots: dict[int, list[Record]] = field(default_factory=dict)  # OptyId -> rows
    opportunity_leads: dict[int, list[Record]] = field(default_factory=dict)  # OptyId -> rows
    opty_ids: dict[str, int] = field(default_factory=dict)  # OptyNumber -> OptyId
    activities: list[Record] = field(default_factory=list)  # /activities (lead contacts)
    campaigns: list[Record] = field(default_factory=list)  # /campaigns
    opportunity_campaigns: dict[int, list[Record]] = field(default_factory=dict)  # OptyId -> rows
    lead_campaigns: dict[int, list[Record]] = field(default_factory=dict)  # LeadId -> rows


def ts(value: int | None) -> str | None:
    """Oracle REST timestamps: 2025-01-02T10:11:12+00:00 (UTC)."""
    text = clock.v2(value)
    return None if text is None else text[:-1] + "+00:00"


def opty_id(deal_id: int) -> int:
    return oracle_id(KIND_OPTY, deal_id)


def opty_number(deal_id: int) -> str:
    return f"CDRM_{200_000 + deal_id}"


def party_id(org_id: int) -> int:
    return oracle_id(KIND_PARTY, org_id)


def resource_id(rep_id: int) -> int:
    return oracle_id(KIND_RESOURCE, rep_id)


def username(rep: Rep) -> str:
    return rep.name.upper().replace(" ", ".")


def stage_id(pipeline: str, stage: str) -> int:
    return oracle_id(KIND_STAGE, STAGE_IDS[(pipeline, stage)])


def sales_method_id(pipeline: str) -> int:
    return oracle_id(KIND_SALES_METHOD, PIPELINE_IDS[pipeline])


def _static(world: World, view: OracleCxView) -> None:
    base = world.base_time
    for rep in world.reps:
        if rep.crm != SYSTEM:
            continue
        manager = next(
            (r for r in world.reps if r.team_index == rep.team_index and r.is_manager), None
        )
        first, _, last = rep.name.partition(" ")
        view.resources.append(
            {
                "PartyId": resource_id(rep.id),
                "PartyNumber": str(100_000 + rep.id),
                "PartyName": rep.name,
                "FirstName": first,
                "LastName": last,
                "Username": username(rep),
                "EmailAddress": rep.email,
                "ResourceStatus": "A",
                "Usage": "SALES_REPRESENTATIVE",
                "ManagerPartyId": (
                    resource_id(manager.id)
                    if manager is not None and manager.crm == SYSTEM and manager is not rep
                    else None
                ),
                "ResourceOrganization": world.teams[rep.team_index][1],
                "ResourceEffectiveStartDate": clock.date(rep.created),
                "CreationDate": ts(rep.created),
                "LastUpdateDate": ts(rep.created),
            }
        )
    stamp = ts(base)
    for name, pipe_number in PIPELINE_IDS.items():
        view.sales_methods.append(
            {
                "SalesMethodId": sales_method_id(name),
                "Name": name,
                "Description": f"{name} sales method",
                "DefaultFlag": pipe_number == 1,
                "DeletedFlag": False,
                "CreationDate": stamp,
                "LastUpdateDate": stamp,
            }
        )
        for order, stage in enumerate(PIPELINES[name], start=1):
            view.sales_stages.append(
                {
                    "StgId": stage_id(name, stage),
                    "Name": ORACLE_STAGES[(name, stage)],
                    "SalesMethodId": sales_method_id(name),
                    "StgOrder": order,
                    "DefaultWinProb": STAGE_PROBABILITY[stage],
                    "PhaseCd": "QUALIFICATION" if order <= 2 else "DEVELOPMENT",
                    "DeletedFlag": False,
                    "CreationDate": stamp,
                    "LastUpdateDate": stamp,
                }
            )


def accepted_at(lead: Lead, as_of: int) -> int | None:
    """When a rep accepted the lead (AcceptedDate), if by as_of and before it closed."""
    closed = lead.archived_at is not None and lead.archived_at <= as_of
    end = lead.archived_at if closed else as_of
    return lead.seen_at if lead.seen_at is not None and lead.seen_at <= end else None


def _lead_record(number: int, lead: Lead, as_of: int) -> Record:
    closed = lead.archived_at is not None and lead.archived_at <= as_of
    converted = closed and lead.converted_deal_id is not None
    accepted = accepted_at(lead, as_of)
    updated = max(t for t in (lead.add_time, accepted, lead.archived_at if closed else None) if t)
    status = "CONVERTED" if converted else "RETIRED" if closed else "UNQUALIFIED"
    return {
        "LeadId": oracle_id(KIND_LEAD, number),
        "LeadNumber": f"CDRM_{600_000 + number}",
        "Name": lead.title,
        "StatusCode": status,
        "OwnerId": resource_id(lead.owner_id),
        "CustomerId": party_id(lead.org_id),
        "PrimaryContactId": oracle_id(KIND_CONTACT, lead.person_id),
        "ChannelType": CHANNEL_TYPES.get(lead.source_name, "OTHER"),
        "DealAmount": lead.value[0] if lead.value else None,
        "CurrencyCode": lead.value[1] if lead.value else None,
        "AcceptedDate": ts(accepted),
        "ConvertedTimestamp": ts(lead.archived_at) if converted else None,
        "ConvertedOpportunityId": (
            opty_id(lead.converted_deal_id)
            if converted and lead.converted_deal_id is not None
            else None
        ),
        "RetireReasonCode": "NOT_INTERESTED" if status == "RETIRED" else None,
        "CreationDate": ts(lead.add_time),
        "LastUpdateDate": ts(updated),
    }


def second_lead_campaign(number: int, first: int) -> int | None:
    """The campaign index a lead (numbered `number`) of campaign `first` joins later, when
    accepted: every third lead, another campaign than its first."""
    if number % 3:
        return None
    return (first + 1 + number % (len(CAMPAIGNS) - 1)) % len(CAMPAIGNS)


def _lead_campaigns(number: int, lead: Lead, record: Record, as_of: int) -> list[Record]:
    """The lead's LeadCampaigns rows: its campaign from its creation (primary), and for some
    leads a second one joined when accepted (second_lead_campaign)."""
    if lead.campaign is None:
        return []
    joined: list[tuple[int, int, bool]] = [(lead.campaign, lead.add_time, True)]
    second = second_lead_campaign(number, lead.campaign)
    accepted = accepted_at(lead, as_of)
    if second is not None and accepted is not None:
        joined.append((second, accepted, False))
    return [
        {
            "LeadCampaignId": oracle_id(KIND_LEAD_CAMPAIGN, number * 2 + n),
            "LeadCampaignNumber": f"CDRM_LC_{number * 2 + n}",
            "LeadId": record["LeadId"],
            "LeadNumber": record["LeadNumber"],
            "CampaignId": campaign_id(index),
            "CampaignNumber": f"CDRM_CMP_{1000 + index}",
            "CampaignName": CAMPAIGNS[index][0],
            "PrimaryFlag": primary,
            "CreationDate": ts(at),
            "LastUpdateDate": ts(at),
        }
        for n, (index, at, primary) in enumerate(joined)
    ]


def _leads(world: World, view: OracleCxView, as_of: int) -> None:
    for number, lead in enumerate(world.leads, start=1):
        if lead.crm == SYSTEM and lead.add_time <= as_of:
            record = _lead_record(number, lead, as_of)
            view.leads.append(record)
            view.lead_campaigns[record["LeadId"]] = _lead_campaigns(number, lead, record, as_of)
    view.leads.sort(key=lambda r: (r["CreationDate"], r["LeadId"]))


def _contact_activity(number: int, lead: Lead) -> Record:
    """The lead's first contact as an /activities row: a completed call or email task on the
    lead (LeadId), owned by the rep who made it; ActivityEndDate is when it was done."""
    assert lead.first_contact_at is not None
    n = lead.contact_activity_id
    at = ts(lead.first_contact_at)
    kind = (lead.first_contact_kind or "call").upper()
    return {
        "ActivityId": oracle_id(KIND_ACTIVITY, n),
        "ActivityNumber": f"CDRM_{900_000 + n}",
        "Subject": "Intro call" if kind == "CALL" else "Intro email",
        "ActivityFunctionCode": "TASK",
        "ActivityTypeCode": kind,
        "StatusCode": "COMPLETE",
        "OwnerId": resource_id(lead.first_contact_by or lead.owner_id),
        "LeadId": oracle_id(KIND_LEAD, number),
        "OptyId": None,
        "ActivityStartDate": at,
        "ActivityEndDate": at,
        "CreationDate": at,
        "LastUpdateDate": at,
    }


def _activities(world: World, view: OracleCxView, as_of: int) -> None:
    """Activities on leads (the planted first contacts) done by as_of. Deal activities are
    not rendered: the simulator's deal activities stay Pipedrive-shaped."""
    for number, lead in enumerate(world.leads, start=1):
        done = lead.first_contact_at
        if lead.crm == SYSTEM and lead.add_time <= as_of and done is not None and done <= as_of:
            view.activities.append(_contact_activity(number, lead))
    view.activities.sort(key=lambda r: (r["LastUpdateDate"], r["ActivityId"]))


def _user(world: World, user_id: int, source: str) -> str:
    return INTEGRATION_USER if source == "api" else username(world.reps[user_id - 1])


def _opportunity(world: World, deal: Deal, st: DealState, org_name: str) -> Record:
    pipeline, stage = STAGE_NAMES[st.stage_id]
    closed = st.status in ("won", "lost")
    last = st.flow[-1] if st.flow else None
    prob = 100 if st.status == "won" else 0 if st.status == "lost" else STAGE_PROBABILITY[stage]
    return {
        "OptyId": opty_id(deal.id),
        "OptyNumber": opty_number(deal.id),
        "Name": deal.title,
        "StatusCode": st.status.upper(),
        "ReasonWonLostCode": (
            LOSS_REASON_CODES.get(st.lost_reason or "", st.lost_reason)
            if st.status == "lost"
            else None
        ),
        "SalesMethodId": sales_method_id(pipeline),
        "SalesMethod": pipeline,
        "SalesStageId": stage_id(pipeline, stage),
        "SalesStage": ORACLE_STAGES[(pipeline, stage)],
        "EffectiveDate": clock.date(st.close_time if closed else deal.expected_close),
        "ActualCloseDate": clock.date(st.close_time) if closed else None,
        "Revenue": st.value,
        "CurrencyCode": deal.currency,
        "WinProb": prob,
        "OwnerResourcePartyId": resource_id(st.owner_id),
        "TargetPartyId": party_id(deal.org_id),
        "TargetPartyName": org_name,
        "PrimaryContactPartyId": oracle_id(KIND_CONTACT, deal.person_id),
        "Region_c": deal.region,
        "DiscountPct_c": st.custom.get(world.discount_field_key),
        "CreatedBy": username(world.reps[deal.owner_id - 1]),
        "CreationDate": ts(deal.add_time),
        "LastUpdatedBy": (
            _user(world, last.user_id, last.source)
            if last is not None
            else username(world.reps[deal.owner_id - 1])
        ),
        "LastUpdateDate": ts(st.update_time),
    }


def _snapshots(world: World, deal: Deal, st: DealState) -> list[Record]:
    """One row per stage visit: the creation stage, then one per stage change."""
    visits: list[tuple[str, int, str]] = [
        (deal.creation_stage, deal.add_time, username(world.reps[deal.owner_id - 1]))
    ]
    for ch in st.flow:
        if ch.field_key == "stage_id":
            visits.append((STAGE_NAMES[ch.new][1], ch.ts, _user(world, ch.user_id, ch.source)))
    closed_at = st.close_time if st.status in ("won", "lost") else None
    rows: list[Record] = []
    for index, (stage, entered, by) in enumerate(visits):
        exited = visits[index + 1][1] if index + 1 < len(visits) else closed_at
        rows.append(
            {
                "OptyStgSnapshotId": oracle_id(KIND_SNAPSHOT, deal.id * 100 + index),
                "OptyId": opty_id(deal.id),
                "StgId": stage_id(deal.pipeline, stage),
                "StgEnterDate": ts(entered),
                "StgExitDate": ts(exited),
                "ActiveFlag": exited is None,
                "CreatedBy": by,
                "CreationDate": ts(entered),
                "LastUpdateDate": ts(exited if exited is not None else entered),
            }
        )
    return rows


def _line_record(deal: Deal, line: Line, as_of: int) -> Record:
    name, code, _unit, _price = PRODUCTS[line.product_index]
    group_n, group = PRODUCT_GROUPS[code]
    changed = line.revised_at if line.revised_at and line.revised_at <= as_of else None
    return {
        "RevnId": oracle_id(KIND_REVENUE, line.id),
        "OptyId": opty_id(deal.id),
        "InventoryItemId": oracle_id(KIND_ITEM, line.product_index + 1),
        "ItemNumber": code,
        "Description": name,
        "ProdGroupId": oracle_id(KIND_PRODUCT_GROUP, group_n),
        "ProdGroupName": group,
        "Quantity": line.quantity,
        "UnitPrice": line.item_price,
        "RevnAmount": line.net_cents(as_of) / 100.0,
        "RevnAmountCurcyCode": deal.currency,
        "CreationDate": ts(line.add_time),
        "LastUpdateDate": ts(changed or line.add_time),
    }


def _revenue(deal: Deal, as_of: int) -> list[Record]:
    rows = [_line_record(deal, line, as_of) for line in deal.lines if line.add_time <= as_of]
    net = sum(line.net_cents(as_of) for line in deal.lines if line.add_time <= as_of)
    revised = [ln.revised_at for ln in deal.lines if ln.revised_at and ln.revised_at <= as_of]
    for k, disc in enumerate(deal.discounts):
        if disc.created_at > as_of:
            continue
        cut = (
            round(net * disc.amount / 100.0)
            if disc.type == "percentage"
            else round(disc.amount * 100)
        )
        net -= cut
        touched = max([disc.created_at, *revised]) if disc.type == "percentage" else None
        rows.append(
            {
                "RevnId": oracle_id(KIND_REVENUE, DISCOUNT_LINE_BASE + deal.id * 10 + k),
                "OptyId": opty_id(deal.id),
                "InventoryItemId": None,
                "ItemNumber": None,
                "Description": disc.description,
                "ProdGroupId": oracle_id(KIND_PRODUCT_GROUP, DISCOUNT_GROUP[0]),
                "ProdGroupName": DISCOUNT_GROUP[1],
                "Quantity": 1,
                "UnitPrice": 0.0,
                "RevnAmount": -cut / 100.0,
                "RevnAmountCurcyCode": deal.currency,
                "CreationDate": ts(disc.created_at),
                "LastUpdateDate": ts(touched or disc.created_at),
            }
        )
    return rows


def campaign_id(index: int) -> int:
    return oracle_id(KIND_CAMPAIGN, index + 1)


def _campaigns(world: World, view: OracleCxView) -> None:
    stamp = ts(world.base_time)
    for index, (name, kind) in enumerate(CAMPAIGNS):
        view.campaigns.append(
            {
                "CampaignId": campaign_id(index),
                "CampaignNumber": f"CDRM_CMP_{1000 + index}",
                "CampaignName": name,
                "CampaignTypeCode": kind.upper().replace(" ", "_"),
                "StatusCode": "ACTIVE",
                "CreationDate": stamp,
                "LastUpdateDate": stamp,
            }
        )


def opportunity_campaign_shares(deal_id: int, primary: int) -> list[tuple[int, float]]:
    """(campaign index, RevenuePercentage) in OptyCampaignId order: the lead's campaign
    `primary` always has the largest share or ties it with the smaller OptyCampaignId."""
    other = (primary + 1 + deal_id % (len(CAMPAIGNS) - 1)) % len(CAMPAIGNS)
    pattern = deal_id % 4
    if pattern == 1:
        return [(primary, 70.0), (other, 30.0)]
    if pattern == 2:
        return [(primary, 50.0), (other, 50.0)]
    if pattern == 3:
        return [(other, 40.0), (primary, 60.0)]
    return [(primary, 100.0)]


def _opportunity_campaigns(deal: Deal, lead: Lead | None, created: str | None) -> list[Record]:
    if lead is None or lead.campaign is None:
        return []
    return [
        {
            "OptyCampaignId": oracle_id(KIND_OPTY_CAMPAIGN, deal.id * 4 + n),
            "OptyId": opty_id(deal.id),
            "CampaignId": campaign_id(index),
            "CampaignName": CAMPAIGNS[index][0],
            "RevenuePercentage": share,
            "CreationDate": created,
            "LastUpdateDate": created,
        }
        for n, (index, share) in enumerate(opportunity_campaign_shares(deal.id, lead.campaign))
    ]


def render_oracle_cx(world: World, as_of: int) -> OracleCxView:
    view = OracleCxView(as_of=as_of)
    _static(world, view)
    _leads(world, view, as_of)
    _activities(world, view, as_of)
    _campaigns(world, view)
    source_leads = {
        lead.converted_deal_id: lead
        for lead in world.leads
        if lead.crm == SYSTEM and lead.converted_deal_id is not None
    }
    lead_ids = {r["ConvertedOpportunityId"]: r for r in view.leads if r["ConvertedOpportunityId"]}
    org_names = {org.id: org.name for org in world.orgs}
    for deal in world.deals:
        if deal.add_time > as_of or deal.crm != SYSTEM:
            continue
        st = deal_state(deal, as_of)
        oid = opty_id(deal.id)
        lead = lead_ids.get(oid)
        record = _opportunity(world, deal, st, org_names[deal.org_id])
        view.opportunities.append(record)
        view.opty_ids[record["OptyNumber"]] = oid
        view.revenue_items[oid] = _revenue(deal, as_of)
        view.stage_snapshots[oid] = _snapshots(world, deal, st)
        view.opportunity_campaigns[oid] = _opportunity_campaigns(
            deal, source_leads.get(deal.id) if lead else None, record["CreationDate"]
        )
        view.opportunity_leads[oid] = (
            [
                {
                    "OptyLeadId": oracle_id(KIND_OPTY_LEAD, deal.id),
                    "OptyId": oid,
                    "LeadId": lead["LeadId"],
                    "LeadNumber": lead["LeadNumber"],
                    "Name": lead["Name"],
                    "PrimaryFlag": True,
                    "CreationDate": lead["ConvertedTimestamp"],
                    "LastUpdateDate": lead["ConvertedTimestamp"],
                }
            ]
            if lead
            else []
        )
    return view
