"""Token-pruning policies: which tokens one layer keeps (``policy.token_pruning.kind``).

:func:`decide` is called by the functional phase (``FunctionalBuilder._token_decision``) before
each layer of each pass with the layer's candidates and returns the kept tokens and the top-k
engine call that chose them (``None`` when no call ran). Every selection by score runs on the
Numba top-k engine (the ``one`` function passed in, ``functional._Engine.one``), so its cycles
are timed, and the DRAM bytes and cycles of the layer follow from the tokens kept.
docs/algorithms.md ("Token-pruning policies") gives each kind's source and what is approximated.

* ``cascade`` (SpAtten, HPCA 2021): keep ``ceil(L * r_l)`` of the candidates by cumulative
  importance (all layers, all passes), ``r_l`` from the linear schedule; both stages.
* ``spatten_llm`` (the official SpAtten-LLM release): a KV cache of ``B`` tokens per layer: the
  first ``start`` candidates, the ``recent`` newest candidates and ``B - start - recent`` of the
  others by cumulative importance (all layers, as the SpAtten accumulator).
* ``h2o`` (H2O, Zhang et al. 2023): the same with the layer's own cumulative score (heavy
  hitters of that layer) and, as H2O, usually no start tokens.
* ``streaming`` (StreamingLLM, Xiao et al. 2023): the first ``start`` candidates (attention
  sinks) and a window of the ``B - start`` newest; positions only: no engine call.

The KV-cache kinds act in generation, on the layer's own cache (the tokens that survived this
layer in the previous pass, plus the current one: the cache of a layer does not depend on the
layer before it, as in the papers); the first generation iteration evicts from the prompt's
cache, which is the eviction after the prefill. With ``in_summarization`` they prune the prompt
pass too, cascaded within the pass like the cascade (a token pruned there leaves the sequence).
Layers inside ``unpruned_layers_fraction`` keep everything, for every kind.

A score-based layer whose candidates all score 0 (no layer has run yet in the pass, so nothing
has been accumulated: only the first layer of the prompt pass, with ``unpruned_layers_fraction``
0) does not prune: the engine would otherwise choose by position (the earliest tokens).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from spatten_sim.algo import schedule as sched
from spatten_sim.config import KV_CACHE_KINDS, TokenPruningConfig
from spatten_sim.errors import ConfigError
from spatten_sim.workload import TopkCall

__all__ = ["TokenPolicy", "check_trace", "decide", "make_policy", "seen_counts"]

#: the engine: (values in stream order, k) -> (kept positions ascending, cycles)
EngineOne = Callable[[np.ndarray, int], tuple[np.ndarray, int]]


@dataclass(frozen=True)
class TokenPolicy:
    """The token-pruning policy of one run, resolved for the trace's layer count."""

    kind: str
    #: per layer: whether the layer prunes (False inside ``unpruned_layers_fraction``, or off)
    prunes: tuple[bool, ...]
    #: cascade: the keep ratio of each pruning layer (None where it does not prune)
    ratios: tuple[float | None, ...]
    budget_ratio: float = 0.0
    budget_tokens: int = 0
    start_tokens: int = 0
    recent_ratio: float = 0.0
    recent_tokens: int = 0
    normalize: bool = False
    in_summarization: bool = False

    @property
    def scope(self) -> str | None:
        """Which accumulated score the kind reads: ``"global"`` (every layer's), ``"layer"``
        (the layer's own) or None (positions only)."""
        if self.kind == "streaming":
            return None
        return "layer" if self.kind == "h2o" else "global"

    def acts(self, layer: int, generation: bool) -> bool:
        """Whether ``layer`` prunes in this stage."""
        if not self.prunes[layer]:
            return False
        return self.kind == "cascade" or generation or self.in_summarization

    def sizes(self, n_ctx: int, generation: bool) -> tuple[int, int, int]:
        """(budget, start, recent) in tokens for a context of ``n_ctx`` tokens (KV-cache
        kinds). In generation the recent window holds at least the current token (the newest),
        which is always kept in its own iteration."""
        if self.budget_tokens:
            budget = min(self.budget_tokens, n_ctx)
        else:
            budget = sched.keep_count(n_ctx, self.budget_ratio)
        start = min(self.start_tokens, budget)
        if self.kind == "streaming":
            recent = budget - start
        elif self.recent_tokens:
            recent = self.recent_tokens
        else:
            recent = max(0, math.ceil(n_ctx * self.recent_ratio - 1e-9))
        recent = min(recent, budget - start)
        if generation and recent == 0 and budget > 0:
            recent = 1
            start = min(start, budget - 1)
        return budget, start, recent


