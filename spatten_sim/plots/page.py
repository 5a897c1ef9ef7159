"""One page a person reads (``spatten-sim report``): configuration, summary, figures, files.

* **Run folder**: the key settings, the summary as tables (the run, its results with units and
  its DRAM and compute bounds, DRAM traffic by stream, each unit's busy and stall cycles, energy
  by unit), a per-layer table (``layers.csv``; a decoder's generation iterations summed per
  layer), the figures, links to the folder's files and the resolved configuration.
* **Sweep folder**: the space, a table of every point (latency, energy, DRAM traffic, fidelity),
  the failed points, the figures and links to ``results.csv`` and the other files.

HTML output is a single file with the figures inline (PNG or SVG data; ``fmt="pdf"`` embeds PNGs
and writes the PDFs into ``<name>_files/`` beside it, linked); Markdown output is a ``.md``
file with its figures in ``<name>_files/`` beside it. Every link is relative to the page.
A figure without data is not drawn; the page says so.
"""

from __future__ import annotations

import base64
import html
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatten_sim.errors import SpattenError
from spatten_sim.files import atomic_write
from spatten_sim.plots import data as pdata
from spatten_sim.plots import style

Rows = tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Table:
    """A table: ``rows[0]`` is the header."""

    rows: Rows
    caption: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    text: str = ""  #: preformatted text (monospace)
    table: Rows = ()  #: first row = header
    figures: tuple[Path, ...] = ()
    note: str = ""  #: a paragraph of prose
    tables: tuple[Table, ...] = ()  #: more tables, each with a caption
    links: tuple[tuple[str, str], ...] = ()  #: (text, relative href)


@dataclass(frozen=True)
class Page:
    title: str
    subtitle: str
    sections: tuple[Section, ...]


# ---------------------------------------------------------------------------------------------
KEY_SETTINGS = (
    "clock_ghz",
    "qxk.multipliers",
    "probxv.multipliers",
    "topk.comparators",
    "buffers.key_sram_bytes",
    "buffers.value_sram_bytes",
    "memory.preset",
    "memory.channels",
    "fetcher.max_in_flight_requests",
    "softmax.impl",
    "timing.layer_barrier",
    "policy.token_pruning.enabled",
    "policy.token_pruning.end_keep_ratio",
    "policy.head_pruning.enabled",
    "policy.head_pruning.end_keep_ratio",
    "policy.local_v_pruning.enabled",
    "policy.local_v_pruning.keep_ratio",
    "policy.quantization.k_msb_bits",
    "policy.quantization.k_lsb_bits",
    "policy.progressive_quantization.enabled",
    "policy.progressive_quantization.threshold",
)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return "" if v is None else str(v)


def _setting(key: str, v: Any) -> tuple[str, str]:
    """(label, value) of a configuration key, the value in the label's unit."""
    q = style.quantity(key)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and q.scale != 1.0:
        return q.label, q.tick(v)
    return q.label, _fmt(v)


def _rel(target: Path, page_dir: Path) -> str:
    """``target`` relative to the page's folder, with forward slashes."""
    return Path(os.path.relpath(target.resolve(), page_dir.resolve())).as_posix()


def _file_links(folder: Path, names: Sequence[str], page_dir: Path) -> tuple[tuple[str, str], ...]:
    return tuple((n, _rel(folder / n, page_dir)) for n in names if (folder / n).is_file())


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}" if whole else "-"


