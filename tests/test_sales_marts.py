"""Sales marts (models/marts/sales) on the session demo warehouse, checked against the
simulator's ground truth and against KPIs recomputed in plain Python from the raw API payloads
the fake server serves."""

from __future__ import annotations

import csv
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timezone
from typing import Any

import duckdb
import pytest
from conftest import ALLOWED_DBT_WARNINGS, DemoWarehouse, dbt_warnings, query

from l2c.dbt_runner import ROOT
from l2c.findings.sales import STEP_LABELS, findings
from l2c_demo.simulator.catalog import PIPELINES

pytestmark = pytest.mark.slow

# Billing lag tolerance: the simulator draws each won deal's invoice delay as
# median * exp(N(0, 0.5)). With ~100+ won deals per pipeline the standard error of the sample
# median is about 1.25 * 0.5 / sqrt(n) ~ 6% in log terms, so +-25% is a 4-sigma band.
HANDOFF_TOLERANCE = 0.25


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _canonical() -> dict[tuple[str, str], str]:
    with (ROOT / "seeds" / "stage_mapping.csv").open() as handle:
        return {
            (row["pipeline_name"], row["stage_name"]): row["canonical_stage"]
            for row in csv.DictReader(handle)
        }


def _truth_deals(demo: DemoWarehouse) -> list[dict[str, Any]]:
    deals: list[dict[str, Any]] = demo.truth["deals"]
    assert deals, "the demo company has no deals"
    return deals


def test_slow_won_to_invoice_handoff_of_the_planted_pipeline(
    demo_warehouse: DemoWarehouse,
) -> None:
    params = demo_warehouse.truth["params"]
    slow = params["slow_handoff_pipeline"]
    medians = {
        pipeline: (median, km_median, n)
        for pipeline, median, km_median, n in query(
            demo_warehouse.db,
            "select group_value, median_days, km_median_days, completed_count "
            "from marts.cycle_time_summary "
            "where segment = 'won_to_invoice' and dimension = 'pipeline'",
        )
    }
    assert slow in medians and len(medians) >= 2
    for pipeline, (median, km_median, n) in medians.items():
        planted = (
            params["slow_handoff_median_days"]
            if pipeline == slow
            else params["handoff_median_days"]
        )
        assert n >= 30, f"too few invoiced deals in {pipeline} to measure"
        assert median == pytest.approx(planted, rel=HANDOFF_TOLERANCE), pipeline
        assert km_median == pytest.approx(planted, rel=HANDOFF_TOLERANCE), pipeline
    slow_median = medians[slow][0]
    others = [m for p, (m, _k, _n) in medians.items() if p != slow]
    assert slow_median > 2 * max(others)


def test_open_deals_are_censored_and_closed_cycles_match_the_truth(
    demo_warehouse: DemoWarehouse,
) -> None:
    as_of = _ts(demo_warehouse.truth["as_of"])
    rows = {
        case_id: (status, duration, elapsed, censored_at)
        for case_id, status, duration, elapsed, censored_at in query(
            demo_warehouse.db,
            "select case_id, segment_status, duration_days, elapsed_days, censored_at "
            "from marts.case_cycle_times where segment = 'sales_cycle'",
        )
    }
    deals = _truth_deals(demo_warehouse)
    assert len(rows) == len(deals)
    open_deals = [d for d in deals if d["outcome"] == "open"]
    assert open_deals, "the demo company has no open deal to censor"
    for deal in deals:
        status, duration, elapsed, censored_at = rows[f"pipedrive:{deal['id']}"]
        added = _ts(deal["add_time"])
        if deal["outcome"] == "open":
            expected = (as_of - added).total_seconds() / 86400
            assert (status, duration) == ("open", None), deal["id"]
            assert censored_at.replace(tzinfo=timezone.utc) == as_of
        else:
            expected = (_ts(deal["close_time"]) - added).total_seconds() / 86400
            assert status == "completed" and duration == pytest.approx(expected, abs=1e-6)
        assert elapsed == pytest.approx(expected, abs=1e-6), deal["id"]
    counts = query(
        demo_warehouse.db,
        "select completed_count, open_count, abandoned_count from marts.cycle_time_summary "
        "where segment = 'sales_cycle' and dimension = 'overall'",
    )
    assert counts == [(len(deals) - len(open_deals), len(open_deals), 0)]


