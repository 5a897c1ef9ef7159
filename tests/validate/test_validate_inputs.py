"""Locating ../shared (and SPATTEN_SHARED); rows needing a missing input become info."""

from __future__ import annotations

from pathlib import Path

import pytest

from spatten_sim.validate import context
from spatten_sim.validate.runner import run_validation


def test_shared_beside_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPATTEN_SHARED", raising=False)
    assert context.shared_dir() == context.repo_root().parent / "shared"
    assert (context.repo_root() / "spatten_sim" / "validate").is_dir()


def test_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPATTEN_SHARED", str(tmp_path))
    assert context.workloads_dir() == tmp_path / "spatten" / "workloads"


def test_missing_shared_gives_info_rows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPATTEN_SHARED", str(tmp_path / "nowhere"))
    v = run_validation(
        quick=False,  # these rows read only the official CSVs: no trace is made
        only=lambda s: s.key.startswith(("latency.", "dse.", "throughput.gpt2", "bound.medium")),
        figures=False,
    )
    assert len(v.rows) >= 5
    for r in v.rows:
        assert r.verdict == "info" and r.ours is None, r.key
        assert "not found" in r.note, r.note


def test_official_workloads_present_here() -> None:
    # CI runs with ../shared beside the checkout: the CSV rows must not silently go info there
    assert context.official_csv_path(context.GPT2_MEDIUM_CSV) is not None
