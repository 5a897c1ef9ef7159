"""One page a person reads (``spatten-sim report``): configuration, summary, figures.

HTML output is a single self-contained file (figures embedded as PNG data); Markdown output is a
``.md`` file with its PNGs in ``<name>_files/`` beside it.
"""

from __future__ import annotations

import base64
import html
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatten_sim.errors import SpattenError
from spatten_sim.files import atomic_write
from spatten_sim.plots import data as pdata


@dataclass(frozen=True)
class Section:
    title: str
    text: str = ""  #: preformatted text (monospace)
    table: tuple[tuple[str, ...], ...] = ()  #: first row = header
    figures: tuple[Path, ...] = ()
    note: str = ""  #: a paragraph of prose


@dataclass(frozen=True)
class Page:
    title: str
    subtitle: str
    sections: tuple[Section, ...]


# ---------------------------------------------------------------------------------------------
KEY_SETTINGS = (
    ("clock_ghz", "clock (GHz)"),
    ("qxk.multipliers", "QxK multipliers"),
    ("probxv.multipliers", "probxV multipliers"),
    ("topk.comparators", "top-k comparators per array"),
    ("buffers.key_sram_bytes", "K SRAM (bytes)"),
    ("buffers.value_sram_bytes", "V SRAM (bytes)"),
    ("memory.preset", "memory model"),
    ("memory.channels", "memory channels"),
    ("policy.token_pruning.enabled", "token pruning"),
    ("policy.token_pruning.end_keep_ratio", "token keep ratio at the last layer"),
    ("policy.head_pruning.enabled", "head pruning"),
    ("policy.head_pruning.end_keep_ratio", "head keep ratio at the last layer"),
    ("policy.local_v_pruning.keep_ratio", "local V keep ratio"),
    ("policy.quantization.k_msb_bits", "K MSB bits"),
    ("policy.quantization.k_lsb_bits", "K LSB bits"),
    ("policy.progressive_quantization.enabled", "progressive quantization"),
    ("policy.progressive_quantization.threshold", "re-fetch threshold (max prob)"),
)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return "" if v is None else str(v)


def run_page(run_dir: str | Path, fig_dir: Path) -> Page:
    from spatten_sim.plots import plot_run
    from spatten_sim.report import Report

    run = pdata.load_run_dir(run_dir)
    rep = run.report
    settings = [("setting", "value")]
    for key, label in KEY_SETTINGS:
        v = run.row.get(f"cfg.{key}")
        if v is not None:
            settings.append((label, _fmt(v)))
    cfg_text = ""
    cfg_file = Path(run_dir) / "config.yaml"
    if cfg_file.is_file():
        cfg_text = cfg_file.read_text()
    try:
        summary = Report(data=rep, layers=()).summary()
    except (KeyError, TypeError, ValueError) as exc:
        raise SpattenError(
            f"{run_dir}/report.json: not a report this version reads ({exc})"
        ) from None
    figs = plot_run(run_dir, fig_dir)
    return Page(
        title=f"SpAtten simulation: {rep.get('config')} on {run.trace}",
        subtitle=f"{rep['input']['model']} · {rep['cycles']:,} cycles · "
        f"{rep['energy_pj']['total'] / 1e6:,.3f} µJ · spatten-sim {rep.get('spatten_sim_version')}",
        sections=(
            Section("Configuration", table=tuple(settings)),
            Section("Summary", text=summary),
            Section("Figures", figures=tuple(figs)),
            Section("Resolved configuration (config.yaml)", text=cfg_text),
        ),
    )


