"""The results of a sweep on disk: crash-safe, resumable, re-readable by a program.

Layout of a results folder::

    space.yaml          the space file as given (for the record)
    manifest.json       the sweep's points in order: id, input, axis values (written at start)
    points/<id>.json    one document per finished point: its configuration, input, axis values,
                        status, error, and the full report (``Report.to_dict()``) and layers
    results.csv         the table: one row per finished point, in expansion order

Crash safety: a point's JSON is written to a temporary file, flushed to disk and renamed, so it
is either complete or absent; it is the record of truth. The table is rebuilt from those records
(in expansion order, so the same sweep gives the same table row for row with any executor) and
replaced atomically the same way, at most every ``table_interval_s`` seconds (less often for a
big table, so that rewriting it takes at most ~5 % of the time) and at the end: it never holds a
partial row. A point whose JSON exists is done; a re-run skips it.

Table columns: ``point_id, status, error, trace, trace_sha256``; then the configuration as
``cfg.<key path>`` (the axes first); then every scalar of the report by its dotted path
(``cycles``, ``energy_pj.total``, ``dram.bytes_by_stream.k_msb``, ``units.qxk.busy_cycles`` ...:
units are in the names, see docs/report.md). Lists (per-layer figures) stay in the JSON; the
report's ``sim`` section (the simulator's wall-clock time, not a result) is left out of the table,
and of its ``provenance`` only the fields of :data:`PROVENANCE_COLUMNS` are in it, last, as
``provenance.<key>`` (version, code fingerprint, git commit, input and configuration SHA-256).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from spatten_sim.errors import SpattenError
from spatten_sim.files import atomic_write
from spatten_sim.report import flatten  # the one dotted-key flattening (also Report.flat)

TABLE = "results.csv"
#: the table as Parquet, written beside the CSV when asked (``--parquet``; needs pyarrow)
PARQUET = "results.parquet"
MANIFEST = "manifest.json"
POINTS = "points"
SPACE_COPY = "space.yaml"
META_COLUMNS = ("point_id", "status", "error", "trace", "trace_sha256")
#: report sections left out of the table (not results: the simulator's own wall clock, and what
#: produced the report and when)
EXCLUDED_SECTIONS = ("sim", "provenance")
#: the fields of the report's ``provenance`` section copied to the table as ``provenance.<key>``
#: (the ones that are the same for the same simulator, input and configuration: no timestamp, so a
#: resumed sweep's table equals an uninterrupted one's)
PROVENANCE_COLUMNS = ("version", "code_fingerprint", "git_commit", "input_sha256", "config_sha256")


def format_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def parse_cell(s: str) -> Any:
    """Inverse of :func:`format_cell`: ints, floats, booleans, '' -> None, else the string."""
    if s == "":
        return None
    if s in ("true", "false"):
        return s == "true"
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        return s


def point_row(record: dict) -> dict[str, Any]:
    """The table row of one point record (a ``points/<id>.json`` document)."""
    row: dict[str, Any] = {
        "point_id": record["point_id"],
        "status": record["status"],
        "error": record.get("error"),
        "trace": Path(record["input"]).name,
        "trace_sha256": record["input_sha256"],
    }
    axis_keys = [k for k, _ in record.get("values", [])]
    cfg = record.get("config") or {}
    for k in axis_keys:
        node: Any = cfg
        for part in k.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        row[f"cfg.{k}"] = node if cfg else dict(record.get("values", [])).get(k)
    for k, v in flatten(cfg):
        row.setdefault(f"cfg.{k}", v)
    rep = record.get("report") or {}
    for k, v in flatten({s: x for s, x in rep.items() if s not in EXCLUDED_SECTIONS}):
        row[k] = v
    prov = rep.get("provenance") or {}
    if prov:
        for k in PROVENANCE_COLUMNS:
            row[f"provenance.{k}"] = prov.get(k)
    return row


def table_columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The table's columns: :data:`META_COLUMNS`, then the rows' keys in first-seen order."""
    cols: dict[str, None] = dict.fromkeys(META_COLUMNS)
    for r in rows:
        cols.update(dict.fromkeys(r))
    return list(cols)


