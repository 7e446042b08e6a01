"""l2c.mining.ordering (the NumPy core) against a plain-Python computation of the same things:
per-case order, exact sequence grouping and per-edge waiting-time statistics."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from itertools import pairwise
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from l2c.mining import ordering
from l2c.mining.ordering import (
    collapse_repeats,
    edge_waits,
    endpoints,
    events_table,
    group_traces,
    grouped_quantiles,
    named,
    order_events,
    rank_by_count_then_sequence,
    traces_of,
)

Row = tuple[str, str, int, Any]  # case_id, activity, ts (epoch us), tie


def random_rows(seed: int, tie_kind: str = "int") -> list[Row]:
    r = random.Random(seed)
    activities = [f"act {chr(65 + i)}" for i in range(r.choice([1, 3, 20, 40]))]
    rows: list[Row] = []
    for c in range(r.randint(0, 120)):
        t = r.randint(0, 10**6) * 10**6
        for _ in range(r.choice([1, 1, 2, 5, 17, 70])):
            t += r.choice([0, 0, 1, 3600, 86_400]) * 10**6 + r.choice([0, 250_000])
            tie: Any = r.choice([None, 1, 2, 2, 3, -5])
            if tie_kind == "str" and tie is not None:
                tie = f"t{tie + 10}"
            if tie_kind == "float" and tie is not None:
                tie = tie / 4
            if tie_kind == "huge" and tie is not None:
                tie = tie * 2**59  # too wide to pack with the timestamps: the lexsort path
            rows.append((f"case {c % 97}-{c}", r.choice(activities), t, tie))
    r.shuffle(rows)
    return rows


def arrow(rows: list[Row], tie_type: pa.DataType) -> pa.Table:
    return pa.table(
        {
            "case_id": pa.array([x[0] for x in rows], pa.string()),
            "activity": pa.array([x[1] for x in rows], pa.string()),
            "ts": pa.array([x[2] for x in rows], pa.int64()),
            "tie": pa.array([x[3] for x in rows], tie_type),
        }
    )


def python_traces(rows: list[Row]) -> dict[str, list[tuple[str, int]]]:
    by_case: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_case[row[0]].append(row)
    return {
        case: [
            (a, t)
            for _, a, t, _ in sorted(
                events, key=lambda e: (e[2], e[3] is None, e[3] if e[3] is not None else 0, e[1])
            )
        ]
        for case, events in by_case.items()
    }


def quantile(values: list[float], q: float) -> float:
    """DuckDB's quantile_cont: lo * (1 - d) + hi * d at position (n - 1) * q."""
    s = sorted(values)
    h = (len(s) - 1) * q
    lo, hi = math.floor(h), math.ceil(h)
    d = h - lo
    return s[lo] * (1 - d) + s[hi] * d


@pytest.mark.parametrize(
    ("seed", "tie_kind", "tie_type"),
    [(s, "int", pa.int64()) for s in range(8)]
    + [(11, "str", pa.string()), (12, "float", pa.float64()), (13, "int", pa.int32())]
    + [(14, "huge", pa.int64())],
)
def test_order_groups_and_waits_equal_plain_python(
    seed: int, tie_kind: str, tie_type: pa.DataType
) -> None:
    rows = random_rows(seed, tie_kind)
    expected = python_traces(rows)
    log = order_events(arrow(rows, tie_type))
    names = log.activities
    assert names == sorted({a for _, a, _, _ in rows})

    # per-case order
    cases = log.case_ids.to_pylist()
    assert sorted(cases) == sorted(expected)
    for i, case in enumerate(cases):
        events = slice(int(log.starts[i]), int(log.ends[i]))
        got = [(names[a], int(t)) for a, t in zip(log.act[events], log.ts[events], strict=True)]
        assert got == expected[case]

    # grouping: equal sequences <-> equal variant; counts and representatives agree
    groups = group_traces(log)
    sequences = {case: tuple(a for a, _ in expected[case]) for case in cases}
    by_variant: dict[int, set[tuple[str, ...]]] = defaultdict(set)
    for i, case in enumerate(cases):
        by_variant[int(groups.variant[i])].add(sequences[case])
    assert all(len(s) == 1 for s in by_variant.values())
    assert len(by_variant) == len(set(sequences.values())) == len(groups.cases)
    assert sorted(groups.cases.tolist()) == sorted(Counter(sequences.values()).values())
    traces = traces_of(log, groups.first_case).to_pylist()
    for v, trace in enumerate(traces):
        assert by_variant[v] == {tuple(names[c] for c in trace)}

    # edges: waits in seconds per (a, b)
    waits: dict[tuple[str, str], list[float]] = defaultdict(list)
    edge_cases: dict[tuple[str, str], set[str]] = defaultdict(set)
    for case, events in expected.items():
        for (a, t), (b, u) in pairwise(events):
            waits[(a, b)].append((u - t) / 1_000_000.0)
            edge_cases[(a, b)].add(case)
    w = edge_waits(log)
    assert {
        (names[a], names[b]): int(c) for a, b, c in zip(w.act, w.next_act, w.cases, strict=True)
    } == {edge: len(c) for edge, c in edge_cases.items()}
    got_edges = {
        (names[a], names[b]): (int(n), mean, med, p90, lo, hi, total)
        for a, b, n, mean, med, p90, lo, hi, total in zip(
            w.act,
            w.next_act,
            w.count,
            w.mean,
            w.median,
            w.p90,
            w.low,
            w.high,
            w.total,
            strict=True,
        )
    }
    assert set(got_edges) == set(waits)
    for edge, values in waits.items():
        n, mean, med, p90, lo, hi, total = got_edges[edge]
        assert n == len(values)
        assert (lo, hi) == (min(values), max(values))
        assert total == pytest.approx(sum(values), rel=1e-12)
        assert mean == pytest.approx(sum(values) / len(values), rel=1e-12)
        assert (med, p90) == (quantile(values, 0.5), quantile(values, 0.9))

    # start / end activities
    e = endpoints(log)
    assert set(e.group.tolist()) <= {0}
    firsts = Counter(events[0][0] for events in expected.values())
    lasts = Counter(events[-1][0] for events in expected.values())
    got_first = {names[a]: int(n) for a, n in zip(e.act, e.starts, strict=True) if n}
    got_last = {names[a]: int(n) for a, n in zip(e.act, e.ends, strict=True) if n}
    assert (got_first, got_last) == (dict(firsts), dict(lasts))


