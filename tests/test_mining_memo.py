"""The process-mining models share one ordering of the event log per process (l2c.mining.marts):
the same log is served from the memo, a changed one is mined again; the process map's edges
and endpoints are each computed alone, equal to the whole map's."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from l2c.mining import check_conformance, marts, mine_variants, prepare_log
from l2c.mining import conformance as conformance_module
from l2c.mining.dfg import edge_table, endpoint_table, process_map, segmentations


def _log(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        create or replace table event_log as
        select * from (values
            ('c1', 'Deal Created', timestamptz '2026-01-01 10:00:00+00', 1),
            ('c1', 'Deal Won', timestamptz '2026-01-03 10:00:00+00', 2),
            ('c2', 'Deal Created', timestamptz '2026-01-02 10:00:00+00', 1),
            ('c2', 'Deal Lost', timestamptz '2026-01-04 10:00:00+00', 2)
        ) as t(case_id, activity, event_at, event_order)
        """
    )


def _ref(con: duckdb.DuckDBPyConnection, name: str) -> duckdb.DuckDBPyRelation:
    """What dbt-duckdb's ref() gives a Python model: a new query relation each time (whose
    projections DuckDB names `unnamed_relation_<random>`)."""
    return con.query(f"select * from {name}")


def _variants(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """case id -> variant id (md5 of the case's activity sequence)."""
    table = marts.case_variants(con, con.table("event_log"))
    return dict(zip(table["case_id"].to_pylist(), table["variant_id"].to_pylist(), strict=True))


def test_same_log_from_the_memo_changed_log_mined_again(monkeypatch: pytest.MonkeyPatch) -> None:
    con = duckdb.connect()
    _log(con)
    first = _variants(con)
    assert first.keys() == {"c1", "c2"} and first["c1"] != first["c2"]

    def no_second_ordering(*args: object, **kwargs: object) -> None:
        raise AssertionError("the log was ordered again")

    monkeypatch.setattr(marts, "prepare_log", no_second_ordering)
    other = con.cursor()  # another model's connection, same log
    assert _variants(other) == first

    con.execute(
        "update event_log set activity = 'Deal Won' where case_id = 'c2' and event_order = 2"
    )
    with pytest.raises(AssertionError, match="ordered again"):
        _variants(con)
    monkeypatch.undo()
    changed = _variants(con)
    assert changed["c2"] == changed["c1"] == first["c1"]


def test_edges_and_endpoints_alone_equal_the_process_map() -> None:
    con = duckdb.connect()
    _log(con)
    con.execute(
        "create table cases as select 'c1' as case_id, 'EU' as region union all select 'c2', 'US'"
    )
    v = mine_variants(prepare_log(con, con.table("event_log")))
    cases = con.table("cases")
    whole = process_map(v, cases, ["region"], min_transitions=1, bottlenecks=1)
    segs = segmentations(v.log, cases, ["region"])
    edges = edge_table(v, segs, min_transitions=1, bottlenecks=1)
    assert edges.num_rows > 0 and edges.equals(whole.edges_table)
    assert endpoint_table(v, segs).equals(whole.endpoints_table)


def test_the_map_models_segment_the_cases_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Edges and endpoints of the same log and cases share one segmentation; changed case
    attributes are segmented again."""
    con = duckdb.connect()
    _log(con)
    con.execute(
        "create table cases as select 'c1' as case_id, 'EU' as region, 'crm' as source_system, "
        "'won' as outcome union all select 'c2', 'US', 'crm', 'lost'"
    )
    calls: list[int] = []
    real = marts.segmentations

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(marts, "segmentations", counted)
    edges = marts.process_map_edges(
        con, _ref(con, "event_log"), _ref(con, "cases"), min_transitions=1, bottlenecks=1
    )
    marts.process_map_endpoints(con.cursor(), _ref(con, "event_log"), _ref(con, "cases"))
    assert len(calls) == 1
    con.execute("update cases set region = 'EU' where case_id = 'c2'")
    changed = marts.process_map_edges(
        con, _ref(con, "event_log"), _ref(con, "cases"), min_transitions=1, bottlenecks=1
    )
    assert len(calls) == 2
    assert _regions(edges) == {"EU", "US"} and _regions(changed) == {"EU"}


def _regions(edges: pa.Table) -> set[str]:
    return set(edges.filter(pc.equal(edges["segment_type"], "region"))["segment_value"].to_pylist())


def _conformance_inputs(con: duckdb.DuckDBPyConnection) -> tuple[duckdb.DuckDBPyRelation, ...]:
    return tuple(_ref(con, name) for name in ("event_log", "ideal_path", "cases", "observable"))


def test_the_conformance_models_check_the_cases_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """case_conformance, conformance_deviations and conformance_unobservable_steps share the
    cases' paths and deviations (on any connection); the results equal a check of their own,
    and changed cases are checked again."""
    con = duckdb.connect()
    _log(con)
    con.execute(
        "create table ideal_path as select * from (values ('*', 1, 'Deal Created', 'required'), "
        "('*', 2, 'Quote Sent', 'required'), ('*', 3, 'Deal Won', 'required'), "
        "('*', null, 'Deal Lost', 'exit')) as t(pipeline, position, activity, step_type)"
    )
    con.execute(
        "create table cases as select 'c1' as case_id, 'default' as pipeline, "
        "'erp' as source_system union all select 'c2', 'default', 'crm'"
    )
    con.execute(
        "create table observable as select 'crm' as source_system, activity "
        "from (values ('Deal Created'), ('Deal Won'), ('Deal Lost')) as t(activity)"
    )
    calls: list[str] = []
    real_tables, real_deviations = marts.conformance_tables, conformance_module.with_deviations

    def counted_tables(*args: object, **kwargs: object) -> object:
        calls.append("tables")
        return real_tables(*args, **kwargs)  # type: ignore[arg-type]

    def counted_deviations(v: object, tables: conformance_module.ConformanceTables) -> object:
        if tables.deviations is None:
            calls.append("deviations")
        return real_deviations(v, tables)  # type: ignore[arg-type]

    monkeypatch.setattr(marts, "conformance_tables", counted_tables)
    monkeypatch.setattr(conformance_module, "with_deviations", counted_deviations)
    unobservable = marts.unobservable(con, *_conformance_inputs(con)).fetchall()
    other = con.cursor()  # another model's connection, same inputs
    result = marts.conformance(other, *_conformance_inputs(other))
    cases, deviations = result.cases.fetchall(), result.deviations.fetchall()
    again = marts.conformance(con, *_conformance_inputs(con))
    assert calls == ["tables", "deviations"]
    assert sorted(again.cases.fetchall()) == sorted(cases)

    alone = check_conformance(
        mine_variants(prepare_log(con, con.table("event_log"))),
        con.sql("select pipeline as path, position, activity, step_type from ideal_path"),
        con.sql("select case_id, pipeline as path, source_system as system from cases"),
        con.sql("select source_system as system, activity from observable"),
    )
    assert sorted(cases) == sorted(alone.cases.fetchall())
    assert sorted(deviations) == sorted(alone.deviations.fetchall())
    assert (
        sorted(unobservable)
        == sorted(alone.unobservable.fetchall())
        == [("*", "crm", "Quote Sent", "required", 2)]
    )
    # erp declares nothing (sees every step): c1 skipped Quote Sent on its way to Deal Won
    skipped = [row for row in deviations if row[2] == "skipped"]
    assert [row[0] for row in skipped] == ["c1"]

    calls.clear()
    con.execute("update cases set pipeline = 'other' where case_id = 'c1'")
    marts.conformance(con, *_conformance_inputs(con))
    assert calls == ["tables", "deviations"]
