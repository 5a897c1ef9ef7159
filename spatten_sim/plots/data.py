"""What the figures read: runs (one report each) from a run folder or a sweep's results folder.

A *run folder* is what ``spatten-sim run -o DIR`` writes (``report.json``, ``config.yaml``,
``layers.csv``, ``timeline.csv`` with ``--timeline``). A *sweep folder* is what ``spatten-sim
sweep -o DIR`` writes (``results.csv``, ``manifest.json``, ``points/<id>.json``).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spatten_sim.documents import REPORT_FIELDS, check_fields, read_json_object
from spatten_sim.errors import SpattenError
from spatten_sim.limits import short
from spatten_sim.sweep.store import EXCLUDED_SECTIONS, flatten
from spatten_sim.yamlfile import read_yaml


@dataclass(frozen=True)
class Run:
    """One simulation: a label, the flat row (``cfg.*`` + report scalars) and the full report."""

    label: str
    trace: str
    row: dict[str, Any]
    report: dict[str, Any]
    values: tuple[tuple[str, Any], ...] = ()  #: sweep axis values (empty for a single run)


@dataclass(frozen=True)
class Sweep:
    """A sweep's results: its axes and the runs that finished ok, in table order."""

    name: str
    description: str
    axes: tuple[str, ...]
    runs: tuple[Run, ...]
    failed: tuple[dict[str, Any], ...]  #: table rows of the failed points
    points: int  #: points of the space


#: derived metrics: name -> (axis label with unit, function of a flat row); the panel title is
#: the label without its unit
METRICS: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
    "latency_us": ("latency (µs)", lambda r: r["seconds"] * 1e6),
    "energy_uj": ("energy (µJ)", lambda r: r["energy_pj.total"] / 1e6),
    "fidelity_error": (
        "fidelity error (attention output, relative, mean)",
        lambda r: r.get("fidelity.output_rel_error_mean"),
    ),
    "dram_mb": ("DRAM read (MB)", lambda r: r["dram.bytes_read"] / 1e6),
    "power_mw": ("average power (mW)", lambda r: r["power_mw.total"]),
    "gops_effective": (
        "throughput, dense-equivalent (GOP/s)",
        lambda r: r["throughput.gops_effective"],
    ),
    "gops_per_joule": (
        "energy efficiency (GOP/J)",
        lambda r: r["throughput.gops_per_joule_effective"],
    ),
}


def metric(row: dict[str, Any], name: str) -> float | None:
    """A derived metric (:data:`METRICS`) or any table column of a row."""
    if name in METRICS:
        try:
            v = METRICS[name][1](row)
        except (KeyError, TypeError):
            return None
    else:
        v = row.get(name)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def metric_label(name: str) -> str:
    if name in METRICS:
        return METRICS[name][0]
    return name


def metric_title(name: str) -> str:
    """A short name of a metric for a panel title: its label up to the unit or the detail."""
    return metric_label(name).split(" (")[0]


def short_key(key: str, among: Sequence[str] = ()) -> str:
    """The last component of a key path (``topk.comparators`` -> ``comparators``), or the last two
    when another key of ``among`` ends the same way (``key_sram_bytes`` stays distinct)."""
    parts = key.split(".")
    last = parts[-1]
    if any(k != key and k.split(".")[-1] == last for k in among):
        return ".".join(parts[-2:])
    return last


def _row_of(config: dict, report: dict) -> dict[str, Any]:
    row = {f"cfg.{k}": v for k, v in flatten(config)}
    # as a sweep row: no wall clock, no provenance (not results)
    row.update(dict(flatten({k: v for k, v in report.items() if k not in EXCLUDED_SECTIONS})))
    return row


def is_sweep_dir(path: Path) -> bool:
    return (path / "manifest.json").is_file() and (path / "results.csv").is_file()


def is_run_dir(path: Path) -> bool:
    return (path / "report.json").is_file()


