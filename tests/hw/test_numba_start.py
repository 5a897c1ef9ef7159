"""Numba's first call without SciPy's BLAS import (:mod:`spatten_sim.hw.numba_start`).

Run in a fresh interpreter: in the test process Numba is long initialised."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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


_LAZY_SCRIPT = """
import json, sys
import numpy as np
from spatten_sim.pipeline import simulate
rep = simulate("spatten", "minilm-sst-25")
refreshed = "numba.np.arraymath" in sys.modules or "numba.np.npyimpl" in sys.modules
from numba import njit
from spatten_sim.algo.topk import topk_rows

@njit
def norm(a):
    return np.sqrt(np.sum(a * a)) + np.exp(0.0)

x = np.arange(4.0)
print(json.dumps({
    "cycles": rep.to_dict()["cycles"],
    "refreshed": refreshed,
    "norm": float(norm(x)),
    "topk": topk_rows(np.array([[3.0, 1.0, 2.0]]), np.array([3]), 2)[0].tolist(),
}))
"""


def test_cached_kernels_load_without_registering_numpy_implementations() -> None:
    """A warm run loads this package's cached kernels without Numba's registry refresh (only the
    runtime), and compiling new ``@njit`` code afterwards still works (the compiler refreshes)."""
    runs = [
        subprocess.run(
            [sys.executable, "-c", _LAZY_SCRIPT],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
        )
        for _ in range(2)  # the first one fills the cache if it was empty
    ]
    first, warm = (json.loads(r.stdout.strip().splitlines()[-1]) for r in runs)
    assert warm["cycles"] == first["cycles"] > 0
    assert warm["refreshed"] is False
    assert warm["norm"] == first["norm"] == 1.0 + float(np.sqrt(14.0))
    assert warm["topk"] == first["topk"]


# ------------------------------------------------------------------ the cache stamp
_DEPENDENT_SCRIPT = """
import json, sys
from spatten_sim.hw import numba_start as ns
ns._PACKAGE_DIR = sys.argv[1]
ns.KERNEL_MODULES = ("callee.py", "caller.py")
ns.kernels_stamp.cache_clear()
ns.install()
sys.path.insert(0, sys.argv[1])
import caller
print(json.dumps({"value": int(caller.f())}))
"""

_CALLEE = """
from numba import njit

@njit(cache=True)
def g():
    return {value}
"""

_CALLER = """
from numba import njit
from callee import g

@njit(cache=True)
def f():
    return g() + 100
"""


def test_a_cached_kernel_sees_a_change_in_a_kernel_it_calls(tmp_path: Path) -> None:
    """Numba links a called kernel's machine code into the caller's cached code but checks only
    the caller's own file; with the package's stamp an edit of the callee's module compiles the
    caller again instead of loading its stale code (run in fresh interpreters, with the stamp
    pointed at two modules of a temporary folder standing in for the package)."""

    def run() -> int:
        res = subprocess.run(
            [sys.executable, "-c", _DEPENDENT_SCRIPT, str(tmp_path)],
            capture_output=True, text=True, cwd=REPO, check=True,
        )  # fmt: skip
        return int(json.loads(res.stdout.strip().splitlines()[-1])["value"])

    (tmp_path / "callee.py").write_text(_CALLEE.format(value=1))
    (tmp_path / "caller.py").write_text(_CALLER)
    assert run() == 101  # compiled and cached
    assert run() == 101  # loaded from the cache
    assert any((tmp_path / "__pycache__").glob("caller.f-*.nbi"))
    (tmp_path / "callee.py").write_text(_CALLEE.format(value=2))
    assert run() == 102  # not the cached 101


def test_kernel_modules_lists_every_module_with_a_kernel() -> None:
    """:data:`KERNEL_MODULES` is every module of the package that defines a Numba kernel, and
    each of them installs the stamp before its first kernel (Numba takes the stamp then)."""
    import re

    from spatten_sim.hw import numba_start

    pkg = REPO / "spatten_sim"
    found = set()
    for path in pkg.rglob("*.py"):
        text = path.read_text()
        first = re.search(r"^@njit\b|^\w+ = njit\(", text, re.M)
        if first is None:
            continue
        rel = path.relative_to(pkg).as_posix()
        found.add(rel)
        install = text.find("\nnumba_start.install()")
        assert 0 <= install < first.start(), f"{rel}: numba_start.install() before its kernels"
    assert found == set(numba_start.KERNEL_MODULES)


def test_the_package_kernels_stamp_covers_the_kernel_modules() -> None:
    from numba.core.caching import InTreeCacheLocator

    from spatten_sim.hw import numba_start
    from spatten_sim.hw.units import fetcher

    py_func = fetcher.fetch_batch.py_func
    loc = InTreeCacheLocator.from_function(py_func, py_func.__code__.co_filename)
    stamp = loc.get_source_stamp()
    assert isinstance(stamp, tuple) and stamp[1] == numba_start.kernels_stamp()
    assert len(stamp[1]) == 64  # sha256
