"""Sweeps with an ``accuracy`` section gain ``accuracy.*`` columns (cached by config and text)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from spatten_sim.errors import SpattenError
from spatten_sim.sweep.space import parse_space

TRACES = Path(__file__).resolve().parents[2] / "traces"


def _space(**acc) -> dict:
    return {
        "name": "acc",
        "base": "spatten",
        "traces": [str(TRACES / "minilm-sst-25.npz")],
        "axes": {"policy.token_pruning.end_keep_ratio": [0.3, 1.0]},
        "accuracy": acc,
    }


@pytest.mark.parametrize(
    "acc,msg",
    [
        ({"model": "gpt9"}, "accuracy.model"),
        ({"model": "minilm", "sentences": 0}, "accuracy.sentences"),
        ({"model": "minilm", "tokens": "many"}, "accuracy.tokens"),
        ({"model": "minilm", "bogus": 1}, "accuracy.bogus: unknown option"),
    ],
)
def test_bad_accuracy_sections_are_named(acc: dict, msg: str, tmp_path: Path) -> None:
    with pytest.raises(SpattenError, match=msg):
        parse_space(_space(**acc), tmp_path / "space.yaml")


def test_the_request_is_part_of_the_point_id(tmp_path: Path) -> None:
    from spatten_sim.sweep.points import expand

    def ids(space: dict) -> list[str]:
        sp = parse_space(space, tmp_path / "space.yaml")
        return [p.point_id for p in expand(sp, [TRACES / "minilm-sst-25.npz"]).points]

    plain = _space(model="minilm")
    del plain["accuracy"]
    a, b = ids(_space(model="minilm", sentences=10)), ids(_space(model="minilm", sentences=20))
    assert len(set(a + b + ids(plain))) == 6


_EXTRA = all(importlib.util.find_spec(m) for m in ("torch", "transformers"))


@pytest.mark.trace_extra
@pytest.mark.skipif(not _EXTRA, reason="needs the [trace] extra: bash .ci/install-trace-extra.sh")
def test_sweep_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spatten_sim.extract.cache import cache_root
    from spatten_sim.sweep import run_sweep

    local = tmp_path / "cache"
    local.mkdir()
    (local / "corpora").symlink_to(cache_root() / "corpora", target_is_directory=True)
    monkeypatch.setenv("SPATTEN_SIM_CACHE", str(local))
    table = run_sweep(_space(model="minilm", sentences=10), tmp_path / "out", jobs=1,
                      show_progress=False)  # fmt: skip
    rows = list(table)
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows)
    for r in rows:
        assert 0 < r["accuracy.embedding_cosine"] <= 1
        assert r["accuracy.embedding_cosine_ci95_low"] <= r["accuracy.embedding_cosine"]
        assert r["accuracy.hardware.cycles"] > 0
    by_ratio = {r["cfg.policy.token_pruning.end_keep_ratio"]: r for r in rows}
    # keeping every token at the end of the schedule changes less than keeping 30 %
    assert by_ratio[1.0]["accuracy.embedding_cosine"] > by_ratio[0.3]["accuracy.embedding_cosine"]
    assert len(list((local / "accuracy").glob("*.json"))) == 2
