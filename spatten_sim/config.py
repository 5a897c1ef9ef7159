"""Hardware and algorithm configuration (``hw.yaml``).

A configuration is a YAML file of nested sections; every hardware parameter of docs/spatten.md §3 is a
field with its unit in its name. A file may start from another with ``base: other.yaml`` (a path
relative to the file, or the name of a shipped preset in ``hw_configs/``) and override any field.
``--set a.b.c=value`` overrides (YAML-parsed values) apply last. Unknown keys, wrong types and
impossible values raise :class:`~spatten_sim.errors.ConfigError` naming the key path.

The configuration classes are frozen dataclasses that check themselves when they are built, however
they are built (:func:`load_config`, a constructor, ``dataclasses.replace``): each section checks
its own fields (types, ranges) and :class:`HwConfig` the rules across sections (quantization bits
vs. the on-chip word, the units' implementations and pipeline depths, the memory section), so an
:class:`HwConfig` that exists is valid::

    cfg = load_config("spatten")
    dataclasses.replace(cfg, buffers=dataclasses.replace(cfg.buffers, key_sram_bytes=-5))
    # ConfigError: buffers.key_sram_bytes: must be a positive integer, got -5

An integer given for a float field is stored as a float (``clock_ghz: 2`` is ``2.0``), and any
integral number (``numpy.int64``) for an integer field as an ``int``.

The ``memory`` section is validated by :func:`spatten_sim.hw.memory.make_memory` (it selects a
DRAM model preset and overrides its fields).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import yaml

from spatten_sim.errors import ConfigError
from spatten_sim.limits import LIMITS, short
from spatten_sim.yamlfile import parse_yaml, read_yaml


# ---------------------------------------------------------------------------------------------
# validation on construction
def _field_error(where: tuple[str, ...], key: str, reason: str) -> ConfigError:
    """The error of a section refusing one of its own fields: the message names the field by the
    section's place(s) in an :class:`HwConfig`; ``field`` and ``reason`` (attributes) let
    :func:`config_from_dict` name it by its place in the file instead."""
    paths = [f"{w}.{key}" if w else key for w in where] or [key]
    exc = ConfigError(f"{' or '.join(paths)}: {reason}")
    exc.field = key  # type: ignore[attr-defined]
    exc.reason = reason  # type: ignore[attr-defined]
    return exc


_FIELD_TYPES: dict[type, tuple[tuple[str, Any], ...]] = {}


def _field_types(cls: type) -> tuple[tuple[str, Any], ...]:
    """(name, type) of each field of a configuration class (cached: it is asked per instance)."""
    types = _FIELD_TYPES.get(cls)
    if types is None:
        hints = typing.get_type_hints(cls)
        types = _FIELD_TYPES[cls] = tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))
    return types


def _is_section(tp: Any) -> typing.TypeGuard[type]:
    """Whether a field's type is a configuration class (a nested section)."""
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """(whether ``value`` fits the field type ``tp``, the value to store)."""
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        return ok, int(value) if ok and type(value) is not int else value
    if tp is float:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        return ok, float(value) if ok and type(value) is not float else value
    if tp is str:
        return isinstance(value, str), value
    if tp is dict:
        ok = isinstance(value, Mapping)
        return ok, dict(value) if ok else value  # a copy: the caller's dict cannot change it
    if _is_section(tp):
        return isinstance(value, tp), value
    return False, value  # pragma: no cover - every field has one of the types above


def _type_name(tp: Any) -> str:
    if _is_section(tp):
        return f"a {tp.__name__} (a mapping in a file)"
    return tp.__name__ if isinstance(tp, type) else str(tp)


def _int_limit(name: str) -> str:
    """The limit (``spatten_sim.limits.LIMITS``) of an integer configuration field, by name."""
    if name.endswith("_sram_bytes"):
        return "sram_bytes"
    if name == "multipliers":
        return "multipliers"
    if name == "comparators":
        return "comparators"
    if name.endswith("_cycles"):
        return "cycles"
    if name.endswith("_bits"):
        return "bits"
    if name.endswith("_seed"):
        return "seed"
    return "depth"  # FIFO depths, entries, widths, parallelism, issue rates


