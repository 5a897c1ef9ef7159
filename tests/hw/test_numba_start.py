"""Numba's first call without SciPy's BLAS import (:mod:`spatten_sim.hw.numba_start`).

Run in a fresh interpreter: in the test process Numba is long initialised."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

_SCRIPT = """
import importlib.util, json, sys
import numpy as np
from spatten_sim.pipeline import simulate
rep = simulate("spatten", "minilm-sst-25")
blas_after_run = "scipy.linalg" in sys.modules
import numba.np.arraymath as am
from numba import njit

@njit
def dot(a, b):
    return np.dot(a, b)

x = np.arange(4.0)
print(json.dumps({
    "cycles": rep.to_dict()["cycles"],
    "blas_after_run": blas_after_run,
    "have_blas": bool(am._HAVE_BLAS),
    "scipy_linalg_found": importlib.util.find_spec("scipy.linalg") is not None,
    "dot": float(dot(x, x)),
    "hook_left": any(type(f).__name__ == "_ArraymathHook" for f in sys.meta_path),
}))
"""


@pytest.mark.skipif(
    importlib.util.find_spec("scipy") is None,
    reason="SciPy is not installed (np.dot in @njit needs it); test_no_scipy_at_all_is_no_blas "
    "covers that case",
)
def test_first_numba_call_skips_scipy_blas_and_keeps_numba_whole() -> None:
    res = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, cwd=REPO, check=True
    )
    d = json.loads(res.stdout.strip().splitlines()[-1])
    assert d["cycles"] > 0
    assert d["blas_after_run"] is False  # the simulation never loaded SciPy's linear algebra
    assert d["have_blas"] == d["scipy_linalg_found"]  # Numba's flag as without the hook
    assert d["dot"] == 14.0  # np.dot in @njit code still works (BLAS imported on demand)
    assert d["hook_left"] is False  # one-shot


def test_no_scipy_at_all_is_no_blas(monkeypatch) -> None:
    """Without SciPy installed, the flag is False instead of an import error (a fresh venv with
    only numpy and numba has no SciPy)."""
    from spatten_sim.hw import numba_start

    real = importlib.util.find_spec

    def find_spec(name, *a, **kw):
        if name.startswith("scipy"):
            raise ModuleNotFoundError("No module named 'scipy'")
        return real(name, *a, **kw)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert numba_start._scipy_linalg_present() is False
