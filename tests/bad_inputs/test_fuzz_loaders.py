"""Fuzzing the loaders: whatever a user writes, they accept it or raise :class:`SpattenError`.

Random configurations (mappings of known and unknown keys holding any kind of value, and random
``--set`` strings), random trace files (metadata and arrays of random shapes and dtypes, written
with NumPy), and random official-CSV text (the shipped CSV with cells replaced, or noise). The
only outcomes allowed are success and a :class:`~spatten_sim.errors.SpattenError` (the CLI's
one-line exit 2) with a one-line message; any other exception is a bug the fuzzer found.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import typing
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spatten_sim.config import HwConfig, config_from_dict, load_config
from spatten_sim.errors import SpattenError
from spatten_sim.trace import load_trace, synthetic_trace
from spatten_sim.workload_csv import load_official_csv, read_official_rows

REPO = Path(__file__).resolve().parents[2]
OFFICIAL = REPO / "traces" / "official" / "summary-gpt2-small-wikitext2-per8.csv"

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,  # nothing written to the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def accepted_or_refused(fn: typing.Callable[[], object]) -> None:
    """Call ``fn``: success, or a SpattenError of one line; anything else propagates (fails)."""
    try:
        fn()
    except SpattenError as exc:
        assert "\n" not in str(exc), str(exc)
        assert str(exc).strip()


# --- configurations -----------------------------------------------------------------------------
def _key_paths(cls: type, prefix: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(cls):
        tp = typing.get_type_hints(cls)[f.name]
        path = f"{prefix}{f.name}"
        out.append(path)
        if dataclasses.is_dataclass(tp):
            out += _key_paths(tp, f"{path}.")
    return out


KEY_PATHS = [
    *_key_paths(HwConfig),
    "memory.preset", "memory.channels", "memory.nCL", "memory.tck_ns", "memory.rows",
    "memory.channel_bandwidth_gbps", "memory.latency_ns", "memory.transaction_bytes",
    "memory.mapping", "memory.refresh", "nosuch", "qxk.nosuch",
]  # fmt: skip
NAMES = [*sorted({p.split(".")[-1] for p in KEY_PATHS}), "preset", "x"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 2**31, 2**63, 10**30, 1e12, 0.5, 1e-300, "ideal", "hbm2", ""]),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=6), inner, max_size=3),
    ),
    max_leaves=8,
)


@st.composite
def config_dicts(draw: st.DrawFn) -> dict:
    """A mapping of a few key paths (most of them real) to any values, nested as in a file."""
    out: dict = {}
    for path in draw(st.lists(st.sampled_from(KEY_PATHS), max_size=5)):
        node = out
        parts = path.split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = node[part] = {}
            node = nxt
        node[parts[-1]] = draw(values)
    if draw(st.booleans()):
        out[draw(st.text(max_size=6))] = draw(values)
    return out


@FUZZ
@given(config_dicts())
def test_config_from_dict_accepts_or_refuses(data: dict) -> None:
    accepted_or_refused(lambda: config_from_dict(data))


set_values = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["1e12", ".nan", ".inf", "-1", "[1, 2", "{a: 1}", "&a [*a]", "!!python/none",
                     "99999999999999999999999", "true", "~", "[[[[[[]]]]]]", "0x10", "1_000"]),
    scalars.map(lambda v: json.dumps(v) if not isinstance(v, float) else repr(v)),
)  # fmt: skip


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(KEY_PATHS) | st.text(alphabet="abcxyz._=", max_size=10),
            st.sampled_from(["=", "", "=="]),
            set_values,
        ).map(lambda t: "".join(t)),
        max_size=4,
    )
)
def test_set_strings_accept_or_refuse(sets: list[str]) -> None:
    accepted_or_refused(lambda: load_config("spatten", sets))


# --- traces -----------------------------------------------------------------------------------
BASE = synthetic_trace(n_layers=1, n_heads=2, head_dim=8, tokens=6, seed=1)
BASE_META = dataclasses.asdict(BASE.meta)
DTYPES = ["<f2", "<f4", "<f8", ">f2", "<i4", "<i8", "|u1", "|b1", "<c8"]
FIELDS = [*sorted(BASE_META), "colour"]


@st.composite
def trace_parts(draw: st.DrawFn) -> tuple[object, dict[str, np.ndarray]]:
    """Metadata (the base's with a few fields changed, or any JSON) and arrays."""
    if draw(st.integers(0, 9)) == 0:
        meta: object = draw(values)
    else:
        m = dict(BASE_META)
        for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
            m[name] = draw(values)
        meta = m
    arrays: dict[str, np.ndarray] = {}
    for name in ("q", "k", "v", "bias", "token_ids"):
        if draw(st.integers(0, 3)) == 0:  # keep the base's (or leave out the optional ones)
            if name in ("q", "k", "v"):
                arrays[name] = getattr(BASE, name)
            continue
        shape = tuple(draw(st.lists(st.integers(0, 8), max_size=4)))
        dtype = np.dtype(draw(st.sampled_from(DTYPES)))
        fill = draw(st.sampled_from([0.0, 1.0, -1.0, np.nan, np.inf, 1e6]))
        with np.errstate(invalid="ignore", over="ignore"):
            arrays[name] = np.full(shape, fill).astype(dtype)
    return meta, arrays


@FUZZ
@given(trace_parts(), st.booleans())
def test_trace_loader_accepts_or_refuses(parts: tuple[object, dict], compressed: bool) -> None:
    meta, arrays = parts
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.npz"
        save = np.savez_compressed if compressed else np.savez
        try:
            text = json.dumps(meta)
        except (TypeError, ValueError):
            text = repr(meta)
        save(path, meta=np.array(text), **arrays)
        accepted_or_refused(lambda: load_trace(path))


# --- official CSVs ----------------------------------------------------------------------------
_LINES = OFFICIAL.read_text().splitlines()
CSV_HEADER = _LINES[0]
CSV_ROWS = [ln for ln in _LINES[1:] if ln.split(",")[0] in ("0", "1")]
CSV_TAIL = _LINES[-1]
CELLS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["", "-1", "0", "1e20", "nan", "inf", "True", "maybe", "64.5", '"', "\x00",
                     str(10**12), "9" * 30, "1000000000"]),
    st.integers(-5, 2000).map(str),
)  # fmt: skip


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    """The base CSV with a few cells, rows or lines changed; sometimes plain noise."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=200))
    rows = [r.split(",") for r in CSV_ROWS]
    for _ in range(draw(st.integers(1, 4))):
        r = draw(st.integers(0, len(rows) - 1))
        c = draw(st.integers(0, len(rows[0]) - 1))
        rows[r][c] = draw(CELLS)
    lines = [",".join(r) for r in rows]
    if draw(st.booleans()):
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    if draw(st.booleans()):
        del lines[draw(st.integers(0, len(lines) - 1)) :]
    header = CSV_HEADER if draw(st.integers(0, 5)) else draw(st.text(max_size=30))
    tail = [CSV_TAIL] if draw(st.booleans()) else []
    return "\n".join([header, *lines, *tail]) + "\n"


CFG = load_config("spatten")


@FUZZ
@given(csv_texts())
def test_official_csv_loader_accepts_or_refuses(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.csv"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        accepted_or_refused(lambda: read_official_rows(path))
        accepted_or_refused(lambda: load_official_csv(path, CFG))


def test_the_fuzzers_reach_both_outcomes() -> None:
    """The strategies are not all refusals: the unchanged bases load."""
    config_from_dict({})
    load_config("spatten", ["topk.comparators=8"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.csv"
        path.write_text("\n".join([CSV_HEADER, *CSV_ROWS, CSV_TAIL]) + "\n")
        assert len(load_official_csv(path, CFG).layers) == 24
        t = Path(tmp) / "t.npz"
        np.savez(t, meta=np.array(BASE.meta.to_json()), q=BASE.q, k=BASE.k, v=BASE.v)
        assert load_trace(t).meta == BASE.meta
    with pytest.raises(SpattenError):
        config_from_dict({"qxk": {"multipliers": float("nan")}})