class _Section:
    """Base of the configuration dataclasses: checks the fields' types on construction (storing
    ints given for floats as floats), then the section's own rules (:meth:`_check_values`)."""

    #: where the section sits in an HwConfig (the prefix of its key paths in error messages;
    #: two for the classes used twice, such as MultiplierArrayConfig for qxk and probxv)
    _WHERE: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for name, tp in _field_types(type(self)):
            value = getattr(self, name)
            ok, stored = _coerce(value, tp)
            if not ok:
                self._fail(name, f"expected {_type_name(tp)}, got {short(value)}")
            if stored is not value:
                object.__setattr__(self, name, stored)
            self._check_size(name, stored)
        self._check_values()

    def _check_size(self, name: str, value: Any) -> None:
        """Every number is finite and every count within its limit (``spatten_sim.limits``),
        before anything is sized from it."""
        if isinstance(value, bool):
            return
        if isinstance(value, float):
            self._check(math.isfinite(value), name, f"must be finite, got {value}")
        elif isinstance(value, int):
            lim = LIMITS[_int_limit(name)]
            self._check(
                value <= lim.hi,
                name,
                f"{short(value)} is above the limit of {lim.hi:,}{' ' + lim.unit if lim.unit else ''}"
                f" ({lim.why}; docs/limits.md)",
            )

    def _check_values(self) -> None:
        """The section's own rules (ranges, names); raises :meth:`_fail`."""

    def _fail(self, key: str, reason: str) -> NoReturn:
        raise _field_error(type(self)._WHERE, key, reason)

    def _check(self, cond: bool, key: str, reason: str) -> None:
        if not cond:
            self._fail(key, reason)

    def _positive_ints(self) -> None:
        """Every integer field >= 1, or >= 0 for a ``*_cycles`` latency."""
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if isinstance(v, int) and not isinstance(v, bool):
                if f.name.endswith("_cycles"):
                    self._check(v >= 0, f.name, f"must be a non-negative integer, got {v}")
                else:
                    self._check(v >= 1, f.name, f"must be a positive integer, got {v}")

    def _fraction(self, key: str, *, open_low: bool) -> None:
        """``key`` in (0, 1] (``open_low``) or [0, 1]."""
        v = getattr(self, key)
        ok = (0 < v <= 1) if open_low else (0 <= v <= 1)
        self._check(ok, key, f"must be in {'(0' if open_low else '[0'}, 1], got {v}")


class _PositiveIntSection(_Section):
    """A hardware section whose integer fields are sizes, counts and latencies."""

    def _check_values(self) -> None:
        self._positive_ints()


# ---------------------------------------------------------------------------------------------
# hardware sections
@dataclass(frozen=True)
class FetcherConfig(_PositiveIntSection):
    """Q-K-V fetcher with its address and data crossbars [docs/spatten.md §3]."""

    _WHERE: ClassVar[tuple[str, ...]] = ("fetcher",)

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
class BitwidthConverterConfig(_PositiveIntSection):
    """Muxes + shifter turning 4/6/8/12-bit DRAM words into the on-chip word."""

    _WHERE: ClassVar[tuple[str, ...]] = ("bitwidth_converter",)

    bytes_per_cycle: int = 512  #: input bandwidth (16 data FIFOs x 32 B at full rate)
    latency_cycles: int = 2


@dataclass(frozen=True)
class MultiplierArrayConfig(_PositiveIntSection):
    """A multiplier array + reconfigurable adder tree (QxK reads the K SRAM, probxV the V SRAM);
    one SRAM line of ``multipliers`` words is multiplied per cycle [docs/spatten.md §3]."""

    _WHERE: ClassVar[tuple[str, ...]] = ("qxk", "probxv")

    multipliers: int = 512
    multiplier_latency_cycles: int = 1
    adder_tree_stages: int = 6
    #: probxV only: elements the FIFO between the top-k engine and the array holds [RTL
    #: SpAttenController.scala StageMultiplyValue: a 64-entry queue of 8-score beats]; QxK reads
    #: its SRAM directly and ignores it
    input_fifo_depth: int = 512


