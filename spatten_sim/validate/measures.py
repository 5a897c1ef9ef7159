"""How each of our numbers is computed: every function runs the simulator (or its models).

A measure takes the run's :class:`~spatten_sim.validate.context.Context` and returns a
:class:`Measured` (our value, or None with a note saying why the row cannot be computed here).
Simulations are cached in the context, so rows sharing a run simulate it once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatten_sim.validate.context import (
    GPT2_MEDIUM_CSV,
    GPT2_SMALL_CSV,
    Context,
    cache_dir,
    workloads_dir,
)


@dataclass(frozen=True)
class Measured:
    """Our value of a row (None: not computable here; the note says why)."""

    ours: float | None
    note: str = ""


#: the GPT-2 breakdown steps (docs/spatten.md §4), in order
ABLATION_STEPS = (
    "ablation/1_dedicated",
    "ablation/2_token_pruning",
    "ablation/3_head_pruning",
    "ablation/4_parallel_topk",
    "ablation/5_progressive_quant",
)
STEP_NAMES = (
    "dedicated datapath",
    "+ token pruning",
    "+ head pruning",
    "+ parallel top-k",
    "+ progressive quant.",
)
#: the top-k comparator sweep and the K/V SRAM sweep of the design-space rows
COMPARATOR_SWEEP = (1, 2, 4, 8, 16, 32, 64)
SRAM_SWEEP_KB = (48, 96, 192, 384, 768)  #: KiB; 192 KiB = the paper's 196 KB (196,608 B)
PAPER_SRAM_BYTES = 196_608
#: "saturated": within this fraction of the 64-comparator latency
SATURATION_FRACTION = 0.02

#: SpAtten's quantization with every pruning technique off
QUANT_ONLY_SETS = (
    "policy.token_pruning.enabled=false",
    "policy.head_pruning.enabled=false",
    "policy.local_v_pruning.enabled=false",
)
#: + token pruning and local V pruning (head pruning still off)
TOKEN_SETS = ("policy.head_pruning.enabled=false",)
HEAD_OFF_SETS = ("policy.head_pruning.enabled=false",)


# ------------------------------------------------------------------------------------------
# inputs
def _csv(ctx: Context, name: str = GPT2_MEDIUM_CSV) -> Path:
    p = ctx.official_csv(name)
    if p is None:
        raise MissingInput(
            f"official workload {name} not found in {workloads_dir()} "
            "(the package ships it; $SPATTEN_SIM_WORKLOADS overrides the folder)"
        )
    return p


def _decoder(ctx: Context) -> tuple[Path, str]:
    path, note = ctx.decoder_trace()
    if path is None:
        raise MissingInput(note)
    return path, note


def _encoders(ctx: Context) -> list[Path]:
    enc = [t.path for t in ctx.encoder_traces()]
    if not enc:
        raise MissingInput("no encoder trace in traces/")
    return enc


class MissingInput(Exception):
    """An input a row needs is not available (the row becomes ``info``)."""


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _names(paths: list[Path]) -> str:
    return ", ".join(p.stem if p.suffix == ".npz" else _short(p) for p in paths)


def _short(p: Path) -> str:
    if p.name == GPT2_MEDIUM_CSV:
        return "GPT-2-Medium CSV"
    if p.name == GPT2_SMALL_CSV:
        return "GPT-2-Small CSV"
    return p.stem


# ------------------------------------------------------------------------------------------
# report helpers
def generation_stats(rep: Any) -> dict[str, float]:
    """Generation-stage cycles (from the end of the last summarization layer to the end of the
    run: layers are sequential), queries and LSB re-fetches, from the per-layer records."""
    gen = [r for r in rep.layers if r["stage"] == "generation"]
    summ_end = max((r["end_cycle"] for r in rep.layers if r["stage"] != "generation"), default=0)
    return {
        "cycles": float(rep.get("cycles") - summ_end) if gen else 0.0,
        "queries": float(sum(r["queries"] for r in gen)),
        "requant": float(sum(r["requant_queries"] for r in gen)),
        "layers": float(len(gen)),
    }


def generation_dense_ops(rep: Any) -> int:
    """Dense-equivalent ops of the generation iterations only."""
    from spatten_sim.workload import dense_attention_ops

    i = rep.get("input")
    args = (i["n_heads"], i["head_dim"], i["n_layers"], i["prompt_tokens"])
    full = dense_attention_ops(*args, i["generated_tokens"], i["causal"])
    return full - dense_attention_ops(*args, 0, i["causal"])


def generation_tflops(rep: Any) -> float:
    """Effective (dense-equivalent) TFLOPS of the generation stage of ``rep``."""
    if rep.get("input.prompt_tokens") == 0 or rep.get("input.kind") == "official-csv":
        return rep.get("throughput.gops_effective") / 1e3
    st = generation_stats(rep)
    seconds = st["cycles"] / (rep.get("clock_ghz") * 1e9)
    return generation_dense_ops(rep) / seconds / 1e12


# ------------------------------------------------------------------------------------------
# GPT-2 breakdown
def step_report(ctx: Context, step: int, source: str) -> Any:
    """The report of ablation step ``step`` (1..5) on the decoder trace (its generation
    iterations, as the paper times GPT-2) or the official GPT-2-Medium CSV."""
    if source == "trace":
        return ctx.simulate(ABLATION_STEPS[step - 1], _decoder(ctx)[0], generation_only=True)
    return ctx.simulate(ABLATION_STEPS[step - 1], _csv(ctx))


def busiest_unit(rep: Any) -> tuple[str, float]:
    """The unit with the most busy cycles and its share of the run's cycles."""
    units = rep.get("units")
    name = max(units, key=lambda k: units[k]["busy_cycles"])
    cycles = rep.get("cycles")
    return name, units[name]["busy_cycles"] / cycles if cycles else 0.0


