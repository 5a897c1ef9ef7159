"""The extraction is checked against the models themselves.

For every supported model: softmax(scale * Q K^T + bias, causal mask) of the stored arrays equals the
model's own attention probabilities (``output_attentions`` with eager attention), and the stored V
times those probabilities equals what the model feeds its output projection. For the decoder, the
greedy loop gives the same tokens as transformers' ``generate``.

Gemma 3 (about 5 s per load, 0.4 s per generated token) has one test in the fast suite, the
agreement on a short text; the shared checks of it and its sliding window (a prompt longer than
the window) are marked slow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spatten_sim.errors import SpattenError
from spatten_sim.extract.extractor import Extraction, ExtractRequest, extract
from spatten_sim.trace import Trace, load_trace, save_trace

pytestmark = pytest.mark.trace_extra

TRACES = Path(__file__).resolve().parents[2] / "traces"

#: model -> (text, sample, tokens, generate): small but real inputs
REQUESTS = {
    "minilm": ("sst", 53, None, 0),
    "mpnet": ("wiki", 40, 96, 0),
    "smollm2": ("wiki", 0, 40, 8),
    "gemma3": ("wiki", 0, 32, 2),
}
#: decoder -> (n_heads, n_kv_heads, head_dim)
DECODERS = {"smollm2": (9, 3, 64), "gemma3": (4, 1, 256)}
#: models whose shared checks are slow (the fast suite checks them once, below)
SLOW = {"gemma3"}


def _models(models: Iterable[str]) -> list[Any]:
    return [pytest.param(m, marks=pytest.mark.slow) if m in SLOW else m for m in sorted(models)]


Extract = Callable[[str, str], Extraction]


@pytest.fixture(scope="module")
def extracted(cache: Path) -> Extract:
    """``extracted(model, dtype)``: the extraction of ``REQUESTS[model]``, made once per module."""
    memo: dict[tuple[str, str], Extraction] = {}

    def get(model: str, dtype: str) -> Extraction:
        if (model, dtype) not in memo:
            text, sample, tokens, gen = REQUESTS[model]
            req = ExtractRequest(model, text, sample, tokens, gen, dtype=dtype, reference=True)
            memo[model, dtype] = extract(req, cache, progress=False)
        return memo[model, dtype]

    return get


def _max_err(ex: Extraction) -> float:
    assert ex.reference is not None
    t = ex.trace
    return max(
        float(np.abs(t.probabilities(layer) - ex.reference[layer]).max())
        for layer in range(t.meta.n_layers)
    )


@pytest.mark.parametrize("model", _models(REQUESTS))
def test_stored_qk_give_the_models_own_attention(model: str, extracted: Extract) -> None:
    ex32 = extracted(model, "float32")
    err32 = _max_err(ex32)
    assert err32 < 1e-5, f"{model} float32: max |p - p_model| = {err32:.3g}"
    ex16 = extracted(model, "float16")
    err16 = _max_err(ex16)
    assert err16 < 1e-2, f"{model} float16: max |p - p_model| = {err16:.3g}"
    print(f"{model}: max abs error float32 {err32:.2e}, float16 {err16:.2e}")
    # the reference is the model's attention, not a copy of ours: it sums to one per row
    assert ex32.reference is not None and np.allclose(ex32.reference[0].sum(-1), 1, atol=1e-5)


@pytest.mark.parametrize("model", _models(REQUESTS))
def test_stored_v_gives_the_models_attention_output(
    model: str, extracted: Extract, cache: Path
) -> None:
    """P V of the stored arrays equals the input of each layer's attention output projection."""

    from spatten_sim.extract.models import load_model

    ex = extracted(model, "float32")
    _check_pv(ex.trace, load_model(model, cache).model, model)


def _check_pv(t: Trace, model: Any, key: str) -> None:
    import torch

    if key in DECODERS:
        base = model.model
        outs = [lyr.self_attn.o_proj for lyr in base.layers]
    elif key == "mpnet":
        base = model
        outs = [lyr.attention.attn.o for lyr in base.encoder.layer]
    else:
        base = model
        outs = [lyr.attention.output.dense for lyr in base.encoder.layer]
    assert t.token_ids is not None
    ids = t.token_ids.tolist()
    seen: list[np.ndarray] = []
    handles = [
        o.register_forward_pre_hook(lambda _m, args: seen.append(args[0][0].float().numpy()))
        for o in outs
    ]
    try:
        with torch.inference_mode():
            base(input_ids=torch.tensor([ids]))
    finally:
        for h in handles:
            h.remove()
    assert len(seen) == t.meta.n_layers
    for layer in range(t.meta.n_layers):
        p = t.probabilities(layer)
        v = np.repeat(t.v[layer], t.group_size, axis=0)
        ctx = np.einsum("hts,hsd->thd", p, v).reshape(t.meta.tokens, -1)
        # float32 rounding grows with the values (Gemma's reach |x| ~ 10)
        tol = 1e-4 * max(1.0, float(np.abs(seen[layer]).max()))
        assert np.abs(ctx - seen[layer]).max() < tol, f"{key} layer {layer}"


