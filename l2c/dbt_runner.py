"""Run dbt as a subprocess against the project's DuckDB file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
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
    on_line: Callable[[str], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`dbt <args>` with the project and profiles dirs of this repo; raises DbtError on failure
    with the tail of dbt's output. `on_line` gets each line of dbt's output as dbt prints it."""
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
    if on_line is None:
        completed = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
    else:
        completed = _streamed(command, env, on_line)
    if not quiet:
        print(completed.stdout, end="")
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-40:])
        raise DbtError(f"dbt {' '.join(args)} failed (exit {completed.returncode}):\n{tail}")
    return completed


def _streamed(
    command: list[str], env: dict[str, str], on_line: Callable[[str], None]
) -> subprocess.CompletedProcess[str]:
    lines: list[str] = []
    with subprocess.Popen(
        command,
        cwd=ROOT,
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