def step_reason(before: Any, after: Any) -> str:
    """Why a step gains what it gains, from the two runs: the busiest unit before and after
    (its share of the cycles) and how far the step's run is above its DRAM bound."""
    ub, sb = busiest_unit(before)
    ua, sa = busiest_unit(after)
    bound = after.get("dram.bound_cycles")
    above = f", {after.get('cycles') / bound:.1f}x its DRAM bound" if bound else ""
    return f"busiest unit {ub} {sb:.0%} -> {ua} {sa:.0%} of the cycles{above}"


def breakdown_gain(ctx: Context, step: int, source: str) -> Measured:
    """Speedup of step ``step`` (2..5) over step ``step - 1``: cycles before / cycles after.
    The note ends with ``; `` and the reason (:func:`step_reason`; the breakdown figure shows
    it beside a failing step)."""
    before = step_report(ctx, step - 1, source)
    after = step_report(ctx, step, source)
    gain = before.get("cycles") / after.get("cycles")
    if source == "csv":
        note = "GPT-2-Medium CSV replay"
        if before.get("dram.bytes_read") == after.get("dram.bytes_read") and step in (2, 3, 5):
            return Measured(
                None,
                f"{note}: the step does not change the replayed workload (its decisions are "
                f"recorded in the file); gain {gain:.3f}",
            )
        return Measured(gain, f"{note}; {step_reason(before, after)}")
    return Measured(gain, f"{_decoder(ctx)[1]}; {step_reason(before, after)}")


def cumulative_speedups(ctx: Context, source: str) -> list[float]:
    """Speedup of every step over step 1 (1.0 for step 1)."""
    base = step_report(ctx, 1, source).get("cycles")
    return [base / step_report(ctx, s, source).get("cycles") for s in range(1, 6)]


def topk_bottleneck(ctx: Context, source: str, step: int = 3) -> Measured:
    """Local-V top-k busy cycles over the busiest other datapath unit, at ``step``."""
    rep = step_report(ctx, step, source)
    units = rep.get("units")
    topk = units["topk_local_v"]["busy_cycles"]
    others = {k: v["busy_cycles"] for k, v in units.items() if not k.startswith("topk")}
    name = max(others, key=lambda k: others[k])
    where = _decoder(ctx)[1] if source == "trace" else "GPT-2-Medium CSV"
    return Measured(
        topk / others[name] if others[name] else None,
        f"step {step} ({rep.get('config')}): topk_local_v busy {topk:,} cycles vs {name} "
        f"{others[name]:,}; {where}",
    )


