"""Closed-form checks of the HBM2 model in the style of Ramulator 2.1's own validation suite.

Expected values are computed from the JEDEC parameters of the preset (docs/hbm2-facts.md §2), never
typed in: a request is accepted at cycle a and its first command can issue at a + 1 (Ramulator
2.1's controller, docs/hbm2-facts.md §2 "ACT at arrival+1"); the ACT adjustment of the 2-cycle ACT
shifts ACT->RD by +1 and PRE->ACT by -1, which cancel in the conflict latency.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spatten_sim.hw.dram import DRAM_PRESETS, DramMemory
from spatten_sim.hw.dram.bench import pattern_addresses, run_bench
from spatten_sim.hw.dram.mapping import AddressMapper

HBM2 = DRAM_PRESETS["hbm2"]
#: pass-through streaming mapping: consecutive 32-B blocks alternate pseudo-channel, then bank
#: group, then column (docs/hbm2-facts.md §4: PC and BG bits below the column)
STREAM_MAPPING = "RoBkCoBgPcCh"


def _one(mem: DramMemory, addr: int, t: int) -> int:
    return int(mem.access(np.array([addr]), np.array([t]))[0]) - t


@pytest.mark.parametrize("preset", ["hbm2", "hbm2-spatten-rtl", "hbm2-legacy"])
def test_unloaded_latencies(preset: str) -> None:
    cfg = dataclasses.replace(DRAM_PRESETS[preset], refresh=False)
    mem = DramMemory(cfg)
    mp = AddressMapper(cfg)
    col = 1 << mp.field_shift("Co")
    row = 1 << mp.field_shift("Ro")
    d = cfg.command_delay_cycles
    adj = cfg.act_bus_cycles - 1 if cfg.act_timing_adjust else 0  # ACT happens on its 2nd cycle
    miss = _one(mem, 0, 100)
    hit = _one(mem, col, 1000)
    conflict = _one(mem, row, 2000)
    assert hit == d + cfg.nCL + cfg.nBL  # unloaded row hit = nCL + burst
    assert miss == d + adj + cfg.nRCDRD + cfg.nCL + cfg.nBL
    assert conflict == d + cfg.nRP + cfg.nRCDRD + cfg.nCL + cfg.nBL
    st = mem.stats()
    assert (st["row_hits"], st["row_misses"], st["row_conflicts"]) == (1, 1, 1)
    assert (st["activations"], st["precharges"]) == (2, 1)


def test_hbm2_unloaded_figures_match_facts() -> None:
    """docs/hbm2-facts.md §2: row hit 17, closed bank 32, row conflict 45 cycles."""
    mem = DramMemory(dataclasses.replace(HBM2, refresh=False))
    mp = AddressMapper(HBM2)
    assert _one(mem, 0, 10) == 32
    assert _one(mem, 1 << mp.field_shift("Co"), 500) == 17
    assert _one(mem, 1 << mp.field_shift("Ro"), 900) == 45


def test_streaming_bandwidth_within_3_percent_of_peak() -> None:
    cfg = dataclasses.replace(HBM2, channels=1, mapping=STREAM_MAPPING, refresh=False)
    peak = cfg.peak_bandwidth_gbps
    assert peak == pytest.approx(32.0)  # 2 PCs x 32 B every nBL = 2 cycles at 1 GHz
    addrs, _ = pattern_addresses("seq", 60_000, cfg)
    res = run_bench(cfg, addrs)
    assert res.bandwidth_gbps <= peak
    assert res.bandwidth_gbps >= 0.97 * peak


def test_refresh_limited_bandwidth() -> None:
    """peak x (1 - (nRTP + nRP + nRFC + nRCD) / nREFI), within 3%."""
    cfg = dataclasses.replace(HBM2, channels=1, mapping=STREAM_MAPPING, refresh=True)
    addrs, _ = pattern_addresses("seq", 150_000, cfg)
    res = run_bench(cfg, addrs)
    expect = cfg.peak_bandwidth_gbps * (
        1 - (cfg.nRTP + cfg.nRP + cfg.nRFC + cfg.nRCDRD) / cfg.nREFI
    )
    assert res.refreshes >= 2 * (res.cycles // cfg.nREFI) - 2  # both PCs, every nREFI
    assert res.bandwidth_gbps == pytest.approx(expect, rel=0.03)


def test_random_bandwidth_is_row_bus_bound() -> None:
    """Random single-channel reads need ACT (2 row-bus cycles) + PRE (1): 32 B per 3 cycles."""
    cfg = dataclasses.replace(HBM2, channels=1, mapping=STREAM_MAPPING, refresh=False)
    addrs, _ = pattern_addresses("random", 30_000, cfg, seed=5)
    res = run_bench(cfg, addrs)
    bound = cfg.request_bytes / (cfg.act_bus_cycles + 1) / cfg.tck_ns
    assert res.bandwidth_gbps <= bound
    assert res.bandwidth_gbps == pytest.approx(bound, rel=0.03)
