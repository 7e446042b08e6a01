"""Personal data pseudonymised in staging: with both switches on, no staging, intermediate or
mart column (nor the served copy) holds a contact's, customer's or rep's name or email of the
simulated company, and every mart's figures equal those of a build without the switches."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import serving, settled

from l2c.dbt_runner import run_dbt
from l2c.publish import PublishTargets
from l2c.refresh import refresh
from l2c_demo.job import dbt_vars
from l2c_demo.simulator import DemoCompany, SimConfig
from l2c_demo.simulator.crms import ALL_CRMS, CRM_WEIGHTS

pytestmark = pytest.mark.slow

SWITCHES = {"pseudonymise_personal_data": True, "pseudonymise_rep_names": True}


def personal_values(company: DemoCompany) -> set[str]:
    """Every name and email of a person the simulated company knows: contacts and reps, and
    the customers' billing emails (emails also lower-cased, as staging stores them). The
    customers' names are their organisations' (also in deal titles): not personal data."""
    world = company.world
    values: set[str] = set()
    for who in (*world.persons, *world.reps):
        values |= {who.name, who.email, who.email.lower()}
    for customer in world.customers:
        values |= {customer.email, customer.email.lower()}
    return values


def text_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute(
        "select schema_name, table_name, column_name from duckdb_columns() "
        "where schema_name in ('staging', 'intermediate', 'marts') and data_type = 'VARCHAR' "
        "order by all"
    ).fetchall()


def hits(db: Path, needles: set[str]) -> list[str]:
    """Columns holding one of `needles` as a value or inside a value (e.g. a lead title built
    from a contact's name)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute(
            "create temp table needles as select unnest(?::varchar[]) as needle",
            [sorted(needles)],
        )
        found = []
        for schema, table, column in text_columns(con):
            row = con.execute(
                f'select any_value(x."{column}") from {schema}."{table}" x, needles '
                f'where contains(x."{column}", needles.needle)'
            ).fetchone()
            if row and row[0] is not None:
                found.append(f"{schema}.{table}.{column}: {row[0]!r}")
        return found
    finally:
        con.close()


def marts_without(db: Path, columns: set[tuple[str, str]]) -> dict[str, list[tuple[object, ...]]]:
    """Every mart's rows (sorted), leaving out the (mart, column)s in `columns`."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for (table,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
        ).fetchall():
            names = [
                c
                for (c,) in con.execute(
                    "select column_name from duckdb_columns() where schema_name = 'marts' "
                    "and table_name = ? order by column_index",
                    [table],
                ).fetchall()
                if (table, c) not in columns and c not in ("loaded_at", "load_id")
            ]
            select = ", ".join(f'"{c}"' for c in names)
            out[table] = settled(con.execute(f"select {select} from marts.{table}").fetchall())
        return out
    finally:
        con.close()


def pseudonymised_columns(db: Path) -> set[tuple[str, str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            (table, column)
            for schema, table, column in text_columns(con)
            if schema == "marts"
            and con.execute(
                f'select count(*) from marts."{table}" where starts_with("{column}", \'anon-\')'
            ).fetchone()
            != (0,)
        }
    finally:
        con.close()


def test_pseudonymised_staging_leaves_no_personal_data_and_the_same_kpis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = SimConfig(
        seed=7, n_deals=120, crms=ALL_CRMS, crm_weights=tuple(CRM_WEIGHTS[c] for c in ALL_CRMS)
    )
    company = DemoCompany(config)
    db = tmp_path / "warehouse" / "l2c.duckdb"
    plain = tmp_path / "plain" / "l2c.duckdb"
    # the key as a user gives it: a dlt secret (here dlt's environment form)
    monkeypatch.setenv("L2C__PSEUDONYMISATION_KEY", "a-test-key-of-some-length")
    with serving(company):
        result = refresh(
            db,
            [*ALL_CRMS, "stripe"],
            {**dbt_vars(company), **SWITCHES},
            targets=PublishTargets(tmp_path / "served"),
        )
    # the same raw data built without the switches: the models only (`dbt run`; the seeds are
    # in the copy), the reference figures; the build with the switches ran every dbt test
    plain.parent.mkdir()
    shutil.copy(db, plain)
    run_dbt(
        ["run", "--vars", json.dumps(dbt_vars(company))],
        plain,
        target_path=tmp_path / "plain_target",
        quiet=True,
    )

    needles = personal_values(company)
    assert hits(plain, needles), "the plain build should hold personal data (or the scan is blind)"
    assert hits(db, needles) == []
    assert result.served is not None and hits(result.served, needles) == []
    # raw tables keep what the APIs sent
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute(
        "select count(*) from raw_stripe.customers where email like '%@%'"
    ).fetchone()
    con.close()

    # every figure is unchanged; the pseudonymised labels differ, one to one
    labels = pseudonymised_columns(db)
    assert ("invoice_payments", "customer_name") in labels
    assert marts_without(db, labels) == marts_without(plain, labels)
    for table, column in labels:
        sql = f'select count(distinct "{column}") from marts."{table}"'
        counts = [
            duckdb.connect(str(p), read_only=True).execute(sql).fetchone() for p in (db, plain)
        ]
        assert counts[0] == counts[1], (table, column)
