"""spatten-sim: a cycle-level simulator of the SpAtten attention accelerator (HPCA 2021).

Data flow: ``HwConfig`` + ``Trace`` -> functional SpAtten (``algo``) -> ``Workload`` ->
SimPy timing (``hw``) -> counters -> energy -> ``Report``.

The public API (docs/api.md), importable from here::

    import spatten_sim as ss

    report = ss.simulate("spatten", "traces/minilm-sst-25.npz")
    report.flat()["dram.bytes_read"]
    table = ss.run_sweep({"base": "spatten", "traces": [...], "axes": {...}}, "results/x")

The names are imported on first use, so ``import spatten_sim`` stays light.
"""

import importlib as _importlib
import types as _types
import typing as _typing

__version__ = "0.1.0"

#: public name -> the module that defines it
_LAZY: dict[str, str] = {
    "ConfigError": "spatten_sim.errors",
    "HwConfig": "spatten_sim.config",
    "Report": "spatten_sim.report",
    "ResultTable": "spatten_sim.sweep.table",
    "SpattenError": "spatten_sim.errors",
    "Trace": "spatten_sim.trace",
    "load_config": "spatten_sim.config",
    "load_results": "spatten_sim.sweep.table",
    "load_trace": "spatten_sim.trace",
    "run_sweep": "spatten_sim.sweep.engine",
    "simulate": "spatten_sim.pipeline",
    "topk": "spatten_sim.algo.topk",
}

__all__ = [
    "ConfigError",
    "HwConfig",
    "Report",
    "ResultTable",
    "SpattenError",
    "Trace",
    "__version__",
    "load_config",
    "load_results",
    "load_trace",
    "run_sweep",
    "simulate",
    "topk",
]

if _typing.TYPE_CHECKING:
    from spatten_sim.algo.topk import topk
    from spatten_sim.config import HwConfig, load_config
    from spatten_sim.errors import ConfigError, SpattenError
    from spatten_sim.pipeline import simulate
    from spatten_sim.report import Report
    from spatten_sim.sweep.engine import run_sweep
    from spatten_sim.sweep.table import ResultTable, load_results
    from spatten_sim.trace import Trace, load_trace


def __getattr__(name: str) -> _typing.Any:  # lazy public API: keeps `import spatten_sim` light
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'spatten_sim' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    """The public names, the module's own dunders and the subpackages imported so far."""
    here = globals()
    extra = {k for k, v in here.items() if isinstance(v, _types.ModuleType) and k[0] != "_"}
    return sorted({*__all__, *(k for k in here if k.startswith("__")), *extra})
