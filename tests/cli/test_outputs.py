"""Unwritable outputs are refused with one line and status 2 before any work is done."""

from __future__ import annotations

from pathlib import Path

import pytest

from spatten_sim.cli import main
from spatten_sim.cli.outputs import ensure_writable_dir, ensure_writable_file
from spatten_sim.errors import SpattenError

ROOT = Path(__file__).resolve().parents[2]
TRACE = ROOT / "traces" / "minilm-sst-25.npz"
SWEEP = ROOT / "plots" / "data" / "kv_sram"


@pytest.fixture
def blocked(tmp_path) -> Path:
    """A path below a regular file: no folder can be made there (even as root)."""
    f = tmp_path / "a_file"
    f.write_text("x")
    return f / "sub"


def test_helpers_check_and_create_nothing(tmp_path, blocked):
    assert ensure_writable_dir(tmp_path / "new" / "dir", "-o x") == tmp_path / "new" / "dir"
    assert ensure_writable_file(tmp_path / "n2" / "r.json", "--json x").name == "r.json"
    assert sorted(tmp_path.iterdir()) == [tmp_path / "a_file"]  # nothing was created
    with pytest.raises(SpattenError, match=r"^-o x: cannot write to .*sub"):
        ensure_writable_dir(blocked, "-o x")
    with pytest.raises(SpattenError, match="is a folder, expected a file name"):
        ensure_writable_file(tmp_path, "--json x")


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "spatten", str(TRACE), "-o", "{b}"],
        ["run", "spatten", str(TRACE), "--json", "{b}/r.json"],
        ["plot", str(SWEEP), "-o", "{b}"],
        ["report", str(SWEEP), "-o", "{b}/r.html"],
        ["validate", "--quick", "--only", "power.op*", "-o", "{b}"],
        ["validate", "--quick", "--only", "power.op*", "--markdown", "{b}/t.md"],
    ],
    ids=["run-o", "run-json", "plot", "report", "validate-o", "validate-markdown"],
)
def test_commands_refuse_before_working(argv, blocked, capsys, monkeypatch):
    # if a command started its work, this would be called (run) or take long (validate)
    import spatten_sim.pipeline

    def no_sim(*a, **k):
        raise AssertionError("simulated before checking the output")

    monkeypatch.setattr(spatten_sim.pipeline, "simulate", no_sim)
    status = main([a.replace("{b}", str(blocked)) for a in argv])
    err = capsys.readouterr().err
    assert status == 2
    assert "cannot write to" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_run_keeps_the_report_when_writing_fails_late(tmp_path, capsys, monkeypatch):
    """The disk fills up after the check: the finished report goes to stdout, status 2."""
    import json

    from spatten_sim.report import Report

    def full_disk(self, out, config_yaml):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Report, "write_dir", full_disk)
    status = main(["run", "spatten", str(TRACE), "-q", "-o", str(tmp_path / "out")])
    cap = capsys.readouterr()
    assert status == 2
    assert json.loads(cap.out)["cycles"] > 0
    assert "No space left on device" in cap.err and "stdout instead" in cap.err


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "spatten", "{t}/missing.npz", "-o", "{t}/out/run"],
        ["run", "spatten", "{t}/missing.npz", "--json", "{t}/out/r.json"],
        ["run", "no-such-preset", str(TRACE), "-o", "{t}/out"],
        ["plot", "{t}/missing-sweep", "-o", "{t}/out"],
        ["report", "{t}/missing-sweep", "-o", "{t}/out/r.html"],
    ],
    ids=["run-o", "run-json", "run-preset", "plot", "report"],
)
def test_a_failed_command_leaves_no_folder(argv, tmp_path, capsys):
    status = main([a.replace("{t}", str(tmp_path)) for a in argv])
    assert status == 2
    assert not (tmp_path / "out").exists()
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_run_json_writes_no_config_beside_it(tmp_path):
    assert main(["run", "spatten", str(TRACE), "-q", "--json", str(tmp_path / "r.json")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
