"""plots/make_all.py rebuilds every committed figure from committed inputs."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLOTS = REPO / "plots"


@pytest.fixture(scope="module")
def make_all():
    spec = importlib.util.spec_from_file_location("make_all", PLOTS / "make_all.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_all"] = mod
    spec.loader.exec_module(mod)
    return mod


def _drawn_names(make_all) -> set[str]:
    from spatten_sim.validate.figures import FIGURE_NAMES

    names = {f"{n}.png" for n, _ in make_all.sweep_figures()} | {"dram_latency_bandwidth.png"}
    names |= {f"validation/{n}.png" for n in FIGURE_NAMES}
    names |= {f"validation/quick/{n}.png" for n in FIGURE_NAMES if n != "topk_dse"}
    return names


def test_every_committed_figure_is_drawn_by_make_all(make_all) -> None:
    committed = {p.relative_to(PLOTS).as_posix() for p in PLOTS.rglob("*.png")}
    assert committed == _drawn_names(make_all)


def test_every_readme_figure_is_drawn_by_make_all(make_all) -> None:
    readme = (REPO / "README.md").read_text()
    shown = set(re.findall(r"\]\(plots/([^)]+\.png)\)", readme))
    assert shown and shown <= _drawn_names(make_all)


def test_committed_inputs_are_current(make_all) -> None:
    # no sweep would be re-run: the recorded spaces are those of hw_configs/sweeps/
    assert [n for n in make_all.SWEEPS if make_all.stale(n)] == []
    for sub in ("validation", "validation/quick"):
        assert (PLOTS / sub / "figures.json").is_file()


@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_redraws_from_committed_data(make_all, tmp_path: Path, fmt: str) -> None:
    names = ["sweep_kv_sram", "sweep_topk_comparators", "validation/breakdown"]
    args = ["--out", str(tmp_path), "--format", fmt]
    assert make_all.main([*args, *(a for n in names for a in ("--only", n))]) == 0
    # the full validation has the comparator sweep: all three of its figures
    for n in ("sweep_kv_sram", "sweep_topk_comparators", "validation/breakdown",
              "validation/power", "validation/topk_dse"):  # fmt: skip
        p = tmp_path / f"{n}.{fmt}"
        assert p.stat().st_size > 1000, p
    assert not (tmp_path / "validation" / "quick").exists()  # not asked for
