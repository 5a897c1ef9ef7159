"""The package as built: every subpackage and every shipped file goes into the wheel, the version
is defined once, the official workloads are the release's bytes."""

from __future__ import annotations

import fnmatch
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

import spatten_sim

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]

#: sha256 of the official release's workload files (github.com/mit-han-lab/spatten)
OFFICIAL_SHA256 = {
    "summary-gpt2-small-wikitext2-per8.csv": (
        "5f17e1c00556cd6d3a1152dc5eb5e01de00fb8c8a39d13ce1260aba5f776c52d"
    ),
    "summary-gpt2-medium-wikitext2-per0-hp-step5+dedic+glob_p+local_p+hp+topk+quant.csv": (
        "d344301ad2eff33a1635278e88cd7599dc2f91f8d48924f20edc3e5a54df1db2"
    ),
}


def test_every_subpackage_is_listed() -> None:
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "spatten_sim").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    listed = set(SETUPTOOLS["packages"])
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    for pkg in listed - found:  # the data packages, mapped from the top of the checkout
        assert pkg in SETUPTOOLS["package-dir"] or (ROOT / pkg.replace(".", "/")).is_dir(), pkg


def _shipped_patterns(pkg: str) -> list[str]:
    return list(SETUPTOOLS["package-data"][pkg])


@pytest.mark.parametrize("pkg", ["spatten_sim.data.hw_configs", "spatten_sim.data.traces"])
def test_every_shipped_file_is_package_data(pkg: str) -> None:
    folder = ROOT / SETUPTOOLS["package-dir"][pkg]
    pats = _shipped_patterns(pkg)
    files = [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert files
    for f in files:
        rel = f.relative_to(folder).as_posix()
        assert any(
            fnmatch.fnmatch(rel, pat) and rel.count("/") == pat.count("/") for pat in pats
        ), f"{f} is not package data (patterns {pats})"


def test_the_version_is_defined_once() -> None:
    assert "version" not in PYPROJECT["project"]
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert SETUPTOOLS["dynamic"]["version"] == {"attr": "spatten_sim.__version__"}
    from importlib.metadata import version

    assert version("spatten-sim") == spatten_sim.__version__


def test_licences_ship() -> None:
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    official = ROOT / "traces" / "official" / "LICENSE-official-workloads.txt"
    assert "MIT HAN Lab" in official.read_text()
    assert set(PYPROJECT["project"]["license-files"]) == {
        "LICENSE",
        "traces/official/LICENSE-official-workloads.txt",
    }


@pytest.mark.parametrize("name", sorted(OFFICIAL_SHA256))
def test_official_workloads_are_the_release_bytes(name: str) -> None:
    data = (ROOT / "traces" / "official" / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == OFFICIAL_SHA256[name]


def test_python_dash_m() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "spatten_sim", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"spatten-sim {spatten_sim.__version__}"
