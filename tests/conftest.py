"""Shared fixtures: a small demo company served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from l2c_demo.fake_api import FakeApiServer
from l2c_demo.simulator import DemoCompany, SimConfig

# The test servers enforce no vendor limits (only tests that turn them on): the loaders need
# not pace themselves to the vendors' documented rates (dlt reads this for every source).
os.environ.setdefault("SOURCES__REQUESTS_PER_SECOND", "0")


# The slowest test modules, run first, longest first (about: seconds on the 2-core CI machine).
# pytest-xdist (`--dist loadfile`) hands whole modules to its two workers in collection order
# (pyproject.toml turns off its own reordering by number of tests, which put these long
# modules of few tests last, so one worker ran the last long module while the other idled):
# with the longest first, the short ones fill in at the end. The first one builds the session's
# `demo_warehouse` while the other worker runs the served-warehouse tests, so the later users
# of the fixture find it built. Modules not listed follow in file order; add a new module
# here when it takes longer than the last one listed.
SLOW_MODULES: tuple[str, ...] = (
    "test_mining_oracle.py",  # builds demo_warehouse (~55 s), then pm4py
    "test_served.py",  # ~155
    "test_served_crash.py",  # ~140
    "test_subscriptions.py",  # one build of a subscription company, ~150
    "test_certinia.py",  # two business units, ~120
    "test_dbt_fixture.py",
    "test_pseudonymise.py",  # ~107
    "test_multi_crm.py",  # ~100
    "test_oracle_cx.py",
    "test_refresh_job.py",  # ~71
    "test_salesforce.py",
    "test_zendesk_sell.py",
    "test_bench_scale.py",  # ~60
    "test_foreign_file_drop.py",  # ~50
    "test_salesforce_bulk.py",  # ~60
    "test_stripe_ranges.py",  # ~40
    "test_file_drop.py",
    "test_end_to_end.py",
    "test_exports.py",  # builds the analyst warehouse of test_report and test_semantic
    "test_crash_recovery.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOW_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order stays


@contextmanager
def serving(company: DemoCompany, **env: str) -> Iterator[FakeApiServer]:
    """`company` served on a free local port while the block runs, with every source's dlt
    settings (and the extra `env`) pointing at it, as a user configures the real APIs."""
    with pytest.MonkeyPatch.context() as mp, FakeApiServer(company, port=0) as server:
        for key, value in {**server.source_env(), **env}.items():
            mp.setenv(key, value)
        yield server


def vars_of(company: DemoCompany) -> list[str]:
    """`--vars` for a dbt build on this company's data, as the demo passes them."""
    from l2c_demo.job import dbt_vars

    return ["--vars", json.dumps(dbt_vars(company))]


@pytest.fixture
def company() -> DemoCompany:
    return DemoCompany(SimConfig(seed=7, n_deals=240))


@pytest.fixture
def server(company: DemoCompany, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiServer]:
    with FakeApiServer(company, port=0) as srv:
        monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", srv.pipedrive_url)
        monkeypatch.setenv("SOURCES__PIPEDRIVE__API_TOKEN", srv.pipedrive_token)
        monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", srv.stripe_url)
        monkeypatch.setenv("SOURCES__STRIPE__API_KEY", srv.stripe_key)
        # keep retries quick in tests; the Retry-After header still decides 429 waits
        monkeypatch.setenv("SOURCES__PIPEDRIVE__MAX_ATTEMPTS", "4")
        monkeypatch.setenv("SOURCES__STRIPE__MAX_ATTEMPTS", "4")
        yield srv


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "l2c.duckdb"


def table_counts(path: Path, schema: str) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = ?",
                [schema],
            ).fetchall()
        ]
        return {
            t: con.execute(f'select count(*) from {schema}."{t}"').fetchone()[0]  # type: ignore[index]
            for t in tables
            if not t.startswith("_dlt")
        }
    finally:
        con.close()


