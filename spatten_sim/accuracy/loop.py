"""The model in the loop: a real model's forward pass whose attention is the simulator's.

Every attention layer of a transformers model calls one *attention function* with the layer's Q,
K and V (after RoPE and Q/K norms, K/V after the KV-cache update). :class:`ModelLoop` installs its
own function (through transformers' ``AttentionInterface``) and answers each call in one of
three modes:

* ``float``: dense float32 softmax attention with the model's causal / sliding-window mask, the
  same arithmetic as transformers' eager attention. It is the dense path the tests compare with
  the model's own forward pass (they agree to float round-off).
* ``record``: ``float``, and the Q/K/V are written into a :class:`~spatten_sim.trace.Trace`: the
  dense model's trace of the text, which calibrates the fixed-point scales.
* ``spatten``: the layer's Q/K/V are written into the trace and the functional phase
  (:class:`~spatten_sim.algo.functional.FunctionalBuilder`) computes that layer, with its token
  and head pruning, local-V pruning and MSB/LSB fixed point with LSB re-fetch, exactly as
  ``spatten-sim run`` does for a trace; its attention outputs go back into the model. So the next
  layer's Q/K/V, and the logits, are the pruned and quantized model's, and the workload the
  timing phase replays holds the same decisions that gave the accuracy.

Stages map onto the model's forward passes as in the simulator: the prompt is one forward pass
(summarization: every layer's surviving tokens are queries), then each continuation token is one
forward pass with the KV cache (one generation iteration). Tokens pruned in summarization never
come back, so their later hidden states (which the model still computes, with a zero attention
output) are never read by any surviving token: they are neither keys nor queries again. A pruned
head's output is zero, as the hardware's. The masks are made here from the model's own
description (causal flag, per-layer sliding window), not taken from transformers, which passes no
mask to a custom attention function; a sliding window enters the functional phase as the trace's
additive bias (-65504 outside the window, as the extractor stores it), so out-of-window keys get probability 0 but are
still fetched (an approximation stated in ``docs/accuracy.md``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np

from spatten_sim.algo.functional import FunctionalBuilder, LayerScales
from spatten_sim.config import HwConfig
from spatten_sim.extract.models import ModelFacts
from spatten_sim.trace import Trace, TraceMeta

__all__ = ["ModelLoop", "loop_model", "make_builder", "new_trace"]

#: the additive bias outside a sliding window: the lowest float16, as the extractor stores it
#: (finite, so the trace validates; its softmax weight is exactly 0 in float32)
WINDOW_BIAS = -65504.0

Mode = Literal["float", "record", "spatten"]

#: the name our attention function is registered under in transformers
ATTENTION_NAME = "spatten_sim_loop"


def loop_model(lm: Any) -> ModelFacts:
    """What the loop needs to know about a loaded model: its
    :class:`~spatten_sim.extract.models.ModelFacts` (read from its config and modules)."""
    facts = lm.facts
    if facts.logit_softcap is not None:
        raise RuntimeError(f"{facts.key}: attention soft-capping is not modelled by the loop")
    return facts


def attention_modules(model: Any) -> list[Any]:
    """The attention modules that call the attention function, in layer order."""
    base = getattr(model, "model", model)
    if hasattr(base, "layers"):  # llama, gemma3 (decoder stacks)
        return [lyr.self_attn for lyr in base.layers]
    if hasattr(base, "encoder") and hasattr(base.encoder, "layer"):
        first = base.encoder.layer[0].attention
        if hasattr(first, "attn"):  # mpnet
            return [lyr.attention.attn for lyr in base.encoder.layer]
        return [lyr.attention.self for lyr in base.encoder.layer]  # bert
    raise ValueError(f"no attention modules found in {type(model).__name__}")


def new_trace(
    lmodel: ModelFacts, prompt: int, generated: int, token_ids: np.ndarray, model_name: str
) -> Trace:
    """An all-zero float32 trace of the right shape, filled layer by layer by the loop."""
    n = prompt + generated
    L, H, Hkv, d = lmodel.n_layers, lmodel.n_heads, lmodel.n_kv_heads, lmodel.head_dim
    bias = None
    if lmodel.arch == "mpnet":  # the relative-position bias, shared by every layer
        bias = np.zeros((1, H, n, n), dtype=np.float32)
    elif any(w is not None for w in lmodel.windows):
        bias = np.zeros((L, H, n, n), dtype=np.float32)
        i = np.arange(n)[:, None]
        j = np.arange(n)[None, :]
        for layer, w in enumerate(lmodel.windows):
            if w is not None:
                bias[layer, :] = np.where(i - j >= w, WINDOW_BIAS, 0.0).astype(np.float32)
    meta = TraceMeta(
        model=model_name,
        n_layers=L,
        n_heads=H,
        n_kv_heads=Hkv,
        head_dim=d,
        tokens=n,
        causal=lmodel.causal,
        softmax_scale=lmodel.softmax_scale,
        prompt_tokens=prompt,
        generated_tokens=generated,
        bias="stored" if bias is not None else "none",
    )
    return Trace(
        meta=meta,
        q=np.zeros((L, H, n, d), dtype=np.float32),
        k=np.zeros((L, Hkv, n, d), dtype=np.float32),
        v=np.zeros((L, Hkv, n, d), dtype=np.float32),
        bias=bias,
        token_ids=np.asarray(token_ids[:n], dtype=np.int32),
    )


def _attention_function(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[Any, None]:
    loop = getattr(module, "_spatten_loop", None)
    if loop is None:
        raise RuntimeError("the spatten-sim attention function was called outside a ModelLoop")
    return loop.attend(module, query, key, value), None


def _mpnet_forward(
    module: Any,
    hidden_states: Any,
    attention_mask: Any = None,
    position_bias: Any = None,
    output_attentions: bool = False,
    **kwargs: Any,
) -> tuple[Any, ...]:
    """``MPNetSelfAttention.forward`` with the loop's attention: MPNet has no attention-function
    interface, so the loop replaces the module's forward (projections and output kept)."""
    shape = (*hidden_states.shape[:-1], -1, module.attention_head_size)
    q = module.q(hidden_states).view(shape).transpose(1, 2)
    k = module.k(hidden_states).view(shape).transpose(1, 2)
    v = module.v(hidden_states).view(shape).transpose(1, 2)
    c = module._spatten_loop.attend(module, q, k, v, position_bias)
    c = c.reshape(*c.shape[:-2], module.all_head_size)
    return (module.o(c),)


