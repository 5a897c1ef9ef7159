"""``timeline.json``: the Perfetto / Chrome trace of a run (spatten_sim.timeline).

The GPT-2-Small official workload (32 generation iterations x 12 layers, ~830k cycles, ~150k
intervals) is run once through the CLI with ``--timeline -o``; its trace must satisfy the Trace
Event Format (checked by the small validator below) and show what the run did: a track per unit
whose busy spans add up to the report's busy cycles, layer spans that cover the run, the 32
iterations, and every DRAM batch. Recording must not change a figure of the report.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from itertools import pairwise
from numbers import Real
from pathlib import Path

import numpy as np
import pytest

from spatten_sim.cli import main
from spatten_sim.timeline import PID_DRAM, PID_PROGRAM, PID_UNITS, _lanes, perfetto_trace

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "traces" / "minilm-sst-25.npz"
GPT2_SMALL = ROOT / "traces" / "official" / "summary-gpt2-small-wikitext2-per8.csv"

#: keys every event of a phase must have, and their types
_REQUIRED = {
    "X": {"name": str, "ph": str, "ts": Real, "dur": Real, "pid": int, "tid": int},
    "M": {"name": str, "ph": str, "pid": int, "args": dict},
    "C": {"name": str, "ph": str, "ts": Real, "pid": int, "args": dict},
    "i": {"name": str, "ph": str, "ts": Real, "pid": int},
}
_METADATA = {"process_name", "process_sort_index", "thread_name", "thread_sort_index"}


def validate_trace_events(doc) -> list[str]:
    """Problems of a Trace Event Format document (JSON object form): the object's keys, the
    required keys and types of each phase, non-negative durations, complete events in ``ts``
    order and properly nested on each track, and every track that has events named."""
    problems: list[str] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        return ["not an object with a traceEvents list"]
    if doc.get("displayTimeUnit", "ms") not in ("ms", "ns"):
        problems.append(f"displayTimeUnit {doc['displayTimeUnit']!r}")
    named: set[tuple[int, int]] = set()
    used: set[tuple[int, int]] = set()
    last: dict[tuple[int, int], float] = {}
    open_ends: dict[tuple[int, int], list[float]] = defaultdict(list)
    for i, e in enumerate(doc["traceEvents"]):
        ph = e.get("ph")
        req = _REQUIRED.get(ph)
        if req is None:
            problems.append(f"event {i}: unknown phase {ph!r}")
            continue
        for k, t in req.items():
            v = e.get(k)
            if not isinstance(v, t) or isinstance(v, bool):
                problems.append(f"event {i} ({ph}): {k} is {v!r}, expected {t.__name__}")
        if "args" in e and not isinstance(e["args"], dict):
            problems.append(f"event {i}: args is not an object")
        if ph == "M":
            if e.get("name") not in _METADATA:
                problems.append(f"event {i}: unknown metadata {e.get('name')!r}")
            if e.get("name", "").startswith("thread_"):
                if not isinstance(e.get("tid"), int):
                    problems.append(f"event {i}: thread metadata without tid")
                elif e["name"] == "thread_name":
                    if not isinstance(e["args"].get("name"), str):
                        problems.append(f"event {i}: thread_name without args.name")
                    named.add((e["pid"], e["tid"]))
        if ph == "X" and not problems:
            key = (e["pid"], e["tid"])
            used.add(key)
            if e["dur"] < 0:
                problems.append(f"event {i}: negative dur")
            if e["ts"] < last.get(key, -np.inf):
                problems.append(f"event {i}: ts {e['ts']} before {last[key]} on track {key}")
            last[key] = e["ts"]
            # nesting, in integer nanoseconds as Perfetto keeps them
            ts, end = round(e["ts"] * 1000), round((e["ts"] + e["dur"]) * 1000)
            stack = open_ends[key]
            while stack and stack[-1] <= ts:
                stack.pop()
            if stack and end > stack[-1]:
                problems.append(f"event {i}: overlaps the previous event of track {key}")
            stack.append(end)
        if len(problems) > 20:
            break
    for key in sorted(used - named):
        problems.append(f"track {key} has events but no thread_name")
    return problems


def test_validator_catches_broken_documents():
    ok = {
        "traceEvents": [
            {"name": "thread_name", "ph": "M", "pid": 1, "tid": 1, "args": {"name": "a"}},
            {"name": "busy", "ph": "X", "ts": 0.0, "dur": 0.002, "pid": 1, "tid": 1},
            {"name": "busy", "ph": "X", "ts": 0.002, "dur": 0.001, "pid": 1, "tid": 1},
        ],
        "displayTimeUnit": "ns",
    }
    assert validate_trace_events(ok) == []
    bad = json.loads(json.dumps(ok))
    bad["traceEvents"][2]["ts"] = 0.001  # nested in the first: fine
    assert validate_trace_events(bad) == []
    bad["traceEvents"][2]["dur"] = 0.005  # [1, 6] ns overlaps [0, 2] ns without nesting
    assert any("overlaps" in p for p in validate_trace_events(bad))
    bad = json.loads(json.dumps(ok))
    bad["traceEvents"].append({"name": "x", "ph": "X", "ts": 1.0, "dur": 1, "pid": 1, "tid": 9})
    assert any("no thread_name" in p for p in validate_trace_events(bad))
    bad = json.loads(json.dumps(ok))
    bad["traceEvents"][1]["dur"] = -1.0
    assert any("negative" in p for p in validate_trace_events(bad))
    bad = json.loads(json.dumps(ok))
    bad["traceEvents"][2]["ts"] = -1.0
    assert any("before" in p for p in validate_trace_events(bad))
    bad = json.loads(json.dumps(ok))
    del bad["traceEvents"][1]["tid"]
    assert any("tid" in p for p in validate_trace_events(bad))
    assert validate_trace_events([]) == ["not an object with a traceEvents list"]


def test_lanes_keep_overlapping_spans_apart():
    spans = [(0, 10), (5, 12), (10, 20), (11, 13), (12, 14)]
    lanes = _lanes(spans)
    assert lanes == [0, 1, 0, 2, 1]
    for k in set(lanes):
        mine = [s for s, lane in zip(spans, lanes, strict=True) if lane == k]
        assert all(a[1] <= b[0] for a, b in pairwise(mine))


@pytest.fixture(scope="module")
def gpt2_run(tmp_path_factory):
    """GPT-2-Small official CSV on preset spatten, with --timeline -o (through the CLI)."""
    out = tmp_path_factory.mktemp("gpt2") / "run"
    assert main(["run", "spatten", str(GPT2_SMALL), "--timeline", "-o", str(out), "-q"]) == 0
    doc = json.loads((out / "timeline.json").read_text())
    report = json.loads((out / "report.json").read_text())
    layers = list(csv.DictReader((out / "layers.csv").open()))
    return doc, report, layers


def _x(doc, pid):
    return [e for e in doc["traceEvents"] if e["ph"] == "X" and e["pid"] == pid]


def _threads(doc, pid):
    return {
        e["tid"]: e["args"]["name"]
        for e in doc["traceEvents"]
        if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == pid
    }


def test_gpt2_small_trace_is_valid_trace_event_format(gpt2_run):
    doc, report, _ = gpt2_run
    assert set(doc) == {"traceEvents", "displayTimeUnit", "otherData"}
    assert doc["displayTimeUnit"] == "ns"
    assert validate_trace_events(doc) == []
    other = doc["otherData"]
    assert other["cycles"] == report["cycles"] and other["clock_ghz"] == report["clock_ghz"]
    procs = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "process_name"}
    assert procs == {PID_UNITS: "SpAtten accelerator", PID_PROGRAM: "program", PID_DRAM: "DRAM"}


def test_one_track_per_unit_with_its_busy_cycles(gpt2_run):
    doc, report, _ = gpt2_run
    threads = _threads(doc, PID_UNITS)
    assert sorted(threads.values()) == sorted(report["units"])  # one named track per unit
    assert list(threads.values()) == list(report["units"])  # in the report's order
    busy: dict[str, int] = defaultdict(int)
    ns = 1.0 / report["clock_ghz"]
    for e in _x(doc, PID_UNITS):
        a, b = e["args"]["start_cycle"], e["args"]["end_cycle"]
        assert e["name"] in ("busy", "stall") and e["cat"] == e["name"]
        assert e["ts"] == pytest.approx(round(a * ns) / 1000) and b > a
        assert e["dur"] == pytest.approx((round(b * ns) - round(a * ns)) / 1000)
        if e["name"] == "busy":
            busy[threads[e["tid"]]] += b - a
    for unit, u in report["units"].items():
        if unit != "bitwidth_converter":  # charged as latency: no intervals
            assert busy[unit] == u["busy_cycles"], unit
    assert busy["qxk"] > 0 and busy["fetcher"] > 0


def test_layer_and_iteration_spans_cover_the_run(gpt2_run):
    doc, report, layers = gpt2_run
    threads = _threads(doc, PID_PROGRAM)
    ev = _x(doc, PID_PROGRAM)
    lay = sorted(
        (e for e in ev if threads[e["tid"]].startswith("layers")),
        key=lambda e: e["args"]["start_cycle"],
    )
    its = [e for e in ev if threads[e["tid"]].startswith("iterations")]
    assert len(lay) == len(layers) == 32 * 12
    assert {e["name"] for e in lay} == {f"layer {i}" for i in range(12)}
    assert [e["name"] for e in its] == [f"generation {i}" for i in range(1, 33)]
    assert lay[0]["args"]["start_cycle"] == 0
    # between two layer jobs only the token/head top-k engine runs
    units = _threads(doc, PID_UNITS)
    topk = [
        (e["args"]["start_cycle"], e["args"]["end_cycle"])
        for e in _x(doc, PID_UNITS)
        if units[e["tid"]] == "topk_token_head"
    ]
    topk_busy = sum(b - a for a, b in topk)
    gaps = 0
    for prev, nxt in pairwise(lay):
        a, b = prev["args"]["end_cycle"], nxt["args"]["start_cycle"]
        assert b >= a
        if b > a:
            gaps += b - a
            assert any(ta <= a and b <= tb for ta, tb in topk), (a, b)
    tail = report["cycles"] - lay[-1]["args"]["end_cycle"]
    assert tail >= 0 and gaps + tail <= topk_busy
    covered = sum(e["args"]["end_cycle"] - e["args"]["start_cycle"] for e in lay)
    assert covered + gaps + tail == report["cycles"]
    # iteration spans: first to last layer of the iteration, with the layer's args
    for it in its:
        mine = [e for e in lay if e["args"]["iteration"] == it["args"]["iteration"]]
        assert it["args"]["start_cycle"] == min(e["args"]["start_cycle"] for e in mine)
        assert it["args"]["end_cycle"] == max(e["args"]["end_cycle"] for e in mine)
    rows = {(int(r["iteration"]), int(r["layer"])): r for r in layers}
    for e in lay:
        r = rows[(e["args"]["iteration"], int(e["name"].split()[1]))]
        assert e["args"]["tokens_kept"] == int(r["tokens_kept"])
        assert e["args"]["dram_bytes"] == int(r["dram_bytes"])


def test_dram_batches_are_all_there(gpt2_run):
    doc, report, _ = gpt2_run
    threads = _threads(doc, PID_DRAM)
    ev = _x(doc, PID_DRAM)
    assert len(ev) == report["sim"]["dram_batches"] > 1000
    assert sum(e["args"]["transactions"] for e in ev) == report["dram"]["transactions"]
    assert sum(e["args"]["bytes"] for e in ev) == report["dram"]["bytes_read"]
    assert threads[1] == "DRAM batches" and len(threads) == doc["otherData"]["dram_batch_tracks"]
    assert len(threads) > 1  # batches overlap: more than one track
    for e in ev:
        assert e["args"]["end_cycle"] > e["args"]["start_cycle"]
        assert e["args"]["end_cycle"] <= report["cycles"]
    # the fetcher issues a batch while its predecessor's data still arrive, never before
    starts = sorted(e["args"]["start_cycle"] for e in ev)
    units = _threads(doc, PID_UNITS)
    fetch = sorted(
        e["args"]["start_cycle"] for e in _x(doc, PID_UNITS) if units[e["tid"]] == "fetcher"
    )
    assert starts == fetch


def test_recording_changes_no_figure_of_the_report():
    from spatten_sim.config import load_config
    from spatten_sim.pipeline import simulate
    from spatten_sim.recording import RunRecorder

    cfg = load_config("spatten")
    plain = simulate(cfg, TRACE).to_dict()
    rec = RunRecorder(pruning=True, dram_batches=True, dram_stream=True)
    looked = simulate(cfg, TRACE, record_timeline=True, recorder=rec).to_dict()
    for d in (plain, looked):
        d.pop("sim")
        d.pop("provenance", None)
    assert looked == plain
    batches = rec.dram_batches
    assert batches is not None and batches.shape[1] == 4
    assert int(batches[:, 2].sum()) == plain["dram"]["transactions"] == rec.stream.n_requests


def test_a_report_without_timeline_is_refused():
    from spatten_sim.errors import SpattenError
    from spatten_sim.report import Report

    with pytest.raises(SpattenError, match="no timeline recorded"):
        perfetto_trace(Report(data={"clock_ghz": 1.0}, layers=()))


def test_times_round_to_whole_nanoseconds_at_any_clock():
    from spatten_sim.report import Report

    layers = [
        {"stage": "summarization", "iteration": 0, "layer": 0, "start_cycle": 0, "end_cycle": 3},
        {"stage": "summarization", "iteration": 0, "layer": 1, "start_cycle": 3, "end_cycle": 7},
    ]
    tl = [("qxk", "busy", 0, 1), ("qxk", "busy", 1, 2), ("qxk", "stall", 2, 3)]
    rep = Report(
        data={"clock_ghz": 1.5, "cycles": 7, "units": {"qxk": {}}, "config": "c",
              "input": {"path": "p"}},
        layers=layers,
        timeline=tl,
    )  # fmt: skip
    doc = perfetto_trace(rep, np.array([[0, 5, 2, 64], [2, 7, 1, 32]]))
    assert validate_trace_events(doc) == []
    x = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["pid"] == PID_UNITS]
    ends = [round((e["ts"] + e["dur"]) * 1000) for e in x]
    starts = [round(e["ts"] * 1000) for e in x]
    assert starts[1:] == ends[:-1]  # touching intervals still touch
    assert [e["args"]["start_cycle"] for e in x] == [0, 1, 2]
