"""Make a v1 trace from a real model on real text.

Steps: pick the text (sample ``N`` of a source; when ``--tokens T`` asks for more tokens than the
sample has, the following samples are appended, as in a long contiguous context), tokenize it with
the model's tokenizer and cut it to exactly ``T`` tokens (encoders: ``T`` includes ``[CLS]``/``[SEP]``
or ``<s>``/``</s>``; decoders: ``T`` is the prompt). A decoder then generates ``G`` tokens greedily
(argmax, KV cache, never stopping early at end-of-text, so the trace always has ``G`` generation
iterations). Finally one forward pass over all ``T + G`` tokens runs with the hooks of
:mod:`.hooks` on; for a causal model this gives exactly the Q/K/V the incremental generation used
(each row depends only on earlier tokens), so the trace covers the prompt (summarization) and every
generation iteration.

The softmax scale stored is the one each model's attention multiplies ``Q K^T`` by. The stored
arrays are float16 by default (``dtype="float32"`` keeps full precision). Nothing depends on the
wall clock, so the same request gives a bit-identical file.
"""

from __future__ import annotations

import hashlib
import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spatten_sim.errors import SpattenError
from spatten_sim.extract.hooks import Recorder
from spatten_sim.extract.models import MODELS, LoadedModel, ModelFacts, load_model
from spatten_sim.extract.progress import Progress
from spatten_sim.extract.text import TextSource, load_source
from spatten_sim.trace import DEFAULT_MAX_ELEMENTS, Trace, TraceMeta, validate_trace


@dataclass(frozen=True)
class ExtractRequest:
    """What to extract (the options of ``spatten-sim trace``)."""

    model: str  #: a key of :data:`spatten_sim.extract.models.MODELS`
    text: str  #: "sst", "wiki", "reviews", "ptb" or a path to a UTF-8 text file
    sample: int = 0  #: index of the (first) sample within the source
    tokens: int | None = None  #: tokens (encoders) or prompt tokens (decoders); None: the sample
    generate: int = 0  #: tokens to generate greedily (decoders only)
    dtype: str = "float16"  #: "float16" or "float32"
    reference: bool = False  #: also return the model's own attention probabilities
    command: str = ""  #: the command line, recorded in the trace's provenance


@dataclass(frozen=True)
class Extraction:
    """A trace, optionally the model's own attention probabilities, and how long each step took."""

    trace: Trace
    #: per layer, the model's own attention probabilities [n_heads, tokens, tokens] (float32)
    reference: tuple[np.ndarray, ...] | None
    seconds: dict[str, float] = field(default_factory=dict)


def _check_request(req: ExtractRequest) -> None:
    if req.model not in MODELS:
        raise SpattenError(f"unknown model {req.model!r} (choose from {', '.join(MODELS)})")
    spec = MODELS[req.model]
    if req.dtype not in ("float16", "float32"):
        raise SpattenError(f"--dtype must be float16 or float32, got {req.dtype!r}")
    if req.sample < 0:
        raise SpattenError(f"--sample must be >= 0, got {req.sample}")
    if req.generate < 0:
        raise SpattenError(f"--generate must be >= 0, got {req.generate}")
    if req.generate and not spec.causal:
        raise SpattenError(f"--generate needs a decoder; {req.model} is an encoder")
    if req.tokens is not None:
        low = 1 if spec.causal else 3
        if req.tokens < low:
            raise SpattenError(f"--tokens must be >= {low} for {req.model}, got {req.tokens}")
        if req.tokens + req.generate > spec.max_tokens:
            raise SpattenError(
                f"{req.model} takes at most {spec.max_tokens} tokens; asked for "
                f"{req.tokens} + {req.generate}"
            )


def select_text(
    source: TextSource, tokenizer: Any, sample: int, tokens: int | None, max_tokens: int
) -> tuple[list[int], list[int], str]:
    """Token ids, the sample indices used and the text, cut to exactly ``tokens`` ids."""
    n = len(source.samples)
    if sample >= n:
        raise SpattenError(f"--sample {sample} is out of range: {source.key} has {n} samples")
    used = [sample]
    text = source.samples[sample]
    if tokens is None:
        ids = tokenizer(text)["input_ids"]
        if len(ids) > max_tokens:
            raise SpattenError(
                f"sample {sample} has {len(ids)} tokens, more than the model takes "
                f"({max_tokens}); pass --tokens to cut it"
            )
        return ids, used, text
    while len(tokenizer(text)["input_ids"]) < tokens:
        nxt = used[-1] + 1
        if nxt >= n:
            raise SpattenError(
                f"{source.key} has too little text after sample {sample} for {tokens} tokens"
            )
        used.append(nxt)
        text = text + source.joiner + source.samples[nxt]
    ids = tokenizer(text, truncation=True, max_length=tokens)["input_ids"]
    if len(ids) != tokens:  # pragma: no cover - the tokenizer ignored truncation
        raise SpattenError(f"could not cut the text to {tokens} tokens (got {len(ids)})")
    return ids, used, text