def summary_tables(run: pdata.Run) -> tuple[Table, ...]:
    """The run's summary as tables: the run, the results (with the bounds), DRAM by stream,
    units, energy by unit."""
    from spatten_sim.plots.figures import latency_bounds_us

    d = run.report
    dr, en, th, pr, pw = d["dram"], d["energy_pj"], d["throughput"], d["pruning"], d["power_mw"]
    inp = d["input"]
    about = (
        ("item", "value"),
        ("configuration", str(d.get("config", ""))),
        ("input", f"{Path(inp.get('path', '?')).name} ({inp.get('kind', '?')})"),
        ("model", str(inp.get("model", ""))),
        (
            "shape",
            f"{inp.get('n_layers')} layers, {inp.get('n_heads')} heads "
            f"({inp.get('n_kv_heads')} K/V), head size {inp.get('head_dim')}, "
            f"{inp.get('prompt_tokens')} prompt + {inp.get('generated_tokens')} generated tokens",
        ),
        ("memory model", str(d.get("memory_model", ""))),
    )
    us = d["seconds"] * 1e6
    dram_us, comp_us = latency_bounds_us(run)
    res: list[tuple[str, str, str]] = [
        ("quantity", "value", "unit"),
        ("latency", f"{d['cycles']:,}", "cycles"),
        ("latency", f"{us:,.2f}", "µs"),
    ]
    if dram_us:
        res.append(("DRAM bound (bytes / peak bandwidth)", f"{dram_us:,.2f}", "µs"))
        res.append(("latency / DRAM bound", f"{us / dram_us:,.2f}", "x"))
    if comp_us:
        res.append(("compute bound (executed ops / peak rate)", f"{comp_us:,.2f}", "µs"))
        res.append(("latency / compute bound", f"{us / comp_us:,.2f}", "x"))
    res += [
        ("DRAM read", f"{dr['bytes_read'] / 1e6:,.3f}", "MB"),
        ("DRAM bandwidth, average", f"{dr['bandwidth_gbps']:,.1f}", "GB/s"),
        ("DRAM bandwidth, peak", f"{dr['peak_bandwidth_gbps']:,.1f}", "GB/s"),
        ("DRAM latency, mean", f"{dr.get('avg_latency_ns', 0):,.1f}", "ns"),
        (
            "DRAM row hits / misses / conflicts",
            f"{dr.get('row_hits', 0):,} / {dr.get('row_misses', 0):,} / "
            f"{dr.get('row_conflicts', 0):,}",
            "count",
        ),
        ("energy", f"{en['total'] / 1e6:,.3f}", "µJ"),
    ]
    for cat in ("dram", "sram", "compute", "leakage"):
        if cat in en:
            res.append((f"  {style.unit_name(cat)} energy", f"{en[cat] / 1e6:,.3f}", "µJ"))
    res += [
        ("average power", f"{pw['total']:,.0f}", "mW"),
        ("throughput, dense-equivalent", f"{th['gops_effective']:,.1f}", "GOP/s"),
        ("throughput, executed", f"{th['gops_actual']:,.1f}", "GOP/s"),
        ("energy efficiency, dense-equivalent", f"{th['gops_per_joule_effective']:,.1f}", "GOP/J"),
        ("tokens kept (mean over layer jobs)", f"{pr['tokens_kept_fraction'] * 100:.1f}", "%"),
        ("heads kept (mean over layer jobs)", f"{pr['heads_kept_fraction'] * 100:.1f}", "%"),
        ("V rows kept per query, all queries", f"{pr['v_kept_fraction'] * 100:.1f}", "%"),
        ("queries re-fetching LSBs, all queries", f"{pr['lsb_refetch_fraction'] * 100:.2f}", "%"),
    ]
    for stage in ("summarization", "generation"):  # per stage, where the stage ran
        st = pr.get(stage) or {}
        if st.get("v_kept_fraction") is not None:
            res.append((f"  V rows kept, {stage}", f"{st['v_kept_fraction'] * 100:.1f}", "%"))
        if st.get("lsb_refetch_fraction") is not None:
            res.append(
                (f"  LSB re-fetches, {stage}", f"{st['lsb_refetch_fraction'] * 100:.2f}", "%")
            )
    fid = d.get("fidelity")
    if fid:
        res.append(("fidelity error, mean", f"{fid['output_rel_error_mean']:.4f}", "relative"))
        res.append(("fidelity error, max", f"{fid['output_rel_error_max']:.4f}", "relative"))
    total_b = dr["bytes_read"]
    streams: list[tuple[str, ...]] = [("stream", "read (MB)", "share (%)")]
    streams += [
        (style.unit_name(s), f"{b / 1e6:,.3f}", _pct(b, total_b))
        for s, b in dr["bytes_by_stream"].items()
        if b
    ]
    units: list[tuple[str, ...]] = [
        ("unit", "busy (cycles)", "stalled (cycles)", "utilization (% of cycles)")
    ]
    units += [
        (
            style.unit_name(n),
            f"{u['busy_cycles']:,}",
            f"{u['stall_cycles']:,}",
            f"{u['utilization'] * 100:.1f}",
        )
        for n, u in d["units"].items()
    ]
    by_unit = en["by_unit"]
    total_e = sum(by_unit.values())
    energy: list[tuple[str, ...]] = [("unit", "energy (µJ)", "share (%)")]
    energy += [
        (style.unit_name(n), f"{e / 1e6:,.3f}", _pct(e, total_e))
        for n, e in sorted(by_unit.items(), key=lambda kv: -kv[1])
    ]
    return (
        Table(about, "The run"),
        Table(tuple(res), "Results"),
        Table(tuple(streams), "DRAM traffic by stream"),
        Table(tuple(units), "Units: busy and stalled cycles"),
        Table(tuple(energy), "Energy by unit"),
    )


