"""Helpers for the sweep tests: small space files over the shortest shipped trace."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TRACE = REPO / "traces" / "minilm-sst-25.npz"


@pytest.fixture
def write_space(tmp_path):
    """Write a space mapping to ``tmp_path/<name>.yaml`` (traces default to the short trace)."""

    def write(data: dict, name: str = "space") -> Path:
        data = dict(data)
        data.setdefault("base", "spatten")
        data.setdefault("traces", [str(TRACE)])
        p = tmp_path / f"{name}.yaml"
        p.write_text(yaml.safe_dump(data, sort_keys=False))
        return p

    return write
