"""The report of one simulation: cycles, DRAM access, energy, throughput, pruning, fidelity.

A :class:`Report` is built from the workload, the timing result and the energy breakdown; it
serialises to a stable JSON document (every key documented with its unit in ``docs/report.md``),
a per-layer CSV, and a human summary. Everything outside the ``sim`` and ``provenance`` sections
is a deterministic function of the inputs: the same inputs give identical JSON there. ``sim``
holds the simulator's own wall-clock figures, which vary from run to run; ``provenance``
(:mod:`spatten_sim.provenance`) says what produced the report, and when.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spatten_sim.files import atomic_write
from spatten_sim.frozen import freeze, thaw
from spatten_sim.optional import require

if TYPE_CHECKING:
    import pandas

    from spatten_sim.energy import EnergyReport
    from spatten_sim.hw.result import TimingResult
    from spatten_sim.workload import Workload

REPORT_VERSION = 1


def flatten(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """The scalar leaves of a nested mapping as (dotted path, value), in document order; lists
    and tuples (per-layer figures) are skipped."""
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        return
    else:
        yield prefix, obj


@dataclass(frozen=True, repr=False)
class Report:
    """A finished simulation: the report document (docs/report.md), the per-layer records and,
    when recorded, the units' timeline.

    Immutable all the way down: the constructor takes plain dicts and lists and keeps frozen
    copies (read-only mappings and tuples, :mod:`spatten_sim.frozen`), so neither the report nor
    what it was built from can change the other. :meth:`to_dict` gives a fresh plain copy of the
    document, :meth:`to_json` its JSON, :meth:`flat` its scalars by dotted key and
    :meth:`to_frame` those as a one-row pandas DataFrame.

    >>> r = Report(data={"cycles": 10, "dram": {"bytes_read": 64}}, layers=())
    >>> r.get("dram.bytes_read"), r.flat()
    (64, {'cycles': 10, 'dram.bytes_read': 64})
    """

    #: the report document (a read-only mapping; :meth:`to_dict` for a plain dict)
    data: Mapping[str, Any]
    #: one read-only mapping per layer job (the rows of ``layers.csv``)
    layers: tuple[Mapping[str, Any], ...]
    #: (unit, "busy" | "stall", start_cycle, end_cycle) intervals, when recorded
    timeline: tuple[tuple[str, str, int, int], ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", freeze(self.data))
        object.__setattr__(self, "layers", freeze(tuple(self.layers)))
        if self.timeline is not None:
            object.__setattr__(self, "timeline", freeze(tuple(self.timeline)))

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __repr__(self) -> str:
        """One line: cycles, latency, DRAM bytes read, energy (never the whole document)."""

        def num(dotted: str, fmt: str, scale: float = 1.0, unit: str = "") -> str:
            try:
                v = self.get(dotted)
            except (KeyError, TypeError):
                return "?"
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return f"{v * scale:{fmt}}{unit}"
            return "?"

        return (
            f"Report(config={self.data.get('config', '?')}, cycles={num('cycles', ',.0f')}, "
            f"latency={num('seconds', ',.2f', 1e6, ' us')}, "
            f"dram_read={num('dram.bytes_read', ',', 1, ' B')}, "
            f"energy={num('energy_pj.total', ',.3f', 1e-6, ' uJ')})"
        )

    def get(self, dotted: str) -> Any:
        """A value by dotted key path, e.g. ``report.get("dram.bytes_read")``."""
        node: Any = self.data
        for k in dotted.split("."):
            node = node[k]
        return node

    def to_dict(self) -> dict[str, Any]:
        """The report document as a fresh plain ``dict`` (lists as lists); changing it changes
        nothing in the report."""
        return thaw(self.data)

    def to_json(self, indent: int = 2) -> str:
        """The report document as JSON, keys in document order."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    def flat(self) -> dict[str, Any]:
        """Every scalar of the document by its dotted key (``"cycles"``, ``"dram.bytes_read"``,
        ``"energy_pj.by_unit.qxk"`` ...), in document order. Lists (the per-layer figures of
        ``pruning`` and ``fidelity``) are left out: they are in :meth:`to_dict` and
        :attr:`layers`."""
        return dict(flatten(self.data))

    def to_frame(self) -> pandas.DataFrame:
        """:meth:`flat` as a one-row ``pandas.DataFrame`` (needs pandas: ``pip install pandas``;
        without it this raises :class:`~spatten_sim.errors.MissingDependencyError`, an
        ``ImportError``)."""
        pd = require("pandas", feature="Report.to_frame()", pip="pandas")
        return pd.DataFrame([self.flat()])

    def layers_csv(self) -> str:
        buf = io.StringIO()
        if self.layers:
            w = csv.DictWriter(buf, fieldnames=list(self.layers[0]), lineterminator="\n")
            w.writeheader()
            w.writerows(self.layers)
        return buf.getvalue()

    def timeline_csv(self) -> str:
        """``unit,kind,start_cycle,end_cycle`` rows (empty when no timeline was recorded)."""
        lines = ["unit,kind,start_cycle,end_cycle"]
        lines += [f"{u},{k},{a},{b}" for u, k, a, b in self.timeline or ()]
        return "\n".join(lines) + "\n"

    def write_dir(self, out: str | Path, config_yaml: str) -> Path:
        """Write ``report.json``, ``config.yaml`` (the resolved configuration), ``layers.csv``
        and, when recorded, ``timeline.csv``.

        Each file is written to a temporary name and renamed, so a crash never leaves a partial
        report behind.
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        files = [("config.yaml", config_yaml), ("layers.csv", self.layers_csv())]
        if self.timeline is not None:
            files.append(("timeline.csv", self.timeline_csv()))
        files.append(("report.json", self.to_json() + "\n"))  # last: its presence means done
        for name, text in files:
            atomic_write(out / name, text)
        return out

    def summary(self) -> str:
        """A readable summary table (every figure with its unit)."""
        d = self.data
        dr, en, th, pr = d["dram"], d["energy_pj"], d["throughput"], d["pruning"]
        rows: list[tuple[str, str]] = [
            ("configuration", d["config"]),
            ("input", f"{d['input']['path']} ({d['input']['kind']}, model {d['input']['model']})"),
            ("memory model", d["memory_model"]),
            ("", ""),
            ("cycles", f"{d['cycles']:,}"),
            ("time", f"{d['seconds'] * 1e6:,.2f} us"),
            ("DRAM read", f"{dr['bytes_read']:,} B ({dr['bandwidth_gbps']:.1f} GB/s average)"),
        ]
        for s, b in dr["bytes_by_stream"].items():
            if b:
                rows.append((f"  {s}", f"{b:,} B"))
        rows += [
            (
                "DRAM row hits / misses / conflicts",
                f"{dr['row_hits']:,} / {dr['row_misses']:,} / {dr['row_conflicts']:,}",
            ),
            (
                "energy",
                f"{en['total'] / 1e6:,.3f} uJ (dram {en['dram'] / 1e6:,.3f}, sram {en['sram'] / 1e6:,.3f}, compute {en['compute'] / 1e6:,.3f}, leakage {en['leakage'] / 1e6:,.3f})",
            ),
            ("average power", f"{d['power_mw']['total']:,.0f} mW"),
            ("throughput (dense-equivalent)", f"{th['gops_effective']:,.1f} GOP/s"),
            ("throughput (work done)", f"{th['gops_actual']:,.1f} GOP/s"),
            (
                "energy efficiency",
                f"{th['gops_per_joule_effective']:,.1f} GOP/J (dense-equivalent)",
            ),
            ("tokens kept (mean over layers)", f"{pr['tokens_kept_fraction']:.3f}"),
            ("heads kept (mean over layers)", f"{pr['heads_kept_fraction']:.3f}"),
            ("V rows kept per query", _by_stage(pr, "v_kept_fraction", 1, ".3f")),
            ("queries re-fetching LSBs", _by_stage(pr, "lsb_refetch_fraction", 100, ".2f", " %")),
        ]
        fid = d.get("fidelity")
        if fid:
            rows.append(
                (
                    "fidelity: attention output rel. error",
                    f"mean {fid['output_rel_error_mean']:.4f}, max {fid['output_rel_error_max']:.4f}",
                )
            )
        rows.append(("", ""))
        rows.append(("unit", "busy / stall cycles (utilization)"))
        for name, u in d["units"].items():
            rows.append(
                (
                    f"  {name}",
                    f"{u['busy_cycles']:,} / {u['stall_cycles']:,} ({u['utilization'] * 100:.1f} %)",
                )
            )
        rows.append(("", ""))
        rows.append(
            (
                "simulator",
                f"{d['sim']['wall_seconds']:.2f} s wall, {d['sim']['simulated_cycles_per_second']:,.0f} simulated cycles/s",
            )
        )
        w = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{w}}  {v}" if k or v else "" for k, v in rows)


def _by_stage(pr: Mapping[str, Any], key: str, scale: float, fmt: str, unit: str = "") -> str:
    """``pruning.<key>`` over all queries, then per stage where the stage ran (the summary's
    "V rows kept" and "LSB re-fetch" lines)."""
    out = f"{pr[key] * scale:{fmt}}{unit} overall"
    for stage in ("summarization", "generation"):
        v = (pr.get(stage) or {}).get(key)
        if v is not None:
            out += f", {stage} {v * scale:{fmt}}{unit}"
    return out


def _fidelity_summary(fid: dict | None) -> dict | None:
    if not fid:
        return None
    out = dict(fid)
    per = fid.get("per_layer") or []
    errs = [r.get("output_rel_error", 0.0) for r in per if isinstance(r, dict)]
    out.setdefault("output_rel_error_mean", float(sum(errs) / len(errs)) if errs else 0.0)
    out.setdefault("output_rel_error_max", float(max(errs)) if errs else 0.0)
    return out


def _stage_pruning(workload: Workload, timing: TimingResult, stage: str) -> dict[str, Any]:
    """Local-V pruning and LSB re-fetches over the queries of one stage (``null`` fractions when
    the stage has no query: an encoder's generation)."""
    recs = [r for r in timing.layers if r.stage == stage]
    n_q = sum(r.queries for r in recs)
    n_requant = sum(r.requant_queries for r in recs)
    jobs = [h for h in workload.head_jobs() if h.stage == stage]
    v_kept = sum(int(h.v_kept.sum()) for h in jobs)
    v_vis = sum(int(h.keys_per_query.sum()) for h in jobs)
    return {
        "v_kept_fraction": v_kept / v_vis if v_vis else None,
        "lsb_refetch_fraction": n_requant / n_q if n_q else None,
        "queries": int(n_q),
    }


def build_report(
    *,
    config_name: str,
    input_path: str,
    input_kind: str,
    workload: Workload,
    timing: TimingResult,
    energy: EnergyReport,
    memory_model: str,
    clock_ghz: float,
    peak_bandwidth_gbps: float,
    wall: dict[str, float],
    perf: dict[str, Any] | None = None,
    timeline: tuple[tuple[str, str, int, int], ...] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Report:
    """Assemble the report document from the phases' results (``provenance``: the section of
    :func:`spatten_sim.provenance.build_provenance`, last in the document when given)."""
    from spatten_sim import __version__

    cycles = timing.cycles
    seconds = cycles / (clock_ghz * 1e9)
    ms = timing.memory_stats
    bytes_read = int(ms.get("bytes_read", 0))
    a = timing.actions
    actual_ops = 2 * (
        a.get("qxk", {}).get("multiplies", 0) + a.get("probxv", {}).get("multiplies", 0)
    )
    dense_ops = workload.dense_ops
    units = {}
    for name in timing.busy_cycles:
        busy, stall = timing.busy_cycles[name], timing.stall_cycles[name]
        units[name] = {
            "busy_cycles": int(busy),
            "stall_cycles": int(stall),
            "utilization": busy / cycles if cycles else 0.0,
        }
    per_stage_tokens: dict[str, list[list[int]]] = {}
    per_stage_heads: dict[str, list[list[int]]] = {}
    for rec in timing.layers:
        per_stage_tokens.setdefault(rec.stage, [[] for _ in range(workload.n_layers)])
        per_stage_heads.setdefault(rec.stage, [[] for _ in range(workload.n_layers)])
        per_stage_tokens[rec.stage][rec.layer].append(rec.tokens_kept)
        per_stage_heads[rec.stage][rec.layer].append(rec.heads_kept)

    def _mean_lists(d: dict[str, list[list[int]]]) -> dict[str, list[float]]:
        return {s: [float(sum(v) / len(v)) if v else 0.0 for v in per] for s, per in d.items()}

    tok_frac = [r.tokens_kept / r.tokens_total for r in timing.layers if r.tokens_total]
    head_frac = [r.heads_kept / workload.n_heads for r in timing.layers]
    n_q = sum(r.queries for r in timing.layers)
    n_requant = sum(r.requant_queries for r in timing.layers)
    v_kept = sum(int(h.v_kept.sum()) for h in workload.head_jobs())
    v_vis = sum(int(h.keys_per_query.sum()) for h in workload.head_jobs())
    by_stage = {s: _stage_pruning(workload, timing, s) for s in ("summarization", "generation")}
    timing_wall = wall.get("timing", 0.0)
    total_wall = sum(wall.values())
    data: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "spatten_sim_version": __version__,
        "config": config_name,
        "input": {
            "path": input_path,
            "kind": input_kind,
            "model": workload.model,
            "n_layers": workload.n_layers,
            "n_heads": workload.n_heads,
            "n_kv_heads": workload.n_kv_heads,
            "head_dim": workload.head_dim,
            "prompt_tokens": workload.prompt_tokens,
            "generated_tokens": workload.generated_tokens,
            "causal": workload.causal,
        },
        "memory_model": memory_model,
        "clock_ghz": clock_ghz,
        "cycles": cycles,
        "seconds": seconds,
        "dram": {
            "bytes_read": bytes_read,
            "bytes_written": int(ms.get("bytes_written", 0)),
            "bytes_by_stream": {k: int(v) for k, v in timing.bytes_by_stream.items()},
            "transactions": int(timing.transactions),
            "bandwidth_gbps": bytes_read / seconds / 1e9 if seconds else 0.0,
            "peak_bandwidth_gbps": peak_bandwidth_gbps,
            "bound_cycles": int(-(-bytes_read * clock_ghz // peak_bandwidth_gbps))
            if peak_bandwidth_gbps
            else 0,
            "activations": int(ms.get("activations", 0)),
            "row_hits": int(ms.get("row_hits", 0)),
            "row_misses": int(ms.get("row_misses", 0)),
            "row_conflicts": int(ms.get("row_conflicts", 0)),
            "refreshes": int(ms.get("refreshes", 0)),
            "avg_latency_ns": float(ms.get("avg_latency_cycles", 0.0)) / clock_ghz,
            "p50_latency_ns": float(ms.get("p50_latency_cycles", 0.0)) / clock_ghz,
            "p99_latency_ns": float(ms.get("p99_latency_cycles", 0.0)) / clock_ghz,
        },
        "energy_pj": {
            "total": energy.total_pj,
            "by_unit": dict(energy.by_unit_pj),
            **{k: v for k, v in energy.by_category_pj.items()},
        },
        "power_mw": dict(energy.average_power_mw),
        "throughput": {
            "dense_ops": int(dense_ops),
            "actual_ops": int(actual_ops),
            "gops_effective": dense_ops / seconds / 1e9 if seconds else 0.0,
            "gops_actual": actual_ops / seconds / 1e9 if seconds else 0.0,
            "gops_per_joule_effective": dense_ops / 1e9 / (energy.total_pj * 1e-12)
            if energy.total_pj
            else 0.0,
        },
        "units": units,
        "pruning": {
            "tokens_kept_per_layer": _mean_lists(per_stage_tokens),
            "heads_kept_per_layer": _mean_lists(per_stage_heads),
            "tokens_kept_fraction": float(sum(tok_frac) / len(tok_frac)) if tok_frac else 1.0,
            "heads_kept_fraction": float(sum(head_frac) / len(head_frac)) if head_frac else 1.0,
            "v_kept_fraction": v_kept / v_vis if v_vis else 1.0,
            "lsb_refetch_fraction": n_requant / n_q if n_q else 0.0,
            "queries": int(n_q),
            "heads_split": int(timing.heads_split),
            **by_stage,
        },
        "fidelity": _fidelity_summary(workload.fidelity),
        "sim": {
            "wall_seconds": total_wall,
            "functional_wall_seconds": wall.get("functional", 0.0),
            "timing_wall_seconds": timing_wall,
            "simulated_cycles_per_second": cycles / timing_wall if timing_wall else 0.0,
            **(perf or {}),
        },
    }
    if provenance is not None:
        data["provenance"] = dict(provenance)
    layers = tuple(asdict(r) for r in timing.layers)
    return Report(data=data, layers=layers, timeline=timeline)
