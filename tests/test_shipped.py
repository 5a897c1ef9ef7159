"""Shipped presets, sweep spaces, traces and official workloads, found by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from spatten_sim import shipped
from spatten_sim.errors import SpattenError

ROOT = Path(__file__).resolve().parents[1]


def test_list_covers_every_file_in_the_checkout() -> None:
    items = shipped.list_shipped()
    paths = {s.path.resolve() for s in items}
    for p in (ROOT / "hw_configs").rglob("*.yaml"):
        assert p.resolve() in paths, p
    for p in (ROOT / "traces").glob("*.npz"):
        assert p.resolve() in paths, p
    kinds = [s.kind for s in items]
    assert kinds == sorted(kinds, key=("preset", "sweep", "trace", "workload").index)
    assert {s.name for s in items if s.kind == "workload"} == {"gpt2-small", "gpt2-medium"}
    assert all(s.description for s in items if s.kind in ("preset", "sweep"))


@pytest.mark.parametrize(
    ("name", "stem"),
    [("spatten", "spatten"), ("spatten.yaml", "spatten"), ("ablation/1_dedicated", "1_dedicated")],
)
def test_find_preset(name: str, stem: str) -> None:
    p = shipped.find_preset(name)
    assert p is not None and p.stem == stem and p.is_file()


@pytest.mark.parametrize("name", ["nope", "", "../pyproject", "/etc/passwd", "sweeps/../spatten"])
def test_find_preset_refuses(name: str) -> None:
    assert shipped.find_preset(name) is None


def test_find_sweep() -> None:
    assert shipped.find_sweep("kv_sram") == shipped.find_sweep("sweeps/kv_sram") is not None
    assert shipped.find_sweep("spatten") is None


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("minilm-sst-25", "minilm-sst-25.npz"),
        ("minilm-sst-25.npz", "minilm-sst-25.npz"),
        ("gpt2-small", "summary-gpt2-small-wikitext2-per8.csv"),
        ("summary-gpt2-small-wikitext2-per8.csv", "summary-gpt2-small-wikitext2-per8.csv"),
    ],
)
def test_find_input(name: str, file: str) -> None:
    p = shipped.find_input(name)
    assert p is not None and p.name == file


@pytest.mark.parametrize(
    "name", ["nope", "", ".", "..", "official/x.csv", "LICENSE-official-workloads.txt"]
)
def test_find_input_refuses(name: str) -> None:
    assert shipped.find_input(name) is None


def test_resolve_input_prefers_a_real_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gpt2-small").write_text("mine")
    assert shipped.resolve_input("gpt2-small") == Path("gpt2-small")
    assert shipped.resolve_input("minilm-sst-25").name == "minilm-sst-25.npz"
    with pytest.raises(SpattenError, match="no such file or shipped trace"):
        shipped.resolve_input("no-such-trace")


def test_sweep_space_names_a_shipped_trace(tmp_path: Path) -> None:
    from spatten_sim.sweep.space import parse_space

    sp = parse_space(
        {
            "base": "spatten",
            "traces": ["minilm-sst-25", "gpt2-small"],
            "axes": {"topk.comparators": [1, 2]},
        },
        tmp_path / "s.yaml",
    )
    names = [p.name for p in sp.inputs if isinstance(p, Path)]
    assert names == ["minilm-sst-25.npz", "summary-gpt2-small-wikitext2-per8.csv"]