def layer_table(run_dir: str | Path) -> Table | None:
    """``layers.csv`` as a table: one row per layer job of the summarization, and per layer the
    sum over a decoder's generation iterations (tokens and heads: their mean)."""
    from spatten_sim.plots.inside import load_layer_rows

    rows = load_layer_rows(run_dir)
    if not rows:
        return None
    head = ("stage", "layer", "tokens kept / total", "heads kept", "queries", "LSB re-fetches",
            "cycles", "DRAM read (KB)")  # fmt: skip
    out: list[tuple[str, ...]] = [head]

    def num(r: dict[str, Any], k: str) -> float:
        try:
            return float(r.get(k, 0) or 0)
        except (TypeError, ValueError):
            return 0.0

    gen: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        if r["stage"] == "generation":
            gen.setdefault(int(r["layer"]), []).append(r)
            continue
        out.append(
            (
                str(r["stage"]),
                str(r["layer"]),
                f"{num(r, 'tokens_kept'):.0f} / {num(r, 'tokens_total'):.0f}",
                f"{num(r, 'heads_kept'):.0f}",
                f"{num(r, 'queries'):,.0f}",
                f"{num(r, 'requant_queries'):,.0f}",
                f"{int(r['end_cycle']) - int(r['start_cycle']):,}",
                f"{num(r, 'dram_bytes') / 1e3:,.1f}",
            )
        )
    for layer, rs in sorted(gen.items()):
        n = len(rs)
        out.append(
            (
                f"generation ({n} iterations: sum; tokens, heads: mean)",
                str(layer),
                f"{sum(num(r, 'tokens_kept') for r in rs) / n:.1f} / "
                f"{sum(num(r, 'tokens_total') for r in rs) / n:.1f}",
                f"{sum(num(r, 'heads_kept') for r in rs) / n:.1f}",
                f"{sum(num(r, 'queries') for r in rs):,.0f}",
                f"{sum(num(r, 'requant_queries') for r in rs):,.0f}",
                f"{sum(int(r['end_cycle']) - int(r['start_cycle']) for r in rs):,}",
                f"{sum(num(r, 'dram_bytes') for r in rs) / 1e3:,.1f}",
            )
        )
    return Table(tuple(out), "Per layer (layers.csv)")


RUN_FILES = ("report.json", "config.yaml", "layers.csv", "timeline.csv", "timeline.json",
             "pruning.npz")  # fmt: skip
SWEEP_FILES = ("results.csv", "results.parquet", "manifest.json", "space.yaml")


def _figures_section(figs: Sequence[Path], skipped: Sequence[str]) -> Section:
    note = ""
    if skipped:
        note = "Not drawn (no data): " + "; ".join(s.removeprefix("skipped ") for s in skipped)
    return Section("Figures", figures=tuple(figs), note=note)


