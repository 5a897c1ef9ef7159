"""Energy model: action counts from the timing phase x a per-action energy table, plus leakage.

Accelergy-style: the timing phase counts actions (``actions[unit][action]``, e.g. ``qxk.multiplies``
or ``dram.activations``) and passes the sizes of the hardware (``params[unit]``, e.g. the multiplier
width or an SRAM's capacity and line width). :func:`compute_energy` prices every action with an
:class:`EnergyTable` loaded from YAML (the shipped one is ``spatten_sim/data/energy/default.yaml``)
and adds leakage x run time. Every figure in a table has a value, a unit and a source; the
formulas that turn figures and sizes into pJ per action are the ``model`` of each action:

``int_mult``
    ``E(b) = E8 (b/8)^a``, with ``a = ln(E32/E8) / ln 4`` through Horowitz's 8- and 32-bit
    multipliers (``a`` = 1.98: quadratic in the width).
``int_add``
    the same law through the 8- and 32-bit adders (``a`` = 0.87: close to linear).
``primitive`` / ``fp_div``
    one published figure (fp32 add, fp32 multiply); a divide is ``fp_div_in_mults`` multiplies.
``sram_read`` / ``sram_write`` / ``fifo``
    CACTI-like: a macro of ``rows`` = capacity / line entries and ``line_bits`` columns is built
    from 64-bit-wide sub-arrays of the same depth, so ``E_line = (line_bits/64) E64(rows x 8 B)``
    with ``E64(c) = A (c / 8 KB)^b`` fitted (least squares in log-log) to Horowitz's 64-bit reads
    from 8 KB, 32 KB and 1 MB SRAMs (``b`` ~ 0.5: bitline and H-tree energy grow with the square
    root of the array). A write costs ``sram_write_over_read`` reads.
``wire``
    crossbar traversal: ``bits x wire_pj_per_bit_mm x wire_activity x crossbar_distance_mm``.
``zero_eliminator``
    one element through the prefix sum and ``log2(P)`` shifter stages: ``(1 + log2 P)`` adds.
``dram_activation`` / ``dram_bytes`` / ``dram_refresh``
    HBM2 (O'Connor et al. 2017): energy per ACT, ``8 x (pre-GSA + post-GSA + I/O)`` pJ per byte
    read or written, and energy per all-bank refresh of a pseudo-channel.

Figures measured at 45 nm (``node_nm: 45``) are multiplied by the table's one stated
``node_scaling.dynamic_energy_factor``. Categories: ``dram``, ``sram`` (K/V SRAMs and the FIFO
macros, which the paper counted with CACTI), ``compute`` (everything else: arithmetic, comparators,
converters, crossbars) and ``leakage``. See ``docs/energy.md`` for the table, the formulas and the
comparison with the paper's 8.30 W split (:func:`paper_operating_point_power`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatten_sim.errors import ConfigError
from spatten_sim.yamlfile import read_yaml

#: folder of the shipped energy tables
TABLE_DIR = Path(__file__).resolve().parent / "data" / "energy"

CATEGORIES = ("dram", "sram", "compute", "leakage")
LEAKAGE_UNIT = "leakage"

#: model -> (primitives it needs, option keys it accepts)
_MODELS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "int_mult": (("int_mult_8b", "int_mult_32b"), ("bits", "bits_param", "bits_factor")),
    "int_add": (("int_add_8b", "int_add_32b"), ("bits", "bits_param", "bits_factor")),
    "primitive": ((), ("primitive",)),
    "fp_div": (("fp32_mult", "fp_div_in_mults"), ()),
    "sram_read": (
        ("sram_read_64b_8kb", "sram_read_64b_32kb", "sram_read_64b_1mb"),
        ("capacity_param", "line_param"),
    ),
    "sram_write": (
        ("sram_read_64b_8kb", "sram_read_64b_32kb", "sram_read_64b_1mb", "sram_write_over_read"),
        ("capacity_param", "line_param"),
    ),
    "fifo": (
        ("sram_read_64b_8kb", "sram_read_64b_32kb", "sram_read_64b_1mb"),
        ("entry_bits", "depth_param", "instances"),
    ),
    "wire": (("wire_pj_per_bit_mm", "wire_activity", "crossbar_distance_mm"), ("bits",)),
    "zero_eliminator": (("int_add_8b", "int_add_32b"), ("bits", "comparators_param")),
    "dram_activation": (("dram_activation_pj",), ()),
    "dram_bytes": (
        ("dram_pre_gsa_pj_per_bit", "dram_post_gsa_pj_per_bit", "dram_io_pj_per_bit"),
        (),
    ),
    "dram_refresh": (("dram_refresh_pj",), ()),
}
#: the Horowitz SRAM anchors (64-bit reads from 8 KB, 32 KB and 1 MB) and their sizes in bytes
_SRAM_ANCHORS = (
    ("sram_read_64b_8kb", 8 * 1024),
    ("sram_read_64b_32kb", 32 * 1024),
    ("sram_read_64b_1mb", 1024 * 1024),
)
#: figures that enter one law together and so must be given at the same node
_SAME_NODE = (
    ("int_add_8b", "int_add_32b"),
    ("int_mult_8b", "int_mult_32b"),
    tuple(k for k, _ in _SRAM_ANCHORS),
)
_SRAM_REF_BYTES = 8 * 1024
_LEAKAGE_KEYS = ("logic_mw", "sram_mw_per_kb")


@dataclass(frozen=True)
class Figure:
    """One published or assumed figure: ``value`` in ``unit``, with its ``source``.

    ``node_nm`` is the process node the figure was measured at (None: node-independent)."""

    value: float
    unit: str
    source: str
    node_nm: float | None = None


@dataclass(frozen=True)
class ActionSpec:
    """How one action of one unit is priced: its category, model and model options."""

    category: str
    model: str
    options: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class EnergyTable:
    """A per-action energy table (see the module docstring for the models).

    ``primitives`` are the figures, ``params`` the default sizes per unit, ``actions`` the
    pricing of every known unit/action, ``leakage`` the static power figures (40 nm)."""

    name: str
    path: str
    from_nm: float
    to_nm: float
    node_factor: Figure
    primitives: Mapping[str, Figure]
    params: Mapping[str, Mapping[str, float]]
    actions: Mapping[str, Mapping[str, ActionSpec]]
    leakage: Mapping[str, Figure]

    # ----------------------------------------------------------------- figures at the target node
    def node_scale(self, name: str) -> float:
        """The node-scaling factor of primitive ``name``: the table's factor if it was given at
        ``node_scaling.from_nm``, else 1."""
        node = self.primitives[name].node_nm
        return self.node_factor.value if node is not None and node == self.from_nm else 1.0

    def primitive_pj(self, name: str) -> float:
        """The value of primitive ``name`` at the target node (45 nm figures scaled)."""
        return self.primitives[name].value * self.node_scale(name)

    def width_exponent(self, kind: str) -> float:
        """Exponent ``a`` of ``E(b) = E8 (b/8)^a`` for ``kind`` in {"int_mult", "int_add"}."""
        e8 = self.primitives[f"{kind}_8b"].value
        e32 = self.primitives[f"{kind}_32b"].value
        return math.log(e32 / e8) / math.log(4.0)

    def int_op_pj(self, kind: str, bits: float) -> float:
        """Energy of one ``bits``-wide integer multiply or add (``kind``), at the target node."""
        return self.primitive_pj(f"{kind}_8b") * (bits / 8.0) ** self.width_exponent(kind)

    def sram_fit(self) -> tuple[float, float]:
        """``(A_pj, b)`` of ``E64(c) = A (c / 8 KB)^b`` (45 nm figures, unscaled), least squares
        in log-log over the three Horowitz anchors."""
        xs = [math.log(size / _SRAM_REF_BYTES) for _, size in _SRAM_ANCHORS]
        ys = [math.log(self.primitives[k].value) for k, _ in _SRAM_ANCHORS]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
        b /= sum((x - mx) ** 2 for x in xs)
        return math.exp(my - b * mx), b

    def sram_64b_pj(self, capacity_bytes: float) -> float:
        """Energy of a 64-bit access to a 64-bit-wide SRAM of ``capacity_bytes`` (target node)."""
        a_pj, b = self.sram_fit()
        scale = self.node_scale(_SRAM_ANCHORS[0][0])  # the anchors share a node (checked on load)
        return a_pj * (max(capacity_bytes, 1.0) / _SRAM_REF_BYTES) ** b * scale

    def sram_line_pj(self, capacity_bytes: float, line_bytes: float) -> float:
        """Energy of one ``line_bytes`` access to an SRAM of ``capacity_bytes``: ``line_bits/64``
        64-bit sub-arrays of ``capacity / line`` rows each (``rows x 8 B``)."""
        if capacity_bytes <= 0 or line_bytes <= 0:
            raise ValueError("SRAM capacity_bytes and line_bytes must be positive")
        rows = capacity_bytes / line_bytes
        return (line_bytes * 8.0 / 64.0) * self.sram_64b_pj(rows * 8.0)

    # ----------------------------------------------------------------- per action
    def unit_params(self, unit: str, given: Mapping[str, float] | None) -> dict[str, float]:
        """The table's default sizes of ``unit`` overridden by ``given``; unknown keys raise."""
        merged = dict(self.params.get(unit, {}))
        for key, value in (given or {}).items():
            if key not in merged:
                raise ValueError(
                    f"energy: unknown parameter {unit}.{key} (known: {', '.join(sorted(merged))})"
                )
            merged[key] = float(value)
        return merged

    def action_pj(self, unit: str, action: str, params: Mapping[str, float] | None = None) -> float:
        """Energy in pJ of one ``action`` of ``unit`` with sizes ``params`` (defaults: table)."""
        spec = self._spec(unit, action)
        p = self.unit_params(unit, params)
        o = spec.options
        m = spec.model
        if m in ("int_mult", "int_add"):
            return self.int_op_pj(m, _bits(o, p))
        if m == "primitive":
            return self.primitive_pj(o["primitive"])
        if m == "fp_div":
            return self.primitive_pj("fp_div_in_mults") * self.primitive_pj("fp32_mult")
        if m in ("sram_read", "sram_write"):
            e = self.sram_line_pj(
                p[o.get("capacity_param", "capacity_bytes")], p[o.get("line_param", "line_bytes")]
            )
            return e * (self.primitive_pj("sram_write_over_read") if m == "sram_write" else 1.0)
        if m == "fifo":
            entry_bytes = float(o["entry_bits"]) / 8.0
            return self.sram_line_pj(p[o["depth_param"]] * entry_bytes, entry_bytes)
        if m == "wire":
            return (
                float(o["bits"])
                * self.primitive_pj("wire_pj_per_bit_mm")
                * self.primitive_pj("wire_activity")
                * self.primitive_pj("crossbar_distance_mm")
            )
        if m == "zero_eliminator":
            stages = 1.0 + math.log2(max(p[o["comparators_param"]], 1.0))
            return stages * self.int_op_pj("int_add", float(o["bits"]))
        if m == "dram_activation":
            return self.primitive_pj("dram_activation_pj")
        if m == "dram_bytes":
            per_bit = sum(
                self.primitive_pj(k)
                for k in (
                    "dram_pre_gsa_pj_per_bit",
                    "dram_post_gsa_pj_per_bit",
                    "dram_io_pj_per_bit",
                )
            )
            return 8.0 * per_bit
        if m == "dram_refresh":
            return self.primitive_pj("dram_refresh_pj")
        raise AssertionError(f"unhandled model {m}")  # models are validated at load time

    def sram_leakage_kb(self, params: Mapping[str, Mapping[str, float]] | None = None) -> float:
        """KB of SRAM macros that leak: each SRAM unit once, plus every FIFO's instances."""
        total_bytes = 0.0
        for unit, acts in self.actions.items():
            p = self.unit_params(unit, (params or {}).get(unit))
            counted = False
            for spec in acts.values():
                if spec.model in ("sram_read", "sram_write") and not counted:
                    total_bytes += p[spec.options.get("capacity_param", "capacity_bytes")]
                    counted = True
                elif spec.model == "fifo":
                    total_bytes += (
                        float(spec.options.get("instances", 1))
                        * p[spec.options["depth_param"]]
                        * float(spec.options["entry_bits"])
                        / 8.0
                    )
        return total_bytes / 1024.0

    def _spec(self, unit: str, action: str) -> ActionSpec:
        if unit not in self.actions:
            raise ValueError(
                f"energy: unknown unit {unit!r} (known: {', '.join(sorted(self.actions))})"
            )
        if action not in self.actions[unit]:
            known = ", ".join(sorted(self.actions[unit]))
            raise ValueError(f"energy: unknown action {unit}.{action} (known: {known})")
        return self.actions[unit][action]


