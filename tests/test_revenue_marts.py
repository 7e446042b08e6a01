"""The revenue marts recover what the simulator planted (read from its exported ground truth):
the slow-paying region, the high-discount rep, per-deal discounts, per-invoice lateness and
partial payments, per-quote follow-ups and the follow-up effect on the win rate."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import DemoWarehouse, query

from l2c.dbt_runner import run_dbt
from l2c.findings.revenue import findings

pytestmark = pytest.mark.slow


def _deal_key(deal_id: int) -> str:
    return f"pipedrive:{deal_id}"


def test_slow_paying_region_is_the_latest_paying_region(demo_warehouse: DemoWarehouse) -> None:
    planted = demo_warehouse.truth["params"]["slow_paying_region"]
    rows = query(
        demo_warehouse.db,
        "select region, median_days_late, days_late_rank, paid_invoices "
        "from marts.region_performance where days_late_rank is not null "
        "order by median_days_late desc",
    )
    assert rows[0][0] == planted and rows[0][2] == 1
    # the truth's per-invoice lateness names the same region
    late: dict[str, list[float]] = {}
    for inv in demo_warehouse.truth["invoices"]:
        if inv["days_late"] is not None and not inv["voided"]:
            late.setdefault(inv["region"], []).append(inv["days_late"])
    truth_latest = max(late, key=lambda region: sorted(late[region])[len(late[region]) // 2])
    assert truth_latest == planted
    # every paid invoice is counted once: in its deal's region or, when neither a deal link
    # nor the customer's CRM account says the region, under 'Unassigned'
    paid = dict(
        query(demo_warehouse.db, "select region, paid_invoices from marts.region_performance")
    )
    assert sum(paid.values()) == sum(len(days) for days in late.values())
    assert all(paid.get(region, 0) <= len(days) for region, days in late.items())


def test_days_late_equal_the_truth_per_invoice(demo_warehouse: DemoWarehouse) -> None:
    mart = {
        row[0]: row[1:]
        for row in query(
            demo_warehouse.db,
            "select invoice_id, days_late, is_paid_on_time, region, is_linked, is_void "
            "from marts.invoice_payments",
        )
    }
    truth = demo_warehouse.truth["invoices"]
    assert set(mart) == {inv["id"] for inv in truth}
    checked, wrong = 0, []
    for inv in truth:
        days_late, on_time, region, linked, is_void = mart[inv["id"]]
        assert is_void == inv["voided"]
        if linked:
            assert region == inv["region"]
        if inv["days_late"] is None:
            assert days_late is None
            continue
        checked += 1
        if round(days_late, 3) != inv["days_late"] or on_time != (days_late <= 0):
            wrong.append((inv["id"], days_late, inv["days_late"]))
    assert checked > 100 and not wrong, wrong[:5]


def test_partial_payments_equal_the_truth(demo_warehouse: DemoWarehouse) -> None:
    mart = dict(
        query(
            demo_warehouse.db,
            "select invoice_id, partial_payments_count from marts.invoice_payments",
        )
    )
    paid = [inv for inv in demo_warehouse.truth["invoices"] if inv["paid_at"] is not None]
    # a paid invoice has all its charges before as_of: one partial payment, then the rest
    wrong = [inv["id"] for inv in paid if mart[inv["id"]] != int(inv["partial_payments"])]
    assert not wrong, wrong[:5]
    assert any(inv["partial_payments"] for inv in paid)


def test_voided_invoices_are_out_of_receivables(demo_warehouse: DemoWarehouse) -> None:
    voided = {inv["id"] for inv in demo_warehouse.truth["invoices"] if inv["voided"]}
    assert voided
    rows = query(
        demo_warehouse.db,
        "select invoice_id, is_open_at_as_of, days_late, aging_bucket "
        "from marts.invoice_payments where is_void",
    )
    assert {row[0] for row in rows} == voided
    assert all(row[1:] == (False, None, None) for row in rows)


def test_discount_pct_per_deal_equals_the_truth(demo_warehouse: DemoWarehouse) -> None:
    mart = dict(query(demo_warehouse.db, "select deal_key, discount_pct from marts.deal_discounts"))
    deals = demo_warehouse.truth["deals"]
    assert len(mart) == len(deals)
    # truth: (list - value) / list rounded to 6 decimals; the simulator rounds a deal-level
    # percentage discount half to even, the warehouse half away from zero: at most one cent
    wrong = [
        (d["id"], mart[_deal_key(d["id"])], d["discount_pct_value_weighted"])
        for d in deals
        if abs(mart[_deal_key(d["id"])] / 100 - d["discount_pct_value_weighted"]) > 1e-5
    ]
    assert not wrong, wrong[:5]


def _win_rate(won: int, closed: int) -> float:
    return won / closed


def test_high_discount_rep_discounts_most_without_winning_more(
    demo_warehouse: DemoWarehouse,
) -> None:
    rep_key = _deal_key(demo_warehouse.truth["params"]["high_discount_rep_id"])
    rows = {
        row[0]: row[1:]
        for row in query(
            demo_warehouse.db,
            "select rep_key, discount_pct, discount_pct_rank, won_deals, closed_deals, win_rate "
            "from marts.rep_performance",
        )
    }
    top = max(rows, key=lambda key: rows[key][0])
    assert top == rep_key and rows[rep_key][1] == 1
    # win rates as the truth has them (current owner, closed deals)
    won: dict[str, int] = {}
    closed: dict[str, int] = {}
    for deal in demo_warehouse.truth["deals"]:
        if deal["outcome"] in ("won", "lost"):
            owner = _deal_key(deal["owner_id"])
            closed[owner] = closed.get(owner, 0) + 1
            won[owner] = won.get(owner, 0) + (deal["outcome"] == "won")
    for key, (*_x, won_deals, closed_deals, win_rate) in rows.items():
        assert (won_deals, closed_deals) == (won[key], closed[key])
        assert win_rate == _win_rate(won[key], closed[key])
    # planted: the discount does not buy wins (the simulator's win probability ignores it), so
    # the rep's win rate is no better than the other reps' pooled rate beyond sampling noise
    # (tolerance: two binomial standard errors of the rep's rate)
    rest_won = sum(v for k, v in won.items() if k != rep_key)
    rest_closed = sum(v for k, v in closed.items() if k != rep_key)
    rate, n = rows[rep_key][4], rows[rep_key][3]
    assert rate <= rest_won / rest_closed + 2 * math.sqrt(rate * (1 - rate) / n)


@pytest.fixture(scope="module")
def follow_up_db(demo_warehouse: DemoWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse with the follow-up marts built for the planted follow-up window. When the
    session build used another var follow_up_within_days, rebuild the three follow-up models
    on a copy of the warehouse with the planted value."""
    days = demo_warehouse.truth["params"]["follow_up_days"]
    built = query(
        demo_warehouse.db, "select distinct follow_up_within_days from marts.follow_up_effect"
    )
    if built == [(float(days),)]:
        return demo_warehouse.db
    work = tmp_path_factory.mktemp("follow_up")
    db = work / demo_warehouse.db.name  # same file name: the views name its catalog
    shutil.copy(demo_warehouse.db, db)
    as_of = demo_warehouse.company.as_of.strftime("%Y-%m-%d %H:%M:%S")
    run_dbt(
        [
            "run",
            "--select",
            "int_quotes_followed_up",
            "quote_follow_ups",
            "follow_up_effect",
            "--vars",
            f"{{as_of: '{as_of}', follow_up_within_days: {days}}}",
        ],
        db,
        target_path=work / "target",
        quiet=True,
    )
    return db


