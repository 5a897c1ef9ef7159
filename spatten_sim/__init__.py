"""spatten-sim: a cycle-level simulator of the SpAtten attention accelerator (HPCA 2021).

Data flow: ``HwConfig`` + ``Trace`` -> functional SpAtten (``algo``) -> ``Workload`` ->
SimPy timing (``hw``) -> counters -> energy -> ``Report``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_trace", "topk"]


def __getattr__(name: str):  # lazy public API: keeps `import spatten_sim` light
    if name == "load_trace":
        from spatten_sim.trace import load_trace

        return load_trace
    if name == "topk":
        from spatten_sim.algo.topk import topk

        return topk
    if name == "simulate":
        from spatten_sim.pipeline import simulate

        return simulate
    if name == "load_config":
        from spatten_sim.config import load_config

        return load_config
    raise AttributeError(f"module 'spatten_sim' has no attribute {name!r}")