def test_skipped_stages_and_backward_moves_match_the_truth_per_deal(
    demo_warehouse: DemoWarehouse,
) -> None:
    canonical = _canonical()
    mart = {
        case_id: (path, skipped, backward, has_skipped, has_backward)
        for case_id, path, skipped, backward, has_skipped, has_backward in query(
            demo_warehouse.db,
            "select case_id, stage_path, skipped_stages, backward_moves_count, "
            "has_skipped_stages, has_backward_moves from marts.case_stage_progression",
        )
    }
    deals = _truth_deals(demo_warehouse)
    assert len(mart) == len(deals)
    mismatches = []
    for deal in deals:
        pipeline = deal["pipeline"]
        expected = (
            " > ".join(canonical[(pipeline, s)] for s in deal["stages_entered"]) or None,
            ", ".join(canonical[(pipeline, s)] for s in deal["skipped_stages"]) or None,
            deal["backward_moves"],
        )
        if mart[f"pipedrive:{deal['id']}"][:3] != expected:
            mismatches.append(deal["id"])
    assert not mismatches, f"{len(mismatches)} deals differ, e.g. {mismatches[:5]}"
    truth_skipped = sum(1 for d in deals if d["skipped_stages"]) / len(deals)
    truth_backward = sum(1 for d in deals if d["backward_moves"]) / len(deals)
    assert 0 < truth_skipped < 1 and 0 < truth_backward < 1
    mart_skipped = sum(1 for row in mart.values() if row[3]) / len(mart)
    mart_backward = sum(1 for row in mart.values() if row[4]) / len(mart)
    assert (mart_skipped, mart_backward) == (truth_skipped, truth_backward)


def test_funnel_reach_and_stage_losses_match_the_truth(demo_warehouse: DemoWarehouse) -> None:
    canonical = _canonical()
    expected: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    for pipeline, stages in PIPELINES.items():
        deals = [d for d in _truth_deals(demo_warehouse) if d["pipeline"] == pipeline]
        for i, stage in enumerate(stages):
            reached_any = [d for d in deals if stage in d["stages_entered"]]
            strict = [d for d in reached_any if set(stages[:i]) <= set(d["stages_entered"])]
            lost_here = [
                d for d in deals if d["outcome"] == "lost" and d["stages_entered"][-1] == stage
            ]
            expected[(pipeline, canonical[(pipeline, stage)])] = (
                len(deals),
                len(reached_any),
                len(strict),
                len(lost_here),
            )
    rows = query(
        demo_warehouse.db,
        "select pipeline, canonical_stage, deals_count, reached_any_count, "
        "reached_strict_count, lost_from_stage_count from marts.stage_funnel",
    )
    actual = {(p, s): tuple(counts) for p, s, *counts in rows}
    assert actual == expected
    # strict reach is a proper funnel: never above any-stage reach, and some deals skip
    assert all(strict <= any_ for _n, any_, strict, _l in actual.values())
    assert any(strict < any_ for _n, any_, strict, _l in actual.values())


def test_win_rate_per_rep_equals_the_raw_pipedrive_payloads(
    demo_warehouse: DemoWarehouse,
) -> None:
    won: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    for deal in demo_warehouse.company.pipedrive_view().deals:
        if deal.get("is_deleted"):
            continue
        owner = f"pipedrive:{deal['owner_id']}"
        if deal["status"] == "won":
            won[owner] += 1
        elif deal["status"] == "lost":
            lost[owner] += 1
    expected = {
        owner: (won[owner], lost[owner], won[owner] / (won[owner] + lost[owner]))
        for owner in won.keys() | lost.keys()
    }
    assert len(expected) >= 2
    rows = query(
        demo_warehouse.db,
        "select group_value, won_count, lost_count, win_rate from marts.win_rates "
        "where dimension = 'rep' and closed_count > 0",
    )
    assert {owner: (w, lo, rate) for owner, w, lo, rate in rows} == expected
    overall = query(
        demo_warehouse.db,
        "select win_rate from marts.win_rates where dimension = 'overall'",
    )
    assert overall == [(sum(won.values()) / (sum(won.values()) + sum(lost.values())),)]


