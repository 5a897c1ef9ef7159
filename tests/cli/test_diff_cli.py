"""``spatten-sim diff A B``: real runs compared, the exit status, JSON for programs, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spatten_sim.cli import main

ROOT = Path(__file__).resolve().parents[2]
TRACE = ROOT / "traces" / "minilm-sst-25.npz"
SWEEP = ROOT / "plots" / "data" / "kv_sram"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """spatten twice (a JSON and a run folder) and with 4 comparators."""
    d = tmp_path_factory.mktemp("runs")
    out = {"a": d / "a.json", "a_dir": d / "a_dir", "c4": d / "c4.json"}
    argv = ["run", "spatten", str(TRACE), "-q"]
    assert main([*argv, "--json", str(out["a"])]) == 0
    assert main([*argv, "-o", str(out["a_dir"])]) == 0
    assert main([*argv, "--set", "topk.comparators=4", "--json", str(out["c4"])]) == 0
    return out


def test_listed_in_the_commands_and_help_explains(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "diff" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["diff", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for needle in ("--rtol", "--atol", "--all", "--json", "examples:", "spatten-sim diff a.json",
                   "exit status", "sweep"):  # fmt: skip
        assert needle in out


def test_equal_runs_exit_0(runs, capsys):
    assert main(["diff", str(runs["a"]), str(runs["a_dir"])]) == 0
    out = capsys.readouterr().out
    assert "results: no differences" in out and "configuration: same" in out
    assert "simulator: same" in out and "input: same" in out
    assert out.rstrip().endswith("equal")


def test_a_config_change_exit_1_with_every_key(runs, capsys):
    assert main(["diff", str(runs["a"]), str(runs["c4"])]) == 1
    out = capsys.readouterr().out
    a, b = (json.loads(runs[k].read_text()) for k in ("a", "c4"))
    assert "configuration: 1 difference" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("topk.comparators"))
    assert line.split() == ["topk.comparators", "16", "->", "4"]
    cycles = next(x for x in out.splitlines() if x.strip().startswith("cycles "))
    d = b["cycles"] - a["cycles"]
    assert cycles.split()[:4] == ["cycles", str(a["cycles"]), str(b["cycles"]), f"{d:+d}"]
    assert f"{100 * d / a['cycles']:+.4g} %" in cycles
    assert "sim." not in out and "timestamp" not in out
    assert out.rstrip().endswith("different")


def test_json_for_programs(runs, capsys, tmp_path):
    assert main(["diff", str(runs["a"]), str(runs["c4"]), "--json", "-"]) == 1
    cap = capsys.readouterr()
    doc = json.loads(cap.out)  # stdout is the JSON alone; the text went to stderr
    assert "configuration: 1 difference" in cap.err
    assert doc["kind"] == "report" and doc["equal"] is False
    assert doc["a"]["path"] == str(runs["a"]) and doc["a"]["config_from"] == "provenance.config"
    assert doc["config"] == [{"key": "topk.comparators", "a": 16, "b": 4, "delta": -12,
                              "percent": -75.0}]  # fmt: skip
    cyc = next(r for r in doc["results"] if r["key"] == "cycles")
    assert cyc["delta"] == cyc["b"] - cyc["a"]
    assert doc["provenance"]["simulator_changed"] is False
    path = tmp_path / "out" / "d.json"
    assert main(["diff", str(runs["a"]), str(runs["a_dir"]), "--json", str(path), "-q"]) == 0
    assert capsys.readouterr() == ("", "")
    assert json.loads(path.read_text())["equal"] is True


def test_all_includes_the_wall_clock_and_the_timestamp(runs, capsys):
    assert main(["diff", str(runs["a"]), str(runs["a_dir"]), "--all", "--json", "-", "-q"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert "sim.wall_seconds" in [r["key"] for r in doc["results"]]
    assert isinstance(doc["provenance"]["other"], list)  # compared (None without --all)
    assert doc["options"]["all"] is True


def test_tolerances(runs, tmp_path, capsys):
    a = json.loads(runs["a"].read_text())
    a["cycles"] += 3
    near = tmp_path / "near.json"
    near.write_text(json.dumps(a))
    assert main(["diff", str(runs["a"]), str(near), "-q"]) == 1
    assert main(["diff", str(runs["a"]), str(near), "-q", "--atol", "3"]) == 0
    assert main(["diff", str(runs["a"]), str(near), "-q", "--rtol", "1e-3"]) == 0


def test_sweep_folders(tmp_path, capsys):
    assert main(["diff", str(SWEEP), str(SWEEP)]) == 0
    out = capsys.readouterr().out
    assert "rows matched by trace, buffers.key_sram_bytes, buffers.value_sram_bytes" in out
    other = tmp_path / "other"
    shutil.copytree(SWEEP, other)
    lines = (other / "results.csv").read_text().splitlines()
    (other / "results.csv").write_text("\n".join(lines[:-1]) + "\n")  # one row fewer
    assert main(["diff", str(SWEEP), str(other)]) == 1
    out = capsys.readouterr().out
    assert "1 only in A" in out and "only in A:" in out


@pytest.mark.parametrize(
    ("a", "b", "needle"),
    [
        ("{t}/missing.json", "{a}", "no such file or folder"),
        ("{a}", str(ROOT / "README.md"), "not a spatten-sim report"),
        ("{a}", str(ROOT / "traces"), "not a run folder"),
        ("{a}", str(SWEEP), "cannot compare"),
        ("{a}", "{j}", "not a spatten-sim report"),
        ("{a}", "{t}/binary.json", "not UTF-8"),
        ("{a}", "{t}/deep.json", "nested too deeply"),
        ("/dev/null", "{a}", "not a regular file"),
    ],
    ids=["missing", "not-json", "not-results", "two-kinds", "other-json", "binary", "deep", "dev"],
)
def test_bad_input_is_one_line_and_status_2(runs, tmp_path, capsys, a, b, needle):
    j = tmp_path / "validate.json"
    j.write_text(json.dumps([{"row": 1}]))
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00{")
    (tmp_path / "deep.json").write_text("[" * 200_000 + "]" * 200_000)

    def fill(s: str) -> str:
        return s.format(t=tmp_path, a=runs["a"], j=j)

    assert main(["diff", fill(a), fill(b)]) == 2
    cap = capsys.readouterr()
    assert needle in cap.err and "Traceback" not in cap.err
    assert cap.err.count("\n") == 1 and cap.out == ""


def test_bad_tolerance_is_status_2(runs, capsys):
    assert main(["diff", str(runs["a"]), str(runs["a"]), "--rtol", "-1"]) == 2
    assert "--rtol" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["diff", str(runs["a"]), str(runs["a"]), "--atol", "x"])
    assert exc.value.code == 2


def test_the_installed_command(runs):
    exe = [sys.executable, "-m", "spatten_sim.cli", "diff"]
    same = subprocess.run([*exe, str(runs["a"]), str(runs["a_dir"])], capture_output=True)
    differ = subprocess.run([*exe, "-q", str(runs["a"]), str(runs["c4"])], capture_output=True)
    bad = subprocess.run([*exe, str(runs["a"]), "nope"], capture_output=True, text=True)
    assert (same.returncode, differ.returncode, bad.returncode) == (0, 1, 2)
    assert differ.stdout == b"" and bad.stderr.count("\n") == 1
