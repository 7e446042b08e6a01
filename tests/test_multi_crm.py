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
    # the log, the two analytical marts and the conformance marts the checks read
    selection = [
        "+case_stage_progression",
        "+invoice_payments",
        "+conformance_summary",
        "+conformance_deviations",
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
    invoice of the case. Compared: every skipped and extra deviation, and every repeated
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
    for system in ALL_CRMS:
        undeclared = shown[system] - declared[system]
        if system == "zendesk_sell":
            undeclared = {a for a in undeclared if not a.startswith("Stage Entered: ")}
        assert undeclared == set(), system
        assert declared[system] - {"Stage Entered: Unmapped"} - unsold <= shown[system], system
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
    assert "Quote Sent" not in summary["salesforce"].split(", ")
    assert "Stage Entered: Negotiation" in summary["zendesk_sell"].split(", ")
    con = duckdb.connect(str(built.db), read_only=True)
    try:
        sentences = process_findings(con)
    finally:
        con.close()
    blind = [s for s in sentences if s.startswith("Not observable in ")]
    assert len(blind) == len(ALL_CRMS)
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
    assert {t.system for t in tests} == set(systems)
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