def load_run_dir(path: str | Path) -> Run:
    """A run folder written by ``spatten-sim run -o DIR`` (its report checked against
    :data:`spatten_sim.documents.REPORT_FIELDS`, its config.yaml a mapping)."""
    p = Path(path)
    report = read_json_object(p / "report.json", "report")
    check_fields(report, REPORT_FIELDS, str(p / "report.json"))
    config: dict = {}
    if (p / "config.yaml").is_file():
        config = read_yaml(p / "config.yaml") or {}
        if not isinstance(config, dict):
            raise SpattenError(f"{p / 'config.yaml'}: expected a mapping (the configuration)")
    trace = Path(report["input"].get("path", "?")).name
    return Run(f"{report.get('config', '?')} | {trace}", trace, _row_of(config, report), report)


def load_sweep(path: str | Path) -> Sweep:
    """A sweep results folder (its finished points; failed ones listed apart)."""
    from spatten_sim.sweep.store import read_manifest, read_point, read_table

    p = Path(path)
    man = read_manifest(p)
    rows = read_table(p)
    axes = tuple(man.get("axes", ()))
    failed = [row for row in rows if row["status"] != "ok"]
    recs = [(row, read_point(p, row["point_id"])) for row in rows if row["status"] == "ok"]
    for row, rec in recs:
        check_fields(rec["report"], REPORT_FIELDS, f"{p / 'points' / row['point_id']}.json: report")
    # labels name only the axes that vary among the finished points
    seen: dict[str, set[str]] = {}
    for _, rec in recs:
        for k, v in rec.get("values", []):
            seen.setdefault(k, set()).add(repr(v))
    runs = []
    for row, rec in recs:
        values = tuple((k, v) for k, v in rec.get("values", []))
        shown = [f"{short_key(k, list(seen))}={v}" for k, v in values if len(seen[k]) > 1]
        runs.append(Run(", ".join(shown) or row["trace"], row["trace"], row, rec["report"], values))
    return Sweep(
        man.get("name", p.name),
        man.get("description", ""),
        axes,
        tuple(runs),
        tuple(failed),
        len(man.get("points", [])),
    )


def load_runs(path: str | Path) -> list[Run]:
    """The runs of a run folder or of a sweep folder."""
    p = Path(path)
    if is_sweep_dir(p):
        return list(load_sweep(p).runs)
    if is_run_dir(p):
        return [load_run_dir(p)]
    raise SpattenError(
        f"{p}: neither a run folder (report.json) nor a sweep results folder (results.csv)"
    )


def load_timeline(path: str | Path) -> list[tuple[str, str, int, int]]:
    """``timeline.csv`` of a run folder (or the file itself): (unit, kind, start, end) rows."""
    p = Path(path)
    if p.is_dir():
        p = p / "timeline.csv"
    if not p.is_file():
        raise SpattenError(
            f"{p}: no timeline (record one with `spatten-sim run ... --timeline -o DIR`)"
        )
    out = []
    try:
        with open(p, newline="", encoding="utf-8") as f:
            r = csv.DictReader(f)
            if r.fieldnames != ["unit", "kind", "start_cycle", "end_cycle"]:
                raise SpattenError(f"{p}: expected the columns unit,kind,start_cycle,end_cycle")
            for i, row in enumerate(r, start=2):
                try:
                    a, b = int(row["start_cycle"]), int(row["end_cycle"])
                except (TypeError, ValueError):
                    raise SpattenError(f"{p}:{i}: start_cycle/end_cycle must be integers") from None
                if row["kind"] not in ("busy", "stall") or b < a:
                    raise SpattenError(f"{p}:{i}: bad interval {short(row)}")
                out.append((row["unit"], row["kind"], a, b))
    except UnicodeDecodeError:
        raise SpattenError(f"{p}: not a timeline (not UTF-8 text)") from None
    except csv.Error as exc:
        raise SpattenError(f"{p}: not a timeline ({exc})") from None
    return out
