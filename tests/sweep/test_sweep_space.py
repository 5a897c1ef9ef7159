"""space.yaml parsing: axes (list, range, log range), zip, constraints, inputs; bad spaces refused."""

from __future__ import annotations

import pytest

from spatten_sim.sweep.points import expand, resolve_inputs
from spatten_sim.sweep.space import SpaceError, load_space, parse_axis_values


def test_axis_forms():
    assert parse_axis_values([3, 1, 2], "k") == [3, 1, 2]
    assert parse_axis_values({"from": 1, "to": 7, "step": 2}, "k") == [1, 3, 5, 7]
    assert parse_axis_values({"range": {"from": 0.1, "to": 0.3, "step": 0.1}}, "k") == [
        0.1,
        0.2,
        0.3,
    ]
    assert parse_axis_values({"log": {"from": 1, "to": 64, "factor": 2}}, "k") == [
        1, 2, 4, 8, 16, 32, 64,
    ]  # fmt: skip
    assert parse_axis_values({"log": {"from": 1, "to": 100, "num": 3}}, "k") == [1, 10, 100]
    # integer end points: rounded, de-duplicated integers
    assert parse_axis_values({"log": {"from": 1, "to": 4, "num": 6}}, "k") == [1, 2, 3, 4]
    vals = parse_axis_values({"log": {"from": 0.5, "to": 2.0, "num": 3}}, "k")
    assert vals == pytest.approx([0.5, 1.0, 2.0])


def test_product_zip_constraints_and_order(write_space):
    p = write_space(
        {
            "axes": {"topk.comparators": [4, 16], "memory.channels": [8, 16]},
            "zip": [
                {
                    "policy.quantization.k_msb_bits": [4, 6, 8, 10],
                    "policy.quantization.k_lsb_bits": [4, 4, 4, 4],
                }
            ],
            "constraints": [
                "policy.quantization.k_msb_bits + policy.quantization.k_lsb_bits "
                "<= buffers.word_bits",
                "not (topk.comparators == 4 and memory.channels == 8)",
            ],
        }
    )
    space = load_space(p)
    assert space.axis_keys == (
        "topk.comparators",
        "memory.channels",
        "policy.quantization.k_msb_bits",
        "policy.quantization.k_lsb_bits",
    )
    assert space.n_combinations == 2 * 2 * 4
    exp = expand(space, resolve_inputs(space, None))
    # 10+4 > 12 drops one zip step (4 combos); (4, 8) drops 3 more
    assert exp.excluded == 4 + 3
    assert len(exp.points) == 16 - 7
    vals = [dict(p.values) for p in exp.points]
    assert vals[0] == {
        "topk.comparators": 4,
        "memory.channels": 16,
        "policy.quantization.k_msb_bits": 4,
        "policy.quantization.k_lsb_bits": 4,
    }
    # the last axis varies fastest
    assert [v["policy.quantization.k_msb_bits"] for v in vals[:3]] == [4, 6, 8]
    for pt in exp.points:
        assert pt.config is not None
        assert pt.config["topk"]["comparators"] == dict(pt.values)["topk.comparators"]
        assert pt.config["memory"]["channels"] == dict(pt.values)["memory.channels"]


def test_relative_env_and_shipped_paths(tmp_path, monkeypatch):
    (tmp_path / "data" / "w").mkdir(parents=True)
    (tmp_path / "data" / "w" / "a.csv").write_text("x\n")
    (tmp_path / "data" / "w" / "b.csv").write_text("x\n")
    repo = tmp_path / "main" / "hw_configs" / "sweeps"
    repo.mkdir(parents=True)
    (repo / "t.npz").write_bytes(b"x")
    sp = repo / "s.yaml"
    sp.write_text(
        "base: spatten\ntraces: [t.npz, '${DATA}/w/*.csv', ../../../data/w/a.csv, minilm-sst-25]\n"
    )
    monkeypatch.setenv("DATA", str(tmp_path / "data"))
    space = load_space(sp)
    names = [p.name for p in space.inputs]
    assert names == ["t.npz", "a.csv", "b.csv", "minilm-sst-25.npz"]  # duplicates listed once
    monkeypatch.delenv("DATA")
    with pytest.raises(SpaceError, match=r"traces\[1\].*DATA is not set"):
        load_space(sp)
    monkeypatch.setenv("DATA", str(tmp_path / "nowhere"))
    with pytest.raises(SpaceError, match=r"traces\[1\]"):
        load_space(sp)


