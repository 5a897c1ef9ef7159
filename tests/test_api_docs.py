"""Every ```python block of docs/api.md runs, and every public name has its section there.

The blocks run in one fresh interpreter (each in a namespace of its own, so each block must be
self-contained), from a temporary folder holding the repository's ``traces/`` (the examples use
``traces/minilm-sst-25.npz`` as from the repository root, and write only to temporary folders),
with ``MPLBACKEND=Agg``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import spatten_sim

ROOT = Path(__file__).resolve().parents[1]
API_MD = ROOT / "docs" / "api.md"
#: what an example may take (docs/api.md promises < 10 s; the margin is for a loaded machine)
MAX_SECONDS = 30.0


def _blocks() -> list[tuple[str, str]]:
    """(section heading, code) of every ```python block, in order."""
    out: list[tuple[str, str]] = []
    section = "(top)"
    lines = API_MD.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip().strip("`")
        if line.strip() == "```python":
            j = i + 1
            while lines[j].strip() != "```":
                j += 1
            out.append((section, "\n".join(lines[i + 1 : j]) + "\n"))
            i = j
        i += 1
    return out


BLOCKS = _blocks()
IDS = [f"{n}-{section}" for n, (section, _) in enumerate(BLOCKS)]

_DRIVER = textwrap.dedent(
    """
    import io, json, sys, time, traceback
    from contextlib import redirect_stdout

    blocks = json.load(open(sys.argv[1]))
    results = []
    for code in blocks:
        out = io.StringIO()
        t0 = time.perf_counter()
        try:
            with redirect_stdout(out):
                exec(compile(code, "<docs/api.md>", "exec"), {"__name__": "__main__"})
            error = None
        except BaseException:
            error = traceback.format_exc()
        results.append({"seconds": time.perf_counter() - t0, "error": error,
                        "stdout": out.getvalue()})
    json.dump(results, open(sys.argv[2], "w"))
    """
)


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> list[dict]:
    work = tmp_path_factory.mktemp("api-docs")
    (work / "traces").symlink_to(ROOT / "traces", target_is_directory=True)
    tmp = work / "tmp"
    tmp.mkdir()
    (work / "blocks.json").write_text(json.dumps([code for _, code in BLOCKS]))
    before = sorted(p.name for p in (ROOT / "traces").iterdir())
    env = {**os.environ, "MPLBACKEND": "Agg", "TMPDIR": str(tmp)}
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, "blocks.json", "results.json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (ROOT / "traces").iterdir()) == before  # wrote nothing there
    return json.loads((work / "results.json").read_text())


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= len(spatten_sim.__all__)


@pytest.mark.parametrize("n", range(len(BLOCKS)), ids=IDS)
def test_example_runs(ran: list[dict], n: int) -> None:
    result = ran[n]
    assert result["error"] is None, f"{IDS[n]} failed:\n{result['error']}"
    assert result["stdout"].strip(), f"{IDS[n]} prints nothing"
    assert result["seconds"] < MAX_SECONDS, f"{IDS[n]} took {result['seconds']:.1f} s"


@pytest.mark.parametrize("name", spatten_sim.__all__)
def test_every_public_name_has_a_section_with_an_example(name: str) -> None:
    assert name in {section for section, _ in BLOCKS}, f"docs/api.md: no ## `{name}` example"


def test_examples_use_the_shipped_data_by_name_and_repository_path() -> None:
    text = API_MD.read_text(encoding="utf-8")
    for _, code in BLOCKS:
        for path in re.findall(r"[\"']([^\"']+\.(?:npz|csv|yaml))[\"']", code):
            assert (path.startswith("traces/") and (ROOT / path).is_file()) or "no-such" in path
    assert "/work/" not in text and "hw_configs/" not in "".join(c for _, c in BLOCKS)
