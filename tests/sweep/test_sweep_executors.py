"""Executors give the same table row for row; workload reuse changes no figure."""

from __future__ import annotations

import json

import pytest

from spatten_sim.errors import SpattenError
from spatten_sim.provenance import file_sha256
from spatten_sim.sweep import read_table, run_sweep
from spatten_sim.sweep.executors import ProcessExecutor, SerialExecutor, make_executor

from .conftest import TRACE


def _shared_equals_fresh(space, tmp_path, points):
    """Run ``space`` with workload reuse and without (in this process): every point ok, the
    same reports."""
    shared = run_sweep(space, tmp_path / "shared", jobs=1, show_progress=False).summary
    fresh = run_sweep(
        space, tmp_path / "fresh", jobs=1, show_progress=False, reuse_workload=False
    ).summary
    assert shared.ok == fresh.ok == points
    assert _reports(tmp_path / "shared") == _reports(tmp_path / "fresh")


def _reports(out):
    recs = {}
    for p in sorted((out / "points").glob("*.json")):
        rec = json.loads(p.read_text())
        rep = dict(rec["report"])
        rep.pop("sim")  # wall-clock time, not a result
        rep.pop("provenance")  # what produced it, and when: not a result
        recs[rec["point_id"]] = rep
    return recs


def test_make_executor():
    assert isinstance(make_executor(1, None), SerialExecutor)
    assert isinstance(make_executor(2, None), ProcessExecutor)
    assert isinstance(make_executor(None, None), (SerialExecutor, ProcessExecutor))
    with pytest.raises(SpattenError, match="--jobs: must be >= 1"):
        make_executor(0, None)


def test_process_pool_equals_serial_and_reuse_changes_nothing(write_space, tmp_path):
    from spatten_sim.sweep.runner import _workload

    _workload.cache_clear()  # the serial executor runs here: forget earlier tests' workloads
    # memory.channels and buffers.key_sram_bytes are hardware keys: one workload for all points
    sp = write_space(
        {"axes": {"memory.channels": [4, 16], "buffers.key_sram_bytes": [8192, 196608]}}
    )
    serial = run_sweep(sp, tmp_path / "serial", jobs=1, show_progress=False).summary
    pool = run_sweep(
        sp, tmp_path / "pool", jobs=2, show_progress=False, reuse_workload=False
    ).summary
    assert serial.ok == pool.ok == 4
    a = (tmp_path / "serial" / "results.csv").read_text()
    b = (tmp_path / "pool" / "results.csv").read_text()
    assert a == b
    assert _reports(tmp_path / "serial") == _reports(tmp_path / "pool")
    runs = [
        json.loads(p.read_text())["run"] for p in (tmp_path / "serial" / "points").glob("*.json")
    ]
    assert sum(r["workload_reused"] for r in runs) == 3  # built once, reused three times
    rows = read_table(tmp_path / "serial")
    by = {(r["cfg.memory.channels"], r["cfg.buffers.key_sram_bytes"]): r for r in rows}
    # fewer channels: less bandwidth, more cycles (the sweep really changes the hardware)
    assert (
        by[(4, 196608)]["dram.peak_bandwidth_gbps"] < by[(16, 196608)]["dram.peak_bandwidth_gbps"]
    )
    assert by[(4, 196608)]["cycles"] >= by[(16, 196608)]["cycles"]


def test_policy_points_share_the_trace_and_dense_reference_and_change_nothing(
    write_space, tmp_path
):
    """Points that differ in policy keys rebuild the workload but keep the worker's loaded trace
    and its dense fidelity reference: the reports equal those of points run from scratch."""
    from spatten_sim.sweep.runner import _trace_inputs, _workload

    _workload.cache_clear()
    _trace_inputs.cache_clear()
    sp = write_space({"axes": {"policy.token_pruning.end_keep_ratio": [0.3, 0.6, 0.9]}})
    _shared_equals_fresh(sp, tmp_path, 3)
    info = _trace_inputs.cache_info()
    assert (info.misses, info.hits) == (1, 2)  # loaded once for the three policies
    dense = _trace_inputs(str(TRACE), file_sha256(TRACE))
    assert _trace_inputs.cache_info().hits == 3  # the sweep's entry
    assert dense.misses > 0 and dense.hits == 2 * dense.misses  # computed once, used thrice


def test_hardware_points_of_an_official_csv_reuse_its_import(write_space, tmp_path):
    """An official workload CSV is imported once for points that differ in hardware keys only;
    the reports equal those of points that import it themselves."""
    from spatten_sim.shipped import official_workload
    from spatten_sim.sweep.runner import _workload

    src = official_workload("gpt2-small")
    assert src is not None
    lines = src.read_text().splitlines(keepends=True)
    head = lines[0].split(",")
    it = head.index("iteration_id")
    short = tmp_path / "gpt2-small-2it.csv"  # the first two generation iterations: quick
    short.write_text(
        "".join([lines[0], *(ln for ln in lines[1:] if ln.split(",")[it] in ("0", "1"))])
    )
    _workload.cache_clear()
    sp = write_space({"traces": [str(short)], "axes": {"memory.channels": [8, 16]}})
    _shared_equals_fresh(sp, tmp_path, 2)
    runs = [
        json.loads(p.read_text())["run"] for p in (tmp_path / "shared" / "points").glob("*.json")
    ]
    assert sum(r["workload_reused"] for r in runs) == 1
    rep = next(iter(_reports(tmp_path / "shared").values()))
    assert rep["input"]["kind"] == "official-csv"
