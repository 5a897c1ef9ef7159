"""Forward hooks that record what each attention layer computes with: Q, K, V and the bias.

How each architecture forms its attention inputs (transformers' own modules, read from their code):

* ``bert`` (MiniLM): ``encoder.layer[i].attention.self.{query,key,value}`` are Linear layers whose
  outputs, split into heads, are Q, K, V; scores are ``Q K^T * head_dim**-0.5`` plus the padding mask
  (all zeros for one unpadded sequence).
* ``mpnet``: ``encoder.layer[i].attention.attn.{q,k,v}``; scores are ``Q K^T / sqrt(head_dim)`` plus
  a relative-position bias ``[1, H, T, T]`` that ``MPNetEncoder.compute_position_bias`` makes once
  per forward pass from bucketed relative distances and passes to every layer (shared across
  layers). The hook records the bias each layer actually receives.
* ``llama`` (SmolLM2): ``model.layers[i].self_attn.{q,k,v}_proj`` give Q, K, V before RoPE; the
  layer receives ``position_embeddings=(cos, sin)`` and rotates Q and K with the model's own
  ``apply_rotary_pos_emb``, which the hook applies to the recorded Q and K too, so the trace holds
  Q/K after RoPE. K/V have ``num_key_value_heads`` heads (GQA); they are stored unrepeated.
* ``gemma3`` (Gemma 3): ``model.layers[i].self_attn`` projects Q, K, V, then RMS-normalizes Q and K
  per head (``q_norm``, ``k_norm``, applied to ``[batch, heads, tokens, head_dim]``), then rotates
  them with RoPE (``position_embeddings`` of the layer's type: local layers use base 10k, global
  ones 1M). The hooks record the outputs of ``q_norm``/``k_norm`` and ``v_proj`` and apply the
  model's own ``apply_rotary_pos_emb`` with the ``(cos, sin)`` the layer received, so the trace holds
  Q/K after norm and RoPE. Scores are ``Q K^T * query_pre_attn_scalar**-0.5``; Gemma 3 has no
  attention-logit soft-capping (``attn_logit_softcapping`` is None).

For both decoders the hook on the attention module also reads the attention mask the layer
receives and reduces it to ``window_start``: per query ``i``, the first key it may see (it sees keys
``window_start[i] .. i``). It is 0 for causal layers; for Gemma 3's sliding-window layers it is
``max(0, i - window + 1)``. A mask of any other shape (a hole, an additive value other than 0 or
the dtype's minimum) is refused, so the trace can never silently miss what the model attended to.

Everything is recorded as float32 NumPy arrays ``[heads, tokens, head_dim]`` per layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class LayerRecord:
    """What one attention layer computed with (filled by the hooks of one forward pass)."""

    q: np.ndarray | None = None  #: [n_heads, tokens, head_dim]
    k: np.ndarray | None = None  #: [n_kv_heads, tokens, head_dim]
    v: np.ndarray | None = None  #: [n_kv_heads, tokens, head_dim]
    bias: np.ndarray | None = None  #: [n_heads, tokens, tokens] additive bias, or None
    rope: tuple[Any, Any] | None = None  #: (cos, sin) tensors for llama and gemma3 layers
    #: decoders: per query, the first key the attention mask lets it see ([tokens] int64)
    window_start: np.ndarray | None = None


@dataclass
class Recorder:
    """Hooks on every attention layer of a model; use as a context manager around one forward."""

    model: Any
    arch: str
    head_dim: int
    on_layer: Callable[[int], None] | None = None  #: called when a layer's V has been recorded
    layers: list[LayerRecord] = field(default_factory=list)
    _handles: list[Any] = field(default_factory=list)

    def __enter__(self) -> Recorder:
        attn_modules = _attention_modules(self.model, self.arch)
        self.layers = [LayerRecord() for _ in attn_modules]
        # gemma3's Q and K are recorded at q_norm/k_norm, whose outputs are [1, heads, T, D]
        heads_first = self.arch == "gemma3"
        for i, (attn, q, k, v) in enumerate(attn_modules):
            self._handles.append(q.register_forward_hook(self._proj_hook(i, "q", heads_first)))
            self._handles.append(k.register_forward_hook(self._proj_hook(i, "k", heads_first)))
            self._handles.append(v.register_forward_hook(self._proj_hook(i, "v")))
            if self.arch in ("mpnet", "llama", "gemma3"):
                self._handles.append(
                    attn.register_forward_pre_hook(self._attn_hook(i), with_kwargs=True)
                )
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _proj_hook(self, layer: int, which: str, heads_first: bool = False) -> Callable[..., None]:
        def hook(_module: Any, _inputs: Any, output: Any) -> None:
            t = output.detach()[0]
            if not heads_first:
                # output: [1, tokens, heads * head_dim] -> [heads, tokens, head_dim]
                t = t.view(t.shape[0], -1, self.head_dim).transpose(0, 1)
            setattr(self.layers[layer], which, t)
            if which == "v" and self.on_layer is not None:
                self.on_layer(layer)

        return hook

    def _attn_hook(self, layer: int) -> Callable[..., None]:
        def hook(_module: Any, args: tuple, kwargs: dict) -> None:
            rec = self.layers[layer]
            if self.arch == "mpnet":
                # MPNetAttention calls self.attn(hidden_states, attention_mask, position_bias, ...)
                bias = args[2] if len(args) > 2 else kwargs.get("position_bias")
                mask = args[1] if len(args) > 1 else kwargs.get("attention_mask")
                if mask is not None and bool((mask != 0).any()):
                    raise RuntimeError("MPNet received a non-zero attention mask (padding?)")
                rec.bias = None if bias is None else bias.detach()[0]
            else:
                rec.rope = kwargs.get("position_embeddings")
                rec.window_start = window_start(kwargs.get("attention_mask"))

        return hook

    def arrays(self) -> list[LayerRecord]:
        """Per-layer float32 NumPy records, with RoPE applied to llama's Q and K."""
        out = []
        for rec in self.layers:
            if rec.q is None or rec.k is None or rec.v is None:
                raise RuntimeError("a layer was not recorded (the forward pass did not run?)")
            q, k = rec.q, rec.k
            if self.arch in ("llama", "gemma3"):
                q, k = _apply_rope(q, k, rec.rope, self.arch)
            out.append(
                LayerRecord(
                    q=_np(q),
                    k=_np(k),
                    v=_np(rec.v),
                    bias=None if rec.bias is None else _np(rec.bias),
                    window_start=rec.window_start,
                )
            )
        return out