def _bits(options: Mapping[str, Any], params: Mapping[str, float]) -> float:
    if "bits" in options:
        return float(options["bits"])
    return float(params[options["bits_param"]]) * float(options.get("bits_factor", 1.0))


# ------------------------------------------------------------------------------------- loading
def load_energy_table(name_or_path: str) -> EnergyTable:
    """Load an energy table: ``"default"`` (or another shipped name) or a YAML path.

    Every problem (missing file, bad YAML, an entry without value/unit/source, an unknown model or
    a missing primitive) raises :class:`~spatten_sim.errors.ConfigError` with a one-line message
    naming the key."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = TABLE_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(f"energy.table: file not found: {name_or_path}")
    shipped = path.resolve().parent == TABLE_DIR.resolve()  # a table of the package
    data = read_yaml(path, ConfigError, prefix="energy.table: ", shipped=shipped)
    return _parse_table(data, str(path))


def _parse_table(data: Any, path: str) -> EnergyTable:
    where = f"energy table {path}"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level")
    for key in ("node_scaling", "primitives", "params", "actions", "leakage"):
        if not isinstance(data.get(key), dict):
            raise ConfigError(f"{where}: {key}: missing or not a mapping")
    ns = data["node_scaling"]
    for key in ("from_nm", "to_nm"):
        if not isinstance(ns.get(key), int | float):
            raise ConfigError(f"{where}: node_scaling.{key}: expected a number")
    node_factor = _figure(
        ns.get("dynamic_energy_factor"), "node_scaling.dynamic_energy_factor", where
    )
    prims = {k: _figure(v, f"primitives.{k}", where) for k, v in data["primitives"].items()}
    for k, fig in prims.items():
        if fig.node_nm is not None and fig.node_nm not in (ns["from_nm"], ns["to_nm"]):
            raise ConfigError(
                f"{where}: primitives.{k}.node_nm: {fig.node_nm} is neither node_scaling.from_nm "
                f"nor to_nm"
            )
        if fig.value < 0:
            raise ConfigError(f"{where}: primitives.{k}.value: must be >= 0")
    for group in _SAME_NODE:
        present = [k for k in group if k in prims]
        if len({prims[k].node_nm for k in present}) > 1:
            raise ConfigError(
                f"{where}: primitives.{present[-1]}.node_nm: must equal that of {present[0]} "
                f"(they enter one scaling law)"
            )
        if any(prims[k].value <= 0 for k in present):
            bad = next(k for k in present if prims[k].value <= 0)
            raise ConfigError(f"{where}: primitives.{bad}.value: must be > 0 (used in a log law)")
    leakage = {k: _figure(v, f"leakage.{k}", where) for k, v in data["leakage"].items()}
    for k in _LEAKAGE_KEYS:
        if k not in leakage:
            raise ConfigError(f"{where}: leakage.{k}: missing")
    params: dict[str, dict[str, float]] = {}
    for unit, ps in data["params"].items():
        if not isinstance(ps, dict):
            raise ConfigError(f"{where}: params.{unit}: expected a mapping")
        for k, v in ps.items():
            if not isinstance(v, int | float) or isinstance(v, bool):
                raise ConfigError(f"{where}: params.{unit}.{k}: expected a number")
        params[unit] = {k: float(v) for k, v in ps.items()}
    actions: dict[str, dict[str, ActionSpec]] = {}
    for unit, acts in data["actions"].items():
        if not isinstance(acts, dict):
            raise ConfigError(f"{where}: actions.{unit}: expected a mapping")
        if unit == LEAKAGE_UNIT:
            raise ConfigError(f"{where}: actions.{unit}: reserved unit name")
        params.setdefault(unit, {})
        actions[unit] = {
            a: _action(spec, f"actions.{unit}.{a}", where, prims, params[unit])
            for a, spec in acts.items()
        }
    return EnergyTable(
        name=str(data.get("name", Path(path).stem)),
        path=path,
        from_nm=float(ns["from_nm"]),
        to_nm=float(ns["to_nm"]),
        node_factor=node_factor,
        primitives=prims,
        params=params,
        actions=actions,
        leakage=leakage,
    )


def _figure(entry: Any, key: str, where: str) -> Figure:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: {key}: expected a mapping with value, unit, source")
    value = entry.get("value")
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ConfigError(f"{where}: {key}.value: expected a finite number")
    for k in ("unit", "source"):
        if not isinstance(entry.get(k), str) or not entry[k].strip():
            raise ConfigError(f"{where}: {key}.{k}: missing (every figure needs a {k})")
    unknown = set(entry) - {"value", "unit", "source", "node_nm"}
    if unknown:
        raise ConfigError(f"{where}: {key}.{sorted(unknown)[0]}: unknown key")
    node = entry.get("node_nm")
    if node is not None and not isinstance(node, int | float):
        raise ConfigError(f"{where}: {key}.node_nm: expected a number")
    return Figure(
        float(value), entry["unit"], entry["source"].strip(), None if node is None else float(node)
    )


def _action(
    spec: Any, key: str, where: str, prims: Mapping[str, Figure], params: Mapping[str, float]
) -> ActionSpec:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: {key}: expected a mapping with category and model")
    category = spec.get("category")
    if category not in ("dram", "sram", "compute"):
        raise ConfigError(f"{where}: {key}.category: expected dram, sram or compute")
    model = spec.get("model")
    if model not in _MODELS:
        raise ConfigError(
            f"{where}: {key}.model: unknown model {model!r} (known: {', '.join(sorted(_MODELS))})"
        )
    needs, accepted = _MODELS[model]
    options = {k: v for k, v in spec.items() if k not in ("category", "model", "note")}
    for k in options:
        if k not in accepted:
            raise ConfigError(f"{where}: {key}.{k}: not an option of model {model}")
    if model == "primitive":
        name = options.get("primitive")
        if name not in prims:
            raise ConfigError(f"{where}: {key}.primitive: unknown primitive {name!r}")
    for prim in needs:
        if prim not in prims:
            raise ConfigError(f"{where}: primitives.{prim}: missing (needed by {key})")
    if model in ("int_mult", "int_add") and "bits" not in options and "bits_param" not in options:
        raise ConfigError(f"{where}: {key}: needs bits or bits_param")
    if (
        model in ("fifo", "wire", "zero_eliminator")
        and "bits" not in options
        and ("entry_bits" not in options)
    ):
        raise ConfigError(f"{where}: {key}: needs {'entry_bits' if model == 'fifo' else 'bits'}")
    for k, v in options.items():
        if k.endswith("_param") and v not in params:
            raise ConfigError(f"{where}: {key}.{k}: {v!r} is not in params of this unit")
    if model in ("sram_read", "sram_write"):
        for k, default in (("capacity_param", "capacity_bytes"), ("line_param", "line_bytes")):
            if options.get(k, default) not in params:
                raise ConfigError(f"{where}: {key}: params of this unit lack {default!r}")
    if model == "fifo" and "depth_param" not in options:
        raise ConfigError(f"{where}: {key}: needs depth_param")
    if model == "zero_eliminator" and "comparators_param" not in options:
        raise ConfigError(f"{where}: {key}: needs comparators_param")
    return ActionSpec(
        category=category, model=model, options=options, note=str(spec.get("note", ""))
    )


# ------------------------------------------------------------------------------------- energy
@dataclass(frozen=True)
class EnergyReport:
    """Energy of one run: total, per unit (plus ``leakage``), per category, per action (pJ), and
    the average power per category and in total (mW) over the run time."""

    total_pj: float
    by_unit_pj: dict[str, float]
    by_category_pj: dict[str, float]
    by_action_pj: dict[str, dict[str, float]]
    average_power_mw: dict[str, float]


def compute_energy(
    actions: dict[str, dict[str, float]],
    params: dict[str, dict[str, float]],
    seconds: float,
    table: EnergyTable,
) -> EnergyReport:
    """Price the action counts of a run with ``table`` and add leakage over ``seconds``.

    ``actions[unit][action]`` are counts; a unit or action the table does not know raises
    ValueError (a typo must not be priced at 0); a known one that is missing counts 0.
    ``params[unit]`` override the table's default sizes (unknown keys raise ValueError)."""
    if not (seconds >= 0 and math.isfinite(seconds)):
        raise ValueError(f"energy: seconds must be finite and >= 0, got {seconds!r}")
    for unit in params:
        if unit not in table.actions:
            raise ValueError(f"energy: unknown unit {unit!r} in params")
    by_action: dict[str, dict[str, float]] = {
        u: dict.fromkeys(a, 0.0) for u, a in table.actions.items()
    }
    by_category = dict.fromkeys(CATEGORIES, 0.0)
    for unit, counts in actions.items():
        for action, count in counts.items():
            spec = table._spec(unit, action)
            n = float(count)
            if not (n >= 0 and math.isfinite(n)):
                raise ValueError(f"energy: count {unit}.{action} = {count!r} is not >= 0")
            e = n * table.action_pj(unit, action, params.get(unit))
            by_action[unit][action] += e
            by_category[spec.category] += e
    leak_logic_pj = table.leakage["logic_mw"].value * seconds * 1e9  # mW x s = 1e9 pJ
    leak_sram_pj = (
        table.leakage["sram_mw_per_kb"].value * table.sram_leakage_kb(params) * seconds * 1e9
    )
    by_action[LEAKAGE_UNIT] = {"logic": leak_logic_pj, "sram": leak_sram_pj}
    by_category["leakage"] = leak_logic_pj + leak_sram_pj
    by_unit = {u: sum(a.values()) for u, a in by_action.items()}
    total = sum(by_unit.values())
    power = {c: (e / seconds * 1e-9 if seconds > 0 else 0.0) for c, e in by_category.items()}
    power["total"] = total / seconds * 1e-9 if seconds > 0 else 0.0
    return EnergyReport(
        total_pj=total,
        by_unit_pj=by_unit,
        by_category_pj=by_category,
        by_action_pj=by_action,
        average_power_mw=power,
    )


