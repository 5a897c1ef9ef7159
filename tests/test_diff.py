"""spatten_sim.diff: comparing two reports (JSON or run folder) or two sweeps."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from types import MappingProxyType

import pytest
import yaml

from spatten_sim.diff import (
    MISSING,
    Change,
    compare,
    diff_mappings,
    diff_reports,
    flatten_all,
    load,
    values_equal,
)
from spatten_sim.errors import SpattenError
from spatten_sim.pipeline import simulate

ROOT = Path(__file__).resolve().parent.parent
TRACE = ROOT / "traces" / "minilm-sst-25.npz"
OLD_SWEEP = ROOT / "plots" / "data" / "kv_sram"  # written before the provenance existed


@pytest.fixture(scope="module")
def base() -> dict:
    return simulate("spatten", TRACE).to_dict()


@pytest.fixture(scope="module")
def base_again() -> dict:
    return simulate("spatten", TRACE).to_dict()


@pytest.fixture(scope="module")
def four() -> dict:
    return simulate("spatten", TRACE, sets=["topk.comparators=4"]).to_dict()


# -- values ------------------------------------------------------------------------------------
def test_values_equal():
    assert values_equal(1, 1) and values_equal(1, 1.0) and values_equal("a", "a")
    assert not values_equal(1, 2) and not values_equal(1.0, 1.0 + 1e-15)
    assert values_equal(100.0, 100.5, rtol=0.01) and not values_equal(100.0, 102.0, rtol=0.01)
    assert values_equal(0.0, 1e-9, atol=1e-6) and not values_equal(0.0, 1e-3, atol=1e-6)
    assert values_equal(math.nan, math.nan) and not values_equal(math.nan, 1.0)
    assert not values_equal(True, 1) and not values_equal(0, False) and values_equal(True, True)
    assert not values_equal(None, 0) and values_equal(None, None)
    assert not values_equal(MISSING, None) and not values_equal(1, MISSING)
    assert values_equal((), []) and values_equal(MappingProxyType({}), {})  # frozen == plain
    assert not values_equal("16", 16)
    assert not values_equal(10**400, 1) and values_equal(10**400, 10**400)
    assert Change("x", 10**400, 1).percent is None


def test_flatten_all_keeps_lists_by_index():
    doc = {"a": {"b": [1, {"c": 2}]}, "d": [], "e": {}, "f": None}
    assert dict(flatten_all(doc)) == {"a.b[0]": 1, "a.b[1].c": 2, "d": [], "e": {}, "f": None}


def test_change_delta_and_percent():
    c = Change("cycles", 200, 150)
    assert (c.delta, c.percent) == (-50, -25.0)
    assert Change("x", 0, 5).percent is None and Change("x", 0, 5).delta == 5
    assert Change("s", "a", "b").delta is None
    d = Change("k", MISSING, 3).to_dict()
    assert d == {"key": "k", "a": None, "only_in_b": True, "b": 3}


def test_diff_mappings_order_and_skip():
    a = {"x": 1, "y": {"z": [1, 2]}, "sim": {"t": 1}}
    b = {"x": 1, "y": {"z": [1, 3, 4]}, "w": 0, "sim": {"t": 2}}
    got = [(c.key, c.a, c.b) for c in diff_mappings(a, b, skip=("sim",))]
    assert got == [("y.z[1]", 2, 3), ("y.z[2]", MISSING, 4), ("w", MISSING, 0)]


# -- reports -----------------------------------------------------------------------------------
def test_a_report_object_is_compared_by_its_document(base):
    rep = simulate("spatten", TRACE)
    assert diff_reports(rep, base).equal and diff_reports(base, rep).equal


def test_two_runs_of_the_same_thing_are_equal(base, base_again):
    d = diff_reports(base, base_again)
    assert d.equal and not d.results and d.config == ()
    assert d.provenance.simulator_changed is False and d.provenance.input_changed is False
    # the wall clock differs between the two runs (it is not compared unless asked)
    assert base["sim"]["wall_seconds"] != base_again["sim"]["wall_seconds"]
    everything = diff_reports(base, base_again, include_all=True)
    assert not everything.equal
    assert any(c.key == "sim.wall_seconds" for c in everything.results)


def test_a_config_change_shows_in_config_and_results(base, four):
    d = diff_reports(base, four)
    assert not d.equal
    assert [(c.key, c.a, c.b) for c in d.config] == [("topk.comparators", 16, 4)]
    keys = {c.key: c for c in d.results}
    assert keys["cycles"].a == base["cycles"] and keys["cycles"].b == four["cycles"]
    assert keys["cycles"].delta == four["cycles"] - base["cycles"] != 0
    assert not any(k.startswith(("sim.", "provenance.")) for k in keys)
    assert "dram.bytes_read" not in keys  # the comparators change no DRAM traffic
    assert d.provenance.simulator_changed is False  # the same simulator, the same input


def test_tolerances(base):
    b = copy.deepcopy(base)
    b["cycles"] += 1
    b["energy_pj"]["total"] *= 1 + 1e-12
    d = diff_reports(base, b)
    assert [c.key for c in d.results] == ["cycles", "energy_pj.total"]
    assert diff_reports(base, b, rtol=1e-3).equal
    assert [c.key for c in diff_reports(base, b, atol=0.5).results] == ["cycles"]
    with pytest.raises(SpattenError, match="--rtol"):
        diff_reports(base, b, rtol=-1)


def test_provenance_changes_are_reported_not_counted(base):
    b = copy.deepcopy(base)
    b["provenance"]["code_fingerprint"] = "0" * 16
    b["provenance"]["input_sha256"] = "f" * 64
    b["provenance"]["timestamp"] = "1999-01-01T00:00:00Z"
    d = diff_reports(base, b)
    assert d.equal  # results and configuration are the same
    assert [c.key for c in d.provenance.simulator] == ["provenance.code_fingerprint"]
    assert [c.key for c in d.provenance.input] == ["provenance.input_sha256"]
    assert d.provenance.other is None  # timestamp-like keys: only with include_all
    allk = diff_reports(base, b, include_all=True)
    assert not allk.equal
    assert "provenance.timestamp" in [c.key for c in allk.provenance.other]
    no_prov = {k: v for k, v in base.items() if k != "provenance"}
    unknown = diff_reports(no_prov, base)
    assert unknown.config is None and unknown.provenance.simulator_changed is None


# -- loading -----------------------------------------------------------------------------------
def _write(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_load_kinds_and_errors(tmp_path, base):
    js = _write(tmp_path / "r.json", base)
    assert load(js).kind == "report" and load(js).config_from == "provenance.config"
    run = tmp_path / "run"
    run.mkdir()
    _write(run / "report.json", base)
    assert (load(run).kind, load(run).source) == ("report", "run folder")
    assert load(OLD_SWEEP).kind == "sweep" and load(OLD_SWEEP / "results.csv").kind == "sweep"
    rec = next((OLD_SWEEP / "points").glob("*.json"))
    assert load(rec).source == "sweep point record"
    bad = [
        (tmp_path / "nope.json", "no such file"),
        (_write(tmp_path / "list.json", [1, 2]), "not a spatten-sim report"),
        (_write(tmp_path / "other.json", {"rows": []}), "not a spatten-sim report"),
        (ROOT / "README.md", "invalid JSON"),
        (tmp_path / "run" / "..", "not a run folder"),
    ]
    (tmp_path / "lonely").mkdir()
    (tmp_path / "lonely" / "results.csv").write_text("point_id\n")
    bad.append((tmp_path / "lonely", "no manifest.json"))
    for path, needle in bad:
        with pytest.raises(SpattenError, match=needle):
            load(path)
    with pytest.raises(SpattenError, match="cannot compare"):
        compare(js, OLD_SWEEP)


def test_an_old_run_folder_is_compared_through_its_config_yaml(tmp_path, base, four):
    """Before the provenance, a run folder had the preset-level config.yaml and no provenance."""
    from spatten_sim.config import load_config

    old = tmp_path / "old"
    old.mkdir()
    _write(old / "report.json", {k: v for k, v in four.items() if k != "provenance"})
    (old / "config.yaml").write_text(load_config("spatten", ["topk.comparators=4"]).to_yaml())
    new = _write(tmp_path / "new.json", base)
    c = compare(old, new)
    assert c.a.config_from == "config.yaml"
    # resolved the way today's config.yaml is: only the real change shows, no memory.* noise
    assert [(x.key, x.a, x.b) for x in c.result.config] == [("topk.comparators", 4, 16)]
    assert "A has no provenance" in c.text() and c.result.provenance.simulator_changed is None
    assert not c.equal


# -- sweeps ------------------------------------------------------------------------------------
def _sweep(tmp_path: Path, name: str, values: list[int], **extra) -> Path:
    from spatten_sim.sweep import run_sweep

    space = tmp_path / f"{name}.yaml"
    data = {"base": "spatten", "traces": [str(TRACE)], "axes": {"topk.comparators": values}}
    data.update(extra)
    space.write_text(yaml.safe_dump(data))
    run_sweep(space, tmp_path / name, jobs=1, show_progress=False)
    return tmp_path / name


def test_a_sweep_equals_itself_and_its_rerun(tmp_path):
    assert compare(OLD_SWEEP, OLD_SWEEP).equal
    a = _sweep(tmp_path, "a", [4, 16])
    b = _sweep(tmp_path, "b", [16, 4])  # another order, the same points
    c = compare(a, b)
    assert c.equal and c.result.matched == 2 and c.result.rows == ()
    assert "simulator: same" in c.text() and c.text().endswith("equal")


def test_sweeps_rows_matched_by_axis_values(tmp_path):
    a = _sweep(tmp_path, "a", [4, 16])
    b = _sweep(tmp_path, "b", [16, 32], sets={"memory.nCL": 16})
    r = compare(a, b).result
    assert not r.equal
    assert (r.rows_a, r.rows_b, r.matched, r.different_rows) == (2, 2, 1, 1)
    assert [dict(k)["topk.comparators"] for k in r.only_in_a] == [4]
    assert [dict(k)["topk.comparators"] for k in r.only_in_b] == [32]
    (row,) = r.rows
    assert dict(row.key) == {"trace": TRACE.name, "topk.comparators": 16}
    # the table's cfg.* columns hold the configuration as given (A's memory section names only
    # its preset): the column is absent from A's table
    assert [(c.key, c.a, c.b) for c in row.config] == [("memory.nCL", MISSING, 16)]
    assert "cycles" in [c.key for c in row.results]
    assert "point_id" not in [c.key for c in row.results]  # an id, not a result
    assert not row.provenance.simulator  # the same simulator, the same input
    doc = compare(a, b).to_dict()
    assert doc["kind"] == "sweep" and doc["only_in_b"] == [
        {"trace": TRACE.name, "topk.comparators": 32}
    ]
    json.dumps(doc, allow_nan=False)  # strict JSON


def test_sweep_simulator_change_is_reported(tmp_path):
    a = _sweep(tmp_path, "a", [16])
    b = tmp_path / "b"
    import shutil

    shutil.copytree(a, b)
    text = (b / "results.csv").read_text()
    fp = json.loads((a / "manifest.json").read_text())["simulator"]
    (b / "results.csv").write_text(text.replace(fp, "0123456789abcdef"))
    c = compare(a, b)
    assert c.equal and c.result.simulator_changed_rows == 1
    assert "simulator: changed in 1 of 1 matched rows" in c.text()
    assert not compare(a, b, include_all=True).equal
