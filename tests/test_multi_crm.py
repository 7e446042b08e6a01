"""One event log across four CRMs: a company with business units on Pipedrive, Salesforce,
Oracle CX Sales and Zendesk Sell, billing through Stripe and exporting the orders of the
Pipedrive and Oracle units from its ERP, loaded and built once; every check is per source."""

from __future__ import annotations

import csv
import json
import shutil
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import query, serving, vars_of
from test_mining_oracle import assert_conformance_agrees_with_pm4py

from l2c.dbt_runner import EVENT_LOG_BUILD, ROOT, DbtError, run_dbt
from l2c.findings.process import findings as process_findings
from l2c.raw_checks import source_tests
from l2c_demo.simulator import DemoCompany, SimConfig
from l2c_demo.simulator.crms import ALL_CRMS, CRM_WEIGHTS
from l2c_demo.simulator.render_erp import ERP_CRMS, write_erp_export
from l2c_demo.simulator.render_oracle_cx import CHANNEL_TYPES as ORACLE_CHANNEL_TYPES
from l2c_demo.simulator.render_salesforce import LEAD_SOURCES as SF_LEAD_SOURCES
from l2c_demo.simulator.render_zendesk_sell import UNQUALIFIED_REASONS
from pipelines.load import load_all
from pipelines.manifest import AFTER_THE_SALE

pytestmark = pytest.mark.slow

# stage histories of these CRMs are complete in the source; Zendesk Sell's are rebuilt from
# scheduled loads and have a documented blind spot (tests/test_zendesk_sell.py)
FULL_HISTORY = ("pipedrive", "salesforce", "oracle_cx")


@dataclass
class Built:
    company: DemoCompany
    truth: dict[str, Any]
    db: Path
    target: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    work = tmp_path_factory.mktemp("multi_crm")
    config = SimConfig(
        seed=13,
        n_deals=1200,
        crms=ALL_CRMS,
        crm_weights=tuple(CRM_WEIGHTS[c] for c in ALL_CRMS),
    )
    company = DemoCompany(config)
    drop = work / "erp_drop"
    write_erp_export(company, drop, ERP_CRMS)
    db = work / "l2c.duckdb"
    with serving(company, SOURCES__ERP__FOLDER=str(drop)):
        load_all(db, [*ALL_CRMS, "stripe", "erp"])
    # the log, the analytical marts and the conformance marts the checks read
    selection = [
        "+case_stage_progression",
        "+invoice_payments",
        "+conformance_summary",
        "+conformance_deviations",
        "+lead_source_performance",
        "+lead_conversion_cohorts",
    ]
    args = ["build", *EVENT_LOG_BUILD[:-2], *selection, *EVENT_LOG_BUILD[-2:]]
    run_dbt([*args, *vars_of(company)], db, target_path=work / "target", quiet=True)
    yield Built(company, company.ground_truth(), db, work / "target")


def _canonical() -> dict[tuple[str, str], str]:
    with (ROOT / "seeds" / "stage_mapping.csv").open() as handle:
        return {
            (row["pipeline_name"], row["stage_name"]): row["canonical_stage"]
            for row in csv.DictReader(handle)
            if row["source_system"] == "pipedrive"  # the simulator's abstract stage names
        }


def test_every_crm_has_its_cases_and_outcomes(built: Built) -> None:
    rows = query(
        built.db,
        "select source_system, outcome, count(*) from marts.cases "
        "where case_type = 'deal' group by 1, 2",
    )
    found: dict[str, dict[str, int]] = {}
    for system, outcome, n in rows:
        found.setdefault(system, {})[outcome] = n
    assert set(found) == set(ALL_CRMS)
    for crm, counts in built.truth["counts_by_crm"].items():
        expected = {k: counts[k] for k in ("won", "lost", "open") if counts[k]}
        assert found[crm] == expected, crm