def run_page(
    run_dir: str | Path, fig_dir: Path, fmt: str = "png", page_dir: Path | None = None
) -> Page:
    """The page of a run folder, its figures drawn into ``fig_dir`` in ``fmt``; links are
    relative to ``page_dir`` (default: the current folder)."""
    from spatten_sim.plots import plot_run

    page_dir = page_dir or Path.cwd()
    run = pdata.load_run_dir(run_dir)
    rep = run.report
    settings: list[tuple[str, ...]] = [("setting", "value")]
    for key in KEY_SETTINGS:
        v = run.row.get(f"cfg.{key}")
        if v is not None:
            settings.append(_setting(key, v))
    cfg_text = ""
    cfg_file = Path(run_dir) / "config.yaml"
    if cfg_file.is_file():
        cfg_text = cfg_file.read_text(encoding="utf-8", errors="replace")
    try:
        tables = summary_tables(run)
    except (KeyError, TypeError, ValueError) as exc:
        raise SpattenError(
            f"{run_dir}/report.json: not a report this version reads ({exc})"
        ) from None
    layers = layer_table(run_dir)
    skipped: list[str] = []
    figs = plot_run(run_dir, fig_dir, fmt=fmt, say=skipped.append)
    sections = [
        Section("Configuration", table=tuple(settings)),
        Section("Summary", tables=tables),
    ]
    if layers is not None:
        sections.append(Section("Per layer", tables=(layers,)))
    sections += [
        _figures_section(figs, skipped),
        Section("Files", links=_file_links(Path(run_dir), RUN_FILES, page_dir)),
        Section("Resolved configuration (config.yaml)", text=cfg_text),
    ]
    return Page(
        title=f"SpAtten simulation: {rep.get('config')} on {run.trace}",
        subtitle=f"{rep['input']['model']} · {rep['cycles']:,} cycles · "
        f"{rep['energy_pj']['total'] / 1e6:,.3f} µJ · spatten-sim {rep.get('spatten_sim_version')}",
        sections=tuple(sections),
    )


