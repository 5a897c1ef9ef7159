"""The extractor's small helpers: the cache folder and the progress bar (fast, no extra)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from spatten_sim.extract.cache import cache_root, cached_dir
from spatten_sim.extract.progress import Progress


def test_cache_root_follows_the_environment(tmp_path: Path) -> None:
    assert cache_root({"SPATTEN_SIM_CACHE": str(tmp_path)}) == tmp_path
    assert cache_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "spatten-sim"
    assert cache_root({}) == Path.home() / ".cache" / "spatten-sim"


def test_cached_dir_builds_once(tmp_path: Path) -> None:
    calls: list[Path] = []

    def build(d: Path) -> None:
        calls.append(d)
        (d / "x.txt").write_text("built")

    first = cached_dir(tmp_path, "entry", build)
    second = cached_dir(tmp_path, "entry", build)
    assert first == second == tmp_path / "entry"
    assert (first / "x.txt").read_text() == "built"
    assert len(calls) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]  # no temporary left behind


def test_a_failed_build_leaves_nothing(tmp_path: Path) -> None:
    def build(d: Path) -> None:
        (d / "half.txt").write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cached_dir(tmp_path, "entry", build)
    assert list(tmp_path.iterdir()) == []


def test_progress_prints_one_line_when_not_a_terminal() -> None:
    out = io.StringIO()
    with Progress(4, "generate", stream=out) as bar:
        for _ in range(4):
            bar.update()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("generate") and "4/4" in lines[0] and "#" * 30 in lines[0]


def test_progress_redraws_in_place_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    with Progress(2, "forward", stream=out) as bar:
        bar.update()
        bar.update()
    text = out.getvalue()
    assert text.count("\r") == 4 and text.endswith("\n")  # start, 2 updates, close
    assert "1/2" in text and "2/2" in text


def test_disabled_progress_prints_nothing() -> None:
    out = io.StringIO()
    with Progress(3, "x", stream=out, enabled=False) as bar:
        bar.update(3)
    assert out.getvalue() == ""