def sweep_page(results: str | Path, fig_dir: Path) -> Page:
    from spatten_sim.plots import plot_sweep
    from spatten_sim.sweep.store import read_manifest

    sw = pdata.load_sweep(results)
    man = read_manifest(results)
    axes = list(sw.axes)
    head = ("trace", *(pdata.short_key(a, axes) for a in axes))
    head += ("latency (µs)", "energy (µJ)", "DRAM read (MB)", "fidelity error")
    rows: list[tuple[str, ...]] = [head]
    for r in sw.runs:
        vals = dict(r.values)
        rows.append(
            (
                r.trace,
                *(_fmt(vals.get(a)) for a in axes),
                *(
                    _fmt(pdata.metric(r.row, m))
                    for m in ("latency_us", "energy_uj", "dram_mb", "fidelity_error")
                ),
            )
        )
    fails: list[tuple[str, ...]] = [("point", "trace", "error")]
    fails += [(f["point_id"], f["trace"], f["error"] or "") for f in sw.failed]
    overview = [
        ("space", man.get("space", "")),
        ("base configuration", man.get("base", "")),
        ("fixed settings", ", ".join(f"{k}={v}" for k, v in man.get("sets", [])) or "none"),
        (
            "axes",
            ", ".join(
                " + ".join(g) + (" (zipped)" if len(g) > 1 else "")
                for g in man.get("axis_groups") or [[a] for a in axes]
            )
            or "none",
        ),
        ("constraints", "; ".join(man.get("constraints", [])) or "none"),
        ("traces", ", ".join(Path(p).name for p in man.get("inputs", []))),
        (
            "points",
            f"{sw.points} ({len(sw.runs)} ok, {len(sw.failed)} failed, "
            f"{sw.points - len(sw.runs) - len(sw.failed)} not run; "
            f"{man.get('excluded', 0)} excluded by constraints)",
        ),
    ]
    figs = plot_sweep(results, fig_dir) if sw.runs else []
    sections = [
        Section("Sweep", table=(("item", "value"), *overview)),
        Section("Results", table=tuple(rows)),
    ]
    if sw.failed:
        sections.append(Section("Failed points", table=tuple(fails)))
    sections.append(Section("Figures", figures=tuple(figs)))
    return Page(
        title=f"SpAtten design-space sweep: {sw.name}",
        subtitle=sw.description,
        sections=tuple(sections),
    )


# ---------------------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em;margin-bottom:0.2em} .sub{color:#666;margin-top:0}
h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:0.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:0.85em} td,th{border:1px solid #ddd;padding:2px 8px}
th{background:#f4f4f4} td{text-align:right} td:first-child{text-align:left}
pre{background:#f8f8f8;padding:0.8em;font-size:0.8em;overflow-x:auto}
img{max-width:100%;display:block;margin:0.8em 0}
"""


def to_html(page: Page) -> str:
    e = html.escape
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(page.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(page.title)}</h1><p class='sub'>{e(page.subtitle)}</p>",
    ]
    for s in page.sections:
        out.append(f"<h2>{e(s.title)}</h2>")
        if s.note:
            out.append(f"<p>{e(s.note)}</p>")
        if s.table:
            out.append("<table>")
            out.append("<tr>" + "".join(f"<th>{e(c)}</th>" for c in s.table[0]) + "</tr>")
            for row in s.table[1:]:
                out.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
            out.append("</table>")
        if s.text:
            out.append(f"<pre>{e(s.text)}</pre>")
        for f in s.figures:
            b64 = base64.b64encode(f.read_bytes()).decode()
            out.append(f"<img alt='{e(f.stem)}' src='data:image/png;base64,{b64}'>")
    out.append("</body></html>\n")
    return "\n".join(out)


def _md_cell(c: str) -> str:
    return c.replace("|", "\\|").replace("\n", " ")


def to_markdown(page: Page, fig_links: dict[Path, str]) -> str:
    out = [f"# {page.title}", "", f"_{page.subtitle}_" if page.subtitle else "", ""]
    for s in page.sections:
        out += [f"## {s.title}", ""]
        if s.note:
            out += [s.note, ""]
        if s.table:
            out.append("| " + " | ".join(_md_cell(c) for c in s.table[0]) + " |")
            out.append("|" + "---|" * len(s.table[0]))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in s.table[1:]]
            out.append("")
        if s.text:
            out += ["```", s.text.rstrip("\n"), "```", ""]
        for f in s.figures:
            out += [f"![{f.stem}]({fig_links[f]})", ""]
    return "\n".join(out)


def write_report(path: str | Path, out: str | Path) -> Path:
    """Write the report page of a run folder or a sweep folder to ``out`` (.html or .md)."""
    p, o = Path(path), Path(out)
    if o.suffix not in (".html", ".md"):
        raise SpattenError(f"-o {o}: expected a .html or .md file name")
    builder: Callable[[Path, Path], Page]
    if pdata.is_sweep_dir(p):
        builder = sweep_page
    elif pdata.is_run_dir(p):
        builder = run_page
    else:
        raise SpattenError(
            f"{p}: neither a run folder (report.json) nor a sweep results folder (results.csv)"
        )
    o.parent.mkdir(parents=True, exist_ok=True)
    if o.suffix == ".html":
        with tempfile.TemporaryDirectory() as tmp:
            page = builder(p, Path(tmp))
            text = to_html(page)
    else:
        fig_dir = o.with_name(f"{o.stem}_files")
        page = builder(p, fig_dir)
        text = to_markdown(
            page, {f: f"{fig_dir.name}/{f.name}" for s in page.sections for f in s.figures}
        )
    return atomic_write(o, text)
