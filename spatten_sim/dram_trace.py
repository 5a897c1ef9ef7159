"""The DRAM request stream of a run as a trace for other DRAM simulators (``--dram-trace``).

``spatten-sim run ... --dram-trace PATH`` records every request the fetcher hands the HBM2 model
(:class:`~spatten_sim.hw.dram.stream.StreamRecorder`: byte address, read or write, and the memory
clock cycle at which the fetcher's address generator issued it, i.e. its arrival at the memory
system before the crossbar) and writes it in one of two text formats, so the memory behaviour of
the run can be checked in those tools:

``ramulator2``
    Ramulator 2's ``LoadStoreTrace`` frontend (``src/frontend/impl/memory_trace/
    loadstore_trace.cpp`` in github.com/CMU-SAFARI/ramulator2): one request a line, ``LD 0x<hex
    address>`` for a read, ``ST 0x<hex address>`` for a write, exactly two fields separated by one
    space. The format has no timestamps: Ramulator 2 sends the next request whenever its memory
    system accepts one (the frontend's ``clock_ratio``), so it replays the stream's order, not
    our issue cycles. (Ramulator 2's ``ReadWriteTrace`` takes ``R``/``W`` with an already
    decoded address vector, which depends on its own organisation; we do not write it.)
``dramsim3``
    DRAMsim3's trace frontend (``TraceBasedCPU``; ``src/cpu.cc``, ``src/common.cc`` in
    github.com/umd-memsys/DRAMsim3): ``0x<hex address> READ|WRITE <cycle>`` a line, the cycle in
    decimal, in memory clock cycles (DRAMsim3 ticks its trace frontend once per memory cycle; ours
    is ``1 / memory.tck_ns`` GHz, 1 GHz for the HBM2 presets). A request is inserted at its cycle
    or, when the controller is full, as soon after as it is accepted.

Neither parser accepts comment lines, so the files hold requests only. Lines are in issue order
(cycles non-decreasing: the fetcher sends its batches one after the other); addresses are the
byte addresses of our layout (:mod:`spatten_sim.hw.layout`) and every request is one 32-B
transaction; the other simulator maps them with its own address mapping and burst size.

The format is ``--dram-trace-format``, else it comes from the file name: ``*.ramulator2`` or
``*.ramulator2.trace`` for Ramulator 2, ``*.dramsim3`` or ``*.dramsim3.trace`` for DRAMsim3.
Writing is vectorised (NumPy): about 13 (Ramulator 2) or 22 (DRAMsim3) bytes and a microsecond
a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spatten_sim.errors import SpattenError
from spatten_sim.hw.dram.stream import RecordedStream

FORMATS = ("ramulator2", "dramsim3")
#: file name endings that name a format (checked in this order)
SUFFIXES = {
    ".ramulator2.trace": "ramulator2",
    ".ramulator2": "ramulator2",
    ".dramsim3.trace": "dramsim3",
    ".dramsim3": "dramsim3",
}
_CHUNK = 1 << 20  #: requests formatted at a time
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DEC = np.frombuffer(b"0123456789", dtype=np.uint8)


def trace_format(path: str | Path, fmt: str | None = None) -> str:
    """The format to write ``path`` in: ``fmt`` if given, else the one its name ends with."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise SpattenError(f"--dram-trace-format {fmt!r}: expected one of {', '.join(FORMATS)}")
        return fmt
    name = Path(path).name.lower()
    for suffix, f in SUFFIXES.items():
        if name.endswith(suffix):
            return f
    raise SpattenError(
        f"--dram-trace {path}: cannot tell the format from the name; give --dram-trace-format "
        f"{'|'.join(FORMATS)} or name the file *.ramulator2 or *.dramsim3"
    )


@dataclass(frozen=True)
class DramTrace:
    """A DRAM trace read back: byte addresses, write flags and (DRAMsim3 only) cycles."""

    addresses: np.ndarray  #: int64
    is_write: np.ndarray  #: bool
    cycles: np.ndarray | None  #: int64 memory clock cycles; None for Ramulator 2 (no timing)


def stream_requests(stream: RecordedStream) -> DramTrace:
    """The requests of a recorded stream in issue order (a stable sort by arrival cycle, a no-op
    for the fetcher's streams, whose batches never overlap in time)."""
    addr = stream.addresses.astype(np.int64, copy=False)
    cyc = stream.arrival.astype(np.int64, copy=False)
    wr = stream.is_write.astype(bool) if stream.is_write.size else np.zeros(addr.size, bool)
    if cyc.size > 1 and bool((np.diff(cyc) < 0).any()):
        order = np.argsort(cyc, kind="stable")
        addr, cyc, wr = addr[order], cyc[order], wr[order]
    return DramTrace(addresses=addr, is_write=wr, cycles=cyc)


