"""The vectorised core of the mining: order a log per case, key each case's sequence, and
aggregate waiting times per edge. Plain NumPy over Arrow columns, no per-event Python.

Why not SQL for this part: a case's sequence needs the events ordered per case, and in SQL
that is a window pass or an ordered aggregate that materialises every event at least once more;
here the order is one sort of packed integer keys and everything after it is a linear scan of
contiguous per-case slices.

Speed: NumPy sorts plain int64 values with SIMD, several times faster than it computes a
permutation (argsort). Wherever the keys fit one 62-bit integer (`_pack`), they are sorted as
values and the columns read back from the sorted keys (`order_events`, `ordered_from_keys`,
`transitions`, `sort_pairs`); where they do not, `sort_order` computes a permutation. Large
temporaries cost page faults (each fresh array of the log's size is new memory), so the hot
paths unpack in place. The process map sorts its transitions once (`transitions`) and picks each
segment's rows out of that order, which keeps every edge's waits sorted within the segment.

Exactness
- Order per case: (timestamp as UTC epoch microseconds, tie-breaker with nulls last, activity
  name). Rows equal in all three are interchangeable for every result.
- Sequences are keyed exactly: the activity codes (code + 1, never 0) are packed into 64-bit
  words, `64 // bits` codes per word, and cases are compared on all their words; cases are
  bucketed by word count so a few very long cases never pad every other case.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

Ints = npt.NDArray[np.int64]

Floats = npt.NDArray[np.float64]


@contextmanager
def small_pages() -> Iterator[None]:
    """NumPy without transparent huge pages for its large arrays, and Arrow on the system
    allocator, both restored afterwards.

    NumPy asks the kernel for huge pages for every array of 4 MB or more (madvise). Where the
    kernel then defragments memory on the page fault (transparent_hugepage/defrag = madvise,
    a common default) and the machine's memory is full of page cache, each fresh array of the
    log's size cost several times its computation in system time (measured at 10.95M events:
    the process map's edges 14.5 CPU s with, 5.2 without). pyarrow's default allocator
    (mimalloc) pays the same on its fresh memory: concatenating 1.43M case ids took 0.37 CPU
    s on it against 0.02 s on the system allocator, and the nine mining models 15.3 CPU s
    against 13.5 at 11.4M events (ARROW_DEFAULT_MEMORY_POOL=system does the same for a whole
    process). Both settings are process-wide, so they are changed only while mining runs;
    an Arrow buffer is freed to the pool that allocated it, so switching is safe."""
    toggle = getattr(getattr(np, "_core", None), "multiarray", None)
    setter = getattr(toggle, "_set_madvise_hugepage", None)
    previous = None if setter is None else setter(False)
    pool = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(pool)
        if setter is not None:
            setter(previous)


@dataclass(frozen=True)
class OrderedLog:
    """Events in case order: the events of case i are rows starts[i]:ends[i].

    case_ids: one string per case; activities: names, code = index (name order);
    act / ts: per event, activity code and UTC epoch microseconds.
    """

    case_ids: pa.Array
    activities: list[str]
    act: Ints
    ts: Ints
    starts: Ints
    ends: Ints
    ts_step: int = 1  # every timestamp is a multiple of it (e.g. whole seconds)

    @property
    def lengths(self) -> Ints:
        return self.ends - self.starts

    @property
    def case_of_event(self) -> Ints:
        return np.repeat(np.arange(len(self.starts), dtype=np.int64), self.lengths)

    @property
    def follows(self) -> npt.NDArray[np.bool_]:
        """Per event i < n - 1: whether event i + 1 is the next event of the same case."""
        same = np.ones(max(len(self.act) - 1, 0), dtype=bool)
        same[self.ends[:-1] - 1] = False
        return same


def _codes(values: pa.ChunkedArray | pa.Array) -> tuple[Ints, pa.Array]:
    """Dictionary codes (first-appearance order) and the distinct values."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(values)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary


