"""Generate the corpus of bad inputs that ``test_bad_inputs.py`` runs through the CLI.

Every case is one command a user could type with one mistake in it: a hardware configuration, a
``--set`` value, a trace, an official workload CSV, a sweep space, a ``dram-bench`` pattern or
option, a run or sweep folder given to ``plot``/``report``/``diff``, or an output path. Each must
end with exit status 2 and one line on stderr, and leave nothing behind.

A case is a :class:`Case` record: an id, a kind, the command line (after ``spatten-sim``; the
placeholder ``{dir}`` stands for the case's own folder, which is also the working directory), the
files to create there and any setup (``mkdir``, ``mkfifo``, ``symlink``). The inputs are built
from small valid bases (a 1-layer synthetic trace, the first two iterations of the shipped
``gpt2-small`` CSV, the ``spatten`` preset, a small run folder) with one defect each.

Run it as a script to write the corpus to a folder (one sub-folder per case, ``corpus.json``
listing the records)::

    python tests/bad_inputs/make_corpus.py OUT_DIR
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import struct
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
OFFICIAL_SMALL = REPO / "traces" / "official" / "summary-gpt2-small-wikitext2-per8.csv"

#: a file's content: text, bytes, or a function that makes the bytes (for the costly ones)
Content = str | bytes | Callable[[], bytes]


@dataclass(frozen=True)
class Case:
    """One bad input and the command that reads it."""

    id: str
    kind: str
    argv: tuple[str, ...]  #: after ``spatten-sim``; ``{dir}`` is the case's folder
    files: tuple[tuple[str, Content], ...] = ()  #: relative path -> content
    #: ("mkdir", path), ("mkfifo", path) or ("symlink", path, target), done before the files
    setup: tuple[tuple[str, ...], ...] = ()
    slow: bool = False  #: a variant run only with ``-m slow`` (see :data:`FAST`)
    #: why the case still fails, when it is a known open problem (the test expects it to fail,
    #: strictly: once fixed, the test says so and the note is removed)
    known: str = ""

    def command(self, case_dir: Path) -> list[str]:
        """The argv with ``{dir}`` replaced by ``case_dir``."""
        return [a.replace("{dir}", str(case_dir)) for a in self.argv]


# ---------------------------------------------------------------------------------------------
# building blocks: .npy and .npz bytes
def npy(a: np.ndarray) -> bytes:
    """``a`` as the bytes of a .npy file (no pickles unless ``a`` holds objects)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=a.dtype.hasobject)
    return buf.getvalue()


def npy_header_only(descr: str, shape: tuple[int, ...], data: bytes = b"") -> bytes:
    """A .npy (version 1.0) whose header declares ``descr``/``shape``, followed by ``data``."""
    header = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}"
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data


