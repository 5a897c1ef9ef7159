"""``timing.mode: fast`` (the default) and ``timing.mode: reference`` give identical reports.

The fast mode runs the fast HBM2 controller kernel and computes transaction addresses and row
ready cycles in Numba; the reference mode runs the reference kernel and the numpy paths. Every
figure of the report but the simulator's own ``sim`` section must be identical: on every shipped
trace, on both official CSVs (GPT-2-Medium in the slow suite) and on random small workloads
under stressing configurations with the HBM2 memory.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spatten_sim.config import load_config
from spatten_sim.hw.accelerator import run_timing
from spatten_sim.pipeline import make_memory_for, simulate
from spatten_sim.validate.context import GPT2_MEDIUM_CSV, GPT2_SMALL_CSV, official_csv_path

REPO = Path(__file__).resolve().parents[1]
TRACES = sorted((REPO / "traces").glob("*.npz"))


def _strategies():
    name = "spatten_tests_hw_strategies"
    if name not in sys.modules:
        path = REPO / "tests" / "hw" / "strategies.py"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


strategies = _strategies()


def _without_sim(report) -> dict:
    """The report without ``sim`` (wall clock) and ``provenance`` (the timestamp, and the
    configuration, which differs in ``timing.mode``), and its ``sim``."""
    d = json.loads(report.to_json())
    sim = d.pop("sim")
    assert d.pop("provenance")["config"]["timing"]["mode"] == sim["timing_mode"]
    return d, sim


def _both(hw: str, path: Path, sets: tuple[str, ...] = ()) -> None:
    fast, sim_f = _without_sim(simulate(hw, path, sets=[*sets, "timing.mode=fast"]))
    ref, sim_r = _without_sim(simulate(hw, path, sets=[*sets, "timing.mode=reference"]))
    assert sim_f["timing_mode"] == "fast" and sim_r["timing_mode"] == "reference"
    assert fast == ref
    assert json.dumps(fast) == json.dumps(ref)  # the same keys in the same order, too


def test_fast_is_the_default() -> None:
    assert load_config("spatten").timing.mode == "fast"


def test_unknown_mode_names_the_key() -> None:
    from spatten_sim.errors import ConfigError

    with pytest.raises(ConfigError, match=r"timing\.mode"):
        load_config("spatten", ["timing.mode=turbo"])


@pytest.mark.parametrize("trace", TRACES, ids=lambda p: p.stem)
@pytest.mark.parametrize("hw", ["spatten", "dense"])
def test_shipped_traces_identical(trace: Path, hw: str) -> None:
    _both(hw, trace)


def test_rtl_preset_identical() -> None:
    _both("spatten_rtl", REPO / "traces" / "smollm2-wiki-96+16.npz")


def test_gpt2_small_csv_identical() -> None:
    csv = official_csv_path(GPT2_SMALL_CSV)
    assert csv is not None, "the official workloads ship with the package"
    _both("spatten", csv)


@pytest.mark.slow
def test_gpt2_medium_csv_identical() -> None:
    csv = official_csv_path(GPT2_MEDIUM_CSV)
    assert csv is not None, "the official workloads ship with the package"
    _both("spatten", csv)


def _hbm_sets(sets: list[str]) -> list[str]:
    """The stressing overrides, with the HBM2 memory instead of the ideal one."""
    out = [s for s in sets if not s.startswith("memory.")]
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    wl=strategies.workloads(),
    sets=strategies.config_overrides(),
    base=st.sampled_from(["spatten", "dense"]),
    channels=st.sampled_from([1, 2, 16]),
    policy=st.sampled_from(["open", "closed"]),
)
def test_random_workloads_identical(wl, sets, base, channels, policy) -> None:
    sets = [*_hbm_sets(sets), f"memory.channels={channels}", f"memory.row_policy={policy}"]
    results = []
    for mode in ("fast", "reference"):
        cfg = load_config(base, [*sets, f"timing.mode={mode}"])
        results.append(run_timing(cfg, wl, make_memory_for(cfg)).comparable())
    assert results[0] == results[1]


def test_summarization_layers_take_the_event_free_path() -> None:
    """On an encoder trace every layer is summarization without LSB re-fetches: the fast mode
    times it without per-job events, and still equals the event path."""
    path = REPO / "traces" / "mpnet-wiki-128.npz"
    fast = simulate("spatten", path).to_dict()["sim"]["events"]
    ref = simulate("spatten", path, sets=["timing.mode=reference"]).to_dict()["sim"]["events"]
    assert fast * 10 < ref
    _both("spatten", path, ("buffers.double_buffered=false",))
    _both("dense", path, ("fetcher.max_in_flight_requests=2", "topk.comparators=2"))


def test_generation_layers_take_the_event_free_path(monkeypatch) -> None:
    """Generation layers (one query a head) are timed by one Numba call each
    (hw/generation.py): every generation layer of a decoder trace with grouped K/V heads
    (SmolLM2: later heads of a group fetch no K rows of their own) takes that path, and the
    report still equals the event path's, with tiny buffers too (allocations that wait)."""
    from spatten_sim.hw import accelerator

    taken: list[bool] = []
    orig = accelerator.Accelerator._generation_fast_ok

    def spy(self, li: int) -> bool:
        ok = orig(self, li)
        if self.cfg.timing.mode == "fast" and self.heads[li][0].hj.stage == "generation":
            taken.append(ok)
        return ok

    monkeypatch.setattr(accelerator.Accelerator, "_generation_fast_ok", spy)
    path = REPO / "traces" / "smollm2-wiki-96+16.npz"
    fast = simulate("spatten", path).to_dict()["sim"]["events"]
    assert taken and all(taken)
    ref = simulate("spatten", path, sets=["timing.mode=reference"]).to_dict()["sim"]["events"]
    assert fast * 10 < ref
    _both("spatten", path)
    _both("dense", path, ("fetcher.max_in_flight_requests=1", "buffers.value_sram_bytes=400",
                          "buffers.key_sram_bytes=1000"))  # fmt: skip


def test_generation_fast_path_needs_the_fused_fetch() -> None:
    """Without the HBM2 model's fused path (the ideal memory) generation keeps its events,
    with the same report."""
    path = REPO / "traces" / "smollm2-wiki-96+16.npz"
    _both("spatten", path, ("memory.preset=ideal",))