@pytest.mark.parametrize("model", _models(DECODERS))
def test_decoder_trace_holds_prompt_and_greedy_generation(
    model: str, extracted: Extract, cache: Path
) -> None:
    import torch

    from spatten_sim.extract.models import load_model

    ex = extracted(model, "float16")
    m = ex.trace.meta
    _, _, prompt, gen = REQUESTS[model]
    assert prompt is not None
    assert (m.prompt_tokens, m.generated_tokens, m.tokens, m.causal) == (
        prompt,
        gen,
        prompt + gen,
        True,
    )
    assert (m.n_heads, m.n_kv_heads, m.head_dim) == DECODERS[model]
    lm = load_model(model, cache)
    ids = ex.trace.token_ids
    assert ids is not None
    with torch.inference_mode():
        ref = lm.model.generate(
            torch.tensor([ids[:prompt].tolist()]),
            max_new_tokens=gen,
            min_new_tokens=gen,
            do_sample=False,
        )
    assert ref[0].tolist() == ids.tolist()
    assert m.extra["generated_text"] == lm.tokenizer.decode(ids[prompt:].tolist())


def test_model_facts_are_the_loaded_models(cache: Path) -> None:
    """FACTS (known without loading a model) equal what the loaded models say about themselves
    (gemma3's: in the test below)."""
    from spatten_sim.extract.models import FACTS, MODELS, load_model

    assert set(FACTS) == set(MODELS)
    for key in sorted(set(MODELS) - SLOW):
        assert load_model(key, cache).facts == FACTS[key], key


def test_gemma3_short_text_agreement(extracted: Extract, cache: Path) -> None:
    """Gemma 3 on 32 + 2 tokens: the stored Q/K (after q_norm/k_norm and RoPE) give the model's
    own attention, with its softmax scale; P V is what the output projection receives. Within the
    512-token window the sliding layers see every earlier token, so there is no bias."""
    from spatten_sim.extract.models import FACTS, load_model

    ex = extracted("gemma3", "float32")
    err32 = _max_err(ex)
    assert err32 < 1e-5, f"gemma3 float32: max |p - p_model| = {err32:.3g}"
    t = ex.trace
    assert ex.reference is not None and np.allclose(ex.reference[0].sum(-1), 1, atol=1e-5)
    # what --dtype float16 stores: the same arrays rounded to float16
    t16 = replace(t, q=t.q.astype(np.float16), k=t.k.astype(np.float16))
    err16 = max(
        float(np.abs(t16.probabilities(layer) - ex.reference[layer]).max())
        for layer in range(t.meta.n_layers)
    )
    assert err16 < 1e-2, f"gemma3 float16: max |p - p_model| = {err16:.3g}"
    print(f"gemma3: max abs error float32 {err32:.2e}, float16 {err16:.2e}")
    m = t.meta
    assert (m.n_layers, m.n_heads, m.n_kv_heads, m.head_dim) == (18, 4, 1, 256)
    assert (m.prompt_tokens, m.generated_tokens, m.causal) == (32, 2, True)
    assert m.bias == "none" and t.bias is None
    assert m.softmax_scale == 0.0625  # query_pre_attn_scalar (256) ** -0.5
    assert m.extra["qk_after_rope"] and m.extra["qk_after_norm"]
    assert m.extra["sliding_window"] == [None if i % 6 == 5 else 512 for i in range(18)]
    lm = load_model("gemma3", cache)
    assert lm.facts == FACTS["gemma3"]
    assert lm.facts.logit_softcap is None
    assert [layer for layer in range(18) if not lm.facts.sliding(layer)] == [5, 11, 17]
    _check_pv(t, lm.model, "gemma3")