def _np(t: Any) -> np.ndarray:
    return np.ascontiguousarray(t.float().cpu().numpy())


def _apply_rope(q: Any, k: Any, rope: tuple[Any, Any] | None, arch: str) -> tuple[Any, Any]:
    if rope is None:
        raise RuntimeError(f"the {arch} layer received no position_embeddings (RoPE)")
    if arch == "gemma3":
        from transformers.models.gemma3.modeling_gemma3 import apply_rotary_pos_emb
    else:
        from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    cos, sin = rope  # [1, tokens, head_dim]
    q4, k4 = apply_rotary_pos_emb(q[None], k[None], cos, sin)  # [1, heads, tokens, head_dim]
    return q4[0], k4[0]


def window_start(mask: Any) -> np.ndarray | None:
    """Per query row, the first key an attention mask lets it see (None when there is no mask).

    ``mask`` is what a decoder layer receives: ``[1, 1, T, T]``, boolean (True: attend) or additive
    (0: attend, the dtype's minimum: do not). Refuses a mask whose visible keys are not one run
    ``window_start[i] .. i`` per row, or that adds anything but 0 where it lets a key through.
    """
    if mask is None:
        return None
    import torch

    m = mask.detach()
    if m.dim() != 4 or m.shape[0] != 1 or m.shape[1] != 1 or m.shape[2] != m.shape[3]:
        raise RuntimeError(f"unexpected attention mask shape {tuple(m.shape)}")
    m = m[0, 0]
    if m.dtype == torch.bool:
        allowed = m
    else:
        allowed = m == 0
        low = torch.finfo(m.dtype).min
        if not bool(((m == 0) | (m <= low / 2)).all()):
            raise RuntimeError("the attention mask adds values other than 0 and -inf (a bias?)")
    n = allowed.shape[0]
    idx = torch.arange(n)
    # the first allowed key of each row (argmax of a bool row finds the first True)
    start = allowed.to(torch.uint8).argmax(dim=1)
    want = (idx[None, :] >= start[:, None]) & (idx[None, :] <= idx[:, None])
    if not bool(allowed[idx, idx].all()) or not torch.equal(allowed, want):
        raise RuntimeError("the attention mask is not causal with one contiguous window per query")
    return start.numpy().astype(np.int64)


def _attention_modules(model: Any, arch: str) -> list[tuple[Any, Any, Any, Any]]:
    """(attention module, q projection, k projection, v projection) of every layer."""
    if arch == "bert":
        return [
            (
                lyr.attention.self,
                lyr.attention.self.query,
                lyr.attention.self.key,
                lyr.attention.self.value,
            )
            for lyr in model.encoder.layer
        ]
    if arch == "mpnet":
        return [
            (lyr.attention.attn, lyr.attention.attn.q, lyr.attention.attn.k, lyr.attention.attn.v)
            for lyr in model.encoder.layer
        ]
    if arch == "llama":
        return [
            (lyr.self_attn, lyr.self_attn.q_proj, lyr.self_attn.k_proj, lyr.self_attn.v_proj)
            for lyr in getattr(model, "model", model).layers  # LlamaForCausalLM or LlamaModel
        ]
    if arch == "gemma3":
        return [
            (lyr.self_attn, lyr.self_attn.q_norm, lyr.self_attn.k_norm, lyr.self_attn.v_proj)
            for lyr in getattr(model, "model", model).layers  # Gemma3ForCausalLM or ...TextModel
        ]
    raise ValueError(f"unknown architecture {arch!r}")
