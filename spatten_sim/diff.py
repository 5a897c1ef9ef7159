"""Comparing two results: two reports (a report JSON or a run folder) or two sweep folders.

``spatten-sim diff A B`` (docs/report.md, "Comparing results"). For two reports:

* **results** -- every key of the report outside ``sim`` and ``provenance`` whose values differ
  (lists by index, ``fidelity.per_layer[3].output_rel_error``), with B - A and the change in %
  for numbers; ``rtol``/``atol`` make close numbers equal (``|B - A| <= max(rtol * max(|A|, |B|),
  atol)``);
* **configuration** -- the keys of the fully resolved configurations that differ (the reports'
  ``provenance.config``, or a run folder's ``config.yaml`` for a report written before the
  provenance existed);
* **provenance** -- whether the simulator (``version``, ``code_fingerprint``, ``git_commit``) or
  the input (``input_sha256``) changed. This explains a difference; it is not one.

A and B are *equal* when neither results nor configuration differ. ``sim`` (wall clock) and the
provenance fields that differ between two runs of the same thing (``timestamp``,
``command_line``, ``sets``, ``environment``) are not compared; ``include_all`` compares them too,
and then every provenance change counts as a difference.

For two sweep folders the rows of ``results.csv`` are matched by their trace and axis values (the
union of both manifests' axes); each matched pair is compared as above (``cfg.*`` columns are the
configuration, ``provenance.*`` and ``trace_sha256`` the provenance, the others the results), and
the rows found in only one sweep are listed. Equal means: the same rows, none of them different.
"""

from __future__ import annotations

import json
import math
import shlex
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatten_sim.documents import read_json
from spatten_sim.errors import SpattenError
from spatten_sim.provenance import INPUT_KEYS, SIMULATOR_KEYS
from spatten_sim.report import Report

#: report sections never compared as results (``sim`` unless ``include_all``; ``provenance`` is
#: compared on its own)
IGNORED_SECTIONS = ("sim",)


class _Missing:
    """A key present on one side only."""

    def __repr__(self) -> str:
        return "(absent)"


MISSING: Any = _Missing()


