"""Run dbt as a subprocess against the project's DuckDB file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from l2c.paths import is_checkout, project_dir
from pipelines.manifest import dbt_registry, systems

ROOT = project_dir()


class DbtError(RuntimeError):
    pass


# The event log and what it is made of (cases, invoices, relations), without the analytical
# and process-mining marts: `dbt build` args for jobs and tests that need only the log.
EVENT_LOG_BUILD: tuple[str, ...] = (
    "--select",
    "+event_log",
    "+cases",
    "+invoices",
    "+invoice_link_summary",
    "+object_relations",
    "--indirect-selection",
    "cautious",
)


def dbt_env(duckdb_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["L2C_DUCKDB_PATH"] = str(Path(duckdb_path).resolve())
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


# dbt commands that take --vars
_VARS_COMMANDS = frozenset(
    (
        "build",
        "run",
        "test",
        "seed",
        "compile",
        "parse",
        "ls",
        "list",
        "show",
        "snapshot",
        "docs",
        "source",
        "run-operation",
    )
)


# The systems dbt builds (the registry var `l2c_systems`): every system of the manifest, unless
# this variable names some (comma- or space-separated). A deployment that will only ever have a
# few systems may name them so that its runs build no empty staging models (and tests) of the
# others; a system left out here is in no model, even when its raw tables hold data.
DBT_SYSTEMS_ENV = "L2C_DBT_SYSTEMS"


# Scheduled builds leave dbt's unit tests out: their inputs are fixed rows, so they say nothing
# about the day's data (dbt Labs recommends running them in development and CI only; the test
# suite and `dbt build` by hand still run them). Set this variable to 1 to run them anyway.
UNIT_TESTS_ENV = "L2C_DBT_UNIT_TESTS"


def unit_test_args() -> list[str]:
    """The `dbt build` arguments of a scheduled run: unit tests excluded unless
    L2C_DBT_UNIT_TESTS is 1 (or true/yes)."""
    wanted = os.environ.get(UNIT_TESTS_ENV, "").strip().lower() in ("1", "true", "yes")
    return [] if wanted else ["--exclude-resource-type", "unit_test"]


def registry_systems() -> list[str] | None:
    """The systems named by L2C_DBT_SYSTEMS (None: every system of the manifest)."""
    names = os.environ.get(DBT_SYSTEMS_ENV, "").replace(",", " ").split()
    return names or None


def with_registry(args: Sequence[str]) -> list[str]:
    """`args` with the manifest's `l2c_systems` registry (of the systems of L2C_DBT_SYSTEMS
    when set) added to --vars when it differs from the one in dbt_project.yml (a file-drop
    mapping added since `l2c systems --write`)."""
    args = list(args)
    if not args or args[0] not in _VARS_COMMANDS:
        return args
    registry = dbt_registry(registry_systems())
    project = yaml.safe_load((ROOT / "dbt_project.yml").read_text()) or {}
    if (project.get("vars") or {}).get("l2c_systems") == registry:
        return args
    if "--vars" in args:
        at = args.index("--vars") + 1
        given = yaml.safe_load(args[at]) or {}
        if "l2c_systems" not in given:
            args[at] = json.dumps({**given, "l2c_systems": registry})
        return args
    return [*args, "--vars", json.dumps({"l2c_systems": registry})]


# dbt commands that select nodes (--select / --exclude)
_SELECTING_COMMANDS = frozenset(
    ("build", "run", "test", "seed", "compile", "ls", "list", "snapshot")
)


def with_systems_excluded(args: Sequence[str]) -> list[str]:
    """`args` with the nodes of the systems L2C_DBT_SYSTEMS leaves out excluded: their raw
    tables' source tests, their staging models and everything built on those alone (out of the
    registry, nothing else reads them), so a build of a few systems builds no empty staging
    model (and test) of the others. Unchanged without the variable, and for a --selector run
    (a selector's parents are the registry's systems already)."""
    args = list(args)
    names = registry_systems()
    if not names or not args or args[0] not in _SELECTING_COMMANDS or "--selector" in args:
        return args
    excluded = [f"source:{name}+" for name in systems() if name not in names]
    if not excluded:
        return args
    if "--exclude" in args:
        at = args.index("--exclude") + 1
        return [*args[:at], *excluded, *args[at:]]
    return [*args, "--exclude", *excluded]


def dbt_command() -> list[str]:
    """The dbt of this Python: its console script beside the interpreter, else dbt's module."""
    script = Path(sys.executable).with_name("dbt")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dbt.cli.main"]


# dbt reuses a parse of the project (its partial parsing, target/partial_parse.msgpack) only
# when the vars and the profile it was made with are unchanged, the warehouse path included:
# run_dbt therefore runs dbt in the warehouse's folder on its bare file name, so that every
# warehouse of one name (e.g. each test's `l2c.duckdb`) has the same profile. With this
# variable naming a folder, run_dbt keeps there the last parse per (project, file name, vars)
# and starts from it a target folder whose own parse is not of the same vars (the test suite
# sets it; dbt still checks every project file and reparses what changed).
PARSE_CACHE_ENV = "L2C_DBT_PARSE_CACHE"
_PARSE_FILE = "partial_parse.msgpack"
_PARSE_KEY_FILE = "partial_parse.l2c-key"  # the cache key of the folder's own parse