@dataclass(frozen=True)
class SoftmaxConfig(_PositiveIntSection):
    """Softmax: dequantize, exp (Taylor on FP FMAs), accumulate, divide, requantize [C bert.cpp]."""

    _WHERE: ClassVar[tuple[str, ...]] = ("softmax",)

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
class DecisionConfig(_PositiveIntSection):
    """Progressive-quantization decision: a running max over the softmax output stream,
    compared with the threshold at the end of the query [RTL RequantDecision.scala]."""

    _WHERE: ClassVar[tuple[str, ...]] = ("decision",)

    fifo_depth: int = 16  #: entries between softmax and the decision (two 8-wide registers)
    latency_cycles: int = 1


@dataclass(frozen=True)
class TopkEngineConfig(_PositiveIntSection):
    """Quick-select top-k engines (token/head and local-V) [docs/spatten.md §3]."""

    _WHERE: ClassVar[tuple[str, ...]] = ("topk",)

    impl: str = "quick_select"  #: hw/units/topk_engine.py
    comparators: int = 16  #: per comparator array
    fifo_depth: int = 64  #: FIFO_L / FIFO_R entries
    round_overhead_cycles: int = 3


@dataclass(frozen=True)
class BuffersConfig(_Section):
    """On-chip K and V SRAM, double-buffered [docs/spatten.md §3: 2 x 1024 x 64 x 12 bit]."""

    _WHERE: ClassVar[tuple[str, ...]] = ("buffers",)

    key_sram_bytes: int = 196608
    value_sram_bytes: int = 196608
    word_bits: int = 12  #: on-chip fixed-point word width
    double_buffered: bool = True

    def _check_values(self) -> None:
        self._positive_ints()
        self._check(1 <= self.word_bits <= 32, "word_bits", f"must be 1..32, got {self.word_bits}")


#: timing.mode values (TimingConfig.mode)
TIMING_MODES = ("fast", "reference")


@dataclass(frozen=True)
class TimingConfig(_Section):
    """How the timing phase sequences the work (docs/timing-model.md §7)."""

    _WHERE: ClassVar[tuple[str, ...]] = ("timing",)

    #: true: a layer starts after the previous one has finished (its Q/K/V come from the FC
    #: layers, which are not simulated); false: requests stream back to back across layers, as
    #: the official RTL test bench drives them (TestSpAtten.scala), ignoring that dependency
    layer_barrier: bool = True
    #: ``fast`` (default): the production paths (the fast HBM2 kernel, transaction addresses and
    #: row-ready cycles in Numba); ``reference``: the simple paths they are tested against (the
    #: reference HBM2 kernel, numpy addresses). Both give identical reports but for wall time.
    mode: str = "fast"

    def _check_values(self) -> None:
        self._check(
            self.mode in TIMING_MODES,
            "mode",
            f"must be one of {', '.join(TIMING_MODES)}, got {self.mode!r}",
        )


@dataclass(frozen=True)
class EnergyConfig(_Section):
    """Per-action energy table: a shipped table name or a YAML path, plus leakage."""

    _WHERE: ClassVar[tuple[str, ...]] = ("energy",)

    table: str = "default"


# ---------------------------------------------------------------------------------------------
# algorithm policy
@dataclass(frozen=True)
class PruningSchedule(_Section):
    """A cascade pruning schedule [docs/spatten.md §2]: the first ``unpruned_layers_fraction`` of
    layers keep everything; over the rest the keep ratio goes linearly from
    ``start_keep_ratio`` to ``end_keep_ratio``."""

    _WHERE: ClassVar[tuple[str, ...]] = ("policy.token_pruning", "policy.head_pruning")

    enabled: bool = False
    start_keep_ratio: float = 1.0
    end_keep_ratio: float = 1.0
    unpruned_layers_fraction: float = 0.15

    def _check_values(self) -> None:
        self._fraction("start_keep_ratio", open_low=True)
        self._fraction("end_keep_ratio", open_low=True)
        self._fraction("unpruned_layers_fraction", open_low=False)


#: policy.token_pruning.kind values (docs/algorithms.md, "Token-pruning policies")
TOKEN_PRUNING_KINDS = ("cascade", "spatten_llm", "h2o", "streaming")
#: the kinds that keep a KV cache of a given size (start + recent + important tokens)
KV_CACHE_KINDS = ("spatten_llm", "h2o", "streaming")


