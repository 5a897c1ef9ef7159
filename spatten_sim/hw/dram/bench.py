"""Standalone DRAM benchmark: address patterns and traces through a :class:`DramMemory`.

Issue protocol (the one of ``spatten-sim dram-bench``, close to Ramulator's trace frontends):
requests leave in file order starting at cycle 0, as many per memory cycle as the controllers
accept (optionally at most ``issue_per_cycle``), at most ``outstanding`` sent and not completed in
the whole memory (unlimited when 0); a request refused by a full read buffer blocks the ones
behind it. With ``rate_gbps`` the requests are in addition released at that average rate
(request ``i`` not before cycle ``i * request_bytes / (rate * tCK)``), which traces a
latency-vs-bandwidth curve.

Latency is measured from the cycle the controller accepts a request to the cycle its data is
done (Ramulator's definition); bandwidth is the bytes of all requests over the cycles from 0 to
the last completion.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spatten_sim.errors import SpattenError
from spatten_sim.hw.dram.config import DramConfig
from spatten_sim.hw.dram.mapping import AddressMapper
from spatten_sim.hw.dram.model import DramMemory, FrontendLimits
from spatten_sim.limits import LIMITS, check_count


@dataclass(frozen=True)
class BenchResult:
    """What one benchmark run measured (latencies in ns, bandwidth in GB/s = 1e9 B/s)."""

    memory_model: str
    pattern: str
    requests: int
    request_bytes: int
    channels: int
    outstanding: int  #: 0 = unlimited
    cycles: int  #: memory cycles from 0 to the last completion
    bandwidth_gbps: float
    peak_bandwidth_gbps: float
    avg_latency_ns: float
    p50_latency_ns: float
    p99_latency_ns: float
    max_latency_ns: float
    row_hits: int
    row_misses: int
    row_conflicts: int
    activations: int
    precharges: int
    refreshes: int
    reads: int
    writes: int
    wall_seconds: float
    requests_per_second: float
    cpu_seconds: float  #: process CPU time of the simulation (robust to a loaded machine)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def pattern_addresses(
    pattern: str, requests: int, cfg: DramConfig, seed: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Addresses (and write flags, or None) for ``seq``, ``random``, ``stride:N`` or a file.

    ``random`` is uniform over the device's address space (all fields), aligned to the request
    size, from a seeded generator. ``stride:N`` steps by N bytes (a multiple of the request size).
    A file is either a ``.npy`` array of byte addresses or a text trace with one request per line,
    ``LD 0x<hex>`` (read) or ``ST 0x<hex>`` (write), as Ramulator's LoadStoreTrace reads it; the
    low address bits below the request size are ignored. For files, ``requests`` (if > 0) keeps
    only the first ``requests`` entries.
    """
    rb = cfg.request_bytes
    check_count("requests", max(requests, 1), "--requests")
    if pattern == "seq":
        return np.arange(requests, dtype=np.int64) * rb, None
    if pattern == "random":
        bits = AddressMapper(cfg).address_bits
        rng = np.random.default_rng(seed)
        n_units = (1 << bits) // rb
        return rng.integers(0, n_units, size=requests, dtype=np.int64) * rb, None
    if pattern.startswith("stride:"):
        text = pattern.split(":", 1)[1]
        try:
            stride = int(text, 0)
        except ValueError:
            raise SpattenError(f"--pattern {pattern}: stride {text!r} is not an integer") from None
        if stride <= 0 or stride % rb:
            raise SpattenError(
                f"--pattern {pattern}: the stride must be a positive multiple of the request size "
                f"({rb} B)"
            )
        if stride * max(requests - 1, 0) >= MAX_ADDRESS:
            raise SpattenError(
                f"--pattern {pattern}: {requests:,} requests {stride:,} B apart reach past the "
                f"largest address (2^{MAX_ADDRESS.bit_length() - 1})"
            )
        return np.arange(requests, dtype=np.int64) * stride, None
    path = Path(pattern)
    if not path.exists():
        raise SpattenError(
            f"--pattern {pattern}: not seq, random, stride:N or an existing trace file"
        )
    addrs, writes = read_trace(path)
    if requests > 0:
        addrs, writes = addrs[:requests], writes[:requests]
    if addrs.size == 0:
        raise SpattenError(f"{path}: the trace holds no request")
    return (addrs // rb) * rb, (writes if writes.any() else None)


#: addresses of a pattern are below this (2^62: every address fits a signed 64-bit integer
#: with room; the mapper then keeps the bits the device has)
MAX_ADDRESS = 1 << 62


def _npy_addresses(path: Path) -> np.ndarray:
    """The addresses of a ``.npy`` file: its header checked (1-D, integers, at most the
    ``requests`` limit) before the data is read, every address in ``[0, MAX_ADDRESS)``."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy version {version}")
    except Exception as exc:  # any malformed header (numpy raises several kinds)
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpattenError(f"{path}: cannot read as a .npy array ({msg[:120]})") from None
    if len(shape) != 1 or dtype.hasobject or not np.issubdtype(dtype, np.integer):
        raise SpattenError(
            f"{path}: expected a 1-D integer array of byte addresses, got {dtype} with shape "
            f"{shape}"
        )
    if shape[0] > LIMITS["requests"].hi:
        raise SpattenError(
            f"{path}: {shape[0]:,} addresses: at most {LIMITS['requests'].hi:,} requests"
        )
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpattenError(f"{path}: cannot read as a .npy array ({msg[:120]})") from None
    if arr.size and arr.min() < 0:
        raise SpattenError(f"{path}: negative address {int(arr.min())}")
    if arr.size and int(arr.max()) >= MAX_ADDRESS:
        raise SpattenError(f"{path}: address {int(arr.max()):#x} at or above 2^62")
    return arr.astype(np.int64)


def read_trace(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a ``.npy`` of addresses or a ``LD/ST 0x<hex>`` text trace; one-line errors."""
    if not path.is_file():
        raise SpattenError(f"{path}: not a regular file (expected a trace or a .npy array)")
    if path.suffix == ".npy":
        arr = _npy_addresses(path)
        return arr, np.zeros(arr.size, dtype=bool)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SpattenError(f"{path}: cannot read the trace ({exc})") from None
    addrs: list[int] = []
    writes: list[bool] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if len(addrs) >= LIMITS["requests"].hi:
            raise SpattenError(f"{path}:{lineno}: more than {LIMITS['requests'].hi:,} requests")
        parts = s.split()
        if len(parts) != 2 or parts[0] not in ("LD", "ST"):
            raise SpattenError(
                f"{path}:{lineno}: expected 'LD 0x<hex address>' or 'ST 0x<hex address>', "
                f"got {s[:60]!r}"
            )
        try:
            a = int(parts[1], 16) if parts[1].lower().startswith("0x") else int(parts[1])
        except ValueError:
            raise SpattenError(f"{path}:{lineno}: bad address {parts[1][:40]!r}") from None
        if a < 0 or a >= MAX_ADDRESS:
            raise SpattenError(f"{path}:{lineno}: address {parts[1][:40]!r} out of range")
        addrs.append(a)
        writes.append(parts[0] == "ST")
    return np.array(addrs, dtype=np.int64), np.array(writes, dtype=bool)


def run_bench(
    cfg: DramConfig,
    addresses: np.ndarray,
    is_write: np.ndarray | None = None,
    *,
    outstanding: int = 0,
    issue_per_cycle: int = 0,
    rate_gbps: float = 0.0,
    pattern: str = "",
) -> BenchResult:
    """Run ``addresses`` through a fresh model of ``cfg`` with the issue protocol above."""
    if outstanding < 0 or issue_per_cycle < 0 or rate_gbps < 0:
        raise SpattenError("outstanding, issue-per-cycle and rate must be >= 0")
    n = int(addresses.shape[0])
    if rate_gbps > 0:
        per_req_cycles = cfg.request_bytes / (rate_gbps * cfg.tck_ns)
        last = per_req_cycles * max(n - 1, 0)
        if not last <= LIMITS["cycles"].hi:
            raise SpattenError(
                f"--rate-gbps {rate_gbps:g}: {n:,} requests at that rate take {last:.3g} memory "
                f"cycles, above the limit of {LIMITS['cycles'].hi:,}"
            )
        arrival = np.floor(np.arange(n) * per_req_cycles).astype(np.int64)
    else:
        arrival = np.zeros(n, dtype=np.int64)
    fe = FrontendLimits(
        in_order=True,
        fifo_depth=0,
        issue_per_cycle=issue_per_cycle,
        max_outstanding=outstanding,
    )
    _warm_up(cfg)
    t0 = time.perf_counter()
    c0 = time.process_time()
    mem = DramMemory(cfg)
    times = mem.run_batch(addresses, arrival, is_write, fe)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    lat = times.done - times.accept
    cycles = int(times.done.max()) if n else 0
    st = mem.stats()
    tck = cfg.tck_ns
    return BenchResult(
        memory_model=cfg.name,
        pattern=pattern,
        requests=n,
        request_bytes=cfg.request_bytes,
        channels=cfg.channels,
        outstanding=outstanding,
        cycles=cycles,
        bandwidth_gbps=n * cfg.request_bytes / (cycles * tck) if cycles else 0.0,
        peak_bandwidth_gbps=mem.peak_bandwidth_gbps,
        avg_latency_ns=float(lat.mean()) * tck if n else 0.0,
        p50_latency_ns=float(np.percentile(lat, 50, method="inverted_cdf")) * tck if n else 0.0,
        p99_latency_ns=float(np.percentile(lat, 99, method="inverted_cdf")) * tck if n else 0.0,
        max_latency_ns=float(lat.max()) * tck if n else 0.0,
        row_hits=st["row_hits"],
        row_misses=st["row_misses"],
        row_conflicts=st["row_conflicts"],
        activations=st["activations"],
        precharges=st["precharges"],
        refreshes=st["refreshes"],
        reads=st["reads"],
        writes=st["writes"],
        wall_seconds=wall,
        requests_per_second=n / wall if wall > 0 else 0.0,
        cpu_seconds=cpu,
    )


def _warm_up(cfg: DramConfig) -> None:
    """Load/compile the kernel outside the timed region."""
    m = DramMemory(cfg)
    m.run_batch(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), None, FrontendLimits())
