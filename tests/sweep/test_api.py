"""The sweep's Python API: run_sweep on a mapping, the typed ResultTable it returns, load_results
from CSV and Parquet, and the --parquet option."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from spatten_sim.cli import main
from spatten_sim.errors import MissingDependencyError, SpattenError
from spatten_sim.sweep import ResultTable, load_results, run_sweep
from spatten_sim.sweep.space import SpaceError
from spatten_sim.sweep.table import _read_csv

REPO = Path(__file__).resolve().parents[2]
TRACE = REPO / "traces" / "minilm-sst-25.npz"
#: 2 x 2 points: hardware-only axes (one functional phase); 48 multipliers cannot serve the
#: trace's head_dim 32, so two points fail (their report columns are empty)
SPACE = {
    "base": "spatten",
    "traces": ["t/short.npz"],
    "axes": {"memory.channels": np.array([8, 16]), "qxk.multipliers": (512, 48)},
}


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[ResultTable, Path]:
    """The sweep of SPACE (a mapping, with a trace path relative to the current folder)."""
    work = tmp_path_factory.mktemp("api")
    (work / "t").mkdir()
    shutil.copyfile(TRACE, work / "t" / "short.npz")
    old = Path.cwd()
    os.chdir(work)
    try:
        table = run_sweep(SPACE, "out", jobs=1, show_progress=False)
    finally:
        os.chdir(old)
    return table, work / "out"


def test_a_mapping_runs_like_a_space_file(swept) -> None:
    table, out = swept
    assert isinstance(table, ResultTable) and isinstance(table, list) and len(table) == 4
    s = table.summary
    assert s is not None and (s.points, s.ok, s.failed) == (4, 2, 2) and s.name == "sweep"
    assert table.out_dir == Path("out")
    # the relative trace path was taken from the current folder, not from the results folder
    assert {r["trace"] for r in table} == {"short.npz"}
    assert [(r["cfg.memory.channels"], r["cfg.qxk.multipliers"]) for r in table] == [
        (8, 512), (8, 48), (16, 512), (16, 48)
    ]  # fmt: skip
    # the space is recorded as the YAML it stands for (numpy array and tuple as lists)
    recorded = yaml.safe_load((out / "space.yaml").read_text())
    assert recorded["axes"] == {"memory.channels": [8, 16], "qxk.multipliers": [512, 48]}
    # and the same space from a file in the same folder gives the same points: all done already
    (out.parent / "space.yaml").write_text(yaml.safe_dump(recorded))
    again = run_sweep(out.parent / "space.yaml", out, jobs=1, show_progress=False)
    assert again.summary is not None and again.summary.skipped == 4 and again == table


def test_every_row_has_every_column_and_each_column_one_type(swept) -> None:
    table, _ = swept
    assert all(list(r) == list(table.columns) for r in table)
    assert table.columns[:5] == ("point_id", "status", "error", "trace", "trace_sha256")
    t = table.dtypes
    assert (t["point_id"], t["status"], t["config"], t["input.model"]) == (str, str, str, str)
    assert (t["cfg.memory.channels"], t["dram.bytes_read"], t["input.n_layers"]) == (int,) * 3
    assert (t["cfg.clock_ghz"], t["energy_pj.total"], t["seconds"]) == (float,) * 3
    assert (t["cfg.buffers.double_buffered"], t["input.causal"]) == (bool, bool)
    for row in table:
        for col, value in row.items():
            assert value is None or type(value) is t[col], (col, value)
    failed = [r for r in table if r["status"] == "failed"]
    assert len(failed) == 2 and all(r["cycles"] is None for r in failed)
    assert all("multipliers" in r["error"] for r in failed)


def test_load_results_reads_the_same_typed_table_back(swept) -> None:
    table, out = swept
    back = load_results(out)
    assert back == table and back.columns == table.columns and back.dtypes == table.dtypes
    assert back.summary is None and back.out_dir == out
    assert load_results(out / "results.csv") == table


def test_load_results_types_csv_columns_as_a_whole(tmp_path: Path) -> None:
    p = tmp_path / "results.csv"
    p.write_text(
        "point_id,status,error,trace,trace_sha256,n,x,flag,name,code,empty\n"
        "0001,ok,,a.npz,12e4,3,1,true,spatten,7,\n"
        "0002,failed,boom,a.npz,12e5,,2.5,false,dense,7b,\n"
    )
    rows = load_results(tmp_path)
    assert rows[0] == {
        "point_id": "0001", "status": "ok", "error": None, "trace": "a.npz",
        "trace_sha256": "12e4", "n": 3, "x": 1.0, "flag": True, "name": "spatten",
        "code": "7", "empty": None,
    }  # fmt: skip
    assert rows[1]["n"] is None and rows[1]["x"] == 2.5 and rows[1]["flag"] is False
    assert rows.dtypes["x"] is float and rows.dtypes["code"] is str and rows.dtypes["empty"] is None
    with pytest.raises(SpattenError, match="no sweep results table"):
        load_results(tmp_path / "nothing")
    p.write_bytes(b"point_id,status\n\xff\xfe,ok\n")
    with pytest.raises(SpattenError, match="not a results table"):
        load_results(p)
    p.write_text("")
    with pytest.raises(SpattenError, match="empty table"):
        load_results(tmp_path)


def test_bad_mappings_are_refused_like_bad_files(tmp_path: Path) -> None:
    with pytest.raises(SpaceError, match=r"^axis: unknown key"):
        run_sweep({**SPACE, "axis": {}}, tmp_path / "o", show_progress=False)
    with pytest.raises(SpaceError, match=r"traces\[0\]: 'nope\.npz': no such file"):
        run_sweep({**SPACE, "traces": ["nope.npz"]}, tmp_path / "o", show_progress=False)
    with pytest.raises(SpaceError, match="not plain data"):
        run_sweep({**SPACE, "description": object()}, tmp_path / "o", show_progress=False)
    assert not (tmp_path / "o").exists()


def test_to_frame_keeps_integers_integers(swept) -> None:
    pd = pytest.importorskip("pandas")
    table, _ = swept
    df = table.to_frame()
    assert isinstance(df, pd.DataFrame) and df.shape == (4, len(table.columns))
    assert list(df.columns) == list(table.columns)
    assert df["cfg.memory.channels"].dtype == "int64"
    assert str(df["dram.bytes_read"].dtype) == "Int64"  # empty for the failed points
    assert df["dram.bytes_read"].iloc[0] == table[0]["dram.bytes_read"]
    assert df["energy_pj.total"].dtype == "float64"
    assert df["cfg.buffers.double_buffered"].dtype == bool


def test_to_frame_without_pandas_says_what_to_install(swept, monkeypatch) -> None:
    table, _ = swept
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        table.to_frame()


def test_parquet_without_pyarrow_is_refused_before_anything_runs(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'spatten-sim\[parquet\]'"):
        run_sweep({**SPACE, "traces": [str(TRACE)]}, tmp_path / "o", parquet=True)
    assert not (tmp_path / "o").exists()


def test_parquet_table_is_written_read_first_and_removed_when_not_asked(
    swept, tmp_path, monkeypatch
) -> None:
    pytest.importorskip("pyarrow")
    table, out = swept
    out2 = tmp_path / "out"
    shutil.copytree(out, out2)  # a resumed sweep: every point is done, the tables are rebuilt
    space = {**SPACE, "traces": [str(out.parent / "t" / "short.npz")]}
    yaml_space = tmp_path / "space.yaml"
    axes = {"memory.channels": [8, 16], "qxk.multipliers": [512, 48]}
    yaml_space.write_text(yaml.safe_dump({**space, "axes": axes}))
    status = main(["sweep", str(yaml_space), "-o", str(out2), "-j", "1", "-q", "--parquet"])
    assert status == 0 and (out2 / "results.parquet").is_file()  # every point was done
    import spatten_sim.sweep.table as table_mod

    def no_csv(path):
        raise AssertionError("read the CSV although a current Parquet table is there")

    with monkeypatch.context() as m:
        m.setattr(table_mod, "_read_csv", no_csv)
        back = load_results(out2)
    assert back == table and back.dtypes == table.dtypes and back.columns == table.columns
    assert load_results(out2 / "results.parquet") == table
    # a CSV newer than the Parquet file (a write that did not happen): the CSV is read
    t = (out2 / "results.parquet").stat().st_mtime
    os.utime(out2 / "results.csv", (t + 10, t + 10))
    with monkeypatch.context() as m:
        m.setattr(table_mod, "_read_csv", lambda p: ResultTable([{"point_id": "csv"}]))
        assert load_results(out2)[0]["point_id"] == "csv"
    # a run without --parquet removes the older Parquet table instead of leaving it behind
    run_sweep(space, out2, jobs=1, show_progress=False)
    assert not (out2 / "results.parquet").exists()
    assert _read_csv(out2 / "results.csv") == table