# ------------------------------------------------------------------------------------- validation
@dataclass(frozen=True)
class PaperPowerSplit:
    """SpAtten's published power (HPCA 2021; docs/spatten.md §3): 8.30 W at 1 GHz, 40 nm."""

    logic_w: float = 1.36
    sram_w: float = 1.24
    dram_w: float = 5.71
    total_w: float = 8.30
    topk_share: float = 0.010  #: the two top-k engines' share of the total power


@dataclass(frozen=True)
class OperatingPoint:
    """A representative SpAtten operating point, as action rates per cycle at 1 GHz.

    On chip: the full datapath busy every cycle (docs/spatten.md §3): 512 + 512 12-bit multipliers,
    one K and one V SRAM line (512 x 12 bit) read per cycle, softmax at 8 elements per cycle (7 FP
    multiplies, 6 FP adds and 1 divide per element, the counts the timing phase uses), both top-k
    engines' comparator arrays active every cycle (an upper bound), SRAM lines written once per
    ``sram_reads_per_write`` reads (summarization reuse of a head's K/V over its queries).

    DRAM: the generation regime the paper reports, derived from its own figures (no fitting):
    0.43 TFLOPS effective on GPT-2 at 0.5 op/byte (fp32 dense attention in generation) is 860 GB/s
    of dense-equivalent traffic; SpAtten's 10.0x DRAM reduction leaves 86 GB/s. The fetcher
    issues random 32-B reads; ``dram_bytes_per_activation`` = 32 assumes each opens a row (the
    pessimistic end; docs/energy.md shows the sensitivity)."""

    clock_ghz: float = 1.0
    multipliers_per_array: int = 512
    head_dim: int = 64
    word_bits: int = 12
    sram_capacity_bytes: int = 196608
    sram_line_bytes: int = 768
    sram_reads_per_write: float = 128.0
    softmax_elements_per_cycle: float = 8.0
    softmax_fp_mults_per_element: float = 7.0
    softmax_fp_adds_per_element: float = 6.0
    softmax_fp_divs_per_element: float = 1.0
    softmax_fifo_depth: int = 128
    topk_comparators: int = 16
    topk_fifo_depth: int = 64
    topk_local_v_active: float = 1.0
    topk_token_head_active: float = 1.0
    paper_gpt2_effective_tflops: float = 0.43
    dense_ops_per_byte: float = 0.5
    paper_dram_reduction: float = 10.0
    dram_bytes_per_activation: float = 32.0
    dram_transaction_bytes: float = 32.0
    data_fifo_entry_bytes: float = 16.0
    hbm_channels: int = 16
    hbm_pseudo_channels: int = 32
    hbm_refresh_interval_ns: float = 3900.0  #: tREFI of HBM2 (DRAMsim3 HBM2_8Gb_x128: 3900 tCK)
    dram_bandwidth_override_gbps: float | None = None  #: sensitivity studies: set the bandwidth

    @property
    def dram_bandwidth_gbps(self) -> float:
        """DRAM bytes per second / 1e9 at this point: 0.43e12 / 0.5 / 10.0 = 86 GB/s by default."""
        if self.dram_bandwidth_override_gbps is not None:
            return self.dram_bandwidth_override_gbps
        tera = 1e3  # TFLOPS -> GOP/s
        return (
            self.paper_gpt2_effective_tflops
            * tera
            / self.dense_ops_per_byte
            / (self.paper_dram_reduction)
        )

    def actions_per_second(self) -> dict[str, dict[str, float]]:
        """Action counts of one second at this operating point."""
        cyc = self.clock_ghz * 1e9
        m = float(self.multipliers_per_array)
        soft = self.softmax_elements_per_cycle * cyc
        p = float(self.topk_comparators)
        dram_bytes = self.dram_bandwidth_gbps * 1e9
        requests = dram_bytes / self.dram_transaction_bytes

        def topk(active: float) -> dict[str, float]:
            # the timing phase's convention: per active cycle both arrays compare P elements
            return {
                "comparisons": 2 * p * active * cyc,
                "zero_eliminator_ops": p * active * cyc,
                "fifo_accesses": p * active * cyc,
            }

        return {
            "fetcher": {
                "requests": requests,
                "address_fifo_accesses": 2 * requests,
                "data_fifo_accesses": 2 * dram_bytes / self.data_fifo_entry_bytes,
            },
            "bitwidth_converter": {"bytes": dram_bytes},
            "qxk": {"multiplies": m * cyc, "adds": (m - m / self.head_dim) * cyc},
            "probxv": {"multiplies": m * cyc, "adds": m * cyc},
            "key_sram": {"line_reads": cyc, "line_writes": cyc / self.sram_reads_per_write},
            "value_sram": {"line_reads": cyc, "line_writes": cyc / self.sram_reads_per_write},
            "softmax": {
                "fp_mults": self.softmax_fp_mults_per_element * soft,
                "fp_adds": self.softmax_fp_adds_per_element * soft,
                "fp_divs": self.softmax_fp_divs_per_element * soft,
                "fifo_accesses": 2 * soft,
            },
            "progressive_decision": {"comparisons": soft},
            "topk_local_v": topk(self.topk_local_v_active),
            "topk_token_head": topk(self.topk_token_head_active),
            "importance_accumulators": {"adds": soft},
            "dram": {
                "activations": dram_bytes / self.dram_bytes_per_activation,
                "bytes_read": dram_bytes,
                "bytes_written": 0.0,
                "refreshes": self.hbm_pseudo_channels / (self.hbm_refresh_interval_ns * 1e-9),
            },
        }

    def params(self) -> dict[str, dict[str, float]]:
        """The sizes of the hardware at this point (as the timing phase passes them)."""
        sram = {"capacity_bytes": self.sram_capacity_bytes, "line_bytes": self.sram_line_bytes}
        topk = {"comparators": self.topk_comparators, "fifo_depth": self.topk_fifo_depth}
        return {
            "fetcher": {"channels": self.hbm_channels},
            "qxk": {"word_bits": self.word_bits},
            "probxv": {"word_bits": self.word_bits},
            "key_sram": dict(sram),
            "value_sram": dict(sram),
            "softmax": {"fifo_depth": self.softmax_fifo_depth},
            "topk_local_v": dict(topk),
            "topk_token_head": dict(topk),
            "dram": {"channels": self.hbm_channels},
        }


