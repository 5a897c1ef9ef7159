"""Design-space sweeps: many configurations x many inputs, locally or on a Dask cluster.

``spatten-sim sweep space.yaml -o results/`` (docs/sweeps.md). The pieces, one job each:

* :mod:`~spatten_sim.sweep.space` -- parsing and validating ``space.yaml``;
* :mod:`~spatten_sim.sweep.points` -- expanding it into points keyed by a content hash;
* :mod:`~spatten_sim.sweep.runner` -- what a worker does with one point (never raises);
* :mod:`~spatten_sim.sweep.executors` -- serial, local processes, Dask;
* :mod:`~spatten_sim.sweep.store` -- the crash-safe results folder and table;
* :mod:`~spatten_sim.sweep.table` -- the typed table (:class:`ResultTable`, :func:`load_results`,
  Parquet);
* :mod:`~spatten_sim.sweep.progress` -- the progress line;
* :mod:`~spatten_sim.sweep.engine` -- :func:`run_sweep`, tying them together.
"""

from __future__ import annotations

from spatten_sim.sweep.engine import SweepSummary, run_sweep
from spatten_sim.sweep.space import Space, load_space
from spatten_sim.sweep.store import read_manifest, read_point, read_table
from spatten_sim.sweep.table import ResultTable, load_results

__all__ = [
    "ResultTable",
    "Space",
    "SweepSummary",
    "load_results",
    "load_space",
    "read_manifest",
    "read_point",
    "read_table",
    "run_sweep",
]