@dataclass(frozen=True)
class TokenPruningConfig(PruningSchedule):
    """Token pruning: which tokens each layer keeps (docs/algorithms.md, "Token-pruning
    policies"; the logic is :mod:`spatten_sim.algo.token_policy`).

    ``kind`` ``cascade`` (default) is SpAtten's cascade schedule (``start_keep_ratio`` ..
    ``end_keep_ratio``, both stages). The KV-cache kinds keep, in each layer after the first
    ``unpruned_layers_fraction``, a cache of ``budget_ratio`` of the context (or
    ``budget_tokens``): ``spatten_llm`` the first ``start_tokens``, the most recent
    ``recent_ratio``/``recent_tokens`` and the rest by cumulative importance (all layers); ``h2o``
    the same with a per-layer score (heavy hitters); ``streaming`` the first ``start_tokens``
    (attention sinks) and a window of the most recent. They evict in generation (the prompt's
    cache at the first generation iteration, i.e. after the prefill), and in summarization too
    with ``in_summarization``. ``normalize_scores`` divides a token's accumulated score by the
    number of (head, query) probabilities it received. The cascade's ratios are ignored by the
    other kinds; the KV-cache keys must stay 0 for ``cascade``.
    """

    _WHERE: ClassVar[tuple[str, ...]] = ("policy.token_pruning",)

    kind: str = "cascade"
    budget_ratio: float = 0.0  #: KV-cache kinds: tokens kept / context length (0: budget_tokens)
    budget_tokens: int = 0  #: KV-cache kinds: tokens kept (0: budget_ratio)
    start_tokens: int = 0  #: the first tokens, always kept (attention sinks)
    recent_ratio: float = 0.0  #: spatten_llm, h2o: recent window / context length
    recent_tokens: int = 0  #: spatten_llm, h2o: recent window in tokens
    normalize_scores: bool = False  #: score / number of (head, query) that saw the token
    in_summarization: bool = False  #: KV-cache kinds: also prune the prompt pass

    def _check_values(self) -> None:
        super()._check_values()
        k = self.kind
        self._check(
            k in TOKEN_PRUNING_KINDS,
            "kind",
            f"must be one of {', '.join(TOKEN_PRUNING_KINDS)}, got {short(k)}",
        )
        for key in ("budget_ratio", "recent_ratio"):
            self._fraction(key, open_low=False)
        for key in ("budget_tokens", "start_tokens", "recent_tokens"):
            v = getattr(self, key)
            self._check(v >= 0, key, f"must be a non-negative integer, got {v}")
        sized = ("budget_ratio", "budget_tokens", "start_tokens", "recent_ratio", "recent_tokens")
        if k == "cascade":
            for key in sized:
                self._check(
                    not getattr(self, key),
                    key,
                    "sizes the KV cache of kinds spatten_llm, h2o and streaming; kind cascade "
                    "uses start_keep_ratio and end_keep_ratio (leave it 0)",
                )
            self._check(
                not self.in_summarization,
                "in_summarization",
                "kind cascade always prunes in both stages (leave it false)",
            )
            return
        self._check(
            (self.budget_ratio > 0) != (self.budget_tokens > 0),
            "budget_ratio",
            f"kind {k} needs the size of its cache: budget_ratio (a fraction of the context) "
            "or budget_tokens, exactly one of them above 0",
        )
        self._check(
            not (self.recent_ratio > 0 and self.recent_tokens > 0),
            "recent_ratio",
            "give the recent window as recent_ratio or as recent_tokens, not both",
        )
        if k == "streaming":
            for key in ("recent_ratio", "recent_tokens"):
                self._check(
                    not getattr(self, key),
                    key,
                    "kind streaming's window is the budget less start_tokens (leave it 0)",
                )
            self._check(
                not self.normalize_scores,
                "normalize_scores",
                "kind streaming keeps tokens by position: it has no scores to normalize",
            )
        if k == "h2o":
            self._check(
                not self.in_summarization,
                "in_summarization",
                "kind h2o's scores are per layer, and a layer has none before it has run in "
                "the prompt pass: its prefill is dense (use spatten_llm or streaming to prune "
                "the prompt)",
            )
        if self.budget_tokens:
            fixed = self.start_tokens + self.recent_tokens
            self._check(
                fixed <= self.budget_tokens,
                "budget_tokens",
                f"{self.budget_tokens} tokens cannot hold start_tokens + recent_tokens = {fixed}",
            )
        elif self.recent_ratio:
            self._check(
                self.recent_ratio <= self.budget_ratio,
                "recent_ratio",
                f"{self.recent_ratio:g} is above budget_ratio {self.budget_ratio:g}",
            )


