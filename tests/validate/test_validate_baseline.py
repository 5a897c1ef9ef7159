"""The dense fp32 DRAM baseline (computed from the shape) agrees with the simulated dense
datapath, and workload sharing between runs never changes a result."""

from __future__ import annotations

from spatten_sim.pipeline import load_workload, simulate
from spatten_sim.validate import measures as m
from spatten_sim.validate.context import Context, functional_key, repo_root

TRACES = repo_root() / "traces"


def test_dense_bytes_match_the_simulated_dense_preset_d64() -> None:
    path = TRACES / "smollm2-wiki-96+16.npz"  # D = 64, GQA, summarization + generation
    rep = simulate("dense", path)
    assert m.dense_bytes(rep.get("input"), 12) == rep.get("dram.bytes_read")


def test_dense_bytes_match_the_simulated_dense_preset_d32() -> None:
    rep = simulate("dense", TRACES / "minilm-sst-25.npz")
    i = rep.get("input")
    sim, ours = rep.get("dram.bytes_read"), m.dense_bytes(i, 12)
    # the simulator packs a head's 48-B rows and rounds each Q/K/V block to 32-B transactions
    assert 0 <= sim - ours < 3 * i["n_layers"] * i["n_heads"] * 32


def test_dense_bytes_formula_by_hand() -> None:
    shape = {
        "n_layers": 2,
        "n_heads": 4,
        "n_kv_heads": 2,
        "head_dim": 64,
        "prompt_tokens": 10,
        "generated_tokens": 2,
    }
    rows = 2 * ((4 * 10 + 2 * 2 * 10) + (4 + 2 * 2 * 11) + (4 + 2 * 2 * 12))
    assert m.dense_bytes(shape, 32) == rows * 256
    assert m.dense_bytes(shape, 12) == rows * 96


def test_functional_key_covers_what_the_functional_phase_reads() -> None:
    # spatten and spatten_1_8 differ only in hardware the functional phase does not read:
    # the shared workload must equal the one built for spatten_1_8 itself
    from spatten_sim.config import load_config

    path = TRACES / "minilm-sst-25.npz"
    a, b = load_config("spatten"), load_config("spatten_1_8")
    assert functional_key(a) == functional_key(b)
    wa, wb = load_workload(a, path)[0], load_workload(b, path)[0]
    ja, jb = list(wa.head_jobs()), list(wb.head_jobs())
    assert len(ja) == len(jb)
    for x, y in zip(ja, jb, strict=True):
        assert (x.layer, x.head, x.n_keys) == (y.layer, y.head, y.n_keys)
        assert (x.v_kept == y.v_kept).all() and (x.requant == y.requant).all()
        assert (x.k_msb_fetch == y.k_msb_fetch).all()
    assert functional_key(a) != functional_key(load_config("spatten", ["topk.comparators=4"]))


def test_context_shares_equal_configs() -> None:
    ctx = Context(quick=True)
    path = TRACES / "minilm-sst-25.npz"
    r1 = ctx.simulate("spatten", path)
    r2 = ctx.simulate("ablation/5_progressive_quant", path)  # same resolved config
    assert r1 is r2
    direct = simulate("spatten_1_8", path)
    shared = ctx.simulate("spatten_1_8", path)  # reuses spatten's workload
    assert shared.get("cycles") == direct.get("cycles")
    assert shared.get("dram.bytes_read") == direct.get("dram.bytes_read")
    assert len(ctx.reports()) == 2
