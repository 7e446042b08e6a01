"""The whole spine on a small demo company: local APIs -> dlt -> DuckDB -> dbt build (the raw
checks first) -> GX on the event log, checked against the simulator's ground truth."""

from __future__ import annotations

import csv
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    ALLOWED_DBT_WARNINGS,
    content_hashes,
    dbt_warnings,
    only_systems,
    query,
    serving,
)

from l2c.dbt_runner import EVENT_LOG_BUILD, ROOT, run_dbt
from l2c.quality import QualityError, check, event_log_suites, run_suites
from l2c.raw_checks import source_tests
from l2c_demo.fake_api import FakeApiServer
from l2c_demo.simulator import DemoCompany, SimConfig
from pipelines.load import load_all, load_system

# the company's systems, and Salesforce registered but not loaded (its raw tests run on tables
# that are not there); no other system's empty staging models and tests
dbt_systems = only_systems("pipedrive", "stripe", "salesforce")

pytestmark = pytest.mark.slow


@dataclass
class Built:
    company: DemoCompany
    server: FakeApiServer
    db: Path
    target: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    work = tmp_path_factory.mktemp("e2e")
    company = DemoCompany(SimConfig(seed=11, n_deals=400))
    with serving(company) as server:
        db = work / "l2c.duckdb"
        load_all(db)
        run_dbt(["build", *EVENT_LOG_BUILD], db, target_path=work / "target", quiet=True)
        yield Built(company, server, db, work / "target")


def canonical_stage_of() -> dict[tuple[str, str], str]:
    with (ROOT / "seeds" / "stage_mapping.csv").open() as handle:
        return {
            (row["pipeline_name"], row["stage_name"]): row["canonical_stage"]
            for row in csv.DictReader(handle)
        }


def test_raw_checks_and_great_expectations_on_the_event_log_pass(built: Built) -> None:
    report = check(built.db, event_log_suites())
    assert report.success and len(report.results) > 10
    # the build ran the raw tables' dbt tests: Pipedrive's and Stripe's on their data, the
    # other registered systems' on tables that are not there (nothing loaded: they pass)
    tests = source_tests(built.target)
    assert [t.render() for t in tests if t.status != "pass"] == []
    relations = {t.relation for t in tests}
    assert {"raw_pipedrive.deals", "raw_stripe.invoices", "raw_salesforce.opportunities"} <= (
        relations
    )
    schemas = query(built.db, "select schema_name from duckdb_schemas()")
    assert ("raw_salesforce",) not in schemas and ("raw_pipedrive",) in schemas


def test_great_expectations_fail_loudly(built: Built) -> None:
    # the demo links ~99% of invoices; demanding more than are linkable must fail, readably
    truth = built.company.ground_truth()["counts"]
    linked = truth["invoices_with_deal_metadata"] + truth["invoices_linkable_by_rule"]
    impossible = min(1.0, linked / truth["invoices"] + 0.005)
    with pytest.raises(QualityError, match=r"deal_key.*unexpected"):
        check(built.db, event_log_suites(min_link_share=impossible))
    assert not run_suites(built.db, event_log_suites(min_link_share=impossible)).success


def test_cases_and_outcomes_match_the_truth(built: Built) -> None:
    truth = built.company.ground_truth()
    outcomes = dict(
        query(
            built.db,
            "select outcome, count(*) from marts.cases where case_type = 'deal' group by 1",
        )
    )
    assert outcomes == {
        k: truth["counts"][k] for k in ("won", "lost", "open") if truth["counts"][k]
    }
    assert sum(outcomes.values()) == truth["counts"]["deals"]


def test_stage_history_in_the_log_is_the_planted_one(built: Built) -> None:
    truth = built.company.ground_truth()
    mapping = canonical_stage_of()
    logged: dict[str, list[str]] = {}
    for case_id, activity in query(
        built.db,
        "select case_id, activity from marts.event_log "
        "where activity_family = 'Stage Entered' order by case_id, event_order",
    ):
        logged.setdefault(case_id, []).append(activity.removeprefix("Stage Entered: "))
    mismatches = []
    for deal in truth["deals"]:
        expected = [mapping[(deal["pipeline"], s)] for s in deal["stages_entered"]]
        if logged.get(f"pipedrive:{deal['id']}", []) != expected:
            mismatches.append(deal["id"])
    assert not mismatches, f"{len(mismatches)} deals differ, e.g. {mismatches[:5]}"


