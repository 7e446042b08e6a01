"""The row comparison behind `make spark-check` (DuckDB build vs Spark build). The Spark build
itself needs pyspark and Java and runs as `make spark-check`, outside the test suite."""

from __future__ import annotations

import datetime as dt
import decimal

from l2c_demo.spark_check import Comparison, compare_rows, job_modules, normalise, report


def test_values_from_either_engine_normalise_alike() -> None:
    aware = dt.datetime(2026, 6, 30, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert normalise(aware) == dt.datetime(2026, 6, 30, 0, 0)
    assert normalise(decimal.Decimal("12.50")) == normalise(12.5)
    assert normalise(0.1 + 0.2) == normalise(0.3)
    assert normalise(-0.0000001) == 0.0 and str(normalise(-0.0000001)) == "0.0"
    assert normalise(["a", 1.0000000001]) == ("a", 1.0)
    assert normalise(float("nan")) == normalise(float("nan"))


def test_rows_compare_as_multisets_in_any_order() -> None:
    duck = [("a", 1, 2.0), ("b", 2, 3.0), ("b", 2, 3.0)]
    same = compare_rows("marts.x", duck, [("b", 2, 3.0000000001), ("a", 1, 2.0), ("b", 2, 3.0)])
    assert same.equal and same.duckdb_rows == same.spark_rows == 3

    one_less = compare_rows("marts.x", duck, [("a", 1, 2.0), ("b", 2, 3.0)])
    assert not one_less.equal
    assert one_less.only_duckdb == [("b", 2, 3.0)] and one_less.only_spark == []

    changed = compare_rows("marts.x", duck, [("a", 1, 2.0), ("b", 2, 3.0), ("b", 2, 3.001)])
    assert changed.only_duckdb == [("b", 2, 3.0)] and changed.only_spark == [("b", 2, 3.001)]


def test_floats_a_hair_apart_match_across_a_rounding_boundary() -> None:
    """104.8100625 +- 1e-13 rounds to ...062 on one engine and ...063 on the other; a sum of
    1e12 in another order differs far beyond the 6th decimal but not relatively."""
    near = compare_rows(
        "marts.x",
        [("k", 104.8100625 - 1e-13, 1e12 + 0.25)],
        [("k", 104.8100625 + 1e-13, 1e12 + 0.2501)],
    )
    assert near.equal
    apart = compare_rows("marts.x", [("k", 104.810062)], [("k", 104.810064)])
    assert not apart.equal
    other_key = compare_rows("marts.x", [("k", 1.0)], [("j", 1.0)])
    assert other_key.only_duckdb == [("k", 1.0)] and other_key.only_spark == [("j", 1.0)]


def test_the_report_fails_on_any_difference_and_on_nothing_compared(capsys) -> None:
    equal = compare_rows("marts.x", [(1,)], [(1,)])
    missing = Comparison("staging.y", 0, 0, [], [], missing_on_spark=True)
    assert report([equal]) is True
    assert report([equal, missing]) is False
    assert "staging.y: not built on Spark" in capsys.readouterr().out
    assert report([]) is False


def test_the_check_finds_the_jobs_it_runs() -> None:
    """main() imports these late (after checking for Spark): a moved or renamed module must
    fail here, not only in `make spark-check`, which the suite does not run."""
    run_dbt, failures, job = job_modules()
    assert callable(run_dbt) and callable(job.run) and callable(job.dbt_vars)
    assert failures and all(issubclass(kind, Exception) for kind in failures)


def test_no_seed_holds_a_single_quote() -> None:
    """dbt-spark inserts seed values into its SQL unescaped: one apostrophe in a description
    failed the Spark build of activity_catalog. The seeds avoid the character."""
    from l2c.dbt_runner import ROOT

    quoted = [
        f"{path.name}:{n}"
        for path in sorted((ROOT / "seeds").glob("*.csv"))
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if "'" in line
    ]
    assert quoted == []


def test_relations_compare_inside_duckdb_across_the_engines_types(tmp_path) -> None:
    """The SQL comparison normalises as `normalise` does: a decimal and a double, an int and a
    bigint, a zoned and a naive UTC timestamp compare equal; a changed or missing row does not."""
    import duckdb

    from l2c_demo.spark_check import compare_in_duckdb

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(
        "create table ours as select * from (values "
        "(1::bigint, 2.5::double, timestamp '2026-01-01 10:00:00', 'a'), "
        "(2, 1.0000001, timestamp '2026-01-02 00:00:00', 'b'), "
        "(2, 1.0000001, timestamp '2026-01-02 00:00:00', 'b')) t(id, amount, happened_at, tag)"
    )
    theirs = tmp_path / "theirs.parquet"
    con.execute(
        "copy (select id::int as id, amount::decimal(18, 7) as amount, "
        f"happened_at::timestamptz as happened_at, tag from ours) to '{theirs}' (format parquet)"
    )
    same = compare_in_duckdb(con, "marts.x", "ours", f"read_parquet('{theirs}')")
    assert same.equal and (same.duckdb_rows, same.spark_rows) == (3, 3)

    changed = tmp_path / "changed.parquet"
    con.execute(
        "copy (select id, case when tag = 'a' then amount + 0.01 else amount end as amount, "
        f"happened_at, tag from ours limit 2) to '{changed}' (format parquet)"
    )
    different = compare_in_duckdb(con, "marts.x", "ours", f"read_parquet('{changed}')")
    assert not different.equal and different.spark_rows == 2
    assert sorted(r[0] for r in different.only_duckdb) == [1, 2]  # a's amount, b's second copy
    assert [r[0] for r in different.only_spark] == [1]


def test_the_built_warehouse_opens_with_its_views_bound(tmp_path) -> None:
    """dbt's views name the file's catalog (e.g. lead2cash.staging...): the comparison attaches
    the warehouse under that name, so a view reads as it does in the build."""
    import duckdb

    from l2c_demo.spark_check import compare_in_duckdb, open_built

    path = tmp_path / "lead2cash.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema staging")
        con.execute("create table staging.t as select 1 as id")
        con.execute("create view staging.v as select * from lead2cash.staging.t")
    with open_built(path) as con:
        same = compare_in_duckdb(con, "staging.v", '"lead2cash".staging.v', '"lead2cash".staging.t')
        assert same.equal and same.duckdb_rows == 1
