"""Looking inside a run: the pruning heat map (``plot --pruning``) and the timeline's layer /
iteration band and automatic window (``plot --timeline``); spatten_sim.plots.inside."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from spatten_sim.cli import main
from spatten_sim.errors import SpattenError
from spatten_sim.plots import figures, inside, load_timeline, plot_run
from spatten_sim.pruning_map import PruningMap, load_pruning, pruning_map

REPO = Path(__file__).resolve().parents[2]
MINILM = REPO / "traces" / "minilm-sst-25.npz"
SMOLLM2 = REPO / "traces" / "smollm2-wiki-96+16.npz"
GPT2_SMALL = REPO / "traces" / "official" / "summary-gpt2-small-wikitext2-per8.csv"


def _map(path) -> PruningMap:
    from spatten_sim.config import load_config
    from spatten_sim.pipeline import load_workload

    wl, kind = load_workload(load_config("spatten"), path)
    return pruning_map(wl, kind)


@pytest.fixture(scope="module")
def smollm2_map() -> PruningMap:
    return _map(SMOLLM2)


def test_heat_map_of_an_encoder_shows_the_masks():
    pm = _map(MINILM)
    fig = inside.pruning_heatmap(pm)
    tok, heads = fig.axes[0], fig.axes[1]
    assert pm.token_mask is not None
    np.testing.assert_array_equal(tok.images[0].get_array(), pm.token_mask[0])
    np.testing.assert_array_equal(heads.images[0].get_array(), pm.head_mask[0])
    last = int(pm.tokens_kept[0, -1])
    assert tok.get_title() == f"summarization: {last} of 25 tokens kept at the last layer"
    assert tok.get_ylabel() == "layer" and "no text" in tok.get_xlabel()
    assert heads.get_title().startswith("Heads kept per layer") and heads.get_xlabel() == "head"
    assert "dark: kept" in fig.get_suptitle()


def test_heat_map_of_a_decoder_picks_passes(smollm2_map):
    pm = smollm2_map
    fig = inside.pruning_heatmap(pm)
    titles = [ax.get_title() for ax in fig.axes[:4]]
    assert [t.split(":")[0] for t in titles] == [
        "summarization", "generation 1", "generation 9", "generation 16",
    ]  # fmt: skip
    assert "of 112 tokens" in titles[3]  # 96 prompt + 16 generated
    assert fig.axes[3].images[0].get_array().shape == (30, 112)
    share = fig.axes[4].images[0].get_array()
    np.testing.assert_allclose(share, pm.head_mask.mean(axis=0))
    assert "share of 17 passes" in fig.axes[4].get_title()
    two = inside.pruning_heatmap(pm, iterations=[16, 0])
    assert [ax.get_title().split(":")[0] for ax in two.axes[:2]] == [
        "generation 16",
        "summarization",
    ]
    with pytest.raises(SpattenError, match=r"no pass 40 \(it has 0..16"):
        inside.pruning_heatmap(pm, iterations=[40])


def test_heat_map_of_an_official_csv_says_counts():
    pm = _map(GPT2_SMALL)
    fig = inside.pruning_heatmap(pm)
    assert "counts only" in fig.get_suptitle()
    ax = fig.axes[0]
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), pm.tokens_kept.T)
    assert ax.get_xlabel() == "generation iteration"
    with pytest.raises(SpattenError, match="token counts only"):
        inside.pruning_heatmap(pm, iterations=[1])


def test_token_text_goes_on_the_axis():
    pm = _map(MINILM)
    words = tuple(f"w{i}" for i in range(25))
    fig = inside.pruning_heatmap(replace(pm, token_text=words))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == list(words)
    assert fig.axes[0].get_xlabel() == "token"


def test_no_data_no_figure():
    pm = _map(MINILM)
    empty = replace(pm, present=np.zeros_like(pm.present))
    with pytest.raises(SpattenError, match="no layer jobs"):
        inside.pruning_heatmap(empty)


def test_auto_window_rules():
    rows = [
        {"stage": "summarization", "iteration": 0, "start_cycle": 0, "end_cycle": 150_000},
        {"stage": "generation", "iteration": 1, "start_cycle": 150_000, "end_cycle": 151_000},
        {"stage": "generation", "iteration": 1, "start_cycle": 151_000, "end_cycle": 153_000},
        {"stage": "generation", "iteration": 2, "start_cycle": 153_000, "end_cycle": 160_000},
    ]
    iv = [("qxk", "busy", 0, 10)]
    assert inside.auto_window(iv, rows, 160_000) == (
        (150_000, 153_000),
        "generation iteration 1 (the first)",
    )
    assert inside.auto_window(iv, rows, 90_000, long_run=200_000) is None
    # an encoder: the busiest window, around the dense cluster at 300k..310k
    enc = rows[:1]
    busy = [("qxk", "busy", a, a + 8) for a in range(0, 400_000, 1000)]
    busy += [
        (u, "busy", a, a + 10) for u in ("qxk", "softmax") for a in range(300_000, 310_000, 10)
    ]
    busy += [("qxk", "stall", 0, 400_000)]  # stalls do not count
    (lo, hi), why = inside.auto_window(busy, enc, 400_000)
    assert hi - lo == inside.AUTO_WINDOW_CYCLES and lo <= 300_000 and hi >= 310_000
    assert why == "the busiest 20,000 cycles"


def test_timeline_with_marks(run_dir):
    iv = load_timeline(run_dir)
    rows = inside.load_layer_rows(run_dir)
    marks = inside.layer_marks(rows)
    assert marks is not None and len(marks.layers) == len(rows) == 6
    assert marks.iterations == (("summarization", 0, max(r["end_cycle"] for r in rows)),)
    units = ["fetcher", "qxk", "softmax", "probxv"]
    fig = figures.timeline(iv, units=units, marks=marks, note="cycles 0 to 9 (test)")
    ax, band = fig.axes[0], fig.axes[1]
    # the Gantt comes first, its units named as in every figure
    assert [t.get_text() for t in ax.get_yticklabels()] == ["fetcher", "QxK", "softmax", "probxV"]
    assert [t.get_text() for t in band.get_yticklabels()] == ["layer", "iteration"]
    labels = {t.get_text() for t in band.texts}
    assert {"summarization", "L0"} <= labels
    assert len(band.collections) == 1 + 6  # one pass span, six layer spans
    assert band.get_title().endswith("cycles 0 to 9 (test)")
    assert band.get_xlim() == ax.get_xlim()


def test_plot_run_auto_window_and_pruning(tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert main(["run", "spatten", str(MINILM), "--timeline", "-o", str(out), "-q"]) == 0
    assert load_pruning(out).token_mask is not None
    monkeypatch.setattr(inside, "LONG_RUN_CYCLES", 5_000)
    monkeypatch.setattr(inside, "AUTO_WINDOW_CYCLES", 4_000)
    seen = {}
    real = figures.timeline

    def spy(*a, **kw):
        fig = real(*a, **kw)
        seen["fig"] = fig
        return fig

    monkeypatch.setattr(figures, "timeline", spy)
    paths = plot_run(out, tmp_path / "p", pruning=True)
    assert [p.name for p in paths][-2:] == ["timeline.png", "pruning.png"]
    ax, band = seen["fig"].axes[:2]
    lo, hi = ax.get_xlim()
    assert hi - lo == 4_000
    assert "the busiest 4,000 cycles (automatic window)" in band.get_title()
    plot_run(out, tmp_path / "p", window=(10, 20))
    assert seen["fig"].axes[0].get_xlim() == (10, 20)
    assert "(--window)" in seen["fig"].axes[1].get_title()
    plot_run(out, tmp_path / "p", window="all")
    assert seen["fig"].axes[0].get_xlim()[0] == 0 and "\n" not in seen["fig"].axes[1].get_title()


def test_plot_cli_pruning(tmp_path, run_dir, sweep_dir, capsys):
    out = tmp_path / "run"
    assert main(["run", "spatten", str(MINILM), "-o", str(out), "-q"]) == 0
    assert main(["plot", str(out), "-o", str(tmp_path / "p"), "--pruning"]) == 0
    assert (tmp_path / "p" / "pruning.png").stat().st_size > 5000
    capsys.readouterr()
    # the conftest's run folder was written by Report.write_dir: no pruning.npz
    for argv, message in (
        ([str(run_dir), "--pruning"], "no pruning map"),
        ([str(sweep_dir), "--pruning"], "--pruning needs a run folder"),
        ([str(out), "--iterations", "0"], "add --pruning"),
        ([str(out), "--pruning", "--iterations", "x"], "expected numbers"),
        ([str(out), "--pruning", "--iterations", "3"], "no pass 3"),
    ):
        target = tmp_path / "empty"
        assert main(["plot", *argv, "-o", str(target)]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err
        assert not list(target.glob("*.png"))  # nothing drawn, nothing empty written


def test_plot_help_explains_pruning_and_windows(capsys):
    with pytest.raises(SystemExit):
        main(["plot", "--help"])
    out = capsys.readouterr().out
    for text in (
        "--pruning",
        "--iterations",
        "automatic window",
        "'all'",
        "--pruning --iterations",
    ):
        assert text in out, text
