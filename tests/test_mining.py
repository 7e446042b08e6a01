"""l2c.mining on hand-built logs through DuckDB: ordering traps (unsorted input, equal
timestamps, mixed time zones), single-event cases, loops, and every result family.
Expected values follow from the construction of each log; pm4py cross-checks are in
test_mining_oracle.py."""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import random
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from l2c.dbt_runner import ROOT
from l2c.mining import (
    activity_rework,
    case_backward_moves,
    case_variants_relation,
    check_conformance,
    mine_variants,
    prepare_log,
    process_map,
    stage_backward_moves,
    variants_relation,
)
from l2c.mining.summary import abbreviate, summary_lines
from pipelines import manifest

# (case_id, activity, event time with its own UTC offset, tie-breaker)
Event = tuple[str, str, str, int]

EDGE_LOG: list[Event] = [
    # loops: Quote Sent three times (twice directly repeated), whole-second gaps
    ("loop", "Lead Created", "2024-01-01T08:00:00+00:00", 1),
    ("loop", "Quote Sent", "2024-01-02T08:00:00+00:00", 2),
    ("loop", "Quote Sent", "2024-01-03T09:00:00+00:00", 3),
    ("loop", "Follow-up Activity", "2024-01-03T10:00:00+00:00", 4),
    ("loop", "Quote Sent", "2024-01-05T10:00:00+00:00", 5),
    ("loop", "Deal Won", "2024-01-06T10:00:00+00:00", 6),
    # equal timestamps: the tie-breaker (catalog sort order) decides, not the activity name
    ("ties", "Lead Created", "2024-02-01T11:59:59+00:00", 10),
    ("ties", "Deal Won", "2024-02-01T12:00:00+00:00", 100),
    ("ties", "Stage Entered: Prospecting", "2024-02-01T12:00:00+00:00", 51),
    ("ties", "Deal Created", "2024-02-01T12:00:00+00:00", 40),
    # mixed time zones: UTC order is Lead Created 08:00Z, Deal Won 09:00Z, Deal Created 09:30Z;
    # the local wall-clock order (04:30, 09:00, 10:00) and the tie-breaker order both differ
    ("tz", "Lead Created", "2024-03-10T10:00:00+02:00", 1),
    ("tz", "Deal Created", "2024-03-10T04:30:00-05:00", 2),
    ("tz", "Deal Won", "2024-03-10T09:00:00+00:00", 3),
    # 05:30Z and 06:10Z straddle New York's fall-back: local times 01:30 EDT then 01:10 EST
    ("dst", "Deal Created", "2024-11-03T05:30:00+00:00", 1),
    ("dst", "Deal Won", "2024-11-03T01:10:00-05:00", 2),
    # single-event cases
    ("single-1", "Lead Created", "2024-04-01T00:00:00+00:00", 1),
    ("single-2", "Lead Created", "2024-04-02T00:00:00+05:30", 1),
    ("single-3", "Deal Created", "2024-04-03T00:00:00-08:00", 7),
    # two cases with the same sequence
    ("same-a", "Lead Created", "2024-05-01T00:00:00+00:00", 1),
    ("same-a", "Deal Created", "2024-05-01T06:00:00+00:00", 2),
    ("same-a", "Deal Lost", "2024-05-03T06:00:00+00:00", 3),
    ("same-b", "Lead Created", "2024-05-10T00:00:00+01:00", 1),
    ("same-b", "Deal Created", "2024-05-10T02:00:00+01:00", 2),
    ("same-b", "Deal Lost", "2024-05-11T01:00:00+00:00", 3),
]

EXPECTED_VARIANTS: dict[tuple[str, ...], int] = {
    (
        "Lead Created",
        "Quote Sent",
        "Quote Sent",
        "Follow-up Activity",
        "Quote Sent",
        "Deal Won",
    ): 1,
    ("Lead Created", "Deal Created", "Stage Entered: Prospecting", "Deal Won"): 1,
    ("Lead Created", "Deal Won", "Deal Created"): 1,
    ("Lead Created",): 2,
    ("Deal Created",): 1,
    ("Lead Created", "Deal Created", "Deal Lost"): 2,
    ("Deal Created", "Deal Won"): 1,
}

H, D = 3600.0, 86400.0
# (from, to) -> (transitions, cases, waits in seconds)
EXPECTED_EDGES: dict[tuple[str, str], tuple[int, int, list[float]]] = {
    ("Lead Created", "Quote Sent"): (1, 1, [D]),
    ("Quote Sent", "Quote Sent"): (1, 1, [D + H]),
    ("Quote Sent", "Follow-up Activity"): (1, 1, [H]),
    ("Follow-up Activity", "Quote Sent"): (1, 1, [2 * D]),
    ("Quote Sent", "Deal Won"): (1, 1, [D]),
    ("Lead Created", "Deal Created"): (3, 3, [1.0, 6 * H, 2 * H]),
    ("Deal Created", "Stage Entered: Prospecting"): (1, 1, [0.0]),
    ("Stage Entered: Prospecting", "Deal Won"): (1, 1, [0.0]),
    ("Lead Created", "Deal Won"): (1, 1, [H]),
    ("Deal Won", "Deal Created"): (1, 1, [H / 2]),
    ("Deal Created", "Deal Lost"): (2, 2, [2 * D, D]),
    ("Deal Created", "Deal Won"): (1, 1, [40 * 60.0]),
}