# ------------------------------------------------------------------------------------------
# absolute latency and the DRAM bound
def restore_heads_csv(src: Path, dst: Path) -> tuple[int, int]:
    """Write ``src`` with head pruning undone: every (iteration, layer) gets all heads.

    The file records only surviving heads (GPT-2-Medium: 16, 13, 10 per layer). A restored head
    copies the row of head ``h mod kept`` of its layer: cascade token pruning is shared by all
    heads of a layer, so its ``key_fetch_num`` is exact; its local-V count and LSB re-fetch flag
    are borrowed from that head. The layer's ``if_topk``/``topk`` moves to its new last row.
    Returns (rows read, rows added).
    """
    import csv

    with src.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or ())
        rows = list(reader)
    n_heads = max(int(r["head_id"]) for r in rows if r["head_id"]) + 1
    out: list[dict[str, str]] = []
    added = 0
    i = 0
    while i < len(rows):
        if not rows[i]["head_id"]:  # the files interleave config-name lines: kept as they are
            out.append(rows[i])
            i += 1
            continue
        key = (rows[i]["iteration_id"], rows[i]["layer_id"])
        j = i
        while (
            j < len(rows)
            and rows[j]["head_id"]
            and (rows[j]["iteration_id"], rows[j]["layer_id"]) == key
        ):
            j += 1
        layer = [dict(r) for r in rows[i:j]]
        kept = len(layer)
        last = layer[-1]
        topk_flag, topk = last["if_topk"], last["topk"]
        for h in range(kept, n_heads):
            new = dict(layer[h % kept])
            new["head_id"] = str(h)
            layer.append(new)
            added += 1
        if len(layer) > kept:
            for r in layer:
                r["if_topk"], r["topk"] = "False", "-1"
            layer[-1]["if_topk"], layer[-1]["topk"] = topk_flag, topk
        out += layer
        i = j
    dst.parent.mkdir(parents=True, exist_ok=True)
    with dst.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(out)
    return sum(1 for r in rows if r["head_id"]), added


def _medium_hp_off(ctx: Context) -> tuple[Path, str]:
    """The GPT-2-Medium CSV with its heads restored, in the user cache (deterministic content,
    rewritten by every run, so parallel workers and the main process name the same file)."""
    src = _csv(ctx)
    dst = cache_dir() / "validate" / "gpt2-medium-all-heads.csv"
    if "hp_off" not in ctx.notes:
        from spatten_sim.files import atomic_output

        with atomic_output(dst) as tmp:
            n, added = restore_heads_csv(src, tmp)
        ctx.notes["hp_off"] = f"{added} head rows restored to the file's {n}"
    return dst, ctx.notes["hp_off"]


def medium_latency_ms(ctx: Context, head_pruning: bool) -> Measured:
    if head_pruning:
        rep = ctx.simulate("spatten", _csv(ctx))
        note = "spatten.yaml replaying the GPT-2-Medium CSV (heads as recorded: 16/13/10)"
    else:
        path, added = _medium_hp_off(ctx)
        rep = ctx.simulate("spatten", path)
        note = (
            "spatten.yaml replaying the GPT-2-Medium CSV with the pruned heads restored "
            f"(restore_heads_csv: {added}); the paper's 2.13 ms has head pruning off"
        )
    return Measured(rep.get("seconds") * 1e3, note)


def medium_over_bound(ctx: Context) -> Measured:
    rep = ctx.simulate("spatten", _csv(ctx))
    bound = rep.get("dram.bound_cycles")
    return Measured(
        rep.get("cycles") / bound,
        f"{rep.get('cycles'):,} cycles vs {rep.get('dram.bytes_read'):,} B / "
        f"{rep.get('dram.peak_bandwidth_gbps'):.0f} GB/s = {bound:,} cycles",
    )


def all_runs_over_bound(ctx: Context) -> Measured:
    """min over every simulation of this run of cycles / DRAM-bound cycles (must be >= 1)."""
    vals = []
    for (preset, sets, path), rep in ctx.reports():
        b = rep.get("dram.bound_cycles")
        if b:
            vals.append((rep.get("cycles") / b, preset, sets, Path(path).name))
    if not vals:
        return Measured(None, "no simulation ran")
    r, preset, sets, name = min(vals)
    extra = f" {' '.join(sets)}" if sets else ""
    return Measured(r, f"closest of {len(vals)} runs: {preset}{extra} on {name}")


