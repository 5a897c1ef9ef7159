"""Hardware and algorithm configuration (``hw.yaml``).

A configuration is a YAML file of nested sections; every hardware parameter of docs/spatten.md §3 is a
field with its unit in its name. A file may start from another with ``base: other.yaml`` (a path
relative to the file, or the name of a shipped preset in ``hw_configs/``) and override any field.
``--set a.b.c=value`` overrides (YAML-parsed values) apply last. Unknown keys, wrong types and
impossible values raise :class:`~spatten_sim.errors.ConfigError` naming the key path.

The ``memory`` section is validated by :func:`spatten_sim.hw.memory.make_memory` (it selects a
DRAM model preset and overrides its fields).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spatten_sim.errors import ConfigError
from spatten_sim.yamlfile import read_yaml


# ---------------------------------------------------------------------------------------------
# hardware sections
@dataclass(frozen=True)
class FetcherConfig:
    """Q-K-V fetcher with its address and data crossbars [docs/spatten.md §3]."""

    address_issue_per_cycle: int = 32  #: addresses generated per cycle (32x16 address crossbar)
    requests_per_channel_per_cycle: int = 1  #: crossbar: requests one channel accepts a cycle
    address_fifo_depth: int = 64  #: entries (8 B each) per channel
    data_fifo_depth: int = 64  #: entries (16 B each) per channel
    data_fifo_width_bytes: int = 16
    #: requests (query jobs) between arbitration and their decision report; new ones wait while
    #: this many are in flight [RTL SpAttenController.scala: depthReqFIFO = 16, new requests
    #: halted while fewer than 8 entries are free, so at most 9]
    max_in_flight_requests: int = 9


@dataclass(frozen=True)
class BitwidthConverterConfig:
    """Muxes + shifter turning 4/6/8/12-bit DRAM words into the on-chip word."""

    bytes_per_cycle: int = 512  #: input bandwidth (16 data FIFOs x 32 B at full rate)
    latency_cycles: int = 2


@dataclass(frozen=True)
class MultiplierArrayConfig:
    """A multiplier array + reconfigurable adder tree (QxK reads the K SRAM, probxV the V SRAM);
    one SRAM line of ``multipliers`` words is multiplied per cycle [docs/spatten.md §3]."""

    multipliers: int = 512
    multiplier_latency_cycles: int = 1
    adder_tree_stages: int = 6
    #: probxV only: elements the FIFO between the top-k engine and the array holds [RTL
    #: SpAttenController.scala StageMultiplyValue: a 64-entry queue of 8-score beats]; QxK reads
    #: its SRAM directly and ignores it
    input_fifo_depth: int = 512


@dataclass(frozen=True)
class SoftmaxConfig:
    """Softmax: dequantize, exp (Taylor on FP FMAs), accumulate, divide, requantize [C bert.cpp]."""

    #: "two_pass" (the paper: exp + accumulate, then divide once the sum is known) or
    #: "pass_through" (the released RTL's Softmax.scala forwards its input); hw/units/softmax.py
    impl: str = "two_pass"
    parallelism: int = 8  #: elements per cycle
    fifo_depth: int = 128  #: entries of the input FIFO (QxK -> softmax)
    #: two_pass: exponentials held between the passes (the paper's 1024-token context)
    score_buffer_entries: int = 1024
    passthrough_latency_cycles: int = 1  #: pass_through: one register stage
    dequant_latency_cycles: int = 7
    exp_latency_cycles: int = 21
    accum_latency_cycles: int = 23
    div_latency_cycles: int = 29
    quant_latency_cycles: int = 7


@dataclass(frozen=True)
class DecisionConfig:
    """Progressive-quantization decision: a running max over the softmax output stream,
    compared with the threshold at the end of the query [RTL RequantDecision.scala]."""

    fifo_depth: int = 16  #: entries between softmax and the decision (two 8-wide registers)
    latency_cycles: int = 1


@dataclass(frozen=True)
class TopkEngineConfig:
    """Quick-select top-k engines (token/head and local-V) [docs/spatten.md §3]."""

    impl: str = "quick_select"  #: hw/units/topk_engine.py
    comparators: int = 16  #: per comparator array
    fifo_depth: int = 64  #: FIFO_L / FIFO_R entries
    round_overhead_cycles: int = 3


@dataclass(frozen=True)
class BuffersConfig:
    """On-chip K and V SRAM, double-buffered [docs/spatten.md §3: 2 x 1024 x 64 x 12 bit]."""

    key_sram_bytes: int = 196608
    value_sram_bytes: int = 196608
    word_bits: int = 12  #: on-chip fixed-point word width
    double_buffered: bool = True


#: timing.mode values (TimingConfig.mode)
TIMING_MODES = ("fast", "reference")


@dataclass(frozen=True)
class TimingConfig:
    """How the timing phase sequences the work (docs/timing-model.md §7)."""

    #: true: a layer starts after the previous one has finished (its Q/K/V come from the FC
    #: layers, which are not simulated); false: requests stream back to back across layers, as
    #: the official RTL test bench drives them (TestSpAtten.scala), ignoring that dependency
    layer_barrier: bool = True
    #: ``fast`` (default): the production paths (the fast HBM2 kernel, transaction addresses and
    #: row-ready cycles in Numba); ``reference``: the simple paths they are tested against (the
    #: reference HBM2 kernel, numpy addresses). Both give identical reports but for wall time.
    mode: str = "fast"


@dataclass(frozen=True)
class EnergyConfig:
    """Per-action energy table: a shipped table name or a YAML path, plus leakage."""

    table: str = "default"


# ---------------------------------------------------------------------------------------------
# algorithm policy
@dataclass(frozen=True)
class PruningSchedule:
    """A cascade pruning schedule [docs/spatten.md §2]: the first ``unpruned_layers_fraction`` of
    layers keep everything; over the rest the keep ratio goes linearly from
    ``start_keep_ratio`` to ``end_keep_ratio``."""

    enabled: bool = False
    start_keep_ratio: float = 1.0
    end_keep_ratio: float = 1.0
    unpruned_layers_fraction: float = 0.15


@dataclass(frozen=True)
class LocalVConfig:
    """Local value pruning: per query, only the V rows of the top probabilities.

    In generation it cuts V fetches from DRAM (the memory-bound stage). In summarization V is
    already on chip, so it saves only probxV multiplies while the local-V top-k engine spends
    ``ceil(n/16) + 3`` cycles per quick-select round on every query (the official latency
    model), more than QxK's ``n / 8`` for contexts under ~1k tokens; it is therefore applied in
    summarization only when ``in_summarization`` is true.
    """

    enabled: bool = False
    keep_ratio: float = 1.0
    in_summarization: bool = False


@dataclass(frozen=True)
class QuantizationConfig:
    """Linear symmetric fixed point; MSBs and LSBs live in separate DRAM regions."""

    q_msb_bits: int = 12
    q_lsb_bits: int = 0
    k_msb_bits: int = 12
    k_lsb_bits: int = 0
    v_msb_bits: int = 12
    v_lsb_bits: int = 0


@dataclass(frozen=True)
class ProgressiveConfig:
    """Progressive quantization: fetch MSBs; if max prob < threshold, fetch LSBs and redo."""

    enabled: bool = False
    threshold: float = 0.1
    in_summarization: bool = False


@dataclass(frozen=True)
class PolicyConfig:
    token_pruning: PruningSchedule = field(default_factory=PruningSchedule)
    head_pruning: PruningSchedule = field(
        default_factory=lambda: PruningSchedule(unpruned_layers_fraction=0.3)
    )
    #: GQA: "query_head" prunes single query heads; "kv_group" prunes a K/V head with its group
    head_pruning_granularity: str = "query_head"
    local_v_pruning: LocalVConfig = field(default_factory=LocalVConfig)
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    progressive_quantization: ProgressiveConfig = field(default_factory=ProgressiveConfig)
    topk_seed: int = 0  #: seed of the top-k engines' pivot hash


@dataclass(frozen=True)
class HwConfig:
    """A complete, validated configuration (hardware + memory + energy + policy)."""

    name: str = "unnamed"
    description: str = ""
    clock_ghz: float = 1.0
    fetcher: FetcherConfig = field(default_factory=FetcherConfig)
    bitwidth_converter: BitwidthConverterConfig = field(default_factory=BitwidthConverterConfig)
    qxk: MultiplierArrayConfig = field(default_factory=MultiplierArrayConfig)
    softmax: SoftmaxConfig = field(default_factory=SoftmaxConfig)
    decision: DecisionConfig = field(default_factory=DecisionConfig)
    topk: TopkEngineConfig = field(default_factory=TopkEngineConfig)
    probxv: MultiplierArrayConfig = field(default_factory=MultiplierArrayConfig)
    buffers: BuffersConfig = field(default_factory=BuffersConfig)
    memory: dict = field(default_factory=lambda: {"preset": "hbm2"})
    timing: TimingConfig = field(default_factory=TimingConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# ---------------------------------------------------------------------------------------------
# loading
def _type_ok(value: Any, tp: Any) -> bool:
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if tp is dict:
        return isinstance(value, dict)
    return False


def _build(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{path or '<top>'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        kp = f"{path}.{key}" if path else str(key)
        if key not in names:
            raise ConfigError(f"{kp}: unknown key (known: {', '.join(sorted(names))})")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, value, kp)
        elif not _type_ok(value, tp):
            want = tp.__name__ if isinstance(tp, type) else str(tp)
            raise ConfigError(f"{kp}: expected {want}, got {value!r}")
        else:
            kwargs[key] = float(value) if tp is float else value
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - all fields have defaults
        raise ConfigError(f"{path}: {exc}") from None


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if k == "memory" and isinstance(v, dict) and isinstance(out.get(k), dict):
            # a different memory preset starts from that preset's own defaults
            if "preset" in v and v["preset"] != out[k].get("preset"):
                out[k] = dict(v)
                continue
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def find_preset(name: str) -> Path | None:
    """The path of a shipped preset (``spatten``, ``spatten.yaml``, ``ablation/1_dedicated``),
    or None (see :mod:`spatten_sim.shipped`)."""
    from spatten_sim.shipped import find_preset as _find

    return _find(name)


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    if path in seen:
        raise ConfigError(f"{path}: 'base' chain loops back to itself")
    data = read_yaml(path, ConfigError)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: base: expected a file name or preset name")
    bpath = (path.parent / base) if (path.parent / base).is_file() else find_preset(base)
    if bpath is None:
        raise ConfigError(f"{path}: base: no such file or preset {base!r}")
    return _deep_merge(_read_yaml(bpath.resolve(), (*seen, path)), data)


def parse_set(item: str) -> tuple[list[str], Any]:
    """Parse one ``a.b.c=value`` override (the value is YAML: 0.5, true, [1, 2], hbm2)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE")
    key, _, raw = item.partition("=")
    keys = key.strip().split(".")
    if not all(keys):
        raise ConfigError(f"--set {item!r}: empty key in the path")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        raise ConfigError(f"--set {item!r}: value is not valid YAML") from None
    return keys, value


