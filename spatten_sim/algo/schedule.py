"""Cascade pruning schedules [P, docs/spatten.md §2]: which layers prune and with which keep ratio.

The first ``unpruned_layers_fraction`` of the layers keep everything: ``ceil(fraction * n_layers)``
layers (the paper's "first ~15% / ~30%"; ceil so that a non-zero fraction never rounds down to no
protected layer). Over the remaining ``m`` layers the keep ratio goes linearly from
``start_keep_ratio`` (first pruned layer) to ``end_keep_ratio`` (last layer), endpoints included, so
the average over pruned layers is ``(start + end) / 2``; with one pruned layer it gets that average.
The ratio is of the full context length ``L``: layer ``l`` keeps ``ceil(L * r_l)`` tokens (or
``ceil(H * r_l)`` heads), never more than survived the previous layer (cascade).
"""

from __future__ import annotations

import math

from spatten_sim.config import PruningSchedule

__all__ = ["keep_count", "keep_counts", "keep_ratios", "unpruned_layers"]

import numpy as np


def unpruned_layers(schedule: PruningSchedule, n_layers: int) -> int:
    """Number of leading layers that are never pruned (all layers when the schedule is off)."""
    if not schedule.enabled:
        return n_layers
    return min(n_layers, math.ceil(schedule.unpruned_layers_fraction * n_layers - 1e-9))


def keep_ratios(schedule: PruningSchedule, n_layers: int) -> tuple[float | None, ...]:
    """Keep ratio of every layer; ``None`` for a layer that does not prune."""
    first = unpruned_layers(schedule, n_layers)
    m = n_layers - first
    out: list[float | None] = [None] * first
    s, e = schedule.start_keep_ratio, schedule.end_keep_ratio
    for i in range(m):
        out.append((s + e) / 2 if m == 1 else s + (e - s) * i / (m - 1))
    return tuple(out)


def keep_count(total: int, ratio: float) -> int:
    """``ceil(total * ratio)`` (at least 1 when ``total`` > 0), guarding float round-off."""
    if total <= 0:
        return 0
    return max(1, min(total, math.ceil(total * ratio - 1e-9)))


def keep_counts(totals: np.ndarray, ratio: float) -> np.ndarray:
    """Vectorised :func:`keep_count` (int64)."""
    t = np.asarray(totals, dtype=np.int64)
    k = np.ceil(t * ratio - 1e-9).astype(np.int64)
    return np.where(t > 0, np.clip(k, 1, np.maximum(t, 1)), 0)
