"""The HBM2 model as the core uses it: batches over time, determinism, clocks, the crossbar."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spatten_sim.hw.dram import DRAM_PRESETS, DramMemory, FrontendLimits
from spatten_sim.hw.dram.checker import check_commands
from spatten_sim.hw.memory import CrossbarLimits

HBM2 = DRAM_PRESETS["hbm2"]
CONTRACT_KEYS = {
    "reads", "writes", "bytes_read", "bytes_written", "activations", "precharges", "refreshes",
    "row_hits", "row_misses", "row_conflicts", "channel_busy_cycles", "avg_latency_cycles",
    "p50_latency_cycles", "p99_latency_cycles",
}  # fmt: skip


def _workload(seed: int, n: int = 3000, t0: int = 0):
    rng = np.random.default_rng(seed)
    addrs = rng.integers(0, 1 << 26, n) // 32 * 32
    arrivals = t0 + np.sort(rng.integers(0, 4000, n))
    return addrs, arrivals


def test_deterministic() -> None:
    a, t = _workload(1)
    m1, m2 = DramMemory(HBM2), DramMemory(HBM2)
    d1 = m1.access(a, t)
    d2 = m2.access(a, t)
    assert np.array_equal(d1, d2)
    assert m1.stats() == m2.stats()


def test_disjoint_batches_equal_one_batch() -> None:
    """A batch arriving after the previous one has drained sees exactly the device state that
    one long batch would have: same completion cycles (refresh included)."""
    a1, t1 = _workload(2, t0=0)
    a2, t2 = _workload(3, t0=20_000)
    whole = DramMemory(HBM2).access(np.concatenate([a1, a2]), np.concatenate([t1, t2]))
    m = DramMemory(HBM2)
    d1 = m.access(a1, t1)
    assert d1.max() < 20_000
    d2 = m.access(a2, t2)
    assert np.array_equal(np.concatenate([d1, d2]), whole)
    assert m.stats()["refreshes"] > 0


def test_overlapping_batch_waits_for_the_earlier_on_its_channel() -> None:
    cfg = dataclasses.replace(HBM2, channels=1)
    m = DramMemory(cfg, log_commands=100_000)
    a1 = np.arange(2000, dtype=np.int64) * 32
    d1 = m.access(a1, np.zeros(2000, dtype=np.int64))
    # a later batch whose requests arrive while the first is still in flight
    a2 = (np.arange(50, dtype=np.int64) + 100_000) * 32
    t2 = np.full(50, 10, dtype=np.int64)
    d2 = m.access(a2, t2)
    last_issue_1 = d1.max() - (cfg.nCL + cfg.nBL)
    assert d2.min() > last_issue_1 + cfg.nCL + cfg.nBL  # issued after the earlier batch
    assert check_commands(cfg, m.command_log()) == []


def test_clock_ratio() -> None:
    """Accelerator at 2 GHz, HBM2 at 1 GHz: an unloaded row miss of 32 memory cycles takes 64
    accelerator cycles."""
    m = DramMemory(dataclasses.replace(HBM2, refresh=False), clock_ghz=2.0)
    assert int(m.access(np.array([0]), np.array([200]))[0]) - 200 == 2 * 32
    assert m.stats()["avg_latency_cycles"] == pytest.approx(64.0)


def test_stats_contract_and_consistency() -> None:
    a, t = _workload(4)
    w = np.random.default_rng(5).random(a.size) < 0.2
    m = DramMemory(HBM2)
    d = m.access(a, t, w)
    st = m.stats()
    assert CONTRACT_KEYS <= set(st)
    assert st["reads"] + st["writes"] == a.size
    assert st["writes"] == int(w.sum())
    assert st["bytes_read"] == st["reads"] * 32
    assert st["row_hits"] + st["row_misses"] + st["row_conflicts"] == a.size
    assert st["activations"] == st["row_misses"] + st["row_conflicts"]
    assert len(st["channel_busy_cycles"]) == 16
    lat = d - t
    assert st["avg_latency_cycles"] == pytest.approx(lat.mean())
    assert st["p50_latency_cycles"] == np.percentile(lat, 50, method="inverted_cdf")
    assert st["p99_latency_cycles"] == np.percentile(lat, 99, method="inverted_cdf")
    assert st["max_latency_cycles"] == lat.max()
    assert sum(st["channel_busy_cycles"]) == a.size  # one 32-B burst = 1 channel cycle at peak


def test_request_larger_than_burst_rejected() -> None:
    from spatten_sim.errors import ConfigError

    with pytest.raises(ConfigError, match=r"memory\.request_bytes"):
        dataclasses.replace(HBM2, request_bytes=64).validate()


def test_unaligned_or_unordered_batches_rejected() -> None:
    m = DramMemory(HBM2)
    with pytest.raises(ValueError, match="aligned"):
        m.access(np.array([16]), np.array([0]))
    with pytest.raises(ValueError, match="non-decreasing"):
        m.access(np.array([0, 32]), np.array([5, 4]))


def test_crossbar_one_request_per_channel_per_cycle_and_fifo_depth() -> None:
    cfg = dataclasses.replace(HBM2, refresh=False)
    m = DramMemory(cfg)
    n = 300
    addrs = np.arange(n, dtype=np.int64) * 512  # all on channel 0
    fe = FrontendLimits(in_order=True, fifo_depth=8, per_channel_per_cycle=1)
    bt = m.run_batch(addrs, np.zeros(n, dtype=np.int64), None, fe)
    assert np.all(np.diff(bt.push) >= 1)  # one a cycle through the crossbar
    # FIFO occupancy (pushed, not yet accepted by the controller) never exceeds its depth
    for t in np.unique(bt.push):
        waiting = np.count_nonzero((bt.push <= t) & (bt.accept > t))
        assert waiting <= 8
    # accepted into the 32-entry read buffer only as it drains
    assert bt.accept.max() > bt.push.max() - 1


def test_crossbar_slows_a_single_channel_burst() -> None:
    addrs = np.arange(64, dtype=np.int64) * 512
    t = np.zeros(64, dtype=np.int64)
    free = DramMemory(HBM2).access(addrs, t)
    xbar = DramMemory(HBM2).access(addrs, t, crossbar=CrossbarLimits(1, 64))
    assert xbar.max() >= free.max()
    assert np.all(xbar >= free)


def test_refresh_interval_shorter_than_a_refresh_round_is_refused() -> None:
    """nREFI below pseudo_channels x (nRP + nRFC) would starve every request forever."""
    from spatten_sim.errors import ConfigError

    with pytest.raises(ConfigError, match=r"memory\.nREFI"):
        dataclasses.replace(DRAM_PRESETS["hbm2"], nREFI=300).validate()
    dataclasses.replace(DRAM_PRESETS["hbm2"], nREFI=300, refresh=False).validate()