def test_events_table_numbers_each_case_and_links_successors() -> None:
    rows = random_rows(3)
    log = order_events(arrow(rows, pa.int64()))
    events = events_table(log).to_pylist()
    expected = python_traces(rows)
    by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_case[e["case_id"]].append(e)
    assert set(by_case) == set(expected)
    for case, es in by_case.items():
        assert [e["seq"] for e in es] == list(range(1, len(es) + 1))
        assert [(log.activities[e["act"]], e["ts"]) for e in es] == expected[case]
        assert [e["next_act"] for e in es] == [e["act"] for e in es[1:]] + [None]
        assert [e["next_ts"] for e in es] == [e["ts"] for e in es[1:]] + [None]


def test_segment_groups_split_the_waits_and_minus_one_leaves_a_case_out() -> None:
    rows: list[Row] = [
        ("a", "x", 0, 1),
        ("a", "y", 10_000_000, 2),
        ("b", "x", 0, 1),
        ("b", "y", 30_000_000, 2),
        ("c", "x", 0, 1),
        ("c", "y", 50_000_000, 2),
    ]
    log = order_events(arrow(rows, pa.int64()))
    group = {"a": 0, "b": 1, "c": -1}
    per_case = np.array([group[c] for c in log.case_ids.to_pylist()], dtype=np.int64)
    w = edge_waits(log, per_case)
    assert sorted(zip(w.group.tolist(), w.mean.tolist(), strict=True)) == [(0, 10.0), (1, 30.0)]
    assert w.cases.tolist() == [1, 1]
    assert edge_waits(log).mean.tolist() == [30.0] and edge_waits(log).cases.tolist() == [3]
    e = endpoints(log, per_case)
    assert e.group.tolist() == [0, 0, 1, 1] and e.act.tolist() == [0, 1, 0, 1]
    assert e.starts.tolist() == [1, 0, 1, 0] and e.ends.tolist() == [0, 1, 0, 1]


def test_an_empty_log() -> None:
    log = order_events(arrow([], pa.int64()))
    assert len(log.starts) == 0 and log.activities == []
    assert len(group_traces(log).cases) == 0
    assert len(edge_waits(log).count) == 0
    assert events_table(log).num_rows == 0


def test_collapse_repeats_and_names() -> None:
    traces = pa.array([[0, 0, 1, 0], [2], [1, 1, 1], [2, 0, 0]], pa.list_(pa.int32()))
    assert collapse_repeats(traces).to_pylist() == [[0, 1, 0], [2], [1], [2, 0]]
    assert named(traces, ["a", "b", "c"]).to_pylist()[3] == ["c", "a", "a"]