def test_stage_paths_equal_the_truth_in_every_full_history_crm(built: Built) -> None:
    mapping = _canonical()
    logged: dict[str, list[str]] = {}
    for case_id, activity in query(
        built.db,
        "select case_id, activity from marts.event_log "
        "where activity_family = 'Stage Entered' order by case_id, event_order",
    ):
        logged.setdefault(case_id, []).append(activity.removeprefix("Stage Entered: "))
    checked: Counter[str] = Counter()
    wrong: list[str] = []
    for deal in built.truth["deals"]:
        if deal["crm"] not in FULL_HISTORY:
            continue
        checked[deal["crm"]] += 1
        expected = [mapping[(deal["pipeline"], s)] for s in deal["stages_entered"]]
        if logged.get(deal["case_id"], []) != expected:
            wrong.append(deal["case_id"])
    assert not wrong, f"{len(wrong)} cases differ, e.g. {wrong[:5]}"
    assert all(checked[crm] > 50 for crm in FULL_HISTORY), checked


def test_invoices_link_to_the_right_case_in_every_crm(built: Built) -> None:
    true_case = {i["id"]: i["deal_case_id"] for i in built.truth["invoices"]}
    rows = query(built.db, "select invoice_id, deal_key, link_method from marts.invoices")
    assert len(rows) == len(true_case)
    linked = [(i, d) for i, d, _m in rows if d is not None]
    assert not [(i, d) for i, d in linked if true_case[i] != d]
    by_crm = Counter(d.split(":", 1)[0] for _, d in linked)
    assert set(by_crm) == set(ALL_CRMS)
    # exactly the invoices the truth says each method can link
    by_method = Counter(m for _i, d, m in rows if d is not None)
    counts = built.truth["counts"]
    assert by_method == {
        "metadata": counts["invoices_with_deal_metadata"],
        "rule": counts["invoices_linkable_by_rule"],
    }


def test_orders_from_crm_objects_and_erp_files_are_the_truths(built: Built) -> None:
    expected = Counter(o["deal_case_id"] for o in built.truth["orders"])
    rows = query(
        built.db,
        "select case_id, count(*) from marts.event_log "
        "where activity = 'Sales Order Created' group by 1",
    )
    assert dict(rows) == dict(expected)
    order_systems = dict(
        query(
            built.db,
            "select source_system, count(*) from marts.event_log "
            "where activity = 'Sales Order Created' group by 1",
        )
    )
    # Salesforce and Zendesk Sell have order objects; Pipedrive and Oracle orders are ERP rows
    assert set(order_systems) == {"salesforce", "zendesk_sell", "erp"}


def test_skipped_and_backward_stages_per_source_equal_the_truth(built: Built) -> None:
    rows = query(
        built.db,
        "select case_id, skipped_stages_count, backward_moves_count "
        "from marts.case_stage_progression",
    )
    mart = {case_id: (skipped, backward) for case_id, skipped, backward in rows}
    for crm in FULL_HISTORY:
        deals = [d for d in built.truth["deals"] if d["crm"] == crm]
        truth = {d["case_id"]: (len(d["skipped_stages"]), d["backward_moves"]) for d in deals}
        assert {c: mart[c] for c in truth} == truth, crm


