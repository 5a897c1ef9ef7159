"""Configuration: presets, base chains, --set overrides and key-path errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from spatten_sim.config import (
    HwConfig,
    apply_sets,
    check_head_dim,
    config_from_dict,
    find_preset,
    load_config,
)
from spatten_sim.errors import ConfigError

PRESETS = [
    "dense",
    "spatten",
    "spatten_1_8",
    "ablation/1_dedicated",
    "ablation/2_token_pruning",
    "ablation/3_head_pruning",
    "ablation/4_parallel_topk",
    "ablation/5_progressive_quant",
]
LLM_PRESETS = ["spatten_llm", "h2o", "streaming"]


@pytest.mark.parametrize("name", PRESETS + LLM_PRESETS)
def test_every_preset_loads_and_round_trips(name, tmp_path):
    cfg = load_config(name)
    assert isinstance(cfg, HwConfig)
    # the resolved config written beside a result loads back to the same config
    p = tmp_path / "resolved.yaml"
    p.write_text(cfg.to_yaml())
    assert load_config(p) == cfg


def test_ablation_steps_add_one_technique_each():
    steps = [load_config(n) for n in PRESETS[3:]]
    assert [s.topk.comparators for s in steps] == [1, 1, 1, 16, 16]
    assert [s.policy.token_pruning.enabled for s in steps] == [False, True, True, True, True]
    assert [s.policy.head_pruning.enabled for s in steps] == [False, False, True, True, True]
    assert [s.policy.progressive_quantization.enabled for s in steps] == [False] * 4 + [True]
    full = load_config("spatten")
    assert steps[-1].policy == full.policy


def test_spatten_1_8_scales_multipliers_and_bandwidth():
    c = load_config("spatten_1_8")
    assert c.qxk.multipliers == c.probxv.multipliers == 64
    assert c.memory["channels"] == 2
    assert c.policy == load_config("spatten").policy


def test_set_overrides_any_field_with_yaml_values():
    c = load_config("spatten", ["topk.comparators=4", "policy.local_v_pruning.keep_ratio=0.5"])
    assert c.topk.comparators == 4
    assert c.policy.local_v_pruning.keep_ratio == 0.5
    assert load_config("spatten", {"clock_ghz": 2}).clock_ghz == 2.0


def test_changing_the_memory_preset_drops_the_old_presets_fields():
    c = load_config("spatten_1_8", ["memory.preset=ideal"])
    assert c.memory == {"preset": "ideal"}


@pytest.mark.parametrize(
    ("sets", "key"),
    [
        (["softmax.fifo_depth=0"], "softmax.fifo_depth"),
        (["fetcher.address_fifo_depth=0"], "fetcher.address_fifo_depth"),
        (["policy.token_pruning.end_keep_ratio=1.5"], "policy.token_pruning.end_keep_ratio"),
        (["policy.head_pruning.start_keep_ratio=0"], "policy.head_pruning.start_keep_ratio"),
        (["policy.local_v_pruning.keep_ratio=2"], "policy.local_v_pruning.keep_ratio"),
        (["qxk.multiplers=512"], "qxk.multiplers"),
        (["qxk.multipliers=many"], "qxk.multipliers"),
        (["policy.token_pruning.enabled=3"], "policy.token_pruning.enabled"),
        (["policy.quantization.k_msb_bits=10"], "policy.quantization.k_msb_bits"),
        (["policy.progressive_quantization.threshold=-1"], "threshold"),
        (["policy.head_pruning_granularity=layer"], "policy.head_pruning_granularity"),
        (["clock_ghz=0"], "clock_ghz"),
        (["memory.preset=nosuch"], "memory.preset"),
        (["qxk=3"], "qxk"),
        (["qxk.multipliers.x=3"], "qxk.multipliers"),
    ],
)
def test_bad_values_are_refused_naming_the_key_path(sets, key):
    with pytest.raises(ConfigError) as exc:
        load_config("spatten", sets)
    assert key in str(exc.value)
    assert "\n" not in str(exc.value)


def test_head_size_the_multipliers_cannot_serve():
    cfg = load_config("spatten")
    check_head_dim(cfg, 64)
    check_head_dim(cfg, 32)
    with pytest.raises(ConfigError, match=r"qxk\.multipliers"):
        check_head_dim(cfg, 48)
    with pytest.raises(ConfigError, match=r"qxk\.multipliers"):
        check_head_dim(load_config("spatten", ["qxk.multipliers=32"]), 64)


def test_files_base_chains_and_file_errors(tmp_path: Path):
    base = tmp_path / "mine.yaml"
    base.write_text("base: spatten\nname: mine\ntopk: {comparators: 8}\n")
    child = tmp_path / "child.yaml"
    child.write_text("base: mine.yaml\nname: child\n")
    c = load_config(child)
    assert (c.name, c.topk.comparators) == ("child", 8)
    assert c.policy == load_config("spatten").policy
    loop = tmp_path / "loop.yaml"
    loop.write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="loops"):
        load_config(loop)
    bad = tmp_path / "bad.yaml"
    bad.write_text("qxk: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="top level"):
        (tmp_path / "list.yaml").write_text("- 1\n")
        load_config(tmp_path / "list.yaml")


def test_set_syntax_errors():
    with pytest.raises(ConfigError, match=r"KEY\.PATH=VALUE"):
        apply_sets({}, ["topk.comparators"])
    with pytest.raises(ConfigError, match="empty key"):
        apply_sets({}, ["topk..comparators=3"])


def test_defaults_are_the_papers_design():
    c = config_from_dict({})
    assert (c.qxk.multipliers, c.softmax.parallelism, c.topk.comparators) == (512, 8, 16)
    assert c.buffers.key_sram_bytes == 2 * 1024 * 64 * 12 // 8
    assert find_preset("spatten") is not None and find_preset("nope") is None
