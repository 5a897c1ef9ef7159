"""Hand-built workloads for timing tests (independent of the functional phase)."""

from __future__ import annotations

import numpy as np
import pytest

from spatten_sim.workload import Bits, HeadJob, LayerJob, TopkCall, Workload, dense_attention_ops


def dense_workload(
    *,
    n_layers: int = 2,
    n_heads: int = 2,
    n_kv_heads: int | None = None,
    tokens: int = 64,
    generated: int = 0,
    head_dim: int = 64,
    bits: int = 12,
    requant_every: int = 0,
    lsb_bits: int = 4,
    topk_cycles: int = 0,
    v_keep: float = 1.0,
    token_topk_cycles: int = 0,
) -> Workload:
    """Dense attention (causal when ``generated`` > 0), every key and V row fetched."""
    n_kv = n_heads if n_kv_heads is None else n_kv_heads
    group = n_heads // n_kv
    causal = generated > 0
    prompt = tokens - generated
    b = Bits(bits, 0, bits, lsb_bits if requant_every else 0, bits, 0)
    layers = []
    e = np.zeros(0, np.int32)
    for layer in range(n_layers):
        heads = []
        for h in range(n_heads):
            q = np.arange(prompt, dtype=np.int32)
            kpq = (q + 1) if causal else np.full(prompt, prompt, np.int32)
            first = h % group == 0
            keys = np.arange(prompt, dtype=np.int32)
            req = np.zeros(prompt, bool)
            if requant_every:
                req[::requant_every] = True
            vk = np.maximum(1, np.ceil(kpq * v_keep)).astype(np.int32)
            heads.append(
                HeadJob(
                    "summarization",
                    0,
                    layer,
                    h,
                    h // group,
                    head_dim,
                    b,
                    q,
                    prompt,
                    kpq.astype(np.int32),
                    req,
                    vk,
                    np.full(prompt, topk_cycles, np.int64),
                    q,
                    keys if first else e,
                    keys if requant_every else e,
                    keys if first else e,
                )
            )
        layers.append(
            LayerJob(
                "summarization",
                0,
                layer,
                tuple(heads),
                prompt,
                prompt,
                n_heads,
                TopkCall(prompt, prompt, token_topk_cycles) if token_topk_cycles else None,
            )
        )
    for it in range(1, generated + 1):
        n = prompt + it
        for layer in range(n_layers):
            heads = []
            for h in range(n_heads):
                first = h % group == 0
                keys = np.arange(n, dtype=np.int32)
                req = np.array([bool(requant_every) and it % requant_every == 0])
                vk = np.array([max(1, int(np.ceil(n * v_keep)))], np.int32)
                heads.append(
                    HeadJob(
                        "generation",
                        it,
                        layer,
                        h,
                        h // group,
                        head_dim,
                        b,
                        np.array([n - 1], np.int32),
                        n,
                        np.array([n], np.int32),
                        req,
                        vk,
                        np.array([topk_cycles], np.int64),
                        np.array([n - 1], np.int32),
                        keys if first else e,
                        keys if req[0] else e,
                        keys[: vk[0]] if first else e,
                    )
                )
            layers.append(
                LayerJob(
                    "generation",
                    it,
                    layer,
                    tuple(heads),
                    n,
                    n,
                    n_heads,
                    TopkCall(n, n, token_topk_cycles) if token_topk_cycles else None,
                )
            )
    return Workload(
        "hand-built",
        "hand",
        n_layers,
        n_heads,
        n_kv,
        head_dim,
        causal,
        prompt,
        generated,
        tuple(layers),
        dense_attention_ops(n_heads, head_dim, n_layers, prompt, generated, causal),
    )


@pytest.fixture
def make_dense_workload():
    """The :func:`dense_workload` factory, for timing tests."""
    return dense_workload