def test_each_planted_deviation_is_found_once_and_no_blind_spot_is_one(built: Built) -> None:
    """The deviations conformance finds equal the planted ones, each found once: the stages
    the truth says a deal skipped (Zendesk Sell cannot observe stage entries: none) and the
    quote of a deal won without one (where the CRM records quotes), one
    repeated stage entry per re-entry of a stage (backward moves), one repeated Quote Sent per
    revised quote (where the CRM records quotes) and one extra Invoice Voided per voided
    invoice of the case, and one extra Owner Changed per planted owner change where the CRM
    records it. Compared: every skipped and extra deviation, and every repeated
    stage entry or Quote Sent. Not compared (the truth has no per-case count of them): repeats
    of follow-ups, invoices and payments (split invoices, partial payments, re-issues) and
    follow-ups done after the deal entered a later stage (out of order). Nothing is flagged
    for a step the case's system cannot observe."""
    mapping = _canonical()
    found: Counter[tuple[str, str, str]] = Counter(
        (case_id, kind, activity)
        for case_id, kind, activity in query(
            built.db, "select case_id, deviation_kind, activity from marts.conformance_deviations"
        )
    )
    expected: Counter[tuple[str, str, str]] = Counter()
    for deal in built.truth["deals"]:
        case = deal["case_id"]
        if deal["crm"] in FULL_HISTORY:
            for stage, n in Counter(deal["stages_entered"]).items():
                if n > 1:
                    entered = "Stage Entered: " + mapping[(deal["pipeline"], stage)]
                    expected[(case, "repeated", entered)] = n - 1
            for stage in deal["skipped_stages"]:
                expected[
                    (case, "skipped", "Stage Entered: " + mapping[(deal["pipeline"], stage)])
                ] += 1
        if deal["crm"] in ("pipedrive", "salesforce") and deal["quotes_sent"] > 1:
            expected[(case, "repeated", "Quote Sent")] = deal["quotes_sent"] - 1
        quotes = deal["crm"] in ("pipedrive", "salesforce")
        if quotes and deal["outcome"] == "won" and deal["quotes_sent"] == 0:
            # a lost deal re-opened and won without a quote: none was accepted either
            expected[(case, "skipped", "Quote Sent")] += 1
            if deal["crm"] == "salesforce":
                expected[(case, "skipped", "Quote Accepted")] += 1
    # a reassignment is no step of the ideal path: one extra Owner Changed per owner change
    # where the CRM records them (deals: Pipedrive and Salesforce; leads: Salesforce)
    phase = built.truth["lead_phase"]
    for change in phase["deal_owner_changes"]:
        if change["crm"] in ("pipedrive", "salesforce"):
            expected[(change["case_id"], "extra", "Owner Changed")] += 1
    for lead in phase["leads"]:
        if lead["crm"] == "salesforce" and lead["reassigned"] is not None:
            expected[(lead["case_id"], "extra", "Owner Changed")] += 1
    voided = {i["id"] for i in built.truth["invoices"] if i["voided"]}
    for invoice_id, case in query(
        built.db, "select invoice_id, deal_key from marts.invoices where deal_key is not null"
    ):
        if invoice_id in voided:
            expected[(case, "extra", "Invoice Voided")] += 1
    ours = Counter(
        {
            k: n
            for k, n in found.items()
            if k[1] in ("skipped", "extra")
            or (k[1] == "repeated" and k[2] == "Quote Sent")
            or (
                k[1] == "repeated"
                and k[2].startswith("Stage Entered: ")
                and k[0].split(":")[0] in FULL_HISTORY
            )
        }
    )
    assert ours == expected
    assert {k[1] for k in expected} == {"skipped", "repeated", "extra"}
    blind = query(
        built.db,
        """
        select count(*) from marts.conformance_deviations as d
        inner join marts.cases as c using (case_id)
        where not exists (
            select 1 from intermediate.int_observable_activities_resolved as o
            where o.source_system = c.source_system and o.activity = d.activity
        ) and d.deviation_kind = 'skipped'
        """,
    )
    assert blind == [(0,)]


def test_each_system_observes_what_it_declares_and_nothing_else(built: Built) -> None:
    """The manifest's declarations are true on the demo: every activity declared observable
    for a system occurs in its cases (but Stage Entered: Unmapped, which a mapped demo never
    emits), and every activity a case shows is declared, except Zendesk Sell's stage entries:
    they are seen only when a scheduled load finds the deal in the stage, so their absence is
    no evidence and they are declared not observable (docs/zendesk-sell-history.md). Stripe's
    after-sale activities occur only where the company sells subscriptions."""
    shown: dict[str, set[str]] = {}
    for system, activity in query(
        built.db,
        "select distinct c.source_system, e.activity from marts.event_log as e "
        "inner join marts.cases as c using (case_id)",
    ):
        shown.setdefault(system, set()).add(activity)
    declared: dict[str, set[str]] = {}
    for system, activity in query(
        built.db,
        "select source_system, activity from intermediate.int_observable_activities_resolved",
    ):
        declared.setdefault(system, set()).add(activity)
    assert set(shown) == set(declared) == set(ALL_CRMS)
    # this company sells no subscriptions: Stripe's after-sale activities may not occur
    # (tests/test_subscriptions.py checks them on a company that does)
    unsold = set(AFTER_THE_SALE) if built.company.config.subscription_share == 0 else set()
    # deals change owner only in a CRM where a rep has a teammate in the same CRM (and only
    # Salesforce records lead owner changes)
    phase = built.truth["lead_phase"]
    reassigning = {c["crm"] for c in phase["deal_owner_changes"]} | {
        lead["crm"]
        for lead in phase["leads"]
        if lead["reassigned"] is not None and lead["crm"] == "salesforce"
    }
    for system in ALL_CRMS:
        absent = unsold | (set() if system in reassigning else {"Owner Changed"})
        undeclared = shown[system] - declared[system]
        if system == "zendesk_sell":
            undeclared = {a for a in undeclared if not a.startswith("Stage Entered: ")}
        assert undeclared == set(), system
        assert declared[system] - {"Stage Entered: Unmapped"} - absent <= shown[system], system
    summary = dict(
        query(
            built.db,
            "select dimension_value, unobservable_steps from marts.conformance_summary "
            "where dimension = 'source_system'",
        )
    )
    for system in ("oracle_cx", "zendesk_sell"):  # no quotes in these CRMs
        assert "Quote Sent" in summary[system].split(", "), system
    assert "Quote Accepted" in summary["pipedrive"].split(", ")
    # Salesforce records every step of the shipped path (Quote Created: the quote's CreatedDate)
    assert summary["salesforce"] is None
    assert "Stage Entered: Negotiation" in summary["zendesk_sell"].split(", ")
    con = duckdb.connect(str(built.db), read_only=True)
    try:
        sentences = process_findings(con)
    finally:
        con.close()
    blind = [s for s in sentences if s.startswith("Not observable in ")]
    assert len(blind) == len(ALL_CRMS) - 1
    assert not any("(salesforce)" in s for s in blind)
    assert any("Oracle CX Sales (oracle_cx): " in s and "Quote Sent" in s for s in blind)


