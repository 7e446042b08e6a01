"""Loads against fake APIs that behave like the vendors on the network: a round-trip latency
per request (default 100 ms) and the vendors' documented rate limits (pipelines/limits.py).

    python -m bench.api [--deals 20000] [--latency 0.1] [--seed 42] [--systems ...]

`--deals` deals per CRM (Pipedrive, Salesforce, Zendesk Sell, Oracle CX; Stripe bills the won
ones). For every system: a first load, then an hourly-style incremental load after the
company moved on (`--advance-days`, default 1: the simulated company changes about 1% of
its deals a day), one line each:

    <system>: <seconds> s, <requests> requests (<per deal> per deal), <429s> x 429,
        floor <floor> s, ratio <seconds/floor>, fewest <requests>

The floor is the vendor's, not the loader's: the requests made divided by the documented
sustained rate (Pipedrive: the Growth plan's 40 requests per 2 s), or for a vendor that
documents no rate, requests x latency / 16 requests in flight. `fewest` is the fewest requests
the API allows for the same data (see fewest_requests). Last, the first load at zero latency
and no limits, in records/s (the loaders' CPU speed). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pipelines import limits, salesforce_bulk
from pipelines.http import STATS
from pipelines.load import LoadResult, load_system

CRMS = ("pipedrive", "salesforce", "zendesk_sell", "oracle_cx")
SYSTEMS = (*CRMS, "stripe")
# Pipedrive plan the benchmark names; seats so that a 20,000-deal first load fits one day
PIPEDRIVE_PLAN = "growth"
PIPEDRIVE_SEATS = 40


@contextmanager
def api_server(
    deals: int, seed: int, workdir: Path, latency: float, enforce: bool
) -> Iterator[str]:
    """The fake APIs in their own process (its CPU is not the loader's)."""
    port_file = workdir / f"port-{latency}-{enforce}"
    budget = limits.pipedrive_daily_budget(PIPEDRIVE_PLAN, PIPEDRIVE_SEATS)
    command = [
        sys.executable,
        "-m",
        "l2c_demo.fake_api",
        "--deals",
        str(deals * len(CRMS)),
        "--seed",
        str(seed),
        "--crms",
        *CRMS,
        "--equal-weights",
        "--latency",
        str(latency),
        "--pipedrive-daily-tokens",
        str(budget),
        "--port-file",
        str(port_file),
        *(["--limits"] if enforce else []),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 1800
        while not port_file.exists() or not port_file.read_text().strip():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{int(port_file.read_text().strip())}"
    finally:
        process.terminate()
        process.wait(timeout=60)


def admin(base_url: str, name: str, method: str = "GET", query: str = "") -> object:
    request = urllib.request.Request(f"{base_url}/__admin/{name}{query}", method=method)
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.load(response)


def configure(base_url: str, enforce: bool) -> None:
    """Point the sources at the server as a user configures them (dlt env vars)."""
    env = admin(base_url, "source_env")
    assert isinstance(env, dict)
    os.environ.update(env)
    for system in SYSTEMS:
        key = f"SOURCES__{system.upper()}__REQUESTS_PER_SECOND"
        if enforce:
            os.environ.pop(key, None)  # the vendor's documented pace (the loader's default)
    os.environ["SOURCES__PIPEDRIVE__PLAN"] = PIPEDRIVE_PLAN
    os.environ["SOURCES__PIPEDRIVE__SEATS"] = str(PIPEDRIVE_SEATS)
    os.environ["SOURCES__PIPEDRIVE__BUDGET_SHARE"] = "1.0"


def fewest_requests(system: str, rows: dict[str, int], deals: int, made: int, retried: int) -> int:
    """The fewest requests the API allows for the data loaded: what the loader sent less its
    retries, since it already pages at each API's largest page size and uses the bulk forms
    the fakes serve (Pipedrive products for 100 deals per request; Salesforce Bulk API 2.0
    for the large objects and relationship subqueries; Oracle `expand`). Per system what
    cannot be had with fewer: Pipedrive one flow per deal (no bulk stage history;
    /changelog costs half the tokens, not fewer requests) and one discounts request per
    deal; Zendesk Sell one line-items request per order (the Sync API would serve every
    change from one queue, but needs Growth+). Stripe: one page per 100 objects of each
    list; the parallel `created` ranges of a first load cost a few requests more (the span
    probes, a part-filled last page per range)."""
    if system == "stripe":
        lists = ("customers", "invoices", "charges", "subscriptions", "refunds", "credit_notes")
        return sum(max(1, -(-rows.get(name, 0) // 100)) for name in lists)
    return made - retried


def salesforce_bulk_line(requests: int, deals: int) -> str:
    """How the Salesforce requests split between REST query pages and Bulk API 2.0 jobs."""
    bulk = salesforce_bulk.STATS
    bulk_requests = bulk.jobs + bulk.polls + bulk.result_sets
    return (
        f"salesforce requests: {requests - bulk_requests} REST, {bulk_requests} Bulk API 2.0 "
        f"({bulk.jobs} jobs, {bulk.polls} polls, {bulk.result_sets} result sets, "
        f"{bulk.records:,} records: {', '.join(bulk.objects) or 'none'}); "
        f"{requests / max(deals, 1):.3f} requests per deal"
    )


def breakdown(system: str, result: LoadResult) -> str:
    """Where a load's seconds went: the client's CPU (all threads) and dlt's steps."""
    steps = ", ".join(
        f"{name} {seconds:.2f}"
        for name, seconds in result.step_seconds.items()
        if name in ("extract", "normalize", "load")
    )
    stats = STATS[system]
    return (
        f"  {system}: CPU {result.cpu_seconds:.2f} s of {result.seconds:.2f} s; steps {steps} s; "
        f"network busy {stats.network_seconds:.2f} s ({stats.request_seconds:.2f} "
        "request-seconds)"
    )


def run_load(system: str, path: Path, deals: int, label: str, latency: float) -> None:
    result = load_system(system, path, progress_interval=30.0)
    stats = STATS[system]
    floor = limits.floor_seconds(system, stats.requests, latency)
    per_deal = stats.requests / max(deals, 1)
    fewest = fewest_requests(system, result.rows_by_table, deals, stats.requests, stats.throttled)
    if system == "salesforce":
        print(salesforce_bulk_line(stats.requests, deals), flush=True)
    print(
        f"{system} ({label}): {result.seconds:.1f} s (extract {result.extract_seconds:.1f} s), "
        f"{stats.requests} requests "
        f"({per_deal:.2f} per deal), {stats.throttled} x 429, floor {floor:.1f} s, "
        f"ratio {result.seconds / floor:.2f}, fewest {fewest}"
        + (f", {stats.spent:,} tokens" if stats.spent else ""),
        flush=True,
    )
    print(breakdown(system, result), flush=True)


def changed_deals(system: str, path: Path) -> int:
    """Deals (opportunities) the last load of `system` read."""
    import duckdb

    table = {"salesforce": "opportunities", "oracle_cx": "opportunities", "stripe": "invoices"}
    name = table.get(system, "deals")
    con = duckdb.connect(str(path), read_only=True)
    try:
        load_id = con.execute(f"select max(_dlt_load_id) from raw_{system}.{name}").fetchone()
        if not load_id or load_id[0] is None:
            return 0
        found = con.execute(
            f"select count(*) from raw_{system}.{name} where _dlt_load_id = ?",
            [load_id[0]],
        ).fetchone()
        return int(found[0]) if found else 0
    finally:
        con.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deals", type=int, default=20_000, help="deals per CRM")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--latency", type=float, default=limits.REALISTIC_LATENCY_SECONDS)
    parser.add_argument("--advance-days", type=float, default=1.0)
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--skip-zero-latency", action="store_true")
    args = parser.parse_args(argv)
    print(
        f"bench-api: {args.deals:,} deals per CRM, latency {args.latency * 1000:.0f} ms, "
        f"vendor limits enforced (Pipedrive {PIPEDRIVE_PLAN}, {PIPEDRIVE_SEATS} seats)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        work = Path(tmp)
        with api_server(args.deals, args.seed, work, args.latency, True) as url:
            configure(url, enforce=True)
            path = work / "api.duckdb"
            first: dict[str, int] = {}
            for system in args.systems:
                run_load(system, path, args.deals, "first load", args.latency)
                first[system] = changed_deals(system, path)
            admin(url, "advance", "POST", f"?days={args.advance_days}")
            for system in args.systems:
                result = load_system(system, path, progress_interval=30.0)
                stats = STATS[system]
                changed = changed_deals(system, path)
                floor = limits.floor_seconds(system, stats.requests, args.latency)
                what = "invoices read" if system == "stripe" else "deals changed"
                print(
                    f"{system} (incremental, {changed} of {first.get(system, 0)} {what}): "
                    f"{result.seconds:.1f} s (extract {result.extract_seconds:.1f} s), "
                    f"{stats.requests} requests "
                    f"({stats.requests / max(changed, 1):.2f} per changed deal), "
                    f"{stats.throttled} x 429, floor {floor:.1f} s, "
                    f"ratio {result.seconds / floor:.2f}",
                    flush=True,
                )
                print(breakdown(system, result), flush=True)
        if args.skip_zero_latency:
            return 0
        with api_server(args.deals, args.seed, work, 0.0, False) as url:
            configure(url, enforce=False)
            path = work / "zero.duckdb"
            total_rows, total_seconds = 0, 0.0
            for system in args.systems:
                result = load_system(system, path, progress_interval=600.0)
                total_rows += result.rows
                total_seconds += result.seconds
            print(
                f"zero latency, no limits (first load, all systems): {total_rows:,} records "
                f"in {total_seconds:.1f} s, {total_rows / total_seconds:,.0f} records/s",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
