"""A sweep space is checked as a whole before any point runs: every key exists, some point
survives the constraints, and constraints cannot compute huge values."""

from __future__ import annotations

import pytest

from spatten_sim.cli import main
from spatten_sim.sweep.points import expand
from spatten_sim.sweep.space import SpaceError, eval_constraint, load_space, parse_constraint

from .conftest import TRACE

CFG = {"topk": {"comparators": 16}, "memory": {"preset": "hbm2"}, "x": 3}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("9 ** 9 ** 9 > x", "more than 256 bits"),
        ("2 ** 100000 > x", "more than 256 bits"),
        ("x * 2 ** 200 * 2 ** 200 > 1", "more than 256 bits"),
        ("'a' * 1000000000 == x", r"\*: arithmetic needs numbers, got str"),
        ("[1] * 10 == x", r"List is not allowed"),
        ("10.0 ** 400 > 1", "overflows"),
        ("x / 0 > 1", "ZeroDivisionError"),
        ("-'a' == 1", "unary -: arithmetic needs numbers"),
        ("max() > 1", r"max\(\) takes numbers only"),
        ("max(x, key=abs) > 1", "keyword is not allowed"),
        ("(" * 300 + "x" + ")" * 300 + " > 1", "not a valid expression"),
        ("x > " + "1 + " * 400 + "1", "longer than 1000 characters"),
        ("__import__('os') > 1", "only min, max, abs may be called"),
        ("nope.key > 1", "nope.key: no such configuration key"),
    ],
)
def test_bounded_constraints(text: str, match: str) -> None:
    with pytest.raises(SpaceError, match=match) as exc:
        eval_constraint(parse_constraint(text, "constraints[0]"), CFG, "constraints[0]")
    assert str(exc.value).startswith("constraints[0]: ")
    assert len(str(exc.value)) < 300


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("topk.comparators * 2 <= 64", True),
        ("memory.preset == 'hbm2'", True),
        ("2 ** 10 > x and not x > 4", True),
        ("(-1) ** 100001 < 0", True),
        ("min(x, 2) == 2", True),
    ],
)
def test_ordinary_constraints_still_work(text: str, value: bool) -> None:
    assert eval_constraint(parse_constraint(text, "c"), CFG, "c") is value


def _space(tmp_path, body: str):
    p = tmp_path / "s.yaml"
    p.write_text(f"base: spatten\ntraces: [{TRACE}]\n{body}")
    return load_space(p)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (
            "axes: {topk.comparatorz: [1, 2]}",
            r"^axes: topk.comparatorz: no such .*did you mean topk.comparators",
        ),
        ("axes: {nope: [1, 2]}", r"^axes: nope: no such configuration key"),
        ("axes: {topk: [1, 2]}", r"^axes: topk: a section, not a field"),
        (
            "axes: {memory.chanels: [1, 2]}",
            r"^axes: memory.chanels: no such memory .*memory.channels",
        ),
        ("sets: {qxk.multiplierz: 4}\naxes: {topk.comparators: [1]}", r"^sets: qxk.multiplierz"),
        (
            "axes: {topk.comparators: [1, 2, 4]}\nconstraints: [topk.comparators > 100]",
            r"^constraints: they exclude every one of the 3 combinations",
        ),
        (
            "axes: {qxk.multipliers: [-1, -2]}",
            r"^every point is invalid \(2 of 2; nothing would run\), the first: ConfigError: qxk",
        ),
    ],
)
def test_space_refused_as_a_whole(tmp_path, body: str, match: str) -> None:
    with pytest.raises(SpaceError, match=match):
        space = _space(tmp_path, body)
        expand(space, list(space.inputs))  # type: ignore[arg-type]


def test_memory_keys_of_every_model_are_known(tmp_path) -> None:
    space = _space(tmp_path, "axes: {memory.preset: [ideal, hbm2], memory.nCL: [14]}")
    exp = expand(space, list(space.inputs))  # type: ignore[arg-type]
    assert len(exp.points) == 2  # nCL is unknown to the ideal model: that point says so
    ideal, hbm2 = exp.points
    assert ideal.error and "memory.nCL" in ideal.error and hbm2.error is None


@pytest.mark.parametrize(
    "extra",
    [["--jobs", "0"], []],
    ids=["jobs-0", "empty-after-constraints"],
)
def test_cli_refuses_before_creating_the_folder(tmp_path, capsys, extra) -> None:
    body = "axes: {topk.comparators: [1, 2]}\n"
    if not extra:
        body += "constraints: [topk.comparators > 5]\n"
    sp = tmp_path / "s.yaml"
    sp.write_text(f"base: spatten\ntraces: [{TRACE}]\n{body}")
    out = tmp_path / "out"
    assert main(["sweep", str(sp), "-o", str(out), "-q", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert not out.exists()
