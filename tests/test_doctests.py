"""The examples in the package's docstrings (``>>>``) run and give what they show."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import spatten_sim


def _modules_with_examples() -> list[str]:
    names = []
    for m in pkgutil.walk_packages(spatten_sim.__path__, "spatten_sim."):
        spec = importlib.util.find_spec(m.name)
        origin = spec.origin if spec else None
        if origin and origin.endswith(".py") and ">>>" in open(origin, encoding="utf-8").read():
            names.append(m.name)
    return names


MODULES = _modules_with_examples()


def test_the_api_modules_have_examples() -> None:
    assert {"spatten_sim.config", "spatten_sim.report", "spatten_sim.frozen"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