def values_sql(rows: Sequence[Event]) -> str:
    return ",\n".join(
        f"('{case}', '{activity}', timestamptz '{at}', {tie})" for case, activity, at, tie in rows
    )


def event_relation(
    con: duckdb.DuckDBPyConnection, rows: Sequence[Event], shuffle_seed: int | None = 0
) -> duckdb.DuckDBPyRelation:
    """The events as a DuckDB timestamptz relation, rows shuffled (never in case/time order)."""
    rows = list(rows)
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(rows)
    return con.sql(
        f"select * from (values {values_sql(rows)}) as t(case_id, activity, event_at, event_order)"
    )


def mine(con: duckdb.DuckDBPyConnection, events: duckdb.DuckDBPyRelation) -> dict[str, Any]:
    """The results pm4py also computes, as plain Python values."""
    v = mine_variants(prepare_log(con, events))
    pm = process_map(v, min_transitions=1, bottlenecks=1)
    rework = activity_rework(v).fetchall()
    return {
        "variants": {
            tuple(acts): n
            for acts, n in variants_relation(v).project("activities, cases_count").fetchall()
        },
        "edges": {
            (a, b): (n, c, mean, median, lo, hi, total)
            for a, b, n, c, mean, median, lo, hi, total in pm.edges.project(
                "from_activity, to_activity, transitions_count, cases_count, wait_mean_s, "
                "wait_median_s, wait_min_s, wait_max_s, wait_total_s"
            ).fetchall()
        },
        "start": dict(
            pm.endpoints.filter("endpoint = 'start'").project("activity, cases_count").fetchall()
        ),
        "end": dict(
            pm.endpoints.filter("endpoint = 'end'").project("activity, cases_count").fetchall()
        ),
        "rework_cases": {r[0]: r[3] for r in rework if r[3] > 0},
        "repeat_occurrences": {r[0]: r[4] for r in rework if r[4] > 0},
    }


