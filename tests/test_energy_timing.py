"""The energy model on real counts of the timing phase: the contract between the two holds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from spatten_sim.config import load_config
from spatten_sim.energy import compute_energy, load_energy_table
from spatten_sim.hw.accelerator import run_timing
from spatten_sim.hw.memory import make_memory

_CONFTEST = Path(__file__).resolve().parent / "hw" / "conftest.py"


def _dense_workload(**kw):
    spec = importlib.util.spec_from_file_location("_hw_workloads", _CONFTEST)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.dense_workload(**kw)


@pytest.fixture(scope="module")
def runs():
    cfg = load_config("spatten", ["memory.preset=hbm2"])
    out = {}
    for name, kw in {
        "summarization": {"n_layers": 1, "n_heads": 2, "tokens": 128, "bits": 8},
        "generation": {
            "n_layers": 1,
            "n_heads": 2,
            "tokens": 128 + 4,
            "generated": 4,
            "bits": 8,
            "topk_cycles": 20,
            "token_topk_cycles": 30,
        },
    }.items():
        wl = _dense_workload(**kw)
        out[name] = run_timing(cfg, wl, make_memory(dict(cfg.memory), cfg.clock_ghz))
    return cfg, out


def test_every_emitted_unit_action_and_param_is_priced(runs):
    cfg, out = runs
    table = load_energy_table(cfg.energy.table)
    # a generation run with top-k exercises every unit the table prices
    assert set(out["generation"].actions) == set(table.actions)
    for name, r in out.items():
        seconds = r.cycles / (cfg.clock_ghz * 1e9)
        rep = compute_energy(r.actions, r.params, seconds, table)  # unknown names would raise
        for unit, acts in r.actions.items():
            for action, n in acts.items():
                want = n * table.action_pj(unit, action, r.params.get(unit))
                assert rep.by_action_pj[unit][action] == pytest.approx(want), (name, unit, action)
        for cat in ("dram", "sram", "compute", "leakage"):
            assert rep.by_category_pj[cat] > 0, (name, cat)
        assert sum(rep.by_unit_pj.values()) == pytest.approx(rep.total_pj)
        # the DRAM energy is its ACT + bytes + refresh counts priced with O'Connor's figures
        d = r.actions["dram"]
        dram = (
            d["activations"] * 909.0
            + (d["bytes_read"] + d["bytes_written"]) * 8 * (1.51 + 1.17 + 0.80)
            + d["refreshes"] * table.primitive_pj("dram_refresh_pj")
        )
        assert rep.by_category_pj["dram"] == pytest.approx(dram)


def test_power_of_the_runs_is_in_a_physical_range(runs):
    """Sanity: on-chip power of a busy SpAtten stays below the paper's 2.6 W on-chip x 1.5 and
    above a tenth of it; a table or count error of 10x would leave this range."""
    cfg, out = runs
    table = load_energy_table(cfg.energy.table)
    r = out["summarization"]
    rep = compute_energy(r.actions, r.params, r.cycles / (cfg.clock_ghz * 1e9), table)
    on_chip_w = (
        rep.average_power_mw["compute"]
        + rep.average_power_mw["sram"]
        + rep.average_power_mw["leakage"]
    ) / 1e3
    assert 0.26 < on_chip_w < 1.5 * (1.36 + 1.24)