def npz(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of ``members`` (name, bytes), as ``numpy.savez_compressed`` writes one."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, data)
    return buf.getvalue()


def patch_zip(data: bytes, member: str, *, flag_bits: int = 0, method: int | None = None) -> bytes:
    """``data`` with ``member``'s general-purpose flags OR-ed with ``flag_bits`` and its
    compression method set to ``method``, in both its local and its central header."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        local = zf.getinfo(member).header_offset
    # local file header: signature, version(2), flags(2) @6, method(2) @8
    assert out[local : local + 4] == b"PK\x03\x04"
    offsets = [(local + 6, local + 8)]
    pos = out.find(b"PK\x01\x02")
    while pos >= 0:  # central directory headers: flags @8, method @10, name length @28, name @46
        n = struct.unpack_from("<H", out, pos + 28)[0]
        if out[pos + 46 : pos + 46 + n].decode() == member:
            offsets.append((pos + 8, pos + 10))
        pos = out.find(b"PK\x01\x02", pos + 4)
    assert len(offsets) == 2, "member not found in the central directory"
    for f_off, m_off in offsets:
        flags = struct.unpack_from("<H", out, f_off)[0]
        struct.pack_into("<H", out, f_off, flags | flag_bits)
        if method is not None:
            struct.pack_into("<H", out, m_off, method)
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# valid bases
L, H, T, D = 1, 2, 16, 32  # the base trace: 1 layer, 2 heads, 16 tokens, head size 32


def base_meta() -> dict:
    """The metadata of the base trace (a valid v1 trace)."""
    return {
        "model": "synthetic",
        "n_layers": L,
        "n_heads": H,
        "n_kv_heads": H,
        "head_dim": D,
        "tokens": T,
        "causal": False,
        "softmax_scale": 1 / D**0.5,
        "prompt_tokens": T,
        "generated_tokens": 0,
        "synthetic": True,
        "format_version": 1,
    }


def base_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {n: rng.standard_normal((L, H, T, D)).astype(np.float16) for n in ("q", "k", "v")}


def trace_bytes(
    meta: dict | None = None,
    arrays: dict[str, np.ndarray] | None = None,
    raw: dict[str, bytes] | None = None,
    drop: tuple[str, ...] = (),
    method: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """A trace file: the base trace with ``meta``/``arrays`` replaced, ``raw`` members (name
    without .npy -> .npy bytes) replacing or adding members, ``drop`` members left out."""
    m = base_meta() if meta is None else meta
    arrs = base_arrays()
    arrs.update(arrays or {})
    members = {"meta": npy(np.array(json.dumps(m)))}
    members.update({n: npy(a) for n, a in arrs.items()})
    members.update(raw or {})
    return npz([(f"{n}.npy", b) for n, b in members.items() if n not in drop], method)


def meta_with(**changes: object) -> dict:
    m = base_meta()
    m.update(changes)
    return m


@functools.cache
def csv_base() -> tuple[str, list[str], str]:
    """The header, the rows of iterations 0 and 1 of ``gpt2-small``, and its provenance line."""
    lines = OFFICIAL_SMALL.read_text().splitlines()
    rows = [ln for ln in lines[1:] if ln.split(",")[0] in ("0", "1")]
    return lines[0], rows, lines[-1]


def csv_text(rows: list[str] | None = None, header: str | None = None, tail: bool = True) -> str:
    h, base_rows, prov = csv_base()
    body = base_rows if rows is None else rows
    return "\n".join([h if header is None else header, *body, *([prov] if tail else [])]) + "\n"


def csv_with(index: int, column: str, value: str) -> str:
    """The base CSV with ``column`` of data row ``index`` set to ``value``."""
    h, rows, _ = csv_base()
    cols = h.split(",")
    rows = list(rows)
    cells = rows[index].split(",")
    cells[cols.index(column)] = value
    rows[index] = ",".join(cells)
    return csv_text(rows)


@functools.cache
def good_run_dir() -> dict[str, bytes]:
    """The files of a run folder (``spatten-sim run spatten BASE.npz -o DIR``) of the base
    trace, made once in-process."""
    from spatten_sim.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp) / "base.npz"
        t.write_bytes(trace_bytes())
        out = Path(tmp) / "run"
        status = main(["run", "spatten", str(t), "-o", str(out), "-q"])
        assert status == 0, "the base run failed"
        return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def run_dir_files(
    folder: str = "run", **replace: Content | None
) -> tuple[tuple[str, Content], ...]:
    """The good run folder under ``folder``, with files replaced (bytes) or removed (None);
    the files are made lazily (the base run simulates)."""

    def one(name: str) -> Content:
        given = replace.get(name)
        if given is not None:
            return given
        return lambda: good_run_dir()[name]

    names = ["report.json", "config.yaml", "layers.csv", "pruning.npz", *replace]
    out = []
    for name in dict.fromkeys(names):
        if name in replace and replace[name] is None:
            continue
        out.append((f"{folder}/{name}", one(name)))
    return tuple(out)


def pruning_with(**arrays: np.ndarray) -> Callable[[], bytes]:
    """The good run's ``pruning.npz`` with some arrays replaced (made lazily)."""

    def make() -> bytes:
        with np.load(io.BytesIO(good_run_dir()["pruning.npz"]), allow_pickle=False) as z:
            members = {k: z[k] for k in z.files}
        members.update(arrays)
        buf = io.BytesIO()
        np.savez(buf, **members)
        return buf.getvalue()

    return make


def sweep_dir_files(
    folder: str = "res",
    manifest: str | bytes | None = None,
    table: str | bytes | None = None,
    points: dict[str, str] | None = None,
) -> tuple[tuple[str, Content], ...]:
    """A sweep results folder: manifest.json, results.csv, points/<id>.json (as given)."""
    pid = "0123456789abcdef"
    man = (
        manifest
        if manifest is not None
        else json.dumps({"name": "s", "axes": ["topk.comparators"], "points": [{"point_id": pid}]})
    )
    tab = (
        table
        if table is not None
        else (
            "point_id,status,error,trace,trace_sha256,cfg.topk.comparators,cycles\n"
            f"{pid},ok,,base.npz,00,4,100\n"
        )
    )
    files: list[tuple[str, Content]] = [
        (f"{folder}/manifest.json", man),
        (f"{folder}/results.csv", tab),
    ]
    for name, text in (points or {}).items():
        files.append((f"{folder}/points/{name}.json", text))
    return tuple(files)


# ---------------------------------------------------------------------------------------------
# the cases, by kind
RUN_TRACE = "minilm-sst-25"


def config_cases() -> Iterator[Case]:
    """Hardware configuration files, each read by ``run HW.yaml minilm-sst-25``."""
    billion_laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
    )
    yamls: dict[str, str | bytes] = {
        "malformed-flow": "base: spatten\nqxk: {multipliers: [1, 2\n",
        "malformed-indent": "base: spatten\nqxk:\n  multipliers: 4\n bad: 1\n",
        "malformed-tab": "base: spatten\nqxk:\n\tmultipliers: 4\n",
        "unknown-top-key": "base: spatten\nfoo: 1\n",
        "unknown-nested-key": "base: spatten\nqxk: {multiplierz: 512}\n",
        "unknown-deep-key": "base: spatten\npolicy: {token_pruning: {enable: true}}\n",
        "int-key": "base: spatten\n1: 2\n",
        "unhashable-key": "base: spatten\n? [a, b]\n: 1\n",
        "wrong-type-str-for-float": "base: spatten\nclock_ghz: fast\n",
        "wrong-type-section-scalar": "base: spatten\nqxk: 5\n",
        "wrong-type-section-list": "base: spatten\nbuffers: [1, 2]\n",
        "wrong-type-float-for-int": "base: spatten\nqxk: {multipliers: 5.5}\n",
        "wrong-type-bool-for-int": "base: spatten\nqxk: {multipliers: true}\n",
        "wrong-type-int-for-bool": "base: spatten\nbuffers: {double_buffered: 3}\n",
        "wrong-type-list-for-int": "base: spatten\ntopk: {comparators: [16]}\n",
        "nan-clock": "base: spatten\nclock_ghz: .nan\n",
        "inf-clock": "base: spatten\nclock_ghz: .inf\n",
        "zero-clock": "base: spatten\nclock_ghz: 0\n",
        "negative-clock": "base: spatten\nclock_ghz: -1\n",
        "clock-1e30": "base: spatten\nclock_ghz: 1e30\n",
        "clock-1e-30": "base: spatten\nclock_ghz: 1e-30\n",
        "negative-sram": "base: spatten\nbuffers: {key_sram_bytes: -5}\n",
        "zero-multipliers": "base: spatten\nqxk: {multipliers: 0}\n",
        "huge-int-beyond-c": "base: spatten\nqxk: {multipliers: 99999999999999999999999999}\n",
        "huge-int-latency": "base: spatten\nsoftmax: {exp_latency_cycles: 99999999999999999999999}\n",
        "1e12-multipliers": "base: spatten\nqxk: {multipliers: 1e12}\n",
        "1e12-comparators": "base: spatten\ntopk: {comparators: 1e12}\n",
        "nan-ratio": "base: spatten\npolicy: {token_pruning: {end_keep_ratio: .nan}}\n",
        "ratio-above-1": "base: spatten\npolicy: {token_pruning: {end_keep_ratio: 2}}\n",
        "ratio-negative": "base: spatten\npolicy: {local_v_pruning: {keep_ratio: -0.1}}\n",
        "threshold-inf": "base: spatten\npolicy: {progressive_quantization: {threshold: .inf}}\n",
        "bits-100": "base: spatten\npolicy: {quantization: {k_msb_bits: 100}}\n",
        "bits-zero": "base: spatten\npolicy: {quantization: {q_msb_bits: 0}}\n",
        "bits-above-word": "base: spatten\npolicy: {quantization: {k_msb_bits: 12, k_lsb_bits: 12}}\n",
        "seed-negative": "base: spatten\npolicy: {topk_seed: -1}\n",
        "seed-2-64": "base: spatten\npolicy: {topk_seed: 18446744073709551616}\n",
        "softmax-impl-unknown": "base: spatten\nsoftmax: {impl: magic}\n",
        "topk-impl-unknown": "base: spatten\ntopk: {impl: bogo_sort}\n",
        "timing-mode-unknown": "base: spatten\ntiming: {mode: warp}\n",
        "energy-table-missing": "base: spatten\nenergy: {table: no_such_table.yaml}\n",
        "multipliers-absurd": "base: spatten\nqxk: {multipliers: 1048577}\n",
        "multipliers-not-multiple": "base: spatten\nqxk: {multipliers: 3}\n",
        "sram-too-small-for-row": "base: spatten\nbuffers: {key_sram_bytes: 16}\n",
        "sram-beyond-limit": "base: spatten\nbuffers: {value_sram_bytes: 1e18}\n",
        "fifo-depth-huge": "base: spatten\nfetcher: {address_fifo_depth: 4294967296}\n",
        "billion-laughs": "base: spatten\n" + billion_laughs,
        "deep-nesting-flow": "base: spatten\nname: " + "[" * 300 + "]" * 300 + "\n",
        "deep-nesting-block": "base: spatten\n"
        + "".join("  " * i + f"k{i}:\n" for i in range(100))
        + "  " * 100
        + "v: 1\n",
        "non-utf8": b"base: spatten\nname: \xff\xfe\xfa\n",
        "nul-bytes": b"base: spatten\nname: a\x00b\n",
        "list-top-level": "- base: spatten\n- qxk: {multipliers: 4}\n",
        "scalar-top-level": "just a string\n",
        "python-tag": "base: spatten\nname: !!python/object/apply:os.system ['echo pwned']\n",
        "undefined-alias": "base: spatten\nname: *nowhere\n",
        "base-loop": "base: hw.yaml\n",
        "base-missing": "base: no_such_preset\n",
        "base-wrong-type": "base: 5\n",
        "too-large": "base: spatten\n" + "# padding\n" * 120_000,
        # the ideal memory model's fields
        "ideal-channels-zero": "base: spatten\nmemory: {preset: ideal, channels: 0}\n",
        "ideal-channels-1e12": "base: spatten\nmemory: {preset: ideal, channels: 1e12}\n",
        "ideal-bandwidth-inf": "base: spatten\nmemory: {preset: ideal, channel_bandwidth_gbps: .inf}\n",
        "ideal-bandwidth-nan": "base: spatten\nmemory: {preset: ideal, channel_bandwidth_gbps: .nan}\n",
        "ideal-latency-negative": "base: spatten\nmemory: {preset: ideal, latency_ns: -1}\n",
        "ideal-transaction-3": "base: spatten\nmemory: {preset: ideal, transaction_bytes: 3}\n",
        "ideal-unknown-key": "base: spatten\nmemory: {preset: ideal, nCL: 14}\n",
        "ideal-fifo-str": "base: spatten\nmemory: {preset: ideal, fifo_depth: deep}\n",
        # the HBM2 model's timing and size fields
        "hbm2-nCL-negative": "base: spatten\nmemory: {nCL: -1}\n",
        "hbm2-nCL-1e12": "base: spatten\nmemory: {nCL: 1e12}\n",
        "hbm2-nRFC-huge-int": "base: spatten\nmemory: {nRFC: 99999999999999999999999}\n",
        "hbm2-tck-zero": "base: spatten\nmemory: {tck_ns: 0}\n",
        "hbm2-tck-nan": "base: spatten\nmemory: {tck_ns: .nan}\n",
        "hbm2-nREFI-zero": "base: spatten\nmemory: {nREFI: 0}\n",
        "hbm2-channels-3": "base: spatten\nmemory: {channels: 3}\n",
        "hbm2-channels-1e12": "base: spatten\nmemory: {channels: 1e12}\n",
        "hbm2-rows-huge": "base: spatten\nmemory: {rows: 1099511627776}\n",
        "hbm2-columns-zero": "base: spatten\nmemory: {columns: 0}\n",
        "hbm2-burst-bytes-7": "base: spatten\nmemory: {burst_bytes: 7}\n",
        "hbm2-request-bytes-huge": "base: spatten\nmemory: {request_bytes: 1073741824}\n",
        "hbm2-mapping-unknown": "base: spatten\nmemory: {mapping: XYZ}\n",
        "hbm2-row-policy-unknown": "base: spatten\nmemory: {row_policy: ajar}\n",
        "hbm2-watermark-2": "base: spatten\nmemory: {write_high_watermark: 2}\n",
        "hbm2-refresh-str": "base: spatten\nmemory: {refresh: sometimes}\n",
        "hbm2-unknown-key": "base: spatten\nmemory: {nCLX: 3}\n",
        "memory-preset-unknown": "base: spatten\nmemory: {preset: ddr9}\n",
        "memory-not-mapping": "base: spatten\nmemory: hbm2\n",
    }
    for name, text in yamls.items():
        yield Case(f"config-{name}", "config", ("run", "hw.yaml", RUN_TRACE, "-q"),
                   (("hw.yaml", text),))  # fmt: skip
    yield Case("config-hw-is-a-folder", "config", ("run", "hwdir", RUN_TRACE, "-q"),
               setup=(("mkdir", "hwdir"),))  # fmt: skip
    yield Case("config-hw-is-a-fifo", "config", ("run", "hw.yaml", RUN_TRACE, "-q"),
               setup=(("mkfifo", "hw.yaml"),))  # fmt: skip
    yield Case("config-hw-symlink-loop", "config", ("run", "hw.yaml", RUN_TRACE, "-q"),
               setup=(("symlink", "hw.yaml", "hw.yaml"),))  # fmt: skip
    yield Case("config-base-is-a-folder", "config", ("run", "hw.yaml", RUN_TRACE, "-q"),
               (("hw.yaml", "base: sub\n"),), setup=(("mkdir", "sub"),))  # fmt: skip