def _generate(lm: LoadedModel, ids: list[int], steps: int, show: bool) -> list[int]:
    """Greedy decoding with a KV cache: ``steps`` new token ids (end-of-text does not stop it)."""
    import torch

    out_ids: list[int] = []
    if steps == 0:
        return out_ids
    # transformers 5.x renames past_key_values to cache (the old name warns until 5.40)
    new_name = "cache" in inspect.signature(lm.model.forward).parameters
    cache_arg = "cache" if new_name else "past_key_values"
    # logits of the last position only, as transformers' generate does (Gemma's vocabulary has
    # 262k entries: the logits of a 1k-token prompt would take 1 GB)
    with torch.inference_mode(), Progress(steps, "generate", enabled=show) as bar:
        out = lm.model(input_ids=torch.tensor([ids]), use_cache=True, logits_to_keep=1)
        for step in range(steps):
            nxt = int(out.logits[0, -1].argmax())
            out_ids.append(nxt)
            bar.update()
            if step + 1 < steps:
                kv = out.cache if new_name else out.past_key_values
                out = lm.model(
                    input_ids=torch.tensor([[nxt]]),
                    use_cache=True,
                    logits_to_keep=1,
                    **{cache_arg: kv},
                )
    return out_ids


def _forward(
    lm: LoadedModel, ids: list[int], head_dim: int, n_layers: int, reference: bool, show: bool
) -> tuple[list[Any], tuple[np.ndarray, ...] | None]:
    import torch

    base = lm.model.model if lm.spec.causal else lm.model
    with Progress(n_layers, "forward", enabled=show) as bar:
        rec = Recorder(base, lm.spec.arch, head_dim, on_layer=lambda _i: bar.update())
        with torch.inference_mode(), rec:
            out = base(input_ids=torch.tensor([ids]), output_attentions=reference)
        layers = rec.arrays()
    ref = None
    if reference:
        ref = tuple(a[0].float().numpy() for a in out.attentions)
    return layers, ref


def _bias(layers: list[Any]) -> np.ndarray | None:
    biases = [r.bias for r in layers]
    if all(b is None for b in biases):
        return None
    if any(b is None for b in biases):
        raise RuntimeError("some layers received a position bias and others did not")
    if all(np.array_equal(b, biases[0]) for b in biases):
        return biases[0][None]  # shared across layers (MPNet): [1, H, T, T]
    return np.stack(biases)


#: the additive bias outside a sliding window: the lowest float16, finite because a trace holds no
#: infinities; every row keeps its own token, so exp(-65504 - max) is exactly 0 in float32
WINDOW_BIAS = float(np.finfo(np.float16).min)


def _window_bias(
    layers: list[Any], facts: ModelFacts, n_tokens: int, dtype: Any
) -> tuple[np.ndarray | None, str, str]:
    """The sliding windows the decoder layers' masks held, as a trace bias ``[L, H, T, T]``.

    Returns ``(bias or None, meta.bias, attention_bias_source)``. The masks the layers received are
    checked against ``facts.windows``. No bias is needed when no query has a key outside its window
    (``T <= window``); it is omitted (and ``meta.bias`` says so) when it would hold more elements
    than a trace may (:data:`spatten_sim.trace.DEFAULT_MAX_ELEMENTS`).
    """
    idx = np.arange(n_tokens)
    starts = []
    for layer, rec in enumerate(layers):
        w = facts.windows[layer]
        want = np.zeros(n_tokens, np.int64) if w is None else np.maximum(0, idx - w + 1)
        got = rec.window_start if rec.window_start is not None else np.zeros(n_tokens, np.int64)
        if not np.array_equal(got, want):
            raise RuntimeError(
                f"layer {layer}: the model's attention mask is not the expected "
                f"{'causal' if w is None else f'{w}-token sliding window'} mask"
            )
        starts.append(got)
    windowed = [layer for layer, st in enumerate(starts) if st.any()]
    if not windowed:
        return None, "none", ""
    w = max(facts.windows[layer] or 0 for layer in windowed)
    if any(facts.windows[layer] != w for layer in windowed):  # pragma: no cover - not Gemma 3
        raise RuntimeError("the sliding-window layers use different windows")
    what = (
        f"sliding window of {w} tokens in layers {', '.join(map(str, windowed))}: "
        f"query i sees keys i-{w - 1} .. i"
    )
    shape = (facts.n_layers, facts.n_heads, n_tokens, n_tokens)
    size = int(np.prod(shape))
    if size > DEFAULT_MAX_ELEMENTS:
        note = (
            f"omitted: {what} (the model's local layers see only the last {w} tokens, the trace's "
            f"probabilities see every earlier token); the bias {list(shape)} would have {size} "
            f"elements, more than a trace holds ({DEFAULT_MAX_ELEMENTS})"
        )
        return None, note, what
    bias = np.zeros(shape, dtype=dtype)
    outside = idx[:, None] > idx[None, :] + w - 1  # j < i - w + 1
    for layer in windowed:
        bias[layer, :, outside] = WINDOW_BIAS
    return bias, "stored", f"{what}; bias {WINDOW_BIAS:g} outside the window, 0 elsewhere"


