"""`spatten-sim sweep`: dry run, partial run, exit status, summary; extraction recipes."""

from __future__ import annotations

import importlib.util

import pytest

from spatten_sim.cli import main


def test_dry_run_then_partial_run_then_resume(write_space, tmp_path, capsys):
    sp = write_space({"axes": {"topk.comparators": [4, 16], "qxk.multipliers": [512, 48]}})
    out = tmp_path / "out"
    assert main(["sweep", str(sp), "-o", str(out), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "space: 4 points (0 excluded by constraints)"
    assert sum(" todo " in ln for ln in lines) == 4
    assert not (out / "results.csv").exists()  # a dry run writes nothing
    assert main(["sweep", str(sp), "-o", str(out), "-j", "1", "--max-points", "1", "-q"]) == 0
    text = capsys.readouterr().out
    assert "1 finished (1 ok, 0 failed)" in text and "3 points left" in text
    assert main(["sweep", str(sp), "-o", str(out), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum(" ok " in ln for ln in lines) == 1 and sum(" todo " in ln for ln in lines) == 3
    # the rest: two points fail (48 multipliers cannot serve head_dim 32): exit status 1
    assert main(["sweep", str(sp), "-o", str(out), "-j", "1"]) == 1
    err = capsys.readouterr().err
    assert "1 already done before" in err
    assert "2 x ConfigError: qxk.multipliers: 48 multipliers cannot serve head_dim 32" in err


@pytest.mark.trace_extra
@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs the [trace] extra")
def test_extract_recipe_is_extracted_once_and_swept(write_space, tmp_path):
    from spatten_sim.sweep import read_table, run_sweep

    rec = {"extract": {"model": "minilm", "text": "sst", "sample": 1, "tokens": 20}}
    sp = write_space({"axes": {"topk.comparators": [4, 16]}, "traces": [rec]})
    out = tmp_path / "out"
    s = run_sweep(sp, out, jobs=1, show_progress=False).summary
    assert s.ok == 2
    traces = list((out / "traces").glob("*.npz"))
    assert len(traces) == 1 and traces[0].name.startswith("minilm-sst-sample1-tokens20-")
    rows = read_table(out)
    assert {r["trace"] for r in rows} == {traces[0].name}
    assert all(r["input.prompt_tokens"] == 20 for r in rows)
    mtime = traces[0].stat().st_mtime_ns
    again = run_sweep(sp, out, jobs=1, show_progress=False).summary
    assert again.skipped == 2 and traces[0].stat().st_mtime_ns == mtime  # not extracted again
