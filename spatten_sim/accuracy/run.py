"""``spatten-sim accuracy``: what a configuration's decisions cost a real model, and what they buy.

A run takes a configuration, a model and a text, and gives the accuracy of the model with the
simulator's decisions applied inside it (:mod:`spatten_sim.accuracy.loop`) together with the
simulated report (cycles, DRAM bytes, energy) of the workload those same decisions make.

Decoders (``smollm2``, ``gemma3``), teacher forced: the text is cut to ``prompt + scored + 1``
tokens. The prompt is the summarization stage; each of the ``scored`` tokens after it is one
generation iteration whose input is the text's token and whose output scores the text's next
token. So every scored prediction comes from a generation iteration (where the current token is
always kept), none from a summarization query that pruning may have removed. Measures: the
perplexity of the scored tokens with pruning in the loop and for the dense model (its own eager
forward pass), their ratio with a paired 95 % interval.

Encoders (``minilm``, ``mpnet``): labelled sentences (Pang & Lee polarity, +1/-1), each one
summarization pass. Measures: cosine similarity between the pruned and the dense sentence
embedding (mean pooling, over the tokens that survive the last layer for the pruned model: the
hardware's output; over every token for the dense one), and a linear probe trained on the dense
embeddings of the first part of the sentences, evaluated on the rest with dense and with pruned
embeddings. The hardware report is the sum over sentences of the per-sentence simulations.

The quantization scales are calibrated on the dense model's run of the same text (per layer and
head, ``max|x|``, as ``spatten-sim run`` does for an extracted trace); in-loop values beyond that
range saturate. Given those scales, the functional phase run offline on the trace the loop
recorded makes exactly the decisions the loop applied (a test checks it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spatten_sim.accuracy import metrics
from spatten_sim.accuracy.loop import ModelLoop, loop_model, make_builder, new_trace
from spatten_sim.algo.functional import (
    FunctionalResult,
    LayerScales,
    calibrate_scales,
    functional_result,
)
from spatten_sim.config import HwConfig
from spatten_sim.errors import SpattenError
from spatten_sim.trace import Trace

__all__ = ["AccuracyRequest", "DecoderRun", "run_decoder", "run_encoder"]

DECODERS = ("smollm2", "gemma3")
ENCODERS = ("minilm", "mpnet")

Progress = Callable[[str], None] | None


@dataclass(frozen=True)
class AccuracyRequest:
    """What to measure: a model, a text and the token counts."""

    model: str
    text: str = "wiki"  #: a text source of ``spatten-sim trace`` (decoders)
    sample: int = 0  #: first sample of the source
    prompt_tokens: int = 992  #: decoders: summarization tokens
    scored_tokens: int = 128  #: decoders: teacher-forced generation iterations scored
    sentences: int = 200  #: encoders: labelled sentences (probe: the first 60 % train it)
    max_sentence_tokens: int = 128  #: encoders: longer sentences are cut


@dataclass(frozen=True, eq=False)
class DecoderRun:
    """One decoder measured with a configuration's decisions in the loop."""

    request: AccuracyRequest
    model_name: str
    text_source: str
    nll: np.ndarray  #: per scored token, nats, with the simulator in the loop
    nll_dense: np.ndarray  #: the same tokens, the model's own dense forward pass
    functional: FunctionalResult  #: the loop's workload (the decisions applied)
    trace: Trace  #: the Q/K/V the loop computed with (the pruned model's own)
    dense_trace: Trace  #: the dense model's Q/K/V of the same tokens (calibration)
    scales: tuple[LayerScales, ...]
    seconds: dict[str, float] = field(default_factory=dict)

    def measures(self) -> dict[str, Any]:
        ppl = metrics.perplexity(self.nll)
        dense = metrics.perplexity(self.nll_dense)
        ratio = metrics.perplexity_ratio(self.nll, self.nll_dense)
        return {
            "metric": "perplexity",
            "scored_tokens": int(self.nll.size),
            "perplexity": ppl.value,
            "perplexity_ci95": [ppl.low, ppl.high],
            "dense_perplexity": dense.value,
            "dense_perplexity_ci95": [dense.low, dense.high],
            "perplexity_ratio": ratio.value,
            "perplexity_ratio_ci95": [ratio.low, ratio.high],
        }


def _check_request(req: AccuracyRequest, causal: bool, max_tokens: int) -> None:
    if causal:
        if req.prompt_tokens < 1 or req.scored_tokens < 1:
            raise SpattenError("--tokens and --score must be at least 1")
        if req.prompt_tokens + req.scored_tokens + 1 > max_tokens:
            raise SpattenError(
                f"--tokens + --score + 1 = {req.prompt_tokens + req.scored_tokens + 1} is more "
                f"than the model takes ({max_tokens})"
            )
    elif req.sentences < 10:
        raise SpattenError("--sentences must be at least 10 (the probe needs a test split)")