def medium_attention_gflop(ctx: Context) -> Measured:
    rep = ctx.simulate("spatten", _csv(ctx))
    return Measured(
        rep.get("throughput.dense_ops") / 1e9,
        "dense-equivalent QxK + probxV ops (multiply and add count one each) of the 32 "
        "iterations at L = 993..1024",
    )


# ------------------------------------------------------------------------------------------
# throughput
def encoder_tflops(ctx: Context) -> Measured:
    encs = _encoders(ctx)
    vals = [ctx.simulate("spatten", p).get("throughput.gops_effective") / 1e3 for p in encs]
    return Measured(
        sum(vals) / len(vals),
        f"mean over {_names(encs)}: " + ", ".join(f"{v:.2f}" for v in vals),
    )


def official_generation_tflops(ctx: Context, name: str) -> Measured:
    path = _csv(ctx, name)
    rep = ctx.simulate("spatten", path)
    return Measured(
        generation_tflops(rep),
        f"spatten.yaml replaying {_short(path)}: dense-equivalent ops / time",
    )


def trace_generation_tflops(ctx: Context) -> Measured:
    path, note = _decoder(ctx)
    rep = ctx.simulate("spatten", path, generation_only=True)
    return Measured(generation_tflops(rep), f"generation iterations; {note}")


def one_eighth(ctx: Context, key: str) -> Measured:
    paths = _encoders(ctx)
    vals = [ctx.simulate("spatten_1_8", p).get(f"throughput.{key}") for p in paths]
    return Measured(
        sum(vals) / len(vals),
        f"spatten_1_8.yaml, mean over {_names(paths)}: " + ", ".join(f"{v:.0f}" for v in vals),
    )


# ------------------------------------------------------------------------------------------
# DRAM reduction
def dense_bytes(shape: dict[str, Any], bits: int, summarization: bool = True) -> int:
    """DRAM bytes of dense attention with ``bits``-bit words, from the model shape alone.

    Summarization: per layer, every query head's Q rows and every K/V head's K and V rows of
    the prompt, once. Generation iteration ``i``: per layer, one Q row per query head and the K
    and V rows of the ``prompt + i`` tokens of every K/V head. Rows are ``head_dim * bits / 8``
    bytes (at 32 bits and ``head_dim`` a multiple of 8 these are whole 32-B transactions). This is
    how the dense datapath fetches: ``tests/validate`` checks it against the simulated ``dense``
    preset at 12 bits (exact at D = 64; at D = 32 the simulator rounds each head's packed block to
    whole transactions).
    """
    r = shape["head_dim"] * bits / 8
    h, kv, p = shape["n_heads"], shape["n_kv_heads"], shape["prompt_tokens"]
    rows = h * p + 2 * kv * p if summarization else 0
    for i in range(1, shape["generated_tokens"] + 1):
        rows += h + 2 * kv * (p + i)
    return round(shape["n_layers"] * rows * r)


def dram_ladder(ctx: Context, path: Path) -> dict[str, int]:
    """DRAM bytes of the technique ladder on one input: dense fp32 -> + quantization ->
    + token & local-V pruning -> + head pruning (= spatten.yaml).

    The fp32 baseline is computed from the shape (:func:`dense_bytes`), not simulated: the dense
    datapath's fetches depend on nothing but the shape, and fp32 K/V of long contexts would not
    fit SpAtten's 12-bit-sized SRAM, so a simulated fp32 run would re-stream K/V per query and
    charge the baseline for an SRAM it was never meant to run on.
    """
    gen = path.suffix == ".npz" and ctx.is_decoder(path)  # decoders: generation, as the paper
    rep = ctx.simulate("spatten", path, generation_only=gen)
    return {
        "fp32": dense_bytes(rep.get("input"), 32, summarization=not gen),
        "quant": ctx.simulate("spatten", path, QUANT_ONLY_SETS, gen).get("dram.bytes_read"),
        "token": ctx.simulate("spatten", path, TOKEN_SETS, gen).get("dram.bytes_read"),
        "spatten": rep.get("dram.bytes_read"),
    }