def test_invoice_links_are_right_and_their_rate_is_the_expected_one(built: Built) -> None:
    truth = built.company.ground_truth()
    true_deal = {i["id"]: f"pipedrive:{i['deal_id']}" for i in truth["invoices"]}
    rows = query(built.db, "select invoice_id, deal_key, link_method from marts.invoices")
    assert len(rows) == truth["counts"]["invoices"]
    linked = [(i, d, m) for i, d, m in rows if d is not None]
    wrong = [(i, d) for i, d, _m in linked if true_deal[i] != d]
    assert not wrong, f"invoices linked to the wrong deal: {wrong[:5]}"
    by_method = {m: sum(1 for *_x, mm in linked if mm == m) for m in ("metadata", "rule")}
    assert by_method["metadata"] == truth["counts"]["invoices_with_deal_metadata"]
    assert by_method["rule"] == truth["counts"]["invoices_linkable_by_rule"]
    share = query(built.db, "select share_linked from marts.invoice_link_summary")[0][0]
    assert share == pytest.approx(len(linked) / len(rows))


def test_event_log_is_unique_and_ordered(built: Built) -> None:
    dupes = query(
        built.db,
        "select count(*) - count(distinct event_id), "
        "count(*) - count(distinct (case_id, event_order)) from marts.event_log",
    )[0]
    assert dupes == (0, 0)
    disorder = query(
        built.db,
        "select count(*) from (select event_at, lag(event_at) over "
        "(partition by case_id order by event_order) as previous from marts.event_log) "
        "where event_at < previous",
    )[0][0]
    assert disorder == 0


def _content_fingerprints(db: Path) -> dict[str, str]:
    """A hash of every raw table and every mart (conftest.content_hashes), by relation."""
    return {**content_hashes(db, "raw"), **content_hashes(db, "marts")}


def test_reloading_and_rebuilding_changes_nothing(built: Built) -> None:
    before = _content_fingerprints(built.db)
    assert {"raw_pipedrive.deals", "raw_stripe.invoices", "marts.event_log"} <= set(before)
    load_all(built.db)
    # the models again (their data tests passed on this data in the first build; the content
    # compared below is what a rebuild could change), in a target folder of its own: the
    # first build's results stay for test_the_build_warns_only_where_listed
    rebuild = built.target.with_name("target-rebuild")
    run_dbt(["run", *EVENT_LOG_BUILD], built.db, target_path=rebuild, quiet=True)
    after = _content_fingerprints(built.db)
    assert [name for name in before if after.get(name) != before[name]] == []
    assert after.keys() == before.keys()


def test_a_new_custom_field_does_not_break_staging(built: Built) -> None:
    """Runs last in this module: it changes the company the server shows."""
    view = built.company.pipedrive_view()
    key = secrets.token_hex(20)
    view.deal_fields.append(
        {
            "id": 9001,
            "key": key,
            "name": "Lead score",
            "field_type": "double",
            "edit_flag": True,
            "options": None,
        }
    )
    now = datetime.fromtimestamp(view.as_of, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    touched: list[Any] = view.deals[:5]
    for deal in touched:
        deal["custom_fields"] = {**deal["custom_fields"], key: 87.5}
        deal["update_time"] = now

    load_system("pipedrive", built.db)
    scored = query(
        built.db, "select count(*) from raw_pipedrive.deals where custom_fields__lead_score = 87.5"
    )[0][0]
    assert scored == 5
    # the cases and everything they are built from, with their data tests
    select = ["--select", "+cases", "--indirect-selection", "cautious"]
    target = built.target.with_name("target-new-field")
    run_dbt(["build", *select], built.db, target_path=target, quiet=True)
    assert (
        query(built.db, "select count(*) from marts.cases where case_type = 'deal'")[0][0]
        == (built.company.ground_truth()["counts"]["deals"])
    )


def test_the_build_warns_only_where_listed(built: Built) -> None:
    results = json.loads((built.target / "run_results.json").read_text())["results"]
    assert any(r["unique_id"].startswith("test.") for r in results)  # the first build's
    assert dbt_warnings(built.target) <= ALLOWED_DBT_WARNINGS
