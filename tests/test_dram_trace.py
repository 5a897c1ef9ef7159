"""``--dram-trace``: the DRAM request stream in Ramulator 2 and DRAMsim3 trace formats.

Every file is parsed back and compared with the stream the HBM2 model saw (count, addresses in
order, reads, and for DRAMsim3 the issue cycles, non-decreasing).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spatten_sim.cli import main
from spatten_sim.dram_trace import (
    FORMATS,
    DramTrace,
    format_lines,
    read_dram_trace,
    stream_requests,
    trace_format,
    write_dram_trace,
)
from spatten_sim.errors import SpattenError
from spatten_sim.hw.dram.stream import RecordedStream

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "traces" / "minilm-sst-25.npz"
LINE = {
    "ramulator2": re.compile(r"^(LD|ST) 0x[0-9a-f]+$"),
    "dramsim3": re.compile(r"^0x[0-9a-f]+ (READ|WRITE) [0-9]+$"),
}


@pytest.fixture(scope="module")
def minilm_stream():
    from spatten_sim.config import load_config
    from spatten_sim.pipeline import simulate
    from spatten_sim.recording import RunRecorder

    rec = RunRecorder(dram_stream=True)
    report = simulate(load_config("spatten"), TRACE, recorder=rec)
    return rec.stream, report


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_of_a_real_run(minilm_stream, tmp_path, fmt):
    stream, report = minilm_stream
    path = tmp_path / f"minilm.{fmt}"
    n = write_dram_trace(path, stream, fmt)
    assert n == stream.n_requests == report["dram"]["transactions"] > 1000
    lines = path.read_text().splitlines()
    assert len(lines) == n and all(LINE[fmt].match(ln) for ln in lines)
    back = read_dram_trace(path)  # the format from the name
    assert back.addresses.size == n
    np.testing.assert_array_equal(back.addresses, stream.addresses)
    assert not back.is_write.any()  # SpAtten's attention reads only
    assert (back.addresses % 32 == 0).all()
    if fmt == "dramsim3":
        assert back.cycles is not None
        np.testing.assert_array_equal(back.cycles, stream.arrival)
        assert (np.diff(back.cycles) >= 0).all()
        assert back.cycles[0] == 0 and back.cycles[-1] < report["cycles"]
    else:
        assert back.cycles is None


def test_exact_lines_with_writes_zeros_and_out_of_order_batches(tmp_path):
    stream = RecordedStream(
        addresses=np.array([0x40, 0x0, 0xABC000, 0x20], np.int64),
        arrival=np.array([5, 9, 12, 7], np.int64),  # the second batch starts before the first ends
        is_write=np.array([0, 1, 0, 1], np.uint8),
        offsets=np.array([0, 3, 4], np.int64),
        frontend=np.zeros((2, 5), np.int64),
        preset="hbm2",
    )
    req = stream_requests(stream)
    assert req.cycles is not None and list(req.cycles) == [5, 7, 9, 12]  # stable by cycle
    assert format_lines(req, "dramsim3") == (
        b"0x40 READ 5\n0x20 WRITE 7\n0x0 WRITE 9\n0xabc000 READ 12\n"
    )
    assert format_lines(req, "ramulator2") == b"LD 0x40\nST 0x20\nST 0x0\nLD 0xabc000\n"
    for fmt in FORMATS:
        p = tmp_path / f"t.{fmt}.trace"
        assert write_dram_trace(p, stream, fmt) == 4
        back = read_dram_trace(p, fmt)
        assert list(back.addresses) == [0x40, 0x20, 0x0, 0xABC000]
        assert list(back.is_write) == [False, True, True, False]
    # chunked formatting gives the same bytes as one piece
    big = DramTrace(
        addresses=np.arange(0, 32 * 1000, 32, dtype=np.int64),
        is_write=np.zeros(1000, bool),
        cycles=np.arange(1000, dtype=np.int64) // 3,
    )
    whole = format_lines(big, "dramsim3")
    parts = b"".join(format_lines(big, "dramsim3", lo, lo + 128) for lo in range(0, 1000, 128))
    assert whole == parts
    assert whole.splitlines()[999] == f"0x{32 * 999:x} READ {999 // 3}".encode()


def test_format_from_name_or_option():
    assert trace_format("a.ramulator2") == "ramulator2"
    assert trace_format("a.RAMULATOR2.trace") == "ramulator2"
    assert trace_format("x/b.dramsim3") == "dramsim3"
    assert trace_format("b.trace", "dramsim3") == "dramsim3"
    with pytest.raises(SpattenError, match="cannot tell the format"):
        trace_format("b.trace")
    with pytest.raises(SpattenError, match="expected one of ramulator2, dramsim3"):
        trace_format("b.dramsim3", "ramulator")


def test_reader_names_the_bad_line(tmp_path):
    p = tmp_path / "t.dramsim3"
    p.write_text("0x40 READ 5\n0x40 LOAD 6\n")
    with pytest.raises(SpattenError, match=r"t.dramsim3:2: not a dramsim3 trace line"):
        read_dram_trace(p)
    p = tmp_path / "t.ramulator2"
    p.write_text("LD 0x40 7\n")
    with pytest.raises(SpattenError, match=r":1: not a ramulator2"):
        read_dram_trace(p)


def test_cli_writes_the_trace(tmp_path, capsys):
    path = tmp_path / "gen.trace"
    argv = ["run", "spatten", str(TRACE), "--dram-trace", str(path)]
    assert main([*argv, "--dram-trace-format", "dramsim3", "-q"]) == 0
    back = read_dram_trace(path, "dramsim3")
    assert back.addresses.size > 1000 and back.cycles is not None
    assert main(["run", "spatten", str(TRACE), "--dram-trace", str(tmp_path / "x.ramulator2")]) == 0
    err = capsys.readouterr().err
    assert "ramulator2 format" in err and "DRAM requests" in err
    assert read_dram_trace(tmp_path / "x.ramulator2").addresses.size == back.addresses.size


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--dram-trace", "out.txt"], "cannot tell the format from the name"),
        (["--dram-trace", "o.dramsim3", "--set", "memory.preset=ideal"], "'ideal' memory model"),
        (["--dram-trace", "o.dramsim3", "--dram-trace-format", "ramulator"], "invalid choice"),
    ],
)
def test_bad_requests_fail_in_one_line_before_the_run(tmp_path, extra, message):
    r = subprocess.run(
        [sys.executable, "-m", "spatten_sim", "run", "spatten", str(TRACE), *extra],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert "timing phase" not in r.stderr  # refused before simulating
    assert not any(tmp_path.iterdir())


def test_run_help_explains_looking_inside(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for text in ("--dram-trace", "--dram-trace-format", "timeline.json", "pruning.npz",
                 "ui.perfetto.dev", "LD 0x", "READ", "--dram-trace minilm.dramsim3"):  # fmt: skip
        assert text in out, text