@pytest.mark.slow
def test_gemma3_sliding_window_is_the_trace_bias(cache: Path) -> None:
    """A 600-token prompt: the local layers' window is stored as the bias and the trace's
    probabilities still equal the model's (which they would not without it)."""
    req = ExtractRequest("gemma3", "reviews", 0, 600, 2, dtype="float32", reference=True)
    ex = extract(req, cache, progress=False)
    t = ex.trace
    assert ex.reference is not None and t.bias is not None and t.meta.bias == "stored"
    n = t.meta.tokens
    assert t.bias.shape == (18, 4, n, n)
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    outside = i - j >= 512
    for layer in range(t.meta.n_layers):
        sliding = layer % 6 != 5
        want = np.where(outside, np.float32(np.finfo(np.float16).min), 0) if sliding else 0
        assert np.array_equal(t.bias[layer], np.broadcast_to(want, (4, n, n))), layer
        err = float(np.abs(t.probabilities(layer) - ex.reference[layer]).max())
        assert err < 1e-5, f"layer {layer}: max |p - p_model| = {err:.3g}"
        if sliding:  # the window changes what the model attends to
            assert float(ex.reference[layer][:, outside].max()) == 0.0
            assert float(ex.reference[layer][:, 512:].sum(-1).min()) > 0.99
    nobias = Trace(meta=replace(t.meta, bias="none"), q=t.q, k=t.k, v=t.v)
    assert float(np.abs(nobias.probabilities(0) - ex.reference[0]).max()) > 1e-3


def test_mpnet_bias_is_the_models_relative_position_bias(extracted: Extract, cache: Path) -> None:
    import torch

    from spatten_sim.extract.models import load_model

    ex = extracted("mpnet", "float32")
    t = ex.trace
    assert t.meta.bias == "stored" and t.bias is not None and t.bias.shape == (1, 12, 96, 96)
    lm = load_model("mpnet", cache)
    x = torch.zeros(1, 96, 768)
    want = lm.model.encoder.compute_position_bias(x)[0].detach().numpy()
    assert np.array_equal(t.bias[0], want)
    assert np.any(want != 0)


def test_tokens_are_cut_exactly_and_samples_appended(cache: Path) -> None:
    # SST sentence 53 has 25 tokens: asking for 70 appends the following sentences
    req = ExtractRequest("minilm", "sst", 53, tokens=70)
    t = extract(req, cache, progress=False).trace
    assert t.token_ids is not None
    assert t.meta.tokens == 70 and t.token_ids.shape == (70,)
    assert t.meta.extra["samples_used"][0] == 53 and len(t.meta.extra["samples_used"]) >= 2
    assert t.token_ids[0] == 101 and t.token_ids[-1] == 102  # [CLS] ... [SEP]


@pytest.mark.parametrize(
    ("req", "message"),
    [
        (ExtractRequest("minilm", "sst", 0, generate=4), "needs a decoder"),
        (ExtractRequest("minilm", "sst", 10**6), "out of range"),
        (ExtractRequest("minilm", "sst", 0, tokens=600), "at most 512 tokens"),
        (ExtractRequest("minilm", "reviews", 0), "pass --tokens"),
        (ExtractRequest("gpt2", "sst", 0), "unknown model"),
        (ExtractRequest("minilm", "no-such-corpus", 0), "unknown text source"),
    ],
)
def test_impossible_requests_are_one_line_errors(
    req: ExtractRequest, message: str, cache: Path
) -> None:
    with pytest.raises(SpattenError) as info:
        extract(req, cache, progress=False)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_text_file_source(tmp_path: Path, cache: Path) -> None:
    f = tmp_path / "text.txt"
    f.write_text(
        "First paragraph, short.\n\nThe second paragraph is here and it is a bit longer.\n"
    )
    t = extract(ExtractRequest("minilm", str(f), 1), cache, progress=False).trace
    assert t.meta.text_source == "file: text.txt" and t.meta.tokens == 14


def test_cli_reproduces_the_shipped_trace(tmp_path: Path) -> None:
    """The command recorded in a shipped trace makes the same trace again (and deterministically)."""
    from spatten_sim.cli import main

    shipped = load_trace(TRACES / "minilm-sst-25.npz")
    argv = shipped.meta.extra["command"].split()[1:]
    out = [tmp_path / "a" / "t.npz", tmp_path / "b" / "t.npz"]  # same name: it is recorded
    for o in out:
        assert main([*argv[:-1], str(o), "--no-progress"]) == 0
    assert out[0].read_bytes() == out[1].read_bytes()
    new = load_trace(out[0])
    assert new.token_ids is not None and shipped.token_ids is not None
    assert np.array_equal(new.token_ids, shipped.token_ids)
    assert new.meta.text_source == shipped.meta.text_source
    for name in ("q", "k", "v"):
        a, b = getattr(new, name).astype(np.float32), getattr(shipped, name).astype(np.float32)
        assert np.allclose(a, b, rtol=2e-3, atol=2e-3), name


def test_saved_extraction_loads_back(tmp_path: Path, cache: Path) -> None:
    ex = extract(ExtractRequest("smollm2", "sst", 7, tokens=12, generate=3), cache, progress=False)
    t = load_trace(save_trace(ex.trace, tmp_path / "s.npz"))
    assert t.meta == ex.trace.meta
    assert t.q.tobytes() == ex.trace.q.tobytes()
