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
    rope: tuple[Any, Any] | None = None  #: (cos, sin) tensors for llama layers


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
        for i, (attn, q, k, v) in enumerate(attn_modules):
            self._handles.append(q.register_forward_hook(self._proj_hook(i, "q")))
            self._handles.append(k.register_forward_hook(self._proj_hook(i, "k")))
            self._handles.append(v.register_forward_hook(self._proj_hook(i, "v")))
            if self.arch in ("mpnet", "llama"):
                self._handles.append(
                    attn.register_forward_pre_hook(self._attn_hook(i), with_kwargs=True)
                )
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _proj_hook(self, layer: int, which: str) -> Callable[..., None]:
        def hook(_module: Any, _inputs: Any, output: Any) -> None:
            # output: [1, tokens, heads * head_dim] -> [heads, tokens, head_dim]
            t = output.detach()[0]
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

        return hook

    def arrays(self) -> list[LayerRecord]:
        """Per-layer float32 NumPy records, with RoPE applied to llama's Q and K."""
        out = []
        for rec in self.layers:
            if rec.q is None or rec.k is None or rec.v is None:
                raise RuntimeError("a layer was not recorded (the forward pass did not run?)")
            q, k = rec.q, rec.k
            if self.arch == "llama":
                q, k = _apply_rope(q, k, rec.rope)
            out.append(
                LayerRecord(
                    q=_np(q),
                    k=_np(k),
                    v=_np(rec.v),
                    bias=None if rec.bias is None else _np(rec.bias),
                )
            )
        return out


def _np(t: Any) -> np.ndarray:
    return np.ascontiguousarray(t.float().cpu().numpy())


def _apply_rope(q: Any, k: Any, rope: tuple[Any, Any] | None) -> tuple[Any, Any]:
    if rope is None:
        raise RuntimeError("the llama layer received no position_embeddings (RoPE)")
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    cos, sin = rope  # [1, tokens, head_dim]
    q4, k4 = apply_rotary_pos_emb(q[None], k[None], cos, sin)  # [1, heads, tokens, head_dim]
    return q4[0], k4[0]


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
    raise ValueError(f"unknown architecture {arch!r}")
