"""Fixtures of the validation tests: one quick run (and, for slow tests, one full run) per
session, shared by every per-row test."""

from __future__ import annotations

import pytest

from spatten_sim.validate.runner import Validation, run_validation


@pytest.fixture(scope="session")
def quick_validation() -> Validation:
    return run_validation(quick=True)


@pytest.fixture(scope="session")
def full_validation() -> Validation:
    return run_validation(quick=False, jobs=2)
