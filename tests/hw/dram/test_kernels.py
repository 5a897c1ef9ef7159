"""The fast HBM2 controller kernel equals the reference kernel, command for command.

Both kernels get the same random batches (reads and writes, row hits, conflicts and random
addresses, overlapping batches, every frontend mode the model offers, open and closed row
policy, small buffers, refresh, a command delay, per-channel limits); every completion, accept
and issue cycle, every counter, the latency histogram, the persistent state and the command log
must be identical.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spatten_sim.hw.dram import DRAM_PRESETS, DramMemory, FrontendLimits
from spatten_sim.hw.dram.stream import StreamRecorder, replay

FRONTENDS = [
    FrontendLimits(),
    FrontendLimits(in_order=True, fifo_depth=64, per_channel_per_cycle=1),
    FrontendLimits(in_order=True, fifo_depth=0, per_channel_per_cycle=2, issue_per_cycle=3),
    FrontendLimits(in_order=True, fifo_depth=2, max_outstanding=12),
    FrontendLimits(in_order=True, fifo_depth=-1, issue_per_cycle=1),
]


def _pair(cfg):
    return (
        DramMemory(cfg, log_commands=100_000, kernel="fast"),
        DramMemory(cfg, log_commands=100_000, kernel="reference"),
    )


def _state(m: DramMemory) -> list[np.ndarray]:
    return [m._bank, m._group, m._rank, m._faw, m._pc, m._chan, m._counters, m._inflight,
            m._inflight_n, m._front, m._hist]  # fmt: skip


def _batches(seed: int, cfg, n_batches: int, write_frac: float):
    rng = np.random.default_rng(seed)
    rb = cfg.request_bytes
    t = 0
    out = []
    for _ in range(n_batches):
        n = int(rng.integers(1, 400))
        rand = rng.integers(0, 1 << 20, n) // rb * rb
        seq = np.arange(n) * rb + rng.integers(0, 1 << 22) // rb * rb
        hot = rng.integers(0, 8, n) * rb * 4096  # a few rows: conflicts
        kind = rng.integers(0, 3, n)
        addrs = np.where(kind == 0, rand, np.where(kind == 1, seq, hot))
        arrivals = t + np.sort(rng.integers(0, int(rng.integers(1, 600)), n))
        writes = rng.random(n) < write_frac
        out.append((addrs.astype(np.int64), arrivals.astype(np.int64), writes))
        t += int(rng.integers(0, 700))  # batches overlap in time, or leave gaps
    return out


def _check(cfg, seed: int, fe: FrontendLimits, n_batches: int = 6, write_frac: float = 0.3):
    fast, ref = _pair(cfg)
    for addrs, arr, wr in _batches(seed, cfg, n_batches, write_frac):
        a = fast.run_batch(addrs, arr, wr, fe)
        b = ref.run_batch(addrs, arr, wr, fe)
        for f in ("push", "accept", "issue", "done"):
            assert np.array_equal(getattr(a, f), getattr(b, f)), f
    for x, y in zip(_state(fast), _state(ref), strict=True):
        assert np.array_equal(x, y)
    assert np.array_equal(fast.command_log(), ref.command_log())
    assert fast.stats() == ref.stats()


@pytest.mark.parametrize("fe", FRONTENDS, ids=lambda f: f"fe{FRONTENDS.index(f)}")
@pytest.mark.parametrize("preset", ["hbm2", "hbm2-spatten-rtl", "hbm2-legacy"])
@pytest.mark.parametrize("policy", ["open", "closed"])
def test_kernels_agree(preset: str, policy: str, fe: FrontendLimits) -> None:
    cfg = dataclasses.replace(DRAM_PRESETS[preset], channels=4, row_policy=policy).validate()
    _check(cfg, seed=hash((preset, policy)) % 1000, fe=fe)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    fe=st.sampled_from(FRONTENDS),
    policy=st.sampled_from(["open", "closed"]),
    read_buffer=st.integers(1, 12),
    write_buffer=st.integers(1, 12),
    max_out=st.sampled_from([0, 1, 3, 9]),
    delay=st.integers(0, 3),
    nrefi=st.sampled_from([0, 1200, 3900]),
    write_frac=st.sampled_from([0.0, 0.2, 0.9]),
)
def test_kernels_agree_randomized(
    seed, fe, policy, read_buffer, write_buffer, max_out, delay, nrefi, write_frac
) -> None:
    base = DRAM_PRESETS["hbm2"]
    over = dict(channels=2, row_policy=policy, read_buffer=read_buffer,
                write_buffer=write_buffer, max_outstanding_per_channel=max_out,
                command_delay_cycles=delay)  # fmt: skip
    if nrefi:
        over["nREFI"] = nrefi
    else:
        over["refresh"] = False
    cfg = dataclasses.replace(base, **over).validate()
    _check(cfg, seed, fe, n_batches=4, write_frac=write_frac)


def test_recorded_stream_replays_identically() -> None:
    """A stream recorded from one memory replays bit for bit on either kernel."""
    cfg = dataclasses.replace(DRAM_PRESETS["hbm2"], channels=4).validate()
    live = DramMemory(cfg)
    rec = StreamRecorder()
    live.recorder = rec
    fe = FRONTENDS[1]
    done = [live.run_batch(a, t, w, fe).done for a, t, w in _batches(5, cfg, 5, 0.2)]
    stream = rec.stream(cfg.name)
    assert stream.n_batches == 5
    for kernel in ("fast", "reference"):
        r = replay(stream, DramMemory(cfg, kernel=kernel))
        assert np.array_equal(r.done, np.concatenate(done))
        assert r.stats == live.stats()


def test_unknown_kernel_is_an_error() -> None:
    with pytest.raises(ValueError, match="kernel must be one of"):
        DramMemory(DRAM_PRESETS["hbm2"], kernel="turbo")


@pytest.mark.slow
def test_gpt2_medium_stream_identical_on_both_kernels(tmp_path, monkeypatch) -> None:
    """The DRAM stream of the official GPT-2-Medium replay (22.4 M transactions, recorded here)
    gives identical completion cycles and statistics on the fast and the reference kernel."""
    from spatten_sim.bench import resolve_input
    from spatten_sim.errors import SpattenError
    from spatten_sim.hw.dram.stream import RecordedStream

    monkeypatch.setenv("SPATTEN_SIM_CACHE", str(tmp_path))
    try:
        path = resolve_input("stream:gpt2-medium", lambda m: None)
    except SpattenError as e:
        pytest.skip(str(e))
    stream = RecordedStream.load(path)
    assert stream.n_requests > 20_000_000
    fast = replay(stream, DramMemory(DRAM_PRESETS[stream.preset], kernel="fast"))
    ref = replay(stream, DramMemory(DRAM_PRESETS[stream.preset], kernel="reference"))
    assert np.array_equal(fast.done, ref.done)
    assert fast.stats == ref.stats