def median(values: list[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


# --- ordering ------------------------------------------------------------------------------


def test_variants_of_the_edge_case_log(con: duckdb.DuckDBPyConnection) -> None:
    assert mine(con, event_relation(con, EDGE_LOG))["variants"] == EXPECTED_VARIANTS


def test_process_map_of_the_edge_case_log(con: duckdb.DuckDBPyConnection) -> None:
    result = mine(con, event_relation(con, EDGE_LOG))
    expected = {
        edge: (n, c, sum(w) / len(w), median(w), min(w), max(w), sum(w))
        for edge, (n, c, w) in EXPECTED_EDGES.items()
    }
    assert result["edges"] == expected
    assert result["start"] == {"Lead Created": 7, "Deal Created": 2}
    assert result["end"] == {"Deal Won": 3, "Deal Created": 2, "Lead Created": 2, "Deal Lost": 2}


def test_rework_counts_loops(con: duckdb.DuckDBPyConnection) -> None:
    result = mine(con, event_relation(con, EDGE_LOG))
    assert result["rework_cases"] == {"Quote Sent": 1}
    assert result["repeat_occurrences"] == {"Quote Sent": 2}
    v = mine_variants(prepare_log(con, event_relation(con, EDGE_LOG)))
    rows = {r[0]: r for r in activity_rework(v).fetchall()}
    # activity, events, cases, rework cases, repeats, immediate repeats, rate, backward...
    assert rows["Quote Sent"][1:7] == (3, 1, 1, 2, 1, 1.0)
    assert rows["Lead Created"][1:7] == (7, 7, 0, 0, 0, 0.0)


@pytest.mark.parametrize("seed", [None, 1, 2, 3, 4])
def test_results_do_not_depend_on_row_order(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    ordered = mine(con, event_relation(con, EDGE_LOG, shuffle_seed=None))
    shuffled = mine(con, event_relation(con, EDGE_LOG, shuffle_seed=seed))
    reversed_rows = mine(con, event_relation(con, EDGE_LOG[::-1], shuffle_seed=None))
    assert ordered == shuffled == reversed_rows


def test_long_traces_are_keyed_exactly(con: duckdb.DuckDBPyConnection) -> None:
    """Sequences longer than one packed word (14 activities -> 4 bits, 16 codes per word)
    differ or match on every word, including a difference in the last event only."""

    def case(name: str, last: str, n: int = 300) -> list[Event]:
        acts = [f"Activity {i % 7}" for i in range(n - 1)] + [last]
        return [
            (name, a, f"2024-06-01T00:{i // 60:02d}:{i % 60:02d}+00:00", i)
            for i, a in enumerate(acts)
        ]

    rows = EDGE_LOG + case("long a", "Activity 0") + case("long b", "Activity 0")
    rows += case("long c", "Activity 1") + case("shorter", "Activity 0", n=299)
    log = prepare_log(con, event_relation(con, rows))
    assert log.longest_case == 300 and log.activity_count == 14
    variants = mine(con, event_relation(con, rows))["variants"]
    long_a = tuple(a for _, a, _, _ in case("x", "Activity 0"))
    assert variants[long_a] == 2
    assert variants[(*long_a[:-1], "Activity 1")] == 1
    assert variants[tuple(a for _, a, _, _ in case("x", "Activity 0", n=299))] == 1
    assert {k: n for k, n in variants.items() if len(k) < 299} == EXPECTED_VARIANTS


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"])
def test_results_do_not_depend_on_the_session_time_zone(zone: str) -> None:
    utc = duckdb.connect()
    utc.execute("set TimeZone = 'UTC'")
    con = duckdb.connect()
    con.execute(f"set TimeZone = '{zone}'")
    result = mine(con, event_relation(con, EDGE_LOG))
    assert result["variants"] == EXPECTED_VARIANTS
    assert result == mine(utc, event_relation(utc, EDGE_LOG))


def test_arrow_input_with_a_zone_and_naive_utc_input_agree(con: duckdb.DuckDBPyConnection) -> None:
    instants = [datetime.fromisoformat(at) for _, _, at, _ in EDGE_LOG]
    base = {
        "case_id": [e[0] for e in EDGE_LOG],
        "activity": [e[1] for e in EDGE_LOG],
        "event_order": [e[3] for e in EDGE_LOG],
    }
    berlin = pa.table({**base, "event_at": pa.array(instants, pa.timestamp("us", tz="UTC"))}).cast(
        pa.schema(
            [
                ("case_id", pa.string()),
                ("activity", pa.string()),
                ("event_order", pa.int64()),
                ("event_at", pa.timestamp("us", tz="Europe/Berlin")),
            ]
        )
    )
    naive_utc = event_relation(con, EDGE_LOG).project(
        "case_id, activity, event_order, timezone('UTC', event_at) as event_at"
    )
    assert str(naive_utc.types[-1]) == "TIMESTAMP"
    from_arrow = mine(con, con.from_arrow(berlin))
    assert from_arrow == mine(con, naive_utc) == mine(con, event_relation(con, EDGE_LOG))
    assert from_arrow["variants"] == EXPECTED_VARIANTS


def test_equal_timestamps_follow_the_tie_breaker_and_time_beats_it(
    con: duckdb.DuckDBPyConnection,
) -> None:
    log = prepare_log(con, event_relation(con, EDGE_LOG))
    order = con.sql(
        f"select a.activity from {log.events} e join {log.activities} a using (act) "
        "where case_id = 'ties' order by seq"
    ).fetchall()
    assert [r[0] for r in order] == [
        "Lead Created",
        "Deal Created",
        "Stage Entered: Prospecting",
        "Deal Won",
    ]
    # flipping the tie-breaker flips the order of the simultaneous events only
    flipped = [(c, a, t, -tie if c == "ties" else tie) for c, a, t, tie in EDGE_LOG]
    v = mine(con, event_relation(con, flipped))["variants"]
    assert ("Lead Created", "Deal Won", "Stage Entered: Prospecting", "Deal Created") in v


def test_complete_ties_are_broken_by_activity_name(con: duckdb.DuckDBPyConnection) -> None:
    rows: list[Event] = [
        ("c", "B", "2024-01-01T00:00:00+00:00", 1),
        ("c", "A", "2024-01-01T00:00:00+00:00", 1),
    ]
    for seed in range(4):
        assert mine(con, event_relation(con, rows, seed))["variants"] == {("A", "B"): 1}


def test_an_empty_log_gives_empty_results(con: duckdb.DuckDBPyConnection) -> None:
    empty = event_relation(con, EDGE_LOG).filter("false")
    assert mine(con, empty) == {
        "variants": {},
        "edges": {},
        "start": {},
        "end": {},
        "rework_cases": {},
        "repeat_occurrences": {},
    }
    v = mine_variants(prepare_log(con, empty))
    result = check_conformance(v, ideal_relation(con, IDEAL))
    assert result.cases.fetchall() == [] and result.deviations.fetchall() == []


def test_rows_with_null_keys_are_dropped_and_text_timestamps_are_refused(
    con: duckdb.DuckDBPyConnection,
) -> None:
    rel = con.sql(
        "select * from (values ('c', 'A', timestamp '2024-01-01', 1), "
        "(null, 'A', timestamp '2024-01-02', 2), ('c', null, timestamp '2024-01-03', 3), "
        "('c', 'B', null, 4), ('c', 'C', timestamp '2024-01-04', 5)) "
        "as t(case_id, activity, event_at, event_order)"
    )
    assert mine(con, rel)["variants"] == {("A", "C"): 1}
    text = con.sql("select 'c' as case_id, 'A' as activity, '2024-01-01' as event_at, 1 as o")
    with pytest.raises(TypeError, match="timestamptz"):
        prepare_log(con, text, order="o")


def test_nothing_is_left_in_the_database_file(tmp_path: Any) -> None:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    mine(con, event_relation(con, EDGE_LOG))
    con.close()
    con = duckdb.connect(str(path))
    leftovers = con.sql(
        "select table_name from information_schema.tables "
        "where table_schema <> 'information_schema'"
    ).fetchall()
    assert leftovers == []


# --- variants ------------------------------------------------------------------------------


def test_variant_ids_ranks_shares_and_shortened_form(con: duckdb.DuckDBPyConnection) -> None:
    rows = variants_relation(mine_variants(prepare_log(con, event_relation(con, EDGE_LOG))))
    table = rows.project(
        "variant_id, variant_rank, activities, shortened, cases_count, share, cumulative_share"
    ).fetchall()
    by_seq = {tuple(r[2]): r for r in table}
    for seq, row in by_seq.items():
        assert row[0] == hashlib.md5("\x1f".join(seq).encode()).hexdigest()
    # rank: count desc, then the sequence element by element (a prefix sorts first)
    assert [r[1] for r in table] == [1, 2, 3, 4, 5, 6, 7]
    assert [r[4] for r in table] == [2, 2, 1, 1, 1, 1, 1]
    assert [tuple(r[2])[:2] for r in table] == [
        ("Lead Created",),
        ("Lead Created", "Deal Created"),
        ("Deal Created",),
        ("Deal Created", "Deal Won"),
        ("Lead Created", "Deal Created"),
        ("Lead Created", "Deal Won"),
        ("Lead Created", "Quote Sent"),
    ]
    assert len(table[1][2]) == 3 and len(table[4][2]) == 4
    assert [r[5] for r in table] == [2 / 9, 2 / 9, 1 / 9, 1 / 9, 1 / 9, 1 / 9, 1 / 9]
    assert [r[6] for r in table][:3] == [2 / 9, 4 / 9, 5 / 9]
    assert [r[6] for r in table][-1] == 1.0
    loop = by_seq[next(s for s in EXPECTED_VARIANTS if len(s) == 6)]
    assert tuple(loop[3]) == (
        "Lead Created",
        "Quote Sent",
        "Follow-up Activity",
        "Quote Sent",
        "Deal Won",
    )


def test_variant_durations_censor_open_cases_and_win_rate(con: duckdb.DuckDBPyConnection) -> None:
    rows: list[Event] = [
        ("w1", "A", "2024-01-01T00:00:00+00:00", 1),
        ("w1", "B", "2024-01-02T00:00:00+00:00", 2),
        ("w2", "A", "2024-01-01T00:00:00+00:00", 1),
        ("w2", "B", "2024-01-04T00:00:00+00:00", 2),
        ("l1", "A", "2024-01-01T00:00:00+00:00", 1),
        ("l1", "B", "2024-01-11T00:00:00+00:00", 2),
        ("o1", "A", "2024-01-01T00:00:00+00:00", 1),
        ("o1", "B", "2024-03-01T00:00:00+00:00", 2),
    ]
    cases = con.sql(
        "select * from (values ('w1', 'won', 100.0), ('w2', 'won', 200.0), "
        "('l1', 'lost', null), ('o1', 'open', 600.0)) as t(case_id, outcome, deal_value)"
    )
    v = mine_variants(prepare_log(con, event_relation(con, rows)), cases)
    row = (
        variants_relation(v)
        .project(
            "cases_count, duration_median_s, duration_p90_s, cases_won, cases_lost, cases_open, "
            "win_rate, deal_value_mean"
        )
        .fetchone()
    )
    # closed durations 1, 3, 10 days; the open case (60 days) is censored
    assert row is not None
    assert row[2] == pytest.approx((3 + 0.8 * 7) * D, rel=1e-12)  # interpolated p90
    assert row[:2] + row[3:] == (4, 3 * D, 2, 1, 1, 2 / 3, 300.0)
    per_case = dict(case_variants_relation(v).project("case_id, duration_s").fetchall())
    assert per_case == {"w1": D, "w2": 3 * D, "l1": 10 * D, "o1": 60 * D}


# --- process map ---------------------------------------------------------------------------


def test_bottlenecks_rank_by_median_wait_above_the_minimum(con: duckdb.DuckDBPyConnection) -> None:
    rows: list[Event] = []
    for i in range(5):  # A -> B waits 1 h, B -> C waits 10 h (5 times each)
        rows += [
            (f"c{i}", "A", f"2024-01-0{i + 1}T00:00:00+00:00", 1),
            (f"c{i}", "B", f"2024-01-0{i + 1}T01:00:00+00:00", 2),
            (f"c{i}", "C", f"2024-01-0{i + 1}T11:00:00+00:00", 3),
        ]
    rows += [
        ("rare", "A", "2024-02-01T00:00:00+00:00", 1),
        ("rare", "Z", "2024-03-01T00:00:00+00:00", 2),
    ]
    v = mine_variants(prepare_log(con, event_relation(con, rows)))
    edges = process_map(v, min_transitions=2, bottlenecks=1).edges.project(
        "from_activity || '>' || to_activity, bottleneck_rank, is_bottleneck"
    )
    assert sorted(edges.fetchall()) == [("A>B", 2, False), ("A>Z", None, False), ("B>C", 1, True)]
    everything = process_map(v, min_transitions=1, bottlenecks=1).edges.filter("is_bottleneck")
    assert everything.project("to_activity").fetchall() == [("Z",)]


def test_segments_partition_the_map(con: duckdb.DuckDBPyConnection) -> None:
    cases = con.sql(
        "select case_id, case when case_id like 's%' then 'EMEA' when case_id = 'tz' then null "
        "else 'APAC' end as region from (select distinct case_id from (values "
        + values_sql(EDGE_LOG)
        + ") as t(case_id, activity, event_at, event_order))"
    )
    v = mine_variants(prepare_log(con, event_relation(con, EDGE_LOG)))
    pm = process_map(v, cases, ["region"], min_transitions=1)
    totals = pm.edges.aggregate(
        "segment_type, from_activity, to_activity, sum(transitions_count), sum(cases_count), "
        "sum(wait_total_s)"
    )
    by_type: dict[str, set[tuple[Any, ...]]] = {}
    for row in totals.fetchall():
        by_type.setdefault(row[0], set()).add(row[1:])
    assert by_type["region"] == by_type["all"]
    values = {
        r[0] for r in pm.edges.filter("segment_type = 'region'").project("segment_value").fetchall()
    }
    assert values == {"EMEA", "APAC", "(none)"}
    starts = pm.endpoints.filter("segment_type = 'region' and endpoint = 'start'")
    assert starts.aggregate("sum(cases_count)").fetchone() == (9,)
    shares = starts.aggregate("segment_value, sum(share)").fetchall()
    assert all(abs(share - 1.0) < 1e-12 for _, share in shares)


# --- rework: backward stage moves ------------------------------------------------------------


def test_backward_stage_moves(con: duckdb.DuckDBPyConnection) -> None:
    stages = con.sql(
        "select * from (values ('S1', 1), ('S2', 2), ('S3', 3)) as t(activity, stage_order)"
    )
    rows: list[Event] = [
        # S1 S2 X S3 S2 S3 S1: backward S3->S2 and S3->S1 (X is not a stage and is skipped over)
        ("b", "S1", "2024-01-01T00:00:00+00:00", 1),
        ("b", "S2", "2024-01-02T00:00:00+00:00", 2),
        ("b", "X", "2024-01-03T00:00:00+00:00", 3),
        ("b", "S3", "2024-01-04T00:00:00+00:00", 4),
        ("b", "S2", "2024-01-05T00:00:00+00:00", 5),
        ("b", "S3", "2024-01-06T00:00:00+00:00", 6),
        ("b", "S1", "2024-01-07T00:00:00+00:00", 7),
        ("f", "S1", "2024-01-01T00:00:00+00:00", 1),
        ("f", "S3", "2024-01-02T00:00:00+00:00", 2),
    ]
    v = mine_variants(prepare_log(con, event_relation(con, rows)))
    assert sorted(stage_backward_moves(v, stages).fetchall()) == [
        ("S3", "S1", 1, 1),
        ("S3", "S2", 1, 1),
    ]
    assert dict(case_backward_moves(v, stages).fetchall()) == {"b": 2, "f": 0}
    rework = {r[0]: (r[7], r[8]) for r in activity_rework(v, stages).fetchall()}
    assert rework == {"S1": (1, 1), "S2": (1, 1), "S3": (0, 0), "X": (None, None)}


# --- conformance ---------------------------------------------------------------------------

IDEAL = [
    ("*", 1, "A", "required"),
    ("*", 2, "B", "required"),
    ("*", 3, "C", "optional"),
    ("*", 3, "D", "required"),
    ("*", 4, "E", "required"),
    ("*", None, "X", "exit"),
    ("P2", 1, "A", "required"),
    ("P2", 2, "E", "required"),
]

TRACES: dict[str, tuple[str, str]] = {  # case -> (path, trace as letters)
    "fit": ("*", "ABCDE"),
    "fit_tie": ("*", "ABDCE"),
    "early_exit": ("*", "ABX"),
    "open_prefix": ("*", "AB"),
    "skipped": ("*", "ADE"),
    "extra": ("*", "AZB"),
    "repeated": ("*", "ABBDE"),
    "out_of_order": ("*", "ADBE"),
    "combined": ("*", "BAZAE"),
    "other_path": ("P2", "AE"),
    "unknown_path": ("nope", "AE"),
}


def trace_events(traces: dict[str, tuple[str, str]]) -> list[Event]:
    return [
        (case, letter, f"2024-01-01T00:{i:02d}:00+00:00", i)
        for case, (_, trace) in traces.items()
        for i, letter in enumerate(trace)
    ]


def ideal_relation(con: duckdb.DuckDBPyConnection, rows: Sequence[tuple[Any, ...]]) -> Any:
    values = ", ".join(
        f"('{p}', {'null' if pos is None else pos}, '{a}', '{k}')" for p, pos, a, k in rows
    )
    return con.sql(f"select * from (values {values}) as t(path, position, activity, step_type)")


def conformance_of(con: duckdb.DuckDBPyConnection, traces: dict[str, tuple[str, str]]) -> Any:
    v = mine_variants(prepare_log(con, event_relation(con, trace_events(traces))))
    paths = con.sql(
        "select * from (values "
        + ", ".join(f"('{c}', '{p}')" for c, (p, _) in traces.items())
        + ") as t(case_id, path)"
    )
    return check_conformance(v, ideal_relation(con, IDEAL), paths)


def test_each_deviation_kind_with_its_position(con: duckdb.DuckDBPyConnection) -> None:
    result = conformance_of(con, TRACES)
    deviations: dict[str, list[tuple[Any, ...]]] = {}
    for case, no, kind, activity, trace_pos, ideal_pos, _ in result.deviations.fetchall():
        deviations.setdefault(case, []).append((no, kind, activity, trace_pos, ideal_pos))
    assert {case: sorted(d) for case, d in deviations.items()} == {
        "skipped": [(1, "skipped", "B", None, 2)],
        "extra": [(1, "extra", "Z", 2, None)],
        "repeated": [(1, "repeated", "B", 3, 2)],
        "out_of_order": [(1, "out_of_order", "B", 3, 2)],
        "combined": [
            (1, "out_of_order", "A", 2, 1),
            (2, "extra", "Z", 3, None),
            (3, "repeated", "A", 4, 1),
            (4, "skipped", "D", None, 3),
        ],
        "unknown_path": [(1, "skipped", "B", None, 2), (2, "skipped", "D", None, 3)],
    }
    cases = {r[0]: r[1:] for r in result.cases.fetchall()}
    # path, variant, fits, total, skipped, extra, out_of_order, repeated, furthest, unobservable
    assert all(r[-1] == [] for r in cases.values())  # no system declared: all observable
    cases = {c: r[:-1] for c, r in cases.items()}
    assert cases["fit"][0] == "*" and cases["fit"][2] is True and cases["fit"][-1] == 4
    assert cases["fit_tie"][2] and cases["early_exit"][2] and cases["open_prefix"][2]
    assert cases["early_exit"][-1] == 2
    assert cases["other_path"][0] == "P2" and cases["other_path"][2]
    assert cases["unknown_path"][0] == "*" and not cases["unknown_path"][2]
    assert cases["combined"][2:8] == (False, 4, 1, 1, 1, 1)


def test_conformance_is_the_same_for_cases_sharing_a_trace(con: duckdb.DuckDBPyConnection) -> None:
    traces = {f"s{i}": ("*", "ADE") for i in range(3)} | {"p": ("P2", "ADE")}
    result = conformance_of(con, traces)
    per_case = dict(result.cases.project("case_id, deviations_count").fetchall())
    assert per_case == {"s0": 1, "s1": 1, "s2": 1, "p": 1}  # P2: D is extra; '*': B skipped
    kinds = dict(result.deviations.project("case_id, deviation_kind").fetchall())
    assert kinds == {"s0": "skipped", "s1": "skipped", "s2": "skipped", "p": "extra"}


def test_a_step_the_system_cannot_observe_is_neither_skipped_nor_extra(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """System `blind` cannot observe B or C: B missing is no skip; B present is still ordered
    and repeated; a system with no row in `observable`, or no system, observes everything."""
    traces = {  # case -> (path, system, trace)
        "blind_fit": ("*", "blind", "ADE"),
        "blind_seen": ("*", "blind", "ABDE"),
        "blind_late": ("*", "blind", "ADBE"),
        "blind_twice": ("*", "blind", "ABBDE"),
        "blind_skip_d": ("*", "blind", "AE"),
        "sees": ("*", "sees", "ADE"),
        "undeclared": ("*", "nobody", "ADE"),
        "no_system": ("*", None, "ADE"),
        "blind_p2": ("P2", "blind", "AE"),
    }
    v = mine_variants(
        prepare_log(
            con,
            event_relation(con, trace_events({c: (p, t) for c, (p, _, t) in traces.items()})),
        )
    )
    paths = con.sql(
        "select * from (values "
        + ", ".join(
            f"('{c}', '{p}', {'null' if s is None else repr(s)})" for c, (p, s, _) in traces.items()
        )
        + ") as t(case_id, path, system)"
    )
    observable = con.sql(
        "select * from (values ('blind', 'A'), ('blind', 'D'), ('blind', 'E'), ('blind', 'X'), "
        "('sees', 'A'), ('sees', 'B'), ('sees', 'C'), ('sees', 'D'), ('sees', 'E'), "
        "('sees', 'X')) as t(system, activity)"
    )
    result = check_conformance(v, ideal_relation(con, IDEAL), paths, observable)
    kinds: dict[str, list[tuple[str, str]]] = {}
    for case, _, kind, activity, *_ in result.deviations.fetchall():
        kinds.setdefault(case, []).append((kind, activity))
    assert kinds == {
        "blind_late": [("out_of_order", "B")],
        "blind_twice": [("repeated", "B")],
        "blind_skip_d": [("skipped", "D")],
        "sees": [("skipped", "B")],
        "undeclared": [("skipped", "B")],
        "no_system": [("skipped", "B")],
    }
    steps = {r[0]: r[-1] for r in result.cases.fetchall()}
    assert steps == {
        "blind_fit": ["B", "C"],
        "blind_seen": ["B", "C"],
        "blind_late": ["B", "C"],
        "blind_twice": ["B", "C"],
        "blind_skip_d": ["B", "C"],
        "sees": [],
        "undeclared": [],
        "no_system": [],
        "blind_p2": [],  # P2 has no B or C
    }
    assert sorted(result.unobservable.fetchall()) == [
        ("*", "blind", "B", "required", 2),
        ("*", "blind", "C", "optional", 3),
    ]


# --- the shipped ideal path and the manifest's declarations ---------------------------------


def shipped_ideal_path() -> list[tuple[str, int | None, str, str]]:
    with (ROOT / "seeds" / "ideal_path.csv").open() as handle:
        return [
            (
                r["pipeline"],
                int(r["position"]) if r["position"] else None,
                r["activity"],
                r["step_type"],
            )
            for r in csv.DictReader(handle)
        ]


def observable_activities() -> dict[str, set[str]]:
    """Per CRM system, the catalog activities its cases can show: its own declaration and
    that of every finance / erp system linking to it (every system loaded), as
    int_observable_activities_resolved expands them."""
    with (ROOT / "seeds" / "activity_catalog.csv").open() as handle:
        catalog = [r["activity"] for r in csv.DictReader(handle)]
    registry = manifest.dbt_registry()

    def expand(patterns: Sequence[str]) -> set[str]:
        return {a for p in patterns for a in catalog if fnmatch.fnmatchcase(a, p)}

    return {
        crm: expand(cfg["observes"])
        | {
            a
            for other in registry.values()
            if crm in other.get("links_to", [])
            for a in expand(other["observes"])
        }
        for crm, cfg in registry.items()
        if cfg["kind"] == "crm"
    }


def ideal_trace(path: str, seen: set[str], reverse_ties: bool = False) -> list[str]:
    """Every required and optional step of `path` the system can observe, in ideal order;
    steps sharing a position in name order, or in reverse name order."""
    steps = [
        (pos, a)
        for p, pos, a, kind in shipped_ideal_path()
        if p == path and kind != "exit" and a in seen
    ]
    steps.sort(key=lambda s: s[1], reverse=reverse_ties)
    steps.sort(key=lambda s: s[0] or 0)  # stable: ties keep the order above
    return [a for _, a in steps]


def planted(path: str, seen: set[str]) -> dict[str, tuple[list[str], tuple[str, str]]]:
    """One deviation planted into the ideal trace, with the deviation expected:
    a skipped stage, an extra step and a quote loop (rejected, then quoted again)."""
    trace = ideal_trace(path, seen)
    out: dict[str, tuple[list[str], tuple[str, str]]] = {}
    required = {a for p, _, a, kind in shipped_ideal_path() if p == path and kind == "required"}
    stage = next((a for a in trace[1:-1] if a.startswith("Stage Entered") and a in required), None)
    if stage is not None:
        out["skipped"] = ([a for a in trace if a != stage], ("skipped", stage))
    won = trace.index("Deal Won")
    out["extra"] = (
        [*trace[:won], "Stage Entered: Unmapped", *trace[won:]],
        ("extra", "Stage Entered: Unmapped"),
    )
    if {"Quote Sent", "Quote Rejected"} <= seen:
        sent = trace.index("Quote Sent")
        loop = [*trace[: sent + 1], "Quote Rejected", "Quote Sent", *trace[sent + 1 :]]
        out["loop"] = (loop, ("repeated", "Quote Sent"))
    return out


def test_the_ideal_path_fits_and_each_planted_deviation_is_found_once_in_every_system(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """For every CRM of the manifest and every path of the shipped seed: a case that follows
    the ideal path exactly (the steps its system can observe, ties in both orders) fits, and a
    case with one planted deviation has exactly that one deviation."""
    observable = observable_activities()
    assert set(observable) >= {"pipedrive", "salesforce", "oracle_cx", "zendesk_sell"}
    paths = sorted({p for p, *_ in shipped_ideal_path()})
    cases: dict[str, tuple[str, str, list[str]]] = {}
    expected: dict[str, list[tuple[str, str]]] = {}
    for system, seen in observable.items():
        for path in paths:
            cases[f"{system}|{path}|ideal"] = (path, system, ideal_trace(path, seen))
            cases[f"{system}|{path}|ties"] = (path, system, ideal_trace(path, seen, True))
            for name, (trace, deviation) in planted(path, seen).items():
                cases[f"{system}|{path}|{name}"] = (path, system, trace)
                expected[f"{system}|{path}|{name}"] = [deviation]
    assert any(c.endswith("|loop") for c in cases) and any(c.endswith("|skipped") for c in cases)
    events = [
        (case, activity, "2024-01-01T00:00:00+00:00", i)
        for case, (_, _, trace) in cases.items()
        for i, activity in enumerate(trace)
    ]
    v = mine_variants(prepare_log(con, event_relation(con, events)))
    case_paths = pa.table(
        {
            "case_id": list(cases),
            "path": [p for p, _, _ in cases.values()],
            "system": [s for _, s, _ in cases.values()],
        }
    )
    declared = pa.table(
        {
            "system": [s for s, seen in observable.items() for _ in seen],
            "activity": [a for seen in observable.values() for a in sorted(seen)],
        }
    )
    ideal = pa.table(
        {
            "path": [r[0] for r in shipped_ideal_path()],
            "position": pa.array([r[1] for r in shipped_ideal_path()], pa.int32()),
            "activity": [r[2] for r in shipped_ideal_path()],
            "step_type": [r[3] for r in shipped_ideal_path()],
        }
    )
    result = check_conformance(v, ideal, case_paths, declared)
    found: dict[str, list[tuple[str, str]]] = {}
    for case, _, kind, activity, *_ in result.deviations.fetchall():
        found.setdefault(case, []).append((kind, activity))
    assert found == expected
    fits = dict(result.cases.project("case_id, fits").fetchall())
    assert {c for c, f in fits.items() if f} == set(cases) - set(expected)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("P2", 1, "A", "required")], "no default path"),
        ([("*", 1, "A", "must")], "unknown step_type must"),
        ([("*", 1, "A", "required"), ("*", 2, "A", "optional")], "duplicate step"),
        ([("*", None, "A", "required")], "no position for A"),
    ],
)
def test_invalid_ideal_paths_are_refused(
    con: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]], message: str
) -> None:
    v = mine_variants(prepare_log(con, event_relation(con, trace_events({"c": ("*", "AB")}))))
    with pytest.raises(ValueError, match=message):
        check_conformance(v, ideal_relation(con, rows))