@dataclass(frozen=True)
class LocalVConfig(_Section):
    """Local value pruning: per query, only the V rows of the top probabilities.

    In generation it cuts V fetches from DRAM (the memory-bound stage). In summarization V is
    already on chip, so it saves only probxV multiplies while the local-V top-k engine spends
    ``ceil(n/16) + 3`` cycles per quick-select round on every query (the official latency
    model), more than QxK's ``n / 8`` for contexts under ~1k tokens; it is therefore applied in
    summarization only when ``in_summarization`` is true.
    """

    _WHERE: ClassVar[tuple[str, ...]] = ("policy.local_v_pruning",)

    enabled: bool = False
    keep_ratio: float = 1.0
    in_summarization: bool = False

    def _check_values(self) -> None:
        self._fraction("keep_ratio", open_low=True)


@dataclass(frozen=True)
class QuantizationConfig(_Section):
    """Linear symmetric fixed point; MSBs and LSBs live in separate DRAM regions (their sum must
    fit ``buffers.word_bits``, which :class:`HwConfig` checks)."""

    _WHERE: ClassVar[tuple[str, ...]] = ("policy.quantization",)

    q_msb_bits: int = 12
    q_lsb_bits: int = 0
    k_msb_bits: int = 12
    k_lsb_bits: int = 0
    v_msb_bits: int = 12
    v_lsb_bits: int = 0

    def _check_values(self) -> None:
        for s in ("q", "k", "v"):
            msb, lsb = getattr(self, f"{s}_msb_bits"), getattr(self, f"{s}_lsb_bits")
            self._check(msb >= 2, f"{s}_msb_bits", f"must be >= 2, got {msb}")
            self._check(lsb >= 0, f"{s}_lsb_bits", f"must be >= 0, got {lsb}")


@dataclass(frozen=True)
class ProgressiveConfig(_Section):
    """Progressive quantization: fetch MSBs; if max prob < threshold, fetch LSBs and redo."""

    _WHERE: ClassVar[tuple[str, ...]] = ("policy.progressive_quantization",)

    enabled: bool = False
    threshold: float = 0.1
    in_summarization: bool = False

    def _check_values(self) -> None:
        self._fraction("threshold", open_low=False)


#: policy.head_pruning_granularity values
HEAD_PRUNING_GRANULARITIES = ("query_head", "kv_group")


@dataclass(frozen=True)
class PolicyConfig(_Section):
    """The algorithm: cascade token/head pruning, local V pruning, quantization, progressive
    quantization [docs/spatten.md §2]."""

    _WHERE: ClassVar[tuple[str, ...]] = ("policy",)

    token_pruning: TokenPruningConfig = field(default_factory=TokenPruningConfig)
    head_pruning: PruningSchedule = field(
        default_factory=lambda: PruningSchedule(unpruned_layers_fraction=0.3)
    )
    #: GQA: "query_head" prunes single query heads; "kv_group" prunes a K/V head with its group
    head_pruning_granularity: str = "query_head"
    local_v_pruning: LocalVConfig = field(default_factory=LocalVConfig)
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    progressive_quantization: ProgressiveConfig = field(default_factory=ProgressiveConfig)
    topk_seed: int = 0  #: seed of the top-k engines' pivot hash

    def __post_init__(self) -> None:
        tp = self.token_pruning
        if type(tp) is PruningSchedule:  # a plain cascade schedule: the cascade kind
            object.__setattr__(self, "token_pruning", TokenPruningConfig(**dataclasses.asdict(tp)))
        super().__post_init__()

    def _check_values(self) -> None:
        self._check(
            0 <= self.topk_seed <= LIMITS["seed"].hi,
            "topk_seed",
            f"must be in 0..2**63-1, got {short(self.topk_seed)}",
        )
        g = self.head_pruning_granularity
        self._check(
            g in HEAD_PRUNING_GRANULARITIES,
            "head_pruning_granularity",
            f"must be 'query_head' or 'kv_group', got {g!r}",
        )


