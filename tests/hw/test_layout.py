"""DRAM address layout: packed rows, whole transactions, regions that never overlap."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spatten_sim.hw.layout import AddressLayout


def _reference(rows: np.ndarray, head_dim: int, bits: int, tx: int = 32) -> np.ndarray:
    out = set()
    for r in rows:
        lo = r * head_dim * bits // 8
        hi = (r + 1) * head_dim * bits // 8 + (1 if ((r + 1) * head_dim * bits) % 8 else 0)
        for b in range(lo // tx, (hi - 1) // tx + 1):
            out.add(b)
    return np.array(sorted(out), dtype=np.int64) * tx


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.integers(0, 511), min_size=1, max_size=60, unique=True),
    bits=st.sampled_from([4, 6, 8, 10, 12, 16, 32]),
    head_dim=st.sampled_from([32, 64, 256]),
)
def test_transactions_cover_exactly_the_rows(rows, bits, head_dim):
    lay = AddressLayout(2, 3, 3, 512, head_dim, max_bits=32)
    got = lay.transactions("k_msb", 1, 2, np.array(rows, dtype=np.int32), bits)
    base = lay.transactions("k_msb", 1, 2, np.array([0]), 32)[0]
    assert np.array_equal(got - base, _reference(np.array(sorted(rows)), head_dim, bits))


def test_packed_rows_share_transactions_and_regions_do_not_overlap():
    lay = AddressLayout(2, 2, 1, 1024, 64, max_bits=12)
    # 6-bit D=64 rows are 48 B: 1024 contiguous rows fill 1536 transactions exactly
    assert lay.transactions("k_msb", 0, 0, np.arange(1024), 6).size == 1536
    # three scattered 8-bit rows cost two transactions each
    assert lay.transactions("v", 1, 0, np.array([0, 5, 9]), 8).size == 6
    seen: set[int] = set()
    for stream in ("q", "k_msb", "k_lsb", "v"):
        for layer in range(2):
            heads = 2 if stream == "q" else 1
            for h in range(heads):
                a = set(lay.transactions(stream, layer, h, np.arange(1024), 12).tolist())
                assert not (a & seen)
                seen |= a
    assert max(seen) < lay.total_bytes


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.integers(0, 199), max_size=40),
    bits=st.lists(st.sampled_from([0, 1, 3, 4, 6, 8, 10, 12, 16]), min_size=1, max_size=3),
    head_dim=st.sampled_from([32, 64, 96]),
    tx=st.sampled_from([32, 64]),
)
def test_batch_transactions_equals_the_reference(rows, bits, head_dim, tx) -> None:
    """The Numba batch form gives the reference's addresses; the fetcher's Numba ready cycles
    equal its numpy ones (and unsorted rows are reported, not served wrongly)."""
    from spatten_sim.hw.layout import batch_transactions
    from spatten_sim.hw.units.fetcher import rows_ready

    lay = AddressLayout(2, 2, 2, 200, head_dim, 32, tx)
    r = np.array(rows, dtype=np.int64)
    parts = [("k_msb", 1, 0, np.unique(r), b) for b in bits]
    bases = np.array([lay.base(*p[:3]) for p in parts], np.int64)
    row_bits = np.array([head_dim * p[4] for p in parts], np.int64)
    row_off = np.cumsum([0] + [p[3].size for p in parts]).astype(np.int64)
    rows_all = np.concatenate([p[3] for p in parts]).astype(np.int64)
    out = np.empty(rows_all.size * (head_dim * 16 // (8 * tx) + 2) + 1, np.int64)
    off = np.empty(len(parts) + 1, np.int64)
    n = batch_transactions(bases, row_bits, rows_all, row_off, tx, out, off)
    ref = [lay.transactions(*p) for p in parts]
    assert n == sum(a.size for a in ref)
    for p, a in enumerate(ref):
        assert np.array_equal(out[off[p] : off[p + 1]], a)
    # ready cycles: the latest completion of a row's transactions (random completions)
    done = np.random.default_rng(len(rows)).integers(0, 1000, max(n, 1))
    got = np.empty(rows_all.size, np.int64)
    rows_ready(bases, row_bits, rows_all, row_off, tx, out, off, done, 3, 77, got)
    for p, (stream, layer, h, rr, b) in enumerate(parts):
        a = ref[p]
        want = np.full(rr.size, 77) if a.size == 0 else None
        if a.size:
            first, last = lay.row_spans(stream, layer, h, rr, b)
            comp = done[off[p] : off[p + 1]]
            want = np.array(
                [comp[np.searchsorted(a, f) : np.searchsorted(a, e) + 1].max() + 3
                 for f, e in zip(first, last, strict=True)], dtype=np.int64
            )  # fmt: skip
        assert np.array_equal(got[row_off[p] : row_off[p + 1]], want)
    if r.size > 1 and not (r[1:] > r[:-1]).all():
        one = np.array([bases[0]]), np.array([row_bits[0] or 8]), r, np.array([0, r.size])
        assert batch_transactions(*one, tx, out, off) == -1
