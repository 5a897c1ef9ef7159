"""``spatten-sim validate``: SpAtten's published results next to ours, row by row.

* :mod:`~spatten_sim.validate.rows` -- the rows: quantity, unit, paper value, tolerance and why;
* :mod:`~spatten_sim.validate.measures` -- how each of our numbers is computed (simulator runs);
* :mod:`~spatten_sim.validate.context` -- where the inputs are; a per-run simulation cache;
* :mod:`~spatten_sim.validate.runner` -- runs the rows (quick or full) and the figures' data;
* :mod:`~spatten_sim.validate.output` / :mod:`~spatten_sim.validate.figures` -- table, CSV,
  JSON, Markdown; the PNG figures.

docs/validation.md describes every row and why the failing ones fail.
"""

from spatten_sim.validate.rows import RowResult, RowSpec, Tolerance, all_rows
from spatten_sim.validate.runner import Validation, run_validation

__all__ = ["RowResult", "RowSpec", "Tolerance", "Validation", "all_rows", "run_validation"]
