"""Report: immutable all the way down, the same JSON as the document it was built from, and the
notebook views (flat, to_frame, repr)."""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import pytest

import spatten_sim.report as report_mod
from spatten_sim.errors import MissingDependencyError
from spatten_sim.frozen import FrozenDict
from spatten_sim.pipeline import simulate
from spatten_sim.report import Report

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "traces" / "minilm-sst-25.npz"


@pytest.fixture(scope="module")
def built() -> tuple[Report, dict[str, Any], tuple[dict[str, Any], ...]]:
    """A simulated report with the very document and layer rows its constructor was given."""
    seen: dict[str, Any] = {}
    real = report_mod.Report

    def recording(*, data: dict, layers: tuple, timeline: Any = None) -> Report:
        seen["data"], seen["layers"] = copy.deepcopy(data), copy.deepcopy(layers)
        return real(data=data, layers=layers, timeline=timeline)

    mp = pytest.MonkeyPatch()
    mp.setattr(report_mod, "Report", recording)
    try:
        rep = simulate("spatten", TRACE, record_timeline=True)
    finally:
        mp.undo()
    return rep, seen["data"], seen["layers"]


def test_json_is_byte_identical_to_the_document_it_was_built_from(built) -> None:
    rep, data, _ = built
    # what to_json() wrote before the report was frozen: json.dumps of the plain document
    assert rep.to_json() == json.dumps(data, indent=2, sort_keys=False)
    assert rep.to_json(indent=None) == json.dumps(data)
    assert rep.to_dict() == data
    assert json.loads(rep.to_json()) == data


def test_nothing_inside_can_be_changed(built) -> None:
    rep, _, _ = built
    with pytest.raises(TypeError):
        rep.data["cycles"] = 0  # type: ignore[index]
    with pytest.raises(TypeError):
        rep["dram"]["bytes_read"] = 0
    with pytest.raises(TypeError):
        rep["pruning"]["tokens_kept_per_layer"]["summarization"][0] = 0.0
    with pytest.raises(TypeError):
        rep.layers[0]["queries"] = 0  # type: ignore[index]
    with pytest.raises(AttributeError):
        rep["dram"].update  # noqa: B018 - a read-only mapping has no update
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.data = {}  # type: ignore[misc]
    assert isinstance(rep["pruning"]["tokens_kept_per_layer"]["summarization"], tuple)
    assert rep.timeline is not None and isinstance(rep.timeline, tuple)


def test_the_report_shares_nothing_with_its_input_or_its_output() -> None:
    data: dict[str, Any] = {"cycles": 5, "dram": {"bytes_read": 64}, "per_layer": [1, 2]}
    layers = [{"layer": 0, "queries": 3}]
    rep = Report(data=data, layers=tuple(layers))
    data["dram"]["bytes_read"] = 0
    data["per_layer"].append(3)
    layers[0]["queries"] = 0
    assert rep.get("dram.bytes_read") == 64 and rep["per_layer"] == (1, 2)
    assert rep.layers[0]["queries"] == 3
    out = rep.to_dict()
    out["dram"]["bytes_read"] = 1
    out["per_layer"].append(9)
    assert rep.to_dict() == {"cycles": 5, "dram": {"bytes_read": 64}, "per_layer": [1, 2]}
    assert rep.to_dict() is not rep.to_dict()
    assert type(out["dram"]) is dict and type(out["per_layer"]) is list


def test_layers_csv_is_unchanged(built) -> None:
    rep, _, layers = built
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(layers[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(layers)
    assert rep.layers_csv() == buf.getvalue()


def test_get_by_dotted_key(built) -> None:
    rep, data, _ = built
    assert rep.get("dram.bytes_read") == data["dram"]["bytes_read"]
    assert rep.get("energy_pj.by_unit.qxk") == data["energy_pj"]["by_unit"]["qxk"]
    with pytest.raises(KeyError):
        rep.get("dram.nope")


def test_flat_has_every_scalar_by_its_dotted_key(built) -> None:
    rep, data, _ = built
    flat = rep.flat()
    assert flat["dram.bytes_read"] == data["dram"]["bytes_read"]
    assert flat["units.qxk.busy_cycles"] == data["units"]["qxk"]["busy_cycles"]
    assert flat["input.model"] == data["input"]["model"]
    assert list(flat)[:3] == ["report_version", "spatten_sim_version", "config"]
    for key, value in flat.items():
        node: Any = data
        for part in key.split("."):
            node = node[part]
        assert node == value and not isinstance(value, (dict, list, tuple, FrozenDict))
    # lists (per-layer figures) are not leaves of the table
    assert not any(k.startswith("pruning.tokens_kept_per_layer") for k in flat)
    assert Report(data={"a": {"b": [1]}, "c": None}, layers=()).flat() == {"c": None}


def test_repr_is_one_short_line(built) -> None:
    rep, data, _ = built
    text = repr(rep)
    assert "\n" not in text and len(text) < 160
    assert f"cycles={data['cycles']:,.0f}" in text
    assert f"dram_read={data['dram']['bytes_read']:,} B" in text
    assert " us" in text and " uJ" in text and "bytes_by_stream" not in text
    assert repr(Report(data={}, layers=())) == (
        "Report(config=?, cycles=?, latency=?, dram_read=?, energy=?)"
    )


def test_equal_reports_are_equal_hash_alike_and_pickle(built) -> None:
    rep, data, layers = built
    again = Report(data=data, layers=layers, timeline=rep.timeline)
    assert again == rep and hash(again) == hash(rep)
    back = pickle.loads(pickle.dumps(rep))
    assert back == rep and back.to_json() == rep.to_json()
    assert Report(data={**data, "cycles": -1}, layers=layers) != rep


def test_summary_of_a_report_read_back_from_json(built) -> None:
    rep, _, _ = built
    again = Report(data=json.loads(rep.to_json()), layers=())
    assert again.summary() == rep.summary()


def test_to_frame_is_one_row_of_flat(built) -> None:
    pd = pytest.importorskip("pandas")
    rep, _, _ = built
    frame = rep.to_frame()
    assert isinstance(frame, pd.DataFrame) and frame.shape == (1, len(rep.flat()))
    assert list(frame.columns) == list(rep.flat())
    assert frame["dram.bytes_read"].iloc[0] == rep.get("dram.bytes_read")


def test_to_frame_without_pandas_says_what_to_install(built, monkeypatch) -> None:
    rep, _, _ = built
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    with pytest.raises(ImportError, match=r"pip install pandas") as exc:
        rep.to_frame()
    assert isinstance(exc.value, MissingDependencyError)