def extract(req: ExtractRequest, cache: Path, *, progress: bool = True) -> Extraction:
    """Run ``req`` and return the trace (see the module docstring for the steps)."""
    _check_request(req)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    lm = load_model(req.model, cache)
    seconds["load_model"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    source = load_source(req.text, cache)
    spec = lm.spec
    ids, used, text = select_text(
        source, lm.tokenizer, req.sample, req.tokens, spec.max_tokens - req.generate
    )
    seconds["load_text"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    generated = _generate(lm, ids, req.generate, progress)
    seconds["generate"] = time.perf_counter() - t0
    all_ids = ids + generated
    facts = lm.facts
    n_layers, n_heads, n_kv, head_dim = (
        facts.n_layers,
        facts.n_heads,
        facts.n_kv_heads,
        facts.head_dim,
    )
    t0 = time.perf_counter()
    layers, ref = _forward(lm, all_ids, head_dim, n_layers, req.reference, progress)
    seconds["forward"] = time.perf_counter() - t0

    dtype = np.float16 if req.dtype == "float16" else np.float32
    arrays = {
        "q": np.stack([r.q for r in layers]),
        "k": np.stack([r.k for r in layers]),
        "v": np.stack([r.v for r in layers]),
    }
    bias = _bias(layers)
    bias_meta = "stored" if bias is not None else "none"
    bias_source = (
        "MPNet relative-position bias (32 buckets, max distance 128), shared by all layers"
        if spec.arch == "mpnet"
        else ""
    )
    if spec.causal:
        bias, bias_meta, bias_source = _window_bias(layers, facts, len(all_ids), dtype)
    if bias is not None:
        arrays["bias"] = bias
    for name, a in arrays.items():
        if dtype == np.float16 and np.abs(a).max() > np.finfo(np.float16).max:
            raise SpattenError(f"'{name}' exceeds the float16 range; use --dtype float32")
        arrays[name] = a.astype(dtype, copy=False)

    extra: dict[str, Any] = {
        "command": req.command,
        "samples_used": used,
        "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "text_preview": lm.tokenizer.decode(ids[: min(len(ids), 64)], skip_special_tokens=True),
        "transformers_version": lm.transformers_version,
        "torch_version": lm.torch_version,
        "qk_after_rope": spec.causal,
        "attention_bias_source": bias_source,
    }
    if spec.arch == "gemma3":
        extra["qk_after_norm"] = True
        extra["sliding_window"] = list(facts.windows)
    if generated:
        extra["generated_text"] = lm.tokenizer.decode(generated)
        extra["qkv_from"] = (
            "one causal forward pass over prompt + generated tokens (row t depends only on "
            "tokens <= t, so it equals the incremental KV-cache computation)"
        )
    from spatten_sim import __version__

    meta = TraceMeta(
        model=spec.name,
        n_layers=n_layers,
        n_heads=n_heads,
        n_kv_heads=n_kv,
        head_dim=head_dim,
        tokens=len(all_ids),
        causal=spec.causal,
        softmax_scale=facts.softmax_scale,
        prompt_tokens=len(ids),
        generated_tokens=len(generated),
        synthetic=False,
        model_package=spec.packages[0],
        model_package_version=lm.package_version,
        text_source=source.description,
        sample=req.sample,
        bias=bias_meta,
        tool_version=__version__,
        extra=extra,
    )
    trace = Trace(meta=meta, token_ids=np.asarray(all_ids, dtype=np.int32), **arrays)
    validate_trace(trace, f"<{req.model} trace>")
    return Extraction(trace=trace, reference=ref, seconds=seconds)
