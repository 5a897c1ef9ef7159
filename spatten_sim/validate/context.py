"""Where the validation inputs live, and a per-run cache of simulations.

The official workloads and the small traces ship with the package (:mod:`spatten_sim.shipped`);
``$SPATTEN_SIM_WORKLOADS`` may point at another folder holding the official CSVs (an empty folder
shows what ``validate`` does when they are missing). The full (non-quick) run also uses a SmolLM2 992+32 trace made on first use
by ``spatten-sim trace`` into ``$SPATTEN_SIM_CACHE/traces/`` (default ``~/.cache/spatten-sim``).

A :class:`Context` belongs to one validation run: it caches every simulation by (configuration,
overrides, input), so rows that share a run (the breakdown steps and the DRAM split, say) simulate
it once, and it keeps every report so the DRAM-bound check can look at all of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatten_sim.shipped import OFFICIAL_WORKLOADS

#: the paper's GPT-2 setting: 992 prompt tokens, 32 generated (docs/spatten.md §1)
FULL_DECODER_PROMPT = 992
FULL_DECODER_GENERATE = 32
FULL_DECODER_NAME = "smollm2-wiki-992+32.npz"
#: the official workloads (docs/spatten.md §6)
GPT2_MEDIUM_CSV = OFFICIAL_WORKLOADS["gpt2-medium"]
GPT2_SMALL_CSV = OFFICIAL_WORKLOADS["gpt2-small"]


def repo_root() -> Path:
    """The checkout holding this package (``spatten_sim/..``); in an installed wheel this is
    ``site-packages``, so use it only for files that exist only in a checkout (docs, plots)."""
    return Path(__file__).resolve().parents[2]


def in_checkout() -> bool:
    """Whether this package runs from a git checkout (its ``pyproject.toml`` beside it)."""
    root = repo_root()
    return (root / "pyproject.toml").is_file() and (root / "spatten_sim").is_dir()


def workloads_dir() -> Path | None:
    """The folder of the official workload CSVs: ``$SPATTEN_SIM_WORKLOADS`` or the shipped one."""
    env = os.environ.get("SPATTEN_SIM_WORKLOADS")
    if env:
        return Path(env)
    from spatten_sim.shipped import official_dir

    return official_dir()


def official_csv_path(name: str) -> Path | None:
    """An official workload CSV by file name, or None when it is not there."""
    d = workloads_dir()
    if d is None:
        return None
    p = d / name
    return p if p.is_file() else None


def cache_dir() -> Path:
    env = os.environ.get("SPATTEN_SIM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "spatten-sim"


@dataclass(frozen=True)
class TraceInfo:
    """A trace file and the shape the rows need to pick it."""

    path: Path
    name: str
    model: str
    n_layers: int
    n_heads: int
    head_dim: int
    prompt_tokens: int
    generated_tokens: int
    causal: bool

    @property
    def is_decoder(self) -> bool:
        return self.generated_tokens > 0


def trace_info(path: Path) -> TraceInfo:
    from spatten_sim.trace import load_trace

    m = load_trace(path).meta
    return TraceInfo(
        path=path,
        name=path.stem,
        model=m.model,
        n_layers=m.n_layers,
        n_heads=m.n_heads,
        head_dim=m.head_dim,
        prompt_tokens=m.prompt_tokens,
        generated_tokens=m.generated_tokens,
        causal=m.causal,
    )


def shipped_traces() -> tuple[TraceInfo, ...]:
    """The shipped traces (``traces/`` (sorted by name; empty if none ship)."""
    from spatten_sim.shipped import traces_dir

    d = traces_dir()
    return tuple(trace_info(p) for p in sorted(d.glob("*.npz"))) if d is not None else ()


def full_decoder_trace(progress: Callable[[str], None]) -> tuple[Path | None, str]:
    """The SmolLM2 992+32 trace, made on first use (needs the [trace] extra).

    Returns the path (None if it could not be made) and a note.
    """
    out = cache_dir() / "traces" / FULL_DECODER_NAME
    if out.exists():
        return out, f"cached {out}"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-c",
        "import sys; from spatten_sim.cli import console; sys.exit(console(sys.argv[1:]))",
        "trace",
        "--model",
        "smollm2",
        "--text",
        "wiki",
        "--sample",
        "0",
        "--tokens",
        str(FULL_DECODER_PROMPT),
        "--generate",
        str(FULL_DECODER_GENERATE),
        "-o",
        str(out),
    ]
    progress(f"making the SmolLM2 {FULL_DECODER_PROMPT}+{FULL_DECODER_GENERATE} trace: {out}")
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0 or not out.exists():
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"could not make the SmolLM2 992+32 trace ({last})"
    return out, f"made {out} in {time.perf_counter() - t0:.0f} s"


class NotRun(Exception):
    """A figure asked for a simulation that the selected rows did not run."""


@dataclass
class Context:
    """Inputs and cached simulations of one validation run (not shared between runs)."""

    quick: bool
    progress: Callable[[str], None] = field(default=lambda msg: None)
    _sims: dict[tuple, Any] = field(default_factory=dict)
    _workloads: dict[tuple, Any] = field(default_factory=dict)
    #: per trace path: the loaded trace with its dense fidelity reference (algo/fidelity.py:
    #: DenseCache), shared by the workloads of that trace under different policies
    _dense: dict[str, Any] = field(default_factory=dict)
    _labels: dict[tuple, tuple] = field(default_factory=dict)
    _decoder: tuple[Path | None, str] | None = None
    _traces: tuple[TraceInfo, ...] | None = None
    #: when set, :meth:`simulate` only returns cached runs (figures of a partial run)
    cached_only: bool = False
    #: notes rows leave for each other (e.g. how a derived input was made)
    notes: dict[str, str] = field(default_factory=dict)

    def cache_state(self) -> tuple[dict, dict, dict]:
        """The finished simulations (picklable): merged by :meth:`merge` in another context."""
        return dict(self._sims), dict(self._labels), dict(self.notes)

    def merge(self, state: tuple[dict, dict, dict]) -> None:
        sims, labels, notes = state
        self._sims.update(sims)
        self._labels.update(labels)
        self.notes.update(notes)

    # ---- inputs -------------------------------------------------------------------------
    def traces(self) -> tuple[TraceInfo, ...]:
        if self._traces is None:
            self._traces = shipped_traces()
        return self._traces

    def encoder_traces(self) -> tuple[TraceInfo, ...]:
        return tuple(t for t in self.traces() if not t.is_decoder)

    def decoder_trace(self) -> tuple[Path | None, str]:
        """The decoder trace of this mode: the shipped SmolLM2 one (quick) or 992+32 (full)."""
        if self._decoder is None:
            shipped = [t for t in self.traces() if t.is_decoder]
            if not self.quick:
                path, note = full_decoder_trace(self.progress)
                if path is not None:
                    self._decoder = (path, f"SmolLM2 992+32 trace ({note})")
                    return self._decoder
                fallback = f"; {note}"
            else:
                fallback = ""
            if shipped:
                t = shipped[0]
                self._decoder = (
                    t.path,
                    f"shipped {t.name} ({t.prompt_tokens}+{t.generated_tokens} tokens){fallback}",
                )
            else:
                self._decoder = (None, f"no decoder trace in traces/{fallback}")
        return self._decoder

    def is_decoder(self, path: Path) -> bool:
        """True for the decoder trace of this run or a shipped trace with generated tokens."""
        if self._decoder is not None and self._decoder[0] == path:
            return True
        return any(t.path == path and t.is_decoder for t in self.traces())

    def official_csv(self, name: str) -> Path | None:
        return official_csv_path(name)

    # ---- simulations --------------------------------------------------------------------
    def simulate(
        self, preset: str, path: Path, sets: tuple[str, ...] = (), generation_only: bool = False
    ) -> Any:
        """``simulate(preset, path, sets=sets)``, cached for the run.

        ``generation_only`` (decoder traces): time only the generation iterations, as the paper
        times GPT-2 (32 generated tokens after the prompt); the functional phase still runs the
        prompt (it sets the importance scores), the timing phase gets the generation layer jobs
        only, and ``dense_ops`` counts the generation iterations only.

        Runs whose resolved configurations are equal (``spatten`` and
        ``ablation/5_progressive_quant``, say) are simulated once. For traces, runs that differ
        only in hardware the functional phase does not read (:func:`functional_key`) share one
        workload: SpAtten_1/8 reuses SpAtten's, a K/V SRAM sweep reuses one workload; runs that
        differ in policy share the loaded trace and the dense reference of its fidelity.
        """
        from spatten_sim.config import load_config

        cfg = load_config(preset, list(sets))
        key = (
            replay_key(cfg) if path.suffix == ".csv" else config_key(cfg),
            str(path),
            generation_only,
        )
        if key not in self._sims:
            if self.cached_only:
                raise NotRun(f"{preset} on {path.name} was not run")
            from spatten_sim.pipeline import load_workload, simulate

            t0 = time.perf_counter()
            wl = None
            if path.suffix == ".npz":
                wkey = (functional_key(cfg), str(path))
                if wkey not in self._workloads:
                    dense = self._dense_cache(path)
                    self._workloads[wkey] = load_workload(cfg, path, dense_cache=dense)[0]
                wl = self._workloads[wkey]
                if generation_only:
                    wl = generation_workload(wl)
            rep = simulate(cfg, path, workload=wl)
            extra = f" --set {' --set '.join(sets)}" if sets else ""
            extra += " (generation only)" if generation_only else ""
            self.progress(f"{preset} {path.name}{extra}: {time.perf_counter() - t0:.1f} s")
            self._sims[key] = rep
            self._labels[key] = (preset, tuple(sets), str(path))
        return self._sims[key]

    def _dense_cache(self, path: Path) -> Any:
        """The trace at ``path``, loaded once per run, with its dense fidelity reference."""
        if str(path) not in self._dense:
            from spatten_sim.algo.fidelity import DenseCache
            from spatten_sim.trace import load_trace

            self._dense[str(path)] = DenseCache(load_trace(path))
        return self._dense[str(path)]

    def reports(self) -> list[tuple[tuple, Any]]:
        """Every simulation of this run so far: ((preset, sets, input), report)."""
        return [(self._labels[k], rep) for k, rep in self._sims.items()]


def generation_workload(wl: Any) -> Any:
    """``wl`` with only its generation layer jobs, ``dense_ops`` of the generation only."""
    import dataclasses

    from spatten_sim.workload import dense_attention_ops

    args = (wl.n_heads, wl.head_dim, wl.n_layers, wl.prompt_tokens)
    ops = dense_attention_ops(*args, wl.generated_tokens, wl.causal)
    ops -= dense_attention_ops(*args, 0, wl.causal)
    layers = tuple(lj for lj in wl.layers if lj.stage == "generation")
    return dataclasses.replace(wl, layers=layers, dense_ops=ops)


def config_key(cfg: Any) -> str:
    """The resolved configuration without its name and description, as a stable string."""
    d = cfg.to_dict()
    d.pop("name", None)
    d.pop("description", None)
    return json.dumps(d, sort_keys=True, default=str)


def replay_key(cfg: Any) -> str:
    """:func:`config_key` for an official-CSV replay: the importer reads no policy but the top-k
    seed (its decisions are recorded in the file) and the timing phase reads no policy at all,
    so runs differing only in policy are the same run (breakdown steps 1-3, say)."""
    d = cfg.to_dict()
    for k in ("name", "description"):
        d.pop(k, None)
    d["policy"] = {"topk_seed": cfg.policy.topk_seed}
    return json.dumps(d, sort_keys=True, default=str)


def functional_key(cfg: Any) -> str:
    """What the functional phase reads of a configuration (``algo/functional.py``): the policy,
    the on-chip word width and the top-k engine's comparators and round overhead.
    ``tests/validate`` checks that runs equal under this key build equal workloads."""
    d = {
        "policy": cfg.to_dict()["policy"],
        "word_bits": cfg.buffers.word_bits,
        "comparators": cfg.topk.comparators,
        "round_overhead_cycles": cfg.topk.round_overhead_cycles,
    }
    return json.dumps(d, sort_keys=True, default=str)