def _digits(values: np.ndarray, base: int, table: np.ndarray) -> np.ndarray:
    """ASCII digits of non-negative ``values`` as an ``[n, width]`` uint8 matrix, leading zeros
    replaced by 0 bytes (removed when the lines are joined); at least one digit each."""
    v = values.astype(np.uint64, copy=False)
    top = int(v.max()) if v.size else 0
    width = 1
    while base**width <= top:
        width += 1
    powers = np.array([base ** (width - 1 - k) for k in range(width)], dtype=np.uint64)
    d = (v[:, None] // powers[None, :]) % np.uint64(base)
    out = table[d.astype(np.intp)]
    significant = np.maximum.accumulate(d != 0, axis=1)
    significant[:, -1] = True
    out[~significant] = 0
    return out


def _const(n: int, text: bytes) -> np.ndarray:
    return np.broadcast_to(np.frombuffer(text, dtype=np.uint8), (n, len(text)))


def _choose(flags: np.ndarray, if_false: bytes, if_true: bytes) -> np.ndarray:
    """Per row ``if_true`` or ``if_false``, padded with 0 bytes to one width."""
    w = max(len(if_false), len(if_true))
    a = np.frombuffer(if_false.ljust(w, b"\0"), dtype=np.uint8)
    b = np.frombuffer(if_true.ljust(w, b"\0"), dtype=np.uint8)
    return np.where(flags[:, None], b[None, :], a[None, :])


def format_lines(req: DramTrace, fmt: str, lo: int = 0, hi: int | None = None) -> bytes:
    """Requests ``lo:hi`` of ``req`` as lines of ``fmt`` (bytes, each line ending in ``\\n``)."""
    addr = req.addresses[lo:hi]
    wr = req.is_write[lo:hi]
    n = addr.size
    if n == 0:
        return b""
    if fmt == "ramulator2":
        cols = [_choose(wr, b"LD 0x", b"ST 0x"), _digits(addr, 16, _HEX), _const(n, b"\n")]
    elif fmt == "dramsim3":
        if req.cycles is None:
            raise ValueError("dramsim3 lines need cycles")
        cyc = req.cycles[lo:hi]
        cols = [
            _const(n, b"0x"),
            _digits(addr, 16, _HEX),
            _choose(wr, b" READ ", b" WRITE "),
            _digits(cyc, 10, _DEC),
            _const(n, b"\n"),
        ]
    else:
        raise ValueError(f"unknown DRAM trace format {fmt!r}")
    flat = np.hstack(cols).ravel()
    return flat[flat != 0].tobytes()


def write_dram_trace(path: str | Path, stream: RecordedStream, fmt: str) -> int:
    """Write ``stream`` to ``path`` in ``fmt`` (atomically); returns the number of requests."""
    from spatten_sim.files import atomic_output

    req = stream_requests(stream)
    if (req.addresses < 0).any():
        raise ValueError("negative DRAM address in the recorded stream")
    n = req.addresses.size
    with atomic_output(path, f"--dram-trace {path}") as tmp, open(tmp, "wb") as f:
        for lo in range(0, n, _CHUNK):
            f.write(format_lines(req, fmt, lo, lo + _CHUNK))
    return n


def read_dram_trace(path: str | Path, fmt: str | None = None) -> DramTrace:
    """Parse a trace written by :func:`write_dram_trace` (or by hand) back; one-line errors
    naming the line. ``fmt`` as for :func:`trace_format`."""
    fmt = trace_format(path, fmt)
    addrs: list[int] = []
    wr: list[bool] = []
    cycles: list[int] = []
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpattenError(f"{path}: cannot read the DRAM trace ({exc})") from None
    for i, line in enumerate(text.splitlines(), start=1):
        tok = line.split(" ")
        try:
            if fmt == "ramulator2":
                if len(tok) != 2 or tok[0] not in ("LD", "ST") or not tok[1].startswith("0x"):
                    raise ValueError
                addrs.append(int(tok[1], 16))
                wr.append(tok[0] == "ST")
            else:
                if len(tok) != 3 or tok[1] not in ("READ", "WRITE") or not tok[0].startswith("0x"):
                    raise ValueError
                addrs.append(int(tok[0], 16))
                wr.append(tok[1] == "WRITE")
                cycles.append(int(tok[2], 10))
        except ValueError:
            raise SpattenError(f"{path}:{i}: not a {fmt} trace line: {line!r}") from None
    return DramTrace(
        addresses=np.array(addrs, dtype=np.int64),
        is_write=np.array(wr, dtype=bool),
        cycles=np.array(cycles, dtype=np.int64) if fmt == "dramsim3" else None,
    )
