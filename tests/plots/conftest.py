"""A small real sweep and a run folder with a timeline, shared by the plot tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TRACE = REPO / "traces" / "minilm-sst-25.npz"


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory) -> Path:
    """2 keep ratios x 2 channel counts on the shortest trace, plus a zipped SRAM pair."""
    from spatten_sim.sweep import run_sweep

    root = tmp_path_factory.mktemp("plotsweep")
    space = root / "space.yaml"
    space.write_text(
        yaml.safe_dump(
            {
                "name": "plot-test",
                "base": "spatten",
                "traces": [str(TRACE)],
                "axes": {
                    "policy.token_pruning.end_keep_ratio": [0.2, 0.8],
                    "memory.channels": [2, 16],
                },
                "zip": [
                    {
                        "buffers.key_sram_bytes": [196608],
                        "buffers.value_sram_bytes": [196608],
                    }
                ],
            },
            sort_keys=False,
        )
    )
    out = root / "results"
    s = run_sweep(space, out, jobs=1, show_progress=False).summary
    assert s.ok == 4
    return out


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    from spatten_sim.config import load_config
    from spatten_sim.pipeline import simulate

    cfg = load_config("spatten")
    rep = simulate(cfg, TRACE, record_timeline=True)
    return rep.write_dir(tmp_path_factory.mktemp("run") / "minilm", cfg.to_yaml())
