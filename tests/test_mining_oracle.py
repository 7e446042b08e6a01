"""pm4py (AGPL, dev-only) as the oracle of l2c.mining: variants, DFG edge counts and waiting
times, start/end activities and rework counts must equal pm4py's exactly.

How equality is made fair: both sides order events by case and time themselves, from rows in
no case/time order. They differ only in how they break ties between events of one case at the
same instant: l2c.mining uses the explicit order column (then the activity name), pm4py uses
the row position (`format_dataframe` sorts by case, timestamp and the original index). So
pm4py gets the rows stably sorted by (order column, activity) - still shuffled across cases
and times - which makes its tie-breaking the same rule. Timestamps reach pm4py as UTC instants
parsed by pandas from the same ISO texts (with their own offsets) that DuckDB parses into
timestamptz, so the time-zone normalisation is checked too, not shared. All timestamps are
whole seconds, so every duration, sum, mean and median is an exact binary float on both sides
and is compared with ==.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pm4py
import pytest
from conftest import DemoWarehouse
from pm4py.algo.conformance.tokenreplay import algorithm as token_replay
from pm4py.algo.conformance.tokenreplay.variants.token_replay import (
    Parameters as TokenReplayParameters,
)
from pm4py.algo.discovery.dfg.adapters.pandas.df_statistics import get_dfg_graph
from pm4py.objects.log.obj import Event, EventLog, Trace
from pm4py.objects.petri_net.obj import Marking, PetriNet
from pm4py.objects.petri_net.utils import petri_utils
from test_mining import EDGE_LOG, EXPECTED_VARIANTS, event_relation, mine

from bench.mining import generate
from l2c.dbt_runner import ROOT


def pm4py_frame(df: pd.DataFrame) -> pd.DataFrame:
    """case_id, activity, event_at (tz-aware UTC), event_order -> pm4py's formatted frame."""
    df = df.sample(frac=1.0, random_state=3)  # no case/time order at all
    df = df.sort_values(["event_order", "activity"], kind="stable").reset_index(drop=True)
    return pm4py.format_dataframe(
        df, case_id="case_id", activity_key="activity", timestamp_key="event_at"
    )


def oracle(df: pd.DataFrame) -> dict[str, Any]:
    """The same results as test_mining.mine, computed by pm4py."""
    variants = pm4py.get_variants(df)
    dfg, start, end = pm4py.discover_dfg(df)
    perf, _, _ = pm4py.discover_performance_dfg(df, perf_aggregation_key="all")
    cases_per_edge = get_dfg_graph(df, measure="frequency", keep_once_per_case=True)
    events = pm4py.get_event_attribute_values(df, "concept:name")
    cases = pm4py.get_event_attribute_values(df, "concept:name", count_once_per_case=True)
    return {
        "variants": {tuple(k): int(n) for k, n in variants.items()},
        "edges": {
            edge: (
                int(n),
                int(cases_per_edge[edge]),
                float(perf[edge]["mean"]),
                float(perf[edge]["median"]),
                float(perf[edge]["min"]),
                float(perf[edge]["max"]),
                float(perf[edge]["sum"]),
            )
            for edge, n in dfg.items()
        },
        "start": {a: int(n) for a, n in start.items()},
        "end": {a: int(n) for a, n in end.items()},
        "rework_cases": {a: int(n) for a, n in pm4py.get_rework_cases_per_activity(df).items()},
        "repeat_occurrences": {
            a: int(events[a] - cases[a]) for a in events if events[a] > cases[a]
        },
    }


def edge_log_frame(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["case_id", "activity", "event_at", "event_order"])
    df["event_at"] = pd.to_datetime(df["event_at"], utc=True, format="ISO8601")
    return df