def sweep_page(
    results: str | Path, fig_dir: Path, fmt: str = "png", page_dir: Path | None = None
) -> Page:
    """The page of a sweep results folder (see :func:`run_page` for the arguments)."""
    from spatten_sim.plots import plot_sweep
    from spatten_sim.sweep.store import read_manifest

    page_dir = page_dir or Path.cwd()
    sw = pdata.load_sweep(results)
    man = read_manifest(results)
    axes = list(sw.axes)
    metrics = ("latency_us", "energy_uj", "dram_mb", "fidelity_error")
    head = ("trace", *(style.label(a) for a in axes), *(style.label(m) for m in metrics))
    rows: list[tuple[str, ...]] = [head]
    for r in sw.runs:
        vals = dict(r.values)
        rows.append(
            (
                r.trace,
                *(_setting(a, vals.get(a))[1] for a in axes),
                *(_fmt(pdata.metric(r.row, m)) for m in metrics),
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
    skipped: list[str] = []
    figs = plot_sweep(results, fig_dir, fmt=fmt, say=skipped.append) if sw.runs else []
    sections = [
        Section("Sweep", table=(("item", "value"), *overview)),
        Section("Results", table=tuple(rows)),
    ]
    if sw.failed:
        sections.append(Section("Failed points", table=tuple(fails)))
    sections.append(_figures_section(figs, skipped))
    sections.append(Section("Files", links=_file_links(Path(results), SWEEP_FILES, page_dir)))
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
table{border-collapse:collapse;font-size:0.85em;margin:0.6em 0 1.2em}
td,th{border:1px solid #ddd;padding:2px 8px} caption{text-align:left;font-weight:600;padding:4px 0}
th{background:#f4f4f4} td{text-align:right} td:first-child{text-align:left}
pre{background:#f8f8f8;padding:0.8em;font-size:0.8em;overflow-x:auto}
img{max-width:100%;display:block;margin:0.8em 0}
"""
_MIME = {".png": "image/png", ".svg": "image/svg+xml"}


def _html_table(rows: Rows, caption: str = "") -> list[str]:
    e = html.escape
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{e(caption)}</caption>")
    out.append("<tr>" + "".join(f"<th>{e(c)}</th>" for c in rows[0]) + "</tr>")
    for row in rows[1:]:
        out.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return out


def to_html(page: Page) -> str:
    """The page as one HTML file: figures inline as data (PNG or SVG), links relative."""
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
            out += _html_table(s.table)
        for t in s.tables:
            out += _html_table(t.rows, t.caption)
        if s.text:
            out.append(f"<pre>{e(s.text)}</pre>")
        for f in s.figures:
            mime = _MIME.get(f.suffix)
            if mime is None:
                raise SpattenError(f"{f.name}: a browser cannot show this format inline")
            b64 = base64.b64encode(f.read_bytes()).decode()
            out.append(f"<img alt='{e(f.stem)}' src='data:{mime};base64,{b64}'>")
        if s.links:
            out.append("<ul>")
            out += [f"<li><a href='{e(h)}'>{e(t)}</a></li>" for t, h in s.links]
            out.append("</ul>")
    out.append("</body></html>\n")
    return "\n".join(out)


def _md_cell(c: str) -> str:
    return c.replace("|", "\\|").replace("\n", " ")


def _md_table(rows: Rows, caption: str = "") -> list[str]:
    out = [f"**{caption}**", ""] if caption else []
    out.append("| " + " | ".join(_md_cell(c) for c in rows[0]) + " |")
    out.append("|" + "---|" * len(rows[0]))
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows[1:]]
    out.append("")
    return out


def to_markdown(page: Page, fig_links: dict[Path, str]) -> str:
    """The page as Markdown; ``fig_links``: each figure's relative link."""
    out = [f"# {page.title}", "", f"_{page.subtitle}_" if page.subtitle else "", ""]
    for s in page.sections:
        out += [f"## {s.title}", ""]
        if s.note:
            out += [s.note, ""]
        if s.table:
            out += _md_table(s.table)
        for t in s.tables:
            out += _md_table(t.rows, t.caption)
        if s.text:
            out += ["```", s.text.rstrip("\n"), "```", ""]
        for f in s.figures:
            out += [f"![{f.stem}]({fig_links[f]})", ""]
        if s.links:
            out += [f"- [{t}]({h})" for t, h in s.links]
            out.append("")
    return "\n".join(out)


def _with_pdfs(page: Page, pdfs: Sequence[Path], page_dir: Path) -> Page:
    """``page`` with links to the PDF figures in its Figures section."""
    links = tuple((f"{p.name} (PDF)", _rel(p, page_dir)) for p in pdfs)
    secs = tuple(
        Section(s.title, s.text, s.table, s.figures, s.note, s.tables, s.links + links)
        if s.title == "Figures"
        else s
        for s in page.sections
    )
    return Page(page.title, page.subtitle, secs)


def write_report(path: str | Path, out: str | Path, fmt: str = "png") -> Path:
    """Write the report page of a run folder or a sweep folder to ``out`` (.html or .md), its
    figures in ``fmt`` (png, svg: shown in the page; pdf: PNGs shown, the PDFs written into
    ``<name>_files/`` beside the page and linked)."""
    from spatten_sim.plots import plot_path

    p, o = Path(path), Path(out)
    if o.suffix not in (".html", ".md"):
        raise SpattenError(f"-o {o}: expected a .html or .md file name")
    if fmt not in style.FORMATS:
        raise SpattenError(f"--format {fmt}: expected one of {', '.join(style.FORMATS)}")
    builder: Callable[[Path, Path, str, Path], Page]
    if pdata.is_sweep_dir(p):
        builder = sweep_page
    elif pdata.is_run_dir(p):
        builder = run_page
    else:
        raise SpattenError(
            f"{p}: neither a run folder (report.json) nor a sweep results folder (results.csv)"
        )
    shown = fmt if fmt in style.BROWSER_FORMATS else "png"
    page_dir = o.parent
    files = o.with_name(f"{o.stem}_files")
    # folders are created when there is something to write (a failed page leaves none)
    if o.suffix == ".html":
        with tempfile.TemporaryDirectory() as tmp:
            page = builder(p, Path(tmp), shown, page_dir)
            if fmt == "pdf":
                page = _with_pdfs(page, plot_path(p, files, fmt="pdf", say=None), page_dir)
            text = to_html(page)
    else:
        page = builder(p, files, shown, page_dir)
        if fmt == "pdf":
            page = _with_pdfs(page, plot_path(p, files, fmt="pdf", say=None), page_dir)
        text = to_markdown(
            page, {f: f"{files.name}/{f.name}" for s in page.sections for f in s.figures}
        )
    return atomic_write(o, text)
