"""The command-legality checker replays the issued command stream of random workloads."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spatten_sim.hw.dram import DRAM_PRESETS, DramMemory, FrontendLimits
from spatten_sim.hw.dram import controller as K
from spatten_sim.hw.dram.checker import check_commands
from spatten_sim.hw.memory import CrossbarLimits


def _random_run(preset: str, policy: str, seed: int, crossbar: bool = False):
    cfg = dataclasses.replace(DRAM_PRESETS[preset], channels=2, row_policy=policy).validate()
    mem = DramMemory(cfg, log_commands=200_000)
    rng = np.random.default_rng(seed)
    t = 0
    rb = cfg.request_bytes
    for _ in range(8):
        n = 1200
        rand = rng.integers(0, 1 << 22, n) // rb * rb
        seq = np.arange(n) * rb + rng.integers(0, 1 << 24) // 64 * 64
        addrs = np.where(rng.random(n) < 0.5, rand, seq)
        arrivals = t + np.sort(rng.integers(0, 2500, n))
        writes = rng.random(n) < 0.3
        done = mem.access(addrs, arrivals, writes, crossbar=CrossbarLimits() if crossbar else None)
        assert np.all(done > arrivals)
        t += 2000  # batches overlap in time
    assert not mem.command_log_overflowed()
    return cfg, mem


@pytest.mark.parametrize("preset", ["hbm2", "hbm2-spatten-rtl", "hbm2-legacy"])
@pytest.mark.parametrize("policy", ["open", "closed"])
def test_no_timing_violation(preset: str, policy: str) -> None:
    cfg, mem = _random_run(preset, policy, seed=11)
    log = mem.command_log()
    kinds = set(log[:, 2].tolist())
    assert {K.CMD_ACT, K.CMD_RD, K.CMD_WR, K.CMD_REF}.issubset(kinds | {K.CMD_RDA, K.CMD_WRA})
    assert check_commands(cfg, log) == []
    st = mem.stats()
    assert st["reads"] + st["writes"] == 8 * 1200
    assert st["activations"] == int(np.count_nonzero(log[:, 2] == K.CMD_ACT))


def test_no_violation_behind_crossbar() -> None:
    cfg, mem = _random_run("hbm2", "open", seed=12, crossbar=True)
    assert check_commands(cfg, mem.command_log()) == []


def test_checker_catches_an_early_command() -> None:
    cfg, mem = _random_run("hbm2", "open", seed=13)
    log = mem.command_log()
    # move the first RD that follows its ACT closely one cycle earlier: ACT->RD is violated
    acts = {(int(r[1]), int(r[3])): int(r[0]) for r in log if r[2] == K.CMD_ACT}
    for i, r in enumerate(log):
        if r[2] == K.CMD_RD and acts.get((int(r[1]), int(r[3]))) == r[0] - (cfg.nRCDRD + 1):
            bad = log.copy()
            bad[i, 0] -= 1
            break
        if r[2] == K.CMD_ACT:
            acts[(int(r[1]), int(r[3]))] = int(r[0])
    else:
        pytest.fail("no RD at exactly ACT + nRCDRD + 1 in the log")
    found = check_commands(cfg, bad)
    assert any("nRCDRD" in v for v in found)


def test_checker_catches_a_refresh_with_an_open_bank() -> None:
    cfg = dataclasses.replace(DRAM_PRESETS["hbm2"], channels=1)
    log = np.array(
        [[10, 0, K.CMD_ACT, 3, 7], [100, 0, K.CMD_REF, 0, -1]],
        dtype=np.int64,
    )
    found = check_commands(cfg, log)
    assert any("open at refresh" in v for v in found)


def test_no_violation_with_the_bench_frontend() -> None:
    """In-order issue straight into the buffers, a global outstanding cap, reads and writes."""
    cfg = dataclasses.replace(DRAM_PRESETS["hbm2"], channels=4).validate()
    mem = DramMemory(cfg, log_commands=100_000)
    rng = np.random.default_rng(21)
    n = 6000
    addrs = np.where(rng.random(n) < 0.5, rng.integers(0, 1 << 24, n) // 32 * 32, np.arange(n) * 32)
    fe = FrontendLimits(in_order=True, fifo_depth=0, max_outstanding=48)
    bt = mem.run_batch(addrs, np.zeros(n, dtype=np.int64), rng.random(n) < 0.25, fe)
    assert np.all(bt.accept == bt.push)  # fifo_depth 0: accepted when sent
    # never more than 48 sent and not completed (a completion at x frees a place at x + 1)
    for t in np.unique(bt.push)[::50]:
        assert np.count_nonzero((bt.push <= t) & (bt.done >= t)) <= 48
    assert check_commands(cfg, mem.command_log()) == []


def test_bench_frontend_fills_a_buffer_in_one_cycle() -> None:
    cfg = dataclasses.replace(DRAM_PRESETS["hbm2"], channels=1)
    mem = DramMemory(cfg)
    fe = FrontendLimits(in_order=True, fifo_depth=0)
    bt = mem.run_batch(np.arange(100) * 32, np.zeros(100, dtype=np.int64), None, fe)
    assert np.count_nonzero(bt.push == 0) == cfg.read_buffer


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 63), st.integers(0, 7), st.integers(0, 40), st.booleans()),
        min_size=1,
        max_size=120,
    ),
    st.sampled_from(["open", "closed"]),
)
def test_property_any_small_batch_is_legal(reqs, policy) -> None:
    """Any batch (few rows so that hits, misses and conflicts mix) yields a legal command stream
    and completions no earlier than the unloaded row-hit latency."""
    cfg = dataclasses.replace(DRAM_PRESETS["hbm2"], channels=2, row_policy=policy)
    mem = DramMemory(cfg, log_commands=10_000)
    col_bank = np.array([r[0] for r in reqs], dtype=np.int64)  # column/bank bits
    rows = np.array([r[1] for r in reqs], dtype=np.int64)
    addrs = (col_bank << 5) * 37 % (1 << 19) // 32 * 32 + (rows << 19)
    arrivals = np.cumsum([r[2] for r in reqs]).astype(np.int64)
    writes = np.array([r[3] for r in reqs])
    done = mem.access(addrs, arrivals, writes)
    min_lat = np.where(writes, cfg.nCWL + cfg.nBL, cfg.nCL + cfg.nBL) + cfg.command_delay_cycles
    assert np.all(done - arrivals >= min_lat)
    assert check_commands(cfg, mem.command_log()) == []
