"""Builders for the dbt Python models in models/marts/process: relations in, a relation or an
Arrow table out (dbt-duckdb materialises either).

The models stay thin (refs + config); the column choices they share live here.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

import duckdb
import pyarrow as pa

from l2c.mining.conformance import (
    Conformance,
    ConformanceTables,
    conformance_of,
    conformance_tables,
    unobservable_of,
)
from l2c.mining.dfg import (
    ProcessMap,
    Segmentation,
    edge_table,
    endpoint_table,
    process_map,
    segmentations,
)
from l2c.mining.eventlog import EventLog, prepare_log
from l2c.mining.ordering import small_pages
from l2c.mining.rework import activity_rework, stage_backward_moves
from l2c.mining.variants import Variants, case_variants_table, mine_variants, variants_table

Rel = duckdb.DuckDBPyRelation
P = ParamSpec("P")
R = TypeVar("R")


def _mining(build: Callable[P, R]) -> Callable[P, R]:
    """A model builder run with NumPy on small pages (`ordering.small_pages`)."""

    @functools.wraps(build)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with small_pages():
            return build(*args, **kwargs)

    return run


MAP_SEGMENTS = ("source_system", "region", "outcome")


# dbt runs the process-mining models in one process, seven of them on the variants of the same
# event log: the log is read, ordered and grouped once per process, not once per model. The key
# is the relation's query and a checksum of the columns mining reads (a scan, a fraction of the
# sort it saves), so a log that changed in between is never served from the memo.
_MEMO: dict[tuple[object, ...], Variants] = {}
_MEMO_LOCK = threading.Lock()


_ALIAS = re.compile(r"unnamed_relation_[0-9a-f]+")


def _query_text(rel: Rel) -> str:
    """The relation's query with DuckDB's generated subquery aliases numbered in order of
    appearance: `project()` of a query relation (what dbt's ref() returns) names its subquery
    `unnamed_relation_<random hex>`, a new name for each relation of the same query."""
    names: dict[str, str] = {}
    return _ALIAS.sub(
        lambda m: names.setdefault(m.group(0), f"unnamed_relation_{len(names) + 1}"),
        rel.sql_query(),
    )


def _checksum(rel: Rel, columns: Sequence[str] | None = None) -> tuple[object, ...]:
    """What a memo is keyed by: the relation's query (`_query_text`), its row count and the
    sum of its rows' hashes (of `columns`, else of every column)."""
    hashed = ", ".join(columns or rel.columns)
    row = rel.aggregate(f"count(*), sum(hash({hashed}))::hugeint").fetchone()
    return (_query_text(rel), *(row or ()))


def _log_key(event_log: Rel) -> tuple[object, ...]:
    return _checksum(event_log, ("case_id", "activity", "event_at", "event_order"))


# The process map's edge and endpoint models segment the same cases the same way: the case
# attributes are read and matched to the log's cases once (keyed by the log's memo key and a
# checksum of the attributes).
_SEGMENTS: dict[tuple[object, ...], list[Segmentation]] = {}


def _plain_variants(
    con: duckdb.DuckDBPyConnection, event_log: Rel, key: tuple[object, ...] | None = None
) -> Variants:
    """The variants without case facts, from the memo when the log is the one mined last
    (`key`: `_log_key(event_log)`, when the caller has it)."""
    key = _log_key(event_log) if key is None else key
    with _MEMO_LOCK:  # a second model of the same log waits for the first one's result
        cached = _MEMO.get(key)
        if cached is None:
            cached = mine_variants(prepare_log(con, event_log, order="event_order"))
            _MEMO.clear()
            _SEGMENTS.clear()
            _CONFORMANCE.clear()
            _MEMO[key] = cached
    log = cached.log
    # the same arrays, with views registered on this model's connection
    return Variants(
        EventLog(con, log.ordered, log.activity_count, log.longest_case),
        cached.case_table,
        cached.variant_table,
        cached.groups,
    )


def _variants(con: duckdb.DuckDBPyConnection, event_log: Rel, cases: Rel | None) -> Variants:
    plain = _plain_variants(con, event_log)
    if cases is None:
        return plain
    return mine_variants(
        plain.log,
        cases.project("case_id, outcome, deal_value_reporting as deal_value"),
        plain.groups,
    )


def _stage_order(canonical_stages: Rel) -> Rel:
    return canonical_stages.project("'Stage Entered: ' || canonical_stage as activity, stage_order")


@_mining
def variants(con: duckdb.DuckDBPyConnection, event_log: Rel, cases: Rel) -> pa.Table:
    return variants_table(_variants(con, event_log, cases))


@_mining
def case_variants(con: duckdb.DuckDBPyConnection, event_log: Rel) -> pa.Table:
    return case_variants_table(_variants(con, event_log, None))


@_mining
def process_map_for(
    con: duckdb.DuckDBPyConnection,
    event_log: Rel,
    cases: Rel,
    min_transitions: int,
    bottlenecks: int,
) -> ProcessMap:
    v = _variants(con, event_log, None)
    attrs = cases.project(", ".join(["case_id", *MAP_SEGMENTS]))
    return process_map(
        v, attrs, MAP_SEGMENTS, min_transitions=min_transitions, bottlenecks=bottlenecks
    )


def _map_segments(
    con: duckdb.DuckDBPyConnection, event_log: Rel, cases: Rel
) -> tuple[Variants, list[Segmentation]]:
    """The log's variants and its cases' segmentations by MAP_SEGMENTS, from the memo."""
    log_key = _log_key(event_log)
    v = _plain_variants(con, event_log, log_key)
    attrs = cases.project(", ".join(["case_id", *MAP_SEGMENTS]))
    key = (log_key, *_checksum(attrs))
    with _MEMO_LOCK:
        segs = _SEGMENTS.get(key)
        if segs is None:
            segs = segmentations(v.log, attrs, MAP_SEGMENTS)
            _SEGMENTS.clear()
            _SEGMENTS[key] = segs
    return v, segs


@_mining
def process_map_edges(
    con: duckdb.DuckDBPyConnection,
    event_log: Rel,
    cases: Rel,
    min_transitions: int,
    bottlenecks: int,
) -> pa.Table:
    """The process map's edges, without computing its endpoints."""
    v, segs = _map_segments(con, event_log, cases)
    return edge_table(v, segs, min_transitions=min_transitions, bottlenecks=bottlenecks)


@_mining
def process_map_endpoints(con: duckdb.DuckDBPyConnection, event_log: Rel, cases: Rel) -> pa.Table:
    """The process map's start / end activities, without the edges' waiting times."""
    v, segs = _map_segments(con, event_log, cases)
    return endpoint_table(v, segs)


@_mining
def rework(con: duckdb.DuckDBPyConnection, event_log: Rel, canonical_stages: Rel) -> Rel:
    return activity_rework(_variants(con, event_log, None), _stage_order(canonical_stages))


@_mining
def backward_moves(con: duckdb.DuckDBPyConnection, event_log: Rel, canonical_stages: Rel) -> Rel:
    return stage_backward_moves(_variants(con, event_log, None), _stage_order(canonical_stages))


def _conformance_args(
    cases: Rel, ideal_path: Rel, observable: Rel | None
) -> tuple[Rel, Rel, Rel | None]:
    return (
        ideal_path.project("pipeline as path, position, activity, step_type"),
        cases.project("case_id, pipeline as path, source_system as system"),
        None if observable is None else observable.project("source_system as system, activity"),
    )


# The three conformance models check the same cases against the same path: the cases' paths,
# each path's steps and the deviations per (path, system, variant) are computed once (keyed by
# the log's memo key and a checksum of each input) and each model only shapes its own result.
_CONFORMANCE: dict[tuple[object, ...], ConformanceTables] = {}


def _conformance_tables(
    con: duckdb.DuckDBPyConnection,
    event_log: Rel,
    ideal_path: Rel,
    cases: Rel,
    observable: Rel | None,
) -> tuple[Variants, ConformanceTables]:
    log_key = _log_key(event_log)
    v = _plain_variants(con, event_log, log_key)
    args = _conformance_args(cases, ideal_path, observable)
    key = (log_key, *(None if a is None else _checksum(a) for a in args))
    with _MEMO_LOCK:
        tables = _CONFORMANCE.get(key)
        if tables is None:
            tables = conformance_tables(v, *args)
            _CONFORMANCE.clear()
            _CONFORMANCE[key] = tables
    return v, tables


@_mining
def unobservable(
    con: duckdb.DuckDBPyConnection,
    event_log: Rel,
    ideal_path: Rel,
    cases: Rel,
    observable: Rel,
) -> Rel:
    """The steps of each (path, system) pair of the cases that the system cannot observe."""
    return unobservable_of(*_conformance_tables(con, event_log, ideal_path, cases, observable))


@_mining
def conformance(
    con: duckdb.DuckDBPyConnection,
    event_log: Rel,
    ideal_path: Rel,
    cases: Rel,
    observable: Rel | None = None,
) -> Conformance:
    """The ideal_path seed's `pipeline` column is the path; a case's path is its pipeline and
    its system cases.source_system, whose observable activities are `observable`
    (int_observable_activities_resolved: source_system, activity)."""
    v, tables = _conformance_tables(con, event_log, ideal_path, cases, observable)
    with _MEMO_LOCK:  # the deviations once, by the first of the models that needs them
        return conformance_of(v, tables)
