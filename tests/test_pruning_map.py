"""``pruning.npz``: the tokens and heads kept at each layer (spatten_sim.pruning_map).

The masks must be what cascade pruning decides (docs/spatten.md §2): as many kept tokens and
heads as the layer jobs say, nested from layer to layer, never coming back in a later iteration,
and a generation iteration's own token always kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spatten_sim.cli import main
from spatten_sim.errors import SpattenError
from spatten_sim.pruning_map import load_pruning, pruning_map

ROOT = Path(__file__).resolve().parents[1]
MINILM = ROOT / "traces" / "minilm-sst-25.npz"
SMOLLM2 = ROOT / "traces" / "smollm2-wiki-96+16.npz"
GPT2_SMALL = ROOT / "traces" / "official" / "summary-gpt2-small-wikitext2-per8.csv"


def _map(path, preset="spatten"):
    from spatten_sim.config import load_config
    from spatten_sim.pipeline import load_workload

    wl, kind = load_workload(load_config(preset), path)
    return wl, pruning_map(wl, kind)


def test_encoder_masks_follow_the_cascade():
    wl, pm = _map(MINILM)
    assert pm.input_kind == "trace" and pm.stages == ("summarization",)
    assert pm.token_mask is not None and pm.token_mask.shape == (1, 6, 25)
    for lj in wl.layers:
        assert pm.token_mask[0, lj.layer].sum() == lj.tokens_kept
        assert pm.head_mask[0, lj.layer].sum() == lj.heads_kept
        assert set(np.flatnonzero(pm.head_mask[0, lj.layer])) == {h.head for h in lj.heads}
        assert set(np.flatnonzero(pm.token_mask[0, lj.layer])) == set(lj.heads[0].query_ids)
    m = pm.token_mask[0]
    assert (m[1:] <= m[:-1]).all()  # a pruned token never comes back in a later layer
    assert m[0].all() and not m[-1].all()  # the spatten preset prunes
    h = pm.head_mask[0]
    assert (h[1:] <= h[:-1]).all()


def test_decoder_masks_across_iterations():
    wl, pm = _map(SMOLLM2)
    assert pm.token_mask is not None
    assert pm.stages[0] == "summarization" and list(pm.iterations) == list(range(17))
    assert (pm.token_mask.sum(axis=2) == pm.tokens_kept).all()
    assert (pm.head_mask.sum(axis=2) == pm.heads_kept).all()
    prompt = wl.prompt_tokens
    for p in range(1, pm.n_passes):
        t = prompt + int(pm.iterations[p]) - 1  # the iteration's own token
        assert pm.token_mask[p, :, t].all()
        assert not pm.token_mask[p, :, t + 1 :].any()  # no future token
        # tokens pruned at a layer in an earlier pass stay pruned there
        assert (pm.token_mask[p, :, :t] <= pm.token_mask[p - 1, :, :t]).all()
        assert (pm.head_mask[p] <= pm.head_mask[p - 1]).all()
        assert (pm.tokens_total[p] == prompt + pm.iterations[p]).all()


def test_official_csv_has_counts_and_heads_only(tmp_path):
    wl, pm = _map(GPT2_SMALL)
    assert pm.input_kind == "official-csv" and pm.token_mask is None
    assert pm.stages == ("generation",) * 32 and list(pm.iterations) == list(range(1, 33))
    for lj in wl.layers:
        p = int(lj.iteration) - 1
        assert pm.tokens_kept[p, lj.layer] == lj.tokens_kept
        assert pm.head_mask[p, lj.layer].sum() == lj.heads_kept == len(lj.heads)
    back = load_pruning(pm.save(tmp_path / "p.npz"))
    assert back.token_mask is None and back.input_kind == "official-csv"
    np.testing.assert_array_equal(back.tokens_kept, pm.tokens_kept)


def test_save_load_round_trip_and_errors(tmp_path):
    _, pm = _map(MINILM)
    path = pm.save(tmp_path / "pruning.npz")
    back = load_pruning(tmp_path)  # a run folder, or the file
    assert back.stages == pm.stages and back.token_text is None
    for name in ("iterations", "present", "tokens_total", "tokens_kept", "heads_kept",
                 "head_mask", "token_mask"):  # fmt: skip
        np.testing.assert_array_equal(getattr(back, name), getattr(pm, name))
    with np.load(path) as z:
        assert not any(z[k].dtype == object for k in z.files)  # no pickles
    with pytest.raises(SpattenError, match="no pruning map"):
        load_pruning(tmp_path / "nothing")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(SpattenError, match="not a pruning map"):
        load_pruning(tmp_path / "bad.npz")
    np.savez(tmp_path / "shape.npz", **{**_arrays(path), "heads_kept": np.zeros((2, 2))})
    with pytest.raises(SpattenError, match="disagree in shape"):
        load_pruning(tmp_path / "shape.npz")


def _arrays(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def test_run_output_folder_has_pruning_npz(tmp_path):
    out = tmp_path / "run"
    assert main(["run", "spatten", str(MINILM), "-o", str(out), "-q"]) == 0
    pm = load_pruning(out)
    assert pm.token_mask is not None and pm.token_mask[0, -1].sum() == pm.tokens_kept[0, -1]
    assert not (out / "timeline.json").exists()  # only with --timeline