def test_token_replay_agrees_with_case_conformance_in_every_crm(built: Built) -> None:
    compared = assert_conformance_agrees_with_pm4py(built.db)
    assert compared["fitting"] > 100 and compared["deviating"] > 100


def test_the_slow_paying_region_is_the_slowest_in_every_crm(built: Built) -> None:
    slow = built.truth["params"]["slow_paying_region"]
    rows = query(
        built.db,
        "select split_part(deal_key, ':', 1) as crm, region, days_late "
        "from marts.invoice_payments where days_late is not null and deal_key is not null",
    )
    late: dict[str, dict[str, list[float]]] = {}
    for crm, region, days in rows:
        late.setdefault(crm, {}).setdefault(region, []).append(days)
    for crm in ALL_CRMS:
        medians = {r: statistics.median(v) for r, v in late[crm].items() if len(v) >= 5}
        assert max(medians, key=medians.__getitem__) == slow, (crm, medians)


def test_raw_checks_cover_every_loaded_system_and_stop_what_reads_bad_rows(
    built: Built, tmp_path: Path
) -> None:
    systems = [*ALL_CRMS, "stripe", "erp"]
    tests = source_tests(built.target)
    assert [t.render() for t in tests if t.status != "pass"] == []
    # Certinia is registered but not loaded here: its checks run and pass on absent tables
    assert {t.system for t in tests} == {*systems, "certinia"}
    # bad rows of each kind (a compound key too), in six systems' raw tables: each fails its
    # dbt source test, which names the system, table, column and how many rows
    broken = tmp_path / "broken.duckdb"
    shutil.copy(built.db, broken)
    with duckdb.connect(str(broken)) as con:
        for sql in (
            "insert into raw_salesforce.opportunities "
            "select * from raw_salesforce.opportunities limit 1",
            "update raw_oracle_cx.stage_snapshots set stg_enter_date = null "
            "where opty_stg_snapshot_id = "
            "(select min(opty_stg_snapshot_id) from raw_oracle_cx.stage_snapshots)",
            "update raw_pipedrive.deals set add_time = '1970-01-01 00:00:00+00' "
            "where id = (select min(id) from raw_pipedrive.deals)",
            "update raw_pipedrive.deals set status = 'stuck' "
            "where id = (select max(id) from raw_pipedrive.deals)",
            "update raw_stripe.invoices set created = 4102444800 "  # 2100-01-01
            "where id = (select min(id) from raw_stripe.invoices)",
            "update raw_stripe.charges set amount = -100 "
            "where id = (select min(id) from raw_stripe.charges)",
            "update raw_zendesk_sell.deals set value = -1 "
            "where id = (select min(id) from raw_zendesk_sell.deals)",
            "update raw_erp.orders set net_amount = -1 "
            "where order_no = (select min(order_no) from raw_erp.orders)",
            "insert into raw_pipedrive.team_members "
            "select * replace (uuid()::varchar as _dlt_id) from raw_pipedrive.team_members limit 1",
        ):
            con.execute(sql)
    # every source test, one model reading a broken table, one reading a sound one
    target = tmp_path / "target"
    selection = ["--select", "source:*", "stg_salesforce__deals", "stg_stripe__customers"]
    with pytest.raises(DbtError, match="source_unique_salesforce_opportunities_id"):
        run_dbt(["build", *selection, *vars_of(built.company)], broken, target_path=target)
    failed = {t.name: t.render() for t in source_tests(target) if t.failed}
    outside = "row(s) outside 2000-01-01 .. now + 1 day"
    expected = {
        "source_unique_salesforce_opportunities_id": "salesforce: "
        "raw_salesforce.opportunities.id: unique failed, 1 duplicated value(s)",
        "source_not_null_oracle_cx_stage_snapshots_stg_enter_date": "oracle_cx: "
        "raw_oracle_cx.stage_snapshots.stg_enter_date: not_null failed, 1 row(s) with a null",
        "source_timestamp_in_range_pipedrive_deals_add_time": "pipedrive: "
        f"raw_pipedrive.deals.add_time: timestamp_in_range failed, 1 {outside}",
        "source_accepted_values_pipedrive_deals_status__open__won__lost__deleted": "pipedrive: "
        "raw_pipedrive.deals.status: accepted_values failed, 1 value(s) not in "
        "[open, won, lost, deleted]",
        "source_unix_timestamp_in_range_stripe_invoices_created": "stripe: "
        f"raw_stripe.invoices.created: unix_timestamp_in_range failed, 1 {outside}",
        "source_non_negative_stripe_charges_amount": "stripe: "
        "raw_stripe.charges.amount: non_negative failed, 1 row(s) below zero",
        "source_non_negative_zendesk_sell_deals_value": "zendesk_sell: "
        "raw_zendesk_sell.deals.value: non_negative failed, 1 row(s) below zero",
        "source_non_negative_erp_orders_net_amount": "erp: "
        "raw_erp.orders.net_amount: non_negative failed, 1 row(s) below zero",
        "source_unique_combination_pipedrive_team_members_team_id__user_id": "pipedrive: "
        "raw_pipedrive.team_members: unique_combination failed, 1 duplicated key(s)",
    }
    assert failed == {name: f"{text} (dbt test {name})" for name, text in expected.items()}
    # the source tests ran first: the model on the broken table was skipped, the other built
    results = json.loads((target / "run_results.json").read_text())["results"]
    status = {r["unique_id"].split(".")[-1]: r["status"] for r in results}
    assert status["stg_salesforce__deals"] == "skipped"
    assert status["stg_stripe__customers"] == "success"


