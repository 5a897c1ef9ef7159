"""What a worker does with one point: simulate it and return the outcome (never raise).

The functions here are top-level and their arguments and results are plain picklable data, so
the same code runs in this process, in a local process pool, or on a Dask worker.

Workload reuse: the functional phase depends only on the input, ``policy.*``, ``topk.*`` and
``buffers.word_bits`` (:func:`functional_key`). A worker keeps the few workloads it built most
recently (a memoized pure function of those inputs) and hands them to ``simulate``, so points that
differ only in hardware keys (SRAM sizes, memory channels, multipliers, FIFO depths ...) skip the
functional phase (for an official workload CSV: its import, which reads only the ``topk`` keys and
the top-k seed). Points of a trace that differ in those keys too (a policy sweep) still share the
trace: the worker keeps the last trace it loaded and the fidelity's dense reference of it
(:class:`~spatten_sim.algo.fidelity.DenseCache`, which reads the trace alone), so such a point
neither reads the file again nor recomputes the dense attention. Reuse changes no figure of the
report (tests/sweep/test_sweep_executors.py checks both).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatten_sim.errors import SpattenError

#: workloads a worker process keeps for reuse
WORKLOAD_CACHE_SIZE = 4


@dataclass(frozen=True)
class PointTask:
    """The work of one point, as shipped to a worker."""

    point_id: str
    config: dict  #: resolved configuration (``HwConfig.to_dict()``)
    input_path: str
    input_sha256: str
    reuse_workload: bool = True
    simulator: str = ""  #: the client's simulator fingerprint; a worker with other code refuses
    #: the space's accuracy request (``spatten-sim accuracy`` options), or None
    accuracy: tuple[tuple[str, Any], ...] | None = None


@dataclass(frozen=True)
class PointOutcome:
    """The result of one point: a report, or the one-line error that stopped it."""

    point_id: str
    ok: bool
    error: str | None
    report: dict | None
    layers: tuple[dict, ...] | None
    wall_seconds: float
    worker: str  #: host:pid that ran it (for the per-point JSON only, not the table)
    workload_reused: bool = False


def functional_key(config: dict) -> str:
    """The part of a resolved configuration the functional phase reads (as canonical JSON)."""
    from spatten_sim.provenance import canonical_json

    return canonical_json(
        {
            "policy": config["policy"],
            "topk": config["topk"],
            "word_bits": config["buffers"]["word_bits"],
        }
    )


@functools.lru_cache(maxsize=1)
def _trace_inputs(input_path: str, input_sha256: str) -> Any:
    """The loaded trace (read-only arrays) with its dense-reference cache (a
    :class:`~spatten_sim.algo.fidelity.DenseCache`, bounded in size), memoized for the worker's
    next point on the same trace."""
    from spatten_sim.algo.fidelity import DenseCache
    from spatten_sim.trace import load_trace

    return DenseCache(load_trace(input_path))


@functools.lru_cache(maxsize=WORKLOAD_CACHE_SIZE)
def _workload(input_path: str, input_sha256: str, fkey: str) -> Any:
    """Build (or return the memoized) workload of a trace or an official workload CSV under a
    functional configuration."""
    from spatten_sim.algo.functional import build_workload
    from spatten_sim.config import config_from_dict
    from spatten_sim.provenance import file_sha256

    if file_sha256(input_path) != input_sha256:
        raise SpattenError(f"{input_path}: the file changed since the sweep started")
    f = json.loads(fkey)
    cfg = config_from_dict(
        {"policy": f["policy"], "topk": f["topk"], "buffers": {"word_bits": f["word_bits"]}}
    )
    if Path(input_path).suffix == ".csv":  # the importer reads the top-k keys only
        from spatten_sim.workload_csv import load_official_csv

        return load_official_csv(input_path, cfg)
    dense = _trace_inputs(input_path, input_sha256)
    return build_workload(dense.trace, cfg, source=input_path, dense_cache=dense)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:500]


def point_accuracy(cfg: Any, request: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """The ``accuracy`` section of a point's record: the accuracy measures and the hardware cost
    of the in-the-loop decisions (``hardware.*``), cached by configuration and text
    (:func:`spatten_sim.accuracy.measure.cached_accuracy`)."""
    from spatten_sim.accuracy.measure import cached_accuracy
    from spatten_sim.accuracy.run import AccuracyRequest
    from spatten_sim.extract.cache import cache_root

    opts = dict(request)
    names = {"tokens": "prompt_tokens", "score": "scored_tokens"}
    req = AccuracyRequest(**{names.get(k, k): v for k, v in opts.items()})
    doc = cached_accuracy(cfg, req, cache=cache_root()).to_dict()
    acc = {k: v for k, v in doc["accuracy"].items() if not isinstance(v, list)}
    for k, v in doc["accuracy"].items():
        if isinstance(v, list) and len(v) == 2:  # a 95 % interval
            acc[f"{k}_low"], acc[f"{k}_high"] = v
    return {**acc, "hardware": doc["hardware"]}


def run_point(task: PointTask) -> PointOutcome:
    """Simulate one point; every error becomes a failed outcome carrying a one-line message."""
    from spatten_sim.config import check_head_dim, config_from_dict
    from spatten_sim.pipeline import simulate

    t0 = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    reused = False
    try:
        from spatten_sim.sweep.points import simulator_fingerprint

        if task.simulator and task.simulator != simulator_fingerprint():
            raise SpattenError(
                f"worker {worker} runs another spatten-sim (code fingerprint "
                f"{simulator_fingerprint()}, the sweep's is {task.simulator}): install the same "
                "version on every worker"
            )
        cfg = config_from_dict(task.config)
        wl = None
        kind = {".npz": "trace", ".csv": "official-csv"}.get(Path(task.input_path).suffix)
        if task.reuse_workload and kind is not None:
            fkey = functional_key(task.config)
            hits = _workload.cache_info().hits
            wl = _workload(task.input_path, task.input_sha256, fkey)
            reused = _workload.cache_info().hits > hits
            check_head_dim(cfg, wl.head_dim)
        report = simulate(
            cfg,
            task.input_path,
            workload=wl,
            input_kind=kind if wl else None,
            # a reused workload was built from a file checked against this hash: no need to
            # hash it again (otherwise simulate hashes the file it reads)
            provenance_extra={"input_sha256": task.input_sha256} if wl is not None else None,
        )
        data = report.to_dict()  # plain dicts: the record is pickled and written as JSON
        if task.accuracy is not None:
            data["accuracy"] = point_accuracy(cfg, task.accuracy)
        return PointOutcome(
            task.point_id, True, None, data, tuple(dict(r) for r in report.layers),
            time.perf_counter() - t0, worker, reused,
        )  # fmt: skip
    except SpattenError as exc:
        err = f"{type(exc).__name__}: {_one_line(str(exc))}"
    except MemoryError:
        err = "MemoryError: out of memory"
    except Exception as exc:  # a bug in the simulator: record it and let the sweep go on
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
        err = f"internal error: {type(exc).__name__}: {_one_line(str(exc))}{where}"
    return PointOutcome(task.point_id, False, err, None, None, time.perf_counter() - t0, worker)
