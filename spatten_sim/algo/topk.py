"""The SpAtten top-k engine: a quick-select executed as the hardware runs it, with its cycle count.

Hardware modelled
-----------------
SpAtten (HPCA 2021, Sec. IV-C) has two top-k engines (token/head importance, and local-V per
query). Each one finds the k-th element of a stream with a *quick-select* and then filters the
original stream against it, so the kept elements leave in their original order:

1. **Fill.** The input stream (``n`` scores) is written into FIFO_L at ``P`` elements per cycle
   while a pivot is picked by a hash (the RTL ``RandomPivot`` samples the stream with a hash of a row
   counter). ``ceil(n / P)`` cycles.
2. **Rounds.** One round reads the current FIFO at ``P`` elements per cycle through two comparator
   arrays of ``P`` comparators (left: the elements ranked before the pivot, right: after it); zero
   eliminators (prefix sum + log-shifter) compact each array's survivors into FIFO_L / FIFO_R, and
   the elements equal to the pivot are counted. If the target rank falls among the elements equal to
   the pivot, the pivot is the threshold; otherwise the engine recurses into the side holding the
   target. A round costs ``ceil(m / P) + overhead`` cycles for ``m`` elements in the current FIFO;
   ``overhead`` (3) is the comparator register, the zero-eliminator pipeline and the state change.
3. **Filter.** The original stream (kept in a data FIFO beside the quick-select) is read once more
   at ``P`` per cycle: elements ranked before the threshold are kept, and so are the first
   ``k - count_before`` elements equal to it (a prefix sum over the equality flags), in index order.
   ``ceil(n / P) + overhead + 1`` cycles: the same compare/zero-eliminator pipeline as a round plus
   the prefix-sum stage of the equality flags (RTL ``TopK.areaPrefixSum``).

Here "ranked before" means *larger*: we keep the k largest values. The quick-select looks for the
element of 0-based descending rank ``k`` (the (k+1)-th largest), exactly as the official engine:
its request carries ``target = k`` and it keeps ``target - num_less`` elements equal to the result.
That choice and the brief's "isolate the k-th largest" keep the same set (all elements larger than
the k-th largest, then the earliest ties), because whenever the (k+1)-th largest is smaller than the
k-th largest, exactly k elements are larger than it.

Cycle model and the official one
--------------------------------
The official release (github.com/mit-han-lab/spatten, ``sim/TopKLatencyModel.scala``) does not
simulate the engine on data: it draws ``size`` random integers, picks a uniformly random element as
the pivot, splits into ``< pivot``, ``> pivot`` and a count of ``== pivot``, and adds
``ceil(size / parallelism) + 3`` cycles per round until ``target`` (= the number of values kept)
lands among the elements equal to the pivot (or the sequence is empty). ``TestSpAtten.scala`` calls
it with ``(key_fetch_num, val_fetch_num, topKParallelism=16)`` and a ``TopKDummy`` holds the first
output beat for that many cycles, so fill and filter overlap the streaming into and out of the
engine there. Our ``select_cycles`` is that same sum over rounds, computed on the real data with a
seeded-hash pivot; :func:`official_topk_latency` reimplements the official model (its random draws
come from a seeded NumPy ``Generator``, not from global state). ``cycles`` adds the fill and the
filter passes: the engine's full occupancy for one call, not overlapped with anything.

Edge cases: ``n == 0`` or ``k == 0`` keep nothing and cost 0 cycles (the controller has nothing to
send); ``k >= n`` keeps everything with no quick-select round: the stream still passes through the
engine (fill + filter pass). NaN inputs are refused (``ValueError``): they have no rank.

Determinism: the pivot of round ``r`` over ``m`` elements is element
``splitmix64(seed, r, m) mod m`` of the current FIFO: same inputs and seed, same result, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from spatten_sim.hw import numba_start

numba_start.install()  # Numba's first call without SciPy's BLAS import


__all__ = [
    "DEFAULT_COMPARATORS",
    "DEFAULT_ROUND_OVERHEAD_CYCLES",
    "FILTER_EXTRA_CYCLES",
    "EngineLatencyStats",
    "TopKRowsResult",
    "engine_latency_stats",
    "official_latency_stats",
    "official_topk_latencies",
    "official_topk_latency",
    "official_topk_latency_reference",
    "topk",
    "topk_detail",
    "topk_rows",
    "topk_rows_detail",
]

DEFAULT_COMPARATORS = 16
"""Comparators per array (docs/spatten.md §3: two arrays of 16; the official run scripts use 16)."""
DEFAULT_ROUND_OVERHEAD_CYCLES = 3
"""Per-round overhead of the official latency model (``TopKLatencyModel.scala``: ``+ 3``)."""
FILTER_EXTRA_CYCLES = 1
"""Extra pipeline stage of the filter pass: prefix sum of the equal-to-threshold flags (RTL)."""

# Columns of the per-row statistics array produced by the kernel.
_ST_ROUNDS = 0
_ST_FILL = 1
_ST_SELECT = 2
_ST_FILTER = 3
_ST_COMPARISONS = 4
_ST_COMPARATOR_CYCLES = 5
_ST_NAN = 6
_N_STATS = 7

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def _splitmix64(x: np.uint64) -> np.uint64:
    """SplitMix64 finaliser (Steele, Lea, Flood, OOPSLA 2014): a 64-bit bijective mixer."""
    x = x + _M1
    x = (x ^ (x >> np.uint64(30))) * _M2
    x = (x ^ (x >> np.uint64(27))) * _M3
    return x ^ (x >> np.uint64(31))


@njit(cache=True, inline="always")
def _pivot_index(seed: np.uint64, round_idx: int | np.int64, m: int | np.int64) -> np.int64:
    """Index of the pivot in a FIFO of ``m`` elements, from a hash of (seed, round, m)."""
    h = _splitmix64(seed ^ _splitmix64(np.uint64(round_idx) ^ (np.uint64(m) << np.uint64(32))))
    return np.int64(h % np.uint64(m))


@njit(cache=True, inline="always")
def _partition(src, m, pv, buf_l, buf_r):
    """One round's two comparator arrays and zero eliminators over ``src[:m]``.

    Elements larger than the pivot go to FIFO_L, smaller ones to FIFO_R, both in stream order;
    the equal ones are counted. Branch-free: every element is written to both FIFOs and only the
    matching write pointer advances. ``src`` may be ``buf_l`` or ``buf_r`` itself: a write pointer
    never passes the read pointer.
    """
    nl = 0
    nr = 0
    for i in range(m):
        x = src[i]
        buf_l[nl] = x
        buf_r[nr] = x
        nl += x > pv
        nr += x < pv
    return nl, nr, m - nl - nr


@njit(cache=True)
def _topk_row(row, n, k, p, overhead, seed, keep, buf_l, buf_r, stats):
    """Run the engine on ``row[:n]``; write ``keep[:n]`` and the 7 statistics into ``stats``.

    ``buf_l`` / ``buf_r`` (at least ``n`` long, same dtype as ``row``) model FIFO_L and FIFO_R.
    ``keep`` must be all False on entry.
    """
    for j in range(_N_STATS):
        stats[j] = 0
    if n == 0 or k <= 0:
        return
    beats = (n + p - 1) // p
    stats[_ST_FILL] = beats
    stats[_ST_FILTER] = beats + overhead + FILTER_EXTRA_CYCLES
    stats[_ST_COMPARISONS] = 2 * n  # filter pass: greater-than and equal-to the threshold
    stats[_ST_COMPARATOR_CYCLES] = 2 * p * beats
    if k >= n:
        for i in range(n):
            x = row[i]
            if x != x:  # NaN
                stats[_ST_NAN] = 1
            keep[i] = True
        return

    # Quick-select for the element of 0-based descending rank `target` (= k, as the RTL).
    # A NaN compares neither greater nor smaller: it counts as equal, so the loop still ends;
    # the filter pass below flags it and the caller refuses the input.
    target = k
    src = 0  # 0: the input stream (first round), 1: FIFO_L, 2: FIFO_R
    m = n
    rounds = 0
    select = 0
    n_before = 0  # elements known to be larger than the threshold (discarded left sides)
    thr = row[0]
    while m > 0:
        rounds += 1
        mb = (m + p - 1) // p
        select += mb + overhead
        stats[_ST_COMPARISONS] += 2 * m
        stats[_ST_COMPARATOR_CYCLES] += 2 * p * mb
        pi = _pivot_index(seed, rounds, m)
        if src == 0:
            pv = row[pi]
            nl, nr, ne = _partition(row, m, pv, buf_l, buf_r)
        elif src == 1:
            pv = buf_l[pi]
            nl, nr, ne = _partition(buf_l, m, pv, buf_l, buf_r)
        else:
            pv = buf_r[pi]
            nl, nr, ne = _partition(buf_r, m, pv, buf_l, buf_r)
        if nl <= target:
            if nl + ne > target:
                thr = pv
                n_before += nl
                break
            target -= nl + ne
            n_before += nl + ne
            src = 2
            m = nr
        else:
            src = 1
            m = nl
    stats[_ST_ROUNDS] = rounds
    stats[_ST_SELECT] = select

    # Filter pass over the original stream, order kept.
    keep_equal = k - n_before
    seen_equal = 0
    nan = False
    for i in range(n):
        x = row[i]
        eq = x == thr
        keep[i] = (x > thr) or (eq and seen_equal < keep_equal)
        seen_equal += eq
        nan |= x != x
    if nan:
        stats[_ST_NAN] = 1


@njit(cache=True)
def _topk_rows_kernel(values, lengths, ks, p, overhead, seed):
    rows, width = values.shape
    keep = np.zeros((rows, width), dtype=np.bool_)
    stats = np.zeros((rows, _N_STATS), dtype=np.int64)
    buf_l = np.empty(width, dtype=values.dtype)
    buf_r = np.empty(width, dtype=values.dtype)
    for r in range(rows):
        _topk_row(values[r], lengths[r], ks[r], p, overhead, seed, keep[r], buf_l, buf_r, stats[r])
    return keep, stats


_CHUNK_ROWS = 64


@njit(cache=True, parallel=True)
def _topk_rows_kernel_parallel(values, lengths, ks, p, overhead, seed):
    """Same as ``_topk_rows_kernel`` with chunks of rows on Numba threads (rows are independent,
    so the result is identical to the serial kernel's)."""
    rows, width = values.shape
    keep = np.zeros((rows, width), dtype=np.bool_)
    stats = np.zeros((rows, _N_STATS), dtype=np.int64)
    n_chunks = (rows + _CHUNK_ROWS - 1) // _CHUNK_ROWS
    for c in prange(n_chunks):
        buf_l = np.empty(width, dtype=values.dtype)
        buf_r = np.empty(width, dtype=values.dtype)
        for r in range(c * _CHUNK_ROWS, min(rows, (c + 1) * _CHUNK_ROWS)):
            _topk_row(
                values[r], lengths[r], ks[r], p, overhead, seed, keep[r], buf_l, buf_r, stats[r]
            )
    return keep, stats


# --------------------------------------------------------------------------------------------
# Python-side validation and public API
# --------------------------------------------------------------------------------------------


def _as_engine_array(values: np.ndarray) -> np.ndarray:
    """Convert to a dtype the kernel compares exactly (float16 -> float32, bool -> uint8)."""
    arr = np.asarray(values)
    if arr.dtype == np.float16:
        return np.ascontiguousarray(arr, dtype=np.float32)
    if arr.dtype == np.bool_:
        return np.ascontiguousarray(arr, dtype=np.uint8)
    if arr.dtype.kind in "iuf":
        return np.ascontiguousarray(arr)
    raise TypeError(f"top-k values must be real numbers (int or float), got dtype {arr.dtype}")


def _check_params(comparators: int, round_overhead_cycles: int, seed: int) -> np.uint64:
    if int(comparators) < 1:
        raise ValueError(f"comparators must be >= 1, got {comparators}")
    if int(round_overhead_cycles) < 0:
        raise ValueError(f"round_overhead_cycles must be >= 0, got {round_overhead_cycles}")
    return np.uint64(int(seed) % (1 << 64))


@dataclass(frozen=True)
class TopKRowsResult:
    """What :func:`topk_rows_detail` returns; all arrays are indexed by row.

    Attributes:
        keep_mask: bool [rows, n], True for a kept element (only within the row's length).
        cycles: int64, total engine cycles = fill + select + filter.
        rounds: int64, quick-select rounds.
        fill_cycles: int64, ``ceil(n / P)`` (0 when nothing is selected from an empty input).
        select_cycles: int64, sum over rounds of ``ceil(m / P) + overhead``: the quantity of the
            official latency model.
        filter_cycles: int64, ``ceil(n / P) + overhead + 1``.
        comparisons: int64, element comparisons done (2 per element per round, 2 per element in
            the filter pass).
        comparator_cycles: int64, comparator activations: 2 arrays x P comparators x busy cycles
            (a comparator toggles every beat whether or not its lane holds an element).
    """

    keep_mask: np.ndarray
    cycles: np.ndarray
    rounds: np.ndarray
    fill_cycles: np.ndarray
    select_cycles: np.ndarray
    filter_cycles: np.ndarray
    comparisons: np.ndarray
    comparator_cycles: np.ndarray


def topk_rows_detail(
    values: np.ndarray,
    lengths: np.ndarray | None = None,
    ks: np.ndarray | int | np.integer = 0,
    comparators: int = DEFAULT_COMPARATORS,
    seed: int = 0,
    round_overhead_cycles: int = DEFAULT_ROUND_OVERHEAD_CYCLES,
    parallel: bool = False,
) -> TopKRowsResult:
    """Batched top-k engine: row ``r`` keeps the ``ks[r]`` largest of ``values[r, :lengths[r]]``.

    Args:
        values: 2-D real array [rows, n] (float32 is the fast path; float16 is widened to
            float32, ints are compared exactly).
        lengths: int [rows], elements considered per row (default: all ``n``).
        ks: int [rows] or a scalar, values kept per row; ``k >= length`` keeps the whole row.
        comparators: P, comparators per array.
        seed: pivot hash seed.
        round_overhead_cycles: per-round overhead (official model: 3).
        parallel: spread rows over Numba's threads (``NUMBA_NUM_THREADS``); the result is
            identical to the serial kernel's. Leave False when the caller is itself parallel.

    Raises:
        ValueError: NaN in a considered element, a negative k or length, a length above n.
    """
    arr = _as_engine_array(values)
    if arr.ndim != 2:
        raise ValueError(f"values must be 2-D [rows, n], got shape {arr.shape}")
    rows, width = arr.shape
    if lengths is None:
        lens = np.full(rows, width, dtype=np.int64)
    else:
        lens = np.ascontiguousarray(lengths, dtype=np.int64)
        if lens.shape != (rows,):
            raise ValueError(f"lengths must have shape ({rows},), got {lens.shape}")
    kk = np.broadcast_to(np.asarray(ks, dtype=np.int64), (rows,)).copy()
    if rows and (lens.min() < 0 or lens.max() > width):
        raise ValueError(f"lengths must lie in [0, {width}]")
    if rows and kk.min() < 0:
        raise ValueError("ks must be >= 0")
    seed_u = _check_params(comparators, round_overhead_cycles, seed)
    kernel = _topk_rows_kernel_parallel if parallel else _topk_rows_kernel
    keep, stats = kernel(
        arr, lens, kk, np.int64(comparators), np.int64(round_overhead_cycles), seed_u
    )
    bad = np.flatnonzero(stats[:, _ST_NAN])
    if bad.size:
        raise ValueError(f"top-k input holds NaN (first bad row {int(bad[0])}); NaN has no rank")
    return TopKRowsResult(
        keep_mask=keep,
        cycles=stats[:, _ST_FILL] + stats[:, _ST_SELECT] + stats[:, _ST_FILTER],
        rounds=stats[:, _ST_ROUNDS].copy(),
        fill_cycles=stats[:, _ST_FILL].copy(),
        select_cycles=stats[:, _ST_SELECT].copy(),
        filter_cycles=stats[:, _ST_FILTER].copy(),
        comparisons=stats[:, _ST_COMPARISONS].copy(),
        comparator_cycles=stats[:, _ST_COMPARATOR_CYCLES].copy(),
    )


def topk_rows(
    values: np.ndarray,
    lengths: np.ndarray | None = None,
    ks: np.ndarray | int | np.integer = 0,
    comparators: int = DEFAULT_COMPARATORS,
    seed: int = 0,
    round_overhead_cycles: int = DEFAULT_ROUND_OVERHEAD_CYCLES,
    parallel: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Batched top-k engine; returns ``(keep_mask bool [rows, n], cycles int64 [rows])``.

    Same arguments as :func:`topk_rows_detail`; ``cycles`` is fill + select + filter.
    """
    res = topk_rows_detail(
        values, lengths, ks, comparators, seed, round_overhead_cycles, parallel=parallel
    )
    return res.keep_mask, res.cycles


def topk_detail(
    values: np.ndarray,
    k: int,
    comparators: int = DEFAULT_COMPARATORS,
    seed: int = 0,
    round_overhead_cycles: int = DEFAULT_ROUND_OVERHEAD_CYCLES,
) -> tuple[np.ndarray, TopKRowsResult]:
    """Like :func:`topk`, also returning the one-row :class:`TopKRowsResult` with the breakdown."""
    arr = _as_engine_array(values)
    if arr.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {arr.shape}")
    if int(k) < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    res = topk_rows_detail(
        arr.reshape(1, -1), None, np.int64(k), comparators, seed, round_overhead_cycles
    )
    return np.flatnonzero(res.keep_mask[0]).astype(np.int64), res


def topk(
    values: np.ndarray,
    k: int,
    comparators: int = DEFAULT_COMPARATORS,
    seed: int = 0,
    round_overhead_cycles: int = DEFAULT_ROUND_OVERHEAD_CYCLES,
) -> tuple[np.ndarray, int]:
    """Top-k of a 1-D stream as the SpAtten engine computes it.

    Returns ``(indices, cycles)``: the indices of the ``k`` largest values in ascending (original)
    order, ties broken by index (the earliest equal elements are kept: the same set as
    ``np.sort(np.argsort(-values, kind="stable")[:k])``), and the engine's cycles
    (fill + quick-select rounds + filter pass, see the module docstring).
    """
    idx, res = topk_detail(values, k, comparators, seed, round_overhead_cycles)
    return idx, int(res.cycles[0])


# --------------------------------------------------------------------------------------------
# The official latency model, and ours averaged the same way
# --------------------------------------------------------------------------------------------


def official_topk_latency(
    n: int,
    k: int,
    comparators: int = DEFAULT_COMPARATORS,
    overhead_cycles: int = DEFAULT_ROUND_OVERHEAD_CYCLES,
    rng: np.random.Generator | int = 0,
) -> tuple[int, int]:
    """One draw of the official top-k latency model; returns ``(cycles, rounds)``.

    Reimplements ``topKLatency(size, target, parallelism)`` of the official
    ``TopKLatencyModel.scala`` (mit-han-lab/spatten): ``n`` random 32-bit integers; per round
    ``ceil(size / P) + 3`` cycles, a uniformly random pivot element, split into ``< pivot`` /
    ``> pivot`` / ``count(== pivot)``; stop when ``target = k`` (0-based ascending rank) falls on the
    pivot's equal range, recurse otherwise, or stop when the sequence is empty (which is what their
    model does for ``k >= n``). The randomness comes from ``rng`` (a ``Generator`` or a seed), never
    from global state.
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(int(rng))
    c, r = _official_latency_kernel(gen, int(n), int(k), int(comparators), int(overhead_cycles))
    return int(c), int(r)


def official_topk_latencies(
    n: np.ndarray,
    k: np.ndarray,
    comparators: int = DEFAULT_COMPARATORS,
    overhead_cycles: int = DEFAULT_ROUND_OVERHEAD_CYCLES,
    rng: np.random.Generator | int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`official_topk_latency` for a sequence of calls ``(n[j], k[j])`` in one Numba call:
    the draws of the calls one after the other from ``rng``, so ``cycles[j], rounds[j]`` are what
    the ``j``-th of the single calls in that order returns (an importer with thousands of calls
    pays the ``Generator``'s hand-over to Numba once instead of per call)."""
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(int(rng))
    ns = np.ascontiguousarray(n, dtype=np.int64)
    ks = np.ascontiguousarray(k, dtype=np.int64)
    if ns.shape != ks.shape or ns.ndim != 1:
        raise ValueError(f"n and k must be 1-D of one length, got {ns.shape} and {ks.shape}")
    cycles = np.empty(ns.size, np.int64)
    rounds = np.empty(ns.size, np.int64)
    if ns.size:
        _official_latency_many(gen, ns, ks, int(comparators), int(overhead_cycles), cycles, rounds)
    return cycles, rounds


@njit(cache=True)
def _official_latency_many(gen, ns, ks, p, overhead, cycles, rounds):
    for j in range(ns.shape[0]):
        cycles[j], rounds[j] = _official_latency_kernel(gen, ns[j], ks[j], p, overhead)


@njit(cache=True)
def _official_latency_kernel(gen, n, k, p, overhead):
    """:func:`official_topk_latency` in Numba: the same draws from the same ``Generator`` (Numba's
    ``Generator.integers`` reproduces NumPy's stream), partitions in place instead of copies."""
    seq = gen.integers(-(2**31), 2**31, size=n, dtype=np.int64)
    size = n
    target = k
    cycles = 0
    rounds = 0
    while size > 0:
        cycles += (size + p - 1) // p + overhead
        rounds += 1
        pivot = seq[gen.integers(0, size)]
        n_left = 0
        cnt = 0
        for i in range(size):
            if seq[i] < pivot:
                n_left += 1
            elif seq[i] == pivot:
                cnt += 1
        if n_left <= target:
            if n_left + cnt > target:
                break
            target -= n_left + cnt
            j = 0
            for i in range(size):
                if seq[i] > pivot:
                    seq[j] = seq[i]
                    j += 1
            size = j
        else:
            j = 0
            for i in range(size):
                if seq[i] < pivot:
                    seq[j] = seq[i]
                    j += 1
            size = j
    return cycles, rounds


def official_topk_latency_reference(
    n: int,
    k: int,
    comparators: int = DEFAULT_COMPARATORS,
    overhead_cycles: int = DEFAULT_ROUND_OVERHEAD_CYCLES,
    rng: np.random.Generator | int = 0,
) -> tuple[int, int]:
    """The plain numpy form of :func:`official_topk_latency` (same draws, same result)."""
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(int(rng))
    p = int(comparators)
    seq = gen.integers(-(2**31), 2**31, size=int(n), dtype=np.int64)
    target = int(k)
    cycles = 0
    rounds = 0
    while seq.size > 0:
        cycles += (seq.size + p - 1) // p + int(overhead_cycles)
        rounds += 1
        pivot = seq[gen.integers(seq.size)]
        left = seq[seq < pivot]
        cnt = int(np.count_nonzero(seq == pivot))
        if left.size <= target:
            if left.size + cnt > target:
                break
            target -= left.size + cnt
            seq = seq[seq > pivot]
        else:
            seq = left
    return cycles, rounds


@dataclass(frozen=True)
class EngineLatencyStats:
    """Mean and standard deviation of cycles and rounds over ``trials`` random inputs."""

    n: int
    k: int
    trials: int
    mean_cycles: float
    std_cycles: float
    mean_rounds: float


def official_latency_stats(
    n: int,
    k: int,
    trials: int = 100,
    comparators: int = DEFAULT_COMPARATORS,
    overhead_cycles: int = DEFAULT_ROUND_OVERHEAD_CYCLES,
    seed: int = 1,
) -> EngineLatencyStats:
    """The official model averaged as its ``main`` does (100 draws from one seeded RNG)."""
    gen = np.random.default_rng(int(seed))
    draws = np.array(
        [official_topk_latency(n, k, comparators, overhead_cycles, gen) for _ in range(trials)],
        dtype=np.float64,
    )
    return EngineLatencyStats(
        n=int(n),
        k=int(k),
        trials=int(trials),
        mean_cycles=float(draws[:, 0].mean()),
        std_cycles=float(draws[:, 0].std()),
        mean_rounds=float(draws[:, 1].mean()),
    )


def engine_latency_stats(
    n: int,
    k: int,
    trials: int = 100,
    comparators: int = DEFAULT_COMPARATORS,
    overhead_cycles: int = DEFAULT_ROUND_OVERHEAD_CYCLES,
    seed: int = 1,
) -> EngineLatencyStats:
    """Our engine's quick-select cycles (``select_cycles``) on ``trials`` random float32 rows.

    This is the quantity the official model estimates; compare with :func:`official_latency_stats`.
    """
    gen = np.random.default_rng(int(seed))
    vals = gen.random((int(trials), int(n)), dtype=np.float32)
    res = topk_rows_detail(
        vals, None, int(k), comparators, seed=int(seed), round_overhead_cycles=overhead_cycles
    )
    sel = res.select_cycles.astype(np.float64)
    return EngineLatencyStats(
        n=int(n),
        k=int(k),
        trials=int(trials),
        mean_cycles=float(sel.mean()),
        std_cycles=float(sel.std()),
        mean_rounds=float(res.rounds.mean()),
    )