# ---------------------------------------------------------------------------------------------
# values
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def values_equal(a: Any, b: Any, rtol: float = 0.0, atol: float = 0.0) -> bool:
    """Whether two leaf values are the same: numbers within the tolerances (two NaNs are equal),
    anything else exactly (``1`` and ``True`` differ)."""
    if _is_number(a) and _is_number(b):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        if a == b:
            return True
        try:
            return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
        except OverflowError:  # an integer beyond a float's range: only equal if identical
            return False
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if a is MISSING or b is MISSING:
        return False
    if isinstance(a, Mapping) and isinstance(b, Mapping):  # a read-only mapping equals a dict
        return dict(a) == dict(b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return type(a) is type(b) and a == b


def flatten_all(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf of nested mappings and lists as (dotted key, value); list items are
    ``key[i]``; an empty mapping or list is a leaf of its own."""
    if isinstance(obj, Mapping) and obj:
        for k, v in obj.items():
            yield from flatten_all(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)) and obj:
        for i, v in enumerate(obj):
            yield from flatten_all(v, f"{prefix}[{i}]")
    else:
        yield prefix, obj


@dataclass(frozen=True)
class Change:
    """One key whose values differ: ``a``/``b`` (:data:`MISSING` on the side that lacks it),
    and for two numbers ``delta`` = B - A and ``percent`` = 100 (B - A) / |A| (None for A = 0)."""

    key: str
    a: Any
    b: Any

    @property
    def delta(self) -> float | None:
        if _is_number(self.a) and _is_number(self.b):
            return self.b - self.a
        return None

    @property
    def percent(self) -> float | None:
        d = self.delta
        try:
            if d is None or self.a == 0 or not math.isfinite(d):
                return None
            return 100.0 * d / abs(self.a)
        except OverflowError:  # integers beyond a float's range
            return None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key}
        for side, v in (("a", self.a), ("b", self.b)):
            out[side] = None if v is MISSING else _json_value(v)
            if v is MISSING:
                out[f"only_in_{'b' if side == 'a' else 'a'}"] = True
        if self.delta is not None:
            out["delta"] = _json_value(self.delta)
            out["percent"] = _json_value(self.percent)
        return out


def _json_value(v: Any) -> Any:
    """Non-finite floats as None (strict JSON has no NaN or infinity)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def diff_mappings(
    a: Mapping[str, Any] | None,
    b: Mapping[str, Any] | None,
    rtol: float = 0.0,
    atol: float = 0.0,
    skip: Sequence[str] = (),
) -> list[Change]:
    """The leaves (:func:`flatten_all`) that differ between ``a`` and ``b``, in A's key order
    then B's new keys; top-level keys of ``skip`` are left out."""
    fa = dict(flatten_all({k: v for k, v in (a or {}).items() if k not in skip}))
    fb = dict(flatten_all({k: v for k, v in (b or {}).items() if k not in skip}))
    fa.pop("", None)
    fb.pop("", None)
    out: list[Change] = []
    for key in [*fa, *(k for k in fb if k not in fa)]:
        va, vb = fa.get(key, MISSING), fb.get(key, MISSING)
        if not values_equal(va, vb, rtol, atol):
            out.append(Change(key, va, vb))
    return out


# ---------------------------------------------------------------------------------------------
# provenance
@dataclass(frozen=True)
class ProvenanceDiff:
    """What the provenance of A and B says changed (``None``: a side records no provenance)."""

    simulator: tuple[Change, ...] | None
    input: tuple[Change, ...] | None
    other: tuple[Change, ...] | None  #: the volatile keys (timestamp, command line ...)

    @property
    def simulator_changed(self) -> bool | None:
        return None if self.simulator is None else bool(self.simulator)

    @property
    def input_changed(self) -> bool | None:
        return None if self.input is None else bool(self.input)

    def changes(self) -> list[Change]:
        return [*(self.simulator or ()), *(self.input or ()), *(self.other or ())]

    def to_dict(self) -> dict[str, Any]:
        def group(g: tuple[Change, ...] | None) -> list[dict[str, Any]] | None:
            return None if g is None else [c.to_dict() for c in g]

        return {
            "simulator_changed": self.simulator_changed,
            "input_changed": self.input_changed,
            "simulator": group(self.simulator),
            "input": group(self.input),
            "other": group(self.other),
        }


def diff_provenance(
    a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, prefix: str = "provenance."
) -> ProvenanceDiff:
    """Compare two ``provenance`` sections (or the ``provenance.*`` fields of sweep rows) key by
    key, grouped into simulator, input and the rest (the configuration is compared apart)."""
    if not a or not b:
        return ProvenanceDiff(None, None, None)

    def group(keys: Sequence[str]) -> tuple[Change, ...] | None:
        if not any(a.get(k) is not None or b.get(k) is not None for k in keys):
            return None  # neither side records it
        return tuple(
            Change(f"{prefix}{k}", a.get(k, MISSING), b.get(k, MISSING))
            for k in keys
            if (k in a or k in b) and not values_equal(a.get(k, MISSING), b.get(k, MISSING))
        )

    known = {*SIMULATOR_KEYS, *INPUT_KEYS, "config", "config_sha256", "seed"}  # seed: in config
    rest = [k for k in (*a, *(k for k in b if k not in a)) if k not in known]
    other: list[Change] = []
    for k in rest:  # a list (the command line) is one value; a mapping is compared key by key
        va, vb = a.get(k, MISSING), b.get(k, MISSING)
        if isinstance(va, Mapping) and isinstance(vb, Mapping):
            other += [Change(f"{prefix}{k}.{c.key}", c.a, c.b) for c in diff_mappings(va, vb)]
        elif not values_equal(va, vb):
            other.append(Change(f"{prefix}{k}", va, vb))
    return ProvenanceDiff(group(SIMULATOR_KEYS), group(INPUT_KEYS), tuple(other))


# ---------------------------------------------------------------------------------------------
# loading
@dataclass(frozen=True)
class Loaded:
    """One side of a comparison: a report (``kind`` ``report``) or a sweep (``sweep``)."""

    path: Path
    kind: str  #: "report" or "sweep"
    source: str  #: "report JSON", "run folder", "sweep point record", "sweep folder"
    report: dict[str, Any] | None = None
    config: dict[str, Any] | None = None  #: the resolved configuration, when recorded
    config_from: str | None = None  #: where ``config`` came from
    rows: tuple[dict[str, Any], ...] = ()
    axes: tuple[str, ...] = ()
    simulator: str | None = None  #: a sweep's code fingerprint (its manifest's ``simulator``)


def _read_json(p: Path) -> Any:
    return read_json(p, "spatten-sim report")


def _as_report(doc: Any, p: Path) -> tuple[dict[str, Any], str]:
    if isinstance(doc, dict) and isinstance(doc.get("report"), dict) and "point_id" in doc:
        return doc["report"], "sweep point record"  # points/<id>.json of a sweep
    if not (isinstance(doc, dict) and "report_version" in doc and "cycles" in doc):
        raise SpattenError(f"{p}: not a spatten-sim report (no report_version/cycles keys)")
    return doc, "report JSON"


def _config_of(report: Mapping[str, Any], folder: Path | None) -> tuple[dict | None, str | None]:
    prov = report.get("provenance")
    if isinstance(prov, Mapping) and isinstance(prov.get("config"), Mapping):
        return dict(prov["config"]), "provenance.config"
    if folder is not None and (folder / "config.yaml").is_file():
        from spatten_sim.yamlfile import read_yaml

        data = read_yaml(folder / "config.yaml", SpattenError)
        if isinstance(data, dict):
            try:  # resolve it as today's config.yaml is (every memory field)
                from spatten_sim.config import config_from_dict
                from spatten_sim.provenance import resolved_config

                return resolved_config(config_from_dict(data)), "config.yaml"
            except Exception:  # not a valid configuration (any more): compared as written
                return data, "config.yaml"
    return None, None


def _read_rows(folder: Path) -> tuple[dict[str, Any], ...]:
    """The rows of a sweep's ``results.csv`` (one-line error for a table that is not one)."""
    import csv

    from spatten_sim.sweep.store import TABLE, read_table

    try:
        return tuple(read_table(folder))
    except (csv.Error, UnicodeDecodeError, ValueError) as exc:
        raise SpattenError(f"{folder / TABLE}: not a results table ({exc})") from None


def load(path: str | Path) -> Loaded:
    """Read ``path``: a report JSON (or a sweep's ``points/<id>.json``), a run folder holding
    ``report.json``, or a sweep folder (``results.csv`` + ``manifest.json``; also given as its
    ``results.csv``). Raises :class:`SpattenError` (one line) for anything else."""
    from spatten_sim.sweep.store import MANIFEST, TABLE, read_manifest

    p = Path(path)
    if not p.exists():
        raise SpattenError(f"{p}: no such file or folder")
    if p.is_file() and p.name == TABLE:
        p = p.parent
    if p.is_dir():
        if (p / "report.json").is_file():
            rep, _ = _as_report(_read_json(p / "report.json"), p / "report.json")
            cfg, src = _config_of(rep, p)
            return Loaded(p, "report", "run folder", rep, cfg, src)
        if (p / TABLE).is_file():
            if not (p / MANIFEST).is_file():
                raise SpattenError(f"{p}: not a sweep folder (no {MANIFEST} beside {TABLE})")
            man = read_manifest(p)
            raw_axes = man.get("axes") if isinstance(man, dict) else None
            if not isinstance(raw_axes, list) or not all(isinstance(a, str) for a in raw_axes):
                raise SpattenError(f"{p / MANIFEST}: not a sweep manifest (no list of axes)")
            axes = tuple(raw_axes)
            sim = man.get("simulator")
            return Loaded(
                p,
                "sweep",
                "sweep folder",
                rows=_read_rows(p),
                axes=axes,
                simulator=sim if isinstance(sim, str) else None,
            )
        raise SpattenError(
            f"{p}: not a run folder (no report.json) nor a sweep folder (no {TABLE})"
        )
    rep, source = _as_report(_read_json(p), p)
    cfg, src = _config_of(rep, None)
    return Loaded(p, "report", source, rep, cfg, src)


# ---------------------------------------------------------------------------------------------
# the comparison of two reports
@dataclass(frozen=True)
class ReportDiff:
    """The comparison of two reports."""

    results: tuple[Change, ...]
    config: tuple[Change, ...] | None  #: None: a side records no configuration
    provenance: ProvenanceDiff
    include_all: bool = False

    @property
    def equal(self) -> bool:
        extra = self.provenance.changes() if self.include_all else []
        return not self.results and not self.config and not extra

    def to_dict(self) -> dict[str, Any]:
        return {
            "equal": self.equal,
            "results": [c.to_dict() for c in self.results],
            "config": None if self.config is None else [c.to_dict() for c in self.config],
            "provenance": self.provenance.to_dict(),
        }


def diff_reports(
    a: Mapping[str, Any] | Report,
    b: Mapping[str, Any] | Report,
    *,
    config_a: Mapping[str, Any] | None = None,
    config_b: Mapping[str, Any] | None = None,
    rtol: float = 0.0,
    atol: float = 0.0,
    include_all: bool = False,
) -> ReportDiff:
    """Compare two reports (:class:`~spatten_sim.report.Report` objects or their documents,
    ``Report.to_dict()``). The configurations default to the reports' ``provenance.config``."""
    check_tolerances(rtol, atol)
    a = a.to_dict() if isinstance(a, Report) else a
    b = b.to_dict() if isinstance(b, Report) else b
    ca = config_a if config_a is not None else _config_of(a, None)[0]
    cb = config_b if config_b is not None else _config_of(b, None)[0]
    skip = () if include_all else IGNORED_SECTIONS
    results = diff_mappings(a, b, rtol, atol, skip=(*skip, "provenance"))
    if include_all:
        results = [c for c in results if not c.key.startswith("provenance.")]
    config = None if ca is None or cb is None else tuple(diff_mappings(ca, cb, rtol, atol))
    pa, pb = a.get("provenance"), b.get("provenance")
    prov = diff_provenance(
        pa if isinstance(pa, Mapping) else None, pb if isinstance(pb, Mapping) else None
    )
    if not include_all:
        prov = ProvenanceDiff(prov.simulator, prov.input, None)
    return ReportDiff(tuple(results), config, prov, include_all)


# ---------------------------------------------------------------------------------------------
# the comparison of two sweeps
#: sweep table columns that identify a row rather than being compared
_KEY_COLUMNS = ("point_id", "trace", "trace_sha256")


@dataclass(frozen=True)
class RowDiff:
    """One pair of matched sweep rows that differ (or whose provenance does)."""

    key: tuple[tuple[str, Any], ...]  #: (column, value): the trace, then the axis values
    results: tuple[Change, ...]
    config: tuple[Change, ...]
    provenance: ProvenanceDiff

    @property
    def different(self) -> bool:
        return bool(self.results or self.config)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": dict(self.key),
            "results": [c.to_dict() for c in self.results],
            "config": [c.to_dict() for c in self.config],
            "provenance": self.provenance.to_dict(),
        }


@dataclass(frozen=True)
class SweepDiff:
    """The comparison of two sweeps, row by row."""

    key_columns: tuple[str, ...]
    rows_a: int
    rows_b: int
    matched: int
    rows: tuple[RowDiff, ...]  #: matched rows with a difference or a provenance change
    only_in_a: tuple[tuple[tuple[str, Any], ...], ...]
    only_in_b: tuple[tuple[tuple[str, Any], ...], ...]
    simulator_changed_rows: int = 0  #: matched rows whose simulator changed
    input_changed_rows: int = 0  #: matched rows whose input changed
    provenance_unknown_rows: int = 0  #: matched rows without a record of their simulator
    include_all: bool = False

    @property
    def different_rows(self) -> int:
        return sum(1 for r in self.rows if r.different)

    @property
    def equal(self) -> bool:
        return not (self.different_rows or self.only_in_a or self.only_in_b)

    def to_dict(self) -> dict[str, Any]:
        return {
            "equal": self.equal,
            "key_columns": list(self.key_columns),
            "rows_a": self.rows_a,
            "rows_b": self.rows_b,
            "matched": self.matched,
            "different_rows": self.different_rows,
            "simulator_changed_rows": self.simulator_changed_rows,
            "input_changed_rows": self.input_changed_rows,
            "provenance_unknown_rows": self.provenance_unknown_rows,
            "rows": [r.to_dict() for r in self.rows],
            "only_in_a": [dict(k) for k in self.only_in_a],
            "only_in_b": [dict(k) for k in self.only_in_b],
        }


def _row_keys(rows: Sequence[Mapping[str, Any]], axes: Sequence[str]) -> list[tuple]:
    """The matching key of each row: its trace and axis values, numbered when repeated."""
    seen: Counter[tuple] = Counter()
    out = []
    for r in rows:
        base = (("trace", r.get("trace")), *((a, r.get(f"cfg.{a}")) for a in axes))
        seen[base] += 1
        out.append(base if seen[base] == 1 else (*base, ("occurrence", seen[base])))
    return out


def _split_row(row: Mapping[str, Any], axes: Sequence[str]) -> tuple[dict, dict, dict]:
    """A table row as (results, configuration, provenance) mappings."""
    res: dict[str, Any] = {}
    cfg: dict[str, Any] = {}
    prov: dict[str, Any] = {}
    axis_cols = {f"cfg.{a}" for a in axes}
    for k, v in row.items():
        if k in axis_cols or k in ("trace", "point_id"):
            continue
        if k.startswith("cfg."):
            cfg[k[4:]] = v
        elif k.startswith("provenance."):
            prov[k[len("provenance.") :]] = v
        elif k == "trace_sha256":
            prov.setdefault("input_sha256", v)
        else:
            res[k] = v
    return res, cfg, prov


def diff_sweeps(
    a: Loaded, b: Loaded, *, rtol: float = 0.0, atol: float = 0.0, include_all: bool = False
) -> SweepDiff:
    """Compare two loaded sweeps (:func:`load`) row by row."""
    check_tolerances(rtol, atol)
    axes = list(dict.fromkeys([*a.axes, *b.axes]))
    ka, kb = _row_keys(a.rows, axes), _row_keys(b.rows, axes)
    by_b = dict(zip(kb, b.rows, strict=True))
    rows: list[RowDiff] = []
    matched = sim_changed = input_changed = unknown = 0
    for key, ra in zip(ka, a.rows, strict=True):
        rb = by_b.get(key)
        if rb is None:
            continue
        matched += 1
        res_a, cfg_a, prov_a = _split_row(ra, axes)
        res_b, cfg_b, prov_b = _split_row(rb, axes)
        results = diff_mappings(res_a, res_b, rtol, atol)
        config = diff_mappings(cfg_a, cfg_b, rtol, atol)
        # every row of a table comes from the simulator of its manifest (the point ids say so)
        if a.simulator:
            prov_a.setdefault("code_fingerprint", a.simulator)
        if b.simulator:
            prov_b.setdefault("code_fingerprint", b.simulator)
        prov = diff_provenance(prov_a, prov_b)
        sim_changed += bool(prov.simulator)
        input_changed += bool(prov.input)
        unknown += prov.simulator is None
        if include_all:  # the point id and every provenance change count
            if ra.get("point_id") != rb.get("point_id"):
                results.append(Change("point_id", ra.get("point_id"), rb.get("point_id")))
            results += prov.changes()
        if results or config or prov.changes():
            rows.append(RowDiff(key, tuple(results), tuple(config), prov))
    set_a, set_b = set(ka), set(kb)
    return SweepDiff(
        key_columns=("trace", *axes),
        rows_a=len(a.rows),
        rows_b=len(b.rows),
        matched=matched,
        rows=tuple(rows),
        only_in_a=tuple(k for k in ka if k not in set_b),
        only_in_b=tuple(k for k in kb if k not in set_a),
        simulator_changed_rows=sim_changed,
        input_changed_rows=input_changed,
        provenance_unknown_rows=unknown,
        include_all=include_all,
    )


# ---------------------------------------------------------------------------------------------
# entry point and text
def check_tolerances(rtol: float, atol: float) -> None:
    """Refuse negative or non-finite tolerances (one-line :class:`SpattenError`)."""
    for name, v in (("--rtol", rtol), ("--atol", atol)):
        if not (math.isfinite(v) and v >= 0):
            raise SpattenError(f"{name}: must be a finite number >= 0, got {v}")


@dataclass(frozen=True)
class Comparison:
    """``spatten-sim diff A B``: the two inputs and their comparison."""

    a: Loaded
    b: Loaded
    result: ReportDiff | SweepDiff
    rtol: float = 0.0
    atol: float = 0.0
    include_all: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def equal(self) -> bool:
        return self.result.equal

    def to_dict(self) -> dict[str, Any]:
        """The comparison for programs (``spatten-sim diff --json``; docs/report.md)."""
        side: dict[str, dict[str, Any]] = {
            x: {"path": str(s.path), "kind": s.kind, "source": s.source}
            for x, s in (("a", self.a), ("b", self.b))
        }
        if self.a.kind == "report":
            for x, s in (("a", self.a), ("b", self.b)):
                side[x]["config_from"] = s.config_from
        return {
            "diff_version": 1,
            "kind": self.a.kind,
            "a": side["a"],
            "b": side["b"],
            "options": {"rtol": self.rtol, "atol": self.atol, "all": self.include_all},
            **self.result.to_dict(),
            "notes": list(self.notes),
        }

    def text(self) -> str:
        """The comparison for people."""
        lines = [
            f"A: {self.a.path} ({self.a.source})",
            f"B: {self.b.path} ({self.b.source})",
        ]
        r = self.result
        if isinstance(r, ReportDiff):
            lines += _provenance_lines(r.provenance, "")
            lines += _config_lines(r.config, "")
            lines += _change_lines("results", r.results, "")
            if r.include_all and r.provenance.other:
                lines += _change_lines("provenance (--all)", r.provenance.other, "")
            verdict = "equal" if r.equal else "different"
        else:
            lines.append(
                f"rows matched by {', '.join(r.key_columns)}: {r.matched} in both, "
                f"{len(r.only_in_a)} only in A, {len(r.only_in_b)} only in B"
            )
            lines += _sweep_provenance_lines(r)
            for row in r.rows:
                if not row.different:
                    continue
                lines.append(f"row {_key_text(row.key)}:")
                if row.config:
                    lines += _change_lines("configuration", row.config, "  ")
                lines += _change_lines("results", row.results, "  ")
            for label, keys in (("only in A", r.only_in_a), ("only in B", r.only_in_b)):
                if keys:
                    lines.append(f"{label}:")
                    lines += [f"  {_key_text(k)}" for k in keys]
            verdict = (
                "equal"
                if r.equal
                else f"different: {r.different_rows} of {r.matched} matched rows differ, "
                f"{len(r.only_in_a)} only in A, {len(r.only_in_b)} only in B"
            )
        lines += [*self.notes, verdict]
        return "\n".join(lines)


def compare(
    a: str | Path, b: str | Path, *, rtol: float = 0.0, atol: float = 0.0, include_all: bool = False
) -> Comparison:
    """Load ``a`` and ``b`` (:func:`load`) and compare them; both must be reports (JSON or run
    folder) or both sweeps."""
    check_tolerances(rtol, atol)
    la, lb = load(a), load(b)
    if la.kind != lb.kind:
        raise SpattenError(
            f"cannot compare {la.path} (a {la.source}) with {lb.path} (a {lb.source}): give two "
            "reports (report JSON or run folder) or two sweep folders"
        )
    notes: list[str] = []
    result: ReportDiff | SweepDiff
    if la.kind == "report":
        assert la.report is not None and lb.report is not None
        result = diff_reports(
            la.report,
            lb.report,
            config_a=la.config,
            config_b=lb.config,
            rtol=rtol,
            atol=atol,
            include_all=include_all,
        )
        for x, s in (("A", la), ("B", lb)):
            if s.config is None:
                notes.append(f"note: {x} records no configuration: configurations not compared")
            if not s.report or "provenance" not in s.report:
                notes.append(f"note: {x} has no provenance (written by an older spatten-sim)")
    else:
        result = diff_sweeps(la, lb, rtol=rtol, atol=atol, include_all=include_all)
    return Comparison(la, lb, result, rtol, atol, include_all, tuple(notes))


def _fmt(v: Any, width: int = 40) -> str:
    if v is MISSING:
        return "(absent)"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if v and isinstance(v, list) and all(isinstance(x, str) for x in v):
        s = shlex.join(v)  # a command line: its end says the most
        return s if len(s) <= width else "..." + s[-(width - 3) :]
    if isinstance(v, (dict, list)):
        v = json.dumps(v)
    s = str(v)
    return s if len(s) <= width else s[: width - 3] + "..."


def _key_text(key: Sequence[tuple[str, Any]]) -> str:
    return " ".join(f"{k}={_fmt(v)}" for k, v in key)


def _change_lines(title: str, changes: Sequence[Change], indent: str) -> list[str]:
    if not changes:
        return [f"{indent}{title}: no differences"]
    n = len(changes)
    head = (indent + "  key", "A", "B", "B - A", "%")
    rows = [head]
    for c in changes:
        d, pct = c.delta, c.percent
        rows.append(
            (
                f"{indent}  {c.key}",
                _fmt(c.a),
                _fmt(c.b),
                "" if d is None else (f"{d:+d}" if isinstance(d, int) else f"{d:+.6g}"),
                "" if pct is None else f"{pct:+.4g} %",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    out = [f"{indent}{title}: {n} difference{'s' if n != 1 else ''}"]
    for r in rows:
        out.append(
            "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(r)
            ).rstrip()
        )
    return out


def _config_lines(config: Sequence[Change] | None, indent: str) -> list[str]:
    if config is None:
        return [f"{indent}configuration: not recorded on both sides"]
    if not config:
        return [f"{indent}configuration: same"]
    n = len(config)
    w = max(len(c.key) for c in config)
    out = [f"{indent}configuration: {n} difference{'s' if n != 1 else ''}"]
    out += [f"{indent}  {c.key:<{w}}  {_fmt(c.a)} -> {_fmt(c.b)}" for c in config]
    return out


def _provenance_lines(p: ProvenanceDiff, indent: str) -> list[str]:
    out = []
    for label, group in (("simulator", p.simulator), ("input", p.input)):
        if group is None:
            out.append(f"{indent}{label}: unknown (no provenance on both sides)")
        elif not group:
            out.append(f"{indent}{label}: same")
        else:
            what = "; ".join(f"{c.key}: {_fmt(c.a, 24)} -> {_fmt(c.b, 24)}" for c in group)
            out.append(f"{indent}{label}: changed ({what})")
    return out


def _sweep_provenance_lines(r: SweepDiff) -> list[str]:
    out = []
    for label, n in (("simulator", r.simulator_changed_rows), ("input", r.input_changed_rows)):
        if label == "simulator" and r.matched and r.provenance_unknown_rows == r.matched:
            out.append(f"{label}: unknown (no provenance on both sides)")
            continue
        if not n:
            out.append(f"{label}: same")
            continue
        counts: Counter[tuple[str, str, str]] = Counter()
        for row in r.rows:
            for c in getattr(row.provenance, label) or ():
                counts[(c.key, _fmt(c.a, 24), _fmt(c.b, 24))] += 1
        out.append(f"{label}: changed in {n} of {r.matched} matched rows")
        out += [f"  {k}: {a} -> {b} ({m} rows)" for (k, a, b), m in counts.items()]
    return out
