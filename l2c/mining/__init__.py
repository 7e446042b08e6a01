"""Process mining on DuckDB: variants, process map (DFG), rework, conformance.

Per-event work is vectorised NumPy over Arrow columns (`ordering`; no per-event Python loop).
Variants and the process map are computed the same way and come back as Arrow tables (or
relations over them); rework and conformance are SQL on the DuckDB connection over the mined
variants. The outcome marts (conformance_summary, variant_outcomes) are dbt SQL models that read
these marts (models/marts/process/*.sql). Start with
`prepare_log(con, relation)`, then `mine_variants(log)`; the other functions build on that.
"""

from l2c.mining.conformance import Conformance, check_conformance, unobservable_steps
from l2c.mining.dfg import ProcessMap, process_map
from l2c.mining.eventlog import EventLog, prepare_log
from l2c.mining.rework import activity_rework, case_backward_moves, stage_backward_moves
from l2c.mining.variants import (
    Variants,
    case_variants_relation,
    case_variants_table,
    mine_variants,
    variants_relation,
    variants_table,
)

__all__ = [
    "Conformance",
    "EventLog",
    "ProcessMap",
    "Variants",
    "activity_rework",
    "case_backward_moves",
    "case_variants_relation",
    "case_variants_table",
    "check_conformance",
    "mine_variants",
    "prepare_log",
    "process_map",
    "stage_backward_moves",
    "unobservable_steps",
    "variants_relation",
    "variants_table",
]
