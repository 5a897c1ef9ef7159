"""``spatten-sim bench``: runs its cases in worker processes and writes re-readable figures.

No timing is asserted anywhere (shared machines are noisy): only that every figure is there,
has the right type, and that the documents can be compared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatten_sim.bench import format_compare, format_table, load_bench
from spatten_sim.cli import main


@pytest.fixture(scope="module")
def readme_bench(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "b.json"
    assert main(["bench", "--case", "readme", "--repeats", "1", "--quiet", "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_bench_document(readme_bench: dict) -> None:
    doc = readme_bench
    assert doc["bench_version"] == 1 and doc["machine"]["cores"] >= 1
    (case,) = doc["cases"]
    assert case["name"] == "readme" and case["repeats"] == 1 and "error" not in case
    assert case["cycles"] == 13690  # the README's first command
    for key in ("process_cpu_seconds", "process_wall_seconds", "functional_cpu_seconds",
                "timing_cpu_seconds", "dram_kernel_cpu_seconds", "report_cpu_seconds",
                "startup_cpu_seconds", "peak_memory_mib", "simulated_cycles_per_cpu_second",
                "transactions_per_kernel_cpu_second"):  # fmt: skip
        assert isinstance(case[key], float) and case[key] >= 0, key
    assert case["events"] > 0 and case["transactions"] > 0 and case["dram_batches"] > 0


def test_compare_prints_ratios(readme_bench: dict, tmp_path: Path) -> None:
    text = format_compare(readme_bench, readme_bench)
    assert "process_cpu_seconds" in text and "1.000" in text
    p = tmp_path / "old.json"
    p.write_text(json.dumps(readme_bench))
    assert load_bench(p)["cases"][0]["name"] == "readme"


def test_a_case_not_run_keeps_the_table_narrow(readme_bench: dict) -> None:
    """A case that could not run is a row of dashes; its reason is listed under the table."""
    reason = "could not make the trace (the [trace] extra is not installed) " * 3
    doc = dict(readme_bench, cases=[*readme_bench["cases"], {"name": "made", "error": reason}])
    lines = format_table(doc).splitlines()
    header = next(ln for ln in lines if ln.startswith("case"))
    row = next(ln for ln in lines if ln.startswith("made "))
    assert "not run" in row and reason not in row and len(row) <= len(header)
    assert lines[-1] == f"made: not run: {reason}"


def test_dram_stream_case(tmp_path: Path) -> None:
    """The kernel case replays a recorded stream (here a small one made on the spot)."""
    import dataclasses

    import numpy as np

    from spatten_sim.bench import Case, run_case, summarize
    from spatten_sim.hw.dram import DRAM_PRESETS, DramMemory, FrontendLimits
    from spatten_sim.hw.dram.stream import StreamRecorder

    cfg = dataclasses.replace(DRAM_PRESETS["hbm2"])
    mem = DramMemory(cfg)
    mem.recorder = StreamRecorder()
    for b in range(3):
        a = (np.arange(500, dtype=np.int64) + 700 * b) * 32
        mem.run_batch(a, np.arange(500, dtype=np.int64) // 32 + 100 * b, None,
                      FrontendLimits(True, 64, 1))  # fmt: skip
    path = tmp_path / "s.npz"
    mem.recorder.stream(cfg.name).save(path)
    case = Case("k", "dram-stream", input="x")
    import spatten_sim.bench as B

    orig = B.resolve_input
    B.resolve_input = lambda key, progress: path
    try:
        d = summarize(run_case(case, 1, lambda m: None))
    finally:
        B.resolve_input = orig
    assert "error" not in d, d.get("error")
    assert d["transactions"] == 1500 and d["dram_batches"] == 3
    assert d["transactions_per_kernel_cpu_second"] > 0


def test_bad_arguments_are_user_errors(capsys) -> None:
    assert main(["bench", "--case", "nope"]) == 2
    assert "unknown case" in capsys.readouterr().err
    assert main(["bench", "--repeats", "0"]) == 2
    assert main(["bench", "--source", "/nonexistent"]) == 2


def test_compare_file_must_be_a_bench_json(tmp_path: Path, capsys) -> None:
    p = tmp_path / "x.json"
    p.write_text("[1, 2]")
    assert main(["bench", "--case", "readme", "--compare", str(p)]) == 2
    assert "not a spatten-sim bench JSON" in capsys.readouterr().err


def test_worker_keeps_bytecode_outside_the_sources(monkeypatch, tmp_path: Path) -> None:
    """Warm runs are warm in bytecode too: where the environment forbids writing ``.pyc`` files
    the worker writes them under the cache folder, never beside the sources."""
    from spatten_sim.bench import _worker_env

    monkeypatch.setenv("SPATTEN_SIM_CACHE", str(tmp_path))
    monkeypatch.delenv("PYTHONPYCACHEPREFIX", raising=False)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = _worker_env()
    assert "PYTHONDONTWRITEBYTECODE" not in env
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "bench" / "pycache")
    # a prefix the user chose stays
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path / "mine"))
    assert _worker_env()["PYTHONPYCACHEPREFIX"] == str(tmp_path / "mine")
    # an environment that writes bytecode is left as it is
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
    monkeypatch.delenv("PYTHONPYCACHEPREFIX")
    env = _worker_env()
    assert "PYTHONPYCACHEPREFIX" not in env and "PYTHONDONTWRITEBYTECODE" not in env
