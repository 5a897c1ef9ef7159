"""HwConfig is valid by construction: load_config, constructors and dataclasses.replace all check.

The sections check their own fields (types, ranges) and HwConfig the rules across sections; the
error is a ConfigError naming the key path.
"""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from spatten_sim.config import (
    BuffersConfig,
    HwConfig,
    MultiplierArrayConfig,
    PruningSchedule,
    QuantizationConfig,
    load_config,
)
from spatten_sim.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
#: every configuration file shipped in hw_configs/ (the sweep spaces are not configurations)
PRESET_FILES = sorted(p for p in (ROOT / "hw_configs").rglob("*.yaml") if "sweeps" not in p.parts)
#: sections whose integer fields are sizes, counts and latencies (>= 1; ``*_cycles`` >= 0)
INT_SECTIONS = (
    "fetcher", "bitwidth_converter", "qxk", "softmax", "decision", "topk", "probxv", "buffers"
)  # fmt: skip


@pytest.fixture(scope="module")
def cfg() -> HwConfig:
    return load_config("spatten")


def test_replace_with_a_bad_value_fails_at_once_naming_the_key(cfg: HwConfig) -> None:
    with pytest.raises(ConfigError) as exc:
        replace(cfg, buffers=replace(cfg.buffers, key_sram_bytes=-5))
    assert str(exc.value) == "buffers.key_sram_bytes: must be a positive integer, got -5"


@pytest.mark.parametrize("path", PRESET_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_shipped_configuration_still_loads(path: Path) -> None:
    cfg = load_config(path)
    # rebuilding it field by field checks it again and changes nothing
    assert replace(cfg) == cfg
    assert HwConfig(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}) == cfg


def _int_fields() -> list[tuple[str, str]]:
    out = []
    for section in INT_SECTIONS:
        for f in dataclasses.fields(getattr(HwConfig(), section)):
            if f.type in ("int", int):
                out.append((section, f.name))
    return out


@pytest.mark.parametrize(("section", "name"), _int_fields())
def test_every_integer_field_of_the_hardware_sections_is_checked(
    cfg: HwConfig, section: str, name: str
) -> None:
    lowest = 0 if name.endswith("_cycles") else 1
    sec = getattr(cfg, section)
    # the section alone accepts its lowest value (HwConfig may still refuse it: pipeline depths)
    assert getattr(replace(sec, **{name: lowest}), name) == lowest
    with pytest.raises(ConfigError, match=rf"(^|or ){section}\.{name}(:| or ).*must be a "):
        replace(sec, **{name: lowest - 1})
    # load_config names the very key, also for the classes used twice (qxk and probxv)
    with pytest.raises(ConfigError, match=rf"^{section}\.{name}: must be a "):
        load_config("spatten", [f"{section}.{name}={lowest - 1}"])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda c: replace(c, clock_ghz=0), r"^clock_ghz: must be in \[1e-06, 100\] GHz, got 0$"),
        (lambda c: replace(c, clock_ghz=float("nan")), r"^clock_ghz: must be finite, got nan"),
        (lambda c: replace(c, clock_ghz=float("inf")), r"^clock_ghz: must be finite, got inf"),
        (lambda c: replace(c, clock_ghz=1e30), r"^clock_ghz: must be in .* got 1e\+30"),
        (lambda c: replace(c.buffers, word_bits=33), r"^buffers\.word_bits: must be 1\.\.32"),
        (lambda c: replace(c.timing, mode="slow"), r"^timing\.mode: must be one of fast, ref"),
        (
            lambda c: replace(c.policy.local_v_pruning, keep_ratio=0),
            r"^policy\.local_v_pruning\.keep_ratio: must be in \(0, 1\]",
        ),
        (
            lambda c: replace(c.policy.progressive_quantization, threshold=1.5),
            r"^policy\.progressive_quantization\.threshold: must be in \[0, 1\]",
        ),
        (
            lambda c: replace(c.policy.quantization, v_msb_bits=1),
            r"^policy\.quantization\.v_msb_bits: must be >= 2",
        ),
        (
            lambda c: replace(c.policy.quantization, q_lsb_bits=-1),
            r"^policy\.quantization\.q_lsb_bits: must be >= 0",
        ),
        (
            lambda c: replace(c.policy, head_pruning_granularity="layer"),
            r"^policy\.head_pruning_granularity: must be 'query_head' or 'kv_group'",
        ),
        (
            lambda c: replace(c.policy.token_pruning, unpruned_layers_fraction=-0.1),
            r"^policy\.token_pruning\.unpruned_layers_fraction: must be in \[0, 1\]",
        ),
        (
            lambda c: replace(c.policy.head_pruning, unpruned_layers_fraction=-0.1),
            r"^policy\.token_pruning\.unpruned_layers_fraction or "
            r"policy\.head_pruning\.unpruned_layers_fraction: must be in \[0, 1\]",
        ),
        (lambda c: replace(c.softmax, impl="nope"), None),  # checked by HwConfig: see below
        (lambda c: replace(c, memory={"preset": "nosuch"}), r"^memory\.preset: unknown memory"),
        (lambda c: replace(c, memory={"channels": 0}), r"^memory"),
        (lambda c: replace(c, memory=[1]), r"^memory: expected dict, got \[1\]$"),
        (lambda c: replace(c, name=None), r"^name: expected str, got None$"),
        (lambda c: replace(c.topk, comparators="16"), r"^topk\.comparators: expected int"),
        (lambda c: replace(c.topk, comparators=2.0), r"^topk\.comparators: expected int"),
        (lambda c: replace(c.buffers, double_buffered=1), r"^buffers\.double_buffered: expected"),
        (lambda c: replace(c, buffers={"word_bits": 8}), r"^buffers: expected a BuffersConfig"),
        (
            lambda c: replace(c.policy, token_pruning=c.buffers),
            r"^policy\.token_pruning: expected a TokenPruningConfig",
        ),
    ],
)
def test_each_section_checks_its_own_fields(cfg: HwConfig, build, message: str | None) -> None:
    if message is None:
        build(cfg)  # a section alone does not know the unit registries
        return
    with pytest.raises(ConfigError, match=message):
        build(cfg)


