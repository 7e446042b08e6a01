"""Conformance of each case to an ideal path.

The ideal path is a table (path, position, activity, step_type):
- path: which cases it applies to (the dbt models use the case's pipeline); '*' is the path of
  every case whose own path has no rows. A '*' path is required.
- position: the intended order (1, 2, ...). Steps may share a position: they may then occur in
  either order (e.g. a follow-up before or after entering the next stage).
- step_type: 'required' (must occur once the case has gone past it), 'optional' (may be
  left out), or 'exit' (may end the case from anywhere, e.g. Deal Lost; its position is
  ignored and may be null). Any activity of the catalog can be a step of any type, so a new
  activity joins the path as one more row (e.g. an optional approval step sharing the
  position of Quote Sent).

Observability (optional): `observable` (system, activity) lists the activities a case of each
source system can show at all, and the case's system comes with its path (case_paths.system).
A step whose activity the case's system cannot observe is not observable for that case: it is
never "skipped" (a required one counts as optional), never "extra" (it stays a step of the
path), and when it does occur it is checked for order and repetition like any step. The case
lists such steps in `unobservable_steps`. A case whose system is null or has no row in
`observable` observes every activity (no declaration, no blind spot assumed).

Deviation algorithm, per case, on its ordered trace (positions 1..n):
1. extra: every event whose activity is not a step of the case's path.
2. repeated: every occurrence of a step after its first occurrence in the case.
3. out_of_order: a first occurrence of a required/optional step whose position is lower than
   the highest position among the first occurrences of required/optional steps before it
   (running maximum, so one early jump ahead flags every later lower step).
4. skipped: a required step that never occurs although the case reached a later step: its
   position is lower than the highest position of any required/optional step that occurs.
   Steps at or after the furthest position are "not reached yet", not skipped: a case that was
   lost early, or is still open, fits as long as what it did followed the path.
A case fits when it has no deviation. Deviations carry the trace position of the offending
event (null for skipped) and the ideal position of the step (null for extra).
Everything depends only on (path, system, trace), so it is computed per distinct triple and
joined to the cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from l2c.mining._sql import Source, register, temp_table
from l2c.mining.ordering import Ints
from l2c.mining.variants import Variants

DEVIATION_KINDS = ("skipped", "extra", "out_of_order", "repeated")
STEP_TYPES = ("required", "optional", "exit")
DEFAULT_PATH = "*"


@dataclass(frozen=True)
class Conformance:
    cases: duckdb.DuckDBPyRelation
    deviations: duckdb.DuckDBPyRelation
    # (path, source_system, activity, step_type, position): the steps of each path the cases of
    # a system cannot observe, for the (path, system) pairs of the cases checked
    unobservable: duckdb.DuckDBPyRelation


def _ideal_table(con: duckdb.DuckDBPyConnection, ideal_path: Source) -> str:
    name = register(con, ideal_path)
    table = temp_table(
        con,
        "ideal",
        f"""
        select
            cast(path as varchar) as path,
            cast(position as integer) as position,
            cast(activity as varchar) as activity,
            cast(step_type as varchar) as step_type
        from {name}
        """,
    )
    problems = con.sql(
        f"""
        select 'unknown step_type ' || coalesce(step_type, 'null') as problem
        from {table}
        where step_type is null or step_type not in ('required', 'optional', 'exit')
        union all
        select 'no position for ' || activity from {table}
        where position is null and step_type <> 'exit'
        union all
        select 'duplicate step ' || path || ' / ' || activity from {table}
        group by path, activity having count(*) > 1
        union all
        select 'no default path ''*''' where not exists (select 1 from {table} where path = '*')
        """
    ).fetchall()
    if problems:
        raise ValueError("invalid ideal path: " + "; ".join(sorted(p[0] for p in problems)))
    return table


def _columns(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    return [c.lower() for c in con.sql(f"select * from {name} limit 0").columns]


@dataclass
class ConformanceTables:
    """What every result of a conformance check is computed from, as Arrow tables, so that
    the models of the same check share them (whatever connection each one runs on):

    case_path: case_id, variant_rank, path, system ('' = every activity observable), per case
    scoped: each (path, system) pair's steps: is_observable, effective step_type
    deviations: per (path, system, variant_rank), its deviations and a row keeping its
        furthest position (`with_deviations` computes it on first use)
    """

    case_path: pa.Table
    scoped: pa.Table
    deviations: pa.Table | None = None


def conformance_tables(
    v: Variants, ideal_path: Source, case_paths: Source | None, observable: Source | None
) -> ConformanceTables:
    """The cases' paths and each (path, system) pair's steps (no deviation computed yet)."""
    con = v.log.con
    ideal = _ideal_table(con, ideal_path)
    if case_paths is not None:
        paths_name = register(con, case_paths)
        system = "system" if "system" in _columns(con, paths_name) else "null"
        given = (
            f"select cast(case_id as varchar) as case_id, cast(path as varchar) as path, "
            f"cast({system} as varchar) as system from {paths_name}"
        )
    else:
        given = (
            "select null::varchar as case_id, null::varchar as path, null::varchar as system "
            "where false"
        )
    seen = temp_table(
        con,
        "observable",
        f"select distinct cast(system as varchar) as system, cast(activity as varchar) as activity "
        f"from {register(con, observable)} where system is not null and activity is not null"
        if observable is not None
        else "select null::varchar as system, null::varchar as activity where false",
    )
    case_path_table = con.sql(
        f"""
        with given as ({given}),

        known as (
            select
                g.case_id,
                case when g.path in (select path from {ideal}) then g.path end as path,
                -- '' = no declaration for the system: every activity is observable
                case when g.system in (select system from {seen}) then g.system end as system
            from given as g
        )

        select
            t.case_id,
            t.variant_rank,
            coalesce(k.path, '{DEFAULT_PATH}') as path,
            coalesce(k.system, '') as system
        from {v.traces} as t
        left join known as k on t.case_id = k.case_id
        """
    ).to_arrow_table()
    case_path = register(con, case_path_table)
    # the path of each (path, system) pair, with the steps the system cannot observe made
    # optional when required
    scoped = con.sql(
        f"""
        with scopes as (
            select distinct path, system from {case_path}
        ),

        steps as (
            select
                s.path,
                s.system,
                i.position,
                i.activity,
                i.step_type as declared_step_type,
                s.system = '' or exists (
                    select 1 from {seen} as o where o.system = s.system and o.activity = i.activity
                ) as is_observable
            from scopes as s
            inner join {ideal} as i on s.path = i.path
        )

        select
            *,
            case
                when not is_observable and declared_step_type = 'required' then 'optional'
                else declared_step_type
            end as step_type
        from steps
        """
    ).to_arrow_table()
    con.unregister(case_path)
    con.execute(f"drop table {ideal}")
    con.execute(f"drop table {seen}")
    return ConformanceTables(case_path_table, scoped)


def _unobservable(v: Variants, scoped: str) -> duckdb.DuckDBPyRelation:
    return v.log.sql(
        f"""
        select path, system as source_system, activity, declared_step_type as step_type, position
        from {scoped}
        where not is_observable
        """
    )


def unobservable_steps(
    v: Variants,
    ideal_path: Source,
    case_paths: Source | None = None,
    observable: Source | None = None,
) -> duckdb.DuckDBPyRelation:
    """(path, source_system, activity, step_type, position): the steps of each path the cases
    of a system cannot observe, for the (path, system) pairs of the cases of `v`; the same
    arguments as check_conformance, without computing any deviation."""
    return unobservable_of(v, conformance_tables(v, ideal_path, case_paths, observable))


def unobservable_of(v: Variants, tables: ConformanceTables) -> duckdb.DuckDBPyRelation:
    """`unobservable_steps` from the tables of `conformance_tables`."""
    return _unobservable(v, register(v.log.con, tables.scoped))


def with_deviations(v: Variants, tables: ConformanceTables) -> ConformanceTables:
    """`tables` with its deviations, computed unless it has them already."""
    if tables.deviations is None:
        con = v.log.con
        case_path, scoped = register(con, tables.case_path), register(con, tables.scoped)
        tables.deviations = con.sql(_deviations_query(v, case_path, scoped)).to_arrow_table()
        con.unregister(case_path)
        con.unregister(scoped)
    return tables


def _deviations_query(v: Variants, case_path: str, scoped: str) -> str:
    return f"""
        with pairs as (
            select distinct path, system, variant_rank from {case_path}
        ),

        trace_events as (
            select
                p.path,
                p.system,
                p.variant_rank,
                unnest(range(1, len(v.trace) + 1)) as trace_position,
                unnest(v.activities) as activity
            from pairs as p
            inner join {v.table} as v on p.variant_rank = v.variant_rank
        ),

        classified as (
            select
                e.*,
                i.position,
                i.step_type,
                row_number() over (
                    partition by e.path, e.system, e.variant_rank, e.activity
                    order by e.trace_position
                ) as occurrence
            from trace_events as e
            left join {scoped} as i
                on e.path = i.path and e.system = i.system and e.activity = i.activity
        ),

        firsts as (
            select
                *,
                max(position) over (
                    partition by path, system, variant_rank
                    order by trace_position
                    rows between unbounded preceding and 1 preceding
                ) as highest_before
            from classified
            where step_type in ('required', 'optional') and occurrence = 1
        ),

        reached as (
            select path, system, variant_rank, max(position) as furthest_position
            from firsts
            group by path, system, variant_rank
        ),

        skipped as (
            select r.path, r.system, r.variant_rank, i.activity, i.position
            from reached as r
            inner join {scoped} as i
                on
                    r.path = i.path
                    and r.system = i.system
                    and i.step_type = 'required'
                    and i.position < r.furthest_position
            where not exists (
                select 1 from firsts as f
                where
                    f.path = r.path
                    and f.system = r.system
                    and f.variant_rank = r.variant_rank
                    and f.activity = i.activity
            )
        ),

        all_deviations as (
            select path, system, variant_rank, 'extra' as deviation_kind, activity,
                trace_position, null::integer as ideal_position
            from classified where step_type is null
            union all
            select path, system, variant_rank, 'repeated', activity, trace_position, position
            from classified where step_type is not null and occurrence > 1
            union all
            select path, system, variant_rank, 'out_of_order', activity, trace_position, position
            from firsts where position < highest_before
            union all
            select path, system, variant_rank, 'skipped', activity, null, position
            from skipped
        )

        select
            d.*,
            r.furthest_position
        from all_deviations as d
        left join reached as r
            on d.path = r.path and d.system = r.system and d.variant_rank = r.variant_rank
        union all
        -- a row per (path, system, variant) keeps furthest_position for the cases
        select r.path, r.system, r.variant_rank, null, null, null, null, r.furthest_position
        from reached as r
        """


def check_conformance(
    v: Variants,
    ideal_path: Source,
    case_paths: Source | None = None,
    observable: Source | None = None,
) -> Conformance:
    """Deviations of every case of `v` from `ideal_path`. `case_paths` (case_id, path[, system])
    picks each case's path (cases without one, or whose path has no rows, use '*') and source
    system; `observable` (system, activity) the activities each system can observe."""
    return conformance_of(v, conformance_tables(v, ideal_path, case_paths, observable))


def _pairs(tables: ConformanceTables) -> tuple[pa.Table, Ints]:
    """The distinct (path, system, variant_rank) of the cases, numbered 0.. in a `pair`
    column, and per case (in `case_path` order) the number of its pair. Every result
    depends on the pair only: it is computed per pair, and the cases are joined to it on the
    pair's number, not on three strings (at 1.43M cases, writing the case rows took 3.8 CPU s
    joined on the strings, 1.2-2.1 on the number)."""
    cp = tables.case_path
    path = pc.dictionary_encode(cp["path"].combine_chunks())
    system = pc.dictionary_encode(cp["system"].combine_chunks())
    ranks = cp["variant_rank"].to_numpy().astype(np.int64)
    n_systems, n_ranks = len(system.dictionary), int(ranks.max()) + 1 if len(ranks) else 1
    key = path.indices.to_numpy(zero_copy_only=False).astype(np.int64) * n_systems
    key += system.indices.to_numpy(zero_copy_only=False)
    key *= n_ranks
    key += ranks
    distinct, pair_of_case = np.unique(key, return_inverse=True)
    pairs = pa.table(
        {
            "pair": np.arange(len(distinct), dtype=np.int64),
            "path": path.dictionary.take(pa.array(distinct // n_ranks // n_systems)),
            "system": system.dictionary.take(pa.array(distinct // n_ranks % n_systems)),
            "variant_rank": (distinct % n_ranks).astype(np.int32),
        }
    )
    return pairs, pair_of_case.ravel().astype(np.int64)


def conformance_of(v: Variants, tables: ConformanceTables) -> Conformance:
    """`check_conformance` from the tables of `conformance_tables` (its deviations computed
    here unless they are there already)."""
    con = v.log.con
    with_deviations(v, tables)
    assert tables.deviations is not None
    pairs_table, pair_of_case = _pairs(tables)
    case_ids = tables.case_path["case_id"]
    pairs, scoped = register(con, pairs_table), register(con, tables.scoped)
    deviations = register(con, tables.deviations)
    per_pair = con.sql(
        f"""
        with per_pair as (
            select
                path,
                system,
                variant_rank,
                any_value(furthest_position) as furthest_position,
                count(deviation_kind) as deviations_count,
                count(*) filter (where deviation_kind = 'skipped') as skipped_count,
                count(*) filter (where deviation_kind = 'extra') as extra_count,
                count(*) filter (where deviation_kind = 'out_of_order') as out_of_order_count,
                count(*) filter (where deviation_kind = 'repeated') as repeated_count
            from {deviations}
            group by path, system, variant_rank
        ),

        unobservable as (
            select
                path,
                system,
                list(activity order by position nulls last, activity) as steps
            from {scoped}
            where not is_observable
            group by path, system
        )

        select
            c.pair,
            c.path,
            v.variant_id,
            coalesce(p.deviations_count, 0) = 0 as fits,
            cast(coalesce(p.deviations_count, 0) as integer) as deviations_count,
            cast(coalesce(p.skipped_count, 0) as integer) as skipped_count,
            cast(coalesce(p.extra_count, 0) as integer) as extra_count,
            cast(coalesce(p.out_of_order_count, 0) as integer) as out_of_order_count,
            cast(coalesce(p.repeated_count, 0) as integer) as repeated_count,
            p.furthest_position as furthest_ideal_position,
            coalesce(u.steps, []::varchar[]) as unobservable_steps
        from {pairs} as c
        inner join {v.table} as v on c.variant_rank = v.variant_rank
        left join per_pair as p
            on c.path = p.path and c.system = p.system and c.variant_rank = p.variant_rank
        left join unobservable as u on c.path = u.path and c.system = u.system
        """
    ).to_arrow_table()
    per_deviation = con.sql(
        f"""
        with numbered as (
            select
                *,
                row_number() over (
                    partition by path, system, variant_rank
                    order by
                        trace_position nulls last, ideal_position, deviation_kind, activity
                ) as deviation_no
            from {deviations}
            where deviation_kind is not null
        )

        select
            c.pair,
            cast(n.deviation_no as integer) as deviation_no,
            n.deviation_kind,
            n.activity,
            cast(n.trace_position as integer) as trace_position,
            n.ideal_position,
            c.path
        from {pairs} as c
        inner join numbered as n
            on c.path = n.path and c.system = n.system and c.variant_rank = n.variant_rank
        """
    ).to_arrow_table()
    for name in (pairs, deviations):
        con.unregister(name)
    case_pairs = register(con, pa.table({"case_id": case_ids, "pair": pair_of_case}))
    results = register(con, per_pair)
    found = register(con, per_deviation)
    return Conformance(
        v.log.sql(
            f"select c.case_id, r.* exclude (pair) from {case_pairs} as c "
            f"inner join {results} as r on c.pair = r.pair"
        ),
        v.log.sql(
            f"select c.case_id, d.* exclude (pair) from {case_pairs} as c "
            f"inner join {found} as d on c.pair = d.pair"
        ),
        _unobservable(v, scoped),
    )
