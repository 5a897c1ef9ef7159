"""Cascade pruning schedules (algo/schedule.py)."""

from __future__ import annotations

import numpy as np
import pytest

from spatten_sim.algo.schedule import keep_count, keep_counts, keep_ratios, unpruned_layers
from spatten_sim.config import PruningSchedule


def test_unpruned_leading_layers_and_linear_interpolation():
    s = PruningSchedule(True, 0.8, 0.3, 0.15)
    assert unpruned_layers(s, 12) == 2  # ceil(1.8)
    r = keep_ratios(s, 12)
    assert r[:2] == (None, None)
    assert r[2] == pytest.approx(0.8) and r[-1] == pytest.approx(0.3)
    assert np.allclose(np.diff(r[2:]), (0.3 - 0.8) / 9)
    assert np.mean(r[2:]) == pytest.approx(0.55)


def test_disabled_and_edge_schedules():
    assert keep_ratios(PruningSchedule(False, 0.5, 0.5, 0.0), 4) == (None,) * 4
    assert keep_ratios(PruningSchedule(True, 0.6, 0.2, 0.0), 1) == (pytest.approx(0.4),)
    assert keep_ratios(PruningSchedule(True, 0.6, 0.2, 1.0), 3) == (None,) * 3
    assert unpruned_layers(PruningSchedule(True, 1, 1, 0.3), 30) == 9


def test_keep_counts():
    assert keep_count(992, 0.3) == 298
    assert keep_count(10, 0.3) == 3  # exactly 3.0 is not rounded up to 4
    assert keep_count(3, 0.01) == 1 and keep_count(0, 0.5) == 0
    t = np.array([0, 1, 7, 10, 992])
    assert keep_counts(t, 0.3).tolist() == [keep_count(int(x), 0.3) for x in t]