def test_hwconfig_checks_the_rules_across_sections(cfg: HwConfig) -> None:
    # 10 + 4 bits fit a section of its own (it does not know the word) ...
    q = replace(cfg.policy.quantization, k_msb_bits=10, k_lsb_bits=4)
    policy = replace(cfg.policy, quantization=q)
    # ... but not the 12-bit on-chip word of the configuration
    with pytest.raises(ConfigError, match=r"^policy\.quantization\.k_msb_bits: .* exceeds buffers"):
        replace(cfg, policy=policy)
    wide = replace(cfg, buffers=replace(cfg.buffers, word_bits=16), policy=policy)
    assert wide.policy.quantization.k_msb_bits == 10
    # narrowing the word under existing quantization bits is refused too
    with pytest.raises(ConfigError, match=r"^policy\.quantization\.[qkv]_msb_bits: .* exceeds"):
        replace(cfg, buffers=replace(cfg.buffers, word_bits=8))
    with pytest.raises(ConfigError, match=r"^softmax\.impl: unknown implementation 'nope'"):
        replace(cfg, softmax=replace(cfg.softmax, impl="nope"))
    with pytest.raises(ConfigError, match=r"^topk\.impl: unknown implementation"):
        replace(cfg, topk=replace(cfg.topk, impl="sort"))
    with pytest.raises(ConfigError, match=r"^decision\.latency_cycles: must be >= 1"):
        replace(cfg, decision=replace(cfg.decision, latency_cycles=0))


def test_the_classes_used_twice_name_both_places_until_the_place_is_known(cfg: HwConfig) -> None:
    with pytest.raises(ConfigError) as exc:
        MultiplierArrayConfig(multipliers=0)
    assert str(exc.value) == (
        "qxk.multipliers or probxv.multipliers: must be a positive integer, got 0"
    )
    with pytest.raises(ConfigError, match=r"^policy\.head_pruning\.end_keep_ratio: must be in"):
        load_config("spatten", ["policy.head_pruning.end_keep_ratio=0"])
    with pytest.raises(ConfigError, match=r"^policy\.token_pruning\.start_keep_ratio or "):
        PruningSchedule(start_keep_ratio=1.5)


def test_numbers_are_stored_with_the_fields_type(cfg: HwConfig) -> None:
    c = replace(cfg, clock_ghz=2, topk=replace(cfg.topk, comparators=np.int64(4)))
    assert type(c.clock_ghz) is float and c.clock_ghz == 2.0
    assert type(c.topk.comparators) is int and c.topk.comparators == 4
    s = PruningSchedule(True, 1, 1, 0)
    assert [type(v) for v in (s.start_keep_ratio, s.end_keep_ratio)] == [float, float]
    assert type(replace(cfg.policy.quantization, k_msb_bits=np.int32(8)).k_msb_bits) is int
    # the same configuration whether built from a file or by hand: same YAML, same point id
    assert load_config("spatten", ["clock_ghz=2", "topk.comparators=4"]) == c
    assert load_config("spatten", ["clock_ghz=2", "topk.comparators=4"]).to_yaml() == c.to_yaml()
    with pytest.raises(ConfigError, match="expected float, got True"):
        replace(cfg, clock_ghz=True)


def test_the_memory_section_is_copied(cfg: HwConfig) -> None:
    mem = {"preset": "ideal"}
    c = replace(cfg, memory=mem)
    mem["channels"] = 0  # the caller's dict changes; the configuration does not
    assert c.memory == {"preset": "ideal"}


def test_errors_survive_pickling_as_config_errors(cfg: HwConfig) -> None:
    with pytest.raises(ConfigError) as exc:
        BuffersConfig(value_sram_bytes=0)
    back = pickle.loads(pickle.dumps(exc.value))
    assert isinstance(back, ConfigError) and str(back) == str(exc.value)


def test_a_valid_section_alone_needs_no_hwconfig() -> None:
    assert QuantizationConfig(k_msb_bits=4, k_lsb_bits=8).k_lsb_bits == 8
    assert BuffersConfig(key_sram_bytes=1).key_sram_bytes == 1
