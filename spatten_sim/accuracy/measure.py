"""One accuracy measurement end to end: model + text + configuration -> accuracy and hardware cost.

:func:`measure_accuracy` loads the model and the text, runs :mod:`spatten_sim.accuracy.run` and
simulates the loop's workload with the ordinary pipeline (:func:`spatten_sim.pipeline.simulate`),
so the accuracy and the cycles, DRAM bytes and energy come from the same decisions. The result is
a plain, re-readable document (:meth:`AccuracyResult.to_dict`).

:func:`cached_accuracy` keeps results in the user cache folder
(``<cache>/accuracy/<key>.json``), keyed by the SHA-256 of everything the result depends on:
the fully resolved configuration, the model and its package version, the text and token counts,
the transformers and torch versions and spatten-sim's code fingerprint. Sweeps use it, so a point
measured once is not measured again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatten_sim.accuracy.run import (
    DECODERS,
    ENCODERS,
    AccuracyRequest,
    DecoderRun,
    EncoderRun,
    Progress,
    run_decoder,
    run_encoder,
)
from spatten_sim.config import HwConfig
from spatten_sim.errors import SpattenError
from spatten_sim.frozen import freeze, thaw

__all__ = ["AccuracyResult", "accuracy_key", "cached_accuracy", "measure_accuracy"]

MODELS = DECODERS + ENCODERS

#: bump when the result document changes shape or meaning
RESULT_VERSION = 1


@dataclass(frozen=True, eq=False)
class AccuracyResult:
    """Accuracy and hardware cost of one configuration on one model and text (immutable)."""

    data: Any  #: the document (frozen mappings), see :meth:`to_dict`

    @property
    def accuracy(self) -> dict[str, Any]:
        return thaw(self.data["accuracy"])

    @property
    def hardware(self) -> dict[str, Any]:
        return thaw(self.data["hardware"])

    def to_dict(self) -> dict[str, Any]:
        return thaw(self.data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def summary(self) -> str:
        """A readable table, every figure with its unit."""
        d = self.to_dict()
        a, h, r = d["accuracy"], d["hardware"], d["request"]
        rows: list[tuple[str, str]] = [
            ("configuration", d["config"]),
            ("model", f"{d['model']} ({d['model_package']})"),
            ("text", d["text_source"]),
        ]
        if a["metric"] == "perplexity":
            rows += [
                ("tokens", f"{r['prompt_tokens']} prompt + {a['scored_tokens']} scored"),
                ("perplexity, dense", _ci(a["dense_perplexity"], a["dense_perplexity_ci95"])),
                ("perplexity, in the loop", _ci(a["perplexity"], a["perplexity_ci95"])),
                ("ratio (paired)", _ci(a["perplexity_ratio"], a["perplexity_ratio_ci95"], "x")),
            ]
        else:
            rows += [
                ("sentences", f"{a['sentences']} ({a['mean_tokens']:.1f} tokens on average)"),
                ("embedding cosine", _ci(a["embedding_cosine"], a["embedding_cosine_ci95"])),
                ("  lowest sentence", f"{a['embedding_cosine_min']:.4f}"),
                ("  early-exit pooling", f"{a['embedding_cosine_early_exit']:.4f}"),
                (
                    "probe accuracy dense / in the loop",
                    f"{a['probe_dense_accuracy'] * 100:.1f} % / "
                    f"{a['probe_pruned_accuracy'] * 100:.1f} % "
                    f"({a['probe_test']} test sentences, trained on {a['probe_train']})",
                ),
            ]
        rows += [
            ("", ""),
            ("cycles", f"{h['cycles']:,}"),
            ("time", f"{h['seconds'] * 1e6:,.2f} us"),
            ("DRAM read", f"{h['dram_bytes_read']:,} B"),
            ("energy", f"{h['energy_pj'] / 1e6:,.3f} uJ"),
            ("tokens kept", f"{h['tokens_kept_fraction'] * 100:.1f} % (mean over layers)"),
            ("heads kept", f"{h['heads_kept_fraction'] * 100:.1f} %"),
        ]
        w = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{w}}  {v}" if k else "" for k, v in rows)


def _ci(v: float, ci: list[float], unit: str = "") -> str:
    return f"{v:.4g}{unit} (95 % CI {ci[0]:.4g} .. {ci[1]:.4g})"


def _hardware(reports: list[Any]) -> dict[str, Any]:
    """Cost of the run: one report (decoder), or the sum over sentences (encoder)."""
    n = len(reports)
    return {
        "simulations": n,
        "cycles": int(sum(r.get("cycles") for r in reports)),
        "seconds": float(sum(r.get("seconds") for r in reports)),
        "dram_bytes_read": int(sum(r.get("dram.bytes_read") for r in reports)),
        "energy_pj": float(sum(r.get("energy_pj.total") for r in reports)),
        "tokens_kept_fraction": float(
            sum(r.get("pruning.tokens_kept_fraction") for r in reports) / n
        ),
        "heads_kept_fraction": float(
            sum(r.get("pruning.heads_kept_fraction") for r in reports) / n
        ),
    }


def _request_dict(req: AccuracyRequest, causal: bool) -> dict[str, Any]:
    if causal:
        return {
            "text": req.text,
            "sample": req.sample,
            "prompt_tokens": req.prompt_tokens,
            "scored_tokens": req.scored_tokens,
        }
    return {
        "text": "pang-lee-sentences",
        "sample": req.sample,
        "sentences": req.sentences,
        "max_sentence_tokens": req.max_sentence_tokens,
    }


def measure_accuracy(
    cfg: HwConfig,
    req: AccuracyRequest,
    *,
    cache: Path,
    progress: Progress = None,
    keep_run: bool = False,
) -> tuple[AccuracyResult, DecoderRun | EncoderRun | None, Any]:
    """Measure ``req`` on ``cfg``: (result, the run itself if ``keep_run``, the decoder's full
    :class:`~spatten_sim.report.Report` or None for an encoder)."""
    from spatten_sim.extract.models import load_model
    from spatten_sim.extract.text import load_source
    from spatten_sim.pipeline import simulate

    if req.model not in MODELS:
        raise SpattenError(f"unknown model {req.model!r} (choose from {', '.join(MODELS)})")
    lm = load_model(req.model, cache)
    causal = req.model in DECODERS
    run: DecoderRun | EncoderRun
    if causal:
        source = load_source(req.text, cache)
        run = run_decoder(cfg, req, lm, source, progress=progress)
        if progress:
            progress("accuracy: simulating the loop's workload")
        report = simulate(cfg, f"accuracy:{req.model}", workload=run.functional.workload)
        reports = [report]
        text = run.text_source
    else:
        run = run_encoder(cfg, req, lm, cache, progress=progress)
        if progress:
            progress(f"accuracy: simulating {len(run.workloads)} sentence workloads")
        reports = [
            simulate(cfg, f"accuracy:{req.model}", workload=fr.workload) for fr in run.workloads
        ]
        report = None
        text = run.text_source
    doc = {
        "result_version": RESULT_VERSION,
        "config": cfg.name,
        "model": lm.spec.name,
        "model_key": req.model,
        "model_package": f"{lm.spec.packages[0]}=={lm.package_version}",
        "text_source": text,
        "request": _request_dict(req, causal),
        "accuracy": run.measures(),
        "hardware": _hardware(reports),
        "seconds": dict(run.seconds),
        "key": accuracy_key(cfg, req, lm),
    }
    return AccuracyResult(freeze(doc)), (run if keep_run else None), report


def accuracy_key(cfg: HwConfig, req: AccuracyRequest, lm: Any | None = None) -> str:
    """SHA-256 of everything a result depends on (see the module docstring)."""
    from spatten_sim import __version__
    from spatten_sim.provenance import canonical_json, code_fingerprint, resolved_config

    resolved = resolved_config(cfg)
    for k in ("name", "description"):
        resolved.pop(k, None)
    versions: dict[str, str] = {}
    if lm is not None:
        versions = {
            "package": lm.package_version,
            "transformers": lm.transformers_version,
            "torch": lm.torch_version,
        }
    doc = {
        "v": RESULT_VERSION,
        "config": resolved,
        "model": req.model,
        "request": _request_dict(req, req.model in DECODERS),
        "versions": versions,
        "spatten_sim": __version__,
        "code": code_fingerprint(),
    }
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()


def cached_accuracy(
    cfg: HwConfig, req: AccuracyRequest, *, cache: Path, progress: Progress = None
) -> AccuracyResult:
    """:func:`measure_accuracy`'s result, from ``<cache>/accuracy`` when measured before."""
    from spatten_sim.extract.models import load_model

    lm = load_model(req.model, cache)
    key = accuracy_key(cfg, req, lm)
    path = cache / "accuracy" / f"{key}.json"
    if path.is_file():
        try:
            doc = json.loads(path.read_text())
            if doc.get("key") == key and doc.get("result_version") == RESULT_VERSION:
                return AccuracyResult(freeze(doc))
        except (OSError, ValueError):
            pass  # a damaged entry is measured again and replaced
    result, _, _ = measure_accuracy(cfg, req, cache=cache, progress=progress)
    from spatten_sim.files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, result.to_json() + "\n")
    return result