@dataclass(frozen=True)
class Packing:
    """Keys packed into one non-negative int64 (most significant first), each as its offset
    from its minimum in `width` bits; `field` reads one key back from packed values."""

    packed: Ints
    minimums: tuple[int, ...]
    widths: tuple[int, ...]

    def field(self, packed: Ints, i: int) -> Ints:
        below = sum(self.widths[i + 1 :])
        return ((packed >> below) & ((1 << self.widths[i]) - 1)) + self.minimums[i]


def _pack(keys: tuple[Ints, ...]) -> Packing | None:
    """The keys packed with their order kept, or None when their ranges need more than 62
    bits (or there are no rows)."""
    if len(keys[0]) == 0:
        return None
    minimums = tuple(int(k.min()) for k in keys)
    shifted = [k - m for k, m in zip(keys, minimums, strict=True)]
    widths = tuple(int(k.max()).bit_length() for k in shifted)
    if sum(widths) > 62:
        return None
    packed = np.zeros(len(keys[0]), dtype=np.int64)
    for key, width in zip(shifted, widths, strict=True):
        packed = (packed << width) | key
    return Packing(packed, minimums, widths)


def sort_order(group: Ints, keys: tuple[Ints, ...]) -> Ints:
    """The permutation that sorts rows by `group`, then by `keys` (most significant first).

    One argsort of the keys packed into an int64 (a lexsort when they do not fit), then a
    stable argsort by group; rows equal in group and keys keep no particular order."""
    if len(group) == 0:
        return np.zeros(0, dtype=np.int64)
    packing = _pack(keys)
    within = np.argsort(packing.packed) if packing is not None else np.lexsort(keys[::-1])
    return within[np.argsort(_narrow(group[within]), kind="stable")]


def _narrow(keys: Ints) -> npt.NDArray[np.integer]:
    """Non-negative keys as uint16 when they fit: NumPy's stable sort of 16-bit integers is a
    radix sort, several times faster than its merge sort of int64."""
    if len(keys) and int(keys.min()) >= 0 and int(keys.max()) < 2**16:
        return keys.astype(np.uint16)
    return keys


def tie_rank(tie: pa.ChunkedArray) -> Ints:
    """An integer with the order of the tie-breaker, nulls last."""
    if pa.types.is_integer(tie.type) and tie.null_count == 0:
        return tie.to_numpy().astype(np.int64)
    ranks = pc.rank(tie, sort_keys="ascending", tiebreaker="dense")
    ranks_np = ranks.to_numpy(zero_copy_only=False).astype(np.int64)
    nulls = tie.is_null().to_numpy(zero_copy_only=False)
    return np.where(nulls, len(ranks_np) + 1, ranks_np)


def order_events(table: pa.Table) -> OrderedLog:
    """`table`: case_id, activity (strings), ts (int64 UTC epoch us), tie (any orderable type);
    no nulls in the first three."""
    case_codes, case_ids = _codes(table["case_id"])
    act_codes, names = _codes(table["activity"])
    return order_coded(
        case_codes,
        case_ids,
        act_codes,
        names.to_pylist(),
        table["ts"].to_numpy().astype(np.int64),
        tie_rank(table["tie"]),
    )


