"""Numba's first call without importing SciPy: a start-up saving, no hardware modelled.

The first call of any ``@njit`` function makes Numba register its NumPy implementations; one of
them, ``numba.np.arraymath``, imports ``scipy.linalg.cython_blas`` only to learn whether a BLAS
is there (its flag ``_HAVE_BLAS`` picks the BLAS or a plain loop for ``np.correlate`` and
``np.convolve``). Importing ``scipy.linalg`` takes about 0.15-0.25 s, more than the whole
simulation of a short trace, and no kernel of this package uses BLAS.

:func:`install` puts a one-shot import hook in front of that module: while it runs, the import
of ``scipy.linalg.cython_blas`` fails fast (nothing of SciPy's linear algebra is loaded), and
afterwards the flag is set to what it would have been (``scipy.linalg`` can be found). The hook
removes itself after that one import; a later ``np.dot`` in anyone's ``@njit`` code imports
SciPy's BLAS then, as Numba always does (``ensure_blas`` at typing time). If SciPy's BLAS is
already imported, or Numba already initialised, the hook does nothing.

Loading a kernel of this package from Numba's on-disk cache does not register Numba's NumPy
implementations either (:func:`_install_lazy_cache_load`). Numba's cache loader refreshes the
target context first: it imports and installs every typing and lowering registry (0.15-0.25 s,
the largest part of a short run's start-up), though rebuilding cached machine code needs only
the runtime (NRT) that the code links against. For the kernels defined in ``spatten_sim``
modules the loader initialises the NRT and loads; everything else in Numba is untouched, and
any compilation (a cache miss, a new type signature, anyone's ``@njit`` code) still refreshes
the contexts first, as Numba's compiler always does, so nothing it compiles can tell the
difference.

Not a start-up matter but a correctness one (:func:`_install_kernel_stamp`): a cached kernel
holds the machine code of the kernels it calls from other modules (Numba links them in), yet
Numba checks only the source file of the kernel itself before it loads it. A cached
``fetcher.fetch_batch`` would keep running the old HBM2 controller after ``controller.py``
changed. For this package's kernels the cache's source stamp therefore also covers every module
of the package that defines kernels (:data:`KERNEL_MODULES`): a change to any of them compiles
them all again on first use.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

_TARGET = "numba.np.arraymath"
_BLAS = "scipy.linalg.cython_blas"


class _ArraymathHook(importlib.abc.MetaPathFinder):
    """Finds ``numba.np.arraymath`` once and runs it with SciPy's BLAS import short-cut."""

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _TARGET:
            return None
        _remove()
        spec = importlib.util.find_spec(fullname)
        loader = spec.loader if spec is not None else None
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            block = _BLAS not in sys.modules
            if block:
                sys.modules[_BLAS] = None  # type: ignore[assignment]  # import fails at once
            try:
                run(module)
            finally:
                if block and _BLAS in sys.modules and sys.modules[_BLAS] is None:
                    del sys.modules[_BLAS]
            if block and hasattr(module, "_HAVE_BLAS"):
                found = _scipy_linalg_present()
                module._HAVE_BLAS = found  # type: ignore[attr-defined]

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _scipy_linalg_present() -> bool:
    """Whether ``scipy.linalg`` can be imported (False, not an error, without SciPy at all:
    ``find_spec`` of a submodule raises when its parent package is missing)."""
    try:
        return importlib.util.find_spec("scipy.linalg") is not None
    except ModuleNotFoundError:
        return False


_hook = _ArraymathHook()


def _remove() -> None:
    if _hook in sys.meta_path:
        sys.meta_path.remove(_hook)


#: the modules whose cached kernels load without a registry refresh (this package's)
_OWN_PREFIX = __name__.split(".")[0] + "."


def _install_lazy_cache_load() -> None:
    """Numba's cache loader, for the kernels of this package's modules, without the refresh of
    the typing and target contexts that only compilation needs (idempotent)."""
    from numba.core import caching
    from numba.core.runtime import rtsys

    original = caching.Cache.load_overload
    if getattr(original, "_spatten_lazy", False):
        return
    if not all(
        hasattr(caching.Cache, a) for a in ("_load_overload", "_guard_against_spurious_io_errors")
    ):
        return  # a Numba whose loader is shaped differently: keep it as it is (slower start)

    def load_overload(self: Any, sig: Any, target_context: Any) -> Any:
        module = getattr(getattr(self, "_py_func", None), "__module__", None) or ""
        if not module.startswith(_OWN_PREFIX):
            return original(self, sig, target_context)
        # what cached machine code links against (Numba's refresh would do this first)
        rtsys.initialize(target_context)
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)
        return None  # pragma: no cover  # the guard swallowed an error (Windows): compile

    load_overload._spatten_lazy = True  # type: ignore[attr-defined]
    load_overload.__doc__ = original.__doc__
    caching.Cache.load_overload = load_overload  # type: ignore[method-assign]


#: the package's modules that define Numba kernels, relative to the package (a test checks that
#: the list is complete): the cache stamp of each of their kernels covers all of them
KERNEL_MODULES = (
    "algo/fidelity.py",
    "algo/quant.py",
    "algo/topk.py",
    "hw/dram/controller.py",
    "hw/dram/controller_reference.py",
    "hw/dram/mapping.py",
    "hw/generation.py",
    "hw/layout.py",
    "hw/memory.py",
    "hw/streaming.py",
    "hw/units/fetcher.py",
)

#: the package's folder (a test points it elsewhere)
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.lru_cache(maxsize=1)
def kernels_stamp() -> str:
    """A content hash of the modules in :data:`KERNEL_MODULES` (computed once per process)."""
    h = hashlib.sha256()
    for rel in KERNEL_MODULES:
        h.update(rel.encode() + b"\0")
        try:
            with open(os.path.join(_PACKAGE_DIR, rel), "rb") as f:
                h.update(f.read())
        except OSError:
            h.update(b"<missing>")
    return h.hexdigest()


def _is_own(path: str) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), _PACKAGE_DIR]) == _PACKAGE_DIR
    except ValueError:  # another drive (Windows)
        return False


def _install_kernel_stamp() -> None:
    """The cache stamp of this package's kernels: Numba's stamp of the kernel's own file and
    :func:`kernels_stamp` (idempotent; a Numba without the locator method keeps its stamps)."""
    from numba.core import caching

    mixin = getattr(caching, "_SourceFileBackedLocatorMixin", None)
    original = getattr(mixin, "get_source_stamp", None)
    if mixin is None or original is None or getattr(original, "_spatten_stamp", False):
        return

    def get_source_stamp(self: Any) -> Any:
        own = original(self)
        path = getattr(self, "_py_file", None)
        if getattr(sys, "frozen", False) or not isinstance(path, str) or not _is_own(path):
            return own
        return (own, kernels_stamp())

    get_source_stamp._spatten_stamp = True  # type: ignore[attr-defined]
    get_source_stamp.__doc__ = original.__doc__
    mixin.get_source_stamp = get_source_stamp


def install() -> None:
    """Put the hook in place unless Numba has already initialised, the cache loader and the
    cache stamp (idempotent). Called by every module of :data:`KERNEL_MODULES` before its
    first kernel is defined (Numba computes a kernel's stamp when it is decorated)."""
    _install_kernel_stamp()
    _install_lazy_cache_load()
    if _TARGET in sys.modules or _BLAS in sys.modules or _hook in sys.meta_path:
        return
    sys.meta_path.insert(0, _hook)