def test_lead_conversion_cohorts_equal_the_raw_pipedrive_payloads(
    demo_warehouse: DemoWarehouse,
) -> None:
    view = demo_warehouse.company.pipedrive_view()
    converting = {
        d["source_lead_id"]
        for d in view.deals
        if d.get("source_lead_id") and not d.get("is_deleted")
    }
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for lead in view.leads:
        month = _ts(lead["add_time"]).strftime("%Y-%m-01")
        expected[month][0] += 1
        if lead["id"] in converting:
            expected[month][1] += 1
        elif lead["is_archived"]:
            expected[month][2] += 1
    rows = query(
        demo_warehouse.db,
        "select strftime(cohort_month, '%Y-%m-01'), leads_created, leads_converted, "
        "leads_disqualified, conversion_rate from marts.lead_conversion_cohorts",
    )
    assert {m: [c, v, d] for m, c, v, d, _r in rows} == dict(expected)
    assert all(rate == v / c for _m, c, v, _d, rate in rows)
    counts = demo_warehouse.truth["counts"]
    assert sum(r[1] for r in rows) == counts["leads"]
    assert sum(r[2] for r in rows) == counts["leads_converted"]


def test_stuck_deals_are_open_deals_beyond_their_stage_p90(
    demo_warehouse: DemoWarehouse,
) -> None:
    completed: dict[tuple[str, str], list[float]] = defaultdict(list)
    for pipeline, stage, duration in query(
        demo_warehouse.db,
        "select pipeline, canonical_stage, duration_days from marts.stage_durations "
        "where not is_censored",
    ):
        completed[(pipeline, stage)].append(duration)
    p90 = {
        key: statistics.quantiles(values, n=10, method="inclusive")[8]
        for key, values in completed.items()
        if len(values) >= 2
    }
    funnel = dict(
        ((p, s), v)
        for p, s, v in query(
            demo_warehouse.db,
            "select pipeline, canonical_stage, p90_days_in_stage from marts.stage_funnel",
        )
    )
    for key, value in funnel.items():
        assert value == pytest.approx(p90[key], abs=1e-9), key
    open_ids = {
        f"pipedrive:{d['id']}" for d in _truth_deals(demo_warehouse) if d["outcome"] == "open"
    }
    expected = {
        case_id
        for case_id, pipeline, stage, days in query(
            demo_warehouse.db,
            "select case_id, pipeline, current_stage, days_in_current_stage "
            "from marts.case_stage_progression where current_stage is not null",
        )
        if case_id in open_ids and days > p90[(pipeline, stage)]
    }
    stuck = {r[0] for r in query(demo_warehouse.db, "select case_id from marts.stuck_deals")}
    assert stuck == expected and stuck


def test_findings_name_the_slowest_step_the_slow_handoff_and_the_most_skipped_stage(
    demo_warehouse: DemoWarehouse,
) -> None:
    durations: dict[str, list[float]] = defaultdict(list)
    for segment, duration in query(
        demo_warehouse.db,
        "select segment, duration_days from marts.case_cycle_times where is_completed",
    ):
        if segment in STEP_LABELS:
            durations[segment].append(duration)
    slowest = max(durations, key=lambda s: statistics.median(durations[s]))
    deals = _truth_deals(demo_warehouse)
    canonical = _canonical()
    skipped: Counter[str] = Counter()
    exposed: Counter[str] = Counter()
    for deal in deals:
        for stage in deal["skipped_stages"]:
            skipped[canonical[(deal["pipeline"], stage)]] += 1
        for stage in PIPELINES[deal["pipeline"]]:
            exposed[canonical[(deal["pipeline"], stage)]] += 1
    most_skipped = max(skipped, key=lambda s: skipped[s] / exposed[s])

    con = duckdb.connect(str(demo_warehouse.db), read_only=True)
    try:
        sentences = findings(con)
    finally:
        con.close()
    assert len(sentences) == 3
    step, handoff, stage = sentences
    assert STEP_LABELS[slowest] in step and f"n = {len(durations[slowest]):,}" in step
    assert f"{demo_warehouse.truth['params']['slow_handoff_pipeline']} pipeline" in handoff
    assert stage.startswith(f"{most_skipped} is the most skipped stage")
    assert f"{skipped[most_skipped]:,} of {exposed[most_skipped]:,} deals" in stage


def test_the_demo_build_warns_only_where_listed(demo_warehouse: DemoWarehouse) -> None:
    assert dbt_warnings(demo_warehouse.target) <= ALLOWED_DBT_WARNINGS