def order_coded(
    case_codes: Ints,
    case_ids: pa.Array,
    act_codes: Ints,
    names: list[str],
    ts: Ints,
    tie: Ints,
) -> OrderedLog:
    """The events ordered per case, from integer codes: `case_codes` index `case_ids`,
    `act_codes` index `names` (in any order), `tie` is an integer with the tie-breaker's order."""
    by_name = np.argsort(np.array(names, dtype=object), kind="stable")
    rank = np.empty(len(names), dtype=np.int64)
    rank[by_name] = np.arange(len(names), dtype=np.int64)
    act = rank[act_codes]
    # The timestamps as multiples of their greatest common step (whole seconds, say): the
    # same order in far fewer bits, so that case, time, tie-breaker and activity usually fit
    # one 62-bit key, sorted as plain values (SIMD) and read back without a permutation.
    ts_min = int(ts.min()) if len(ts) else 0
    step = max(int(np.gcd.reduce(ts - ts_min)), 1) if len(ts) else 1
    packing = _pack((case_codes, (ts - ts_min) // step, tie, act))
    if packing is not None:
        in_order = np.sort(packing.packed)
        cases = packing.field(in_order, 0)
        ts_ordered = packing.field(in_order, 1) * step + ts_min
        act_ordered = packing.field(in_order, 3)
    else:
        order = sort_order(case_codes, (ts, tie, act))
        cases, ts_ordered, act_ordered = case_codes[order], ts[order], act[order]
    starts, ends = group_bounds(cases)
    return OrderedLog(
        case_ids=case_ids.take(pa.array(cases[starts])),
        activities=[names[int(i)] for i in by_name],
        act=act_ordered,
        ts=ts_ordered,
        starts=starts,
        ends=ends,
        ts_step=step,
    )


@dataclass(frozen=True)
class KeyLayout:
    """One int64 key per event, most significant first: case code, (timestamp - ts_min) //
    step, tie-breaker - tie_min (nulls as tie_null), activity code; each field `widths` bits.
    `expression`: the same key in SQL, over columns case_code, ts, tie, act."""

    widths: tuple[int, int, int, int]
    step: int
    ts_min: int
    tie_min: int
    tie_null: int

    @staticmethod
    def of(
        spans: tuple[int, int, int, int], *, step: int, ts_min: int, tie_min: int, tie_null: int
    ) -> KeyLayout | None:
        widths = tuple(max(int(s), 0).bit_length() for s in spans)
        if sum(widths) > 62:
            return None
        return KeyLayout(widths, step, ts_min, tie_min, tie_null)  # type: ignore[arg-type]

    def shift(self, i: int) -> int:
        return sum(self.widths[i + 1 :])

    @property
    def expression(self) -> str:
        parts = (
            "case_code",
            f"((ts - ({self.ts_min})) // {self.step})",
            f"(coalesce(cast(tie as bigint), {self.tie_null}) - ({self.tie_min}))",
            "act",
        )
        return " | ".join(f"({part} << {self.shift(i)})" for i, part in enumerate(parts))


def ordered_from_keys(
    keys: Ints, layout: KeyLayout, case_ids: pa.Array, activities: list[str]
) -> OrderedLog:
    """The log from its packed keys (`KeyLayout`; activity codes in `activities` order, which
    is name order), sorted here as plain values, and unpacked in place where possible."""
    in_order = np.sort(keys)
    del keys
    cases = in_order >> layout.shift(0)
    starts, ends = group_bounds(cases)
    del cases
    ts = in_order >> layout.shift(1)
    ts &= (1 << layout.widths[1]) - 1
    ts *= layout.step
    ts += layout.ts_min
    in_order &= (1 << layout.widths[3]) - 1  # the activity codes, in place
    return OrderedLog(
        case_ids=case_ids,  # codes 0..n-1 all occur: the sorted cases are in code order
        activities=activities,
        act=in_order,
        ts=ts,
        starts=starts,
        ends=ends,
        ts_step=layout.step,
    )


def events_table(log: OrderedLog) -> pa.Table:
    """case_id, seq (1..n per case), act, ts, next_act, next_ts (null for a case's last event)."""
    case = log.case_of_event
    n = len(log.act)
    follows = np.zeros(n, dtype=bool)
    next_act = np.zeros(n, dtype=np.int64)
    next_ts = np.zeros(n, dtype=np.int64)
    if n:
        follows[:-1] = log.follows
        next_act[:-1], next_ts[:-1] = log.act[1:], log.ts[1:]
    return pa.table(
        {
            "case_id": log.case_ids.take(pa.array(case)),
            "seq": np.arange(n, dtype=np.int64) - np.repeat(log.starts, log.lengths) + 1,
            "act": log.act.astype(np.int32),
            "ts": log.ts,
            "next_act": pa.array(next_act.astype(np.int32), mask=~follows),
            "next_ts": pa.array(next_ts, mask=~follows),
        }
    )


@dataclass(frozen=True)
class TraceGroups:
    """variant: per case, the index of its sequence (0..k-1, in no meaningful order);
    first_case: per sequence, one case that has it; cases: per sequence, its case count."""

    variant: Ints
    first_case: Ints
    cases: Ints


def group_traces(log: OrderedLog) -> TraceGroups:
    """Cases with equal activity sequences share an index (exact; see the module docstring)."""
    n_cases = len(log.starts)
    if n_cases == 0:
        empty = np.zeros(0, dtype=np.int64)
        return TraceGroups(empty, empty, empty)
    bits = max(1, len(log.activities).bit_length())
    per_word = 64 // bits
    lengths = log.lengths
    words_per_case = -(-lengths // per_word)
    word_start = np.concatenate(([0], np.cumsum(words_per_case)[:-1]))
    pos = np.arange(len(log.act), dtype=np.int64) - np.repeat(log.starts, lengths)
    word_of_event = np.repeat(word_start, lengths) + pos // per_word
    digits = (log.act.astype(np.uint64) + np.uint64(1)) << (
        np.uint64(bits) * (pos % per_word).astype(np.uint64)
    )
    words = np.zeros(int(words_per_case.sum()), dtype=np.uint64)
    first = np.concatenate(([0], np.flatnonzero(word_of_event[1:] != word_of_event[:-1]) + 1))
    words[word_of_event[first]] = np.bitwise_or.reduceat(digits, first)

    variant = np.empty(n_cases, dtype=np.int64)
    first_case: list[Ints] = []
    counts: list[Ints] = []
    offset = 0
    for width in np.unique(words_per_case):  # one bucket per word count, not per case
        members = np.flatnonzero(words_per_case == width)
        keys = words[word_start[members][:, None] + np.arange(width)]
        rows = np.ascontiguousarray(keys).view(np.dtype((np.void, 8 * int(width)))).ravel()
        _, index, inverse, count = np.unique(
            rows, return_index=True, return_inverse=True, return_counts=True
        )
        variant[members] = offset + inverse.ravel()
        first_case.append(members[index])
        counts.append(count.astype(np.int64))
        offset += len(index)
    return TraceGroups(variant, np.concatenate(first_case), np.concatenate(counts))


def ranges(starts: Ints, lengths: Ints) -> Ints:
    """The indices of the ranges starts[i] : starts[i] + lengths[i], one after another."""
    ends = np.cumsum(lengths)
    return np.repeat(starts - (ends - lengths), lengths) + np.arange(
        int(ends[-1]) if len(ends) else 0, dtype=np.int64
    )


def traces_of(log: OrderedLog, cases: Ints) -> pa.ListArray:
    """The activity-code sequence of each given case, as a list<int32> array."""
    lengths = log.lengths[cases]
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
    values = log.act[ranges(log.starts[cases], lengths)].astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))


def named(traces: pa.ListArray, activities: list[str]) -> pa.ListArray:
    """The same lists with activity names for codes."""
    names = pa.array(activities, pa.string())
    return pa.ListArray.from_arrays(traces.offsets, names.take(traces.values))


def collapse_repeats(traces: pa.ListArray) -> pa.ListArray:
    """Each (non-empty) list with immediate repeats collapsed: [A, A, B, A] -> [A, B, A]."""
    offsets = traces.offsets.to_numpy().astype(np.int64)
    codes = traces.values.to_numpy(zero_copy_only=False)
    keep = np.ones(len(codes), dtype=bool)
    keep[1:] = codes[1:] != codes[:-1]
    keep[offsets[:-1][offsets[:-1] < len(codes)]] = True
    kept_before = np.concatenate(([0], np.cumsum(keep)))
    new_offsets = kept_before[offsets].astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(new_offsets), pa.array(codes[keep]))