def _register() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(ATTENTION_NAME, _attention_function)


class ModelLoop:
    """Runs one model with the simulator's attention (see the module docstring).

    Use :meth:`installed` around the forward passes; set :attr:`mode`, :attr:`stage` and
    :attr:`iteration` before each pass, and (mode ``spatten``) :meth:`start_pass` with the
    builder's layer iterator.
    """

    def __init__(self, lm: Any, lmodel: ModelFacts, trace: Trace | None):
        self.lm = lm
        self.lmodel = lmodel
        self.trace = trace
        self.mode: Mode = "float"
        self.builder: FunctionalBuilder | None = None
        self._layers: Iterator[int] | None = None
        self._stage = "summarization"
        self._iteration = 0
        self._row0 = 0  #: trace row of the pass's first query
        #: when a dict: every attention output handed to the model, by (stage, iteration, layer)
        self.capture: dict[tuple[str, int, int], np.ndarray] | None = None
        self._modules = attention_modules(lm.model)
        for i, m in enumerate(self._modules):
            if getattr(m, "layer_idx", i) != i:
                raise RuntimeError("attention modules are not in layer order")

    @contextmanager
    def installed(self) -> Iterator[ModelLoop]:
        """The model uses this loop's attention inside the ``with`` block (restored after)."""
        _register()
        model = self.lm.model
        old = model.config._attn_implementation
        mpnet = self.lmodel.arch == "mpnet"
        for m in self._modules:
            m._spatten_loop = self
            if mpnet:
                m.forward = _mpnet_forward.__get__(m)
        if not mpnet:
            model.set_attn_implementation(ATTENTION_NAME)
        try:
            yield self
        finally:
            if not mpnet:
                model.set_attn_implementation(old)
            for m in self._modules:
                del m._spatten_loop
                if mpnet:
                    del m.forward

    # -- passes ----------------------------------------------------------------------------
    def start_pass(self, stage: str, iteration: int, row0: int) -> None:
        """The next forward pass is ``stage``/``iteration``, its first query at trace ``row0``."""
        self._stage, self._iteration, self._row0 = stage, iteration, row0
        if self.mode == "spatten":
            if self.builder is None:
                raise RuntimeError("mode 'spatten' needs a builder")
            self._layers = self.builder.pass_layers(stage, iteration)  # type: ignore[arg-type]

    def end_pass(self) -> None:
        """Check that the pass went through every layer."""
        if self._layers is not None:
            if next(self._layers, None) is not None:
                raise RuntimeError("the forward pass stopped before the last layer")
            self._layers = None

    # -- one attention call ----------------------------------------------------------------
    def attend(self, module: Any, query: Any, key: Any, value: Any, bias: Any = None) -> Any:
        """One layer's attention output ``[1, queries, heads, head_dim]`` (``bias``: MPNet's
        relative-position bias ``[1, heads, queries, keys]``)."""
        import torch

        layer = int(module.layer_idx) if hasattr(module, "layer_idx") else self._index(module)
        nq, nk = int(query.shape[2]), int(key.shape[2])
        r0 = self._row0
        if self.mode != "float":
            self._write(layer, query, key, value, r0, nq, nk)
            if bias is not None:
                self._write_bias(layer, bias, r0, nq)
        if self.mode in ("float", "record"):
            return self._float(layer, query, key, value, r0, bias)
        if self._layers is None or self.builder is None:
            raise RuntimeError("start_pass was not called before the forward pass")
        self.builder.quantize_rows(layer, slice(r0, r0 + nq))
        done = next(self._layers)
        if done != layer:
            raise RuntimeError(f"the model ran layer {layer} where the simulator expected {done}")
        outputs = self.builder.outputs
        assert outputs is not None
        qids, out = outputs.pop((self._stage, self._iteration, layer))
        res = np.zeros((1, nq, self.lmodel.n_heads, self.lmodel.head_dim), dtype=np.float32)
        res[0, qids - r0] = np.transpose(out, (1, 0, 2))
        if self.capture is not None:
            self.capture[(self._stage, self._iteration, layer)] = res.copy()
        return torch.from_numpy(res)

    def _index(self, module: Any) -> int:
        for i, m in enumerate(self._modules):
            if m is module:
                return i
        raise RuntimeError("an unknown attention module called the attention function")

    def _write(
        self, layer: int, query: Any, key: Any, value: Any, r0: int, nq: int, nk: int
    ) -> None:
        tr = self.trace
        if tr is None:
            raise RuntimeError(f"mode {self.mode!r} needs a trace")
        # the keys are those of the latest ``nk`` positions: all of them, or only the window a
        # sliding-window layer's cache keeps; the new rows are the last ``nq``
        w = self.lmodel.windows[layer]
        if nk != r0 + nq and not (w is not None and nq <= nk < r0 + nq):
            raise RuntimeError(f"layer {layer}: {nk} keys for queries at rows {r0}..{r0 + nq - 1}")
        tr.q[layer][:, r0 : r0 + nq] = query[0].detach().float().numpy()
        tr.k[layer][:, r0 : r0 + nq] = key[0, :, nk - nq :].detach().float().numpy()
        tr.v[layer][:, r0 : r0 + nq] = value[0, :, nk - nq :].detach().float().numpy()

    def _write_bias(self, layer: int, bias: Any, r0: int, nq: int) -> None:
        """MPNet's bias is the same for every layer: stored once (checked on later layers)."""
        tr = self.trace
        assert tr is not None and tr.bias is not None
        b = bias[0].detach().float().numpy()
        if layer == 0:
            tr.bias[0][:, r0 : r0 + nq] = b
        elif not np.array_equal(tr.bias[0][:, r0 : r0 + nq], b):
            raise RuntimeError(f"layer {layer} received a different position bias than layer 0")

    def _float(
        self, layer: int, query: Any, key: Any, value: Any, r0: int, bias: Any = None
    ) -> Any:
        """Dense float32 attention, as transformers' eager attention computes it."""
        import torch

        g = self.lmodel.n_heads // self.lmodel.n_kv_heads
        k = key.repeat_interleave(g, dim=1) if g > 1 else key
        v = value.repeat_interleave(g, dim=1) if g > 1 else value
        s = torch.matmul(query, k.transpose(2, 3)) * self.lmodel.softmax_scale
        if bias is not None:
            s = s + bias
        nq, nk = s.shape[-2], s.shape[-1]
        i = torch.arange(r0, r0 + nq)[:, None]
        j = torch.arange(r0 + nq - nk, r0 + nq)[None, :]  # the positions of the keys held
        hide = torch.zeros((nq, nk), dtype=torch.bool)
        if self.lmodel.causal:
            hide |= j > i
        w = self.lmodel.windows[layer]
        if w is not None:
            hide |= i - j >= w
        s = s.masked_fill(hide, float("-inf"))
        p = torch.softmax(s, dim=-1, dtype=torch.float32).to(query.dtype)
        return torch.matmul(p, v).transpose(1, 2).contiguous()


def make_builder(trace: Trace, cfg: HwConfig, scales: tuple[LayerScales, ...]) -> FunctionalBuilder:
    """A functional-phase builder fed by the loop: calibrated scales, outputs kept, no dense
    fidelity reference (the accuracy itself is the measure)."""
    b = FunctionalBuilder(trace, cfg, None, keep_outputs=True, scales=scales, fidelity=False)
    b.quantize_all()
    return b