def _nll(logits: Any, targets: np.ndarray) -> np.ndarray:
    import torch

    lp = torch.log_softmax(logits.double(), dim=-1)
    t = torch.as_tensor(targets, dtype=torch.long)
    return (-lp.gather(-1, t[:, None])[:, 0]).numpy()


def _teacher_forced(
    loop: ModelLoop, ids: np.ndarray, prompt: int, scored: int, progress: Progress
) -> np.ndarray:
    """Prompt in one forward pass, then one pass per scored token with the KV cache: the NLL of
    each next token (nats)."""
    import torch

    model = loop.lm.model
    nll = np.empty(scored)
    with torch.inference_mode(), loop.installed():
        loop.start_pass("summarization", 0, 0)
        out = model(input_ids=torch.as_tensor(ids[None, :prompt]), use_cache=True)
        loop.end_pass()
        cache = out.past_key_values
        for t in range(1, scored + 1):
            pos = prompt + t - 1
            loop.start_pass("generation", t, pos)
            out = model(
                input_ids=torch.as_tensor(ids[None, pos : pos + 1]), cache=cache, use_cache=True
            )
            loop.end_pass()
            cache = out.past_key_values
            nll[t - 1] = _nll(out.logits[0, -1:], ids[pos + 1 : pos + 2])[0]
            if progress and (t % 16 == 0 or t == scored):
                progress(f"accuracy: generation {t}/{scored}")
    return nll


def _record_dense(loop: ModelLoop, ids: np.ndarray) -> None:
    """One dense forward pass over ``ids`` that writes every layer's Q/K/V into the trace."""
    import torch

    loop.mode = "record"
    with torch.inference_mode(), loop.installed():
        loop.start_pass("summarization", 0, 0)
        loop.lm.model(input_ids=torch.as_tensor(ids[None, :]))
        loop.end_pass()


def run_decoder(
    cfg: HwConfig,
    req: AccuracyRequest,
    lm: Any,
    source: Any,
    *,
    progress: Progress = None,
    loop_mode: str = "spatten",
) -> DecoderRun:
    """Measure decoder ``lm`` on ``source`` (a :class:`~spatten_sim.extract.text.TextSource`)
    with ``cfg``'s decisions in the loop. ``loop_mode="float"`` runs the same passes with dense
    float attention instead (the check that the loop itself changes nothing)."""
    import torch

    from spatten_sim.extract.extractor import select_text

    lmodel = loop_model(lm)
    if not lmodel.causal:
        raise SpattenError(f"{req.model} is an encoder: it has no perplexity (use --sentences)")
    _check_request(req, True, lm.spec.max_tokens)
    seconds: dict[str, float] = {}
    P, S = req.prompt_tokens, req.scored_tokens
    t0 = time.perf_counter()
    ids_list, _used, _text = select_text(source, lm.tokenizer, req.sample, P + S + 1, P + S + 1)
    ids = np.asarray(ids_list, dtype=np.int64)
    with torch.inference_mode():
        logits = lm.model(input_ids=torch.as_tensor(ids[None, :])).logits[0]
    nll_dense = _nll(logits[P : P + S], ids[P + 1 : P + S + 1])
    seconds["dense"] = time.perf_counter() - t0
    if progress:
        progress(f"accuracy: dense perplexity {np.exp(nll_dense.mean()):.2f}")

    t0 = time.perf_counter()
    name = lm.spec.name
    dense_trace = new_trace(lmodel, P, S, ids, name)
    _record_dense(ModelLoop(lm, lmodel, dense_trace), ids[: P + S])
    scales = calibrate_scales(dense_trace, cfg)
    seconds["calibrate"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    trace = new_trace(lmodel, P, S, ids, name)
    loop = ModelLoop(lm, lmodel, trace)
    if loop_mode == "spatten":
        loop.mode = "spatten"
        loop.builder = make_builder(trace, cfg, scales)
    elif loop_mode == "float":
        loop.mode = "record"
    else:
        raise ValueError(f"unknown loop mode {loop_mode!r}")
    from spatten_sim.algo.blas import single_threaded_blas

    with single_threaded_blas():
        nll = _teacher_forced(loop, ids, P, S, progress)
    seconds["loop"] = time.perf_counter() - t0
    if loop.builder is not None:
        fr = functional_result(loop.builder, cfg, source=f"accuracy:{req.model}:{source.key}")
    else:
        from spatten_sim.algo.functional import run_functional

        fr = run_functional(trace, cfg, scales=scales, fidelity=False)
    return DecoderRun(
        request=req,
        model_name=name,
        text_source=source.description,
        nll=nll,
        nll_dense=nll_dense,
        functional=fr,
        trace=trace,
        dense_trace=dense_trace,
        scales=scales,
        seconds=seconds,
    )
