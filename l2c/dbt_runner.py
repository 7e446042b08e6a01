"""Run dbt as a subprocess against the project's DuckDB file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def run_dbt(
    args: Sequence[str],
    duckdb_path: Path,
    *,
    target_path: Path | None = None,
    quiet: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`dbt <args>` with the project and profiles dirs of this repo; raises DbtError on failure
    with the tail of dbt's output."""
    dbt = Path(sys.executable).with_name("dbt")
    command = [
        str(dbt),
        *args,
        "--project-dir",
        str(ROOT),
        "--profiles-dir",
        str(ROOT / "profiles"),
    ]
    if target_path is not None:
        command += ["--target-path", str(target_path)]
    env = dbt_env(duckdb_path)
    if target_path is not None:
        env["DBT_LOG_PATH"] = str(target_path / "logs")
    completed = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if not quiet:
        print(completed.stdout, end="")
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-40:])
        raise DbtError(f"dbt {' '.join(args)} failed (exit {completed.returncode}):\n{tail}")
    return completed