# --- demo summary --------------------------------------------------------------------------


def test_summary_lines_read_the_process_marts(con: duckdb.DuckDBPyConnection) -> None:
    assert summary_lines(con) == []
    con.execute("create schema marts")
    con.execute(
        "create table marts.process_variants as select * from (values "
        "(1, 0.5, 10, ['Lead Created', 'Lead Disqualified']), "
        "(2, 0.3, 6, ['Lead Created', 'Deal Created', 'Stage Entered: Prospecting', "
        "'Stage Entered: Qualification', 'Stage Entered: Demo', 'Stage Entered: Proposal', "
        "'Quote Sent', 'Follow-up Activity', 'Deal Won', 'Invoice Paid']), "
        "(3, 0.2, 4, ['Deal Created'])) as t(variant_rank, share, cases_count, shortened)"
    )
    con.execute(
        "create table marts.process_map_edges as select * from (values "
        "('all', 'Invoice Sent', 'Payment Received', 1209600.0, 2592000.0, 529, 1), "
        "('all', 'Lead Created', 'Deal Created', 3600.0, 7200.0, 900, 2)) "
        "as t(segment_type, from_activity, to_activity, wait_median_s, wait_p90_s, "
        "transitions_count, bottleneck_rank)"
    )
    lines = summary_lines(con, top=2)
    assert lines == [
        "variants            3  top 2 cover 80.0% of 20 cases (repeats collapsed):",
        "   50.0%  Lead Created > Lead Disqualified",
        "   30.0%  Lead Created > Deal Created > Prospecting > Qualification > ... 3 more ... "
        "> Follow-up > Deal Won > Invoice Paid",
        "slowest edge Invoice Sent -> Payment Received: median wait 14.0 d, p90 30.0 d "
        "(529 transitions)",
    ]
    assert abbreviate(["Stage Entered: Demo"] * 3) == "Demo > Demo > Demo"


def test_case_rows_match_each_case_to_the_first_row_of_its_id() -> None:
    """`case_rows` (the DuckDB join that replaced pyarrow's index_in): per case of the log, in
    its case order, the index of the first equal id, null where there is none; as index_in."""
    import pyarrow.compute as pc

    from l2c.mining.eventlog import case_rows

    con = duckdb.connect()
    log = prepare_log(
        con,
        con.sql(
            "select * from (values ('c2', 'A', timestamp '2026-01-01', 1), "
            "('c1', 'A', timestamp '2026-01-02', 1), ('c3', 'B', timestamp '2026-01-03', 1)) "
            "as t(case_id, activity, event_at, event_order)"
        ),
    )
    assert log.ordered.case_ids.to_pylist() == ["c1", "c2", "c3"]
    ids = pa.chunked_array([["c3", "c1"], ["x", "c1", "c3"]])
    assert case_rows(log, ids).to_pylist() == [1, None, 0]
    assert (
        case_rows(log, ids).to_pylist()
        == pc.index_in(log.ordered.case_ids, value_set=ids.combine_chunks()).to_pylist()
    )
    assert case_rows(log, pa.array([], pa.string())).to_pylist() == [None, None, None]
