"""Builds the whole company history (people, orgs, deals, leads, billing) for a seed."""

from __future__ import annotations

import itertools
import random

from l2c_demo.simulator.billing import build_billing, number_invoices, plant_many_lines
from l2c_demo.simulator.catalog import (
    CAMPAIGNS,
    EXPANSION,
    FIRST_NAMES,
    LAST_NAMES,
    LEAD_SOURCES,
    NEW_BUSINESS,
    ORG_KINDS,
    ORG_STEMS,
    PIPELINES,
    REGION_COUNTRIES,
    REGION_SUFFIX,
    REP_NAMES,
)
from l2c_demo.simulator.clock import DAY, to_unix
from l2c_demo.simulator.config import SimConfig
from l2c_demo.simulator.ids import IdMaker
from l2c_demo.simulator.leadphase import (
    number_contact_activities,
    plant_handovers,
    plant_lead_phase,
)
from l2c_demo.simulator.lifecycle import LifeBuilder
from l2c_demo.simulator.model import Deal, Lead, Org, Person, Rep, World
from l2c_demo.simulator.sell_renewals import sell_contracts
from l2c_demo.simulator.state import deal_state
from l2c_demo.simulator.subscriptions import HORIZON_DAYS, build_subscriptions


def _reps(rng: random.Random, cfg: SimConfig, base: int) -> list[Rep]:
    reps: list[Rep] = []
    lo, hi = cfg.normal_discount_range
    n_teams = len(cfg.team_names)
    for i in range(cfg.n_reps):
        name = REP_NAMES[i % len(REP_NAMES)] + ("" if i < len(REP_NAMES) else f" {i}")
        mean = cfg.high_discount_mean if i == cfg.high_discount_rep_index else rng.uniform(lo, hi)
        email = name.lower().replace(" ", ".") + "@demo-company.example"
        reps.append(Rep(i + 1, name, email, i % n_teams, mean, base + i * DAY, i < n_teams))
    return reps