@pytest.mark.parametrize("padded", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_rank_by_count_then_sequence_is_duckdbs_list_order(
    seed: int, padded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Count descending, then the sequence as DuckDB orders lists (a prefix first), through
    the padded lexsort and through the Python fallback for very wide logs."""
    if not padded:
        monkeypatch.setattr(ordering, "_PADDED_CELLS_MAX", 0)
    r = random.Random(seed)
    traces = [[r.randrange(4) for _ in range(r.choice([1, 1, 2, 3, 8]))] for _ in range(300)]
    traces += [[0], [0, 0], [0, 0, 0], [3, 0], [3]]  # prefixes of each other
    counts = np.array([r.choice([1, 1, 2, 5]) for _ in traces], dtype=np.int64)
    order = rank_by_count_then_sequence(counts, pa.array(traces, pa.list_(pa.int32())))
    con = duckdb.connect()
    expected = [
        row[0]
        for row in con.execute(
            "select i from (select unnest(range(len(?))) as i, unnest(?) as c, unnest(?) as t) "
            "order by c desc, t, i",
            [traces, counts.tolist(), traces],
        ).fetchall()
    ]
    got = [(int(counts[i]), traces[i]) for i in order]
    assert got == [(int(counts[i]), traces[i]) for i in expected]


def test_grouped_quantiles_are_duckdbs_quantile_cont() -> None:
    rng = np.random.default_rng(5)
    group = rng.integers(0, 40, 2000)
    values = rng.integers(0, 10**13, 2000)
    median, p90 = grouped_quantiles(group, values, 42, (0.5, 0.9), scale=1_000_000.0)
    con = duckdb.connect()
    rows = con.execute(
        "select g, quantile_cont(v / 1000000.0, 0.5), quantile_cont(v / 1000000.0, 0.9) "
        "from (select unnest(?) as g, unnest(?) as v) group by g",
        [group.tolist(), values.tolist()],
    ).fetchall()
    assert len(rows) == 40
    for g, med, q90 in rows:
        assert (median[g], p90[g]) == (med, q90)
    assert np.isnan(median[40:]).all() and np.isnan(p90[40:]).all()  # groups without values


@pytest.mark.parametrize("wide", [False, True])
def test_sort_pairs_packs_or_falls_back_to_a_permutation(wide: bool) -> None:
    rng = np.random.default_rng(3)
    group = rng.integers(-5, 50, 3000)
    values = rng.integers(-(2**61) if wide else -1000, 2**61 if wide else 10**9, 3000)
    got_group, got_values = ordering.sort_pairs(group, values)
    expected = sorted(zip(group.tolist(), values.tolist(), strict=True))
    assert list(zip(got_group.tolist(), got_values.tolist(), strict=True)) == expected


@pytest.mark.parametrize(
    ("seed", "tie_type"), [(21, pa.int64()), (22, pa.int32()), (23, pa.string())]
)
def test_prepare_log_reads_the_same_order_as_order_events(seed: int, tie_type: pa.DataType) -> None:
    """prepare_log packs (case, time, tie-breaker with nulls last, activity) in DuckDB when the
    tie-breaker is an integer and reads columns otherwise: both give the plain-Python order."""
    from l2c.mining import prepare_log

    rows = random_rows(seed, "str" if pa.types.is_string(tie_type) else "int")
    table = arrow(rows, tie_type)
    events = table.set_column(2, "event_at", table["ts"].cast(pa.timestamp("us", tz="UTC")))
    log = prepare_log(duckdb.connect(), events, order="tie").ordered
    expected = python_traces(rows)
    assert sorted(log.case_ids.to_pylist()) == log.case_ids.to_pylist()  # case-id order
    assert sorted(log.case_ids.to_pylist()) == sorted(expected)
    for i, case in enumerate(log.case_ids.to_pylist()):
        events_of = slice(int(log.starts[i]), int(log.ends[i]))
        got = [
            (log.activities[a], int(t))
            for a, t in zip(log.act[events_of], log.ts[events_of], strict=True)
        ]
        assert got == expected[case]


def test_small_pages_switches_allocators_only_while_mining() -> None:
    """Inside `small_pages` Arrow allocates from the system pool and NumPy asks for no huge
    pages; both are restored afterwards, even when the mining fails."""
    from l2c.mining.ordering import small_pages

    toggle = np._core.multiarray._set_madvise_hugepage  # type: ignore[attr-defined]
    pool, huge = pa.default_memory_pool(), toggle(True)
    with pytest.raises(RuntimeError), small_pages():
        assert pa.default_memory_pool().backend_name == pa.system_memory_pool().backend_name
        assert toggle(False) is False  # returns the setting it replaces: off inside
        raise RuntimeError("mining failed")
    assert pa.default_memory_pool().backend_name == pool.backend_name
    assert toggle(huge) is True


@pytest.mark.parametrize("seed", range(8))
def test_cases_per_edge_and_group_equal_a_count_of_distinct_cases(seed: int) -> None:
    """The cases of each (group, edge), counted per activity sequence (`variant_edges`), equal
    the distinct cases of the group with that edge; -1 leaves a case out of every group."""
    rows = random_rows(seed)
    log = order_events(arrow(rows, pa.int64()))
    expected = python_traces(rows)
    r = random.Random(seed)
    group_of = {case: r.choice([-1, 0, 1, 2, 2]) for case in expected}
    per_case = np.array([group_of[c] for c in log.case_ids.to_pylist()], dtype=np.int64)
    edge_cases: dict[tuple[int, str, str], set[str]] = defaultdict(set)
    for case, events in expected.items():
        for (a, _), (b, _) in pairwise(events):
            if group_of[case] >= 0:
                edge_cases[(group_of[case], a, b)].add(case)
    names = log.activities
    w = edge_waits(log, per_case)
    got = {
        (int(g), names[a], names[b]): int(c)
        for g, a, b, c in zip(w.group, w.act, w.next_act, w.cases, strict=True)
    }
    assert got == {key: len(cases) for key, cases in edge_cases.items()}
