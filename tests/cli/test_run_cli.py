"""``spatten-sim run``: outputs, the resolved config beside results, one-line errors."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from spatten_sim.cli import main

ROOT = Path(__file__).resolve().parents[2]
TRACE = ROOT / "traces" / "minilm-sst-25.npz"
SMALL_CSV = ROOT / "traces" / "official" / "summary-gpt2-small-wikitext2-per8.csv"


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("run", "trace", "trace-info", "dram-bench", "validate", "sweep", "plot", "report"):
        assert cmd in out


def test_run_help_explains_the_options(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for opt in ("--set", "--json", "--output", "--timeline", "HW", "INPUT"):
        assert opt in out


def test_json_to_stdout_and_summary_to_stderr(capsys):
    assert main(["run", "spatten", str(TRACE), "--json", "-"]) == 0
    cap = capsys.readouterr()
    report = json.loads(cap.out)
    for key in ("cycles", "seconds", "memory_model", "fidelity"):
        assert key in report
    for key in ("q", "k_msb", "k_lsb", "v"):
        assert key in report["dram"]["bytes_by_stream"]
    assert "cycles" in cap.err and "GOP/s" in cap.err


def test_output_dir_has_report_config_layers_and_timeline(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "spatten", str(TRACE), "-o", str(out), "--timeline", "-q"]) == 0
    report = json.loads((out / "report.json").read_text())
    from spatten_sim.config import load_config
    from spatten_sim.provenance import resolved_config

    # every field resolved (the memory section too), the same as the report's provenance
    written = yaml.safe_load((out / "config.yaml").read_text())
    assert written == resolved_config(load_config("spatten")) == report["provenance"]["config"]
    assert written["memory"]["nCL"] == 14 and "nREFI" in written["memory"]
    assert resolved_config(load_config(out / "config.yaml")) == written  # loadable, same config
    rows = list(csv.DictReader((out / "layers.csv").open()))
    assert len(rows) == report["input"]["n_layers"]
    assert sum(int(r["dram_bytes"]) for r in rows) == report["dram"]["bytes_read"]
    tl = list(csv.DictReader((out / "timeline.csv").open()))
    busy = {}
    for r in tl:
        assert int(r["end_cycle"]) > int(r["start_cycle"]) >= 0
        if r["kind"] == "busy":
            busy[r["unit"]] = busy.get(r["unit"], 0) + int(r["end_cycle"]) - int(r["start_cycle"])
    for unit, b in busy.items():
        assert b == report["units"][unit]["busy_cycles"]


def test_json_file_embeds_the_resolved_config(tmp_path, capsys):
    path = tmp_path / "r.json"
    argv = ["run", "dense", str(TRACE), "--json", str(path), "-q", "--set", "topk.comparators=8"]
    assert main(argv) == 0
    report = json.loads(path.read_text())
    assert report["config"] == "dense"
    prov = report["provenance"]
    assert prov["sets"] == ["topk.comparators=8"]
    from spatten_sim.config import config_from_dict

    assert config_from_dict(prov["config"]).topk.comparators == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # nothing written beside it


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "nosuch", str(TRACE)], "no such file or shipped preset"),
        (["run", "spatten", "missing.npz"], "no such file"),
        (["run", "spatten", str(TRACE), "--set", "topk.comparators=0"], "topk.comparators"),
        (["run", "spatten", str(TRACE), "--set", "qxk.multipliers=24"], "qxk.multipliers"),
        (["run", "spatten", str(TRACE), "--set", "memory.nosuch=1"], "memory.nosuch"),
        (["run", "spatten", str(ROOT / "README.md")], "expected a trace"),
    ],
)
def test_user_errors_are_one_line_with_status_2(args, needle, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err
    assert err.count("\n") == 0 and "Traceback" not in err


def test_a_corrupt_trace_is_refused(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    assert main(["run", "spatten", str(bad)]) == 2
    assert "bad.npz" in capsys.readouterr().err


@pytest.mark.parametrize("name", [str(SMALL_CSV), "gpt2-small"])
def test_official_csv_replays(capsys, name):
    assert main(["run", "spatten", name, "--json", "-", "-q"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["input"]["kind"] == "official-csv"
    assert r["fidelity"] is None
    assert r["dram"]["bytes_by_stream"]["k_lsb"] > 0
    assert 0.05 < r["pruning"]["lsb_refetch_fraction"] < 0.1  # 7.0 % in the official trace


@pytest.mark.parametrize("launcher", ["script", "module"])
def test_the_installed_command_runs(launcher):
    exe = [shutil.which("spatten-sim") or "spatten-sim"]
    if launcher == "module":
        exe = [sys.executable, "-m", "spatten_sim.cli"]
    args = ["run", "spatten", str(TRACE), "--json", "-", "-q"]
    out = subprocess.run([*exe, *args], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["cycles"] > 0
    bad = subprocess.run([*exe, "run", "spatten", "nope.npz"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_building_the_parser_imports_no_heavy_module():
    """Every command (and --help) starts fast: no matplotlib, numba, simpy or numpy at parse."""
    code = (
        "import sys; from spatten_sim.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('matplotlib', 'numba', 'simpy', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_figure_formats_match_the_style():
    from spatten_sim.cli.plot import FIGURE_FORMATS
    from spatten_sim.plots.style import FORMATS

    assert FIGURE_FORMATS == FORMATS