#: factor name -> (numerator, denominator) in the ladder
FACTORS = {
    "quant": ("fp32", "quant"),
    "token": ("quant", "token"),
    "head": ("token", "spatten"),
    "overall": ("fp32", "spatten"),
}


def _ladder_inputs(ctx: Context, which: str) -> list[Path]:
    out: list[Path] = []
    if which in ("all", "encoders"):
        out += _encoders(ctx)
    if which in ("all", "decoders"):
        out.append(_decoder(ctx)[0])
    return out


def dram_factor(ctx: Context, factor: str, which: str = "all") -> Measured:
    """Geometric mean over the inputs of one DRAM-reduction factor."""
    num, den = FACTORS[factor]
    paths = _ladder_inputs(ctx, which)
    vals = []
    for p in paths:
        lad = dram_ladder(ctx, p)
        vals.append(lad[num] / lad[den])
    return Measured(
        geomean(vals),
        f"geomean over {_names(paths)}: " + ", ".join(f"{v:.2f}" for v in vals),
    )


def lsb_refetch_fraction(ctx: Context) -> Measured:
    path, note = _decoder(ctx)
    rep = ctx.simulate("spatten", path, generation_only=True)
    frac, n_q = (
        rep.get("pruning.generation.lsb_refetch_fraction"),
        rep.get("pruning.generation.queries"),
    )
    if frac is None:
        return Measured(None, "no generation query")
    return Measured(
        100.0 * frac,
        f"generation queries of spatten.yaml ({frac * n_q:.0f} of {n_q}); {note}",
    )


def official_refetch_fraction(ctx: Context) -> Measured:
    rep = ctx.simulate("spatten", _csv(ctx, GPT2_SMALL_CSV))
    return Measured(
        100.0 * rep.get("pruning.lsb_refetch_fraction"),
        "replayed if_requant flags of the GPT-2-Small CSV (docs/spatten.md §2 derives 7.0%)",
    )


# ------------------------------------------------------------------------------------------
# power
def power_report(ctx: Context, which: str) -> Any:
    if which == "bert":
        encs = _encoders(ctx)
        big = max(encs, key=lambda p: p.stat().st_size)
        return ctx.simulate("spatten", big)
    return ctx.simulate("spatten", _csv(ctx, GPT2_SMALL_CSV))


def power_split(rep: Any) -> dict[str, float]:
    """Average power in W by the paper's categories, and the top-k engines' share in %.

    As ``energy.paper_operating_point_power``: logic = compute + logic leakage, SRAM = sram +
    SRAM leakage, DRAM = dram. The report gives leakage as one figure; its logic part is the
    energy table's constant ``leakage.logic_mw``, the rest is SRAM leakage.
    """
    from spatten_sim.energy import load_energy_table

    p = rep.get("power_mw")
    e = rep.get("energy_pj")
    by_unit = e["by_unit"]
    leak_logic_mw = min(load_energy_table("default").leakage["logic_mw"].value, p["leakage"])
    topk = by_unit.get("topk_local_v", 0.0) + by_unit.get("topk_token_head", 0.0)
    return {
        "total": p["total"] / 1e3,
        "logic": (p["compute"] + leak_logic_mw) / 1e3,
        "sram": (p["sram"] + p["leakage"] - leak_logic_mw) / 1e3,
        "dram": p["dram"] / 1e3,
        "topk_share": 100.0 * topk / e["total"] if e["total"] else 0.0,
    }


def operating_point_split() -> dict[str, float]:
    """``energy.paper_operating_point_power()`` in the same keys as :func:`power_split`."""
    from spatten_sim.energy import paper_operating_point_power

    op = paper_operating_point_power()
    return {
        "total": op.total_w,
        "logic": op.logic_w,
        "sram": op.sram_w,
        "dram": op.dram_w,
        "topk_share": 100.0 * op.topk_share,
    }