def _orgs(rng: random.Random, cfg: SimConfig, reps: list[Rep]) -> list[Org]:
    n_orgs = max(10, cfg.n_deals // 3)
    names: set[str] = set()
    orgs: list[Org] = []
    for i in range(n_orgs):
        region = rng.choices(cfg.regions, weights=cfg.region_weights)[0]
        country, city = rng.choice(REGION_COUNTRIES[region])
        base = f"{rng.choice(ORG_STEMS)} {rng.choice(ORG_KINDS)}"
        name = f"{base} {rng.choice(REGION_SUFFIX[region])}"
        if name in names:
            name = f"{base} {city} {rng.choice(REGION_SUFFIX[region])}"
        if name in names:
            name = f"{base} #{i + 1}"
        names.add(name)
        orgs.append(Org(0, name, region, country, city, rng.choice(reps).id))
    return orgs


def _business_units(cfg: SimConfig, reps: list[Rep], orgs: list[Org]) -> dict[str, list[Rep]]:
    """Split reps and accounts into the configured CRM business units. A separate random
    stream keeps the single-CRM company identical to what it was before units existed."""
    if len(cfg.crms) != len(cfg.crm_weights) or not cfg.crms:
        raise ValueError("SimConfig.crms and crm_weights must be non-empty and of equal length")
    if len(cfg.crms) > len(reps):
        raise ValueError(f"{len(cfg.crms)} CRMs need at least as many reps (n_reps={len(reps)})")
    for i, rep in enumerate(reps):
        rep.crm = cfg.crms[i % len(cfg.crms)]
    if len(cfg.crms) > 1:
        unit_rng = random.Random(f"business-units-{cfg.seed}")
        for org in orgs:
            org.crm = unit_rng.choices(cfg.crms, weights=cfg.crm_weights)[0]
            org.owner_id = unit_rng.choice([r for r in reps if r.crm == org.crm]).id
    else:
        for org in orgs:
            org.crm = cfg.crms[0]
    return {c: [r for r in reps if r.crm == c] for c in cfg.crms}


def _creation_times(rng: random.Random, cfg: SimConfig, as_of: int, n: int) -> list[int]:
    start = as_of - cfg.history_days * DAY
    span = (cfg.history_days + cfg.future_days) * DAY
    # mild growth: later periods get more deals
    return sorted(start + int(span * rng.random() ** 0.8) for _ in range(n))


def build_world(cfg: SimConfig) -> World:
    rng = random.Random(cfg.seed)
    ids = IdMaker(random.Random(rng.getrandbits(64)))
    as_of = to_unix(cfg.as_of)
    base = as_of - (cfg.history_days + 60) * DAY
    reps = _reps(rng, cfg, base)
    teams = [(i + 1, name, i + 1) for i, name in enumerate(cfg.team_names)]
    orgs = _orgs(rng, cfg, reps)
    reps_by_crm = _business_units(cfg, reps, orgs)
    org_weights = list(itertools.accumulate(1.0 / (k + 1) ** 0.6 for k in range(len(orgs))))
    region_key, discount_key = ids.hash40(), ids.hash40()
    builder = LifeBuilder(rng, cfg, ids, reps, discount_key)
    deals: list[Deal] = []
    leads: list[Lead] = []
    first_use: dict[int, int] = {}
    for deal_id, add in enumerate(_creation_times(rng, cfg, as_of, cfg.n_deals), start=1):
        org_i = rng.choices(range(len(orgs)), cum_weights=org_weights)[0]
        org = orgs[org_i]
        rep = rng.choice(reps_by_crm[org.crm])
        pipeline = EXPANSION if rng.random() < cfg.expansion_share else NEW_BUSINESS
        currency = rng.choices(cfg.currencies, weights=cfg.currency_weights)[0]
        lead_id: str | None = None
        origin = "API" if rng.random() < 0.15 else "ManuallyCreated"
        if rng.random() < cfg.lead_share:
            lead_id, origin = ids.uuid(), "LeadConversion"
            lead_add = add - int(rng.uniform(1.0, 30.0) * DAY)
            value = (round(rng.uniform(2, 80)) * 1000.0, currency) if rng.random() < 0.6 else None
            source = rng.choice(LEAD_SOURCES)
            lead = Lead(
                lead_id, f"{org.name} lead", rep.id, -1, org_i, source, lead_add, value, add
            )
            lead.converted_deal_id = deal_id
            lead.crm = org.crm
            lead.seen_at = lead_add + int(rng.uniform(0.05, 2.0) * DAY)
            leads.append(lead)
            first_use[org_i] = min(first_use.get(org_i, lead_add), lead_add)
        first_use[org_i] = min(first_use.get(org_i, add), add)
        title = f"{org.name} - {'Expansion' if pipeline == EXPANSION else 'New deal'}"
        deal = Deal(
            deal_id,
            title,
            rep.id,
            org_i,
            -1,
            pipeline,
            org.region,
            currency,
            add,
            origin,
            lead_id,
            add + int(rng.uniform(30, 90) * DAY),
            PIPELINES[pipeline][0],
            0.0,
        )
        deal.crm = org.crm
        builder.build(deal, rep)
        deals.append(deal)
    plant_handovers(cfg, deals)
    leads.extend(_unconverted_leads(rng, cfg, ids, reps_by_crm, orgs, as_of, len(leads), first_use))
    _plant_lead_sources(cfg, leads, deals)
    _plant_conversions_without_deal(cfg, leads)
    _plant_campaigns(cfg, leads, deals)
    plant_lead_phase(cfg, reps, leads)
    persons = _finish_orgs(rng, orgs, first_use, as_of)
    _link_people(rng, orgs, deals, leads)
    _assign_ids(deals)
    number_contact_activities(leads, sum(len(d.activities) for d in deals) + 1)
    # the deals of a Certinia unit are billed in Certinia (l2c_demo.simulator.certinia)
    stripe_deals = [d for d in deals if d.crm not in cfg.certinia_crms]
    customers, invoices = build_billing(rng, cfg, ids, stripe_deals, orgs)
    horizon = as_of + (cfg.future_days + HORIZON_DAYS) * DAY
    subscriptions, sub_invoices, refunds, credit_notes = build_subscriptions(
        cfg, stripe_deals, customers, horizon
    )
    if sub_invoices:
        invoices = invoices + sub_invoices
        number_invoices(customers, invoices)
        customers.sort(key=lambda c: c.created)
    plant_many_lines(cfg, invoices)
    return World(
        reps,
        teams,
        orgs,
        persons,
        deals,
        leads,
        customers,
        invoices,
        region_key,
        discount_key,
        base,
        cfg.as_params(),
        subscriptions,
        refunds,
        credit_notes,
        sell_contracts(cfg, deals, {s.deal_id for s in subscriptions}, horizon),
    )


ACCOUNT_ONLY_CONVERSION_SHARE = 0.2
# Relative odds of each LEAD_SOURCES entry ("Web forms", "Prospector", "Manually created",
# "Import") by what became of the lead: Prospector leads convert and win most, imported ones
# least, so conversion and win rate differ by source (truth: lead_sources).
SOURCE_ODDS = {
    "unconverted": (1.0, 0.5, 1.0, 2.0),
    "won": (1.0, 2.0, 1.0, 0.4),
    "lost": (1.0, 0.6, 1.0, 1.6),
    "open": (1.0, 1.0, 1.0, 1.0),
}
END_OF_TIME = 2**62


def _plant_lead_sources(cfg: SimConfig, leads: list[Lead], deals: list[Deal]) -> None:
    """Give each lead a source drawn with SOURCE_ODDS of its fate: no deal, or its deal's
    final outcome (independent of as_of, so a rewound company is the same company). Its own
    random stream leaves the rest of the company unchanged."""
    pick = random.Random(f"lead-sources-{cfg.seed}")
    by_id = {deal.id: deal for deal in deals}
    for lead in leads:
        deal = by_id.get(lead.converted_deal_id or -1)
        fate = "unconverted" if deal is None else deal_state(deal, END_OF_TIME).status
        lead.source_name = pick.choices(LEAD_SOURCES, weights=SOURCE_ODDS[fate])[0]


# Relative odds of no campaign and of each CAMPAIGNS entry (webinar, trade show, email,
# search ads, referral) by what became of the lead: webinar leads convert and win most,
# search-ad leads least (truth: campaigns).
CAMPAIGN_ODDS = {
    "unconverted": (2.0, 0.4, 1.0, 1.0, 2.2, 1.0),
    "won": (2.0, 2.6, 1.0, 1.0, 0.3, 1.0),
    "lost": (2.0, 0.5, 1.0, 1.0, 1.8, 1.0),
    "open": (2.0, 1.0, 1.0, 1.0, 1.0, 1.0),
}


def _plant_campaigns(cfg: SimConfig, leads: list[Lead], deals: list[Deal]) -> None:
    """Put each lead in one campaign (or none), drawn with CAMPAIGN_ODDS of its fate like the
    lead sources; a deal's primary campaign is its lead's. Its own random stream leaves the
    rest of the company unchanged."""
    pick = random.Random(f"campaigns-{cfg.seed}")
    by_id = {deal.id: deal for deal in deals}
    choices = [None, *range(len(CAMPAIGNS))]
    for lead in leads:
        deal = by_id.get(lead.converted_deal_id or -1)
        fate = "unconverted" if deal is None else deal_state(deal, END_OF_TIME).status
        lead.campaign = pick.choices(choices, weights=CAMPAIGN_ODDS[fate])[0]


def _plant_conversions_without_deal(cfg: SimConfig, leads: list[Lead]) -> None:
    """Some closed Salesforce leads without a deal were converted to an account / contact
    only (IsConverted, no ConvertedOpportunityId); their own random stream leaves the rest of
    the company unchanged."""
    pick = random.Random(f"account-only-conversions-{cfg.seed}")
    for lead in leads:
        if lead.crm == "salesforce" and lead.converted_deal_id is None and lead.archived_at:
            lead.converted_without_deal = pick.random() < ACCOUNT_ONLY_CONVERSION_SHARE


def _unconverted_leads(
    rng: random.Random,
    cfg: SimConfig,
    ids: IdMaker,
    reps_by_crm: dict[str, list[Rep]],
    orgs: list[Org],
    as_of: int,
    n_converted: int,
    first_use: dict[int, int],
) -> list[Lead]:
    out: list[Lead] = []
    for add in _creation_times(
        rng, cfg, as_of, round(cfg.unconverted_leads_per_deal * n_converted)
    ):
        org_i = rng.randrange(len(orgs))
        archived = add + int(rng.uniform(3, 60) * DAY) if rng.random() < 0.75 else None
        value = (round(rng.uniform(2, 60)) * 1000.0, "EUR") if rng.random() < 0.4 else None
        lead = Lead(
            ids.uuid(),
            f"{orgs[org_i].name} inquiry",
            rng.choice(reps_by_crm[orgs[org_i].crm]).id,
            -1,
            org_i,
            rng.choice(LEAD_SOURCES),
            add,
            value,
            archived,
        )
        lead.crm = orgs[org_i].crm
        lead.seen_at = add + int(rng.uniform(0.05, 5.0) * DAY) if rng.random() < 0.8 else None
        out.append(lead)
        first_use[org_i] = min(first_use.get(org_i, add), add)
    return out


def _finish_orgs(
    rng: random.Random, orgs: list[Org], first_use: dict[int, int], as_of: int
) -> list[Person]:
    """Give orgs creation times and ids (ordered by creation) and create their persons."""
    for i, org in enumerate(orgs):
        default = as_of - int(rng.uniform(0, 900) * DAY)
        org.add_time = first_use.get(i, default) - int(rng.uniform(1, 5) * DAY)
        org.update_times = [org.add_time, org.add_time + int(rng.uniform(0, 400) * DAY)]
    persons: list[Person] = []
    order = sorted(range(len(orgs)), key=lambda i: (orgs[i].add_time, i))
    for new_id, i in enumerate(order, start=1):
        org = orgs[i]
        org.id = new_id
        for _ in range(rng.choices((1, 2, 3), weights=(0.5, 0.35, 0.15))[0]):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            domain = org.name.split()[0].lower() + ".example"
            add = org.add_time + rng.randrange(3600)
            person = Person(
                len(persons) + 1,
                f"{first} {last}",
                f"{first.lower()}.{last.lower()}@{domain}",
                f"+{rng.randint(10, 99)} {rng.randint(100000000, 999999999)}",
                org.id,
                org.owner_id,
                add,
                [add, add + int(rng.uniform(0, 300) * DAY)],
            )
            persons.append(person)
            org.person_ids.append(person.id)
    return persons


def _link_people(rng: random.Random, orgs: list[Org], deals: list[Deal], leads: list[Lead]) -> None:
    """Replace org indexes by org ids and pick a contact person of the org."""
    for item in (*deals, *leads):
        org = orgs[item.org_id]
        item.org_id = org.id
        item.person_id = rng.choice(org.person_ids)


def _assign_ids(deals: list[Deal]) -> None:
    """Global ids in creation order for activities, deal products and flow changes."""
    acts = sorted(
        ((a.add_time, d.id, k, a) for d in deals for k, a in enumerate(d.activities)),
        key=lambda row: row[:3],
    )
    for new_id, row in enumerate(acts, start=1):
        row[3].id = new_id
    lines = [line for d in deals for line in d.lines]  # deals are in creation order
    for new_id, line in enumerate(lines, start=1):
        line.id = new_id
    flows = sorted(
        ((c.ts, d.id, k, c) for d in deals for k, c in enumerate(d.flow)), key=lambda r: r[:3]
    )
    for new_id, row in enumerate(flows, start=1):
        row[3].id = new_id
    for d in deals:
        d.flow.sort(key=lambda c: (c.ts, c.id))