def test_leads_converted_without_a_deal_are_converted_not_disqualified(built: Built) -> None:
    """A Salesforce lead converted to an account / contact only (IsConverted, no
    ConvertedOpportunityId) is a converted lead case, never a Lead Disqualified."""
    statuses = dict(
        query(
            built.db,
            "select lead_status, count(*) from intermediate.int_leads_classified "
            "where source_system = 'salesforce' group by 1",
        )
    )
    truth = built.truth["counts_by_crm"]["salesforce"]
    assert truth["leads_converted_without_deal"] > 0
    assert statuses.get("converted_without_deal") == truth["leads_converted_without_deal"]
    assert statuses.get("disqualified") == truth["leads_disqualified"]
    assert statuses.get("converted") == truth["leads_converted"]
    wrongly_disqualified = query(
        built.db,
        "select count(*) from marts.event_log as e "
        "inner join intermediate.int_leads_classified as l on e.case_id = l.case_id "
        "where e.activity = 'Lead Disqualified' and l.lead_status <> 'disqualified'",
    )[0][0]
    assert wrongly_disqualified == 0
    cases = query(
        built.db,
        "select count(*), count(closed_at), count(lost_at) from marts.cases "
        "where case_type = 'lead' and outcome = 'converted'",
    )[0]
    assert cases == (truth["leads_converted_without_deal"],) * 2 + (0,)
    cohorts = query(
        built.db,
        "select sum(leads_converted_without_deal), sum(leads_disqualified), "
        "sum(leads_converted) from marts.lead_conversion_cohorts "
        "where source_system = 'salesforce'",
    )[0]
    assert cohorts == (
        truth["leads_converted_without_deal"],
        truth["leads_disqualified"],
        truth["leads_converted"],
    )
    # the other systems' leads have no such conversion
    assert {
        system
        for (system,) in query(
            built.db,
            "select distinct source_system from intermediate.int_leads_classified "
            "where lead_status = 'converted_without_deal'",
        )
    } == {"salesforce"}