def query(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


# dbt nodes allowed to end a build of the demo company with a warning (none today): any other
# warning fails the tests that read run_results.json, so a new warning is fixed or listed here
# with its reason
ALLOWED_DBT_WARNINGS: frozenset[str] = frozenset()


def dbt_warnings(target: Path) -> set[str]:
    """The nodes that warned in the last dbt build whose target folder is `target`."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    assert results, f"{target}/run_results.json lists no node"
    return {r["unique_id"] for r in results if r["status"] == "warn"}


# columns that say when a row's data was loaded: they differ between two loads of equal data
LOAD_LINEAGE_COLUMNS = ("loaded_at", "load_id")


def settled(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows with every float to 12 significant digits, sorted: DuckDB sums doubles in whatever
    order its threads finish, so two builds of the same data may differ in the last bit."""
    out = [tuple(float(f"{v:.12g}") if isinstance(v, float) else v for v in row) for row in rows]
    return sorted(out, key=repr)


def content_hashes(path: Path, layer: str) -> dict[str, str]:
    """A hash of the rows of every table of a layer (`raw`: the raw_<system> schemas dlt
    writes; else a schema name, e.g. `marts`), without dlt's own columns and the marts' load
    lineage (they differ between runs): equal hashes = equal content, however many loads it
    took."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        where = (
            "schema_name like 'raw\\_%' escape '\\' and schema_name not like '%\\_staging' "
            "escape '\\'"
            if layer == "raw"
            else f"schema_name = '{layer}'"
        )
        tables = con.execute(
            f"select schema_name, table_name from duckdb_tables() where {where} "
            "and not starts_with(table_name, '_dlt') order by 1, 2"
        ).fetchall()
        out = {}
        for schema, table in tables:
            columns = [
                c[0]
                for c in con.execute(
                    "select column_name from duckdb_columns() where schema_name = ? "
                    "and table_name = ? and not starts_with(column_name, '_dlt') "
                    "order by column_name",
                    [schema, table],
                ).fetchall()
                if c[0] not in LOAD_LINEAGE_COLUMNS
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            rows = settled(con.execute(f'select {select} from {schema}."{table}"').fetchall())
            out[f"{schema}.{table}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
        return out
    finally:
        con.close()


@pytest.fixture(scope="session", autouse=True)
def dbt_parse_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One dbt parse of the project per (warehouse file name, vars) for the whole session, also
    across pytest-xdist workers and the refresh jobs the tests start: run_dbt starts a new
    target folder from the session's cached parse (l2c.dbt_runner.PARSE_CACHE_ENV) instead of
    parsing the project again (4.5 CPU s instead of 11-16 on a busy 2-core machine). Set it
    empty to parse every time."""
    from l2c.dbt_runner import PARSE_CACHE_ENV

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the workers' folders share this session's parent
        root = root.parent
    with pytest.MonkeyPatch.context() as mp:
        if PARSE_CACHE_ENV not in os.environ:
            mp.setenv(PARSE_CACHE_ENV, str(root / "dbt-parse-cache"))
        yield


# dbt's unit tests check models' SQL on fixed input rows, not the warehouse's data: they run
# once per session, in the `demo_warehouse` build (which builds every node of the project;
# tests/test_dbt_unit_tests.py checks that each ran and passed), and no other dbt command of
# the tests repeats them (dbt reads this variable as --exclude-resource-type; a command that
# passes its own resource-type flags overrides it).
DBT_EXCLUDE_ENV = "DBT_EXCLUDE_RESOURCE_TYPES"


@pytest.fixture(scope="session", autouse=True)
def dbt_unit_tests_once() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        if DBT_EXCLUDE_ENV not in os.environ:
            mp.setenv(DBT_EXCLUDE_ENV, "unit_test")
        yield


@dataclass
class DemoWarehouse:
    """A demo company loaded through dlt and built with dbt once per test session.
    Treat it as read-only: tests that change data build their own warehouse."""

    company: DemoCompany
    truth: dict[str, Any]
    db: Path
    target: Path


DEMO_SEED = 5
DEMO_DEALS = 1500


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """A folder `build(folder)` fills once per test session, also across pytest-xdist workers
    (the first worker to take the lock builds it, the others wait for it), copied into this
    worker's own temporary folder: each worker reads and may change its own copy. `name` keys
    the build (put every parameter of the build in it)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the workers' folders share this session's parent
        root = root.parent
    shared = root / f"built-{name}"
    with (root / f"built-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = shared / ".built"
            if not done.exists():
                if shared.exists():  # a build that failed before: start over
                    shutil.rmtree(shared)
                (shared / "out").mkdir(parents=True)
                build(shared / "out")
                done.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    own = tmp_path_factory.mktemp(name)
    shutil.copytree(shared / "out", own, dirs_exist_ok=True)
    return own


def others_data_tests(loaded: list[str]) -> list[str]:
    """dbt selectors of the data tests (raw checks and staging model tests) of every system
    with a staging folder that is not in `loaded`."""
    from l2c.dbt_runner import ROOT
    from pipelines.manifest import systems

    return [
        f"path:models/staging/{name},resource_type:test"
        for name in systems()
        if name not in loaded and (ROOT / "models" / "staging" / name).is_dir()
    ]


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWarehouse]:
    # local imports keep the fast unit tests independent of the loaders
    from l2c.dbt_runner import run_dbt
    from pipelines.load import load_all

    company = DemoCompany(SimConfig(seed=DEMO_SEED, n_deals=DEMO_DEALS))
    # while developing one area, L2C_TEST_DBT_SELECT narrows the build (e.g. '+marts.sales')
    select = os.environ.get("L2C_TEST_DBT_SELECT")

    def build(work: Path) -> None:
        with serving(company):
            load_all(work / "l2c.duckdb")
        args = ["build", *vars_of(company)]
        if select:
            args += ["--select", select, "--indirect-selection", "cautious"]
        # every model of every registered system (the unit tests' parents), but not the data
        # tests of the staging models and raw tables of the systems the company has no data
        # in: on the same empty tables they run in test_dbt_fixture's full build
        args += ["--exclude", *others_data_tests(["pipedrive", *company.config.crms, "stripe"])]
        with pytest.MonkeyPatch.context() as mp:
            mp.delenv(DBT_EXCLUDE_ENV, raising=False)  # the session's one run of the unit tests
            run_dbt(args, work / "l2c.duckdb", target_path=work / "target", quiet=True)

    key = hashlib.sha256(repr(select).encode()).hexdigest()[:8]
    # built once per session (not once per xdist worker); each worker gets its own copy
    work = built_once(tmp_path_factory, f"demo_warehouse-{DEMO_SEED}-{DEMO_DEALS}-{key}", build)
    yield DemoWarehouse(company, company.ground_truth(), work / "l2c.duckdb", work / "target")


def only_systems(*names: str) -> Any:
    """A module's autouse fixture: its dbt commands (also those of the jobs it starts) build
    the registry of `names` only (L2C_DBT_SYSTEMS), without the other systems' empty staging
    models and their tests (l2c.dbt_runner.with_systems_excluded). For modules whose companies
    load only these systems and whose tests read nothing of the others. Usage, at module level:
    `dbt_systems = only_systems("pipedrive", "stripe")`."""
    from l2c.dbt_runner import DBT_SYSTEMS_ENV

    @pytest.fixture(scope="module", autouse=True)
    def dbt_systems() -> Iterator[None]:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(DBT_SYSTEMS_ENV, ",".join(names))
            yield

    return dbt_systems