def set_cases() -> Iterator[Case]:
    """``--set`` values of ``run`` (and of ``dram-bench``, which takes only ``memory.*``)."""
    deep_laughs = (
        "[&a [x,x,x,x,x,x,x,x,x,x],"
        + ",".join(
            f"&a{i} [" + ",".join([f"*a{i - 1}" if i > 1 else "*a"] * 10) + "]" for i in range(1, 7)
        )
        + "]"
    )
    sets = {
        "no-equals": "qxk.multipliers",
        "empty-key": "=3",
        "empty-path-part": "qxk..multipliers=4",
        "trailing-dot": "qxk.=4",
        "bad-yaml": "qxk.multipliers=[1, 2",
        "1e12": "qxk.multipliers=1e12",
        "huge-int": "topk.comparators=99999999999999999999999999999",
        "nan": "clock_ghz=.nan",
        "inf": "clock_ghz=.inf",
        "clock-1e30": "clock_ghz=1e30",
        "clock-zero": "clock_ghz=0",
        "string-for-int": "topk.comparators=sixteen",
        "value-not-section": "qxk.multipliers.x=1",
        "section-as-value": "qxk=3",
        "unknown-section": "nosuch.key=1",
        "unknown-key": "qxk.nosuch=1",
        "memory-preset-unknown": "memory.preset=ddr9",
        "memory-nCL-negative": "memory.nCL=-3",
        "memory-channels-huge": "memory.channels=99999999999999999999999",
        "seed-negative": "policy.topk_seed=-1",
        "python-tag": "name=!!python/name:os.system",
        "undefined-alias": "name=*a",
        "billion-laughs": "name=" + deep_laughs,
        "deep-nesting": "name=" + "[" * 400 + "]" * 400,
        "int-100k-digits": "topk.comparators=" + "9" * 100_000,
    }
    for name, item in sets.items():
        yield Case(f"set-{name}", "set", ("run", "spatten", RUN_TRACE, "-q", "--set", item))
    # an HBM2 field given to the ideal model
    yield Case("set-memory-ideal-with-hbm2-field", "set", ("run", "spatten", RUN_TRACE, "-q",
               "--set", "memory.preset=ideal", "--set", "memory.nCL=14"))  # fmt: skip
    for name, item in {
        "dram-not-memory": "qxk.multipliers=4",
        "dram-no-equals": "memory.nCL",
        "dram-empty-field": "memory.=4",
        "dram-nCL-string": "memory.nCL=abc",
        "dram-tck-zero": "memory.tck_ns=0",
        "dram-unknown-field": "memory.foo=1",
        "dram-billion-laughs": "memory.nCL=" + deep_laughs,
    }.items():
        yield Case(f"set-{name}", "set", ("dram-bench", "hbm2", "--requests", "100", "--set", item))