@dataclass(frozen=True)
class EdgeWaits:
    """Per distinct (group, act, next_act) with at least one transition: how many
    transitions (count) in how many distinct cases (cases), and waiting-time stats in seconds.
    quantiles: continuous (linear interpolation at (n - 1) * q), as DuckDB's quantile_cont."""

    group: Ints
    act: Ints
    next_act: Ints
    count: Ints
    cases: Ints
    mean: Floats
    median: Floats
    p90: Floats
    low: Floats
    high: Floats
    total: Floats


def variant_edges(log: OrderedLog, groups: TraceGroups) -> tuple[Ints, Ints]:
    """The distinct (sequence, edge) pairs, an edge a -> b as a * activities + b, sorted by
    sequence: read off one case per sequence (`groups.first_case`), since cases with the
    same sequence have the same edges. Which cases have an edge is then counted per
    sequence (`_cases_per_edge`), not by deduplicating every case's transitions."""
    a_count = max(len(log.activities), 1)
    traces = traces_of(log, groups.first_case)
    offsets = traces.offsets.to_numpy().astype(np.int64)
    codes = traces.values.to_numpy(zero_copy_only=False).astype(np.int64)
    if len(codes) < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    inner = np.ones(len(codes) - 1, dtype=bool)  # code i -> i + 1 within one sequence
    inner[offsets[1:-1] - 1] = False
    sequence = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))
    edge = codes[:-1][inner] * a_count + codes[1:][inner]
    width = a_count * a_count
    packed = np.unique(sequence[:-1][inner] * width + edge)
    return packed // width, packed % width


