"""Replay of the official SpAtten workload CSVs (docs/spatten.md §6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spatten_sim.config import load_config
from spatten_sim.errors import WorkloadError
from spatten_sim.shipped import official_workload
from spatten_sim.workload_csv import COLUMNS, load_official_csv

SMALL = official_workload("gpt2-small")
MEDIUM = official_workload("gpt2-medium")
assert SMALL is not None and MEDIUM is not None, "the official workloads ship with the package"


@pytest.fixture(scope="module")
def cfg():
    return load_config("spatten", ["memory.preset=ideal"])


@pytest.fixture(scope="module")
def small(cfg):
    return load_official_csv(SMALL, cfg)


@pytest.fixture(scope="module")
def medium(cfg):
    return load_official_csv(MEDIUM, cfg)


def test_small_shape_and_keys_per_layer(small):
    assert (small.n_layers, small.n_heads, small.head_dim) == (12, 12, 64)
    assert (small.prompt_tokens, small.generated_tokens) == (992, 32)
    assert len(small.layers) == 12 * 32
    expected = [921, 716] + [204] * 4 + [102] * 6
    for it in range(2, 33):
        kept = [lj.tokens_kept for lj in small.layers if lj.iteration == it]
        assert kept == expected
    first = [lj for lj in small.layers if lj.iteration == 1]
    assert all(lj.tokens_kept == lj.tokens_total == 993 for lj in first)
    assert [lj.tokens_total for lj in small.layers if lj.layer == 0] == list(range(993, 1025))


def test_small_bit_mapping_rounding_and_requant(small):
    hj = list(small.head_jobs())
    assert all(h.stage == "generation" and h.n_queries == 1 for h in hj)
    assert all(h.bits.k_msb == 6 and h.bits.k_lsb == 4 and h.bits.v_msb == 6 for h in hj)
    assert all(h.n_keys % 8 == 0 and h.v_kept[0] % 8 == 0 for h in hj)
    lj = next(lj for lj in small.layers if lj.iteration == 2 and lj.layer == 0)
    assert {h.n_keys for h in lj.heads} == {928}  # 921 rounded up to a multiple of 8
    assert {int(h.v_kept[0]) for h in lj.heads} == {184}
    req = np.array([h.requant[0] for h in hj])
    assert 0.06 < req.mean() < 0.08  # 7.0 % [D]
    for h in hj:
        assert h.k_lsb_fetch.size == (h.n_keys if h.requant[0] else 0)
        assert h.k_msb_fetch.size == h.n_keys and h.v_fetch.size == h.v_kept[0]
        assert np.all(np.isin(h.v_fetch, h.k_msb_fetch))
    # fused 6-bit pairs: only the first request of a pair carries the local-V top-k latency
    cyc = np.array([h.local_topk_cycles[0] for h in hj])
    assert np.all(cyc[1::2] == 0) and np.all(cyc[0::2] > 0)


def test_small_token_topk_calls(small):
    calls = [(lj.iteration, lj.layer, lj.token_topk) for lj in small.layers if lj.token_topk]
    assert len(calls) == 124
    it2 = [(layer, c.k) for it, layer, c in calls if it == 2]
    assert it2 == [(0, 921), (1, 716), (2, 204), (6, 102)]
    assert all(c.cycles > 0 and c.k <= c.n for _, _, c in calls)


@pytest.mark.parametrize("which", ["small", "medium"])
def test_latency_draws_are_the_driver_calls_in_file_order(which, cfg, request):
    """The importer draws all latencies in one batch: the same figures as the official driver's
    calls one at a time, in file order, from one Generator (local-V top-k of each request, the
    first of a fused 6-bit pair only, then an if_topk row's token top-k)."""
    from spatten_sim.algo.topk import official_topk_latency
    from spatten_sim.workload_csv import read_official_rows

    wl = request.getfixturevalue(which)
    rows, _ = read_official_rows(SMALL if which == "small" else MEDIUM)
    gen = np.random.default_rng(cfg.policy.topk_seed)
    p, ovh = cfg.topk.comparators, cfg.topk.round_overhead_cycles
    local, token = [], []
    part = 0
    for r in rows:
        if r.quant_key_bit == 6:
            local.append(official_topk_latency(r.key_fetch_num, r.value_fetch_num, p, ovh, gen)[0]
                         if part % 2 == 0 else 0)  # fmt: skip
            part += 1
        else:
            local.append(official_topk_latency(r.key_fetch_num, r.value_fetch_num, p, ovh, gen)[0])
            part = 0
        if r.if_topk:
            n = r.sentence_length if r.if_rescale_previous_importance else r.key_fetch_num
            token.append(official_topk_latency(max(n, r.topk), r.topk, p, ovh, gen)[0])
    assert [int(h.local_topk_cycles[0]) for h in wl.head_jobs()] == local
    assert [lj.token_topk.cycles for lj in wl.layers if lj.token_topk] == token


def test_key_ids_nested_and_never_restored(small):
    keys = {}
    for lj in small.layers:
        ids = set(lj.heads[0].k_msb_fetch.tolist())
        keys[(lj.iteration, lj.layer)] = ids
        for h in lj.heads:
            assert h.query_ids[0] == lj.tokens_total - 1
            assert h.query_ids[0] in set(h.k_msb_fetch.tolist())
            assert h.k_msb_fetch.max() < small.prompt_tokens + small.generated_tokens
    for (it, layer), ids in keys.items():
        if layer > 0 and keys[(it, layer - 1)]:
            inside = {i for i in ids if i < 992 + it}
            assert inside <= keys[(it, layer - 1)]
        if it > 1:
            new = 992 + it - 1
            inside = {i for i in ids if i < 992 + it - 1}
            assert inside - {new} <= keys[(it - 1, layer)]


def test_medium_heads_forced_lsb_and_values(medium):
    assert (medium.n_layers, medium.n_heads) == (24, 16)
    for lj in medium.layers:
        want = 16 if lj.layer < 16 else 13 if lj.layer < 22 else 10
        assert lj.heads_kept == want == len(lj.heads)
    hj = list(medium.head_jobs())
    # key bits 12 -> 8 MSB + forced 4-bit LSB re-fetch; value bits 8
    assert all(h.bits.k_msb == 8 and h.bits.k_lsb == 4 and h.bits.v_msb == 8 for h in hj)
    assert all(h.requant[0] and h.k_lsb_fetch.size == h.n_keys for h in hj)
    ratio = sum(int(h.v_kept[0]) for h in hj) / sum(h.n_keys for h in hj)
    assert 0.28 < ratio < 0.33
    assert all(h.local_topk_cycles[0] > 0 for h in hj)
    assert medium.notes["forced_requant_rows"] == len(hj)


def test_import_is_deterministic_and_seeded(cfg, small):
    again = load_official_csv(SMALL, cfg)
    for a, b in zip(small.head_jobs(), again.head_jobs(), strict=True):
        assert np.array_equal(a.k_msb_fetch, b.k_msb_fetch)
        assert np.array_equal(a.v_fetch, b.v_fetch)
        assert np.array_equal(a.local_topk_cycles, b.local_topk_cycles)
    other = load_official_csv(SMALL, load_config("spatten", ["policy.topk_seed=7"]))
    assert any(
        not np.array_equal(a.k_msb_fetch, b.k_msb_fetch)
        for a, b in zip(small.head_jobs(), other.head_jobs(), strict=True)
    )


# --------------------------------------------------------------------------------------------
# bad files
GOOD_ROW = "0,0,0,64.0,5,5,6,16,0.05,False,4,2,6,True,False,False,-1"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "w.csv"
    p.write_text(text)
    return p


def test_tiny_valid_file_imports(tmp_path, cfg):
    text = ",".join(COLUMNS) + "\n" + GOOD_ROW + "\n" + GOOD_ROW.replace("0,0,0,", "0,0,1,", 1)
    wl = load_official_csv(write(tmp_path, text + "\nconfigs/x.yml" + "," * 16 + "\n"), cfg)
    assert wl.n_heads == 2 and wl.prompt_tokens == 4 and wl.generated_tokens == 1
    assert wl.notes["official_config"] == "configs/x.yml"
    h = wl.layers[0].heads[0]
    assert h.n_keys == 8 and h.k_msb_fetch.size == 5  # rounded count, ids within the trace


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty file"),
        (",".join(COLUMNS) + "\n", "no workload rows"),
        (",".join(c for c in COLUMNS if c != "topk") + "\n" + GOOD_ROW, "missing column 'topk'"),
        (",".join(COLUMNS) + "\n" + GOOD_ROW.replace(",5,5,", ",5,x,"), "key_fetch_num"),
        (",".join(COLUMNS) + "\n" + GOOD_ROW.replace("False,4", "maybe,4"), "if_requant"),
        (",".join(COLUMNS) + "\n" + GOOD_ROW.replace(",5,5,", ",5,9,"), "key_fetch_num 9"),
        (",".join(COLUMNS) + "\n" + GOOD_ROW.replace(",6,16,", ",7,16,"), "quant_key_bit"),
        (",".join(COLUMNS) + "\n" + GOOD_ROW.replace(",6,16,", ",,16,"), "empty value"),
        (
            ",".join(COLUMNS)
            + "\n"
            + GOOD_ROW
            + "\n"
            + GOOD_ROW.replace("0,0,0,", "0,1,0,", 1)
            + "\n"
            + GOOD_ROW.replace("0,0,0,", "0,0,1,", 1),
            r"\(0, 0, 1\) comes before line 3's \(0, 1, 0\): rows must be sorted",
        ),
        (",".join(COLUMNS) + "\n" + GOOD_ROW + "\n" + GOOD_ROW, r"\(0, 0, 0\) repeats"),
        (
            ",".join(COLUMNS) + "\n" + GOOD_ROW.replace("0,0,0,", "0,0,1000000000,", 1),
            "line 2: head_id 1000000000: at most 4,096 heads",
        ),
        (
            ",".join(COLUMNS) + "\n" + GOOD_ROW.replace("0,0,0,", "0,1e20,0,", 1),
            "line 2: layer_id .*: at most 1,024 layers",
        ),
        (
            ",".join(COLUMNS) + "\n" + GOOD_ROW.replace(",5,5,", ",1000000000000,5,", 1),
            "line 2: sentence_length_L 1000000000000: at most 1,048,576 tokens",
        ),
        (
            ",".join(COLUMNS) + "\n" + GOOD_ROW.replace("0,0,0,", "1000000,0,0,", 1),
            "line 2: iteration_id 1000000: at most 65,536 iterations",
        ),
    ],
)
def test_bad_files_refused_with_one_line(tmp_path, cfg, text, match):
    with pytest.raises(WorkloadError, match=match) as exc:
        load_official_csv(write(tmp_path, text), cfg)
    assert "\n" not in str(exc.value)


def test_missing_file_refused(tmp_path, cfg):
    with pytest.raises(WorkloadError, match="no such file"):
        load_official_csv(tmp_path / "nope.csv", cfg)
