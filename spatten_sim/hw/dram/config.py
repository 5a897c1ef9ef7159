"""The configuration of one DRAM system: organisation, JEDEC timing, controller and mapping.

One flat frozen dataclass so that every field of a preset can be overridden from the ``memory:``
section of a hardware YAML (``memory: {preset: hbm2, nCL: 16, mapping: RoBaCoBgPcCh}``).
Timing fields follow the JEDEC/Ramulator naming: a leading ``n`` means *memory-clock cycles*
(``tck_ns`` each). Field values of the presets and their sources are in :mod:`.presets`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from spatten_sim.errors import ConfigError
from spatten_sim.limits import LIMITS, short


@dataclass(frozen=True)
class DramConfig:
    """A DRAM stack as a set of independent channels, each with its own controller.

    Organisation: channel -> pseudo-channel (own 64-bit data bus in HBM2 pseudo-channel mode; 1 in
    legacy mode) -> rank (dies sharing that data bus; 1 in pseudo-channel mode) -> bank group ->
    bank -> row -> column. A *burst* (one RD/WR command) moves ``burst_bytes``; a request is at most
    one burst (``request_bytes`` <= ``burst_bytes``, a smaller request still occupies a full burst).
    """

    name: str = "hbm2"
    description: str = ""
    # --- organisation (docs/hbm2-facts.md §1) ---
    channels: int = 16
    pseudo_channels: int = 2
    ranks: int = 1
    bank_groups: int = 4
    banks_per_group: int = 4
    rows: int = 65536
    columns: int = 32  #: bursts per row (32 x 32 B = 1 KiB page per pseudo-channel)
    burst_bytes: int = 32
    request_bytes: int = 32
    offset_bits: int = -1  #: low address bits ignored by the mapper; -1 = log2(burst_bytes)
    # --- timing, memory-clock cycles (docs/hbm2-facts.md §2) ---
    tck_ns: float = 1.0
    nBL: int = 2
    nCL: int = 14
    nRCDRD: int = 14
    nRCDWR: int = 12
    nRP: int = 14
    nRAS: int = 34
    nRC: int = 48
    nWR: int = 16
    nRTP: int = 5
    nCWL: int = 5
    nCCDS: int = 2
    nCCDL: int = 4
    nRRDS: int = 4
    nRRDL: int = 4
    nWTRS: int = 6
    nWTRL: int = 8
    nFAW: int = 15
    nRFC: int = 350
    nREFI: int = 3900
    act_bus_cycles: int = 2  #: row-bus cycles an ACT occupies (HBM2: 2)
    act_timing_adjust: bool = True  #: Ramulator 2.1: constraints from an ACT +1, to an ACT -1
    # --- controller (docs/hbm2-facts.md §3) ---
    read_buffer: int = 32
    #: cycles from acceptance to the earliest first command (Ramulator 2.1: 1, 2.0a: 0)
    command_delay_cycles: int = 1
    write_buffer: int = 32
    max_outstanding_per_channel: int = 0  #: requests in a controller at once; 0 = unlimited
    row_policy: str = "open"  #: "open" or "closed"
    refresh: bool = True  #: all-bank refresh every nREFI, every pseudo-channel of a channel at once
    write_high_watermark: float = 0.8
    write_low_watermark: float = 0.2
    # --- address mapping (docs/hbm2-facts.md §4) ---
    mapping: str = "RoBaRaCoCh"

    # ------------------------------------------------------------------ derived
    @property
    def banks_per_channel(self) -> int:
        return self.pseudo_channels * self.ranks * self.bank_groups * self.banks_per_group

    @property
    def peak_bandwidth_gbps(self) -> float:
        """Data-bus limit: every pseudo-channel moves one burst each max(nBL, nCCDS) cycles."""
        per_pc = self.burst_bytes / (max(self.nBL, self.nCCDS) * self.tck_ns)
        return self.channels * self.pseudo_channels * per_pc

    @property
    def mem_clock_ghz(self) -> float:
        return 1.0 / self.tck_ns

    @property
    def read_latency_cycles(self) -> int:
        """RD issue to last data beat: nCL + nBL."""
        return self.nCL + self.nBL

    def validate(self) -> DramConfig:
        """Raise :class:`ConfigError` naming ``memory.<field>`` for impossible values."""
        pos = (
            "channels pseudo_channels ranks bank_groups banks_per_group rows columns burst_bytes "
            "request_bytes nBL nCL nRCDRD nRCDWR nRP nRAS nRC nCCDS nCCDL nFAW nRFC nREFI "
            "act_bus_cycles read_buffer write_buffer"
        ).split()
        for f in pos:
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"memory.{f}: must be an integer >= 1 (got {v!r})")
        nonneg = "command_delay_cycles nWR nRTP nCWL nRRDS nRRDL nWTRS nWTRL max_outstanding_per_channel".split()
        for f in nonneg:
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ConfigError(f"memory.{f}: must be an integer >= 0 (got {v!r})")
        # sizes within spatten_sim.limits (checked before any per-bank or per-channel table)
        upper = {"channels": LIMITS["channels"].hi, "rows": 1 << 24, "columns": 1 << 16,
                 "burst_bytes": 4096, "request_bytes": 4096, "read_buffer": 1 << 16,
                 "write_buffer": 1 << 16, "max_outstanding_per_channel": 1 << 16}  # fmt: skip
        for f in pos + nonneg:
            hi = upper.get(f, 1 << 20)  # timing parameters: a million cycles at most
            if getattr(self, f) > hi:
                raise ConfigError(f"memory.{f}: at most {hi:,} (got {short(getattr(self, f))})")
        banks = self.banks_per_channel
        if banks > 4096:
            raise ConfigError(
                f"memory: {banks:,} banks per channel (pseudo_channels x ranks x bank_groups x "
                "banks_per_group): at most 4,096"
            )
        for f in ("channels", "pseudo_channels", "ranks", "bank_groups", "banks_per_group",
                  "rows", "columns", "burst_bytes", "request_bytes"):  # fmt: skip
            v = getattr(self, f)
            if v & (v - 1):
                raise ConfigError(f"memory.{f}: must be a power of two (got {v})")
        if self.request_bytes > self.burst_bytes:
            raise ConfigError(
                f"memory.request_bytes: {self.request_bytes} B exceeds one burst of this device "
                f"({self.burst_bytes} B = memory.burst_bytes); split requests into bursts"
            )
        if self.offset_bits < -1 or self.offset_bits > 12:
            raise ConfigError(
                f"memory.offset_bits: must be -1 (auto) or 0..12 (got {self.offset_bits})"
            )
        if not (
            isinstance(self.tck_ns, (int, float))
            and math.isfinite(self.tck_ns)
            and 1e-3 <= self.tck_ns <= 1e3
        ):
            raise ConfigError(f"memory.tck_ns: must be in [0.001, 1000] ns (got {self.tck_ns!r})")
        for f in ("write_high_watermark", "write_low_watermark"):
            if not math.isfinite(getattr(self, f)):
                raise ConfigError(f"memory.{f}: must be finite (got {getattr(self, f)!r})")
        if self.row_policy not in ("open", "closed"):
            raise ConfigError(f"memory.row_policy: 'open' or 'closed' (got {self.row_policy!r})")
        if not 0.0 <= self.write_low_watermark < self.write_high_watermark <= 1.0:
            raise ConfigError(
                "memory.write_high_watermark: need 0 <= write_low_watermark < "
                "write_high_watermark <= 1"
            )
        if self.nRC < self.nRAS:
            raise ConfigError(f"memory.nRC: must be >= nRAS (got nRC={self.nRC}, nRAS={self.nRAS})")
        # all-bank refresh of every pseudo-channel, one after the other, each PREab + REFab:
        # an interval shorter than that leaves no cycle for requests (they would starve forever)
        refresh_busy = self.pseudo_channels * (self.nRP + self.nRFC)
        if self.refresh and self.nREFI <= refresh_busy:
            raise ConfigError(
                f"memory.nREFI: {self.nREFI} cycles is not longer than one refresh round "
                f"(pseudo_channels x (nRP + nRFC) = {refresh_busy} cycles); requests would never "
                "be served (raise nREFI or set memory.refresh: false)"
            )
        from spatten_sim.hw.dram.mapping import AddressMapper  # validates the mapping name

        AddressMapper(self)
        return self


def config_with_overrides(base: DramConfig, overrides: dict[str, Any]) -> DramConfig:
    """``base`` with ``overrides`` applied; unknown keys and wrongly typed values raise
    :class:`ConfigError` naming ``memory.<key>``."""
    fields = {f.name: f for f in dataclasses.fields(DramConfig)}
    clean: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in fields:
            raise ConfigError(
                f"memory.{key}: unknown key for the {base.name!r} memory model "
                f"(known: preset, {', '.join(sorted(fields))})"
            )
        default = getattr(base, key)
        clean[key] = _coerce(key, value, default)
    return dataclasses.replace(base, **clean).validate()


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Accept YAML/--set values ('16', 16, 'true') for the field type of ``default``."""
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
                return False
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError
        if isinstance(default, int):
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, (int, str)):
                return int(value)
            raise ValueError
        if isinstance(default, float):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if isinstance(default, str):
            if not isinstance(value, str):
                raise ValueError
            return value
    except (TypeError, ValueError):
        pass
    raise ConfigError(f"memory.{key}: expected {type(default).__name__} (got {value!r})")