def table_text(rows: Iterable[dict[str, Any]]) -> str:
    """CSV text of rows; the columns are the union in first-seen order."""
    rows = list(rows)
    cols = table_columns(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([format_cell(r.get(c)) for c in cols])
    return buf.getvalue()


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """Read a results table back, with numbers and booleans parsed (the identifying columns stay
    strings: a hex point id such as ``12e4...`` is not a number)."""
    p = Path(path)
    if p.is_dir():
        p = p / TABLE
    try:
        with open(p, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in META_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise SpattenError(
                    f"{p}: not a results table (no {missing[0]!r} column in its header)"
                )
            rows = []
            for r in reader:
                if None in r:  # more cells than the header has columns
                    raise SpattenError(f"{p}: line {reader.line_num}: more cells than columns")
                rows.append(
                    {k: (v or None) if k in META_COLUMNS else parse_cell(v) for k, v in r.items()}
                )
            return rows
    except OSError as exc:
        raise SpattenError(f"{p}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SpattenError(f"{p}: not a results table (not UTF-8 text)") from None
    except csv.Error as exc:
        raise SpattenError(f"{p}: not a results table ({exc})") from None


class ResultStore:
    """A results folder: which points are done, and writing new ones safely."""

    def __init__(
        self, root: str | Path, table_interval_s: float = 1.0, *, parquet: bool = False
    ) -> None:
        self.root = Path(root)
        self.points_dir = self.root / POINTS
        self.table_interval_s = table_interval_s
        #: also write the table as results.parquet (needs pyarrow)
        self.parquet = parquet
        self._order: list[str] = []
        self._rows: dict[str, dict[str, Any]] = {}
        self._last_table = 0.0
        self._next_gap = table_interval_s
        self._dirty = False

    # -- set-up -----------------------------------------------------------------------------
    def open(self, space_file: Path, manifest: dict, *, space_text: str | None = None) -> None:
        """Create the folder, record the space (a copy of ``space_file``, or ``space_text`` for
        a space given as a mapping) and the manifest, load finished points."""
        try:
            self.points_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpattenError(f"{self.root}: cannot create ({exc.strerror})") from None
        if not self.parquet:  # an older results.parquet would disagree with the new table
            (self.root / PARQUET).unlink(missing_ok=True)
        copy = self.root / SPACE_COPY
        if space_text is not None:
            atomic_write(copy, space_text)
        elif space_file.resolve() != copy.resolve():
            shutil.copyfile(space_file, copy.with_name(f".{SPACE_COPY}.tmp"))
            copy.with_name(f".{SPACE_COPY}.tmp").replace(copy)
        atomic_write(self.root / MANIFEST, json.dumps(manifest, indent=1) + "\n")
        # a configuration listed twice (a repeated axis value, the same trace under two names) is
        # one point and one row
        self._order = list(dict.fromkeys(p["point_id"] for p in manifest["points"]))
        for pid in self._order:
            rec = self.load(pid)
            if rec is not None:
                self._rows[pid] = point_row(rec)
        self._dirty = True

    def load(self, pid: str) -> dict | None:
        """The record of a finished point, or None (absent or unreadable: not done)."""
        p = self.points_dir / f"{pid}.json"
        try:
            rec = json.loads(p.read_text())
        except (OSError, ValueError, RecursionError):
            return None
        return rec if isinstance(rec, dict) and rec.get("status") in ("ok", "failed") else None

    def status(self, pid: str) -> str | None:
        row = self._rows.get(pid)
        return None if row is None else row["status"]

    # -- writing ------------------------------------------------------------------------------
    def add(self, record: dict) -> None:
        """Store a finished point: its JSON (atomically), then the table (throttled)."""
        pid = record["point_id"]
        atomic_write(
            self.points_dir / f"{pid}.json", json.dumps(record, indent=1, allow_nan=True) + "\n"
        )
        self._rows[pid] = point_row(record)
        self._dirty = True
        if time.monotonic() - self._last_table >= self._next_gap:
            self.write_table()

    def write_table(self) -> Path:
        """Rewrite ``results.csv`` (and ``results.parquet`` when asked) from the finished points,
        in expansion order."""
        path = self.root / TABLE
        t0 = time.monotonic()
        if self._dirty:
            rows = self.rows
            atomic_write(path, table_text(rows))
            if self.parquet:  # after the CSV: a Parquet file older than the CSV is stale
                from spatten_sim.sweep.table import ResultTable, write_parquet

                write_parquet(ResultTable(rows), self.root / PARQUET)
            self._dirty = False
        self._last_table = time.monotonic()
        # a big table is rewritten less often: at most ~5 % of the time goes to it (an interval
        # of 0 means after every point)
        if self.table_interval_s > 0:
            self._next_gap = max(self.table_interval_s, 20 * (self._last_table - t0))
        return path

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [self._rows[p] for p in self._order if p in self._rows]


def read_point(results: str | Path, pid: str) -> dict:
    """The full record of one point of a results folder (checked: a JSON object with the fields
    :data:`spatten_sim.documents.POINT_FIELDS`; an ``ok`` point also has a report)."""
    from spatten_sim.documents import POINT_FIELDS, check_fields, read_json_object

    p = Path(results) / POINTS / f"{pid}.json"
    rec = read_json_object(p, "point record")
    check_fields(rec, POINT_FIELDS, str(p))
    if rec["status"] == "ok" and not isinstance(rec.get("report"), dict):
        raise SpattenError(f"{p}: report: missing (a finished point records its report)")
    return rec


def read_manifest(results: str | Path) -> dict:
    """A results folder's manifest (checked against
    :data:`spatten_sim.documents.MANIFEST_FIELDS`)."""
    from spatten_sim.documents import MANIFEST_FIELDS, check_fields, read_json_object

    p = Path(results) / MANIFEST
    if not p.is_file():
        raise SpattenError(f"{results}: not a sweep results folder (no {MANIFEST})")
    man = read_json_object(p, "sweep manifest")
    check_fields(man, MANIFEST_FIELDS, str(p))
    return man