def _cases_per_edge(t: Transitions, case_group: Ints | None, n_groups: int, width: int) -> Ints:
    """Per (group, edge) as group * width + edge: the cases of the group with the edge,
    counted per sequence (`variant_edges`) from the cases per (group, sequence)."""
    sequence_edge, edge = t.variant_edges
    n_sequences = len(t.sequence_cases)
    if case_group is None:
        weights = t.sequence_cases[sequence_edge].astype(np.float64)
        counted = np.bincount(edge, weights=weights, minlength=width)
    else:
        kept = case_group >= 0
        per_pair = np.bincount(
            case_group[kept] * n_sequences + t.case_sequence[kept],
            minlength=n_groups * n_sequences,
        )
        pair = np.flatnonzero(per_pair)  # (group, sequence) pairs with cases
        group, sequence = pair // n_sequences, pair % n_sequences
        first = np.searchsorted(sequence_edge, np.arange(n_sequences + 1))
        edges_of = (first[1:] - first[:-1])[sequence]
        counted = np.bincount(
            np.repeat(group, edges_of) * width + edge[ranges(first[:-1][sequence], edges_of)],
            weights=np.repeat(per_pair[pair], edges_of).astype(np.float64),
            minlength=max(n_groups, 1) * width,
        )
    return np.rint(counted).astype(np.int64)  # sums of whole counts below 2**53: exact


@dataclass(frozen=True)
class Transitions:
    """The log's directly-follows transitions, sorted once by (edge, wait, case) and shared by
    every grouping of the cases: within each group the waits of an edge keep their sorted
    order, so a group's waits are a selection of these rows, not another sort.
    edge: a -> b as a * activities + b; wait_us: the wait in microseconds; case: the case of
    each transition; case_sequence / sequence_cases: each case's sequence and each sequence's
    case count (`TraceGroups`); variant_edges: the distinct (sequence, edge) pairs."""

    edge: Ints
    wait_us: Ints
    case: Ints
    case_sequence: Ints
    sequence_cases: Ints
    variant_edges: tuple[Ints, Ints]


def transitions(log: OrderedLog, groups: TraceGroups | None = None) -> Transitions:
    """The transitions of the log, sorted (see `Transitions`); `groups`: `group_traces(log)`,
    when the caller has it already."""
    groups = group_traces(log) if groups is None else groups
    follows = log.follows
    a_count = max(len(log.activities), 1)
    edge = log.act[:-1][follows] * a_count
    edge += log.act[1:][follows]
    wait = log.ts[1:][follows]
    wait -= log.ts[:-1][follows]
    case = log.case_of_event[:-1][follows]
    step = log.ts_step  # the waits in steps (seconds, say): far fewer bits to pack
    if step > 1:
        wait //= step
    packing = _pack((edge, wait, case))
    if packing is None:
        order = np.lexsort((case, wait, edge))
        edge, wait, case = edge[order], wait[order], case[order]
    else:
        del edge, wait, case
        packed = packing.packed
        packed.sort()
        edge, wait, case = (packing.field(packed, i) for i in range(3))
    if step > 1:
        wait *= step
    return Transitions(edge, wait, case, groups.variant, groups.cases, variant_edges(log, groups))