def make_policy(tp: TokenPruningConfig, n_layers: int) -> TokenPolicy:
    """The policy of ``policy.token_pruning`` for a model of ``n_layers`` layers."""
    if tp.kind == "cascade":
        ratios = sched.keep_ratios(tp, n_layers) if tp.enabled else (None,) * n_layers
        return TokenPolicy(
            "cascade", tuple(r is not None for r in ratios), ratios, normalize=tp.normalize_scores
        )
    first = sched.unpruned_layers(tp, n_layers)
    prunes = tuple(tp.enabled and i >= first for i in range(n_layers))
    ratio = tp.budget_ratio if tp.budget_ratio else None
    return TokenPolicy(
        tp.kind,
        prunes,
        tuple(ratio if p else None for p in prunes),
        budget_ratio=tp.budget_ratio,
        budget_tokens=tp.budget_tokens,
        start_tokens=tp.start_tokens,
        recent_ratio=tp.recent_ratio,
        recent_tokens=tp.recent_tokens,
        normalize=tp.normalize_scores,
        in_summarization=tp.in_summarization,
    )


def check_trace(tp: TokenPruningConfig, generated_tokens: int) -> None:
    """Refuse a KV-cache kind that would do nothing on the trace: one without generation (an
    encoder) when the kind prunes only in generation."""
    if tp.enabled and tp.kind in KV_CACHE_KINDS and not tp.in_summarization:
        if generated_tokens == 0:
            raise ConfigError(
                f"policy.token_pruning.kind: {tp.kind} evicts from the KV cache in generation, "
                "and this trace has no generated tokens (an encoder): set "
                "policy.token_pruning.in_summarization: true (spatten_llm, streaming) or use "
                "kind cascade"
            )


def seen_counts(kpq: np.ndarray, n_keys: int) -> np.ndarray:
    """Per key (in key order), the number of queries that see it, for queries that see a
    prefix of ``kpq[i]`` keys each (float64, the unit of the importance counts)."""
    below = np.searchsorted(np.sort(kpq), np.arange(n_keys), side="right")
    return (kpq.size - below).astype(np.float64)


def _values(scores: np.ndarray, counts: np.ndarray | None, ids: np.ndarray) -> np.ndarray:
    """The candidates' scores (normalized by their counts when ``counts`` is given)."""
    vals = scores[ids].copy()
    if counts is not None:
        n = counts[ids]
        vals = np.divide(vals, n, out=np.zeros_like(vals), where=n > 0)
    return vals


def decide(
    pol: TokenPolicy,
    one: EngineOne,
    layer: int,
    cand: np.ndarray,
    n_ctx: int,
    protect: int | None,
    scores: np.ndarray | None,
    counts: np.ndarray | None,
) -> tuple[np.ndarray, TopkCall | None]:
    """The tokens ``layer`` keeps among the candidates ``cand`` (bool over the trace's tokens)
    and the engine call, for a context of ``n_ctx`` tokens; ``protect`` is the current token in
    generation (always kept), None in summarization. ``scores`` are the accumulated scores the
    kind reads (:attr:`TokenPolicy.scope`), ``counts`` the matching numbers of (head, query)
    probabilities, used when the policy normalizes."""
    gen = protect is not None
    if not pol.acts(layer, gen):
        return cand, None
    ids = np.flatnonzero(cand)
    norm = counts if pol.normalize else None
    if pol.kind == "cascade":
        r = pol.ratios[layer]
        assert r is not None and scores is not None
        k = sched.keep_count(n_ctx, r)
        if k >= ids.size:
            return cand, None
        vals = _values(scores, norm, ids)
        if not vals.any():  # nothing accumulated yet: it would prune by position
            return cand, None
        if protect is not None:
            vals[ids == protect] = np.inf
        kept, cycles = one(vals, k)
        out = np.zeros_like(cand)
        out[ids[kept]] = True
        return out, TopkCall(int(ids.size), int(k), cycles)
    budget, start, recent = pol.sizes(n_ctx, gen)
    n = ids.size
    if budget >= n:
        return cand, None
    middle = ids[start : n - recent]
    k = budget - start - recent
    out = np.zeros_like(cand)
    out[ids[:start]] = True
    out[ids[n - recent :]] = True
    call = None
    if k > 0:
        assert scores is not None
        vals = _values(scores, norm, middle)
        if not vals.any():  # nothing accumulated yet: it would prune by position
            return cand, None
        kept, cycles = one(vals, k)
        out[middle[kept]] = True
        call = TopkCall(int(middle.size), int(k), cycles)
    return out, call
