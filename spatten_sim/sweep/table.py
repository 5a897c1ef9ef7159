"""A sweep's results as a typed table: :class:`ResultTable`, :func:`load_results`, Parquet.

The table of a sweep (one row per finished point, the columns of ``results.csv``: see
:mod:`spatten_sim.sweep.store`) is a :class:`ResultTable`: a ``list`` of row dicts, every row
with every column, each column of one type (``int``, ``float``, ``bool`` or ``str``; ``None``
where a point has no value, e.g. the report columns of a failed point), plus
:meth:`ResultTable.to_frame` for pandas. :func:`~spatten_sim.sweep.engine.run_sweep` returns one
and :func:`load_results` reads one back from a results folder: from ``results.parquet`` when it
is there and current (written with ``--parquet``; needs pyarrow), else from ``results.csv``, whose
cells are typed by column (a column of integers is ``int``, one mixing integers and decimals
``float``, ``true``/``false`` ``bool``, anything else ``str``; the identifying columns
``point_id, status, error, trace, trace_sha256`` are always strings).
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spatten_sim.errors import SpattenError
from spatten_sim.optional import require
from spatten_sim.sweep.store import META_COLUMNS, PARQUET, TABLE, format_cell, table_columns

if TYPE_CHECKING:
    import pandas

    from spatten_sim.sweep.engine import SweepSummary

__all__ = ["PARQUET", "ResultTable", "load_results", "require_pyarrow", "write_parquet"]

#: column kind -> the Python type of its values
KINDS: dict[str, type | None] = {"bool": bool, "int": int, "float": float, "str": str, "null": None}


def require_pyarrow(feature: str = "results.parquet") -> Any:
    """The pyarrow module, or :class:`~spatten_sim.errors.MissingDependencyError` naming the
    ``[parquet]`` extra."""
    require("pyarrow.parquet", feature=feature, pip="'spatten-sim[parquet]' (or pyarrow)")
    import pyarrow

    return pyarrow


def _kind_of_values(values: Iterable[Any]) -> str:
    """The kind of a column of Python values (None ignored)."""
    kinds = set()
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int):
            kinds.add("int")
        elif isinstance(v, float):
            kinds.add("float")
        else:
            kinds.add("str")
    if not kinds:
        return "null"
    if len(kinds) == 1:
        return kinds.pop()
    return "float" if kinds == {"int", "float"} else "str"


def _as_kind(v: Any, kind: str) -> Any:
    if v is None:
        return None
    if kind == "float":
        return float(v)
    if kind == "str" and not isinstance(v, str):
        return format_cell(v)  # a column mixing strings and numbers: as the CSV writes it
    return v


class ResultTable(list[dict[str, Any]]):
    """The rows of a sweep's table (a ``list`` of dicts) with typed columns.

    ``columns`` lists the columns in table order and ``dtypes`` maps each to its Python type
    (``int``, ``float``, ``bool``, ``str``, or ``None`` for a column with no value at all).
    ``summary`` is the :class:`~spatten_sim.sweep.engine.SweepSummary` of the run that returned
    the table (``None`` for one read by :func:`load_results`); ``out_dir`` the results folder.
    """

    columns: tuple[str, ...]
    dtypes: dict[str, type | None]
    summary: SweepSummary | None
    out_dir: Path | None

    def __init__(
        self,
        rows: Iterable[Mapping[str, Any]] = (),
        *,
        columns: Sequence[str] | None = None,
        kinds: Mapping[str, str] | None = None,
        summary: SweepSummary | None = None,
        out_dir: str | Path | None = None,
    ) -> None:
        rows = list(rows)
        cols = tuple(columns) if columns is not None else tuple(table_columns(rows))
        if kinds is None:
            kinds = {
                c: "str" if c in META_COLUMNS else _kind_of_values(r.get(c) for r in rows)
                for c in cols
            }
        super().__init__({c: _as_kind(r.get(c), kinds[c]) for c in cols} for r in rows)
        self.columns = cols
        self.dtypes = {c: KINDS[kinds[c]] for c in cols}
        self.summary = summary
        self.out_dir = Path(out_dir) if out_dir is not None else None

    @property
    def kinds(self) -> dict[str, str]:
        """Column -> ``"int"``, ``"float"``, ``"bool"``, ``"str"`` or ``"null"``."""
        names = {t: k for k, t in KINDS.items()}
        return {c: names[t] for c, t in self.dtypes.items()}

    def to_frame(self) -> pandas.DataFrame:
        """The table as a ``pandas.DataFrame`` (needs pandas: ``pip install pandas``): one row per
        point, the columns in table order; integer and boolean columns with missing values use
        pandas' nullable ``Int64`` / ``boolean``, so an integer stays an integer."""
        pd = require("pandas", feature="ResultTable.to_frame()", pip="pandas")
        data = {}
        for c, kind in self.kinds.items():
            values = [r[c] for r in self]
            missing = any(v is None for v in values)
            dtype = {
                "int": "Int64" if missing else "int64",
                "bool": "boolean" if missing else "bool",
                "float": "float64",
            }.get(kind)
            data[c] = pd.Series(values, dtype=dtype)
        return pd.DataFrame(data, columns=list(self.columns))


