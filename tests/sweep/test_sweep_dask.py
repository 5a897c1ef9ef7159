"""Dask executor: a LocalCluster of two workers gives the local executor's table, and a worker
killed mid-sweep neither loses nor duplicates a row."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from spatten_sim.sweep import read_table, run_sweep

pytest.importorskip("distributed")
pytestmark = pytest.mark.dist


def test_local_cluster_equals_local_executor(write_space, tmp_path):
    sp = write_space({"axes": {"topk.comparators": [2, 16], "memory.channels": [8, 16]}})
    local = run_sweep(sp, tmp_path / "local", jobs=1, show_progress=False).summary
    dask = run_sweep(sp, tmp_path / "dask", jobs=2, dask="local", show_progress=False).summary
    assert local.ok == dask.ok == 4 and "Dask LocalCluster (2 workers)" in dask.executor
    assert (tmp_path / "local" / "results.csv").read_text() == (
        tmp_path / "dask" / "results.csv"
    ).read_text()


def test_worker_killed_mid_sweep_loses_and_duplicates_nothing(write_space, tmp_path):
    from spatten_sim.sweep.executors import DaskExecutor

    values = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64]
    sp = write_space({"axes": {"topk.comparators": values}})
    ex = DaskExecutor("local", 2)
    try:
        pids = ex.client.run(os.getpid)  # worker address -> process id
        result = {}

        def go():
            result["summary"] = run_sweep(
                sp, tmp_path / "dask", executor=ex, show_progress=False
            ).summary

        th = threading.Thread(target=go)
        th.start()
        pts = tmp_path / "dask" / "points"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and len(list(pts.glob("*.json"))) < 2:
            time.sleep(0.05)
        done_at_kill = len(list(pts.glob("*.json")))
        os.kill(next(iter(pids.values())), signal.SIGKILL)
        th.join(timeout=600)
        assert not th.is_alive()
    finally:
        ex.close()
    n = len(values)
    assert done_at_kill < n, "the worker should be killed halfway through"
    s = result["summary"]
    assert (s.points, s.ok, s.failed, s.remaining) == (n, n, 0, 0)
    rows = read_table(tmp_path / "dask")
    assert len(rows) == n and len({r["point_id"] for r in rows}) == n
    assert [r["cfg.topk.comparators"] for r in rows] == values
    run_sweep(sp, tmp_path / "local", jobs=1, show_progress=False)
    assert (tmp_path / "local" / "results.csv").read_text() == (
        tmp_path / "dask" / "results.csv"
    ).read_text()


def test_existing_scheduler_by_address(write_space, tmp_path):
    from distributed import LocalCluster

    sp = write_space({"axes": {"topk.comparators": [4, 16]}})
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        addr = cluster.scheduler_address
        assert addr.startswith("tcp://")
        s = run_sweep(sp, tmp_path / "remote", dask=addr, show_progress=False).summary
    assert s.ok == 2 and s.executor == f"Dask at {addr}"
    run_sweep(sp, tmp_path / "local", jobs=1, show_progress=False)
    assert (tmp_path / "local" / "results.csv").read_text() == (
        tmp_path / "remote" / "results.csv"
    ).read_text()


def test_unreachable_scheduler_is_one_line(write_space, tmp_path):
    from spatten_sim.cli import main

    sp = write_space({"axes": {"topk.comparators": [4]}})
    # a port nothing listens on (connection refused at once)
    status = main(["sweep", str(sp), "-o", str(tmp_path / "o"), "--dask", "tcp://127.0.0.1:9"])
    assert status == 2
