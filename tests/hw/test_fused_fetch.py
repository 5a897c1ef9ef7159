"""The fused fetch path (``hw/units/fetcher.py: fetch_batch``: addresses, HBM2 kernel and row-ready
cycles in one Numba call) against the same fast path made of separate calls."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spatten_sim.config import load_config
from spatten_sim.hw.accelerator import Accelerator
from spatten_sim.pipeline import make_memory_for


def _run(cfg, wl, fused: bool):
    mem = make_memory_for(cfg)
    acc = Accelerator(cfg, wl, mem)
    if not fused:
        acc.fetcher._dram = None
    res = acc.run()
    inner = mem.inner
    return res, inner.batches


@pytest.mark.parametrize(
    ("sets", "kw"),
    [
        ((), {"generated": 24, "tokens": 96, "requant_every": 3}),
        (("fetcher.address_issue_per_cycle=3",), {"generated": 16, "tokens": 64, "bits": 6}),
        (("memory.preset=hbm2-legacy",), {"tokens": 80, "n_kv_heads": 1, "v_keep": 0.5}),
        (("buffers.key_sram_bytes=4096",), {"tokens": 128, "head_dim": 32}),
    ],
)
def test_fused_fetch_gives_the_same_timing_result(make_dense_workload, sets, kw) -> None:
    cfg = load_config("spatten", list(sets))
    wl = make_dense_workload(**kw)
    fused, nb_f = _run(cfg, wl, fused=True)
    split, nb_s = _run(cfg, wl, fused=False)
    assert nb_f == nb_s > 0
    a, b = dataclasses.asdict(fused), dataclasses.asdict(split)
    a.pop("events"), b.pop("events")
    assert a == b


def test_fused_fetch_is_used_only_where_it_applies() -> None:
    from spatten_sim.hw.layout import AddressLayout
    from spatten_sim.hw.units.fetcher import Fetcher

    for sets, expect in (((), True), (("timing.mode=reference",), False),
                         (("memory.preset=ideal",), False)):  # fmt: skip
        cfg = load_config("spatten", list(sets))
        mem = make_memory_for(cfg)
        f = Fetcher(cfg, AddressLayout(1, 1, 1, 8, 64, 32, mem.transaction_bytes), mem, 64)
        rows = np.arange(4, dtype=np.int32)
        r1 = f.submit(0, [("k_msb", 0, 0, rows, 8)])
        r2 = f.submit(0, [("k_msb", 0, 0, rows + 4, 8)])
        assert r1.transactions == r2.transactions == 8  # 64 x 8-bit rows: two 32-B each
        assert r2.ready[0].tolist() == sorted(r2.ready[0].tolist())
        used = f._dram is not None and f._dram.fused_state(f._xbar) is not None
        assert used == expect
