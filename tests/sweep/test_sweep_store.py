"""The results store: atomic records, the table (columns, order, round trip), no partial rows."""

from __future__ import annotations

import csv

from spatten_sim.sweep.store import (
    ResultStore,
    flatten,
    format_cell,
    parse_cell,
    point_row,
    read_table,
    table_text,
)


def _record(pid, status="ok", comparators=16, cycles=100):
    return {
        "point_id": pid,
        "status": status,
        "error": None if status == "ok" else "ConfigError: x: bad",
        "input": "/somewhere/t.npz",
        "input_sha256": "ab" * 32,
        "values": [["topk.comparators", comparators]],
        "config": {"name": "n", "topk": {"comparators": comparators, "fifo_depth": 64}},
        "report": None
        if status != "ok"
        else {
            "cycles": cycles,
            "seconds": cycles * 1e-9,
            "dram": {"bytes_by_stream": {"q": 32, "k_msb": 64}},
            "pruning": {"tokens_kept_per_layer": {"summarization": [1.0, 2.0]}},
            "fidelity": None,
            "sim": {"wall_seconds": 1.5},
        },
    }


def test_flatten_and_cells_round_trip():
    assert dict(flatten({"a": {"b": 1, "c": [1, 2]}, "d": None})) == {"a.b": 1, "d": None}
    for v in (0, -3, 1.25, 1e-300, 0.1 + 0.2, True, False, None, "hbm2: x"):
        assert parse_cell(format_cell(v)) == v


def test_row_columns_units_and_exclusions():
    row = point_row(_record("p1"))
    assert list(row)[:6] == [
        "point_id", "status", "error", "trace", "trace_sha256", "cfg.topk.comparators",
    ]  # fmt: skip
    assert row["trace"] == "t.npz"
    assert row["cycles"] == 100 and row["dram.bytes_by_stream.k_msb"] == 64
    assert "sim.wall_seconds" not in row  # wall clock is not a result
    assert not any(k.startswith("pruning.tokens_kept_per_layer") for k in row)  # lists: JSON only
    failed = point_row(_record("p2", "failed"))
    assert failed["status"] == "failed" and failed["error"] == "ConfigError: x: bad"


def test_store_orders_rows_by_expansion_and_resumes(tmp_path):
    space = tmp_path / "s.yaml"
    space.write_text("x: 1\n")
    manifest = {"points": [{"point_id": f"p{i}"} for i in range(4)]}
    st = ResultStore(tmp_path / "out", table_interval_s=0.0)
    st.open(space, manifest)
    for pid, c in (("p3", 8), ("p0", 1), ("p2", 4)):  # finishing out of order
        st.add(_record(pid, comparators=c, cycles=c * 10))
    rows = read_table(tmp_path / "out")
    assert [r["point_id"] for r in rows] == ["p0", "p2", "p3"]
    assert [r["cycles"] for r in rows] == [10, 40, 80]
    # a new store on the same folder sees what is done; a half-written temp file is not a point
    (tmp_path / "out" / "points" / ".p1.json.99.tmp").write_text('{"point_id": "p1", "sta')
    (tmp_path / "out" / "points" / "p1.json").write_text("{not json")
    st2 = ResultStore(tmp_path / "out")
    st2.open(space, manifest)
    assert [st2.status(p) for p in ("p0", "p1", "p2", "p3")] == ["ok", None, "ok", "ok"]


def test_table_text_is_rectangular_with_union_of_columns():
    rows = [point_row(_record("a")), point_row(_record("b", "failed"))]
    text = table_text(rows)
    table = list(csv.reader(text.splitlines()))
    assert all(len(r) == len(table[0]) for r in table)
    assert table[2][table[0].index("cycles")] == ""  # a failed point has no report figures


def test_identifying_columns_stay_strings(tmp_path):
    # hex ids that look like numbers: 1e5 notation, all digits, inf
    rows = [point_row(_record(pid)) for pid in ("12e4567890abcdef", "1234567890123456")]
    (tmp_path / "results.csv").write_text(table_text(rows))
    back = read_table(tmp_path)
    assert [r["point_id"] for r in back] == ["12e4567890abcdef", "1234567890123456"]
    assert back[0]["error"] is None and back[0]["cycles"] == 100


def test_row_has_the_identifying_provenance_fields_only():
    rec = _record("p1")
    rec["report"]["provenance"] = {
        "version": "0.1.0",
        "code_fingerprint": "f" * 16,
        "git_commit": None,
        "input_sha256": "ab" * 32,
        "config": {"topk": {"comparators": 16}},
        "config_sha256": "cd" * 32,
        "command_line": ["spatten-sim", "sweep"],
        "timestamp": "2026-01-01T00:00:00Z",
    }
    row = point_row(rec)
    prov = {k: v for k, v in row.items() if k.startswith("provenance.")}
    assert prov == {
        "provenance.version": "0.1.0",
        "provenance.code_fingerprint": "f" * 16,
        "provenance.git_commit": None,
        "provenance.input_sha256": "ab" * 32,
        "provenance.config_sha256": "cd" * 32,
    }  # no timestamp: a resumed sweep's table equals an uninterrupted one's
    assert list(row)[-len(prov) :] == list(prov)  # after the results
    assert "provenance" not in str(point_row(_record("p2", "failed")))
