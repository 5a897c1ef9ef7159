"""The text sources: the wiki-markup cleaner (fast, no extra) and the real corpora (read from PyPI
archives at run time, so marked ``trace_extra`` with the other extraction tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spatten_sim.errors import SpattenError
from spatten_sim.extract.text import load_source, wiki_paragraphs

MARKUP = """\
{{Infobox thing|name=X|note={{nested|deep}}}}
'''Anarchism''' is a [[political philosophy]] that advocates [[Self-governance|self-governed]] \
societies<ref name="a">Some citation</ref> based on voluntary institutions, often described as \
stateless societies.<ref>Another {{cite}}</ref> It holds the [[state (polity)|state]] to be \
undesirable and harmful.<!-- a comment -->
[[File:Flag.svg|thumb|A flag with a [[link]] in its caption]]
== History ==
* a list item that is long enough to count as a paragraph if lists were kept in the text at all
{| class="wikitable"
| a table cell with plenty of words inside it that should never appear in the output text
|}
Short line.
"""


def test_wiki_paragraphs_strip_markup() -> None:
    paras = wiki_paragraphs(MARKUP)
    assert paras == [
        "Anarchism is a political philosophy that advocates self-governed societies based on "
        "voluntary institutions, often described as stateless societies. It holds the state to be "
        "undesirable and harmful."
    ]


def test_a_text_file_is_split_into_paragraphs(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text("one two\nthree\n\n\n  four  five \n")
    src = load_source(str(f), tmp_path)
    assert src.samples == ("one two three", "four five") and src.key == "file"


def test_an_unknown_source_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(SpattenError, match="unknown text source 'ptb2'"):
        load_source("ptb2", tmp_path)


@pytest.mark.trace_extra
@pytest.mark.parametrize(
    ("source", "count", "first_words"),
    [
        ("sst", 10605, "The Rock is destined"),
        ("reviews", 1500, "films adapted from comic books"),
        ("ptb", 1001, "Pierre Vinken , 61 years old , will join the board"),
        ("wiki", None, "Anarchism is a political philosophy"),
    ],
)
def test_corpora(source: str, count: int | None, first_words: str, cache: Path) -> None:
    src = load_source(source, cache)
    if count is not None:
        assert len(src.samples) == count
    else:
        assert len(src.samples) > 4000
        assert all("[[" not in s and "{{" not in s and "<ref" not in s for s in src.samples)
    assert src.samples[0].startswith(first_words)
    assert load_source(source, cache).samples == src.samples  # deterministic
