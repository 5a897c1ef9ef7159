"""The package's public API (``spatten_sim.__all__``, docs/api.md): every name resolves, has its
own docstring, and no submodule ever shadows one (``spatten_sim.simulate`` stays the function)."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
import types

import pytest

import spatten_sim

NAMES = [n for n in spatten_sim.__all__ if n != "__version__"]


def test_the_public_names() -> None:
    assert set(spatten_sim.__all__) == {"__version__", *spatten_sim._LAZY}
    assert {"simulate", "Report", "HwConfig", "load_config", "load_trace", "run_sweep"} <= set(
        NAMES
    )
    assert {"load_results", "ResultTable", "Trace", "ConfigError"} <= set(NAMES)
    assert isinstance(spatten_sim.__version__, str)


@pytest.mark.parametrize("name", NAMES)
def test_every_name_resolves_to_its_definition_with_a_docstring(name: str) -> None:
    obj = getattr(spatten_sim, name)
    assert not isinstance(obj, types.ModuleType)
    assert obj.__module__ == spatten_sim._LAZY[name]  # defined there, not re-exported
    own = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    assert own and len(own.strip()) > 20, f"{name} has no docstring of its own"
    assert name in dir(spatten_sim)


def test_star_import_gives_exactly_the_public_names() -> None:
    ns: dict[str, object] = {}
    exec("from spatten_sim import *", ns)
    assert sorted(k for k in ns if k != "__builtins__") == sorted(spatten_sim.__all__)
    assert ns["simulate"] is spatten_sim.simulate


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'simulat'"):
        spatten_sim.simulat  # noqa: B018


_IMPORT_ALL = textwrap.dedent(
    """
    import importlib, pkgutil, sys, types
    import spatten_sim

    early = spatten_sim.simulate if sys.argv[1] == "first" else None
    imported = 0
    for m in pkgutil.walk_packages(spatten_sim.__path__, "spatten_sim."):
        if m.name.endswith("__main__"):  # runs the CLI
            continue
        importlib.import_module(m.name)
        imported += 1
    from spatten_sim.pipeline import simulate

    assert spatten_sim.simulate is simulate and callable(spatten_sim.simulate)
    assert early in (None, simulate)
    for name in spatten_sim.__all__:
        value = getattr(spatten_sim, name)
        assert not isinstance(value, types.ModuleType), name
    print(imported, "numpy" in sys.modules)
    """
)


@pytest.mark.parametrize("order", ["first", "last"])
def test_simulate_stays_the_function_after_importing_every_submodule(order: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, order], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    imported, _ = out.stdout.split()
    assert int(imported) > 50  # every module of the package, not a few


def test_importing_the_package_imports_nothing_heavy() -> None:
    code = "import sys, spatten_sim; print(sorted(m for m in ('numpy', 'simpy', 'numba', 'yaml') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
