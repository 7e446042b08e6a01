"""The scale benchmark's tiler: k copies of a loaded warehouse build into exactly k times the
base's cases, events and outcomes, and the Stripe invoice links to CRM deals survive."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from conftest import only_systems, query, serving, vars_of

from bench.scale import id_stride, mart_counts, mining_models, mining_seconds, raw_tables, tile
from l2c.dbt_runner import EVENT_LOG_BUILD, ROOT, run_dbt
from l2c_demo.simulator import DemoCompany, SimConfig
from pipelines.load import load_all

# the company's systems only: no other system's empty staging models and tests
dbt_systems = only_systems("pipedrive", "salesforce", "stripe")

COPIES = 3
SYSTEMS = ["pipedrive", "salesforce", "stripe"]  # integer ids and string ids


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(base, tiled) warehouses of a 150-deal company, both built up to the event log."""
    work = tmp_path_factory.mktemp("bench_scale")
    company = DemoCompany(
        SimConfig(seed=7, n_deals=150, crms=("pipedrive", "salesforce"), crm_weights=(0.5, 0.5))
    )
    base = work / "base" / "l2c.duckdb"
    with serving(company):
        load_all(base, SYSTEMS)
    tiled = work / "tiled" / "l2c.duckdb"
    tile(base, tiled, COPIES)
    # the data tests run on the tiled copies (where a key the tiler repeats would fail them);
    # the base only needs its seeds and models, the tiles hold the same rows
    no_tests = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    for db, extra in ((base, no_tests), (tiled, [])):
        args = ["build", *EVENT_LOG_BUILD, *extra, *vars_of(company)]
        run_dbt(args, db, target_path=db.parent / "target", quiet=True)
    return base, tiled


def test_tiled_marts_hold_k_times_the_base(built: tuple[Path, Path]) -> None:
    base, tiled = built
    base_counts, tiled_counts = mart_counts(base), mart_counts(tiled)
    assert base_counts["won cases"] > 0 and base_counts["lost cases"] > 0
    assert base_counts["invoices linked to a case"] > 0
    assert tiled_counts == {name: COPIES * n for name, n in base_counts.items()}


def test_invoice_links_stay_within_their_copy(built: tuple[Path, Path]) -> None:
    """Every invoice of copy c is linked to copy c of the deal its original is linked to, by
    the same method (metadata or rule)."""
    base, tiled = built
    sql = "select invoice_id, deal_key, link_method from marts.invoices"
    base_links = sorted(query(base, sql), key=str)
    stride = _stride(base)
    copies_seen: set[int] = set()
    untiled = []
    for invoice_id, deal_key, method in query(tiled, sql):
        invoice, invoice_copy = _untile(invoice_id, stride)
        deal = None
        if deal_key is not None:
            system, _, deal_id = deal_key.partition(":")
            deal_id, deal_copy = _untile(deal_id, stride)
            assert deal_copy == invoice_copy, (invoice_id, deal_key)
            deal = f"{system}:{deal_id}"
        copies_seen.add(invoice_copy)
        untiled.append((invoice, deal, method))
    assert copies_seen == set(range(COPIES))
    assert any(key and key.startswith("salesforce:") for _, key, _ in base_links)
    assert sorted(untiled, key=str) == sorted(base_links * COPIES, key=str)


def _untile(value: str, stride: int) -> tuple[str, int]:
    """The base id and the copy number of a tiled id (suffix -t<c>, or c * stride added)."""
    if match := re.fullmatch(r"(.*)-t(\d+)", value):
        return match[1], int(match[2])
    if value.isdigit():
        return str(int(value) % stride), int(value) // stride
    return value, 0


def _stride(base: Path) -> int:
    """The offset between copies of an integer id: the tiler's stride for this base."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{base}' as base (read_only)")
        return id_stride(con, [t for t in raw_tables(con) if t.tiled])
    finally:
        con.close()


def test_the_mining_figure_covers_every_python_model() -> None:
    """bench.scale times the process-mining models by calling what each one returns; a model
    added, renamed or moved to SQL must change that list too, or the figure silently drifts."""
    python_models = {path.stem for path in (ROOT / "models" / "marts" / "process").glob("*.py")}
    config = {"process_map_edges": {"bottleneck_min_transitions": 1, "bottlenecks": 1}}
    con = duckdb.connect()
    try:
        assert set(mining_models(con, config)) == python_models
    finally:
        con.close()


def test_the_mining_figure_runs_on_a_built_warehouse(built: tuple[Path, Path]) -> None:
    """What bench.scale times is the models' real work: every call runs on built marts (the
    seeds and views the mining models read besides the event log included)."""
    base, _ = built
    inputs = ["ideal_path", "canonical_stages", "int_observable_activities_resolved"]
    args = ["build", "--select", *inputs, "--indirect-selection", "cautious"]
    run_dbt(args, base, target_path=base.parent / "target", quiet=True)
    wall, cpu = mining_seconds(base, base.parent / "target", "1GB")
    assert wall > 0 and cpu > 0
