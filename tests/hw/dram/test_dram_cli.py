"""spatten-sim dram-bench."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spatten_sim.cli import main

KEYS = {
    "bandwidth_gbps", "avg_latency_ns", "p50_latency_ns", "p99_latency_ns", "row_hits",
    "row_misses", "row_conflicts", "activations", "cycles", "requests", "wall_seconds",
}  # fmt: skip


def _json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_json_keys_and_values(capsys) -> None:
    out = _json(capsys, ["dram-bench", "hbm2", "--pattern", "seq", "--requests", "4000",
                         "--json", "-"])  # fmt: skip
    assert KEYS <= set(out)
    assert out["requests"] == 4000
    assert out["row_hits"] + out["row_misses"] + out["row_conflicts"] == 4000
    assert 0 < out["bandwidth_gbps"] <= 512.0
    assert out["bandwidth_gbps"] == pytest.approx(4000 * 32 / out["cycles"])
    assert out["p50_latency_ns"] <= out["p99_latency_ns"]


def test_outstanding_one_is_unloaded(capsys) -> None:
    out = _json(capsys, ["dram-bench", "hbm2", "--pattern", "stride:32", "--requests", "500",
                         "--outstanding", "1", "--channels", "1", "--set", "memory.refresh=false",
                         "--json", "-"])  # fmt: skip
    # a 1-channel stream: the first request of each row misses (32 cycles), the rest hit (17)
    assert out["p50_latency_ns"] == 17.0
    assert out["channels"] == 1


def test_trace_files(tmp_path, capsys) -> None:
    txt = tmp_path / "t.trace"
    txt.write_text("LD 0x0\nLD 0x20\n\nST 0x40\nLD 0x1000\n")
    out = _json(capsys, ["dram-bench", "hbm2", "--pattern", str(txt), "--json", "-"])
    assert out["requests"] == 4 and out["writes"] == 1
    npy = tmp_path / "a.npy"
    np.save(npy, np.arange(100, dtype=np.int64) * 64)
    out = _json(capsys, ["dram-bench", "hbm2", "--pattern", str(npy), "--json", "-"])
    assert out["requests"] == 100


def test_yaml_memory_section(tmp_path, capsys) -> None:
    y = tmp_path / "hw.yaml"
    y.write_text("memory:\n  preset: hbm2-legacy\n  channels: 4\nother: [1, 2]\n")
    out = _json(capsys, ["dram-bench", str(y), "--requests", "1000", "--json", "-"])
    assert out["memory_model"] == "hbm2-legacy" and out["channels"] == 4
    assert out["request_bytes"] == 64


@pytest.mark.parametrize(
    ("argv", "msg"),
    [
        (["hbm2", "--pattern", "zigzag"], "not seq, random"),
        (["hbm2", "--pattern", "stride:abc"], "not an integer"),
        (["hbm2", "--pattern", "stride:48"], "multiple of the request size"),
        (["hbm2", "--set", "memory.nCL=x"], "memory.nCL"),
        (["hbm2", "--set", "nCL=3"], "memory.KEY=VALUE"),
        (["hbm2", "--outstanding", "-1"], "--outstanding"),
        (["nosuch.yaml"], "nosuch.yaml"),
        (["hbm2", "--channels", "6"], "memory.channels"),
    ],
)
def test_user_errors_are_one_line(argv, msg, capsys) -> None:
    assert main(["dram-bench", *argv]) == 2
    err = capsys.readouterr().err
    assert msg in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_trace_lines(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.trace"
    bad.write_text("LD 0x10\nLD zz\n")
    assert main(["dram-bench", "hbm2", "--pattern", str(bad)]) == 2
    assert "bad.trace:2: bad address" in capsys.readouterr().err
    npy = tmp_path / "f.npy"
    np.save(npy, np.ones((2, 2)))
    assert main(["dram-bench", "hbm2", "--pattern", str(npy)]) == 2
    assert "1-D integer array" in capsys.readouterr().err


def test_text_summary(capsys) -> None:
    assert main(["dram-bench", "hbm2", "--pattern", "random", "--requests", "2000"]) == 0
    out = capsys.readouterr().out
    assert "bandwidth" in out and "requests/s" in out and "row buffer" in out
