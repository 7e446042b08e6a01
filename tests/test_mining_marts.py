"""The process marts dbt built for the demo company, checked against the simulator's ground
truth (skipped stages, backward moves, late payments) and for internal consistency."""

from __future__ import annotations

import csv
from datetime import datetime
from typing import Any

import duckdb
import pytest
from conftest import DemoWarehouse, query

from l2c.dbt_runner import ROOT
from l2c.mining import case_backward_moves, mine_variants, prepare_log
from l2c.mining.summary import summary_lines


def canonical_stage_of() -> dict[tuple[str, str], str]:
    with (ROOT / "seeds" / "stage_mapping.csv").open() as handle:
        return {
            (row["pipeline_name"], row["stage_name"]): row["canonical_stage"]
            for row in csv.DictReader(handle)
        }


def deals(truth: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"pipedrive:{d['id']}": d for d in truth["deals"]}


@pytest.fixture(scope="module")
def con(demo_warehouse: DemoWarehouse) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(demo_warehouse.db), read_only=True)


def test_skipped_steps_equal_the_ground_truth(
    demo_warehouse: DemoWarehouse, con: duckdb.DuckDBPyConnection
) -> None:
    """Truth: stages of the deal's pipeline before its furthest stage (all of them when won)
    that it never entered, and the quote of a deal won without one (a lost deal re-opened and
    won). Ours: every skipped deviation from the ideal path - no other step is skipped, in
    particular none Pipedrive cannot observe (a quote's acceptance; an order, as no ERP export
    is loaded here)."""
    canonical = canonical_stage_of()
    ours: dict[str, set[str]] = {}
    for case_id, activity in con.sql(
        "select case_id, activity from marts.conformance_deviations "
        "where deviation_kind = 'skipped'"
    ).fetchall():
        ours.setdefault(case_id, set()).add(activity)
    unobservable = con.sql(
        "select distinct unnest(unobservable_steps) from marts.case_conformance"
    ).fetchall()
    assert {"Quote Accepted", "Sales Order Created"} <= {a for (a,) in unobservable}
    fits = dict(con.sql("select case_id, fits from marts.case_conformance").fetchall())
    truth = deals(demo_warehouse.truth)
    with_skips = without_quote = 0
    for case_id, deal in truth.items():
        if case_id not in fits:  # deleted deals form no case
            continue
        expected = {
            "Stage Entered: " + canonical[(deal["pipeline"], s)] for s in deal["skipped_stages"]
        }
        if deal["outcome"] == "won" and deal["quotes_sent"] == 0:
            expected.add("Quote Sent")
            without_quote += 1
        assert ours.get(case_id, set()) == expected, case_id
        if expected:
            with_skips += 1
            assert fits[case_id] is False, case_id
    assert with_skips > 50 and without_quote > 0


def test_backward_moves_equal_the_ground_truth(
    demo_warehouse: DemoWarehouse, con: duckdb.DuckDBPyConnection
) -> None:
    stages = con.sql(
        "select 'Stage Entered: ' || canonical_stage as activity, stage_order "
        "from seeds.canonical_stages"
    )
    v = mine_variants(prepare_log(con, con.table("marts.event_log")))
    ours = dict(case_backward_moves(v, stages).fetchall())
    truth = deals(demo_warehouse.truth)
    compared = {cid: d["backward_moves"] for cid, d in truth.items() if cid in ours}
    assert sum(compared.values()) > 20
    assert {cid: ours[cid] for cid in compared} == compared
    total = con.sql("select sum(moves_count) from marts.stage_backward_moves").fetchone()
    entries = con.sql("select sum(backward_entries) from marts.activity_rework").fetchone()
    assert total == entries == (sum(compared.values()),)


def test_late_payments_equal_the_ground_truth(
    demo_warehouse: DemoWarehouse, con: duckdb.DuckDBPyConnection
) -> None:
    as_of = datetime.fromisoformat(demo_warehouse.truth["as_of"].replace("Z", "+00:00"))
    as_of_epoch = as_of.timestamp()
    truth = {inv["id"]: inv for inv in demo_warehouse.truth["invoices"]}
    expected: dict[str, bool] = {}
    for case_id, invoice_id in con.sql(
        "select case_id, invoice_id from marts.invoices "
        "where case_id is not null and status not in ('void', 'draft')"
    ).fetchall():
        inv = truth[invoice_id]
        if inv["paid_at"] is not None:
            late = inv["paid_at"] > inv["due_date"]
        elif inv["due_date"] < as_of_epoch:
            late = True
        else:
            continue  # not due yet: not evaluable
        expected[case_id] = expected.get(case_id, False) or late
    got = dict(
        con.sql(
            "select case_id, is_paid_late from intermediate.int_case_payment_lateness"
        ).fetchall()
    )
    assert 0 < sum(got.values()) < len(got)
    assert got == expected


def test_process_marts_are_consistent(demo_warehouse: DemoWarehouse) -> None:
    db = demo_warehouse.db
    cases, log_cases = query(
        db,
        "select (select count(*) from marts.case_variants), "
        "(select count(distinct case_id) from marts.event_log)",
    )[0]
    assert cases == log_cases
    shares = query(
        db,
        "select sum(cases_count), sum(share), max(cumulative_share), "
        "bool_and(variant_rank = 1 or cumulative_share > share) from marts.process_variants",
    )[0]
    assert shares[0] == cases and abs(shares[1] - 1) < 1e-9 and shares[2:] == (1.0, True)
    mapped = query(
        db,
        "select count(*) from marts.case_variants cv join marts.process_variants pv "
        "using (variant_id) where cv.variant_rank <> pv.variant_rank "
        "or cv.events_count <> pv.events_count",
    )
    assert mapped == [(0,)]
    # every segmentation of the map partitions the 'all' map
    partitions = query(
        db,
        "select segment_type, sum(transitions_count) from marts.process_map_edges group by 1",
    )
    assert len({n for _, n in partitions}) == 1 and len(partitions) == 4
    summary = query(
        db,
        "select cases_count, fitting_cases from marts.conformance_summary where dimension = 'all'",
    )
    fitting = query(db, "select count(*), count(*) filter (where fits) from marts.case_conformance")
    assert summary == fitting
    deviations = query(
        db,
        "select (select sum(deviations_count) from marts.case_conformance), "
        "(select count(*) from marts.conformance_deviations)",
    )[0]
    assert deviations[0] == deviations[1] > 0
    per_variant = query(
        db,
        "select sum(cases_count) from marts.variant_outcomes where factor_type = 'variant'",
    )
    assert per_variant == [(cases,)]
    bottlenecks = query(
        db,
        "select count(*) from marts.process_map_edges where segment_type = 'all' "
        "and is_bottleneck and transitions_count >= 20",
    )
    assert bottlenecks == [(3,)]


def test_summary_lines_on_the_demo(con: duckdb.DuckDBPyConnection) -> None:
    lines = summary_lines(con)
    top = con.sql(
        "select share, shortened from marts.process_variants where variant_rank = 1"
    ).fetchone()
    slowest = con.sql(
        "select from_activity, to_activity from marts.process_map_edges "
        "where segment_type = 'all' and bottleneck_rank = 1"
    ).fetchone()
    assert top is not None and slowest is not None
    assert len(lines) == 5
    assert lines[1].strip().startswith(f"{top[0]:.1%}")
    assert lines[1].endswith(" > ".join(top[1]))
    assert lines[-1].startswith(f"slowest edge {slowest[0]} -> {slowest[1]}: median wait ")
