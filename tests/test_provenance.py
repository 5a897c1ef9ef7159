"""The ``provenance`` section: what produced a result, in every report, run folder and sweep row."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import spatten_sim
from spatten_sim import provenance as prov
from spatten_sim.config import config_from_dict, load_config
from spatten_sim.errors import ConfigError
from spatten_sim.pipeline import simulate

ROOT = Path(__file__).resolve().parent.parent
TRACE = ROOT / "traces" / "minilm-sst-25.npz"
KEYS = [
    "version", "code_fingerprint", "git_commit", "input_sha256", "config", "config_sha256",
    "seed", "sets", "command_line", "timestamp", "environment",
]  # fmt: skip


@pytest.fixture(scope="module")
def report() -> dict:
    return simulate("spatten", TRACE, sets=["topk.comparators=4"]).to_dict()


def test_every_report_has_the_section_last_with_every_key(report):
    assert list(report)[-1] == "provenance"
    p = report["provenance"]
    assert list(p) == KEYS
    # every key is classified for `spatten-sim diff`
    known = {*prov.SIMULATOR_KEYS, *prov.INPUT_KEYS, *prov.VOLATILE_KEYS}
    assert set(KEYS) - known == {"config", "config_sha256", "seed"}


def test_the_values(report):
    p = report["provenance"]
    assert p["version"] == spatten_sim.__version__ == report["spatten_sim_version"]
    assert re.fullmatch(r"[0-9a-f]{16}", p["code_fingerprint"])
    assert p["input_sha256"] == hashlib.sha256(TRACE.read_bytes()).hexdigest()
    assert p["sets"] == ["topk.comparators=4"]
    assert p["command_line"] == sys.argv
    assert p["seed"] == p["config"]["policy"]["topk_seed"] == 0
    stamp = datetime.datetime.strptime(p["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert abs((now - stamp).total_seconds()) < 600
    assert p["environment"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert p["environment"]["numpy"]


def test_the_config_is_fully_resolved_and_hashed(report):
    from spatten_sim.hw.dram import DramConfig

    p = report["provenance"]
    cfg = p["config"]
    assert cfg == prov.resolved_config(load_config("spatten", ["topk.comparators=4"]))
    assert cfg["topk"]["comparators"] == 4
    # every HwConfig field, and every field of the memory model, not just the preset's name
    assert set(cfg) == {f.name for f in dataclasses.fields(spatten_sim.config.HwConfig)}
    assert set(cfg["memory"]) == {"preset"} | {f.name for f in dataclasses.fields(DramConfig)}
    assert cfg["memory"]["nCL"] == 14 and cfg["memory"]["nREFI"] == 3900
    canon = json.dumps(cfg, sort_keys=True, separators=(",", ":"))
    assert p["config_sha256"] == hashlib.sha256(canon.encode()).hexdigest()
    # loadable again, to the same configuration
    assert prov.resolved_config(config_from_dict(cfg)) == cfg


def test_resolved_memory():
    hbm = prov.resolved_memory({"preset": "hbm2", "nCL": 16})
    assert hbm["nCL"] == 16 and hbm["nRCDRD"] == 14 and hbm["preset"] == "hbm2"
    assert prov.resolved_memory(hbm) == hbm  # idempotent
    assert prov.resolved_memory({}) == prov.resolved_memory({"preset": "hbm2"})
    rtl = prov.resolved_memory({"preset": "hbm2-spatten-rtl"})
    assert rtl["nCL"] == 7 and rtl["max_outstanding_per_channel"] == 16
    ideal = prov.resolved_memory({"preset": "ideal", "channels": 8})
    assert ideal == {
        "preset": "ideal",
        "channels": 8,
        "channel_bandwidth_gbps": 32.0,
        "latency_ns": 17.0,
        "transaction_bytes": 32,
    }
    for bad, needle in (({"nosuch": 1}, "memory.nosuch"), ({"preset": "ddr9"}, "memory.preset")):
        with pytest.raises(ConfigError, match=needle):
            prov.resolved_memory(bad)


def test_another_config_another_hash_same_config_same_hash():
    a = prov.resolved_config(load_config("spatten"))
    b = prov.resolved_config(load_config("spatten", ["memory.nCL=16"]))
    assert prov.config_sha256(a) != prov.config_sha256(b)
    # the same configuration, whether a value came from the preset or from --set
    c = prov.resolved_config(load_config("spatten", ["memory.nCL=14"]))
    assert prov.config_sha256(a) == prov.config_sha256(c)


def test_same_inputs_identical_but_for_the_timestamp():
    a = simulate("spatten", TRACE).to_dict()
    b = simulate("spatten", TRACE).to_dict()
    pa, pb = a.pop("provenance"), b.pop("provenance")
    a.pop("sim")
    b.pop("sim")
    assert json.dumps(a) == json.dumps(b)
    pa.pop("timestamp")
    pb.pop("timestamp")
    assert pa == pb


def test_provenance_extra_adds_and_replaces():
    rep = simulate(
        "spatten",
        TRACE,
        provenance_extra={"command_line": ("spatten-sim", "run"), "input_sha256": "0" * 64,
                          "sets": {"topk.comparators": 16}, "note": "mine"},
    ).to_dict()  # fmt: skip
    p = rep["provenance"]
    assert p["command_line"] == ["spatten-sim", "run"]
    assert p["input_sha256"] == "0" * 64  # known: not hashed again
    assert p["sets"] == ["topk.comparators=16"]
    assert p["note"] == "mine"


def test_one_fingerprint_implementation():
    from spatten_sim.sweep import points

    assert points.simulator_fingerprint is prov.code_fingerprint
    assert points.file_sha256 is prov.file_sha256
    assert points.canonical_json is prov.canonical_json


def test_git_commit_of_this_checkout():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    commit = prov.git_commit()
    assert commit in (head, f"{head}+dirty")


@pytest.fixture
def package_at(monkeypatch):
    """Pretend the package lives in another folder (git_commit looks there)."""

    def move(folder: Path) -> None:
        monkeypatch.setattr(prov, "_package_root", lambda: folder)
        prov.git_commit.cache_clear()

    yield move
    prov.git_commit.cache_clear()


def test_git_commit_outside_a_checkout_is_none_and_silent(tmp_path, package_at, capfd):
    pkg = tmp_path / "site-packages" / "spatten_sim"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    package_at(pkg)
    assert prov.git_commit() is None
    assert capfd.readouterr().err == ""


def test_git_commit_without_git_installed(tmp_path, package_at, monkeypatch, capfd):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git there
    package_at(ROOT / "spatten_sim")
    assert prov.git_commit() is None
    assert capfd.readouterr().err == ""


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_commit_clean_and_dirty(tmp_path, package_at, capfd):
    repo = tmp_path / "repo"
    pkg = repo / "spatten_sim"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip

    git("init", "-q")
    git("add", "spatten_sim/__init__.py")
    git("commit", "-q", "-m", "x")
    head = git("rev-parse", "HEAD")
    package_at(pkg)
    assert prov.git_commit() == head
    (pkg / "__init__.py").write_text("x = 2\n")
    prov.git_commit.cache_clear()
    assert prov.git_commit() == f"{head}+dirty"
    # a package copied into someone else's repository, untracked there: not its commit
    (repo / "other").mkdir()
    (repo / "other" / "__init__.py").write_text("")
    package_at(repo / "other")
    assert prov.git_commit() is None
    assert capfd.readouterr().err == ""


def test_run_folder_config_is_resolved_and_reruns_the_same(tmp_path, capsys):
    from spatten_sim.cli import main

    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["run", "spatten", str(TRACE), "--set", "memory.nCL=16", "-o", str(a), "-q"]) == 0
    written = yaml.safe_load((a / "config.yaml").read_text())
    assert written["memory"]["nCL"] == 16 and written["memory"]["nRP"] == 14
    # simulate the written config.yaml again: the same configuration, the same results
    assert main(["run", str(a / "config.yaml"), str(TRACE), "-o", str(b), "-q"]) == 0
    ra, rb = (json.loads((d / "report.json").read_text()) for d in (a, b))
    pa, pb = ra.pop("provenance"), rb.pop("provenance")
    assert pa["config"] == pb["config"] == written
    assert pa["config_sha256"] == pb["config_sha256"]
    assert pa["sets"] == ["memory.nCL=16"] and pb["sets"] == []
    ra.pop("sim")
    rb.pop("sim")
    assert ra == rb


def test_sweep_rows_and_records_carry_the_provenance(tmp_path):
    from spatten_sim.sweep import read_manifest, read_point, read_table, run_sweep

    space = tmp_path / "space.yaml"
    space.write_text(
        yaml.safe_dump(
            {"base": "spatten", "traces": [str(TRACE)], "axes": {"topk.comparators": [4, 16]}}
        )
    )
    out = tmp_path / "out"
    run_sweep(space, out, jobs=1, show_progress=False)
    rows = read_table(out)
    sha = hashlib.sha256(TRACE.read_bytes()).hexdigest()
    assert len(rows) == 2
    for row in rows:
        p = read_point(out, row["point_id"])["report"]["provenance"]
        assert row["provenance.version"] == spatten_sim.__version__
        assert row["provenance.code_fingerprint"] == read_manifest(out)["simulator"]
        assert row["provenance.git_commit"] == p["git_commit"]
        assert row["provenance.input_sha256"] == row["trace_sha256"] == p["input_sha256"] == sha
        assert row["provenance.config_sha256"] == p["config_sha256"]
        assert p["config"]["topk"]["comparators"] == row["cfg.topk.comparators"]
        assert not any(k.startswith(("provenance.timestamp", "provenance.config.")) for k in row)
    assert rows[0]["provenance.config_sha256"] != rows[1]["provenance.config_sha256"]


def test_every_key_is_documented():
    doc = (ROOT / "docs" / "report.md").read_text()
    for k in KEYS:
        assert f"`provenance.{k}" in doc, k
