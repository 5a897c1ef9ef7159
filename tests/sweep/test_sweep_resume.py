"""Real sweeps (short trace): failures recorded, resume after a stop and after a kill."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from spatten_sim.sweep import read_table, run_sweep


def test_failures_are_recorded_and_the_sweep_goes_on(write_space, tmp_path):
    # 48 multipliers cannot serve head_dim 32 (fails in the worker); 10+4 bits exceed the 12-bit
    # word (an invalid configuration, caught at expansion)
    sp = write_space(
        {
            "axes": {"qxk.multipliers": [512, 48]},
            "zip": [
                {
                    "policy.quantization.k_msb_bits": [6, 10],
                    "policy.quantization.k_lsb_bits": [4, 4],
                }
            ],
        }
    )
    out = tmp_path / "out"
    s = run_sweep(sp, out, jobs=1, show_progress=False).summary
    assert (s.points, s.ok, s.failed, s.remaining) == (4, 1, 3, 0)
    msgs = dict((m, n) for m, n, _ in s.failures)
    assert msgs == {
        "ConfigError: qxk.multipliers: 48 multipliers cannot serve head_dim 32 (needs a "
        "multiple of it)": 1,
        "ConfigError: policy.quantization.k_msb_bits: k_msb_bits + k_lsb_bits = 14 exceeds "
        "buffers.word_bits 12 (the on-chip word)": 2,
    }
    assert "3 failed" in s.text() and "2 x ConfigError: policy.quantization" in s.text()
    rows = read_table(out)
    assert [r["status"] for r in rows] == ["ok", "failed", "failed", "failed"]
    assert rows[0]["cycles"] > 0 and rows[1]["cycles"] is None
    assert rows[2]["cfg.qxk.multipliers"] == 48 and rows[1]["error"].startswith("ConfigError")
    # failed points count as done ...
    again = run_sweep(sp, out, jobs=1, show_progress=False).summary
    assert (again.skipped, again.ran) == (4, 0)
    # ... unless asked to retry them
    retry = run_sweep(sp, out, jobs=1, show_progress=False, retry_failed=True).summary
    assert (retry.skipped, retry.ran, retry.failed) == (1, 3, 3)


def test_resume_after_stop_gives_the_same_table(write_space, tmp_path):
    sp = write_space({"axes": {"topk.comparators": [2, 8, 16], "memory.channels": [8, 16]}})
    part = tmp_path / "part"
    s1 = run_sweep(sp, part, jobs=1, show_progress=False, max_points=2).summary
    assert (s1.ran, s1.remaining) == (2, 4) and "re-run the same command" in s1.text()
    assert len(read_table(part)) == 2
    s2 = run_sweep(sp, part, jobs=1, show_progress=False).summary
    assert (s2.skipped, s2.ran, s2.remaining) == (2, 4, 0)
    full = tmp_path / "full"
    run_sweep(sp, full, jobs=1, show_progress=False, reuse_workload=False)
    assert (part / "results.csv").read_text() == (full / "results.csv").read_text()


def test_killed_sweep_loses_nothing_and_never_writes_a_partial_row(write_space, tmp_path):
    values = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]
    sp = write_space({"axes": {"topk.comparators": values}})
    out = tmp_path / "out"
    cli = "import sys; from spatten_sim.cli import console; sys.exit(console())"
    cmd = [sys.executable, "-c", cli, "sweep", str(sp), "-o", str(out), "-j", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pts = out / "points"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(pts.glob("*.json"))) < 2:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p.stem for p in pts.glob("*.json")}
    assert 2 <= len(done) < len(values), "the sweep should have been killed halfway"
    for p in pts.glob("*.json"):
        json.loads(p.read_text())  # every record complete
    text = (out / "results.csv").read_text() if (out / "results.csv").exists() else ""
    table = list(csv.reader(io.StringIO(text)))
    assert all(len(r) == len(table[0]) for r in table)  # no partial row
    assert {r[0] for r in table[1:]} <= done
    # the same command again: runs only what is missing
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert f"{len(done)} already done before" in res.stderr
    rows = read_table(out)
    assert len(rows) == len(values) and len({r["point_id"] for r in rows}) == len(values)
    assert [r["cfg.topk.comparators"] for r in rows] == values
    assert all(r["status"] == "ok" for r in rows)
    assert Path(out / "manifest.json").is_file()


def test_a_configuration_listed_twice_is_one_row(write_space, tmp_path):
    from .conftest import TRACE

    copy = tmp_path / "same-data.npz"
    copy.write_bytes(TRACE.read_bytes())
    sp = write_space({"axes": {"topk.comparators": [16, 4, 16]}, "traces": [str(TRACE), str(copy)]})
    s = run_sweep(sp, tmp_path / "out", jobs=1, show_progress=False).summary
    assert s.points == 2 and s.ran == 2
    rows = read_table(tmp_path / "out")
    assert [r["cfg.topk.comparators"] for r in rows] == [16, 4]