# Up to this many groups, a group's rows are picked by a mask each; above, by one stable sort.
_MASKED_GROUPS_MAX = 32


def edge_waits(
    log: OrderedLog,
    case_group: Ints | None = None,
    shared: Transitions | None = None,
) -> EdgeWaits:
    """Waiting times of every directly-follows transition, aggregated per edge and per group
    of cases (`case_group`: a group number per case, -1 = in no group; None = all in group 0).
    `shared`: `transitions(log)`, when the caller has them already."""
    t = transitions(log) if shared is None else shared
    a_count = max(len(log.activities), 1)
    width = a_count * a_count
    if case_group is None:
        parts = [(0, t.edge, t.wait_us)]
        cases_per_key = _cases_per_edge(t, None, 1, width)
    else:
        group = case_group[t.case]
        n_groups = int(case_group.max()) + 1 if len(case_group) else 0
        cases_per_key = _cases_per_edge(t, case_group, n_groups, width)
        if n_groups <= _MASKED_GROUPS_MAX:
            picks = [np.flatnonzero(group == g) for g in range(n_groups)]
        else:
            order = np.argsort(group, kind="stable")
            sorted_group = group[order]
            bounds = np.searchsorted(sorted_group, np.arange(n_groups + 1))
            picks = [order[bounds[g] : bounds[g + 1]] for g in range(n_groups)]
        parts = [(g, t.edge[rows], t.wait_us[rows]) for g, rows in enumerate(picks) if len(rows)]
    results = [_edge_stats(g, edge, wait_us, a_count) for g, edge, wait_us in parts]
    if not results:
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
        return EdgeWaits(empty_i, empty_i, empty_i, empty_i, empty_i, *([empty_f] * 6))
    group_of = np.concatenate([r[0] for r in results])
    edge = np.concatenate([r[1] for r in results])
    count, mean, median, p90, low, high, total = (
        np.concatenate([r[i] for r in results]) for i in range(2, 9)
    )
    return EdgeWaits(
        group=group_of,
        act=edge // a_count,
        next_act=edge % a_count,
        count=count,
        cases=cases_per_key[group_of * width + edge],
        mean=mean,
        median=median,
        p90=p90,
        low=low,
        high=high,
        total=total,
    )


def _edge_stats(
    group: int, edge: Ints, wait_us: Ints, a_count: int
) -> tuple[Ints, Ints, Ints, Floats, Floats, Floats, Floats, Floats, Floats]:
    """Per edge of one group (rows sorted by edge, then wait): group, edge, count, mean,
    median, p90, min, max, total (seconds)."""
    wait = wait_us / 1_000_000.0
    begin, end = group_bounds(edge)
    count = end - begin
    total = np.add.reduceat(wait, begin)
    return (
        np.full(len(begin), group, dtype=np.int64),
        edge[begin],
        count,
        total / count,
        quantile_at(wait, begin, count, 0.5),
        quantile_at(wait, begin, count, 0.9),
        wait[begin],
        wait[end - 1],
        total,
    )


@dataclass(frozen=True)
class Endpoints:
    """Per (group, act): cases starting (starts) and ending (ends) with the activity."""

    group: Ints
    act: Ints
    starts: Ints
    ends: Ints