@dataclass(frozen=True)
class OperatingPointPower:
    """Power (W) per paper category at an :class:`OperatingPoint`, next to the paper's split.

    ``logic_w`` is our compute category plus logic leakage, ``sram_w`` the sram category (K/V
    SRAMs and FIFOs) plus SRAM leakage, ``dram_w`` the dram category."""

    logic_w: float
    sram_w: float
    dram_w: float
    total_w: float
    topk_share: float
    by_unit_w: dict[str, float]
    dram_bandwidth_gbps: float
    paper: PaperPowerSplit

    def ratios(self) -> dict[str, float]:
        """ours / paper for logic, sram, dram, total and the top-k share."""
        p = self.paper
        return {
            "logic": self.logic_w / p.logic_w,
            "sram": self.sram_w / p.sram_w,
            "dram": self.dram_w / p.dram_w,
            "total": self.total_w / p.total_w,
            "topk_share": self.topk_share / p.topk_share,
        }


def paper_operating_point_power(
    table: EnergyTable | None = None, point: OperatingPoint | None = None
) -> OperatingPointPower:
    """Average power of ``point`` (default: :class:`OperatingPoint`) with ``table`` (default: the
    shipped table), per the paper's categories, for comparison with its 8.30 W split."""
    table = table or load_energy_table("default")
    point = point or OperatingPoint()
    rep = compute_energy(point.actions_per_second(), point.params(), 1.0, table)
    w = 1e-12  # pJ over one second -> W
    leak = rep.by_action_pj[LEAKAGE_UNIT]
    logic = (rep.by_category_pj["compute"] + leak["logic"]) * w
    sram = (rep.by_category_pj["sram"] + leak["sram"]) * w
    dram = rep.by_category_pj["dram"] * w
    total = rep.total_pj * w
    topk = (rep.by_unit_pj["topk_local_v"] + rep.by_unit_pj["topk_token_head"]) * w
    return OperatingPointPower(
        logic_w=logic,
        sram_w=sram,
        dram_w=dram,
        total_w=total,
        topk_share=topk / total if total else 0.0,
        by_unit_w={u: e * w for u, e in rep.by_unit_pj.items()},
        dram_bandwidth_gbps=point.dram_bandwidth_gbps,
        paper=PaperPowerSplit(),
    )
