"""Pipedrive product categories on the session demo warehouse: a deal's main product category
(the label of the option of the product field `category` its largest line's product holds)
reaches `cases.product_category` and `segment_performance` through the same canonical path
as Salesforce's Product2.Family; the planted slow category (Services-led Pipedrive deals take
1.6x as long after their creation) is what the mart reports; and the mart equals a plain-Python
recomputation from the Pipedrive payloads (products, /v1/productFields, deal products,
deals)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from conftest import DemoWarehouse, query

pytestmark = pytest.mark.slow

Record = dict[str, Any]
NONE = "(none)"


def _unix(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def main_categories(view: Any) -> dict[int, str]:
    """Deal id -> the category label of its line with the largest list amount (ties: the
    label sorting first; lines without a positive amount or a labelled category left out)."""
    labels = {
        option["id"]: option["label"]
        for field in view.product_fields
        if field["key"] == "category"
        for option in field["options"] or []
    }
    category = {p["id"]: labels.get(p.get("category")) for p in view.products}
    best: dict[int, tuple[float, str]] = {}
    for line in view.deal_products:
        amount = round((line["item_price"] or 0.0) * (line["quantity"] or 1), 2)
        name = category.get(line["product_id"])
        if amount <= 0 or not name:
            continue
        key = (-amount, name)
        if line["deal_id"] not in best or key < best[line["deal_id"]]:
            best[line["deal_id"]] = key
    return {deal: name for deal, (_amount, name) in best.items()}


def segment_by_category(view: Any) -> dict[str, tuple[int, int, int, int, float | None]]:
    """Category -> (deals, won, lost, open, mean days from creation to won)."""
    categories = main_categories(view)
    rows: dict[str, list[Any]] = {}
    for deal in view.deals:
        if deal["status"] == "deleted" or deal.get("is_deleted"):
            continue
        row = rows.setdefault(categories.get(deal["id"], NONE), [0, 0, 0, 0, []])
        row[0] += 1
        row[{"won": 1, "lost": 2, "open": 3}[deal["status"]]] += 1
        if deal["status"] == "won":
            row[4].append((_unix(deal["won_time"]) - _unix(deal["add_time"])) / 86400.0)
    return {
        name: (n, won, lost, still_open, sum(days) / len(days) if days else None)
        for name, (n, won, lost, still_open, days) in rows.items()
    }


def _mart(db: Any) -> dict[str, tuple[Any, ...]]:
    rows = query(
        db,
        "select dimension_value, deals_count, won_count, lost_count, open_count, "
        "avg_won_cycle_days, is_cycle_time_below_min_group_size from marts.segment_performance "
        "where source_system = 'pipedrive' and dimension = 'product_category'",
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def test_planted_slow_category_shows_in_segment_performance(
    demo_warehouse: DemoWarehouse,
) -> None:
    plant = demo_warehouse.truth["product_category_plant"]
    assert "pipedrive" in plant["crms"]
    mart = _mart(demo_warehouse.db)
    truth = [
        t
        for t in demo_warehouse.truth["segments"]
        if t["crm"] == "pipedrive" and t["dimension"] == "product_category"
    ]
    expected = {
        t["value"] or NONE: (t["deals"], t["won"], t["lost"], t["open"], t["avg_won_cycle_days"])
        for t in truth
    }
    assert set(mart) == set(expected)
    for name, row in mart.items():
        assert row[:4] == expected[name][:4], name
        assert row[4] == pytest.approx(expected[name][4]), name
    slow = mart[plant["slow_category"]]
    software = mart["Software"]
    assert not slow[5] and not software[5]  # both cycle times above the group-size guard
    # the planted 1.6x stretch shows as a clearly longer won cycle
    assert slow[4] > 1.3 * software[4]


def test_segment_performance_by_category_equals_a_recomputation_from_the_payloads(
    demo_warehouse: DemoWarehouse,
) -> None:
    view = demo_warehouse.company.pipedrive_view()
    expected = segment_by_category(view)
    mart = _mart(demo_warehouse.db)
    assert {k: v[:4] for k, v in mart.items()} == {k: v[:4] for k, v in expected.items()}
    for name, row in mart.items():
        assert row[4] == pytest.approx(expected[name][4]), name
    # every deal with a labelled line carries its category on its case, and only those
    categories = main_categories(view)
    cases = dict(
        query(
            demo_warehouse.db,
            "select case_id, product_category from marts.cases "
            "where source_system = 'pipedrive' and case_type = 'deal' "
            "and product_category is not null",
        )
    )
    live = {d["id"] for d in view.deals if d["status"] != "deleted" and not d.get("is_deleted")}
    assert cases == {f"pipedrive:{d}": name for d, name in categories.items() if d in live}
    assert len(set(cases.values())) >= 3
    # every product's category resolved: no data-quality row
    issues = query(
        demo_warehouse.db,
        "select count(*) from marts.data_quality_issues "
        "where issue = 'product_category_unresolved'",
    )
    assert issues == [(0,)]
