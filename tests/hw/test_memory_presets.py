"""make_memory presets and overrides, and the crossbar wrapper (spatten_sim.hw.memory)."""

from __future__ import annotations

import numpy as np
import pytest

from spatten_sim.errors import ConfigError
from spatten_sim.hw.memory import (
    MEMORY_PRESETS,
    CrossbarLimits,
    make_memory,
    with_crossbar,
)


def test_default_is_hbm2() -> None:
    m = make_memory({})
    assert m.name == "hbm2"
    assert m.n_channels == 16
    assert m.transaction_bytes == 32
    assert m.peak_bandwidth_gbps == pytest.approx(512.0)
    assert "HBM2" in m.description


@pytest.mark.parametrize("preset", MEMORY_PRESETS)
def test_every_preset_builds_and_runs(preset: str) -> None:
    m = make_memory({"preset": preset})
    tx = m.transaction_bytes
    done = m.access(np.arange(100, dtype=np.int64) * tx, np.zeros(100, dtype=np.int64))
    assert done.dtype == np.int64 and np.all(done > 0)
    assert m.stats()["reads"] == 100


def test_overrides_and_types() -> None:
    m = make_memory({"preset": "hbm2", "channels": 8, "nCL": "16", "refresh": "false"})
    assert m.n_channels == 8
    assert m.cfg.nCL == 16 and m.cfg.refresh is False  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"preset": "hbm2", "bogus": 1}, "memory.bogus"),
        ({"preset": "hbm2", "channels": 3}, "memory.channels"),
        ({"preset": "hbm2", "channels": 0}, "memory.channels"),
        ({"preset": "hbm2", "nCL": "fast"}, "memory.nCL"),
        ({"preset": "hbm2", "row_policy": "lazy"}, "memory.row_policy"),
        ({"preset": "hbm2", "request_bytes": 64}, "memory.request_bytes"),
        ({"preset": "hbm2-legacy", "mapping": "RoCo"}, "memory.mapping"),
        ({"preset": "hbm3"}, "memory.preset"),
        ({"preset": "ideal", "banks": 4}, "memory.banks"),
    ],
)
def test_bad_sections_name_the_key(section: dict, key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        make_memory(section)
    assert str(exc.value).startswith(key)
    assert "\n" not in str(exc.value)


def test_crossbar_wrapper_on_both_models() -> None:
    addrs = np.arange(40, dtype=np.int64) * 32 * 16  # one channel
    t = np.zeros(40, dtype=np.int64)
    for preset in ("hbm2", "ideal"):
        m = with_crossbar(make_memory({"preset": preset}), 1, 64)
        assert m.name == preset and "crossbar" in m.description
        d = m.access(addrs, t)
        assert d.shape == (40,)
        st = m.stats()
        assert st["crossbar_fifo_depth"] == 64


def test_ideal_crossbar_fifo_backpressure() -> None:
    m = make_memory({"preset": "ideal", "channels": 1, "channel_bandwidth_gbps": 8.0,
                     "latency_ns": 0.0})  # fmt: skip
    n = 10
    d = m.access(np.arange(n, dtype=np.int64) * 32, np.zeros(n, dtype=np.int64),
                 crossbar=CrossbarLimits(1, 2))  # fmt: skip
    # 4 cycles a transaction; entering the 2-deep FIFO waits for the one two ahead to start
    assert np.array_equal(d, 4 * np.arange(1, n + 1))


def test_bad_crossbar_limits() -> None:
    with pytest.raises(ConfigError):
        CrossbarLimits(0, 64)
    with pytest.raises(ConfigError):
        CrossbarLimits(1, 0)