def apply_sets(data: dict, sets: typing.Iterable[str] | dict[str, Any]) -> dict:
    """Return ``data`` with ``--set`` style overrides applied (strings or a {path: value} dict)."""
    items = (
        [(k.split("."), v) for k, v in sets.items()]
        if isinstance(sets, dict)
        else [parse_set(s) for s in sets]
    )
    out = _deep_merge({}, data)
    for keys, value in items:
        node = out
        for i, k in enumerate(keys[:-1]):
            nxt = node.get(k)
            if nxt is None:
                nxt = node[k] = {}
            elif not isinstance(nxt, dict):
                raise ConfigError(f"{'.'.join(keys[: i + 1])}: is a value, not a section")
            else:
                nxt = node[k] = dict(nxt)
            node = nxt
        if keys == ["memory", "preset"] and value != node.get("preset"):
            node.clear()  # a new memory preset starts from its own defaults
        node[keys[-1]] = value
    return out


def config_from_dict(data: dict) -> HwConfig:
    """Build and validate an :class:`HwConfig` from a (merged) mapping."""
    cfg = _build(HwConfig, data, "")
    validate_config(cfg)
    return cfg


def load_config(path: str | Path, sets: typing.Iterable[str] | dict[str, Any] = ()) -> HwConfig:
    """Load ``path`` (a YAML file or a shipped preset name), apply overrides, validate."""
    p = Path(path)
    if not p.is_file():
        preset = find_preset(str(path))
        if preset is None:
            raise ConfigError(
                f"{path}: no such file or shipped preset (`spatten-sim presets` lists them)"
            )
        p = preset
    data = _read_yaml(p.resolve())
    data = apply_sets(data, sets)
    return config_from_dict(data)