def write_parquet(table: ResultTable, path: str | Path) -> Path:
    """Write ``table`` as Parquet (columns typed as in the table), atomically."""
    pa = require_pyarrow()
    import pyarrow.parquet as pq

    from spatten_sim.files import atomic_output

    types = {
        "bool": pa.bool_(),
        "int": pa.int64(),
        "float": pa.float64(),
        "str": pa.string(),
        "null": pa.null(),
    }
    kinds = table.kinds
    arrays = [pa.array([r[c] for r in table], type=types[kinds[c]]) for c in table.columns]
    schema = pa.schema([pa.field(c, types[kinds[c]]) for c in table.columns])
    with atomic_output(path) as tmp:
        pq.write_table(pa.Table.from_arrays(arrays, schema=schema), tmp)
    return Path(path)


def _read_parquet(path: Path) -> ResultTable:
    pa = require_pyarrow()
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    kinds = {}
    for f in t.schema:
        if pa.types.is_boolean(f.type):
            kinds[f.name] = "bool"
        elif pa.types.is_integer(f.type):
            kinds[f.name] = "int"
        elif pa.types.is_floating(f.type):
            kinds[f.name] = "float"
        elif pa.types.is_null(f.type):
            kinds[f.name] = "null"
        else:
            kinds[f.name] = "str"
    return ResultTable(t.to_pylist(), columns=t.column_names, kinds=kinds, out_dir=path.parent)


def _cell_kind(s: str) -> str:
    if s in ("true", "false"):
        return "bool"
    try:
        int(s)
        return "int"
    except ValueError:
        pass
    try:
        float(s)
        return "float"
    except ValueError:
        return "str"


def _parse(s: str, kind: str) -> Any:
    if s == "":
        return None
    if kind == "bool":
        return s == "true"
    if kind == "int":
        return int(s)
    if kind == "float":
        return float(s)
    return s


def _read_csv(path: Path) -> ResultTable:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            cells = list(reader)
    except OSError as exc:
        raise SpattenError(f"{path}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SpattenError(f"{path}: not a results table ({exc})") from None
    if header is None:
        raise SpattenError(f"{path}: empty table (no header)")
    kinds = {}
    for i, c in enumerate(header):
        if c in META_COLUMNS:
            kinds[c] = "str"
            continue
        seen = {_cell_kind(r[i]) for r in cells if i < len(r) and r[i] != ""}
        if not seen:
            kinds[c] = "null"
        elif len(seen) == 1:
            kinds[c] = seen.pop()
        else:
            kinds[c] = "float" if seen <= {"int", "float"} else "str"
    rows = [
        {c: _parse(r[i] if i < len(r) else "", kinds[c]) for i, c in enumerate(header)}
        for r in cells
    ]
    return ResultTable(rows, columns=header, kinds=kinds, out_dir=path.parent)


def load_results(results: str | Path) -> ResultTable:
    """Read a sweep's table back from its results folder (or its ``results.csv`` /
    ``results.parquet``), every column with its type.

    ``results.parquet`` is read when it is there, at least as new as ``results.csv`` and pyarrow
    is installed; otherwise ``results.csv``, typed column by column (see the module doc).
    """
    p = Path(results)
    if p.is_file():
        return _read_parquet(p) if p.suffix == ".parquet" else _read_csv(p)
    csv_path, pq_path = p / TABLE, p / PARQUET
    if pq_path.is_file():
        # the CSV is written first: a newer CSV means the Parquet write did not happen
        stale = csv_path.is_file() and csv_path.stat().st_mtime > pq_path.stat().st_mtime
        no_pyarrow = importlib.util.find_spec("pyarrow") is None
        if not stale and not (no_pyarrow and csv_path.is_file()):
            return _read_parquet(pq_path)
    if not csv_path.is_file():
        raise SpattenError(f"{results}: no sweep results table ({TABLE}) there")
    return _read_csv(csv_path)
