"""docs/validation.md shows the tables the command prints today (made with --update-doc)."""

from __future__ import annotations

import pytest

from spatten_sim.validate.context import repo_root
from spatten_sim.validate.output import fmt, parse_markdown_rows
from spatten_sim.validate.rows import all_rows
from spatten_sim.validate.runner import Validation

DOC = repo_root() / "docs" / "validation.md"


def _doc_rows(mode: str) -> list[dict[str, str]]:
    rows = parse_markdown_rows(DOC.read_text(), mode)
    assert rows, f"no {mode} table in {DOC}"
    return rows


@pytest.mark.parametrize("mode", ["quick", "full"])
def test_doc_tables_list_every_row(mode: str) -> None:
    assert [r["quantity"] for r in _doc_rows(mode)] == [r.quantity for r in all_rows()]


def _same(doc_rows: list[dict[str, str]], v: Validation) -> None:
    for d, r in zip(doc_rows, v.rows, strict=True):
        assert d["verdict"].strip("*") == r.verdict, (r.key, d["verdict"], r.verdict)
        assert d["paper"] == fmt(r.paper), r.key


def test_doc_quick_table_matches_a_quick_run(quick_validation: Validation) -> None:
    _same(_doc_rows("quick"), quick_validation)


@pytest.mark.slow
def test_doc_full_table_matches_a_full_run(full_validation: Validation) -> None:
    _same(_doc_rows("full"), full_validation)


def test_failing_rows_are_explained() -> None:
    text = DOC.read_text()
    section = text.split("## Why the failing rows fail", 1)[1].split("\n## ", 1)[0]
    section = " ".join(section.split())  # Markdown wraps lines
    for mode in ("quick", "full"):
        for d in _doc_rows(mode):
            if d["verdict"] == "**fail**":
                assert d["quantity"].split(",")[0].split(" (")[0] in section, d["quantity"]
