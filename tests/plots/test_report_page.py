"""`spatten-sim report`: the summary as tables, per-unit and per-layer tables, the figures inline,
links to the files, relative paths only, and the three figure formats."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from spatten_sim.cli import main


def _links(text: str) -> list[str]:
    return re.findall(r"href='([^']*)'", text)


def _assert_relative(links: list[str], page: Path) -> None:
    assert links
    for link in links:
        assert not link.startswith("/") and "://" not in link and not link.startswith("file:"), link
        assert (page.parent / link).is_file(), link


def test_run_page_has_tables_not_a_pre_summary(run_dir: Path, tmp_path: Path) -> None:
    page = tmp_path / "sub" / "run.html"
    assert main(["report", str(run_dir), "-o", str(page)]) == 0
    text = page.read_text()
    captions = re.findall(r"<caption>([^<]*)</caption>", text)
    assert captions == [
        "The run",
        "Results",
        "DRAM traffic by stream",
        "Units: busy and stalled cycles",
        "Energy by unit",
        "Per layer (layers.csv)",
    ]
    assert text.count("<table>") == 7  # + the key settings
    assert text.count("<pre>") == 1  # only the resolved configuration (YAML)
    assert "<h2>Summary</h2>\n<table>" in text
    # the DRAM and compute bounds, with units
    assert "<td>DRAM bound (bytes / peak bandwidth)</td>" in text
    assert "<td>compute bound (executed ops / peak rate)</td>" in text
    # one row per unit of the report, one per layer job
    units = re.search(r"<caption>Units: busy and stalled cycles</caption>(.*?)</table>", text, re.S)
    n_units = len(json.loads((run_dir / "report.json").read_text())["units"])
    assert units is not None and units.group(1).count("<tr>") == 1 + n_units
    layers = re.search(r"<caption>Per layer \(layers.csv\)</caption>(.*?)</table>", text, re.S)
    assert layers is not None and layers.group(1).count("<tr>") == 1 + 6  # MiniLM: 6 layers
    # figures inline, only data URIs as sources; links to the CSVs, relative to the page
    srcs = re.findall(r"src='([^']*)'", text)
    assert len(srcs) == 5 and all(s.startswith("data:image/png;base64,") for s in srcs)
    links = _links(text)
    assert {Path(x).name for x in links} >= {"layers.csv", "timeline.csv", "report.json"}
    _assert_relative(links, page)


def test_sweep_page_links_the_results(sweep_dir: Path, tmp_path: Path) -> None:
    page = tmp_path / "sweep.html"
    assert main(["report", str(sweep_dir), "-o", str(page)]) == 0
    text = page.read_text()
    assert text.count("<table>") >= 2
    assert "<th>latency (µs)</th>" in text and "<th>HBM2 channels</th>" in text
    links = _links(text)
    assert {Path(x).name for x in links} >= {"results.csv", "manifest.json"}
    _assert_relative(links, page)


def test_svg_report_embeds_svg(run_dir: Path, tmp_path: Path) -> None:
    page = tmp_path / "run.html"
    assert main(["report", str(run_dir), "-o", str(page), "--format", "svg"]) == 0
    srcs = re.findall(r"src='([^']*)'", page.read_text())
    assert len(srcs) == 5 and all(s.startswith("data:image/svg+xml;base64,") for s in srcs)


@pytest.mark.parametrize("suffix", [".html", ".md"])
def test_pdf_report_shows_pngs_and_links_the_pdfs(
    run_dir: Path, tmp_path: Path, suffix: str
) -> None:
    page = tmp_path / f"run{suffix}"
    assert main(["report", str(run_dir), "-o", str(page), "--format", "pdf"]) == 0
    text = page.read_text()
    if suffix == ".html":
        links = _links(text)
        assert len(re.findall(r"src='data:image/png;base64,", text)) == 5
    else:
        links = [x for x in re.findall(r"\]\(([^)]+)\)", text)]
        assert len([x for x in links if x.endswith(".png")]) == 5
    pdfs = [x for x in links if x.endswith(".pdf")]
    assert len(pdfs) == 5
    _assert_relative(links, page)
    for x in pdfs:
        assert (page.parent / x).read_bytes().startswith(b"%PDF")