def endpoints(log: OrderedLog, case_group: Ints | None = None) -> Endpoints:
    """First and last activity of each case, counted per group (-1 = in no group)."""
    a_count = max(len(log.activities), 1)
    group = np.zeros(len(log.starts), dtype=np.int64) if case_group is None else case_group
    keep = group >= 0
    first = log.act[log.starts][keep]
    last = log.act[log.ends - 1][keep]
    group = group[keep]
    size = (int(group.max()) + 1 if len(group) else 0) * a_count
    starts = np.bincount(group * a_count + first, minlength=size)
    ends = np.bincount(group * a_count + last, minlength=size)
    key = np.flatnonzero((starts > 0) | (ends > 0))
    return Endpoints(key // a_count, key % a_count, starts[key], ends[key])


def quantile_at(sorted_values: Floats, begin: Ints, count: Ints, q: float) -> Floats:
    """Per group (rows begin:begin + count of `sorted_values`, each sorted, count >= 1): the
    continuous quantile q, interpolated as DuckDB's quantile_cont does (lo * (1 - d) + hi * d
    at position (count - 1) * q), so the results are the same floats."""
    h = (count - 1) * q
    lo = np.floor(h).astype(np.int64)
    d = h - lo
    hi = np.minimum(lo + 1, count - 1)
    return sorted_values[begin + lo] * (1 - d) + sorted_values[begin + hi] * d


def sort_pairs(group: Ints, values: Ints) -> tuple[Ints, Ints]:
    """The (group, value) pairs sorted by group, then value: both columns, reordered.

    When both fit one 62-bit key (offsets from their minimums), the packed keys are sorted as
    plain values and unpacked: NumPy sorts values with SIMD, several times faster than it
    computes a permutation (argsort). Otherwise through `sort_order`."""
    if len(group) == 0:
        return group, values
    g0, v0 = int(group.min()), int(values.min())
    v_bits = max(1, (int(values.max()) - v0).bit_length())
    if (int(group.max()) - g0).bit_length() + v_bits <= 62:
        packed = np.sort(((group - g0) << v_bits) | (values - v0))
        return (packed >> v_bits) + g0, (packed & ((1 << v_bits) - 1)) + v0
    order = sort_order(group, (values,))
    return group[order], values[order]


def group_bounds(sorted_keys: Ints) -> tuple[Ints, Ints]:
    """Begin and end (exclusive) of each run of equal values in a sorted key array."""
    n = len(sorted_keys)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    begin = np.concatenate(([0], np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1))
    return begin, np.concatenate((begin[1:], [n]))


def grouped_quantiles(
    group: Ints, values: Ints, n_groups: int, qs: tuple[float, ...], scale: float = 1.0
) -> list[Floats]:
    """Continuous quantiles (linear interpolation at (n - 1) * q, as DuckDB's quantile_cont)
    of `values / scale` per group 0..n_groups-1; NaN for a group without values."""
    out = [np.full(n_groups, np.nan) for _ in qs]
    if len(group) == 0:
        return out
    keys, sorted_values = sort_pairs(group, values)
    sorted_values = sorted_values / scale
    begin, end = group_bounds(keys)
    count = end - begin
    for result, q in zip(out, qs, strict=True):
        result[keys[begin]] = quantile_at(sorted_values, begin, count, q)
    return out


# Above this many cells (variants x longest variant), variants are ordered by their sequences
# with Python's list comparison instead of one lexsort over a padded matrix.
_PADDED_CELLS_MAX = 20_000_000


def rank_by_count_then_sequence(counts: Ints, traces: pa.ListArray) -> Ints:
    """The order of sequences by count descending, then by the sequence itself (list order:
    code by code, a prefix before its extensions), as DuckDB orders `count desc, list`."""
    k = len(counts)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = traces.offsets.to_numpy().astype(np.int64)
    lengths = np.diff(offsets)
    longest = int(lengths.max())
    if k * max(longest, 1) > _PADDED_CELLS_MAX:
        lists = traces.to_pylist()
        return np.array(sorted(range(k), key=lambda i: (-counts[i], lists[i])), dtype=np.int64)
    codes = traces.values.to_numpy(zero_copy_only=False).astype(np.int64)
    padded = np.full((k, longest), -1, dtype=np.int64)  # -1: past the end, before any code
    rows = np.repeat(np.arange(k), lengths)
    padded[rows, np.arange(len(codes)) - np.repeat(offsets[:-1], lengths)] = codes
    keys = [padded[:, j] for j in range(longest - 1, -1, -1)]
    return np.lexsort([*keys, -counts]).astype(np.int64)