def _cached_parse(args: Sequence[str], duckdb_path: Path, target_path: Path | None) -> Path | None:
    """The parse-cache file of this dbt command, when the cache is on and the command parses."""
    folder = os.environ.get(PARSE_CACHE_ENV)
    if not folder or target_path is None or not args or args[0] not in _VARS_COMMANDS:
        return None
    given = args[list(args).index("--vars") + 1] if "--vars" in args else ""
    key = f"{ROOT}\0{Path(duckdb_path).name}\0{given}"  # (a parse is of one project folder)
    key = hashlib.sha256(key.encode()).hexdigest()[:20]
    return Path(folder) / f"{key}.msgpack"


def _target_folder(target_path: Path) -> Path:
    # (a relative target folder is the project's, as dbt reads it)
    return Path(target_path) if Path(target_path).is_absolute() else ROOT / target_path


def _restore_parse(cached: Path | None, target_path: Path | None) -> None:
    """Start the target folder from the cached parse unless it holds this command's own."""
    if cached is None or target_path is None or not cached.exists():
        return
    target = _target_folder(target_path)
    own = target / _PARSE_KEY_FILE
    if own.exists() and own.read_text() == cached.stem:
        return  # the folder's own parse was made with these vars
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, target / _PARSE_FILE)


def _keep_parse(cached: Path | None, target_path: Path | None, since: float) -> None:
    """Store the parse this dbt command wrote (not an older one) in the cache, atomically."""
    if cached is None or target_path is None:
        return
    target = _target_folder(target_path)
    written = target / _PARSE_FILE
    if not written.exists() or written.stat().st_mtime < since:
        return
    (target / _PARSE_KEY_FILE).write_text(cached.stem)
    cached.parent.mkdir(parents=True, exist_ok=True)
    part = cached.with_name(f"{cached.name}.{os.getpid()}.part")
    shutil.copyfile(written, part)
    os.replace(part, cached)


def run_dbt(
    args: Sequence[str],
    duckdb_path: Path,
    *,
    target_path: Path | None = None,
    quiet: bool = False,
    on_line: Callable[[str], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`dbt <args>` with the project and profiles dirs of this repo; raises DbtError on failure
    with the tail of dbt's output. `on_line` gets each line of dbt's output as dbt prints it."""
    full_args = with_systems_excluded(with_registry(args))
    command = [
        *dbt_command(),
        *full_args,
        "--project-dir",
        str(ROOT),
        "--profiles-dir",
        str(ROOT / "profiles"),
    ]
    if target_path is None and not is_checkout(ROOT):
        # an installed project lives in site-packages: dbt's output goes beside the warehouse
        target_path = Path(duckdb_path).resolve().parent / "dbt_target"
    if target_path is not None:
        command += ["--target-path", str(target_path)]
    warehouse = Path(duckdb_path).resolve()
    env = dbt_env(warehouse)
    cwd = ROOT
    if warehouse.parent.is_dir():  # dbt works in the warehouse's folder, on its file name
        env["L2C_DUCKDB_PATH"], cwd = warehouse.name, warehouse.parent
    if target_path is not None:
        env["DBT_LOG_PATH"] = str(_target_folder(target_path) / "logs")
    cached = _cached_parse(full_args, warehouse, target_path)
    _restore_parse(cached, target_path)
    started = time.time()
    children_cpu = _children_cpu()
    if on_line is None:
        completed = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
    else:
        completed = _streamed(command, env, on_line, cwd)
    _keep_parse(cached, target_path, started)
    _log_call(full_args, warehouse, started, children_cpu)
    if not quiet:
        print(completed.stdout, end="")
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-40:])
        raise DbtError(f"dbt {' '.join(args)} failed (exit {completed.returncode}):\n{tail}")
    return completed


# With this variable naming a file, run_dbt appends one JSON line per dbt command to it (its
# arguments, warehouse, wall and CPU seconds, the pytest test running it): how the test suite
# finds where its dbt time goes.
CALL_LOG_ENV = "L2C_DBT_CALL_LOG"


def _children_cpu() -> float:
    """CPU seconds of this process's finished child processes (0 unless the log is on)."""
    if not os.environ.get(CALL_LOG_ENV):
        return 0.0
    import resource  # (Unix only: the log is a test-suite tool)

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _log_call(args: Sequence[str], warehouse: Path, started: float, children_cpu: float) -> None:
    log = os.environ.get(CALL_LOG_ENV)
    if not log:
        return
    line = {
        "args": [a if len(a) < 200 else a[:60] + "..." for a in args],
        "warehouse": str(warehouse),
        "wall": round(time.time() - started, 2),
        "cpu": round(_children_cpu() - children_cpu, 2),
        "test": os.environ.get("PYTEST_CURRENT_TEST", ""),
        "worker": os.environ.get("PYTEST_XDIST_WORKER", ""),
        "pid": os.getpid(),
    }
    with open(log, "a") as out:
        out.write(json.dumps(line) + "\n")


def _streamed(
    command: list[str], env: dict[str, str], on_line: Callable[[str], None], cwd: Path
) -> subprocess.CompletedProcess[str]:
    lines: list[str] = []
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            on_line(line.rstrip("\n"))
    return subprocess.CompletedProcess(command, process.returncode, "".join(lines), "")


def main(argv: Sequence[str] | None = None) -> int:
    """`l2c dbt ARGS`: dbt on this project and profile, on $L2C_DUCKDB_PATH, with the
    registry of source systems taken from the manifest."""
    from l2c.paths import default_duckdb_path

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(main.__doc__)
        return 0
    try:
        run_dbt(args, default_duckdb_path())
    except DbtError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0