def test_follow_up_flags_equal_the_truth(demo_warehouse: DemoWarehouse, follow_up_db: Path) -> None:
    quotes: dict[str, int] = {}
    last_flag: dict[str, Any] = {}
    for deal_key, is_last, flag in query(
        follow_up_db,
        "select deal_key, is_last_quote, is_followed_up_within_days from marts.quote_follow_ups",
    ):
        quotes[deal_key] = quotes.get(deal_key, 0) + 1
        if is_last:
            last_flag[deal_key] = flag
    truth = {_deal_key(d["id"]): d for d in demo_warehouse.truth["deals"]}
    assert quotes == {k: d["quotes_sent"] for k, d in truth.items() if d["quotes_sent"]}
    # the truth's flag is about the deal's last quote; None = window still open at as_of
    wrong = [k for k, flag in last_flag.items() if flag != truth[k]["follow_up_within_days"]]
    assert not wrong, wrong[:5]
    assert {True, False} <= set(last_flag.values())


def test_follow_up_effect_is_the_planted_one(
    demo_warehouse: DemoWarehouse, follow_up_db: Path
) -> None:
    effect = {
        group: (closed, won, rate)
        for group, closed, won, rate in query(
            follow_up_db,
            "select follow_up_group, closed_deals, won_deals, win_rate from marts.follow_up_effect",
        )
    }
    expected: dict[str, list[int]] = {}
    for deal in demo_warehouse.truth["deals"]:
        if deal["outcome"] not in ("won", "lost"):
            continue
        flag = deal["follow_up_within_days"]
        group = (
            "no_quote"
            if not deal["quotes_sent"]
            else {True: "followed_up", False: "not_followed_up", None: "window_open"}[flag]
        )
        counts = expected.setdefault(group, [0, 0])
        counts[0] += 1
        counts[1] += deal["outcome"] == "won"
    for group, (closed, won) in expected.items():
        assert effect[group][:2] == (closed, won)
    # planted: a follow-up within the window lifts the win probability
    assert effect["followed_up"][2] > effect["not_followed_up"][2]


def test_findings_name_the_discount_rep_and_the_slow_region(
    demo_warehouse: DemoWarehouse,
) -> None:
    params = demo_warehouse.truth["params"]
    rep_name = query(
        demo_warehouse.db,
        "select rep_name from marts.rep_performance where rep_key = ?",
        [_deal_key(params["high_discount_rep_id"])],
    )[0][0]
    con = duckdb.connect(str(demo_warehouse.db), read_only=True)
    try:
        sentences = findings(con)
    finally:
        con.close()
    assert any(rep_name in s and "discount" in s for s in sentences), sentences
    assert any(s.startswith(f"{params['slow_paying_region']} pays latest") for s in sentences)
    assert all(len(s) < 200 for s in sentences)