BAD = [
    ({"axes": {"topk.comparators": []}}, r"^axes\.topk\.comparators: empty list"),
    ({"axes": {"topk.comparators": "many"}}, r"^axes\.topk\.comparators: expected a list"),
    ({"axes": {"topk.comparators": {"from": 8, "to": 1}}}, r"^axes\.topk\.comparators: 'to'"),
    ({"axes": {"topk.comparators": {"from": 1, "to": 8, "step": 0}}}, r"\.step: must be > 0"),
    ({"axes": {"x": {"log": {"from": 0, "to": 8, "factor": 2}}}}, r"^axes\.x\.log: .*> 0"),
    ({"axes": {"x": {"log": {"from": 1, "to": 8}}}}, r"^axes\.x\.log: give exactly one"),
    ({"axes": {"x": {"log": {"from": 1, "to": 8, "factor": 1}}}}, r"^axes\.x\.log\.factor"),
    ({"axes": {"x": {"from": 1, "to": 8, "stride": 2}}}, r"^axes\.x: unknown range key 'stride'"),
    ({"axes": {"bad key": [1]}}, r"^axes: 'bad key' is not a configuration key path"),
    ({"axis": {"topk.comparators": [1]}}, r"^axis: unknown key"),
    ({"zip": [{"a.b": [1, 2], "c.d": [1]}]}, r"^zip\[0\]: zipped keys need the same number"),
    (
        {"axes": {"a.b": [1]}, "zip": [{"a.b": [1]}]},
        r"^zip\[0\]: a\.b appears twice among the axes",
    ),
    ({"constraints": ["__import__('os')"]}, r"^constraints\[0\]: .*only min, max, abs"),
    ({"constraints": ["topk.comparators <"]}, r"^constraints\[0\]: .*not a valid expression"),
    ({"constraints": ["lambda: 1"]}, r"^constraints\[0\]: .*Lambda is not allowed"),
    ({"base": "no_such_preset"}, r"^base: 'no_such_preset': no such file or shipped preset"),
    ({"traces": ["missing.npz"]}, r"^traces\[0\]: 'missing.npz': no such file"),
    ({"traces": ["*.nothing"]}, r"^traces\[0\]: '\*\.nothing' matches no file"),
    (
        {"traces": [{"extract": {"model": "minilm", "text": "sst", "layers": 2}}]},
        r"^traces\[0\]\.extract\.layers: unknown option",
    ),
    ({"traces": []}, r"^traces: expected a non-empty list"),
    (
        {"sets": {"topk.comparators": 4}, "axes": {"topk.comparators": [1]}},
        r"^sets: .*also an axis",
    ),
]


@pytest.mark.parametrize(("data", "pattern"), BAD)
def test_bad_spaces_are_refused_with_one_line_naming_the_key(write_space, data, pattern):
    p = write_space(data)
    with pytest.raises(SpaceError, match=pattern) as ei:
        load_space(p)
    assert "\n" not in str(ei.value)


def test_constraint_on_unknown_key_names_it(write_space):
    p = write_space({"axes": {"topk.comparators": [1]}, "constraints": ["topk.nope > 1"]})
    space = load_space(p)
    with pytest.raises(
        SpaceError, match=r"^constraints\[0\]: topk\.nope: no such configuration key"
    ):
        expand(space, resolve_inputs(space, None))


def test_not_yaml_and_not_a_mapping(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("axes: [\n")
    with pytest.raises(SpaceError, match="not valid YAML at line"):
        load_space(p)
    p.write_text("- 1\n")
    with pytest.raises(SpaceError, match="top level must be a mapping"):
        load_space(p)


def test_cli_refuses_bad_space_in_one_line(write_space, capsys):
    from spatten_sim.cli import main

    p = write_space({"axes": {"topk.comparators": []}})
    assert main(["sweep", str(p), "-o", str(p.parent / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "axes.topk.comparators: empty list" in err
