"""The product is an installable package apart from its demo harness, and every registry of
source systems is derived from one manifest."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from l2c.dbt_runner import with_registry
from pipelines import manifest
from pipelines.file_drop_mapping import load_mapping
from pipelines.load import SOURCES

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("l2c", "pipelines")
HARNESS = "l2c_demo"


def product_files() -> list[Path]:
    files = [p for folder in PRODUCT for p in (ROOT / folder).rglob("*.py")]
    files += list((ROOT / "models").rglob("*.py"))
    return files


def imports_of(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def test_the_import_scan_sees_every_kind_of_import() -> None:
    source = textwrap.dedent(
        """
        import l2c_demo.simulator
        def f():
            from l2c_demo.fake_api import FakeApiServer
            importlib.import_module("l2c_demo.job")
        """
    )
    assert imports_of(source) == {"l2c_demo.simulator", "l2c_demo.fake_api", "l2c_demo.job"}


def test_product_modules_never_import_the_harness() -> None:
    files = product_files()
    assert len(files) > 40
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imports_of(path.read_text()) if name.split(".")[0] == HARNESS
        )
        for path in files
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_every_product_module_imports_with_the_harness_absent(tmp_path: Path) -> None:
    """A fresh interpreter where `import l2c_demo` fails imports every product module and runs
    `l2c --help` (the harness's `demo` command is simply not offered)."""
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for folder in PRODUCT
        for path in (ROOT / folder).rglob("*.py")
    )
    script = textwrap.dedent(
        f"""
        import importlib, importlib.abc, sys

        class NoHarness(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == {HARNESS!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}} (harness absent)")
                return None

        sys.meta_path.insert(0, NoHarness())
        for name in {modules!r}:
            importlib.import_module(name)
        from l2c.cli import main
        sys.exit(main(["--help"]))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "refresh" in done.stdout and "systems" in done.stdout
    assert len(modules) > 30


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_runs(tmp_path: Path) -> None:
    """`pip install` of the product's wheel in a new venv gives a working `l2c` command whose
    bundled dbt project parses; the harness is not in the wheel. (The new venv sees the
    already-installed third-party packages through a plain path entry, so nothing is
    downloaded; this checkout's own distributions are left out of that view.)"""
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheels.glob("lead_to_cash_warehouse-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "l2c = l2c.cli:main" in archive.read(entry_points).decode()
    assert {
        "l2c/cli.py",
        "pipelines/load.py",
        "pipelines/file_drops/erp.yml",
        "l2c/report/template.html",
    } <= names
    assert "l2c/dbt_project/dbt_project.yml" in names
    assert any(n.startswith("l2c/dbt_project/models/marts/") for n in names)
    assert not any(n.startswith(f"{HARNESS}/") or "/simulator/" in n for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # third-party packages of this venv, without this checkout's own (editable) distributions
    deps = tmp_path / "deps"
    deps.mkdir()
    ours = ("l2c", "lead_to_cash_warehouse", "_editable_impl_")
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(ours) and entry.suffix != ".pth":
            (deps / entry.name).symlink_to(entry)
    Path(site, "deps.pth").write_text(f"{deps}\n")
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "L2C_PROJECT_DIR")} | {
        "L2C_DUCKDB_PATH": str(work / "wh" / "l2c.duckdb"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }

    def l2c(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / "l2c"), *args], cwd=work, env=env, capture_output=True, text=True
        )

    helped = l2c("--help")
    assert helped.returncode == 0 and "refresh" in helped.stdout, helped.stderr
    assert "demo" not in helped.stdout.split()  # the harness is not installed there
    where = subprocess.run(
        [str(python), "-c", "import l2c, l2c.paths; print(l2c.__file__, l2c.paths.project_dir())"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert str(venv) in where and "dbt_project" in where
    listed = l2c("systems")
    assert listed.returncode == 0 and "pipedrive" in listed.stdout and "erp" in listed.stdout
    parsed = l2c("dbt", "parse")
    assert parsed.returncode == 0, (parsed.stdout + parsed.stderr)[-3000:]
    assert (work / "wh" / "dbt_target" / "manifest.json").exists()


# ---------------------------------------------------------------- one manifest


def test_derived_files_match_the_manifest() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, (current, expected) in manifest.derived_files(ROOT).items()
        if current != expected
    ]
    assert stale == [], "run `l2c systems --write`"
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text())
    assert project["vars"]["l2c_systems"] == manifest.dbt_registry()


def test_every_registry_is_derived_from_the_manifest() -> None:
    names = list(manifest.systems())
    assert list(SOURCES) == names
    for name in names:
        assert callable(SOURCES[name])


# ---------------------------------------------------------------- raw-data checks

# tables of a raw schema that dlt and the loaders write for themselves
BOOKKEEPING = {"_dlt_loads", "rejects", "source_files"}


def _test_name(test: str | dict[str, Any]) -> str:
    if isinstance(test, str):
        return test
    ((name, config),) = test.items()
    columns = ((config or {}).get("arguments") or {}).get("columns")
    return f"{name}({','.join(columns)})" if columns else name


def declared_raw_checks() -> dict[str, dict[str, dict[str, set[str]]]]:
    """The dbt data tests on every source, from the project's yml files: source (= system) ->
    table -> column ('' for the table's own tests) -> generic test names."""
    out: dict[str, dict[str, dict[str, set[str]]]] = {}
    for path in sorted((ROOT / "models").rglob("*.yml")):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources") or []:
            tables = out.setdefault(source["name"], {})
            for table in source.get("tables") or []:
                checks = {"": {_test_name(t) for t in table.get("data_tests") or []}}
                for column in table.get("columns") or []:
                    checks[column["name"]] = {_test_name(t) for t in column.get("data_tests") or []}
                tables[table["name"]] = checks
    return out


def missing_raw_checks(name: str) -> list[str]:
    """What a system of the manifest lacks in raw-data checks: a dbt source of its name with
    at least one tested raw table, a key test on every tested table, and for a file drop the
    checks its mapping implies (its key unique, every timestamp and date column in range)."""
    tables = declared_raw_checks().get(name)
    if tables is None:
        return [f"{name}: no dbt source {name!r} (models/staging/{name}/_{name}__sources.yml)"]
    tested = {t: c for t, c in tables.items() if t not in BOOKKEEPING and any(c.values())}
    problems = [] if tested else [f"{name}: no raw table has a dbt data test"]
    for table, checks in tested.items():
        keyed = any("unique" in tests for tests in checks.values()) or any(
            test.startswith("unique_combination(") for test in checks[""]
        )
        if not keyed:
            problems.append(f"raw_{name}.{table}: no key test (unique, unique_combination)")
    mappings = [load_mapping(path) for path in manifest.mapping_files()]
    for entity in (e for m in mappings if m.system == name for e in m.entities):
        checks = tables.get(entity.name, {})
        key = entity.primary_key
        if len(key) == 1 and "unique" not in checks.get(key[0], set()):
            problems.append(f"raw_{name}.{entity.name}.{key[0]}: no unique test")
        if len(key) > 1 and f"unique_combination({','.join(key)})" not in checks.get("", set()):
            problems.append(f"raw_{name}.{entity.name}: no unique_combination({', '.join(key)})")
        for column in entity.columns:
            if column.type in ("timestamp", "date") and "timestamp_in_range" not in checks.get(
                column.name, set()
            ):
                problems.append(f"raw_{name}.{entity.name}.{column.name}: no timestamp_in_range")
    return problems


def test_every_system_of_the_manifest_declares_its_raw_checks() -> None:
    names = list(manifest.systems())
    assert {name: missing_raw_checks(name) for name in names} == {name: [] for name in names}
    # and what the refresh checked with Great Expectations before is all there
    declared = declared_raw_checks()
    assert declared["pipedrive"]["deals"]["status"] == {"accepted_values"}
    assert declared["stripe"]["invoices"]["created"] == {"unix_timestamp_in_range"}
    assert declared["salesforce"]["opportunities"]["id"] == {"unique", "not_null"}
    assert declared["oracle_cx"]["stage_snapshots"]["stg_enter_date"] == {
        "not_null",
        "timestamp_in_range",
    }
    assert declared["erp"]["orders"]["net_amount"] == {"non_negative"}
    tested = [t for tables in declared.values() for t, c in tables.items() if any(c.values())]
    assert len(tested) >= 15


def test_the_harness_covers_every_api_system_of_the_manifest() -> None:
    from l2c_demo.fake_api.systems import EXTRA_SYSTEMS, HOSTED_BY
    from l2c_demo.simulator.crms import CRMS

    api = {s.name for s in manifest.systems().values() if not s.file_drop}
    assert set(EXTRA_SYSTEMS) | {"pipedrive", "stripe"} | set(HOSTED_BY) == api
    assert set(HOSTED_BY.values()) <= set(EXTRA_SYSTEMS)
    crms = {s.name for s in manifest.systems().values() if s.kind == "crm" and not s.file_drop}
    assert set(CRMS) == crms


def test_a_file_drop_mapping_alone_registers_a_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "acme_crm.yml").write_text(
        textwrap.dedent(
            """
            system: acme_crm
            kind: crm
            warehouse_entities: [deals, stage_changes]
            entities:
              opportunities:
                files: [{glob: "opps_*.csv", format: csv}]
                primary_key: [opp_id]
                columns:
                  Opp Id: {name: opp_id, type: string, not_null: true}
                  Created: {name: created_at, type: timestamp}
                  Amount: {name: amount, type: decimal}
            """
        )
    )
    monkeypatch.setenv(manifest.FILE_DROPS_ENV, str(tmp_path))
    system = manifest.system("acme_crm")
    assert (system.kind, system.entities, system.file_drop) == (
        "crm",
        ("deals", "stage_changes"),
        True,
    )
    assert callable(SOURCES["acme_crm"])
    # its raw checks are not there until its sources yml declares them, and a test says so
    assert missing_raw_checks("acme_crm") == [
        "acme_crm: no dbt source 'acme_crm' (models/staging/acme_crm/_acme_crm__sources.yml)"
    ]
    # dbt learns of it from the jobs' --vars until `l2c systems --write` updates dbt_project.yml
    args = with_registry(["build", "--select", "x"])
    registry = json.loads(args[args.index("--vars") + 1])["l2c_systems"]
    assert registry["acme_crm"] == {
        "kind": "crm",
        "entities": ["deals", "stage_changes"],
        # no `observes` key in the mapping: the activities of its entities' event families
        "observes": ["Deal Created", "Deal Won", "Deal Lost", "Stage Entered: *"],
    }
    # a finance / erp system links to every CRM unless its mapping says `links_to`
    assert registry["stripe"]["links_to"] == [
        s.name for s in manifest.systems().values() if s.kind == "crm"
    ]
    assert registry["erp"]["links_to"] == ["pipedrive", "oracle_cx"]
    assert set(registry) == set(manifest.systems())
    given = with_registry(["build", "--vars", json.dumps({"as_of": "2026-01-01"})])
    assert json.loads(given[-1])["as_of"] == "2026-01-01"
    assert with_registry(["debug"]) == ["debug"]
    monkeypatch.delenv(manifest.FILE_DROPS_ENV)
    assert with_registry(["build"]) == ["build"]  # dbt_project.yml already says the same


def test_links_to_must_name_crm_systems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "billing.yml").write_text(
        textwrap.dedent(
            """
            system: billing
            kind: finance
            observes: [Invoice Created]
            links_to: [pipedrive, stripe]
            entities:
              bills:
                files: [{glob: "bills_*.csv", format: csv}]
                primary_key: [bill_id]
                columns:
                  Bill Id: {name: bill_id, type: string}
            """
        )
    )
    monkeypatch.setenv(manifest.FILE_DROPS_ENV, str(tmp_path))
    with pytest.raises(ValueError, match=r"'billing': links_to names no CRM system: \['stripe'\]"):
        manifest.systems()