@dataclass(frozen=True)
class HwConfig(_Section):
    """A complete configuration (hardware + memory + energy + policy), valid by construction.

    Build one with :func:`load_config` (a shipped preset name or a YAML file, plus ``--set`` style
    overrides) and derive variants with ``dataclasses.replace``; every way of building one checks
    it and raises :class:`~spatten_sim.errors.ConfigError` naming the key path.

    >>> import dataclasses
    >>> cfg = HwConfig()
    >>> dataclasses.replace(cfg, topk=dataclasses.replace(cfg.topk, comparators=4)).topk.comparators
    4
    >>> dataclasses.replace(cfg, buffers=dataclasses.replace(cfg.buffers, key_sram_bytes=-5))
    Traceback (most recent call last):
    ...
    spatten_sim.errors.ConfigError: buffers.key_sram_bytes: must be a positive integer, got -5
    """

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

    def _check_values(self) -> None:
        """The rules across sections (each section has checked its own fields)."""
        lo, hi = LIMITS["clock_hz"].lo / 1e9, LIMITS["clock_hz"].hi / 1e9
        self._check(
            lo <= self.clock_ghz <= hi,
            "clock_ghz",
            f"must be in [{lo:g}, {hi:g}] GHz, got {self.clock_ghz:g}",
        )
        from spatten_sim.hw.units import check_units

        check_units(self)  # impl names and pipeline depths (names the key)
        q = self.policy.quantization
        for s in ("q", "k", "v"):
            msb, lsb = getattr(q, f"{s}_msb_bits"), getattr(q, f"{s}_lsb_bits")
            self._check(
                msb + lsb <= self.buffers.word_bits,
                f"policy.quantization.{s}_msb_bits",
                f"{s}_msb_bits + {s}_lsb_bits = {msb + lsb} exceeds buffers.word_bits "
                f"{self.buffers.word_bits} (the on-chip word)",
            )
        from spatten_sim.hw.memory import make_memory

        make_memory(dict(self.memory), self.clock_ghz)  # validates the section (names memory.<key>)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as nested plain dicts (the layout of ``hw.yaml``)."""
        return asdict(self)

    def to_yaml(self) -> str:
        """The configuration as YAML (loads back to an equal :class:`HwConfig`)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# ---------------------------------------------------------------------------------------------
# loading
def _build(cls: type, data: Any, path: str) -> Any:
    """Build ``cls`` from a mapping: unknown keys are refused here, types and values by the
    classes themselves (re-raised under the key path ``path``)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path or '<top>'}: expected a mapping, got {type(data).__name__}")
    types = dict(_field_types(cls))
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        kp = f"{path}.{key}" if path else str(key)
        if key not in types:
            raise ConfigError(f"{kp}: unknown key (known: {', '.join(sorted(types))})")
        tp = types[key]
        kwargs[key] = _build(tp, value, kp) if _is_section(tp) else value
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        key = getattr(exc, "field", None)
        if key is None or not path:  # already names the full key path
            raise
        raise ConfigError(f"{path}.{key}: {exc.reason}") from None  # type: ignore[attr-defined]


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
        value = parse_yaml(raw) if raw.strip() else ""
    except (yaml.YAMLError, ValueError):
        raise ConfigError(f"--set {short(item)}: value is not valid YAML") from None
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
    """Build (and so validate) an :class:`HwConfig` from a (merged) mapping."""
    cfg: HwConfig = _build(HwConfig, data, "")
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
    # one row of one head (head_dim words) must fit each buffer, twice when double-buffered
    row = head_dim * cfg.buffers.word_bits // 8
    need = row * (2 if cfg.buffers.double_buffered else 1)
    for key in ("key_sram_bytes", "value_sram_bytes"):
        have = getattr(cfg.buffers, key)
        _check(
            have >= need,
            f"buffers.{key}",
            f"{have} B cannot hold one {head_dim}-element row of {cfg.buffers.word_bits}-bit "
            f"words{' per half (double-buffered)' if cfg.buffers.double_buffered else ''} "
            f"({need} B at least)",
        )
