"""Point ids: a stable hash of the resolved configuration and the trace's content."""

from __future__ import annotations

import shutil
import subprocess
import sys

from spatten_sim.config import load_config
from spatten_sim.sweep.points import expand, file_sha256, point_id, resolve_inputs
from spatten_sim.sweep.space import load_space

from .conftest import TRACE


def _ids(path):
    space = load_space(path)
    return {
        dict(p.values)["topk.comparators"]: p.point_id
        for p in expand(space, resolve_inputs(space, None)).points
    }


def test_id_depends_on_config_and_content_not_on_order_or_location(write_space, tmp_path):
    a = _ids(write_space({"axes": {"topk.comparators": [4, 16]}}, "a"))
    # other axis order, an extra axis value, and the trace copied elsewhere: same ids
    copy = tmp_path / "elsewhere" / "t.npz"
    copy.parent.mkdir()
    shutil.copyfile(TRACE, copy)
    b = _ids(write_space({"axes": {"topk.comparators": [16, 8, 4]}, "traces": [str(copy)]}, "b"))
    assert a[4] == b[4] and a[16] == b[16]
    assert len({a[4], a[16], b[8]}) == 3
    # a value given through `sets` or through the base is the same configuration
    c = _ids(
        write_space({"axes": {"topk.comparators": [16]}, "sets": {"topk.fifo_depth": 64}}, "c")
    )
    assert c[16] == a[16]
    d = _ids(
        write_space({"axes": {"topk.comparators": [16]}, "sets": {"topk.fifo_depth": 32}}, "d")
    )
    assert d[16] != a[16]
    # other data under the same name: another id
    data = bytearray(TRACE.read_bytes())
    data[-1] ^= 0xFF
    copy.write_bytes(bytes(data))
    e = _ids(write_space({"axes": {"topk.comparators": [16]}, "traces": [str(copy)]}, "e"))
    assert e[16] != a[16]


def test_id_is_stable_across_processes():
    cfg = load_config("spatten").to_dict()
    sha = file_sha256(TRACE)
    here = point_id(cfg, sha)
    code = (
        "from spatten_sim.config import load_config\n"
        "from spatten_sim.sweep.points import point_id\n"
        f"print(point_id(load_config('spatten').to_dict(), {sha!r}))\n"
    )
    env_seed = {"PYTHONHASHSEED": "123"}
    import os

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, **env_seed},
    )  # fmt: skip
    assert out.stdout.strip() == here
    assert len(here) == 16 and int(here, 16) >= 0


def test_invalid_configuration_becomes_a_failed_point(write_space):
    p = write_space({"axes": {"policy.quantization.k_msb_bits": [6, 10]}})
    space = load_space(p)
    pts = expand(space, resolve_inputs(space, None)).points
    assert pts[0].config is not None and pts[0].error is None
    assert pts[1].config is None
    assert pts[1].error.startswith("ConfigError: policy.quantization.k_msb_bits:")


def test_simulator_fingerprint_is_part_of_the_id_and_checked_by_workers():
    from spatten_sim.sweep.points import simulator_fingerprint
    from spatten_sim.sweep.runner import PointTask, run_point

    cfg = load_config("spatten").to_dict()
    sha = file_sha256(TRACE)
    assert point_id(cfg, sha) == point_id(cfg, sha, simulator_fingerprint())
    assert point_id(cfg, sha, "0" * 16) != point_id(cfg, sha)
    out = run_point(PointTask("p", cfg, str(TRACE), sha, simulator="0" * 16))
    assert not out.ok and "runs another spatten-sim (code fingerprint" in out.error
    assert "0" * 16 in out.error and out.report is None
