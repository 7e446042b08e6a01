"""One small two-CRM warehouse (Pipedrive and Salesforce units billing through Stripe, some
deals sold with a subscription), loaded over real HTTP and fully built with dbt, shared by the
tests of what analysts take away: exports, the HTML report and the semantic layer. Built once
per test session, also across pytest-xdist workers: the first to get the lock builds it, the
others reuse it (read-only)."""

from __future__ import annotations

import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import serving, vars_of

from l2c.dbt_runner import DBT_SYSTEMS_ENV, run_dbt
from l2c_demo.simulator import DemoCompany, SimConfig
from l2c_demo.simulator.crms import CRM_WEIGHTS
from pipelines.load import load_all

CRMS = ("pipedrive", "salesforce")


@dataclass
class AnalystWarehouse:
    db: Path
    target: Path
    work: Path


def _build(work: Path) -> None:
    config = SimConfig(
        seed=7,
        n_deals=200,
        crms=CRMS,
        crm_weights=tuple(CRM_WEIGHTS[c] for c in CRMS),
        subscription_share=0.3,  # as the demo: subscriptions, refunds and credit notes too
    )
    company = DemoCompany(config)
    db = work / "warehouse" / "lead2cash.duckdb"
    db.parent.mkdir(parents=True)
    with serving(company):
        load_all(db, [*CRMS, "stripe"])
    # dbt's target folder beside the warehouse, where the demo's report looks for it. The seeds
    # and models, then the raw checks (the dbt tests on the sources, which the report lists):
    # not the data and unit tests of the models, which the builds of the demo warehouse run
    # and which nothing here reads (about half the nodes of a full build)
    # (of the company's systems only: L2C_DBT_SYSTEMS, no other system's empty staging models
    # and raw checks)
    target = db.parent / "dbt_target"
    build = ["build", "--exclude", "resource_type:test", "resource_type:unit_test"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DBT_SYSTEMS_ENV, ",".join([*CRMS, "stripe"]))
        run_dbt([*build, *vars_of(company)], db, target_path=target, quiet=True)
        test = ["test", "--select", "source:*", *vars_of(company)]
        run_dbt(test, db, target_path=target, quiet=True)


def build_analyst_warehouse(tmp_path_factory: pytest.TempPathFactory) -> AnalystWarehouse:
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the workers' folders share this session's parent
        root = root.parent
    work = root / "analyst_warehouse"
    db = work / "warehouse" / "lead2cash.duckdb"
    with (root / "analyst_warehouse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            built = work / "built"
            if not built.exists():
                if work.exists():  # a build that failed before: start over
                    shutil.rmtree(work)
                work.mkdir()
                _build(work)
                built.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return AnalystWarehouse(db, db.parent / "dbt_target", work)