# ---------------------------------------------------------------------------------------------
# validation of values
def _check(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {msg}")


def _positive_ints(section: Any, prefix: str, allow_zero: tuple[str, ...] = ()) -> None:
    for f in dataclasses.fields(section):
        v = getattr(section, f.name)
        if isinstance(v, int) and not isinstance(v, bool):
            lo = 0 if f.name in allow_zero or f.name.endswith("_cycles") else 1
            _check(v >= lo, f"{prefix}.{f.name}", f"must be >= {lo}, got {v}")


def validate_config(cfg: HwConfig) -> None:
    """Refuse impossible values, naming the key path."""
    _check(cfg.clock_ghz > 0, "clock_ghz", f"must be > 0, got {cfg.clock_ghz}")
    for name in (
        "fetcher", "bitwidth_converter", "qxk", "softmax", "decision", "topk", "probxv", "buffers"
    ):  # fmt: skip
        _positive_ints(getattr(cfg, name), name)
    from spatten_sim.hw.units import check_units

    check_units(cfg)  # impl names and pipeline depths (names the key)
    _check(
        cfg.timing.mode in TIMING_MODES,
        "timing.mode",
        f"must be one of {', '.join(TIMING_MODES)}, got {cfg.timing.mode!r}",
    )
    _check(1 <= cfg.buffers.word_bits <= 32, "buffers.word_bits", "must be 1..32")
    pol = cfg.policy
    for name in ("token_pruning", "head_pruning"):
        s: PruningSchedule = getattr(pol, name)
        for r in ("start_keep_ratio", "end_keep_ratio"):
            v = getattr(s, r)
            _check(0 < v <= 1, f"policy.{name}.{r}", f"must be in (0, 1], got {v}")
        _check(
            0 <= s.unpruned_layers_fraction <= 1,
            f"policy.{name}.unpruned_layers_fraction",
            f"must be in [0, 1], got {s.unpruned_layers_fraction}",
        )
    _check(
        pol.head_pruning_granularity in ("query_head", "kv_group"),
        "policy.head_pruning_granularity",
        f"must be 'query_head' or 'kv_group', got {pol.head_pruning_granularity!r}",
    )
    lv = pol.local_v_pruning.keep_ratio
    _check(0 < lv <= 1, "policy.local_v_pruning.keep_ratio", f"must be in (0, 1], got {lv}")
    q = pol.quantization
    for s in ("q", "k", "v"):
        msb, lsb = getattr(q, f"{s}_msb_bits"), getattr(q, f"{s}_lsb_bits")
        _check(msb >= 2, f"policy.quantization.{s}_msb_bits", f"must be >= 2, got {msb}")
        _check(lsb >= 0, f"policy.quantization.{s}_lsb_bits", f"must be >= 0, got {lsb}")
        _check(
            msb + lsb <= cfg.buffers.word_bits,
            f"policy.quantization.{s}_msb_bits",
            f"{s}_msb_bits + {s}_lsb_bits = {msb + lsb} exceeds buffers.word_bits "
            f"{cfg.buffers.word_bits} (the on-chip word)",
        )
    th = pol.progressive_quantization.threshold
    _check(
        0 <= th <= 1, "policy.progressive_quantization.threshold", f"must be in [0, 1], got {th}"
    )
    _check(isinstance(cfg.memory, dict), "memory", "must be a mapping")
    from spatten_sim.hw.memory import make_memory

    make_memory(dict(cfg.memory), cfg.clock_ghz)  # validates the section (names memory.<key>)


def check_head_dim(cfg: HwConfig, head_dim: int) -> None:
    """Refuse a head size the multiplier arrays cannot serve (docs/spatten.md §3: one SRAM line of
    ``multipliers / head_dim`` keys per cycle)."""
    for unit in ("qxk", "probxv"):
        m = getattr(cfg, unit).multipliers
        _check(
            head_dim <= m and m % head_dim == 0,
            f"{unit}.multipliers",
            f"{m} multipliers cannot serve head_dim {head_dim} (needs a multiple of it)",
        )