def assert_same(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    for key in theirs:
        assert ours[key] == theirs[key], key
    assert ours == theirs


# --- generated edge cases ------------------------------------------------------------------


def test_hand_built_edge_cases_equal_pm4py() -> None:
    con = duckdb.connect()
    theirs = oracle(pm4py_frame(edge_log_frame(EDGE_LOG)))
    assert theirs["variants"] == EXPECTED_VARIANTS  # the oracle agrees with the construction
    assert_same(mine(con, event_relation(con, EDGE_LOG)), theirs)


def test_flipped_tie_breaker_equals_pm4py() -> None:
    flipped = [(c, a, t, -tie if c == "ties" else tie) for c, a, t, tie in EDGE_LOG]
    con = duckdb.connect()
    theirs = oracle(pm4py_frame(edge_log_frame(flipped)))
    assert theirs != oracle(pm4py_frame(edge_log_frame(EDGE_LOG)))
    assert_same(mine(con, event_relation(con, flipped)), theirs)


@pytest.mark.parametrize("seed", [1, 2])
def test_generated_log_with_ties_loops_and_mixed_offsets_equals_pm4py(seed: int) -> None:
    """A synthetic L2C log (zero waits -> equal timestamps, quote loops, repeated payments,
    single-event cases added), each timestamp written with a random UTC offset."""
    df = generate(6_000, seed=seed).to_pandas()
    singles = pd.DataFrame(
        {
            "case_id": ["single:1", "single:2"],
            "activity": ["Lead Created", "Deal Lost"],
            "event_at": pd.to_datetime(["2024-06-01 00:00:00", "2024-06-02 00:00:00"]),
            "event_order": [1, 1],
        }
    )
    df = pd.concat([df, singles], ignore_index=True)
    offsets = pd.Series([-8, -5, 0, 1, 2, 5.5, 9, 12.75])
    picked = offsets.sample(len(df), replace=True, random_state=seed).to_numpy()
    local = df["event_at"] + pd.to_timedelta(picked, unit="h")
    suffix = [
        f"{'+' if h >= 0 else '-'}{int(abs(h)):02d}:{int(abs(h) % 1 * 60):02d}" for h in picked
    ]
    texts = local.dt.strftime("%Y-%m-%dT%H:%M:%S") + pd.Series(suffix)
    rows = list(zip(df["case_id"], df["activity"], texts, df["event_order"], strict=True))
    assert df.duplicated(["case_id", "event_at"]).any()  # ties are really there

    con = duckdb.connect()
    con.execute("set TimeZone = 'Europe/Berlin'")
    ours = mine(con, event_relation(con, rows))
    theirs = oracle(pm4py_frame(edge_log_frame(rows)))
    assert len(theirs["variants"]) > 50 and theirs["rework_cases"]
    assert any(a == b for a, b in theirs["edges"])  # self-loops
    assert_same(ours, theirs)


# --- the demo log --------------------------------------------------------------------------


def demo_frame(db: Path) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        df = con.sql("select case_id, activity, event_at, event_order from marts.event_log").df()
    finally:
        con.close()
    df["event_at"] = df["event_at"].dt.tz_localize("UTC")  # the log's naive UTC timestamps
    return df


def built_marts(db: Path) -> dict[str, Any]:
    """The same results as read from the process marts dbt built."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        edges = con.sql(
            "select from_activity, to_activity, transitions_count, cases_count, wait_mean_s, "
            "wait_median_s, wait_min_s, wait_max_s, wait_total_s "
            "from marts.process_map_edges where segment_type = 'all'"
        ).fetchall()
        ends = con.sql(
            "select endpoint, activity, cases_count from marts.process_map_endpoints "
            "where segment_type = 'all'"
        ).fetchall()
        rework = con.sql(
            "select activity, cases_with_rework, repeat_occurrences from marts.activity_rework"
        ).fetchall()
        return {
            "variants": {
                tuple(a): n
                for a, n in con.sql(
                    "select activities, cases_count from marts.process_variants"
                ).fetchall()
            },
            "edges": {(r[0], r[1]): tuple(r[2:]) for r in edges},
            "start": {a: n for e, a, n in ends if e == "start"},
            "end": {a: n for e, a, n in ends if e == "end"},
            "rework_cases": {a: n for a, n, _ in rework if n > 0},
            "repeat_occurrences": {a: r for a, _, r in rework if r > 0},
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def demo_oracle(demo_warehouse: DemoWarehouse) -> dict[str, Any]:
    return oracle(pm4py_frame(demo_frame(demo_warehouse.db)))


def test_demo_log_module_equals_pm4py(
    demo_warehouse: DemoWarehouse, demo_oracle: dict[str, Any]
) -> None:
    con = duckdb.connect()
    df = demo_frame(demo_warehouse.db).sample(frac=1.0, random_state=11)
    ours = mine(con, con.from_df(df))  # tz-aware pandas column -> timestamptz
    assert len(demo_oracle["variants"]) > 50 and len(demo_oracle["edges"]) > 30
    assert demo_oracle["rework_cases"] and demo_oracle["repeat_occurrences"]
    assert_same(ours, demo_oracle)


def test_demo_process_marts_equal_pm4py(
    demo_warehouse: DemoWarehouse, demo_oracle: dict[str, Any]
) -> None:
    assert_same(built_marts(demo_warehouse.db), demo_oracle)


# --- conformance: token-based replay on the ideal path's Petri net ---------------------------


def ideal_net(steps: list[tuple[int | None, str, str]]) -> tuple[PetriNet, Marking, Marking]:
    """The Petri net of one ideal path (position, activity, step_type): the positions in
    sequence; the steps sharing a position as parallel branches between a silent split and a
    silent join; an optional step has a silent skip beside it; an exit step, having no
    position, is a transition on a side place of its own with one token (it may fire once,
    at any point, and leaves the main flow as it is)."""
    net = PetriNet("ideal_path")
    ids = itertools.count()

    def place() -> PetriNet.Place:
        p = PetriNet.Place(f"p{next(ids)}")
        net.places.add(p)
        return p

    def transition(label: str | None, source: PetriNet.Place, target: PetriNet.Place) -> None:
        t = PetriNet.Transition(f"t{next(ids)}", label)
        net.transitions.add(t)
        petri_utils.add_arc_from_to(source, t, net)
        petri_utils.add_arc_from_to(t, target, net)

    def step(activity: str, kind: str, source: PetriNet.Place, target: PetriNet.Place) -> None:
        transition(activity, source, target)
        if kind == "optional":
            transition(None, source, target)

    start = place()
    initial = Marking({start: 1})
    current = start
    for position in sorted({pos for pos, _, kind in steps if kind != "exit"}):
        group = [(a, kind) for pos, a, kind in steps if pos == position and kind != "exit"]
        after = place()
        if len(group) == 1:
            step(*group[0], current, after)
        else:
            split = PetriNet.Transition(f"t{next(ids)}", None)
            join = PetriNet.Transition(f"t{next(ids)}", None)
            net.transitions.update((split, join))
            petri_utils.add_arc_from_to(current, split, net)
            petri_utils.add_arc_from_to(join, after, net)
            for activity, kind in group:
                into, out = place(), place()
                petri_utils.add_arc_from_to(split, into, net)
                petri_utils.add_arc_from_to(out, join, net)
                step(activity, kind, into, out)
        current = after
    for _, activity, kind in steps:
        if kind == "exit":
            side = place()
            initial[side] = 1
            transition(activity, side, place())
    return net, initial, Marking({current: 1})


def pm4py_fits(
    steps: list[tuple[int | None, str, str]], traces: list[tuple[str, ...]]
) -> dict[tuple[str, ...], bool]:
    """Token-based replay of each trace on its own: pm4py shares its record of activities
    missing from the model (and its caches) between the traces of one log, so one trace with
    an unknown activity would make the traces replayed after it unfit."""
    net, initial, final = ideal_net(steps)
    parameters = {
        TokenReplayParameters.CONSIDER_REMAINING_IN_FITNESS: False,
        TokenReplayParameters.CONSIDER_ACTIVITIES_NOT_IN_MODEL_IN_FITNESS: True,
        TokenReplayParameters.TRY_TO_REACH_FINAL_MARKING_THROUGH_HIDDEN: False,
        TokenReplayParameters.SHOW_PROGRESS_BAR: False,
    }
    fits = {}
    for trace in traces:
        log = EventLog([Trace([Event({"concept:name": a}) for a in trace])])
        (replayed,) = token_replay.apply(log, net, initial, final, parameters=parameters)
        fits[trace] = bool(replayed["trace_is_fit"])
    return fits


def assert_conformance_agrees_with_pm4py(db: Path) -> dict[str, int]:
    """The project's fit / not-fit verdict of every case (marts.case_conformance.fits) equals
    pm4py's token-based replay of the case's trace on the Petri net of its ideal path.

    What the two share, and how the net says it (no assertion is weakened):
    - Prefix semantics. The project fits a case that stopped early (lost, open) when what it
      did followed the path: steps beyond its furthest position are "not reached yet". In
      token replay that is a trace with no *missing* token; the tokens *remaining* at the end
      are the steps not reached yet, so they are not counted (consider_remaining_in_fitness
      off) and no silent move towards the final marking is attempted.
    - Deviations. extra = an activity not in the net (counted as unfit); skipped = a later
      step fired without the token of a required one; out of order = a step fired after the
      branch it belongs to was passed (its token is gone); repeated = a second firing, which
      finds no token either.
    - Exit steps have no position in the project: on the net each is a transition on a side
      place of its own, so it may fire once anywhere; a second firing is missing a token, as
      the project counts it as repeated.
    - Observability: a required step the case's system cannot observe
      (intermediate.int_observable_activities_resolved) is optional for that case in the
      project; the net of the (path, system) pair gives it a silent skip. The declaration is
      an input both sides read, not logic the oracle shares.
    The comparison runs once per distinct (path, system, trace), as the project does."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        seed = con.sql("select pipeline, position, activity, step_type from seeds.ideal_path")
        ideal = seed.fetchall()
        observable: dict[str, set[str]] = {}
        for system, activity in con.sql(
            "select source_system, activity from intermediate.int_observable_activities_resolved"
        ).fetchall():
            observable.setdefault(system, set()).add(activity)
        rows = con.sql(
            """
            select cc.case_id, cc.path, c.source_system, cc.fits,
                list(e.activity order by e.event_order) as trace
            from marts.case_conformance as cc
            inner join marts.cases as c using (case_id)
            inner join marts.event_log as e using (case_id)
            group by all
            """
        ).fetchall()
    finally:
        con.close()
    scopes: dict[tuple[str, str], dict[tuple[str, ...], bool]] = {}
    for _, path, system, fits, trace in rows:
        scopes.setdefault((path, system), {})[tuple(trace)] = fits
    compared = {"cases": len(rows), "fitting": 0, "deviating": 0}
    for (path, system), ours in scopes.items():
        seen = observable.get(system)
        steps = [
            (
                pos,
                a,
                "optional" if kind == "required" and seen is not None and a not in seen else kind,
            )
            for p, pos, a, kind in ideal
            if p == path
        ]
        theirs = pm4py_fits(steps, list(ours))
        mismatches = {t: (f, theirs[t]) for t, f in ours.items() if theirs[t] != f}
        assert mismatches == {}, (path, system)
    for *_, fits, _ in rows:
        compared["fitting" if fits else "deviating"] += 1
    return compared


def test_token_replay_on_the_ideal_path_agrees_with_case_conformance(
    demo_warehouse: DemoWarehouse,
) -> None:
    compared = assert_conformance_agrees_with_pm4py(demo_warehouse.db)
    assert compared["fitting"] > 100 and compared["deviating"] > 100


def test_the_oracle_net_refuses_what_the_project_refuses() -> None:
    """The net itself, on hand-built traces of a small path: the oracle can say no."""
    steps = [
        (1, "A", "required"),
        (2, "B", "required"),
        (3, "C", "optional"),
        (3, "D", "required"),
        (4, "E", "required"),
        (None, "X", "exit"),
    ]
    traces = ["ABCDE", "ABDCE", "ABX", "AB", "ADE", "AZB", "ABBDE", "ADBE", "ABXXD", "XABDE"]
    fits = pm4py_fits(steps, [tuple(t) for t in traces])
    assert {"".join(t) for t, f in fits.items() if f} == {"ABCDE", "ABDCE", "ABX", "AB", "XABDE"}


# --- pm4py stays a dev-only oracle ---------------------------------------------------------

_DYNAMIC_IMPORT = re.compile(r"""(import_module|__import__)\(\s*["']pm4py""")


def imports_pm4py(source: str) -> bool:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "pm4py" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pm4py":
            return True
    return bool(_DYNAMIC_IMPORT.search(source))


def test_the_import_check_detects_imports() -> None:
    assert imports_pm4py("import pm4py")
    assert imports_pm4py("def f():\n    from pm4py.objects import log\n")
    assert imports_pm4py("import importlib\nimportlib.import_module('pm4py')")
    assert not imports_pm4py('"""compared with pm4py in tests"""\nimport pandas')


def test_runtime_code_never_imports_pm4py() -> None:
    files = [
        path for folder in ("l2c", "pipelines", "models") for path in (ROOT / folder).rglob("*.py")
    ]
    assert len(files) > 20 and any(p.parts[-2] == "process" for p in files)
    offenders = [str(p) for p in files if imports_pm4py(p.read_text())]
    assert offenders == []
    requirements = (ROOT / "requirements.txt").read_text().lower()
    assert "pm4py" not in requirements
    assert re.search(r"^pm4py==[\d.]+$", (ROOT / "requirements-dev.txt").read_text(), re.M)
