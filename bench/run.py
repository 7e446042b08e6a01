"""Load and build benchmark for a demo company (default 20,000 deals).

    python -m bench.run [--deals 20000] [--seed 42] [--skip-insert-path]

Starts the local API server in its own process, loads Pipedrive + Stripe with dlt's fast
loader-file path (parquet) and, for comparison, with dlt's default insert-statement path, then
times `dbt build`. Prints records/s; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from l2c.dbt_runner import run_dbt
from pipelines.load import LoadResult, load_all

TOKEN = "demo-pipedrive-token"
KEY = "sk_test_demo"


@contextmanager
def api_server(deals: int, seed: int, workdir: Path) -> Iterator[str]:
    port_file = workdir / "port"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "l2c.fake_api",
            "--deals",
            str(deals),
            "--seed",
            str(seed),
            "--port",
            "0",
            "--port-file",
            str(port_file),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while not port_file.exists() or not port_file.read_text().strip():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{int(port_file.read_text().strip())}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def configure(base_url: str) -> None:
    os.environ["SOURCES__PIPEDRIVE__BASE_URL"] = f"{base_url}/pipedrive"
    os.environ["SOURCES__PIPEDRIVE__API_TOKEN"] = TOKEN
    os.environ["SOURCES__STRIPE__BASE_URL"] = f"{base_url}/stripe"
    os.environ["SOURCES__STRIPE__API_KEY"] = KEY


def timed_load(path: Path, fmt: str) -> tuple[float, list[LoadResult]]:
    started = time.perf_counter()
    results = load_all(path, loader_file_format=fmt)  # type: ignore[arg-type]
    return time.perf_counter() - started, results


def report(label: str, seconds: float, results: list[LoadResult]) -> None:
    rows = sum(r.rows for r in results)
    print(f"{label:<34} {rows:>10,} records {seconds:>8.1f} s {rows / seconds:>10,.0f} records/s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-insert-path", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="l2c-bench-") as tmp:
        work = Path(tmp)
        print(f"benchmark: {args.deals:,} deals, seed {args.seed}, {os.cpu_count()} cores")
        with api_server(args.deals, args.seed, work) as base_url:
            configure(base_url)
            fast_db = work / "fast" / "l2c.duckdb"
            seconds, results = timed_load(fast_db, "parquet")
            report("dlt load, parquet files (fast path)", seconds, results)
            for r in results:
                report(f"  {r.system}", r.seconds, [r])
            if not args.skip_insert_path:
                slow_db = work / "insert" / "l2c.duckdb"
                seconds, results = timed_load(slow_db, "insert_values")
                report("dlt load, insert statements (default)", seconds, results)

        started = time.perf_counter()
        run_dbt(
            ["build", "--exclude", "resource_type:unit_test"],
            fast_db,
            quiet=True,
            target_path=work / "target",
        )
        print(f"{'dbt build (models + data tests)':<34} {time.perf_counter() - started:>28.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
