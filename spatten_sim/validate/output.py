"""The validation table as text, CSV, JSON and Markdown.

JSON is a list of rows with the keys ``quantity, unit, paper, ours, ratio, tolerance, verdict,
note`` (plus ``key`` and ``group``); CSV has the same columns in the same order.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

from spatten_sim.validate.rows import RowResult
from spatten_sim.validate.runner import Validation

COLUMNS = ("quantity", "unit", "paper", "ours", "ratio", "tolerance", "verdict", "note")
EXTRA_COLUMNS = ("key", "group")


def fmt(value: float | None) -> str:
    """A number with 3 significant digits (``-`` for none)."""
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _short_tol(r: RowResult) -> str:
    return r.tolerance.split(" (", 1)[0]


def summary_line(v: Validation) -> str:
    c = Counter(r.verdict for r in v.rows)
    return (
        f"{len(v.rows)} rows: {c['pass']} pass, {c['fail']} fail, {c['info']} info "
        f"({v.mode} run, {v.wall_seconds:.0f} s)"
    )


def table_text(v: Validation) -> str:
    """The printed table: quantity, paper, ours, ratio, tolerance, verdict (grouped)."""
    head = ("quantity", "unit", "paper", "ours", "ratio", "tolerance", "verdict")
    body = [
        (r.quantity, r.unit, fmt(r.paper), fmt(r.ours), fmt(r.ratio), _short_tol(r), r.verdict)
        for r in v.rows
    ]
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)
    ]
    right = {2, 3, 4}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    out = [line(head), line(tuple("-" * w for w in widths))]
    group = None
    for r, b in zip(v.rows, body, strict=True):
        if r.group != group:
            group = r.group
            out.append(f"[{group}]")
        out.append(line(b))
    out.append("")
    out.append(summary_line(v))
    return "\n".join(out)


def rows_json(v: Validation) -> str:
    return json.dumps([r.to_dict() for r in v.rows], indent=2)


def rows_csv(v: Validation) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS + EXTRA_COLUMNS)
    for r in v.rows:
        d = r.to_dict()
        w.writerow(["" if d[c] is None else d[c] for c in COLUMNS + EXTRA_COLUMNS])
    return buf.getvalue()


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def rows_markdown(v: Validation) -> str:
    """The table as Markdown (docs/validation.md embeds it)."""
    out = [
        "| group | quantity | unit | paper | ours | ratio | tolerance | verdict | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in v.rows:
        cells = (
            r.group,
            r.quantity,
            r.unit,
            fmt(r.paper),
            fmt(r.ours),
            fmt(r.ratio),
            _short_tol(r),
            f"**{r.verdict}**" if r.verdict == "fail" else r.verdict,
            r.note,
        )
        out.append("| " + " | ".join(_md(c) for c in cells) + " |")
    out.append("")
    out.append(summary_line(v))
    return "\n".join(out) + "\n"


def doc_markers(mode: str) -> tuple[str, str]:
    """The comment lines that delimit the ``mode`` table in docs/validation.md."""
    return f"<!-- validate:{mode}:begin -->", f"<!-- validate:{mode}:end -->"


def embed_markdown(doc: str, v: Validation) -> str:
    """``doc`` with the table between the markers of ``v.mode`` replaced by ``v``'s table.

    Raises ValueError when the markers are missing.
    """
    begin, end = doc_markers(v.mode)
    i, j = doc.find(begin), doc.find(end)
    if i < 0 or j < i:
        raise ValueError(f"markers {begin} ... {end} not found")
    return doc[: i + len(begin)] + "\n" + rows_markdown(v) + doc[j:]


def parse_markdown_rows(doc: str, mode: str) -> list[dict[str, str]]:
    """The rows of the ``mode`` table embedded in ``doc`` (cells by column name)."""
    begin, end = doc_markers(mode)
    i, j = doc.find(begin), doc.find(end)
    if i < 0 or j < i:
        return []
    lines = [ln for ln in doc[i + len(begin) : j].splitlines() if ln.startswith("| ")]
    if not lines:
        return []
    head = [c.strip() for c in lines[0].strip("|").split(" | ")]
    rows = []
    for ln in lines[1:]:
        cells = [c.strip() for c in ln.strip().strip("|").split(" | ")]
        rows.append(dict(zip(head, cells, strict=False)))
    return rows
