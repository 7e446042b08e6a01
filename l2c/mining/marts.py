"""Builders for the dbt Python models in models/marts/process: relations in, a relation or an
Arrow table out (dbt-duckdb materialises either).

The models stay thin (refs + config); the column choices they share live here.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from l2c.mining.conformance import Conformance, check_conformance
from l2c.mining.dfg import ProcessMap, process_map
from l2c.mining.eventlog import prepare_log
from l2c.mining.rework import activity_rework, stage_backward_moves
from l2c.mining.variants import Variants, case_variants_table, mine_variants, variants_table

Rel = duckdb.DuckDBPyRelation
MAP_SEGMENTS = ("source_system", "region", "outcome")


def _variants(con: duckdb.DuckDBPyConnection, event_log: Rel, cases: Rel | None) -> Variants:
    log = prepare_log(con, event_log, order="event_order")
    facts = (
        cases.project("case_id, outcome, deal_value_reporting as deal_value")
        if cases is not None
        else None
    )
    return mine_variants(log, facts)


def _stage_order(canonical_stages: Rel) -> Rel:
    return canonical_stages.project("'Stage Entered: ' || canonical_stage as activity, stage_order")


def variants(con: duckdb.DuckDBPyConnection, event_log: Rel, cases: Rel) -> pa.Table:
    return variants_table(_variants(con, event_log, cases))


def case_variants(con: duckdb.DuckDBPyConnection, event_log: Rel) -> pa.Table:
    return case_variants_table(_variants(con, event_log, None))


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


def rework(con: duckdb.DuckDBPyConnection, event_log: Rel, canonical_stages: Rel) -> Rel:
    return activity_rework(_variants(con, event_log, None), _stage_order(canonical_stages))


def backward_moves(con: duckdb.DuckDBPyConnection, event_log: Rel, canonical_stages: Rel) -> Rel:
    return stage_backward_moves(_variants(con, event_log, None), _stage_order(canonical_stages))


def conformance(
    con: duckdb.DuckDBPyConnection, event_log: Rel, ideal_path: Rel, cases: Rel
) -> Conformance:
    """The ideal_path seed's `pipeline` column is the path; a case's path is its pipeline."""
    return check_conformance(
        _variants(con, event_log, None),
        ideal_path.project("pipeline as path, position, activity, step_type"),
        cases.project("case_id, pipeline as path"),
    )