def power_component(ctx: Context, which: str, part: str) -> Measured:
    if which == "op":
        return Measured(
            operating_point_split()[part],
            "energy.paper_operating_point_power(): full datapath busy, 86 GB/s DRAM "
            "(the paper's 0.43 TFLOPS / 0.5 op/B / 10x), default energy table",
        )
    rep = power_report(ctx, which)
    name = Path(rep.get("input.path")).name
    label = _short(Path(name)) if name.endswith(".csv") else Path(name).stem
    return Measured(power_split(rep)[part], f"spatten.yaml on {label}, default energy table")


# ------------------------------------------------------------------------------------------
# top-k engine vs the Batcher sorter
def sorter_comparison(units: int | None = None):
    from spatten_sim.algo.sorter import compare_topk_vs_sorter

    return compare_topk_vs_sorter(sorter_compare_units=units)


def sorter_throughput(ctx: Context) -> Measured:
    c = sorter_comparison()
    return Measured(
        c.throughput_ratio,
        f"1024-element median, 200 random inputs; sorter with the engine's "
        f"{c.sorter_compare_units} comparators: {c.sorter_cycles} vs {c.engine_cycles:.1f} cycles",
    )


def _power_ratio(c: Any) -> float:
    """Sorter power over engine power: comparator-cycles per cycle (the same energy per
    comparator-cycle for both, so the energy table cancels)."""
    return (c.sorter_comparator_cycles / c.sorter_cycles) / (
        c.engine_comparator_cycles / c.engine_cycles
    )


def sorter_power(ctx: Context) -> Measured:
    c = sorter_comparison()
    return Measured(
        _power_ratio(c),
        f"comparator-cycles per cycle, sorter with {c.sorter_compare_units} compare units",
    )


def sorter_units_for_paper_throughput(target: float = 1.4) -> int:
    """Fewest sorter compare units (multiples of 8) at which the engine's lead is <= target."""
    units = 8
    while units <= 4096:
        if sorter_comparison(units).throughput_ratio <= target:
            return units
        units += 8
    return units


def sorter_power_at_paper_throughput(ctx: Context) -> Measured:
    units = sorter_units_for_paper_throughput()
    c = sorter_comparison(units)
    return Measured(
        _power_ratio(c),
        f"sorter sized to the paper's 1.4x throughput: {units} compare units "
        f"(engine lead x{c.throughput_ratio:.2f})",
    )


# ------------------------------------------------------------------------------------------
# design space
def comparator_sweep(ctx: Context) -> dict[int, int]:
    """Cycles of spatten.yaml on the GPT-2-Small CSV for each top-k comparator count."""
    path = _csv(ctx, GPT2_SMALL_CSV)
    return {
        p: ctx.simulate("spatten", path, (f"topk.comparators={p}",)).get("cycles")
        for p in COMPARATOR_SWEEP
    }


def saturation_comparators(ctx: Context) -> Measured:
    sweep = comparator_sweep(ctx)
    best = sweep[max(sweep)]
    sat = min(p for p, c in sweep.items() if c <= best * (1 + SATURATION_FRACTION))
    curve = ", ".join(f"{p}: {best / c:.3f}" for p, c in sweep.items())
    return Measured(
        float(sat),
        f"fewest comparators within {SATURATION_FRACTION:.0%} of 64's latency, GPT-2-Small CSV "
        f"(speed vs 64 comparators: {curve})",
    )


def sram_sweep(ctx: Context) -> dict[int, int]:
    """Cycles of spatten.yaml on the GPT-2-Small CSV per K/V SRAM size (KiB, each)."""
    path = _csv(ctx, GPT2_SMALL_CSV)
    out = {}
    for kb in SRAM_SWEEP_KB:
        b = kb * 1024
        sets = (f"buffers.key_sram_bytes={b}", f"buffers.value_sram_bytes={b}")
        out[kb] = ctx.simulate("spatten", path, sets).get("cycles")
    return out


def sram_gain_above_paper(ctx: Context) -> Measured:
    sweep = sram_sweep(ctx)
    base = sweep[PAPER_SRAM_BYTES // 1024]
    best = min(c for kb, c in sweep.items() if kb * 1024 > PAPER_SRAM_BYTES)
    curve = ", ".join(f"{kb} KiB: {base / c:.3f}" for kb, c in sweep.items())
    return Measured(
        base / best,
        f"best speedup of a larger K/V SRAM over 196 KB, GPT-2-Small CSV ({curve})",
    )