def test_zendesk_deals_closed_as_unqualified_are_lost_with_their_reason(built: Built) -> None:
    """Zendesk Sell closes a deal that never qualified in its pipeline's Unqualified stage
    (category unqualified, an unqualified reason, no loss reason): lost, with that reason,
    and the Unqualified stage is no stage of the deal's path."""
    unqualified = query(
        built.db,
        "select count(*) from raw_zendesk_sell.deals as d "
        "inner join raw_zendesk_sell.stages as s on d.stage_id = s.id "
        "where s.category = 'unqualified'",
    )[0][0]
    true_lost = {
        d["case_id"]: d["lost_reason"]
        for d in built.truth["deals"]
        if d["crm"] == "zendesk_sell" and d["outcome"] == "lost"
    }
    expected_unqualified = sum(1 for r in true_lost.values() if r in UNQUALIFIED_REASONS)
    assert unqualified == expected_unqualified > 0
    rows = query(
        built.db,
        "select case_id, outcome, lost_reason from marts.cases "
        "where source_system = 'zendesk_sell' and case_type = 'deal' and outcome <> 'won'",
    )
    assert {c: r for c, o, r in rows if o == "lost"} == true_lost
    assert not [c for c, o, _r in rows if o == "open" and c in true_lost]
    stage_names = {
        name
        for (name,) in query(built.db, "select stage_name from intermediate.int_stages_unioned")
    }
    assert "Unqualified" not in stage_names