def trace_cases() -> Iterator[Case]:
    """Trace files (.npz), each read by ``run spatten t.npz`` (and a few by ``trace-info``)."""
    good = trace_bytes()
    arr = base_arrays()
    big_f16 = npy_header_only("<f2", (1 << 28,))  # declares 512 MiB, holds nothing
    cases: dict[str, Content] = {
        "not-a-zip": b"this is not a zip archive\n" * 10,
        "empty-file": b"",
        "truncated-half": good[: len(good) // 2],
        "truncated-tail": good[:-30],
        "corrupt-deflate": good[:200] + bytes(b ^ 0x5A for b in good[200:400]) + good[400:],
        "pickle-inside": trace_bytes(raw={"q": npy(np.array([{"a": 1}], dtype=object))}),
        "pickle-meta": trace_bytes(raw={"meta": npy(np.array(base_meta(), dtype=object))}),
        "dtype-float64": trace_bytes(arrays={"q": arr["q"].astype(np.float64)}),
        "dtype-int32": trace_bytes(arrays={"k": arr["k"].astype(np.int32)}),
        "dtype-complex": trace_bytes(arrays={"v": arr["v"].astype(np.complex64)}),
        "dtype-big-endian": trace_bytes(arrays={"q": arr["q"].astype(">f2")}),
        "dtype-structured": trace_bytes(
            raw={"k": npy(np.zeros((L, H, T, D), dtype=[("a", "<f2")]))}
        ),
        "shape-wrong-tokens": trace_bytes(arrays={"q": arr["q"][:, :, :8]}),
        "shape-wrong-ndim": trace_bytes(arrays={"k": arr["k"].reshape(-1)}),
        "shape-kv-mismatch": trace_bytes(arrays={"v": arr["v"][:, :1]}),
        "shape-zero-size": trace_bytes(
            meta=meta_with(tokens=0, prompt_tokens=0),
            arrays={n: np.zeros((L, H, 0, D), np.float16) for n in "qkv"},
        ),
        "nan-data": trace_bytes(arrays={"k": np.where(arr["k"] > 1, np.nan, arr["k"])}),
        "inf-data": trace_bytes(arrays={"q": np.full_like(arr["q"], np.inf)}),
        "huge-declared-shape": trace_bytes(raw={"q": big_f16}),
        "huge-declared-shape-overflow": trace_bytes(
            raw={"k": npy_header_only("<f2", (1 << 40, 1 << 40, 1 << 40))}
        ),
        "negative-declared-shape": trace_bytes(raw={"v": npy_header_only("<f2", (-1, 4))}),
        "declared-shape-within-cap-all-three": trace_bytes(
            raw={n: big_f16 for n in ("q", "k", "v")}
        ),
        "npy-bad-magic": trace_bytes(raw={"q": b"NOTNUMPY" + npy(arr["q"])[8:]}),
        "npy-version-9": trace_bytes(raw={"q": b"\x93NUMPY\x09\x00" + npy(arr["q"])[8:]}),
        "npy-header-garbage": trace_bytes(
            raw={"q": b"\x93NUMPY\x01\x00" + struct.pack("<H", 6) + b"{{{{{\n"}
        ),
        "npy-header-python-expr": trace_bytes(
            raw={
                "q": npy_header_only("<f2", (1,)).replace(
                    b"'shape': (1,)", b"'shape': __import__('os')"
                )
            }
        ),
        "encrypted-member": patch_zip(good, "q.npy", flag_bits=0x1),
        "encrypted-meta": patch_zip(good, "meta.npy", flag_bits=0x1),
        "deflate64-member": patch_zip(good, "k.npy", method=9),
        "unknown-compression-id": patch_zip(good, "v.npy", method=99),
        "bzip2-id-on-deflated-data": patch_zip(good, "q.npy", method=12),
        "meta-deeply-nested": trace_bytes(
            raw={
                "meta": npy(
                    np.array(
                        json.dumps(base_meta())[:-1]
                        + ', "extra": {"a": '
                        + "[" * 100_000
                        + "]" * 100_000
                        + "}}"
                    )
                )
            }
        ),
        "meta-not-json": trace_bytes(raw={"meta": npy(np.array("{not json"))}),
        "meta-json-list": trace_bytes(raw={"meta": npy(np.array("[1, 2, 3]"))}),
        "meta-bytes-dtype": trace_bytes(raw={"meta": npy(np.array(b"{}"))}),
        "meta-1d": trace_bytes(raw={"meta": npy(np.array([json.dumps(base_meta())]))}),
        "meta-missing-field": trace_bytes(
            meta={k: v for k, v in base_meta().items() if k != "head_dim"}
        ),
        "meta-unknown-field": trace_bytes(meta=meta_with(colour="blue")),
        "meta-wrong-type": trace_bytes(meta=meta_with(n_layers="1")),
        "meta-bool-for-int": trace_bytes(meta=meta_with(n_heads=True)),
        "meta-float-for-int": trace_bytes(meta=meta_with(tokens=16.0)),
        "meta-format-version-2": trace_bytes(meta=meta_with(format_version=2)),
        "meta-nan-scale": trace_bytes(meta=meta_with(softmax_scale=float("nan"))),
        "meta-negative-scale": trace_bytes(meta=meta_with(softmax_scale=-1.0)),
        "meta-prompt-mismatch": trace_bytes(meta=meta_with(prompt_tokens=10)),
        "meta-generated-not-causal": trace_bytes(
            meta=meta_with(prompt_tokens=8, generated_tokens=8)
        ),
        "meta-heads-1e9": trace_bytes(meta=meta_with(n_heads=10**9, n_kv_heads=10**9)),
        "meta-layers-1e12": trace_bytes(meta=meta_with(n_layers=10**12)),
        "meta-tokens-2-40": trace_bytes(meta=meta_with(tokens=1 << 40, prompt_tokens=1 << 40)),
        "meta-head-dim-huge-int": trace_bytes(meta=meta_with(head_dim=10**30)),
        "meta-kv-heads-zero": trace_bytes(meta=meta_with(n_kv_heads=0)),
        "meta-kv-not-divisor": trace_bytes(meta=meta_with(n_kv_heads=3)),
        "meta-bias-stored-missing": trace_bytes(meta=meta_with(bias="stored")),
        "meta-bias-unknown": trace_bytes(meta=meta_with(bias="sometimes")),
        "unknown-member": trace_bytes(raw={"extra": npy(np.zeros(3, np.float16))}),
        "member-in-folder": npz([(f"sub/{n}.npy", npy(a)) for n, a in arr.items()]),
        "member-not-npy": npz([("readme.txt", b"hello"), ("meta.npy", npy(np.array("{}")))]),
        "missing-q": trace_bytes(drop=("q",)),
        "missing-meta": trace_bytes(drop=("meta",)),
        "duplicate-member": _duplicate_member(good),
        "token-ids-negative": trace_bytes(raw={"token_ids": npy(np.full(T, -1, np.int32))}),
        "token-ids-float": trace_bytes(raw={"token_ids": npy(np.zeros(T, np.float32))}),
        "bias-without-meta": trace_bytes(raw={"bias": npy(np.zeros((1, H, T, T), np.float16))}),
        "bias-wrong-shape": trace_bytes(
            meta=meta_with(bias="stored"), raw={"bias": npy(np.zeros((1, H, T, 3), np.float16))}
        ),
    }
    for name, content in cases.items():
        yield Case(
            f"trace-{name}", "trace", ("run", "spatten", "t.npz", "-q"), (("t.npz", content),)
        )
    for name in ("not-a-zip", "encrypted-member", "meta-heads-1e9", "huge-declared-shape"):
        yield Case(f"trace-info-{name}", "trace", ("trace-info", "t.npz"),
                   (("t.npz", cases[name]),))  # fmt: skip
    yield Case("trace-is-a-folder", "trace", ("run", "spatten", "t.npz", "-q"),
               setup=(("mkdir", "t.npz"),))  # fmt: skip
    yield Case("trace-is-a-fifo", "trace", ("run", "spatten", "t.npz", "-q"),
               setup=(("mkfifo", "t.npz"),))  # fmt: skip
    yield Case("trace-wrong-suffix", "trace", ("run", "spatten", "t.txt", "-q"),
               (("t.txt", good),))  # fmt: skip
    yield Case("trace-missing", "trace", ("run", "spatten", "nothing.npz", "-q"))


def _duplicate_member(good: bytes) -> bytes:
    import warnings

    buf = io.BytesIO(good)
    with zipfile.ZipFile(buf, "a") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zf.writestr("q.npy", npy(base_arrays()["q"]))
    return buf.getvalue()


def csv_cases() -> Iterator[Case]:
    """Official workload CSVs, each read by ``run spatten w.csv``."""
    h, rows, prov = csv_base()
    swapped_iter = [rows[150], *rows[1:150], rows[0], *rows[151:]]
    cases: dict[str, Content] = {
        "head-id-1e9": csv_with(0, "head_id", "1000000000"),
        "layer-id-1e20": csv_with(0, "layer_id", "1e20"),
        "sentence-length-1e12": csv_with(0, "sentence_length_L", str(10**12)),
        "head-dim-1e9": csv_with(0, "embedding_length_D", "1e9"),
        "iteration-huge-int": csv_with(0, "iteration_id", "9" * 40),
        "iteration-nan": csv_with(0, "iteration_id", "nan"),
        "layer-id-inf": csv_with(0, "layer_id", "inf"),
        "head-id-negative": csv_with(0, "head_id", "-1"),
        "iterations-out-of-order": csv_text(swapped_iter),
        "rows-out-of-order": csv_text([rows[1], rows[0], *rows[2:]]),
        "row-repeated": csv_text([rows[0], rows[0], *rows[1:]]),
        "iteration-gap": csv_text(
            [r for r in rows if r.startswith("0,")]
            + [r.replace("1,", "2,", 1) for r in rows if r.startswith("1,")]
        ),
        "key-count-above-length": csv_with(0, "key_fetch_num", "5000"),
        "value-count-above-keys": csv_with(0, "value_fetch_num", "994"),
        "key-count-zero": csv_with(0, "key_fetch_num", "0"),
        "quant-bits-7": csv_with(0, "quant_key_bit", "7"),
        "bool-maybe": csv_with(0, "if_requant", "maybe"),
        "topk-huge": csv_with(143, "topk", str(10**15)),
        "topk-above-length": csv_with(143, "topk", "5000"),
        "topk-zero": csv_with(143, "topk", "0"),
        "head-dim-varies": csv_with(0, "embedding_length_D", "32.0"),
        "sentence-length-inconsistent": csv_with(200, "sentence_length_L", "999"),
        "too-many-layer-heads": csv_text([rows[0], rows[0].replace("0,0,0,", "0,1023,4095,", 1)]),
        "empty": "",
        "header-only": h + "\n",
        "header-and-provenance": h + "\n" + prov + "\n",
        "missing-column": csv_text(header=h.replace("head_id", "head")),
        "binary-junk": bytes(range(256)) * 64,
        "non-utf8": csv_text().encode()[:500] + b"\xff\xfe" + csv_text().encode()[500:],
        "nul-byte": csv_text().replace("0,0,1,", "0,0,\x001,", 1),
        "huge-line": h + "\n" + "0," * 8_000_000 + "\n",
        "huge-field": h + "\n" + "0,0,0,64.0," + "9" * 300_000 + "\n",
        "quoted-newline": csv_text([rows[0].replace("64.0", '"64\n.0"', 1), *rows[1:]]),
        "data-after-provenance": csv_text(tail=True) + rows[0] + "\n",
        "too-few-cells": csv_text(["0,0,0,64.0"]),
    }
    for name, content in cases.items():
        yield Case(f"csv-{name}", "csv", ("run", "spatten", "w.csv", "-q"), (("w.csv", content),))
    yield Case("csv-is-a-folder", "csv", ("run", "spatten", "w.csv", "-q"),
               setup=(("mkdir", "w.csv"),))  # fmt: skip


#: cases that still fail, and why (open problems; the test expects them to fail)
KNOWN: dict[str, str] = {}

SPACE_OK = "base: spatten\ntraces: [minilm-sst-25]\naxes:\n  topk.comparators: [4, 8]\n"


def space_cases() -> Iterator[Case]:
    """Sweep spaces and options, each given to ``sweep SPACE -o res``."""
    spaces: dict[str, Content] = {
        "constraint-power-tower": SPACE_OK + "constraints: ['9 ** 9 ** 9 > topk.comparators']\n",
        "constraint-string-mul": SPACE_OK + "constraints: [\"'a' * 10000000000 > 'b'\"]\n",
        "constraint-list-mul": SPACE_OK + "constraints: ['[1] * 10000000000 == 1']\n",
        "constraint-shift": SPACE_OK + "constraints: ['1 << 10000000000 > 1']\n",
        "constraint-call": SPACE_OK + 'constraints: [\'__import__("os").system("true")\']\n',
        "constraint-attribute": SPACE_OK + "constraints: ['topk.__class__ == 1']\n",
        "constraint-syntax": SPACE_OK + "constraints: ['topk.comparators >']\n",
        "constraint-unknown-key": SPACE_OK + "constraints: ['nosuch.key > 1']\n",
        "constraint-deep": SPACE_OK + "constraints: ['" + "(" * 500 + "1" + ")" * 500 + " > 0']\n",
        "constraint-excludes-all": SPACE_OK + "constraints: ['topk.comparators > 1000']\n",
        "constraint-not-string": SPACE_OK + "constraints: [5]\n",
        "unknown-axis-key": "base: spatten\ntraces: [minilm-sst-25]\naxes:\n  nosuch.key: [1, 2]\n",
        "axis-bad-value": "base: spatten\ntraces: [minilm-sst-25]\naxes:\n  topk.comparators: [0, -1]\n",
        "empty-axis-list": "base: spatten\ntraces: [minilm-sst-25]\naxes:\n  topk.comparators: []\n",
        "1e9-combinations": "base: spatten\ntraces: [minilm-sst-25]\naxes:\n"
        + "".join(
            f"  {k}: {{from: 1, to: 1000, step: 1}}\n"
            for k in ("topk.comparators", "topk.fifo_depth", "decision.fifo_depth")
        ),
        "range-1e12-values": "base: spatten\ntraces: [minilm-sst-25]\naxes:\n"
        "  topk.comparators: {from: 1, to: 1e12, step: 1}\n",
        "log-factor-1": "base: spatten\ntraces: [minilm-sst-25]\naxes:\n"
        "  topk.comparators: {log: {from: 1, to: 16, factor: 1}}\n",
        "log-num-huge": "base: spatten\ntraces: [minilm-sst-25]\naxes:\n"
        "  topk.comparators: {log: {from: 1, to: 16, num: 1e12}}\n",
        "range-nan-step": "base: spatten\ntraces: [minilm-sst-25]\naxes:\n"
        "  topk.comparators: {from: 1, to: 16, step: .nan}\n",
        "unknown-top-key": SPACE_OK + "colour: blue\n",
        "no-traces": "base: spatten\naxes:\n  topk.comparators: [4]\n",
        "trace-missing": "base: spatten\ntraces: [nothing.npz]\naxes:\n  topk.comparators: [4]\n",
        "trace-glob-empty": "base: spatten\ntraces: ['*.npz']\naxes:\n  topk.comparators: [4]\n",
        "env-unset": "base: spatten\ntraces: ['${SPATTEN_SIM_NO_SUCH_VAR}/x.npz']\n"
        "axes:\n  topk.comparators: [4]\n",
        "base-missing": "base: no_such\ntraces: [minilm-sst-25]\naxes:\n  topk.comparators: [4]\n",
        "sets-bad": SPACE_OK + "sets:\n  qxk.multipliers: -4\n",
        "zip-unequal": "base: spatten\ntraces: [minilm-sst-25]\nzip:\n"
        "  - topk.comparators: [4, 8]\n    topk.fifo_depth: [16]\n",
        "list-top-level": "- base: spatten\n",
        "malformed": "base: spatten\naxes: {topk.comparators: [4, 8\n",
        "empty": "",
        "billion-laughs": SPACE_OK
        + "description: &a [x,x,x,x,x,x,x,x,x,x]\n"
        + "".join(
            f"d{i}: &a{i} [{','.join([('*a' + str(i - 1)) if i > 1 else '*a'] * 10)}]\n"
            for i in range(1, 8)
        ),
        "non-utf8": b"base: spatten\nname: \xff\xfe\n",
    }
    for name, content in spaces.items():
        yield Case(f"space-{name}", "space", ("sweep", "space.yaml", "-o", "res", "-q"),
                   (("space.yaml", content),), known=KNOWN.get(f"space-{name}", ""))  # fmt: skip
    for name, opts in {
        "jobs-zero": ("--jobs", "0"),
        "jobs-negative": ("--jobs", "-3"),
        "jobs-huge": ("--jobs", "99999999999999999999"),
        "max-points-negative": ("--max-points", "-1"),
    }.items():
        yield Case(f"space-{name}", "space", ("sweep", "space.yaml", "-o", "res", "-q", *opts),
                   (("space.yaml", SPACE_OK),))  # fmt: skip
    yield Case("space-missing", "space", ("sweep", "nothing.yaml", "-o", "res", "-q"))
    yield Case("space-dry-run-bad", "space", ("sweep", "space.yaml", "-o", "res", "--dry-run"),
               (("space.yaml", spaces["unknown-axis-key"]),))  # fmt: skip


def dram_cases() -> Iterator[Case]:
    """``dram-bench`` options and pattern files."""
    bench = ("dram-bench", "hbm2")
    for name, opts in {
        "requests-1e12": ("--requests", "1e12"),
        "requests-huge-int": ("--requests", "99999999999999999999"),
        "requests-above-limit": ("--requests", str((1 << 31) + 1)),
        "requests-negative": ("--requests", "-5"),
        "requests-junk": ("--requests", "many"),
        "outstanding-negative": ("--requests", "100", "--outstanding", "-1"),
        "outstanding-huge-int": ("--requests", "100", "--outstanding", "99999999999999999999"),
        "issue-huge-int": ("--requests", "100", "--issue-per-cycle", "99999999999999999999"),
        "channels-3": ("--requests", "100", "--channels", "3"),
        "channels-zero": ("--requests", "100", "--channels", "0"),
        "channels-huge-int": ("--requests", "100", "--channels", "99999999999999999999"),
        "rate-nan": ("--requests", "100", "--rate-gbps", "nan"),
        "rate-inf": ("--requests", "100", "--rate-gbps", "inf"),
        "rate-negative": ("--requests", "100", "--rate-gbps", "-1"),
        "rate-tiny": ("--requests", "100", "--rate-gbps", "1e-300"),
        "seed-negative": ("--pattern", "random", "--requests", "100", "--seed", "-1"),
        "seed-2-64": ("--pattern", "random", "--requests", "100", "--seed", str(2**64)),
        "stride-zero": ("--pattern", "stride:0", "--requests", "100"),
        "stride-junk": ("--pattern", "stride:abc", "--requests", "100"),
        "stride-unaligned": ("--pattern", "stride:7", "--requests", "100"),
        "stride-huge": ("--pattern", f"stride:{2**70}", "--requests", "100"),
        "pattern-missing": ("--pattern", "nothing.txt"),
    }.items():
        yield Case(f"dram-{name}", "dram-bench", (*bench, *opts))
    for name, hw in {
        "hw-unknown": ("nosuch",),
        "hw-ideal": ("ideal",),
    }.items():
        yield Case(f"dram-{name}", "dram-bench", ("dram-bench", *hw, "--requests", "100"))
    yield Case("dram-hw-yaml-no-memory", "dram-bench", ("dram-bench", "hw.yaml", "--requests", "10"),
               (("hw.yaml", "- 1\n- 2\n"),))  # fmt: skip
    yield Case("dram-hw-yaml-bad-memory", "dram-bench", ("dram-bench", "hw.yaml", "--requests", "10"),
               (("hw.yaml", "base: spatten\nmemory: {nCL: -1}\n"),))  # fmt: skip
    patterns: dict[str, Content] = {
        "p.npy-uint64-above-2-63": npy(np.array([2**63 + 64, 2**64 - 1], dtype=np.uint64)),
        "p.npy-negative": npy(np.array([0, -64], dtype=np.int64)),
        "p.npy-float": npy(np.array([0.0, 64.0])),
        "p.npy-2d": npy(np.zeros((2, 2), np.int64)),
        "p.npy-empty": npy(np.zeros(0, np.int64)),
        "p.npy-pickle": npy(np.array([1, "a"], dtype=object)),
        "p.npy-truncated": npy(np.arange(1000, dtype=np.int64))[:300],
        "p.npy-huge-declared": npy_header_only("<i8", (1 << 40,)),
        "p.npy-junk": b"not an npy file at all",
        "p.txt-junk": "hello world\nthis is not a trace\n",
        "p.txt-address-huge": "LD 0x" + "f" * 40 + "\n",
        "p.txt-address-above-2-63": f"LD {hex(2**63 + 64)}\n",
        "p.txt-negative": "LD -64\n",
        "p.txt-bad-hex": "LD 0xZZZ\n",
        "p.txt-empty": "",
        "p.txt-comments-only": "# nothing\n# here\n",
        "p.txt-extra-field": "LD 0x40 3\n",
        "p.txt-non-utf8": b"LD 0x40\n\xff\xfe\n",
        "p.txt-nul": "LD 0x40\x00\n",
        "p.txt-huge-line": "LD 0x" + "4" * 5_000_000 + "\n",
    }
    for name, content in patterns.items():
        fname = name.split("-")[0]
        yield Case(f"dram-pattern-{name.replace('.', '-')}", "dram-bench",
                   (*bench, "--pattern", fname), ((fname, content),))  # fmt: skip
    yield Case("dram-pattern-is-a-folder", "dram-bench", (*bench, "--pattern", "p.txt"),
               setup=(("mkdir", "p.txt"),))  # fmt: skip
    yield Case("dram-pattern-is-a-fifo", "dram-bench", (*bench, "--pattern", "p.txt"),
               setup=(("mkfifo", "p.txt"),))  # fmt: skip


def rundir_cases() -> Iterator[Case]:
    """Run folders and sweep folders given to ``plot``, ``report`` and ``diff``."""
    truncated = lambda: good_run_dir()["report.json"][:200]  # noqa: E731
    bad_reports: dict[str, Content | None] = {
        "missing-report": None,
        "report-list": b"[1, 2, 3]\n",
        "report-string": b'"a report"\n',
        "report-truncated": truncated,
        "report-empty-object": b"{}\n",
        "report-empty-file": b"",
        "report-non-utf8": b'{"config": "\xff\xfe"}',
        "report-nan-fields": b'{"config": NaN, "input": [], "cycles": "many"}',
        "report-deep": b"[" * 100_000 + b"]" * 100_000,
        "report-huge-number": b'{"cycles": 1' + b"0" * 5000 + b"}",
    }
    for name, content in bad_reports.items():
        files = run_dir_files(**{"report.json": content})  # type: ignore[arg-type]
        for cmd in ("plot", "report"):
            out = ("-o", "figs") if cmd == "plot" else ("-o", "page.html")
            yield Case(f"rundir-{cmd}-{name}", "rundir", (cmd, "run", *out), files)
    for name, fname, content in (
        ("config-yaml-corrupt", "config.yaml", b"qxk: [1, 2\n"),
        ("config-yaml-list", "config.yaml", b"- 1\n"),
        ("timeline-corrupt", "timeline.csv", b"\x00\x01binary"),
        (
            "timeline-bad-interval",
            "timeline.csv",
            b"unit,kind,start_cycle,end_cycle\nqxk,busy,9,1\n",
        ),
        ("timeline-non-utf8", "timeline.csv", b"unit,kind,start_cycle,end_cycle\n\xff,busy,1,2\n"),
        ("pruning-corrupt", "pruning.npz", b"not a zip"),
        ("pruning-truncated", "pruning.npz", lambda: good_run_dir()["pruning.npz"][:100]),
        ("pruning-present-1d", "pruning.npz", pruning_with(present=np.ones(3, bool))),
        ("pruning-version-str", "pruning.npz", pruning_with(format_version=np.array("one"))),
        (
            "pruning-counts-2d",
            "pruning.npz",
            pruning_with(tokens_kept=np.ones((2, 2, 2), np.int32)),
        ),
        ("pruning-head-mask-2d", "pruning.npz", pruning_with(head_mask=np.ones((1, 1), bool))),
        ("pruning-token-mask-1d", "pruning.npz", pruning_with(token_mask=np.ones(4, bool))),
    ):
        extra = {"timeline.csv": ("--timeline",), "pruning.npz": ("--pruning",)}.get(fname, ())
        yield Case(f"rundir-plot-{name}", "rundir", ("plot", "run", "-o", "figs", *extra),
                   run_dir_files(**{fname: content}))  # fmt: skip
    good_timeline = b"unit,kind,start_cycle,end_cycle\nqxk,busy,0,10\n"
    for name, layers in (
        ("layers-csv-junk", b"\x00\xff\x01junk"),
        ("layers-csv-bad-header", b"a,b,c\n1,2,3\n"),
        ("layers-csv-bad-values", b"stage,iteration,layer,start_cycle,end_cycle\nx,y,z,q,r\n"),
    ):
        yield Case(f"rundir-plot-timeline-{name}", "rundir",
                   ("plot", "run", "-o", "figs", "--timeline"),
                   run_dir_files(**{"timeline.csv": good_timeline, "layers.csv": layers}))  # fmt: skip
    yield Case("rundir-report-into-new-folder", "rundir", ("report", "run", "-o", "new/page.html"),
               run_dir_files(**{"report.json": b"[]"}))  # fmt: skip
    yield Case("rundir-plot-missing-folder", "rundir", ("plot", "nothing", "-o", "figs"))
    yield Case("rundir-plot-empty-folder", "rundir", ("plot", "run", "-o", "figs"),
               setup=(("mkdir", "run"),))  # fmt: skip
    sweeps: dict[str, tuple[tuple[str, Content], ...]] = {
        "results-csv-junk": sweep_dir_files(table=bytes(range(256)) * 8),
        "results-csv-empty": sweep_dir_files(table=""),
        "results-csv-no-status": sweep_dir_files(table="point_id,trace\nabc,t.npz\n"),
        "results-csv-huge-field": sweep_dir_files(
            table="point_id,status,error,trace,trace_sha256\nabc,ok," + "x" * 300_000 + ",t,0\n"
        ),
        "results-csv-non-utf8": sweep_dir_files(table=b"point_id,status\n\xff\xfe,ok\n"),
        "manifest-list": sweep_dir_files(manifest="[1, 2]"),
        "manifest-truncated": sweep_dir_files(manifest='{"name": "s", "axes": ['),
        "manifest-axes-int": sweep_dir_files(manifest='{"name": 5, "axes": 7, "points": 3}'),
        "point-missing": sweep_dir_files(),
        "point-list": sweep_dir_files(points={"0123456789abcdef": "[1]"}),
        "point-no-report": sweep_dir_files(points={"0123456789abcdef": '{"status": "ok"}'}),
    }
    for name, files in sweeps.items():
        for cmd in ("plot", "report"):
            out = ("-o", "figs") if cmd == "plot" else ("-o", "page.md")
            yield Case(f"sweepdir-{cmd}-{name}", "rundir", (cmd, "res", *out), files)
    # diff: two documents, one of them bad
    good = run_dir_files()
    for name, content in (("list", b"[]"), ("truncated", b'{"cycles": 1'), ("empty", b"")):
        yield Case(f"diff-report-{name}", "rundir", ("diff", "run", "bad.json"),
                   (*good, ("bad.json", content)))  # fmt: skip
    yield Case("diff-sweep-corrupt", "rundir", ("diff", "res", "res2"),
               (*sweep_dir_files("res", table=b"\x00\x01"), *sweep_dir_files("res2")))  # fmt: skip


def option_cases() -> Iterator[Case]:
    """Option values of the other commands, refused when the command line is parsed."""
    good_timeline = b"unit,kind,start_cycle,end_cycle\nqxk,busy,0,10\n"
    plot = ("plot", "run", "-o", "figs")
    for name, argv, files in (
        # -o inside the case folder: were the option accepted, nothing would be written elsewhere
        ("validate-jobs-zero", ("validate", "--quick", "--jobs", "0", "-o", "out"), ()),
        ("trace-tokens-1e12", ("trace", "--model", "minilm", "--text", "sst", "--tokens", "1e12",
                               "-o", "t.npz"), ()),
        ("trace-generate-negative", ("trace", "--model", "smollm2", "--text", "wiki",
                                     "--generate", "-1", "-o", "t.npz"), ()),
        ("trace-sample-fraction", ("trace", "--model", "minilm", "--text", "sst",
                                   "--sample", "0.5", "-o", "t.npz"), ()),
        ("trace-model-unknown", ("trace", "--model", "gpt5", "--text", "sst", "-o", "t.npz"), ()),
        ("unknown-command", ("simulate", "spatten"), ()),
        ("run-missing-input", ("run", "spatten"), ()),
        ("run-set-without-value", ("run", "spatten", RUN_TRACE, "--set"), ()),
        ("run-unknown-option", ("run", "spatten", RUN_TRACE, "--fast"), ()),
        ("run-dram-trace-format-unknown", ("run", "spatten", RUN_TRACE, "--dram-trace", "x",
                                           "--dram-trace-format", "vcd"), ()),
        ("presets-kind-unknown", ("presets", "--kind", "bogus"), ()),
        ("diff-tolerance-junk", ("diff", "a.json", "a.json", "--rtol", "tiny"), ()),
        ("plot-window-junk", (*plot, "--timeline", "--window", "a:b"),
         run_dir_files(**{"timeline.csv": good_timeline})),
        ("plot-window-reversed", (*plot, "--timeline", "--window", "10:5"),
         run_dir_files(**{"timeline.csv": good_timeline})),
        ("plot-iterations-junk", (*plot, "--pruning", "--iterations", "x,y"), run_dir_files()),
        ("plot-iterations-beyond-run", (*plot, "--pruning", "--iterations", "9" * 20),
         run_dir_files()),
        ("plot-iterations-without-pruning", (*plot, "--iterations", "0"), run_dir_files()),
    ):  # fmt: skip
        yield Case(f"option-{name}", "options", argv, files)


def output_cases() -> Iterator[Case]:
    """Output paths that cannot be written: FIFOs, folders, paths below a regular file."""
    run = ("run", "spatten", RUN_TRACE, "-q")
    yield Case("output-run-json-fifo", "output", (*run, "--json", "out.json"),
               setup=(("mkfifo", "out.json"),))  # fmt: skip
    yield Case("output-run-json-folder", "output", (*run, "--json", "outdir"),
               setup=(("mkdir", "outdir"),))  # fmt: skip
    yield Case("output-run-json-below-file", "output", (*run, "--json", "f/out.json"),
               (("f", "a regular file\n"),))  # fmt: skip
    yield Case("output-run-json-deep-below-file", "output", (*run, "--json", "f/a/b/out.json"),
               (("f", "a regular file\n"),))  # fmt: skip
    yield Case("output-run-json-symlink-loop", "output", (*run, "--json", "loop.json"),
               setup=(("symlink", "loop.json", "loop.json"),))  # fmt: skip
    yield Case("output-run-json-dangling-below-file", "output", (*run, "--json", "ln"),
               (("f", "x"),), setup=(("symlink", "ln", "f/out.json"),))  # fmt: skip
    yield Case("output-run-o-is-a-file", "output", (*run, "-o", "f"), (("f", "x"),))
    yield Case("output-run-o-below-file", "output", (*run, "-o", "f/run"), (("f", "x"),))
    yield Case("output-run-o-is-a-fifo", "output", (*run, "-o", "p"), setup=(("mkfifo", "p"),))
    yield Case("output-run-dram-trace-fifo", "output",
               (*run, "--dram-trace", "t.ramulator2"), setup=(("mkfifo", "t.ramulator2"),))  # fmt: skip
    yield Case("output-run-dram-trace-folder", "output",
               (*run, "--dram-trace", "d.dramsim3"), setup=(("mkdir", "d.dramsim3"),))  # fmt: skip
    yield Case("output-run-dram-trace-no-format", "output", (*run, "--dram-trace", "t.bin"))
    dram = ("dram-bench", "hbm2", "--requests", "100")
    yield Case("output-dram-json-fifo", "output", (*dram, "--json", "o.json"),
               setup=(("mkfifo", "o.json"),))  # fmt: skip
    yield Case("output-dram-json-folder", "output", (*dram, "--json", "o"),
               setup=(("mkdir", "o"),))  # fmt: skip
    yield Case("output-dram-json-below-file", "output", (*dram, "--json", "f/o.json"),
               (("f", "x"),))  # fmt: skip
    yield Case("output-trace-info-json-fifo", "output", ("trace-info", "t.npz", "--json", "o"),
               (("t.npz", trace_bytes()),), setup=(("mkfifo", "o"),))  # fmt: skip
    yield Case("output-trace-info-json-folder", "output", ("trace-info", "t.npz", "--json", "o"),
               (("t.npz", trace_bytes()),), setup=(("mkdir", "o"),))  # fmt: skip
    yield Case("output-sweep-o-is-a-file", "output", ("sweep", "space.yaml", "-o", "f", "-q"),
               (("space.yaml", SPACE_OK), ("f", "x")))  # fmt: skip
    yield Case("output-sweep-o-below-file", "output",
               ("sweep", "space.yaml", "-o", "f/res", "-q"), (("space.yaml", SPACE_OK), ("f", "x")))  # fmt: skip
    yield Case("output-plot-o-is-a-file", "output", ("plot", "run", "-o", "f"),
               (*run_dir_files(), ("f", "x")))  # fmt: skip
    yield Case("output-plot-o-below-file", "output", ("plot", "run", "-o", "f/figs"),
               (*run_dir_files(), ("f", "x")))  # fmt: skip
    yield Case("output-report-o-fifo", "output", ("report", "run", "-o", "page.html"),
               run_dir_files(), setup=(("mkfifo", "page.html"),))  # fmt: skip
    yield Case("output-report-o-folder", "output", ("report", "run", "-o", "page.html"),
               run_dir_files(), setup=(("mkdir", "page.html"),))  # fmt: skip
    yield Case("output-report-o-below-file", "output", ("report", "run", "-o", "f/page.md"),
               (*run_dir_files(), ("f", "x")))  # fmt: skip
    yield Case("output-report-md-figures-below-file", "output", ("report", "run", "-o", "page.md"),
               (*run_dir_files(), ("page_files", "x")))  # fmt: skip
    yield Case("output-diff-json-fifo", "output", ("diff", "run", "run", "--json", "o"),
               run_dir_files(), setup=(("mkfifo", "o"),))  # fmt: skip


KINDS: dict[str, Callable[[], Iterator[Case]]] = {
    "config": config_cases,
    "set": set_cases,
    "trace": trace_cases,
    "csv": csv_cases,
    "space": space_cases,
    "dram-bench": dram_cases,
    "rundir": rundir_cases,
    "options": option_cases,
    "output": output_cases,
}


#: the cases of the fast test suite: at least one of every mechanism (a parser, a limit, a type,
#: a file kind, an output check); the others are variants and run with ``-m slow``
FAST = frozenset(
    """
    config-malformed-flow config-malformed-tab config-unknown-top-key config-unknown-nested-key
    config-unhashable-key config-wrong-type-str-for-float config-wrong-type-section-scalar
    config-wrong-type-float-for-int config-wrong-type-bool-for-int config-nan-clock
    config-inf-clock config-zero-clock config-clock-1e30 config-negative-sram
    config-huge-int-beyond-c config-1e12-multipliers config-nan-ratio config-bits-above-word
    config-seed-2-64 config-softmax-impl-unknown config-energy-table-missing
    config-multipliers-absurd config-sram-too-small-for-row config-billion-laughs
    config-deep-nesting-flow config-deep-nesting-block config-non-utf8 config-list-top-level
    config-python-tag config-base-loop config-too-large config-ideal-channels-1e12
    config-ideal-bandwidth-inf config-ideal-transaction-3 config-ideal-unknown-key
    config-hbm2-nCL-1e12 config-hbm2-tck-zero config-hbm2-rows-huge config-hbm2-mapping-unknown
    config-hbm2-unknown-key config-memory-preset-unknown config-hw-is-a-fifo
    config-hw-symlink-loop
    set-no-equals set-empty-path-part set-bad-yaml set-1e12 set-huge-int set-nan
    set-value-not-section set-unknown-section set-memory-channels-huge set-billion-laughs
    set-deep-nesting set-int-100k-digits set-memory-ideal-with-hbm2-field set-dram-not-memory
    set-dram-nCL-string set-dram-billion-laughs
    trace-not-a-zip trace-empty-file trace-truncated-half trace-corrupt-deflate
    trace-pickle-inside trace-dtype-float64 trace-dtype-big-endian trace-shape-wrong-tokens
    trace-shape-zero-size trace-nan-data trace-huge-declared-shape
    trace-huge-declared-shape-overflow trace-negative-declared-shape
    trace-declared-shape-within-cap-all-three trace-npy-header-garbage
    trace-npy-header-python-expr trace-encrypted-member trace-deflate64-member
    trace-unknown-compression-id trace-meta-deeply-nested trace-meta-not-json
    trace-meta-json-list trace-meta-missing-field trace-meta-bool-for-int trace-meta-nan-scale
    trace-meta-heads-1e9 trace-meta-tokens-2-40 trace-meta-head-dim-huge-int
    trace-unknown-member trace-duplicate-member trace-bias-wrong-shape trace-info-not-a-zip
    trace-info-huge-declared-shape trace-is-a-folder trace-is-a-fifo trace-wrong-suffix
    csv-head-id-1e9 csv-layer-id-1e20 csv-sentence-length-1e12 csv-iteration-huge-int
    csv-iterations-out-of-order csv-rows-out-of-order csv-iteration-gap
    csv-key-count-above-length csv-topk-huge csv-too-many-layer-heads csv-empty
    csv-header-only csv-binary-junk csv-non-utf8 csv-nul-byte csv-huge-line csv-huge-field
    csv-quoted-newline csv-is-a-folder
    space-constraint-power-tower space-constraint-string-mul space-constraint-call
    space-constraint-deep space-constraint-excludes-all space-unknown-axis-key
    space-1e9-combinations space-range-1e12-values space-log-factor-1
    space-trace-missing space-env-unset space-list-top-level space-billion-laughs space-empty
    space-jobs-zero space-jobs-huge space-max-points-negative space-dry-run-bad
    dram-requests-1e12 dram-requests-huge-int dram-requests-above-limit dram-outstanding-huge-int
    dram-channels-3 dram-rate-nan dram-rate-tiny dram-seed-negative dram-stride-huge
    dram-hw-ideal dram-pattern-p-npy-uint64-above-2-63 dram-pattern-p-npy-negative
    dram-pattern-p-npy-pickle dram-pattern-p-npy-huge-declared dram-pattern-p-txt-junk
    dram-pattern-p-txt-address-huge dram-pattern-p-txt-non-utf8 dram-pattern-p-txt-huge-line
    dram-pattern-is-a-fifo
    rundir-plot-missing-report rundir-plot-report-list rundir-report-report-list
    rundir-plot-report-truncated rundir-report-report-empty-object rundir-plot-report-non-utf8
    rundir-report-report-nan-fields rundir-plot-report-deep rundir-plot-config-yaml-list
    rundir-plot-timeline-corrupt rundir-plot-timeline-non-utf8 rundir-plot-pruning-truncated
    rundir-plot-pruning-head-mask-2d rundir-plot-timeline-layers-csv-junk
    rundir-report-into-new-folder
    sweepdir-plot-results-csv-junk sweepdir-report-results-csv-empty
    sweepdir-plot-results-csv-no-status sweepdir-report-results-csv-huge-field
    sweepdir-plot-manifest-list sweepdir-report-manifest-axes-int sweepdir-plot-point-missing
    sweepdir-report-point-list sweepdir-plot-point-no-report diff-report-list diff-sweep-corrupt
    option-validate-jobs-zero option-trace-tokens-1e12 option-unknown-command
    option-run-unknown-option option-run-set-without-value option-plot-window-junk
    option-plot-iterations-beyond-run
    output-run-json-fifo output-run-json-folder output-run-json-below-file
    output-run-json-symlink-loop output-run-o-below-file output-run-o-is-a-fifo
    output-run-dram-trace-fifo output-dram-json-fifo output-trace-info-json-folder
    output-sweep-o-below-file output-plot-o-below-file output-report-o-fifo
    output-report-md-figures-below-file output-diff-json-fifo
    """.split()
)


@functools.cache
def cases() -> tuple[Case, ...]:
    """Every case of the corpus, in a fixed order (ids are unique); the ones not in
    :data:`FAST` are marked ``slow``."""
    out = tuple(
        dataclasses.replace(c, slow=c.slow or c.id not in FAST)
        for make in KINDS.values()
        for c in make()
    )
    ids = [c.id for c in out]
    dup = {i for i in ids if ids.count(i) > 1}
    assert not dup, f"duplicate case ids: {sorted(dup)}"
    unknown = FAST - set(ids)
    assert not unknown, f"FAST names no such case: {sorted(unknown)}"
    return out


# ---------------------------------------------------------------------------------------------
# writing a case to disk
def materialize(case: Case, case_dir: Path) -> None:
    """Create ``case``'s setup and files in ``case_dir`` (which must exist)."""
    for step in case.setup:
        op, rel = step[0], case_dir / step[1]
        rel.parent.mkdir(parents=True, exist_ok=True)
        if op == "mkdir":
            rel.mkdir(parents=True, exist_ok=True)
        elif op == "mkfifo":
            os.mkfifo(rel)
        elif op == "symlink":
            rel.symlink_to(step[2])
        else:  # pragma: no cover - a typo in the corpus
            raise ValueError(f"unknown setup step {op!r}")
    for rel, content in case.files:
        path = case_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content() if callable(content) else content
        path.write_bytes(data.encode() if isinstance(data, str) else data)


def record(case: Case) -> dict:
    """The JSON record of a case (files by name only)."""
    return {
        "id": case.id,
        "kind": case.kind,
        "argv": ["spatten-sim", *case.argv],
        "files": [rel for rel, _ in case.files],
        "setup": [list(s) for s in case.setup],
        "slow": case.slow,
    }


def write_corpus(out: Path) -> list[dict]:
    """Write every case to ``out/<id>/`` and the records to ``out/corpus.json``."""
    out.mkdir(parents=True, exist_ok=True)
    recs = []
    for case in cases():
        d = out / case.id
        d.mkdir(exist_ok=False)
        materialize(case, d)
        recs.append(record(case))
    (out / "corpus.json").write_text(json.dumps(recs, indent=1) + "\n")
    return recs


def summary() -> dict[str, int]:
    """Cases by kind."""
    counts: dict[str, int] = {}
    for c in cases():
        counts[c.kind] = counts.get(c.kind, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python tests/bad_inputs/make_corpus.py OUT_DIR", file=sys.stderr)
        return 2
    recs = write_corpus(Path(args[0]))
    by_kind = ", ".join(f"{k} {n}" for k, n in summary().items())
    print(f"wrote {len(recs)} cases to {args[0]} ({by_kind})")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
