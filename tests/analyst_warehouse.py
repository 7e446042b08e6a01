"""One small two-CRM warehouse (Pipedrive and Salesforce units billing through Stripe), loaded
over real HTTP and fully built with dbt, shared by the tests of what analysts take away:
exports, the HTML report and the semantic layer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import serving, vars_of

from l2c.dbt_runner import run_dbt
from l2c_demo.simulator import DemoCompany, SimConfig
from l2c_demo.simulator.crms import CRM_WEIGHTS
from pipelines.load import load_all

CRMS = ("pipedrive", "salesforce")


@dataclass
class AnalystWarehouse:
    company: DemoCompany
    db: Path
    target: Path
    work: Path


def build_analyst_warehouse(tmp_path_factory: pytest.TempPathFactory) -> AnalystWarehouse:
    work = tmp_path_factory.mktemp("analyst")
    config = SimConfig(
        seed=7, n_deals=200, crms=CRMS, crm_weights=tuple(CRM_WEIGHTS[c] for c in CRMS)
    )
    company = DemoCompany(config)
    db = work / "warehouse" / "lead2cash.duckdb"
    db.parent.mkdir()
    with serving(company):
        load_all(db, [*CRMS, "stripe"])
    # dbt's target folder beside the warehouse, where the demo's report looks for it
    target = db.parent / "dbt_target"
    run_dbt(["build", *vars_of(company)], db, target_path=target, quiet=True)
    return AnalystWarehouse(company, db, target, work)
