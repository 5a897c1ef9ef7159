"""The table, CSV, JSON and Markdown formats, and the verdict logic."""

from __future__ import annotations

import csv
import io
import json

import pytest

from spatten_sim.validate import output
from spatten_sim.validate.measures import Measured
from spatten_sim.validate.rows import RowSpec, Tolerance, all_rows, judge
from spatten_sim.validate.runner import (
    PAPER_CUMULATIVE,
    PAPER_POWER_W,
    BreakdownData,
    PowerData,
    SweepData,
    Validation,
)

TOL = Tolerance(0.8, 1.25, "a reason")


def _spec(paper: float | None, tol: Tolerance | None = TOL) -> RowSpec:
    return RowSpec("k.x", "grp", "a quantity", "ms", paper, lambda ctx: Measured(1.0), tol)


def test_judge_pass_fail_info() -> None:
    assert judge(_spec(2.0), Measured(2.2)).verdict == "pass"
    r = judge(_spec(2.0), Measured(3.0, "why"))
    assert (r.verdict, r.ratio, r.note) == ("fail", 1.5, "why")
    assert judge(_spec(2.0), Measured(1.5)).verdict == "fail"  # ratio 0.75 < 0.8
    assert judge(_spec(2.0), Measured(None, "missing")).verdict == "info"
    assert judge(_spec(2.0, None), Measured(2.0)).verdict == "info"
    assert judge(_spec(None), Measured(2.0)).verdict == "info"


def test_tolerance_bounds_inclusive_and_open() -> None:
    assert TOL.holds(0.8) and TOL.holds(1.25) and not TOL.holds(1.2501)
    lower = Tolerance(1.0, None, "bound")
    assert lower.holds(1e9) and not lower.holds(0.999)
    assert lower.text() == "ratio >= 1"
    assert TOL.text() == "ratio 0.8-1.25"


def test_rows_are_well_formed() -> None:
    rows = all_rows()
    keys = [r.key for r in rows]
    assert len(keys) == len(set(keys))
    for r in rows:
        assert r.quantity and r.unit and r.group
        if r.tolerance is not None:
            assert r.paper, r.key  # a judged row needs a paper value
            assert len(r.tolerance.why) > 10, r.key
            assert r.tolerance.lo is not None or r.tolerance.hi is not None


def _validation() -> Validation:
    rows = (
        judge(_spec(2.13), Measured(2.0, "note, with comma")),
        judge(RowSpec("b.y", "grp2", "other | thing", "x", 1.1, None, TOL), Measured(5.0)),  # type: ignore[arg-type]
        judge(_spec(22.1, None), Measured(None, "not modelled")),
    )
    return Validation(
        mode="quick",
        rows=rows,
        breakdown=BreakdownData(("a", "b", "c", "d", "e"), PAPER_CUMULATIVE, None, None),
        sweep=SweepData((1, 2), None, 16),
        power=PowerData(("logic", "SRAM", "DRAM"), PAPER_POWER_W, ()),
        wall_seconds=1.0,
    )


def test_json_rows_have_the_keys() -> None:
    data = json.loads(output.rows_json(_validation()))
    assert isinstance(data, list) and len(data) == 3
    for d in data:
        assert set(output.COLUMNS) <= set(d)
    assert data[0]["paper"] == 2.13 and data[0]["ours"] == 2.0
    assert data[0]["ratio"] == pytest.approx(2.0 / 2.13)
    assert [d["verdict"] for d in data] == ["pass", "fail", "info"]
    assert data[2]["ours"] is None and data[2]["ratio"] is None


def test_csv_matches_json() -> None:
    v = _validation()
    rows = list(csv.DictReader(io.StringIO(output.rows_csv(v))))
    assert list(rows[0])[: len(output.COLUMNS)] == list(output.COLUMNS)
    assert rows[0]["note"] == "note, with comma"
    assert float(rows[0]["ours"]) == 2.0 and rows[2]["ours"] == ""
    assert [r["verdict"] for r in rows] == ["pass", "fail", "info"]


def test_table_text_columns_and_summary() -> None:
    text = output.table_text(_validation())
    lines = text.splitlines()
    assert lines[0].split() == [
        "quantity",
        "unit",
        "paper",
        "ours",
        "ratio",
        "tolerance",
        "verdict",
    ]
    assert "[grp]" in lines and "[grp2]" in lines
    row = next(line for line in lines if line.startswith("a quantity"))
    assert row.split()[-1] == "pass" and " 2.13 " in row and " 0.939 " in row
    assert lines[-1].startswith("3 rows: 1 pass, 1 fail, 1 info")


def test_markdown_escapes_and_marks_failures() -> None:
    md = output.rows_markdown(_validation())
    assert md.splitlines()[0].startswith("| group | quantity |")
    assert "other \\| thing" in md and "**fail**" in md


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "-"), (0.0, "0"), (2.13, "2.13"), (0.43219, "0.432"), (12345.6, "12,346")],
)
def test_fmt(value: float | None, text: str) -> None:
    assert output.fmt(value) == text


def test_embed_and_parse_markdown() -> None:
    v = _validation()
    begin, end = output.doc_markers("quick")
    doc = f"# title\n\n{begin}\nold table\n{end}\n\nafter\n"
    new = output.embed_markdown(doc, v)
    assert "old table" not in new and new.endswith(f"{end}\n\nafter\n")
    rows = output.parse_markdown_rows(new, "quick")
    assert [r["verdict"] for r in rows] == ["pass", "**fail**", "info"]
    assert rows[0]["ours"] == "2" and rows[0]["paper"] == "2.13"
    with pytest.raises(ValueError, match="markers"):
        output.embed_markdown("no markers", v)
