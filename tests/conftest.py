"""Shared fixtures: a small demo company served over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from l2c.fake_api import FakeApiServer
from l2c.simulator import DemoCompany, SimConfig


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
