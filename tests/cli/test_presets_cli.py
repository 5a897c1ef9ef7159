"""``spatten-sim presets``: what ships, by kind, as text or JSON; named inputs run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatten_sim.cli import main


def test_lists_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for head in ("presets:", "sweeps:", "traces:", "workloads:"):
        assert head in out
    for name in ("spatten_rtl", "sweeps/kv_sram", "minilm-sst-25", "gpt2-medium"):
        assert name in out


def test_json_and_kind(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["presets", "--kind", "trace", "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc and {d["kind"] for d in doc} == {"trace"}
    assert all(Path(d["path"]).is_file() for d in doc)
    out = tmp_path / "p.json"
    assert main(["presets", "--json", str(out)]) == 0
    assert len(json.loads(out.read_text())) > len(doc)


def test_run_by_names_from_another_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "spatten", "minilm-sst-25", "--quiet", "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["cycles"] > 0
    assert main(["run", "spatten", "no-such-trace", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no such file or shipped trace" in err and len(err.strip().splitlines()) == 1
