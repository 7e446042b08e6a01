"""The main job on the embedded demo company:

synthetic company with business units on Pipedrive, Salesforce, Oracle CX Sales and Zendesk
Sell, billing through Stripe, sales orders of the Pipedrive / Oracle units in ERP export files
-> local API server (127.0.0.1) and a file-drop folder -> dlt -> DuckDB -> dbt build (the raw
tables' checks, dbt tests on the sources, first) -> Great Expectations on the event log ->
summary -> HTML report and OCEL 2.0 / XES exports beside the DuckDB file.

    l2c demo [--deals 3000] [--seed 42] [--crms pipedrive salesforce ...]
                       [--duckdb warehouse/lead2cash.duckdb] [--keep] [--serve-dir DIR]
                       [--postgres DSN] [--wait SECONDS] [--log-json]

The last line, `BI file: <path>`, is the served DuckDB file BI tools open (see README, BI tools).
Exit codes as for `l2c refresh`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from l2c import log
from l2c.lock import LockBusy, job_lock
from l2c.publish import PublishTargets
from l2c.refresh import (
    JOB_FAILURES,
    RefreshResult,
    add_job_arguments,
    default_serve_dir,
    exit_code,
    refresh,
)
from l2c_demo.fake_api import FakeApiServer
from l2c_demo.simulator import DemoCompany, SimConfig
from l2c_demo.simulator.crms import ALL_CRMS, CRM_WEIGHTS
from l2c_demo.simulator.render_erp import ERP_CRMS, write_erp_export
from l2c_demo.zendesk_sell_schedule import history_config, run_history_loads

# Zendesk Sell history: weekly scheduled loads over the last weeks before the final load
ZENDESK_LOADS = 12
ZENDESK_EVERY_DAYS = 7.0
# share of won deals the demo company also sells a Stripe subscription with (renewals, churn,
# failed payments, refunds and credit notes: the finance marts)
SUBSCRIPTION_SHARE = 0.3
# the business units that bill in Certinia instead of Stripe (when the demo includes them)
CERTINIA_CRMS = ("salesforce",)


def dbt_vars(company: DemoCompany) -> dict[str, Any]:
    """The dbt vars of a build on this company's data: open durations are measured to the
    simulated 'now', not to today's date, and follow-ups are counted within the window the
    company plants its follow-up effect at."""
    return {
        "as_of": f"{company.as_of:%Y-%m-%d %H:%M:%S}",
        "follow_up_within_days": company.config.follow_up_days,
    }


def point_sources_at(server: FakeApiServer) -> None:
    """Configure the dlt sources for the local server exactly as a user configures them for
    the real APIs: through dlt's environment variables."""
    os.environ.update(server.source_env())


def reset(duckdb_path: Path) -> None:
    for path in (duckdb_path, duckdb_path.with_suffix(".duckdb.wal")):
        path.unlink(missing_ok=True)
    shutil.rmtree(duckdb_path.parent / "dlt_pipelines", ignore_errors=True)
    shutil.rmtree(duckdb_path.parent / "erp_drop", ignore_errors=True)


def step(title: str) -> float:
    log.get("demo").info("== %s", title)
    return time.perf_counter()


def run(
    deals: int,
    seed: int,
    duckdb_path: Path,
    keep: bool,
    crms: Sequence[str] = ALL_CRMS,
    *,
    targets: PublishTargets | None = None,
    wait_seconds: float = 0.0,
) -> tuple[DemoCompany, RefreshResult]:
    duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    # dlt warns about every column that stayed empty in a load; keep the demo's output short
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")
    # the whole demo (reset, history loads, refresh) is one job on this warehouse
    with job_lock(duckdb_path, wait_seconds):
        if not keep:
            reset(duckdb_path)
        return _run(deals, seed, duckdb_path, crms, targets)


def _run(
    deals: int,
    seed: int,
    duckdb_path: Path,
    crms: Sequence[str],
    targets: PublishTargets | None,
) -> tuple[DemoCompany, RefreshResult]:
    started = step(f"Demo company: {deals:,} deals, seed {seed}, CRMs: {', '.join(crms)}")
    weights = tuple(CRM_WEIGHTS.get(c, 0.1) for c in crms)
    config = SimConfig(
        seed=seed,
        n_deals=deals,
        crms=tuple(crms),
        crm_weights=weights,
        subscription_share=SUBSCRIPTION_SHARE,
        # the Salesforce unit bills in Certinia, on the same platform (the single-platform
        # model), beside the units that bill in Stripe (disparate systems)
        certinia_crms=CERTINIA_CRMS if "salesforce" in crms else (),
    )
    history = "zendesk_sell" in crms
    if history:  # start earlier: Zendesk Sell stage history comes from scheduled loads
        config = history_config(config, ZENDESK_LOADS, ZENDESK_EVERY_DAYS)
    company = DemoCompany(config)
    with FakeApiServer(company, port=0) as server:
        log.get("demo").info(
            f"serving the demo company's APIs ({', '.join(crms)}, stripe) at {server.base_url}"
        )
        point_sources_at(server)
        if history:
            started_history = step(
                f"Zendesk Sell: {ZENDESK_LOADS} earlier scheduled loads, every "
                f"{ZENDESK_EVERY_DAYS:g} days (its deals show only their current stage)"
            )
            run_history_loads(company, duckdb_path, ZENDESK_LOADS, ZENDESK_EVERY_DAYS)
            log.get("demo").info(f"done in {time.perf_counter() - started_history:.1f}s")
        truth_path = company.write_ground_truth(duckdb_path.parent / "ground_truth.json")
        log.get("demo").info(
            f"simulated up to {company.as_of:%Y-%m-%d}; ground truth in {truth_path} "
            f"({time.perf_counter() - started:.1f}s)"
        )
        systems = [*crms, "stripe", *(["certinia"] if config.certinia_crms else [])]
        erp_units = [c for c in crms if c in ERP_CRMS]
        if erp_units:  # these units' sales orders come from the ERP's export files (file drop)
            drop = duckdb_path.parent / "erp_drop"
            files = write_erp_export(company, drop, erp_units)
            os.environ["SOURCES__ERP__FOLDER"] = str(drop)
            systems.append("erp")
            log.get("demo").info(f"ERP sales-order export: {len(files)} files in {drop}")
        result = refresh(duckdb_path, systems=systems, dbt_vars=dbt_vars(company), targets=targets)
    return company, result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deals", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--duckdb", type=Path, default=Path("warehouse/lead2cash.duckdb"))
    parser.add_argument(
        "--crms",
        nargs="+",
        default=list(ALL_CRMS),
        choices=list(ALL_CRMS),
        help="CRMs of the company's business units (each bills through Stripe)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="load into the existing DuckDB file (default: fresh)"
    )
    add_job_arguments(parser)
    args = parser.parse_args(argv)
    log.setup_logging(args.log_json)
    targets = PublishTargets(args.serve_dir or default_serve_dir(args.duckdb), args.postgres)
    try:
        _, result = run(
            args.deals,
            args.seed,
            args.duckdb,
            args.keep,
            args.crms,
            targets=targets,
            wait_seconds=args.wait,
        )
    except JOB_FAILURES as exc:
        if isinstance(exc, LockBusy):
            log.get("demo").error("%s", exc)
        return exit_code(exc)
    print(f"BI file: {result.served}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
