"""Where validation finds its inputs, and what it does when one is missing: loud, not silent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spatten_sim.validate import context
from spatten_sim.validate.runner import run_validation


def test_the_official_workloads_ship(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPATTEN_SIM_WORKLOADS", raising=False)
    d = context.workloads_dir()
    assert d is not None and d.is_dir()
    assert context.official_csv_path(context.GPT2_MEDIUM_CSV) is not None
    assert context.official_csv_path(context.GPT2_SMALL_CSV) is not None


def test_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPATTEN_SIM_WORKLOADS", str(tmp_path))
    assert context.workloads_dir() == tmp_path
    assert context.official_csv_path(context.GPT2_SMALL_CSV) is None


def test_missing_workloads_mark_rows_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SPATTEN_SIM_WORKLOADS", str(tmp_path / "nowhere"))
    v = run_validation(
        quick=False,  # these rows read only the official CSVs: no trace is made
        only=lambda s: s.key.startswith(("latency.", "dse.", "throughput.gpt2", "bound.medium")),
        figures=False,
    )
    assert len(v.rows) >= 5
    for r in v.rows:
        assert r.verdict == "info" and r.ours is None, r.key
        assert "not found" in r.note and r.missing == r.note, r.note


def _validate(args: list[str], env_dir: Path | None, cwd: Path) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ)
    env.pop("SPATTEN_SIM_WORKLOADS", None)
    if env_dir is not None:
        env["SPATTEN_SIM_WORKLOADS"] = str(env_dir)
    cmd = [sys.executable, "-m", "spatten_sim", "validate", "--quick", "--no-figures", "-q"]
    return subprocess.run(
        cmd + args, capture_output=True, text=True, cwd=cwd, env=env, check=False, timeout=600
    )


def test_cli_missing_rows_exit_3_and_are_listed(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    only = ["--only", "throughput.gpt2_small_csv", "--only", "dram.lsb_refetch_csv"]
    res = _validate([*only, "-o", str(tmp_path / "v"), "--json", "-"], empty, tmp_path)
    assert res.returncode == 3, res.stderr
    assert "2 row(s) of the quick run could not be computed" in res.stderr
    assert "throughput.gpt2_small_csv: input missing" in res.stderr
    rows = json.loads(res.stdout)
    assert {r["key"] for r in rows if r["missing"]} == {
        "throughput.gpt2_small_csv",
        "dram.lsb_refetch_csv",
    }
    res = _validate([*only, "-o", str(tmp_path / "v2"), "--allow-missing"], empty, tmp_path)
    assert res.returncode == 0, res.stderr
    assert "could not be computed" in res.stderr  # still said, just not fatal


def test_cli_nothing_missing_exits_0(tmp_path: Path) -> None:
    only = ["--only", "throughput.gpt2_small_csv", "--only", "throughput.encoders"]
    res = _validate([*only, "-o", str(tmp_path / "v")], None, tmp_path)
    assert res.returncode == 0, res.stderr
    assert "could not be computed" not in res.stderr


def test_runs_of_one_trace_share_its_inputs_and_give_the_plain_reports() -> None:
    """Policies on one trace: the context loads the trace once and shares the dense fidelity
    reference; every report equals ``simulate`` of a workload built on its own."""
    from spatten_sim.config import load_config
    from spatten_sim.pipeline import load_workload, simulate

    path = Path(__file__).resolve().parents[2] / "traces" / "minilm-sst-25.npz"
    ctx = context.Context(quick=True)
    for sets in ((), ("policy.token_pruning.enabled=false",)):
        got = ctx.simulate("spatten", path, sets).to_dict()
        cfg = load_config("spatten", list(sets))
        want = simulate(cfg, path, workload=load_workload(cfg, path)[0]).to_dict()
        for rep in (got, want):
            rep.pop("provenance")  # what made it, and when
            rep.pop("sim")  # the simulator's own CPU seconds
        assert got == want
    assert len(ctx._dense) == 1
    (dense,) = ctx._dense.values()
    assert dense.hits > 0
