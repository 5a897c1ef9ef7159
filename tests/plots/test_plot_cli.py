"""`spatten-sim plot` and `spatten-sim report` on a sweep folder and a run folder."""

from __future__ import annotations

import re

import pytest
from matplotlib.image import imread

from spatten_sim.cli import main


def test_plot_sweep_writes_every_standard_figure(sweep_dir, tmp_path, capsys):
    assert main(["plot", str(sweep_dir), "-o", str(tmp_path / "p")]) == 0
    names = sorted(p.name for p in (tmp_path / "p").glob("*.png"))
    assert names == sorted(
        [
            "vs_policy.token_pruning.end_keep_ratio.png",
            "vs_memory.channels.png",
            "vs_buffers.key_sram_bytes.png",  # the zipped pair, against its first key
            "pareto.png",  # the keep ratio changes the fidelity
            "dram_by_stream.png",
            "energy_by_unit.png",
            "per_layer_kept.png",
            "roofline.png",
        ]
    )
    printed = capsys.readouterr().out.split()
    assert len(printed) == len(names)
    img = imread(tmp_path / "p" / "roofline.png")
    assert img.shape[0] > 300 and img.shape[1] > 500


def test_plot_options(sweep_dir, tmp_path):
    out = tmp_path / "q"
    assert (
        main(
            [
                "plot",
                str(sweep_dir),
                "-o",
                str(out),
                "--x",
                "memory.channels",
                "--metric",
                "dram_mb",
                "--metric",
                "units.qxk.utilization",
                "--prefix",
                "s_",
            ]
        )
        == 0
    )
    assert (out / "s_vs_memory.channels.png").is_file()
    assert not (out / "s_vs_policy.token_pruning.end_keep_ratio.png").exists()


def test_plot_run_with_timeline(run_dir, tmp_path):
    assert main(["plot", str(run_dir), "-o", str(tmp_path / "r"), "--window", "0:5000"]) == 0
    names = sorted(p.name for p in (tmp_path / "r").glob("*.png"))
    assert names == [
        "dram_by_stream.png", "energy_by_unit.png", "per_layer_kept.png", "roofline.png",
        "timeline.png",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeline"], "--timeline needs a run folder"),
        (["--x", "topk.nope"], "--x topk.nope: not a configuration key"),
        (["--metric", "nope"], "--metric nope: no run has this figure"),
    ],
)
def test_plot_errors_are_one_line(sweep_dir, tmp_path, capsys, args, message):
    assert main(["plot", str(sweep_dir), "-o", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_plot_refuses_other_folders(tmp_path, capsys):
    assert main(["plot", str(tmp_path), "-o", str(tmp_path / "o")]) == 2
    assert "neither a sweep results folder" in capsys.readouterr().err
    assert main(["plot", str(tmp_path), "-o", str(tmp_path / "o"), "--window", "9:3"]) == 2


def test_report_html_of_a_run(run_dir, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", str(run_dir), "-o", str(out)]) == 0
    text = out.read_text()
    assert text.count("<img ") == 5  # four figures and the timeline, embedded
    assert "top-k comparators per array" in text and "<td>16</td>" in text
    assert "DRAM read" in text and "cycles" in text  # the summary
    assert "<h2>Resolved configuration (config.yaml)</h2>" in text
    assert re.search(r"data:image/png;base64,[A-Za-z0-9+/]{100}", text)


def test_report_markdown_of_a_sweep(sweep_dir, tmp_path):
    out = tmp_path / "sweep.md"
    assert main(["report", str(sweep_dir), "-o", str(out)]) == 0
    text = out.read_text()
    links = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert len(links) == 8
    assert all((tmp_path / link).is_file() for link in links)
    table = [ln for ln in text.splitlines() if ln.startswith("| minilm-sst-25.npz")]
    assert len(table) == 4  # one row per point
    assert "| points | 4 (4 ok, 0 failed, 0 not run; 0 excluded by constraints) |" in text


def test_report_refuses_other_suffixes(run_dir, tmp_path, capsys):
    assert main(["report", str(run_dir), "-o", str(tmp_path / "r.pdf")]) == 2
    assert "expected a .html or .md file name" in capsys.readouterr().err
