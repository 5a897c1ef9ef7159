"""The libyaml fast path of :mod:`spatten_sim.yamlfile` (package files only) reads the same data
as the pure-Python parser, and reports a problem in the same words."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spatten_sim import yamlfile

REPO = Path(__file__).resolve().parents[1]
FILES = sorted(
    p
    for p in [*(REPO / "spatten_sim").rglob("*.yaml"), *(REPO / "hw_configs").rglob("*.yaml")]
    if "__pycache__" not in p.parts
)


def test_there_are_shipped_files() -> None:
    assert any(p.parent.name == "energy" for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_shipped_parse_is_the_same_data(path: Path) -> None:
    text = path.read_text()
    fast, slow = yamlfile.parse_yaml(text, shipped=True), yamlfile.parse_yaml(text)
    assert fast == slow
    assert repr(fast) == repr(slow)  # the same types too (1e12 a float, 1 an int)


@pytest.mark.parametrize(
    "text", ["a: 1e12\nb: [1, 2.5E-3, .inf, x]\nc: {d: null}\n", "- 1\n- -2\n"]
)
def test_yaml_1_2_floats_on_both_parsers(text: str) -> None:
    assert repr(yamlfile.parse_yaml(text, shipped=True)) == repr(yamlfile.parse_yaml(text))


def test_a_problem_reads_the_same() -> None:
    bad = "a: [1, 2\nb: 3\n"
    errors = []
    for shipped in (True, False):
        with pytest.raises(yaml.YAMLError) as exc:
            yamlfile.parse_yaml(bad, shipped=shipped)
        errors.append(str(exc.value))
    assert errors[0] == errors[1]