def _raw_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    cursor = con.execute(f"select * from {table}")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _lead_source_kpis_from_raw(db: Path) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """(system, lead source) -> (leads, leads converted into a deal, won, lost deals), from the
    raw payloads with no dbt model: every row was loaded at the system's as-of, so each lead
    counts, converted when a loaded (non-deleted) deal came from it."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        # per system: leads {id: source}, lead -> converted deal id, deals {id: (lead, outcome)}
        leads: dict[str, dict[str, str | None]] = {}
        deals: dict[str, dict[str, tuple[str | None, str]]] = {}
        pd_leads = _raw_rows(con, "raw_pipedrive.leads")
        leads["pipedrive"] = {r["id"]: r["source_name"] or r["origin"] for r in pd_leads}
        deals["pipedrive"] = {
            str(r["id"]): (r["source_lead_id"], r["status"])
            for r in _raw_rows(con, "raw_pipedrive.deals")
            if r["status"] != "deleted" and not r.get("is_deleted")
        }
        sf_leads = _raw_rows(con, "raw_salesforce.leads")
        leads["salesforce"] = {r["id"]: r["lead_source"] for r in sf_leads}
        sf_from = {r["converted_opportunity_id"]: r["id"] for r in sf_leads}
        deals["salesforce"] = {
            r["id"]: (
                sf_from.get(r["id"]),
                "won" if r["is_won"] else "lost" if r["is_closed"] else "open",
            )
            for r in _raw_rows(con, "raw_salesforce.opportunities")
            if not r["is_deleted"]
        }
        zs_leads = _raw_rows(con, "raw_zendesk_sell.leads")
        leads["zendesk_sell"] = {str(r["id"]): r["source_name"] for r in zs_leads}
        zs_from = {r["converted_deal_id"]: str(r["id"]) for r in zs_leads}
        zs_outcome = {"won": "won", "lost": "lost", "unqualified": "lost"}
        deals["zendesk_sell"] = {
            str(r["id"]): (zs_from.get(r["id"]), zs_outcome.get(r["stage_category"], "open"))
            for r in _raw_rows(con, "raw_zendesk_sell.deals")
        }
        ox_leads = _raw_rows(con, "raw_oracle_cx.leads")
        leads["oracle_cx"] = {str(r["lead_id"]): r["channel_type"] for r in ox_leads}
        ox_from = {r["converted_opportunity_id"]: str(r["lead_id"]) for r in ox_leads}
        deals["oracle_cx"] = {
            str(r["opty_id"]): (ox_from.get(r["opty_id"]), r["status_code"].lower())
            for r in _raw_rows(con, "raw_oracle_cx.opportunities")
        }
    finally:
        con.close()
    counts: dict[tuple[str, str], list[int]] = {}
    for system, system_leads in leads.items():
        converting = {lead for lead, _o in deals[system].values() if lead is not None}
        for lead_id, source in system_leads.items():
            row = counts.setdefault((system, source or "(none)"), [0, 0, 0, 0])
            row[0] += 1
            row[1] += lead_id in converting
        for lead_id, outcome in deals[system].values():
            source = system_leads.get(lead_id) if lead_id is not None else None
            row = counts.setdefault((system, source or "(none)"), [0, 0, 0, 0])
            if outcome in ("won", "lost"):
                row[2 if outcome == "won" else 3] += 1
    return {key: (a, b, c, d) for key, (a, b, c, d) in counts.items()}


def test_lead_source_mart_equals_a_recomputation_from_the_raw_payloads(built: Built) -> None:
    expected = _lead_source_kpis_from_raw(built.db)
    rows = query(
        built.db,
        "select source_system, lead_source, leads_count, leads_converted, won_count, "
        "lost_count, conversion_rate, win_rate from marts.lead_source_performance",
    )
    mart = {(s, src): (n, c, w, lo) for s, src, n, c, w, lo, _cr, _wr in rows}
    assert {k: v for k, v in mart.items() if k[0] != "all"} == expected
    overall: dict[str, list[int]] = {}
    for (_system, source), values in expected.items():
        totals = overall.setdefault(source, [0, 0, 0, 0])
        for i, value in enumerate(values):
            totals[i] += value
    assert {src: list(v) for (s, src), v in mart.items() if s == "all"} == overall
    for _s, _src, n, c, w, lo, conversion_rate, win_rate in rows:
        assert conversion_rate == (c / n if n else None)
        assert win_rate == (w / (w + lo) if w + lo else None)
    # every lead is a lead case or the lead of deal cases, each carrying the lead's source
    by_lead = query(
        built.db,
        "select source_system, coalesce(lead_source, '(none)'), count(distinct lead_key) "
        "from marts.cases where lead_key is not null group by 1, 2",
    )
    assert {(s, src): n for s, src, n in by_lead} == {k: v[0] for k, v in expected.items() if v[0]}


def _truth_rates(rows: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    totals: dict[str, list[int]] = {}
    for row in rows:
        t = totals.setdefault(row["source"], [0, 0, 0, 0])
        for i, key in enumerate(("leads", "converted", "won", "lost")):
            t[i] += row[key]
    return {s: (c / n, w / (w + lo)) for s, (n, c, w, lo) in totals.items()}


def test_lead_source_mart_finds_the_planted_best_and_worst_sources(built: Built) -> None:
    """Prospector leads were planted to convert and win most, imported ones least; the mart
    ranks each system's sources (by its own source names) as the truth does."""
    truth = built.truth["lead_sources"]
    overall = _truth_rates(truth)
    for metric in (0, 1):
        ranked = sorted(overall, key=lambda s: overall[s][metric])
        assert (ranked[0], ranked[-1]) == ("Import", "Prospector"), metric
    names = {
        "pipedrive": {s: s for s in overall},
        "zendesk_sell": {s: s for s in overall},
        "salesforce": SF_LEAD_SOURCES,
        "oracle_cx": ORACLE_CHANNEL_TYPES,
    }
    rows = query(
        built.db,
        "select source_system, lead_source, conversion_rate, win_rate "
        "from marts.lead_source_performance "
        "where source_system <> 'all' and lead_source <> '(none)'",
    )
    for system in ALL_CRMS:
        true_rates = _truth_rates([r for r in truth if r["crm"] == system])
        mart = {src: (cr, wr) for s, src, cr, wr in rows if s == system}
        assert mart == {names[system][s]: pytest.approx(v) for s, v in true_rates.items()}
        best, worst = names[system]["Prospector"], names[system]["Import"]
        assert mart[best][0] > mart[worst][0] and mart[best][1] > mart[worst][1], system
