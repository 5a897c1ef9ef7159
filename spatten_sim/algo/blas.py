"""Run NumPy's BLAS single-threaded inside a block (and restore its thread count after).

The functional phase issues thousands of small matrix products (one query against one head's
keys in generation, 128 x 64 x 128 products for short traces). OpenBLAS's thread pool costs more
than it gains on those: its worker threads busy-wait between calls, and on a loaded machine each
call waits for descheduled workers (measured: a 12-layer x 12-head x 128-token trace took 4.3 s
with the default pool and 0.24 s single-threaded on a loaded 2-core machine, with identical
results). Rows of the large kernels are spread over Numba's threads instead.

The thread count is process-wide OpenBLAS state: :func:`single_threaded_blas` sets it to 1 and
restores the previous value on exit. When the BLAS library is not OpenBLAS (or cannot be found)
the block runs unchanged.
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

__all__ = ["single_threaded_blas"]

#: (get, set) symbol pairs of the OpenBLAS builds NumPy ships or links
_SYMBOLS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


def _candidate_libraries() -> list[str]:
    libs: list[str] = []
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                path = line.split()[-1]
                if "openblas" in path.lower() and path not in libs:
                    libs.append(path)
    except OSError:
        pass
    base = os.path.dirname(os.path.dirname(np.__file__))
    for pattern in ("numpy.libs/*openblas*", "numpy/.dylibs/*openblas*"):
        for path in sorted(glob.glob(os.path.join(base, pattern))):
            if path not in libs:
                libs.append(path)
    return libs


@lru_cache(maxsize=1)
def _openblas() -> tuple[Callable[[], int], Callable[[int], object]] | None:
    """The (get, set) functions of the loaded OpenBLAS, or None."""
    for path in _candidate_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _SYMBOLS:
            if hasattr(lib, get_name) and hasattr(lib, set_name):
                get_fn, set_fn = getattr(lib, get_name), getattr(lib, set_name)
                get_fn.restype = ctypes.c_int
                set_fn.argtypes = [ctypes.c_int]
                return get_fn, set_fn
    return None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with OpenBLAS on one thread; restore the previous count afterwards."""
    fns = _openblas()
    if fns is None:
        yield
        return
    get_fn, set_fn = fns
    previous = int(get_fn())
    set_fn(1)
    try:
        yield
    finally:
        set_fn(previous)
